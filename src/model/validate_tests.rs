use std::path::Path;

use super::*;
use crate::model::de::from_node;
use crate::model::environment::Environment;
use crate::model::normalize::normalize;
use crate::model::profiles::apply_profiles;
use crate::model::yaml::parse_file_text;

/// Types `text` (named `compose.yaml`), applies `profiles`, optionally normalizes, validates.
fn check_with(text: &str, profiles: &[&str], normalized: bool) -> Result<()> {
    let tree = parse_file_text(text, Some(Path::new("compose.yaml"))).expect("valid YAML");
    let mut project: Project = from_node(&tree).expect("valid project");
    let profiles: Vec<String> = profiles.iter().map(|s| s.to_string()).collect();
    apply_profiles(&mut project, &profiles, &[]).expect("profiles");
    if normalized {
        project.name = Some("p".into());
        normalize(&mut project, &Environment::default(), false, None, None).expect("normalize");
    }
    validate(&project, &tree)
}

fn check(text: &str) -> Result<()> {
    check_with(text, &[], true)
}

#[test]
fn consistent_projects_pass() {
    let cases: &[(&str, &str)] = &[
            ("empty", "services: {}\n"),
            ("image only", "services:\n  web:\n    image: nginx\n"),
            ("build only", "services:\n  web:\n    build: .\n"),
            (
                "build contexts of every kind",
                "services:\n  base:\n    build: https://github.com/o/r.git#main\n  web:\n    build:\n      context: https://example.com/ctx.tar.gz\n      additional_contexts:\n        b: service:base\n        i: docker-image://alpine\n        d: ./lib\n",
            ),
            ("provider only", "services:\n  ai:\n    provider:\n      type: model\n"),
            (
                "every kind of reference defined",
                "services:
  db:
    image: postgres
    volumes: [data:/var/lib/postgresql/data, /host:/bind, /anonymous]
    networks: [back]
    secrets: [pw]
    configs: [conf]
    models: [llm]
    build:
      context: .
      secrets: [pw]
  web:
    image: nginx
    depends_on:
      db: {condition: service_healthy}
    links: ['db:database']
    volumes_from: ['db:ro', 'container:other']
    ipc: service:db
    pid: service:db
    networks:
      back: {}
      default: {}
  sidecar:
    image: busybox
    network_mode: service:web
volumes:
  data: {}
networks:
  back: {}
secrets:
  pw: {file: ./pw.txt}
  ext: {external: true}
  env: {environment: PW}
configs:
  conf: {file: ./c.conf}
models:
  llm: {model: ai/smollm2}
",
            ),
            (
                "optional dependency on an undefined service",
                "services:\n  web:\n    image: nginx\n    depends_on:\n      nope:\n        condition: service_started\n        required: false\n",
            ),
            (
                "optional dependency on a disabled service",
                "services:\n  web:\n    image: nginx\n    depends_on:\n      dbg:\n        condition: service_started\n        required: false\n  dbg:\n    image: x\n    profiles: [debug]\n",
            ),
            (
                "`default` network needs no declaration",
                "services:\n  web:\n    image: nginx\n    networks: [default]\n",
            ),
            (
                "container_name with one replica",
                "services:\n  web:\n    image: nginx\n    container_name: w\n    deploy:\n      replicas: 1\n",
            ),
            (
                "scale and deploy.replicas agree",
                "services:\n  web:\n    image: nginx\n    scale: 2\n    deploy:\n      replicas: 2\n",
            ),
            (
                "healthcheck forms",
                "services:\n  a:\n    image: x\n    healthcheck:\n      test: curl -f http://x\n  b:\n    image: x\n    healthcheck:\n      test: [CMD, curl]\n  c:\n    image: x\n    healthcheck:\n      test: [NONE]\n  d:\n    image: x\n    healthcheck:\n      disable: true\n",
            ),
            (
                "build platforms include the platform",
                "services:\n  web:\n    build:\n      context: .\n      platforms: [linux/amd64, linux/arm64]\n    platform: linux/arm64\n",
            ),
            (
                "a cycle through a disabled service is not one",
                "services:\n  a:\n    image: x\n    depends_on:\n      b: {condition: service_started, required: false}\n  b:\n    image: x\n    profiles: [p]\n    depends_on: [a]\n",
            ),
        ];
    for (what, text) in cases {
        if let Err(e) = check(text) {
            panic!("{what}: unexpected error: {e}");
        }
    }
}

#[test]
fn inconsistencies_are_located_and_explained() {
    let cases: &[(&str, &str, &str)] = &[
            (
                "neither image nor build",
                "services:\n  web:\n    command: echo\n",
                "compose.yaml:2:3: services.web: service \"web\" has neither an image nor a build context specified: set `image` or `build`",
            ),
            (
                "depends_on list names an undefined service",
                "services:\n  web:\n    image: nginx\n    depends_on:\n      - db\n      - cache\n  db:\n    image: x\n",
                "compose.yaml:6:9: services.web.depends_on[1]: service `cache` is not defined (used by service \"web\")",
            ),
            (
                "depends_on mapping names an undefined service",
                "services:\n  web:\n    image: nginx\n    depends_on:\n      cache:\n        condition: service_started\n",
                "compose.yaml:5:7: services.web.depends_on.cache: service `cache` is not defined (used by service \"web\")",
            ),
            (
                "dependency on a service a profile disabled",
                "services:\n  web:\n    image: nginx\n    depends_on: [dbg]\n  dbg:\n    image: x\n    profiles: [debug, tools]\n",
                "compose.yaml:4:18: services.web.depends_on[0]: service \"web\" depends on service \"dbg\", which is disabled: activate one of its profiles (debug, tools) with --profile or COMPOSE_PROFILES, or set `required: false`",
            ),
            (
                "link to a disabled service",
                "services:\n  web:\n    image: nginx\n    links:\n      - dbg:debugger\n  dbg:\n    image: x\n    profiles: [debug]\n",
                "compose.yaml:5:9: services.web.links[0]: service \"web\" depends on service \"dbg\", which is disabled: activate one of its profiles (debug) with --profile or COMPOSE_PROFILES",
            ),
            (
                "link to an undefined service",
                "services:\n  web:\n    image: nginx\n    links:\n      - db\n      - cache:c\n  db:\n    image: x\n",
                "compose.yaml:6:9: services.web.links[1]: service `cache` is not defined (used by service \"web\")",
            ),
            (
                "network_mode service: undefined",
                "services:\n  web:\n    image: nginx\n    network_mode: service:vpn\n",
                "compose.yaml:4:5: services.web.network_mode: service `vpn` is not defined (used by service \"web\")",
            ),
            (
                "ipc service: undefined",
                "services:\n  web:\n    image: nginx\n    ipc: service:shm\n",
                "compose.yaml:4:5: services.web.ipc: service `shm` is not defined (used by service \"web\")",
            ),
            (
                "pid service: undefined",
                "services:\n  web:\n    image: nginx\n    pid: service:init\n",
                "compose.yaml:4:5: services.web.pid: service `init` is not defined (used by service \"web\")",
            ),
            (
                "volumes_from undefined",
                "services:\n  web:\n    image: nginx\n    volumes_from:\n      - container:c1\n      - data:ro\n",
                "compose.yaml:6:9: services.web.volumes_from[1]: service `data` is not defined (used by service \"web\")",
            ),
            (
                "network_mode and networks",
                "services:\n  web:\n    image: nginx\n    network_mode: host\n    networks: [front]\nnetworks:\n  front: {}\n",
                "compose.yaml:4:5: services.web.network_mode: service \"web\" declares mutually exclusive `network_mode` and `networks`",
            ),
            (
                "undefined network, list form",
                "services:\n  web:\n    image: nginx\n    networks:\n      - default\n      - front\n",
                "compose.yaml:6:9: services.web.networks[1]: network `front` is not defined (used by service \"web\")",
            ),
            (
                "undefined network, mapping form",
                "services:\n  web:\n    image: nginx\n    networks:\n      front:\n        aliases: [w]\n",
                "compose.yaml:5:7: services.web.networks.front: network `front` is not defined (used by service \"web\")",
            ),
            (
                "undefined named volume",
                "services:\n  web:\n    image: nginx\n    volumes:\n      - ./html:/usr/share/nginx/html\n      - data:/data\n",
                "compose.yaml:6:9: services.web.volumes[1]: volume `data` is not defined (used by service \"web\")",
            ),
            (
                "undefined named volume, long syntax",
                "services:\n  web:\n    image: nginx\n    volumes:\n      - type: volume\n        source: data\n        target: /data\n",
                "compose.yaml:5:9: services.web.volumes[0]: volume `data` is not defined (used by service \"web\")",
            ),
            (
                "undefined secret",
                "services:\n  web:\n    image: nginx\n    secrets:\n      - source: pw\n        target: /run/pw\n",
                "compose.yaml:5:9: services.web.secrets[0]: secret `pw` is not defined (used by service \"web\")",
            ),
            (
                "undefined build secret",
                "services:\n  web:\n    build:\n      context: .\n      secrets:\n        - npmrc\n",
                "compose.yaml:6:11: services.web.build.secrets[0]: secret `npmrc` is not defined (used by service \"web\")",
            ),
            (
                "undefined config",
                "services:\n  web:\n    image: nginx\n    configs: [conf]\n",
                "compose.yaml:4:15: services.web.configs[0]: config `conf` is not defined (used by service \"web\")",
            ),
            (
                "undefined model",
                "services:\n  web:\n    image: nginx\n    models:\n      - llm\n",
                "compose.yaml:5:9: services.web.models[0]: model `llm` is not defined (used by service \"web\")",
            ),
            (
                "container_name with replicas",
                "services:\n  web:\n    image: nginx\n    container_name: w\n    deploy:\n      replicas: 3\n",
                "compose.yaml:4:5: services.web.container_name: service \"web\" sets container_name \"w\" and deploy.replicas 3: a container name must be unique",
            ),
            (
                "container_name with scale",
                "services:\n  web:\n    image: nginx\n    container_name: w\n    scale: 2\n",
                "compose.yaml:4:5: services.web.container_name: service \"web\" sets container_name \"w\" and scale 2: a container name must be unique",
            ),
            (
                "container_name used twice",
                "services:\n  a:\n    image: x\n    container_name: same\n  b:\n    image: x\n    container_name: same\n",
                "compose.yaml:7:5: services.b.container_name: container name \"same\" is already in use by service \"a\"",
            ),
            (
                "scale and deploy.replicas disagree",
                "services:\n  web:\n    image: nginx\n    scale: 2\n    deploy:\n      replicas: 3\n",
                "compose.yaml:4:5: services.web.scale: service \"web\" sets distinct values on `scale` (2) and `deploy.replicas` (3)",
            ),
            (
                "cpus and deploy limits disagree",
                "services:\n  web:\n    image: x\n    cpus: 1.5\n    deploy:\n      resources:\n        limits:\n          cpus: '2'\n",
                "compose.yaml:4:5: services.web.cpus: service \"web\": `cpus` (1.5) and `deploy.resources.limits.cpus` (2) must be equal when both are set",
            ),
            (
                "mem_limit and deploy memory disagree",
                "services:\n  web:\n    image: x\n    mem_limit: 1g\n    deploy:\n      resources:\n        limits:\n          memory: 2g\n",
                "compose.yaml:4:5: services.web.mem_limit: service \"web\": `mem_limit` (1073741824) and `deploy.resources.limits.memory` (2147483648) must be equal when both are set",
            ),
            (
                "mem_reservation and deploy reservation disagree",
                "services:\n  web:\n    image: x\n    mem_reservation: 1g\n    deploy:\n      resources:\n        reservations:\n          memory: 1m\n",
                "compose.yaml:4:5: services.web.mem_reservation: service \"web\": `mem_reservation` (1073741824) and `deploy.resources.reservations.memory` (1048576) must be equal when both are set",
            ),
            (
                "pids_limit and deploy pids disagree",
                "services:\n  web:\n    image: x\n    pids_limit: 10\n    deploy:\n      resources:\n        limits:\n          pids: 20\n",
                "compose.yaml:4:5: services.web.pids_limit: service \"web\": `pids_limit` (10) and `deploy.resources.limits.pids` (20) must be equal when both are set",
            ),
            (
                "sync watch rule without target",
                "services:\n  web:\n    image: x\n    develop:\n      watch:\n        - path: ./src\n          action: sync+restart\n",
                "compose.yaml:6:11: services.web.develop.watch[0]: service \"web\": watch rule for \"./src\" needs a `target` for action sync+restart",
            ),
            (
                "dockerfile and dockerfile_inline",
                "services:\n  web:\n    build:\n      context: .\n      dockerfile: Dockerfile\n      dockerfile_inline: FROM alpine\n",
                "compose.yaml:6:7: services.web.build.dockerfile_inline: service \"web\" declares mutually exclusive `dockerfile` and `dockerfile_inline`",
            ),
            (
                "image as the main build context",
                "services:\n  web:\n    build:\n      context: docker-image://alpine\n",
                "compose.yaml:4:7: services.web.build.context: invalid build context \"docker-image://alpine\": expected a directory, a Git or an HTTP URL (images and services only in `additional_contexts`)",
            ),
            (
                "additional context from an undefined service",
                "services:\n  web:\n    build:\n      context: .\n      additional_contexts:\n        base: service:bse\n",
                "compose.yaml:6:9: services.web.build.additional_contexts.base: service `bse` is not defined (used by service \"web\")",
            ),
            (
                "additional context from the service itself",
                "services:\n  web:\n    build:\n      context: .\n      additional_contexts: [self=service:web]\n",
                "compose.yaml:5:28: services.web.build.additional_contexts.self: service \"web\" cannot use its own image as a build context",
            ),
            (
                "build platforms without the platform",
                "services:\n  web:\n    platform: linux/arm64\n    build:\n      context: .\n      platforms: [linux/amd64]\n",
                "compose.yaml:6:7: services.web.build.platforms: `build.platforms` must include the service's platform \"linux/arm64\"",
            ),
            (
                "healthcheck test without a known first word",
                "services:\n  web:\n    image: nginx\n    healthcheck:\n      test: [curl, -f, http://localhost]\n",
                "compose.yaml:5:7: services.web.healthcheck.test: invalid healthcheck test \"curl\": expected a list starting with \"CMD\", \"CMD-SHELL\" or \"NONE\", or a command string",
            ),
            (
                "secret without a source",
                "services:\n  web:\n    image: nginx\nsecrets:\n  pw:\n    labels: {a: b}\n",
                "compose.yaml:5:3: secrets.pw: secret \"pw\" must declare either `file` or `environment` (or be `external`)",
            ),
            (
                "depends_on cycle, in file order",
                "services:\n  service1:\n    image: x\n    depends_on: [service2]\n  service2:\n    image: x\n    depends_on: [service3]\n  service3:\n    image: x\n    depends_on: [service1]\n",
                "compose.yaml:4:18: services.service1.depends_on[0]: dependency cycle detected: service1 -> service2 -> service3 -> service1",
            ),
            (
                "self dependency",
                "services:\n  service1:\n    image: x\n    depends_on:\n      - service1\n",
                "compose.yaml:5:9: services.service1.depends_on[0]: dependency cycle detected: service1 -> service1",
            ),
            (
                "cycle through links and volumes_from, shortest way back",
                "services:\n  a:\n    image: x\n    links: [b]\n  b:\n    image: x\n    volumes_from: [c]\n    depends_on: [a]\n  c:\n    image: x\n    network_mode: service:a\n",
                "compose.yaml:4:13: services.a.links[0]: dependency cycle detected: a -> b -> a",
            ),
        ];
    let mut failures = Vec::new();
    for (what, text, want) in cases {
        match check(text) {
            Ok(()) => failures.push(format!("{what}: accepted, want {want}")),
            Err(e) if e.to_string() != *want => {
                failures.push(format!("{what}:\n   got: {e}\n  want: {want}"))
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn profiles_decide_what_is_checked() {
    let text = "services:\n  web:\n    image: nginx\n    depends_on: [dbg]\n  dbg:\n    image: x\n    profiles: [debug]\n    depends_on: [nope]\n";
    // With `debug` active, dbg is checked too: its own dependency is undefined.
    assert_eq!(
            check_with(text, &["debug"], true).unwrap_err().to_string(),
            "compose.yaml:8:18: services.dbg.depends_on[0]: service `nope` is not defined (used by service \"dbg\")"
        );
    // Without it, the reference from web is what is wrong.
    assert_eq!(
            check_with(text, &[], true).unwrap_err().to_string(),
            "compose.yaml:4:18: services.web.depends_on[0]: service \"web\" depends on service \"dbg\", which is disabled: activate one of its profiles (debug) with --profile or COMPOSE_PROFILES, or set `required: false`"
        );
}

#[test]
fn unnormalized_projects_are_checked_the_same() {
    // `config --no-normalize`: no default network declared, implicit dependencies not added.
    let text = "services:\n  web:\n    image: nginx\n    networks: [default]\n    links: [db]\n  db:\n    image: x\n";
    check_with(text, &[], false).expect("consistent");
    let text =
        "services:\n  a:\n    image: x\n    links: [b]\n  b:\n    image: x\n    links: [a]\n";
    assert_eq!(
        check_with(text, &[], false).unwrap_err().to_string(),
        "compose.yaml:4:13: services.a.links[0]: dependency cycle detected: a -> b -> a"
    );
}

#[test]
fn corpus_cycles_are_rejected() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/corpus/compose-go/loader/testdata"
    );
    if !Path::new(dir).is_dir() {
        eprintln!("skipped: {dir} is absent");
        return;
    }
    for (file, want) in [
            (
                "compose-depends-on-cycle.yaml",
                "services.service1.depends_on[0]: dependency cycle detected: service1 -> service2 -> service3 -> service1",
            ),
            (
                "compose-depends-on-self.yaml",
                "services.service1.depends_on[0]: dependency cycle detected: service1 -> service1",
            ),
        ] {
            let path = Path::new(dir).join(file);
            let text = std::fs::read_to_string(&path).expect("readable fixture");
            let tree = parse_file_text(&text, Some(&path)).expect("valid YAML");
            let project: Project = from_node(&tree).expect("valid project");
            let err = validate(&project, &tree).unwrap_err();
            assert_eq!(err.to_string(), format!("{}:6:9: {want}", path.display()), "{file}");
        }
}

#[test]
fn pull_policies_are_checked_at_load_naming_service_and_key() {
    for ok in [
        "always",
        "missing",
        "if_not_present",
        "never",
        "build",
        "daily",
        "weekly",
        "every_12h",
    ] {
        let text = format!("services:\n  web:\n    image: x\n    pull_policy: {ok}\n");
        check_with(&text, &[], false).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    let err = check("services:\n  web:\n    image: x\n    pull_policy: sometimes\n")
        .expect_err("an unknown policy");
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "compose.yaml:4:5: services.web.pull_policy: invalid pull_policy \"sometimes\""
        ),
        "{msg}"
    );
    let err = check("services:\n  web:\n    image: x\n    pull_policy: every_5x\n")
        .expect_err("a bad interval");
    assert!(
        err.to_string().contains("services.web.pull_policy"),
        "{err}"
    );
}
