//! Tests of the service's keys in their short and long forms, and of its output.

use super::*;
use crate::model::types::deploy::DeviceCount;
use crate::model::types::fields::test_support::{assert_fields_cover, compose_schema, load};
use crate::model::types::syntax::ShortSyntax;

fn svc(body: &str) -> ServiceConfig {
    load::<ServiceConfig>(body).unwrap_or_else(|e| panic!("{body}: {e}"))
}

fn env(pairs: &[(&str, Option<&str>)]) -> MappingWithEquals {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
        .collect()
}

#[test]
fn environment_list_and_mapping_agree() {
    let want = env(&[
        ("A", Some("1")),
        ("B", None),
        ("C", Some("x=y")),
        ("D", Some("")),
    ]);
    for body in [
        "environment: [A=1, B, C=x=y, D=]\n",
        "environment: {A: 1, B: null, C: x=y, D: ''}\n",
        "environment:\n  A: '1'\n  B:\n  C: x=y\n  D: \"\"\n",
    ] {
        assert_eq!(svc(body).environment, want, "{body}");
    }
    // Booleans and floats in a mapping are printed as Compose prints them.
    let s = svc("environment: {T: true, F: 1.5}\n");
    assert_eq!(
        s.environment,
        env(&[("T", Some("true")), ("F", Some("1.5"))])
    );
}

#[test]
fn environment_of_wrong_shape_is_rejected_with_location() {
    let err = load::<ServiceConfig>("image: x\nenvironment: 3\n").unwrap_err();
    assert_eq!(err.span.line, 2);
    assert_eq!(err.path, "environment");
    assert_eq!(
        err.kind.to_string(),
        "expected a list of \"KEY=VALUE\" strings or a mapping, found integer 3"
    );
}

#[test]
fn labels_annotations_sysctls_list_and_mapping_agree() {
    let cases = [
        "labels: [a=b, empty]\nannotations: [a=b, empty]\nsysctls: [a=b, empty]\n",
        "labels: {a: b, empty: }\nannotations: {a: b, empty: ''}\nsysctls: {a: b, empty: null}\n",
    ];
    let want: IndexMap<String, String> = [
        ("a".to_string(), "b".to_string()),
        ("empty".to_string(), String::new()),
    ]
    .into_iter()
    .collect();
    for body in cases {
        let s = svc(body);
        assert_eq!(s.labels, want, "{body}");
        assert_eq!(s.annotations, want, "{body}");
        assert_eq!(s.sysctls, want, "{body}");
    }
    // `x-` keys inside labels are data, not extensions.
    assert_eq!(svc("labels: {x-a: 1}\n").labels["x-a"], "1");
}

#[test]
fn depends_on_short_and_long_forms() {
    let short = svc("depends_on: [db, cache]\n");
    let long = svc(
        "depends_on:\n  db:\n    condition: service_started\n  cache:\n    condition: service_started\n    required: true\n",
    );
    assert_eq!(short.depends_on, long.depends_on);
    assert_eq!(short.depends_on["db"], ServiceDependency::default());
    assert_eq!(short.depends_on.keys().collect::<Vec<_>>(), ["db", "cache"]);

    let s = svc("depends_on:\n  db:\n    condition: service_healthy\n    restart: true\n    required: false\n");
    let d = &s.depends_on["db"];
    assert_eq!(d.condition, DependencyCondition::ServiceHealthy);
    assert!(d.restart);
    assert!(!d.required);

    let err = load::<ServiceConfig>("depends_on:\n  db:\n    condition: healthy\n").unwrap_err();
    assert_eq!(err.span.line, 3);
    assert_eq!(err.path, "depends_on.db.condition");
    assert_eq!(
        err.kind.to_string(),
        "invalid condition \"healthy\": expected one of service_started, service_healthy, \
         service_completed_successfully"
    );
    let err = load::<ServiceConfig>("depends_on:\n  db:\n    conditon: x\n").unwrap_err();
    assert_eq!(err.span.line, 3);
    assert_eq!(
        err.kind.to_string(),
        "unknown key `conditon`, did you mean `condition`?"
    );
}

#[test]
fn healthcheck_test_string_is_cmd_shell() {
    let cases: [(&str, &[&str]); 4] = [
        (
            "healthcheck: {test: curl -f x}\n",
            &["CMD-SHELL", "curl -f x"],
        ),
        (
            "healthcheck: {test: [CMD, curl, -f, x]}\n",
            &["CMD", "curl", "-f", "x"],
        ),
        ("healthcheck: {test: [NONE]}\n", &["NONE"]),
        ("healthcheck: {disable: true}\n", &[]),
    ];
    for (body, want) in cases {
        let hc = svc(body).healthcheck.expect("healthcheck");
        assert_eq!(hc.test, want, "{body}");
    }
    let hc = svc("healthcheck:\n  interval: 1m30s\n  timeout: 10s\n  retries: '3'\n  start_period: 0s\n  disable: 'false'\n")
        .healthcheck
        .expect("healthcheck");
    assert_eq!(hc.interval, Some(Duration::from_secs(90)));
    assert_eq!(hc.timeout, Some(Duration::from_secs(10)));
    assert_eq!(hc.retries, Some(3));
    assert_eq!(hc.start_period, Some(Duration::ZERO));
    assert!(!hc.disable);
}

#[test]
fn env_file_forms() {
    let one = |path: &str, required: bool, format: Option<&str>| EnvFile {
        path: path.into(),
        required,
        format: format.map(str::to_string),
    };
    assert_eq!(svc("env_file: .env\n").env_file, [one(".env", true, None)]);
    assert_eq!(
        svc("env_file: [a.env, b.env]\n").env_file,
        [one("a.env", true, None), one("b.env", true, None)]
    );
    assert_eq!(
        svc("env_file:\n  - a.env\n  - path: b.env\n    required: false\n    format: raw\n  - path: c.env\n")
            .env_file,
        [one("a.env", true, None), one("b.env", false, Some("raw")), one("c.env", true, None)]
    );
    let err = load::<ServiceConfig>("env_file:\n  - path: a\n    requird: false\n").unwrap_err();
    assert_eq!(err.span.line, 3);
    assert_eq!(err.path, "env_file[0].requird");
    assert_eq!(
        err.kind.to_string(),
        "unknown key `requird`, did you mean `required`?"
    );
}

#[test]
fn extra_hosts_forms_and_output() {
    let want: HostsList = [
        ("somehost".to_string(), vec!["162.242.195.82".to_string()]),
        ("v6".to_string(), vec!["::1".to_string()]),
        (
            "multi".to_string(),
            vec!["10.0.0.1".to_string(), "10.0.0.2".to_string()],
        ),
    ]
    .into_iter()
    .collect();
    for body in [
        "extra_hosts: ['somehost:162.242.195.82', 'v6=[::1]', 'multi=10.0.0.1,10.0.0.2']\n",
        "extra_hosts: {somehost: 162.242.195.82, v6: '::1', multi: [10.0.0.1, 10.0.0.2]}\n",
    ] {
        assert_eq!(svc(body).extra_hosts, want, "{body}");
    }
    let err = load::<ServiceConfig>("extra_hosts: [nohost]\n").unwrap_err();
    assert_eq!(
        err.kind.to_string(),
        "invalid extra host \"nohost\": expected \"HOST:IP\" or \"HOST=IP\""
    );
}

#[test]
fn service_networks_list_mapping_and_null() {
    let list = svc("networks: [front, back]\n");
    let map = svc("networks:\n  front:\n  back: null\n");
    assert_eq!(list.networks, map.networks);
    assert_eq!(list.networks["front"], None);
    let s = svc(
        "networks:\n  front:\n    aliases: [a]\n    ipv4_address: 10.0.0.2\n    ipv6_address: '::2'\n    \
         link_local_ips: [169.254.0.1]\n    mac_address: 02:42:ac:11:00:02\n    priority: 10\n    \
         gw_priority: 1\n    interface_name: eth1\n    driver_opts: {mtu: 1500}\n    x-note: n\n",
    );
    let n = s.networks["front"].clone().expect("options");
    assert_eq!(n.aliases, ["a"]);
    assert_eq!(n.ipv4_address.as_deref(), Some("10.0.0.2"));
    assert_eq!(n.ipv6_address.as_deref(), Some("::2"));
    assert_eq!(n.link_local_ips, ["169.254.0.1"]);
    assert_eq!(n.mac_address.as_deref(), Some("02:42:ac:11:00:02"));
    assert_eq!(n.priority, Some(10));
    assert_eq!(n.gw_priority, Some(1));
    assert_eq!(n.interface_name.as_deref(), Some("eth1"));
    assert_eq!(n.driver_opts["mtu"], "1500");
    assert_eq!(n.extensions["x-note"], serde_yaml_ng::Value::from("n"));
}

#[test]
fn secrets_and_configs_short_and_long() {
    let s = svc(
        "secrets:\n  - s1\n  - source: s2\n    target: /run/x\n    uid: '103'\n    gid: '103'\n    mode: 0o440\n\
         configs:\n  - c1\n  - source: c2\n    mode: '0440'\n",
    );
    assert_eq!(
        s.secrets[0],
        FileReferenceConfig::from_short("s1".into()).unwrap()
    );
    assert_eq!(s.secrets[1].target.as_deref(), Some("/run/x"));
    assert_eq!(s.secrets[1].uid.as_deref(), Some("103"));
    assert_eq!(s.secrets[1].mode, Some(FileMode(0o440)));
    assert_eq!(s.configs[0].source, "c1");
    assert_eq!(s.configs[1].mode, Some(FileMode(0o440)));
    let err = load::<ServiceConfig>("secrets:\n  - source: a\n    mode: '9'\n").unwrap_err();
    assert_eq!(err.path, "secrets[0].mode");
    assert_eq!(
        err.kind.to_string(),
        "invalid file mode \"9\": expected an octal number like \"0440\""
    );
}

#[test]
fn extends_short_and_long() {
    assert_eq!(
        svc("extends: base\n").extends,
        svc("extends: {service: base}\n").extends
    );
    let e = svc("extends: {service: base, file: common.yaml}\n")
        .extends
        .unwrap();
    assert_eq!(e.file.as_deref(), Some("common.yaml"));
    assert_eq!(e.service, "base");
}

#[test]
fn build_short_long_and_unknown_key() {
    assert_eq!(
        svc("build: ./dir\n").build,
        svc("build:\n  context: ./dir\n").build
    );
    let b = svc("build:\n  context: .\n  x-cache: on\n").build.unwrap();
    assert_eq!(b.extensions["x-cache"], serde_yaml_ng::Value::from("on"));
    let err =
        load::<ServiceConfig>("image: x\nbuild:\n  context: .\n  dockerfil: D\n").unwrap_err();
    assert_eq!((err.span.line, err.span.col), (4, 3));
    assert_eq!(err.path, "build.dockerfil");
    assert_eq!(
        err.kind.to_string(),
        "unknown key `dockerfil`, did you mean `dockerfile`?"
    );
}

#[test]
fn gpus_all_and_list() {
    let all = svc("gpus: all\n").gpus;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].count, Some(DeviceCount::All));
    let list = svc("gpus:\n  - driver: nvidia\n    count: 2\n    capabilities: [gpu]\n").gpus;
    assert_eq!(list[0].driver.as_deref(), Some("nvidia"));
    assert_eq!(list[0].count, Some(DeviceCount::Count(2)));
    assert_eq!(list[0].capabilities, ["gpu"]);
    let err = load::<ServiceConfig>("gpus: some\n").unwrap_err();
    assert_eq!(
        err.kind.to_string(),
        "invalid gpus \"some\": expected \"all\" or a list of device requests"
    );
}

#[test]
fn scalars_lists_and_sizes() {
    let s = svc(
        "expose: ['3000', 8000]\ngroup_add: [wheel, 1000]\ndns: 8.8.8.8\ndns_search: [a, b]\ntmpfs: /run\n\
         label_file: l.txt\ncpus: '0.5'\ncpu_rt_runtime: 400ms\ncpu_rt_period: 1000\nmem_limit: 1g\n\
         memswap_limit: -1\nshm_size: 64m\nstop_grace_period: 20s\npid: null\nscale: '2'\n\
         init: false\nattach: false\nprivileged: true\n",
    );
    assert_eq!(s.expose, ["3000", "8000"]);
    assert_eq!(s.group_add, ["wheel", "1000"]);
    assert_eq!(s.dns, ["8.8.8.8"]);
    assert_eq!(s.dns_search, ["a", "b"]);
    assert_eq!(s.tmpfs, ["/run"]);
    assert_eq!(s.label_file, ["l.txt"]);
    assert_eq!(s.cpus, Some(0.5));
    assert_eq!(s.cpu_rt_runtime, Some(400_000));
    assert_eq!(s.cpu_rt_period, Some(1000));
    assert_eq!(s.mem_limit, Some(ByteSize(1 << 30)));
    assert_eq!(s.memswap_limit, Some(ByteSize(-1)));
    assert_eq!(s.shm_size, Some(ByteSize(64 << 20)));
    assert_eq!(s.stop_grace_period, Some(Duration::from_secs(20)));
    assert_eq!(s.pid, None);
    assert_eq!(s.scale, Some(2));
    assert_eq!(s.init, Some(false));
    assert_eq!(s.attach, Some(false));
    assert!(s.privileged);
}

#[test]
fn develop_hooks_models_provider_and_more() {
    let s = svc(
        "develop:\n  watch:\n    - path: ./src\n      action: sync+exec\n      target: /app\n      ignore: node_modules\n      \
         include: ['*.js']\n      initial_sync: true\n      exec:\n        command: npm run build\n\
         post_start:\n  - command: [echo, up]\n    user: root\n    privileged: true\n    environment: [A=1]\n\
         pre_stop:\n  - command: echo down\n\
         pre_start:\n  - command: ./migrate\n    image: tools\n    per_replica: true\n\
         models: [llm]\n\
         provider:\n  type: model\n  options: {model: ai/x, flag: [a, b], n: 1}\n\
         credential_spec: {config: cs}\n\
         blkio_config:\n  weight: 300\n  weight_device: [{path: /dev/sda, weight: 400}]\n  \
         device_read_bps: [{path: /dev/sda, rate: 12mb}]\n\
         logging: {driver: syslog, options: {syslog-address: 'tcp://1.2.3.4:123', max: 3}}\n\
         ulimits: {nproc: 65535}\nuse_api_socket: true\npull_refresh_after: 1h\n",
    );
    let w = &s.develop.as_ref().unwrap().watch[0];
    assert_eq!(w.path, "./src");
    assert_eq!(w.action, WatchAction::SyncExec);
    assert_eq!(w.target.as_deref(), Some("/app"));
    assert_eq!(w.ignore, ["node_modules"]);
    assert_eq!(w.include, ["*.js"]);
    assert!(w.initial_sync);
    assert_eq!(
        w.exec.as_ref().unwrap().command,
        Some(ShellCommand(vec![
            "npm".into(),
            "run".into(),
            "build".into()
        ]))
    );
    assert_eq!(s.post_start[0].user.as_deref(), Some("root"));
    assert!(s.post_start[0].privileged);
    assert_eq!(s.post_start[0].environment, env(&[("A", Some("1"))]));
    assert_eq!(
        s.pre_stop[0].command,
        Some(ShellCommand(vec!["echo".into(), "down".into()]))
    );
    assert_eq!(s.pre_start[0].image.as_deref(), Some("tools"));
    assert!(s.pre_start[0].per_replica);
    assert_eq!(s.models.get("llm"), Some(&None));
    let p = s.provider.as_ref().unwrap();
    assert_eq!(p.kind, "model");
    assert_eq!(p.options["flag"], ["a", "b"]);
    assert_eq!(p.options["n"], ["1"]);
    assert_eq!(
        s.credential_spec.as_ref().unwrap().config.as_deref(),
        Some("cs")
    );
    let b = s.blkio_config.as_ref().unwrap();
    assert_eq!(b.weight, Some(300));
    assert_eq!(b.weight_device[0].weight, 400);
    assert_eq!(b.device_read_bps[0].rate, ByteSize(12 << 20));
    let l = s.logging.as_ref().unwrap();
    assert_eq!(l.options["max"], "3");
    assert!(s.ulimits.contains_key("nproc"));
    assert!(s.use_api_socket);
    assert_eq!(s.pull_refresh_after.as_deref(), Some("1h"));

    let err = load::<ServiceConfig>("develop:\n  watch:\n    - path: .\n      action: copy\n")
        .unwrap_err();
    assert_eq!(err.path, "develop.watch[0].action");
    assert_eq!(
        err.kind.to_string(),
        "invalid watch action \"copy\": expected one of rebuild, sync, restart, sync+restart, sync+exec"
    );
}

#[test]
fn every_service_key_of_the_schema_is_a_field() {
    let Some(schema) = compose_schema() else {
        return;
    };
    let defs = &schema["definitions"];
    assert_fields_cover::<ServiceConfig>(&defs["service"], "service");
    assert_fields_cover::<HealthCheckConfig>(&defs["healthcheck"], "healthcheck");
    assert_fields_cover::<ServiceHook>(&defs["service_hook"], "service_hook");
    assert_fields_cover::<WatchRule>(
        &defs["development"]["properties"]["watch"]["items"],
        "watch",
    );
    let svc_props = &defs["service"]["properties"];
    assert_fields_cover::<BuildConfig>(&svc_props["build"]["oneOf"][1], "build");
    assert_fields_cover::<BlkioConfig>(&svc_props["blkio_config"], "blkio_config");
    assert_fields_cover::<LoggingConfig>(&svc_props["logging"], "logging");
    assert_fields_cover::<ServiceProviderConfig>(&svc_props["provider"], "provider");
    assert_fields_cover::<CredentialSpecConfig>(&svc_props["credential_spec"], "credential_spec");
    assert_fields_cover::<ServiceNetworkConfig>(
        &svc_props["networks"]["oneOf"][1]["patternProperties"]["^[a-zA-Z0-9._-]+$"]["oneOf"][0],
        "service networks",
    );
    assert_fields_cover::<ServiceDependency>(
        &svc_props["depends_on"]["oneOf"][1]["patternProperties"]["^[a-zA-Z0-9._-]+$"],
        "depends_on",
    );
    assert_fields_cover::<ServiceModelConfig>(
        &svc_props["models"]["oneOf"][1]["patternProperties"]["^[a-zA-Z0-9._-]+$"],
        "service models",
    );
    assert_fields_cover::<FileReferenceConfig>(
        &defs["service_config_or_secret"]["items"]["oneOf"][1],
        "secret/config reference",
    );
    assert_fields_cover::<EnvFile>(
        &defs["env_file"]["oneOf"][1]["items"]["oneOf"][1],
        "env_file",
    );
    assert_fields_cover::<ExtendsConfig>(&svc_props["extends"]["oneOf"][1], "extends");
}

#[test]
fn serializes_a_small_service_like_docker_compose_config() {
    let s = svc(
        "image: nginx\nx-owner: me\nenvironment: [B=2, A, C=3]\ndepends_on: [db]\nrestart: always\n\
         healthcheck:\n  test: curl -f http://localhost\n  interval: 90s\n\
         networks: [front]\nlabels: {z: 1, a: 2}\ncommand: nginx -g 'daemon off;'\n\
         extra_hosts: [b:10.0.0.2, a:10.0.0.1]\nprivileged: false\nsecrets: [s]\n",
    );
    let out = serde_yaml_ng::to_string(&s).unwrap();
    assert_eq!(
        out,
        "command:\n- nginx\n- -g\n- daemon off;\n\
         depends_on:\n  db:\n    condition: service_started\n    required: true\n\
         environment:\n  A: null\n  B: '2'\n  C: '3'\n\
         extra_hosts:\n- a=10.0.0.1\n- b=10.0.0.2\n\
         healthcheck:\n  test:\n  - CMD-SHELL\n  - curl -f http://localhost\n  interval: 1m30s\n\
         image: nginx\nlabels:\n  a: '2'\n  z: '1'\nnetworks:\n  front: null\nrestart: always\n\
         secrets:\n- source: s\nx-*:\n  x-owner: me\n"
    );
}
