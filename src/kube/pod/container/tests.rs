//! Each Compose key of the main container and the pod's security context: what it becomes, or
//! the warning that names it.

use indexmap::IndexMap;
use k8s_openapi::api::core::v1::{Container, PodSecurityContext, Probe};

use crate::kube::context::{Contents, Context, Input};
use crate::kube::warning::{Warning, Warnings};
use crate::model::types::resources::Project;

/// A project and what the stack layer would have read for it.
struct Fixture {
    project: Project,
    contents: Contents,
}

impl Fixture {
    /// A whole Compose file.
    fn new(yaml: &str) -> Self {
        let project: Project =
            crate::model::types::fields::test_support::load(yaml).expect("project");
        Fixture {
            project,
            contents: Contents::default(),
        }
    }

    /// A project of one service, `web`, whose keys are `service` (block YAML).
    fn web(service: &str) -> Self {
        Fixture::new(&format!("services:\n  web:\n{}", indent(service)))
    }

    fn env_file(mut self, vars: &[(&str, &str)]) -> Self {
        let vars: IndexMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.contents.env_files.insert("web".into(), vars);
        self
    }

    fn ctx(&self) -> Context<'_> {
        Context::new(Input {
            name: "proj",
            project: &self.project,
            contents: &self.contents,
        })
        .expect("context")
    }

    /// Service `web`'s container and the warnings it gave.
    fn main(&self) -> (Container, Vec<Warning>) {
        self.main_of("web")
    }

    fn main_of(&self, name: &str) -> (Container, Vec<Warning>) {
        let mut w = Warnings::default();
        let c = super::main(&self.ctx(), name, &mut w).expect("container");
        (c, w.finish())
    }

    fn pod(&self) -> (Option<PodSecurityContext>, Vec<Warning>) {
        let mut w = Warnings::default();
        let p = super::pod_security(&self.ctx(), "web", &mut w).expect("pod security");
        (p, w.finish())
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}\n")).collect()
}

fn keys(ws: &[Warning]) -> Vec<&str> {
    ws.iter().map(|w| w.key.as_str()).collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The container's resources as `(limits, requests)` of `name=quantity`.
fn resources(c: &Container) -> (Vec<String>, Vec<String>) {
    let r = c.resources.clone().unwrap_or_default();
    let list = |m: Option<std::collections::BTreeMap<String, _>>| {
        m.unwrap_or_default()
            .into_iter()
            .map(
                |(k, q): (
                    String,
                    k8s_openapi::apimachinery::pkg::api::resource::Quantity,
                )| { format!("{k}={}", q.0) },
            )
            .collect::<Vec<_>>()
    };
    (list(r.limits), list(r.requests))
}

#[test]
fn plain_image_service_has_a_named_container_and_pull_policy() {
    let (c, ws) = Fixture::new("services:\n  my_web: {image: nginx:1.27}\n").main_of("my_web");
    assert_eq!(c.name, "my-web");
    assert_eq!(c.image.as_deref(), Some("nginx:1.27"));
    assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));
    assert!(c.command.is_none() && c.args.is_none() && c.env.is_none());
    assert!(c.resources.is_none() && c.security_context.is_none());
    assert!(c.volume_mounts.is_none());
    assert!(ws.is_empty(), "{ws:?}");
}

#[test]
fn pull_policies_map_and_the_extension_wins() {
    let cases = [
        ("pull_policy: always", "Always"),
        ("pull_policy: never", "Never"),
        ("pull_policy: missing", "IfNotPresent"),
        ("pull_policy: if_not_present", "IfNotPresent"),
        ("pull_policy: build\nbuild: .", "IfNotPresent"),
        (
            "pull_policy: always\nx-kubernetes: {image_pull_policy: Never}",
            "Never",
        ),
    ];
    for (yaml, want) in cases {
        let (c, _) = Fixture::web(&format!("image: app\n{yaml}")).main();
        assert_eq!(c.image_pull_policy.as_deref(), Some(want), "{yaml}");
    }
    let (c, ws) = Fixture::web("image: app\npull_policy: daily").main();
    assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));
    assert_eq!(keys(&ws), ["pull_policy"]);
}

#[test]
fn built_images_are_named_as_compose_build_tags_them_and_warned() {
    let (c, ws) = Fixture::web("build: .").main();
    assert_eq!(c.image.as_deref(), Some("proj-web"));
    assert_eq!(keys(&ws), ["build"]);
    assert!(ws[0].message.contains("\"proj-web\""), "{}", ws[0].message);
    let (c, ws) = Fixture::web("build: .\nimage: reg.example/web:1").main();
    assert_eq!(c.image.as_deref(), Some("reg.example/web:1"));
    assert_eq!(keys(&ws), ["build"]);
}

#[test]
fn a_service_without_image_or_build_is_warned() {
    let (c, ws) = Fixture::web("command: [run]").main();
    assert_eq!(c.image.as_deref(), Some("proj-web"));
    assert_eq!(keys(&ws), ["image"]);
}

#[test]
fn entrypoint_is_command_and_command_is_args_with_dollars_kept() {
    // The test loader does not interpolate: `$` reaches the translation as the file has it.
    let (c, ws) =
        Fixture::web("image: app\nentrypoint: [/bin/run, --x]\ncommand: echo $HOME '$(x)'").main();
    assert_eq!(c.command, Some(strs(&["/bin/run", "--x"])));
    assert_eq!(c.args, Some(strs(&["echo", "$$HOME", "$$(x)"])));
    assert!(ws.is_empty(), "{ws:?}");
}

#[test]
fn clearing_entrypoint_or_command_is_warned_where_kubernetes_cannot() {
    let (c, ws) = Fixture::web("image: app\nentrypoint: []\ncommand: [run]").main();
    assert_eq!((c.command, c.args), (None, Some(strs(&["run"]))));
    assert_eq!(keys(&ws), ["entrypoint"]);
    let (_, ws) = Fixture::web("image: app\ncommand: []").main();
    assert_eq!(keys(&ws), ["command"]);
    // With an entrypoint, an unset `args` already ignores the image's CMD.
    let (c, ws) = Fixture::web("image: app\nentrypoint: [run]\ncommand: []").main();
    assert_eq!((c.command, c.args), (Some(strs(&["run"])), None));
    assert!(ws.is_empty(), "{ws:?}");
}

#[test]
fn environment_keeps_order_and_leaves_env_file_values_to_the_config_map() {
    let f = Fixture::web(
        "image: app\nenvironment:\n  Z: '1'\n  SAME: a\n  OVER: mine\n  PRICE: $5\n  UNSET:\n  FROMFILE:\n  1BAD: x\n",
    )
    .env_file(&[("SAME", "a"), ("OVER", "file"), ("FROMFILE", "f")]);
    let (c, ws) = f.main();
    let env: Vec<(String, Option<String>)> = c
        .env
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.value))
        .collect();
    assert_eq!(
        env,
        [
            ("Z".to_string(), Some("1".to_string())),
            ("OVER".to_string(), Some("mine".to_string())),
            ("PRICE".to_string(), Some("$$5".to_string())),
        ]
    );
    let from = c.env_from.unwrap();
    assert_eq!(from.len(), 1);
    assert_eq!(from[0].config_map_ref.as_ref().unwrap().name, "web-env");
    assert_eq!(keys(&ws), ["environment.1BAD", "environment.UNSET"]);
}

#[test]
fn no_env_files_no_env_from() {
    let (c, _) = Fixture::web("image: app\nenvironment: {A: b}").main();
    assert!(c.env_from.is_none());
    assert_eq!(c.env.unwrap()[0].name, "A");
}

#[test]
fn ports_from_ports_and_expose_with_valid_unique_names() {
    let f = Fixture::web(
        "image: app\nports:\n  - {target: 80, name: http}\n  - {target: 81, name: http}\n  - {target: 82, name: Not_Valid}\n  - 53:53/udp\nexpose: ['9000']",
    );
    let (c, ws) = f.main();
    let ports: Vec<(i32, String, Option<String>)> = c
        .ports
        .unwrap()
        .into_iter()
        .map(|p| (p.container_port, p.protocol.unwrap(), p.name))
        .collect();
    assert_eq!(
        ports,
        [
            (80, "TCP".to_string(), Some("http".to_string())),
            (81, "TCP".to_string(), None),
            (82, "TCP".to_string(), None),
            (53, "UDP".to_string(), None),
            (9000, "TCP".to_string(), None),
        ]
    );
    assert_eq!(keys(&ws), ["ports", "ports"]);
}

#[test]
fn working_dir_tty_and_stdin() {
    let (c, _) = Fixture::web("image: app\nworking_dir: /srv\ntty: true\nstdin_open: true").main();
    assert_eq!(c.working_dir.as_deref(), Some("/srv"));
    assert_eq!((c.tty, c.stdin), (Some(true), Some(true)));
}

#[test]
fn deploy_resources_become_limits_and_requests() {
    let (c, ws) = Fixture::web(
        "image: app\ndeploy:\n  resources:\n    limits: {cpus: '1.5', memory: 512M}\n    reservations: {cpus: '0.25', memory: 1000}",
    )
    .main();
    assert_eq!(
        resources(&c),
        (
            strs(&["cpu=1500m", "memory=512Mi"]),
            strs(&["cpu=250m", "memory=1000"])
        )
    );
    assert!(ws.is_empty(), "{ws:?}");
}

#[test]
fn legacy_resource_keys_map() {
    let (c, ws) =
        Fixture::web("image: app\ncpus: 2\nmem_limit: 1g\nmem_reservation: 256m\ncpu_shares: 512")
            .main();
    assert_eq!(
        resources(&c),
        (
            strs(&["cpu=2", "memory=1Gi"]),
            strs(&["cpu=500m", "memory=256Mi"])
        )
    );
    assert!(ws.is_empty(), "{ws:?}");
    let (c, _) = Fixture::web("image: app\ncpu_quota: 50000\ncpu_period: 200000").main();
    assert_eq!(resources(&c).0, strs(&["cpu=250m"]));
    let (c, _) = Fixture::web("image: app\ncpu_quota: 150000").main();
    assert_eq!(resources(&c).0, strs(&["cpu=1500m"]));
    let (c, ws) = Fixture::web("image: app\ncpu_period: 50000").main();
    assert!(c.resources.is_none());
    assert_eq!(keys(&ws), ["cpu_period"]);
}

#[test]
fn a_request_above_its_limit_is_lowered_with_a_warning() {
    let (c, ws) =
        Fixture::web("image: app\ncpus: 0.5\ncpu_shares: 2048\nmem_limit: 1m\nmem_reservation: 2m")
            .main();
    assert_eq!(
        resources(&c),
        (
            strs(&["cpu=500m", "memory=1Mi"]),
            strs(&["cpu=500m", "memory=1Mi"])
        )
    );
    assert_eq!(keys(&ws), ["cpu_shares", "mem_reservation"]);
}

#[test]
fn pids_and_generic_resources_are_warned() {
    let (c, ws) = Fixture::web(
        "image: app\npids_limit: 10\ndeploy:\n  resources:\n    limits: {pids: 5}\n    reservations:\n      pids: 1\n      generic_resources: [{discrete_resource_spec: {kind: ssd, value: 1}}]",
    )
    .main();
    assert!(c.resources.is_none());
    assert_eq!(
        keys(&ws),
        [
            "deploy.resources.limits.pids",
            "deploy.resources.reservations.generic_resources[0]",
            "deploy.resources.reservations.pids",
            "pids_limit",
        ]
    );
}

#[test]
fn gpu_requests_become_vendor_limits() {
    let (c, ws) = Fixture::web(
        "image: app\ndeploy:\n  resources:\n    reservations:\n      devices:\n        - {capabilities: [gpu], driver: nvidia, count: 2}\n        - {capabilities: [gpu], driver: amd, count: 1}\n        - {capabilities: [gpu], device_ids: ['0', '1'], options: {a: b}}\n        - {capabilities: [tpu], count: 1}\n        - {capabilities: [gpu], driver: intel, count: 1}",
    )
    .main();
    assert_eq!(
        resources(&c).0,
        strs(&["amd.com/gpu=1", "nvidia.com/gpu=4"])
    );
    assert_eq!(
        keys(&ws),
        [
            "deploy.resources.reservations.devices[2].device_ids",
            "deploy.resources.reservations.devices[2].options",
            "deploy.resources.reservations.devices[3]",
            "deploy.resources.reservations.devices[4].driver",
        ]
    );
    let (c, ws) = Fixture::web("image: app\ngpus: all").main();
    assert_eq!(resources(&c).0, strs(&["nvidia.com/gpu=1"]));
    assert_eq!(keys(&ws), ["gpus[0].count"]);
    let (c, ws) = Fixture::web(
        "image: app\ngpus: [{count: 3}]\nx-kubernetes: {gpu_resource: gpu.intel.com/i915}",
    )
    .main();
    assert_eq!(resources(&c).0, strs(&["gpu.intel.com/i915=3"]));
    assert!(ws.is_empty(), "{ws:?}");
}

#[test]
fn quantities_round_cpu_up_and_pick_binary_units() {
    use super::resources::{cpu, memory};
    assert_eq!(cpu(0.0001).0, "1m");
    assert_eq!(cpu(0.5).0, "500m");
    assert_eq!(cpu(3.0).0, "3");
    assert_eq!(memory(3 << 30).0, "3Gi");
    assert_eq!(memory(1536 << 10).0, "1536Ki");
    assert_eq!(memory(1000).0, "1000");
}

#[test]
fn user_capabilities_and_flags_become_the_security_context() {
    let (c, ws) = Fixture::web(
        "image: app\nuser: '1000:2000'\ncap_add: [CAP_NET_ADMIN, sys_time]\ncap_drop: [ALL]\nprivileged: true\nread_only: true",
    )
    .main();
    let sc = c.security_context.unwrap();
    assert_eq!((sc.run_as_user, sc.run_as_group), (Some(1000), Some(2000)));
    let caps = sc.capabilities.unwrap();
    assert_eq!(caps.add, Some(strs(&["NET_ADMIN", "SYS_TIME"])));
    assert_eq!(caps.drop, Some(strs(&["ALL"])));
    assert_eq!(sc.privileged, Some(true));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert!(ws.is_empty(), "{ws:?}");
}

#[test]
fn user_names_are_warned_and_root_is_zero() {
    let (c, ws) = Fixture::web("image: app\nuser: postgres").main();
    assert!(c.security_context.is_none());
    assert_eq!(keys(&ws), ["user"]);
    let (c, ws) = Fixture::web("image: app\nuser: '5:staff'").main();
    let sc = c.security_context.unwrap();
    assert_eq!((sc.run_as_user, sc.run_as_group), (Some(5), None));
    assert_eq!(keys(&ws), ["user"]);
    let (c, _) = Fixture::web("image: app\nuser: root").main();
    assert_eq!(c.security_context.unwrap().run_as_user, Some(0));
}

#[test]
fn security_opts_map_or_warn() {
    let (c, ws) = Fixture::web(
        "image: app\nsecurity_opt:\n  - no-new-privileges:true\n  - seccomp=unconfined\n  - apparmor=my-profile\n  - label=type:svirt_t\n  - label=level:s0:c1\n  - seccomp=/etc/p.json\n  - label=disable\n  - systempaths=unconfined",
    )
    .main();
    let sc = c.security_context.unwrap();
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.seccomp_profile.unwrap().type_, "Unconfined");
    let aa = sc.app_armor_profile.unwrap();
    assert_eq!(
        (aa.type_.as_str(), aa.localhost_profile.as_deref()),
        ("Localhost", Some("my-profile"))
    );
    let se = sc.se_linux_options.unwrap();
    assert_eq!(
        (se.type_.as_deref(), se.level.as_deref()),
        (Some("svirt_t"), Some("s0:c1"))
    );
    assert_eq!(
        keys(&ws),
        ["security_opt[5]", "security_opt[6]", "security_opt[7]"]
    );
    let (c, _) =
        Fixture::web("image: app\nsecurity_opt: [apparmor:unconfined, no-new-privileges]").main();
    let sc = c.security_context.unwrap();
    assert_eq!(sc.app_armor_profile.unwrap().type_, "Unconfined");
    assert_eq!(sc.allow_privilege_escalation, Some(false));
}

#[test]
fn no_new_privileges_is_dropped_where_kubernetes_refuses_it() {
    for extra in ["privileged: true", "cap_add: [SYS_ADMIN]"] {
        let (c, ws) = Fixture::web(&format!(
            "image: app\nsecurity_opt: [no-new-privileges]\n{extra}"
        ))
        .main();
        assert_eq!(c.security_context.unwrap().allow_privilege_escalation, None);
        assert_eq!(keys(&ws), ["security_opt"], "{extra}");
    }
}

#[test]
fn healthcheck_becomes_readiness_and_liveness_probes() {
    let (c, ws) = Fixture::web(
        "image: app\nhealthcheck: {test: [CMD, pg_isready, -U, app], interval: 10s, timeout: 1500ms, retries: 5}",
    )
    .main();
    let want = Probe {
        exec: Some(k8s_openapi::api::core::v1::ExecAction {
            command: Some(strs(&["pg_isready", "-U", "app"])),
        }),
        period_seconds: Some(10),
        timeout_seconds: Some(2),
        failure_threshold: Some(5),
        ..Probe::default()
    };
    assert_eq!(c.readiness_probe.as_ref(), Some(&want));
    assert_eq!(c.liveness_probe.as_ref(), Some(&want));
    assert!(c.startup_probe.is_none());
    assert!(ws.is_empty(), "{ws:?}");
}

#[test]
fn shell_healthchecks_and_defaults() {
    let (c, _) = Fixture::web("image: app\nhealthcheck: {test: curl -f localhost}").main();
    let p = c.readiness_probe.unwrap();
    assert_eq!(
        p.exec.unwrap().command,
        Some(strs(&["/bin/sh", "-c", "curl -f localhost"]))
    );
    assert_eq!(
        (p.period_seconds, p.timeout_seconds, p.failure_threshold),
        (Some(30), Some(30), Some(3))
    );
}

#[test]
fn start_period_becomes_a_covering_startup_probe() {
    let (c, _) = Fixture::web(
        "image: app\nhealthcheck: {test: [CMD, ok], interval: 10s, retries: 2, start_period: 45s}",
    )
    .main();
    let s = c.startup_probe.unwrap();
    assert_eq!(
        (s.period_seconds, s.failure_threshold),
        (Some(10), Some(5 + 2))
    );
    let (c, _) = Fixture::web(
        "image: app\nhealthcheck: {test: [CMD, ok], start_period: 1m, start_interval: 2s}",
    )
    .main();
    let s = c.startup_probe.unwrap();
    assert_eq!(
        (s.period_seconds, s.failure_threshold),
        (Some(2), Some(30 + 3))
    );
}

#[test]
fn disabled_or_commandless_healthchecks_give_no_probe() {
    for yaml in [
        "healthcheck: {disable: true}",
        "healthcheck: {test: [NONE]}",
    ] {
        let (c, ws) = Fixture::web(&format!("image: app\n{yaml}")).main();
        assert!(
            c.readiness_probe.is_none() && c.liveness_probe.is_none(),
            "{yaml}"
        );
        assert!(ws.is_empty(), "{ws:?}");
    }
    let (c, ws) = Fixture::web("image: app\nhealthcheck: {interval: 5s}").main();
    assert!(c.readiness_probe.is_none());
    assert_eq!(keys(&ws), ["healthcheck"]);
}

#[test]
fn hooks_become_lifecycle_handlers_and_what_they_lose_is_warned() {
    let (c, ws) = Fixture::web(
        "image: app\npost_start:\n  - {command: [/init.sh], user: root, privileged: true, working_dir: /x, environment: {A: b}}\n  - {command: [/second]}\npre_stop:\n  - command: nginx -s quit",
    )
    .main();
    let l = c.lifecycle.unwrap();
    assert_eq!(
        l.post_start.unwrap().exec.unwrap().command,
        Some(strs(&["/init.sh"]))
    );
    assert_eq!(
        l.pre_stop.unwrap().exec.unwrap().command,
        Some(strs(&["nginx", "-s", "quit"]))
    );
    assert_eq!(
        keys(&ws),
        [
            "post_start[0].environment",
            "post_start[0].privileged",
            "post_start[0].user",
            "post_start[0].working_dir",
            "post_start[1]",
        ]
    );
}

#[test]
fn stop_signal_other_than_sigterm_is_warned() {
    let (c, ws) = Fixture::web("image: app\nstop_signal: SIGQUIT").main();
    assert!(c.lifecycle.is_none());
    assert_eq!(keys(&ws), ["stop_signal"]);
    let (_, ws) = Fixture::web("image: app\nstop_signal: SIGTERM").main();
    assert!(ws.is_empty(), "{ws:?}");
}

#[test]
fn keys_without_a_kubernetes_place_are_each_warned() {
    let (c, ws) = Fixture::web(
        "image: app
ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 64}
logging: {driver: json-file}
devices: [/dev/fuse]
device_cgroup_rules: ['c 1:3 mr']
init: true
oom_kill_disable: true
oom_score_adj: 100
runtime: runsc
isolation: hyperv
platform: linux/arm64
credential_spec: {file: spec.json}
blkio_config: {weight: 300}
storage_opt: {size: 1G}
cpuset: 0-1
cpu_rt_runtime: 400ms
cpu_rt_period: 1400us
cpu_count: 2
cpu_percent: 50
memswap_limit: 2g
mem_swappiness: 10
pull_refresh_after: 1h
use_api_socket: true
container_name: web1
models: [llm]
pre_start: [{command: [migrate]}]
provider: {type: awesomecloud}",
    )
    .main();
    let mut got = keys(&ws);
    got.sort();
    let mut want = vec![
        "ulimits.nofile",
        "ulimits.nproc",
        "logging",
        "devices[0]",
        "device_cgroup_rules",
        "init",
        "oom_kill_disable",
        "oom_score_adj",
        "runtime",
        "isolation",
        "platform",
        "credential_spec",
        "blkio_config",
        "storage_opt",
        "cpuset",
        "cpu_rt_runtime",
        "cpu_rt_period",
        "cpu_count",
        "cpu_percent",
        "memswap_limit",
        "mem_swappiness",
        "pull_refresh_after",
        "use_api_socket",
        "container_name",
        "models",
        "pre_start",
        "provider",
    ];
    want.sort();
    assert_eq!(got, want);
    // None of them changes the container.
    let (plain, _) = Fixture::web("image: app").main();
    assert_eq!(c, plain);
    let (_, ws) = Fixture::web("image: app\ninit: false\noom_kill_disable: false").main();
    assert!(ws.is_empty(), "{ws:?}");
}

#[test]
fn group_add_and_sysctls_become_the_pod_security_context() {
    let (p, ws) = Fixture::web(
        "image: app\ngroup_add: ['27', video]\nsysctls:\n  net.ipv4.ip_unprivileged_port_start: '0'\n  net.core.somaxconn: '1024'\n  Bad.Name: '1'",
    )
    .pod();
    let p = p.unwrap();
    assert_eq!(p.supplemental_groups, Some(vec![27]));
    let sysctls: Vec<(String, String)> = p
        .sysctls
        .unwrap()
        .into_iter()
        .map(|s| (s.name, s.value))
        .collect();
    assert_eq!(
        sysctls,
        [
            (
                "net.ipv4.ip_unprivileged_port_start".to_string(),
                "0".to_string()
            ),
            ("net.core.somaxconn".to_string(), "1024".to_string()),
        ]
    );
    assert_eq!(
        keys(&ws),
        [
            "group_add",
            "sysctls.Bad.Name",
            "sysctls.net.core.somaxconn"
        ]
    );
    let (p, ws) = Fixture::web("image: app").pod();
    assert!(p.is_none() && ws.is_empty());
}
