//! No Compose service key is silently dropped by `compose kube generate`: for each key of the
//! model's `ServiceConfig` (read from its source, so a key added to the model without a case
//! here fails the test), a project with the key set translates to different objects than the
//! same project without it, or a warning names the key. Keys that only steer this tool on one
//! machine are listed apart, each with its reason.

mod support {
    #[path = "cli.rs"]
    pub mod cli;
}

use std::collections::BTreeSet;

use support::cli::{Output, Project};

/// One case: the `web` service's lines before (`base`, in both runs) and with `snippet`, which
/// sets `key` (a Compose key path, as warnings name it).
struct Case {
    key: &'static str,
    base: &'static str,
    snippet: &'static str,
}

const fn case(key: &'static str, snippet: &'static str) -> Case {
    Case {
        key,
        base: "",
        snippet,
    }
}

const fn with_base(key: &'static str, base: &'static str, snippet: &'static str) -> Case {
    Case { key, base, snippet }
}

const HEALTH: &str = "healthcheck:\n  test: [CMD, 'true']";
const PORT: &str = "ports: ['80']";

const CASES: &[Case] = &[
    case("profiles", "profiles: [debug]"),
    case("annotations", "annotations: {example.com/owner: team}"),
    case("build", "build: ./ctx"),
    case("blkio_config", "blkio_config: {weight: 300}"),
    case("cap_add", "cap_add: [NET_ADMIN]"),
    case("cap_drop", "cap_drop: [ALL]"),
    case("cgroup_parent", "cgroup_parent: /custom"),
    case("cgroup", "cgroup: host"),
    case("cpu_count", "cpu_count: 2"),
    case("cpu_percent", "cpu_percent: 50"),
    case("cpu_period", "cpu_period: 100000"),
    case("cpu_quota", "cpu_quota: 50000"),
    case("cpu_rt_period", "cpu_rt_period: 1000000"),
    case("cpu_rt_runtime", "cpu_rt_runtime: 950000"),
    case("cpus", "cpus: 0.5"),
    case("cpuset", "cpuset: '0,1'"),
    case("cpu_shares", "cpu_shares: 512"),
    case("command", "command: [sleep, '60']"),
    case("configs", "configs: [settings]"),
    case("container_name", "container_name: my-web"),
    case("credential_spec", "credential_spec: {file: spec.json}"),
    case("depends_on", "depends_on: [other]"),
    case(
        "depends_on",
        "depends_on: {other: {condition: service_healthy}}",
    ),
    case(
        "depends_on",
        "depends_on: {job: {condition: service_completed_successfully}}",
    ),
    case("deploy.replicas", "deploy: {replicas: 3}"),
    case("deploy.mode", "deploy: {mode: global}"),
    case("deploy.mode", "deploy: {mode: replicated-job}"),
    case(
        "deploy.resources.limits",
        "deploy: {resources: {limits: {cpus: '1', memory: 256M, pids: 100}}}",
    ),
    case(
        "deploy.resources.reservations",
        "deploy: {resources: {reservations: {cpus: '0.5', memory: 128M}}}",
    ),
    case(
        "deploy.resources.reservations.devices",
        "deploy: {resources: {reservations: {devices: [{capabilities: [gpu], count: 1}]}}}",
    ),
    case(
        "deploy.restart_policy",
        "deploy: {restart_policy: {condition: on-failure, max_attempts: 3}}",
    ),
    case(
        "deploy.update_config",
        "deploy: {update_config: {parallelism: 2, order: start-first}}",
    ),
    case(
        "deploy.rollback_config",
        "deploy: {rollback_config: {parallelism: 2}}",
    ),
    case(
        "deploy.placement.constraints",
        "deploy: {placement: {constraints: ['node.labels.disk == ssd']}}",
    ),
    case(
        "deploy.placement.preferences",
        "deploy: {placement: {preferences: [{spread: node.labels.zone}]}}",
    ),
    case(
        "deploy.placement.max_replicas_per_node",
        "deploy: {placement: {max_replicas_per_node: 1}}",
    ),
    with_base(
        "deploy.endpoint_mode",
        PORT,
        "deploy: {endpoint_mode: dnsrr}",
    ),
    case("deploy.labels", "deploy: {labels: {tier: web}}"),
    case("device_cgroup_rules", "device_cgroup_rules: ['c 1:3 mr']"),
    case("devices", "devices: ['/dev/fuse:/dev/fuse']"),
    case("dns", "dns: [10.0.0.2]"),
    case("dns_opt", "dns_opt: ['ndots:2']"),
    case("dns_search", "dns_search: [example.internal]"),
    case("domainname", "domainname: example.internal"),
    case("entrypoint", "entrypoint: [/bin/sh, -c]"),
    case(
        "provider",
        "provider: {type: model, options: {model: ai/smollm2}}",
    ),
    case("environment", "environment: {MODE: prod}"),
    case("env_file", "env_file: vars.env"),
    case("expose", "expose: ['9000']"),
    case("extends", "extends: {service: other}"),
    case("external_links", "external_links: ['legacy_db:db']"),
    case("extra_hosts", "extra_hosts: ['db.internal=10.0.0.5']"),
    case("group_add", "group_add: ['2000']"),
    case("gpus", "gpus: all"),
    case("hostname", "hostname: web-host"),
    case("healthcheck", "healthcheck: {test: [CMD, 'true']}"),
    with_base("healthcheck.interval", HEALTH, "  interval: 7s"),
    with_base("healthcheck.timeout", HEALTH, "  timeout: 7s"),
    with_base("healthcheck.retries", HEALTH, "  retries: 7"),
    with_base("healthcheck.start_period", HEALTH, "  start_period: 70s"),
    with_base(
        "healthcheck.start_interval",
        "healthcheck:\n  test: [CMD, 'true']\n  start_period: 70s",
        "  start_interval: 2s",
    ),
    case("image", "image: nginx:1.27"),
    case("init", "init: true"),
    case("ipc", "ipc: host"),
    case("isolation", "isolation: process"),
    case("labels", "labels: {tier: web}"),
    case("label_file", "label_file: labels.txt"),
    case("links", "links: ['other:db']"),
    case("logging", "logging: {driver: syslog}"),
    case("mem_limit", "mem_limit: 256m"),
    case("mem_reservation", "mem_reservation: 128m"),
    case("memswap_limit", "memswap_limit: 512m"),
    case("mem_swappiness", "mem_swappiness: 10"),
    case("mac_address", "mac_address: '02:42:ac:11:00:02'"),
    case("models", "models: [llm]"),
    case("network_mode", "network_mode: host"),
    case("network_mode", "network_mode: service:other"),
    case("networks", "networks: {default: {aliases: [www]}}"),
    case("networks", "networks: [back]"),
    case("oom_kill_disable", "oom_kill_disable: true"),
    case("oom_score_adj", "oom_score_adj: 500"),
    case("pid", "pid: host"),
    case("pids_limit", "pids_limit: 100"),
    case("platform", "platform: linux/arm64"),
    case("ports", "ports: ['8080:80']"),
    case("ports", "ports: ['127.0.0.1:8080:80']"),
    case("privileged", "privileged: true"),
    case("pull_policy", "pull_policy: always"),
    case("read_only", "read_only: true"),
    case("restart", "restart: 'no'"),
    case("runtime", "runtime: runsc"),
    case("scale", "scale: 3"),
    case("secrets", "secrets: [token]"),
    case("security_opt", "security_opt: ['no-new-privileges:true']"),
    case("security_opt", "security_opt: ['seccomp=unconfined']"),
    case(
        "security_opt",
        "security_opt: ['label=type:svirt_apache_t']",
    ),
    case("shm_size", "shm_size: 256m"),
    case("stdin_open", "stdin_open: true"),
    case("stop_grace_period", "stop_grace_period: 45s"),
    case("stop_signal", "stop_signal: SIGINT"),
    case("storage_opt", "storage_opt: {size: 20G}"),
    case("sysctls", "sysctls: {net.core.somaxconn: '1024'}"),
    case("tmpfs", "tmpfs: [/run]"),
    case("tty", "tty: true"),
    case("ulimits", "ulimits: {nofile: 65536}"),
    case("use_api_socket", "use_api_socket: true"),
    case("user", "user: '1000:1000'"),
    case("user", "user: nobody"),
    // `host` is what every pod has (the node's user namespace), so only another mode is warned.
    case("userns_mode", "userns_mode: keep-id"),
    case("uts", "uts: host"),
    case("volumes", "volumes: ['data:/data']"),
    case("volumes", "volumes: ['./site:/site:ro']"),
    case("volumes", "volumes: ['/cache']"),
    case("volumes", "volumes: ['ext:/ext']"),
    case("volumes_from", "volumes_from: [other]"),
    case("working_dir", "working_dir: /srv"),
    case("pre_start", "pre_start: [{command: [echo, hi]}]"),
    case("post_start", "post_start: [{command: [echo, hi]}]"),
    case("pre_stop", "pre_stop: [{command: [echo, bye]}]"),
];

/// Service keys that mean nothing on a cluster: they only steer this tool on one machine.
const LOCAL_ONLY: &[(&str, &str)] = &[
    ("attach", "which services' logs `up` attaches to"),
    (
        "develop",
        "what `watch` syncs or rebuilds on a developer's machine",
    ),
    ("pull_refresh_after", "how often `up` pulls the image again"),
];

/// The model's source: its field list is the list of service keys.
const SERVICE_SOURCE: &str = include_str!("../src/model/types/service/mod.rs");

/// The fields of `ServiceConfig`, as Compose keys (`extensions`, the `x-*` keys, left out:
/// `x-kubernetes` is the translator's own input and other `x-` keys are for the user).
fn service_keys() -> Vec<String> {
    let body = SERVICE_SOURCE
        .split_once("pub struct ServiceConfig {")
        .expect("ServiceConfig in the model")
        .1;
    let body = body.split_once("\n}").expect("end of ServiceConfig").0;
    body.lines()
        .filter_map(|l| l.trim().strip_prefix("pub "))
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.to_string()))
        .filter(|name| name != "extensions")
        .collect()
}

/// The project: `web` (with `lines`), the services and resources the cases refer to.
fn project(lines: &[&str]) -> Project {
    let mut web = String::new();
    let body = lines.join("\n");
    if !body.lines().any(|l| l.starts_with("image:")) {
        web.push_str("    image: busybox:1.36\n");
    }
    for l in body.lines().filter(|l| !l.is_empty()) {
        web.push_str(&format!("    {l}\n"));
    }
    let text = format!(
        "name: keys\nservices:\n  web:\n{web}  other:\n    image: busybox:1.36\n    \
         ports: ['8080']\n  job:\n    image: busybox:1.36\n    command: [echo, done]\n\
         volumes:\n  data: {{}}\n  ext: {{external: true}}\nsecrets:\n  token: {{file: ./token.txt}}\n\
         configs:\n  settings: {{content: 'x=1'}}\nnetworks:\n  back: {{}}\n\
         models:\n  llm: {{model: ai/smollm2}}\n"
    );
    let p = Project::with_compose(&text);
    p.write("token.txt", "s3cr3t\n");
    p.write("vars.env", "FROM_FILE=1\n");
    p.write("labels.txt", "com.example.team=web\n");
    p.write("spec.json", "{}\n");
    p.write("ctx/Dockerfile", "FROM busybox:1.36\n");
    p.write("site/index.html", "hi\n");
    p
}

/// Whether stderr holds a warning naming `key` or a key beneath it, for service `web` or for
/// the whole project (`networks`: segmentation lost).
fn warned(stderr: &str, key: &str) -> bool {
    let for_web = format!("WARN[0000] service \"web\": {key}");
    let for_project = format!("WARN[0000] {key}");
    stderr.lines().any(|l| {
        [&for_web, &for_project].iter().any(|prefix| {
            l.strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.starts_with(['.', '[', ':', ' ']))
        })
    })
}

#[test]
fn every_service_key_of_the_model_has_a_case() {
    let keys = service_keys();
    assert!(keys.len() > 80, "ServiceConfig fields not found: {keys:?}");
    let covered: BTreeSet<&str> = CASES
        .iter()
        .map(|c| c.key.split(['.', '[']).next().unwrap_or(c.key))
        .collect();
    let local: BTreeSet<&str> = LOCAL_ONLY.iter().map(|(k, _)| *k).collect();
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| !covered.contains(k.as_str()) && !local.contains(k.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "service keys without a case: {missing:?}"
    );
    let unknown: Vec<&&str> = covered
        .iter()
        .chain(&local)
        .filter(|k| !keys.iter().any(|f| f == **k))
        .collect();
    assert!(
        unknown.is_empty(),
        "cases for keys the model lacks: {unknown:?}"
    );
    assert!(covered.is_disjoint(&local));
}

#[test]
fn every_case_is_a_project_compose_loads() {
    let mut failures = Vec::new();
    for c in CASES {
        for lines in [vec![c.base], vec![c.base, c.snippet]] {
            let p = project(&lines);
            let out = p.compose(&["config", "-q"]);
            if out.code != 0 {
                failures.push(format!("{} {lines:?}: {}", c.key, out.stderr));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `kube generate -o -` of the project with `lines`, the project's folder written as `$DIR`
/// (two projects live in two temporary folders).
fn generate(lines: &[&str]) -> Output {
    let p = project(lines);
    let mut out = p.compose(&["kube", "generate", "-o", "-"]);
    let dir = p.dir.display().to_string();
    out.stdout = out.stdout.replace(&dir, "$DIR");
    out.stderr = out.stderr.replace(&dir, "$DIR");
    out
}

#[test]
fn no_service_key_is_dropped_silently() {
    let mut silent = Vec::new();
    for c in CASES {
        let without = generate(&[c.base]);
        assert_eq!(without.code, 0, "{} base: {}", c.key, without.stderr);
        let with = generate(&[c.base, c.snippet]);
        if with.code != 0 {
            silent.push(format!(
                "{} ({}): kube generate failed: {}",
                c.key, c.snippet, with.stderr
            ));
        } else if with.stdout == without.stdout && !warned(&with.stderr, c.key) {
            silent.push(format!(
                "{} ({}): same objects and no warning naming it",
                c.key, c.snippet
            ));
        }
    }
    assert!(
        silent.is_empty(),
        "{} keys dropped silently:\n{}",
        silent.len(),
        silent.join("\n")
    );
}

#[test]
fn a_dropped_key_is_noticed() {
    let stderr = "WARN[0000] service \"web\": ulimits.nofile: no equivalent\n\
                  WARN[0000] service \"other\": pid: no equivalent\n";
    assert!(warned(stderr, "ulimits"));
    assert!(!warned(stderr, "pid"), "another service's warning");
    assert!(!warned(stderr, "ulimit"), "a key is matched whole");
    assert!(warned(
        "WARN[0000] networks: segmentation lost\n",
        "networks"
    ));
    assert!(warned(
        "WARN[0000] service \"web\": volumes[1]: bind mount\n",
        "volumes"
    ));
}
