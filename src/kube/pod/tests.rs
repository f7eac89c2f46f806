//! The pod assembly, from Compose files read into the model and a hand-made main container
//! (the container part is tested on its own).

use std::path::Path;

use k8s_openapi::api::core::v1::{Container, PodSecurityContext, PodSpec, PodTemplateSpec};

use super::wait::{BUSYBOX_IMAGE, KUBECTL_IMAGE};
use super::{assemble, seconds_up};
use crate::kube::context::{Contents, Context, Input};
use crate::kube::warning::{Warning, Warnings};
use crate::model::de::from_node;
use crate::model::types::resources::Project;
use crate::model::yaml::parse_file_text;

/// The Compose file `yaml` read as the loader reads it (not normalized: paths stay relative).
fn project(yaml: &str) -> Project {
    let tree = parse_file_text(yaml, Some(Path::new("compose.yaml"))).expect("valid YAML");
    from_node(&tree).expect("valid project")
}

/// The pod of service `svc` of the Compose file `yaml` (project `demo`), and its warnings.
fn pod_of(yaml: &str, svc: &str) -> (PodTemplateSpec, Vec<Warning>) {
    let project = project(yaml);
    let contents = Contents::default();
    let ctx = Context::new(Input {
        name: "demo",
        project: &project,
        contents: &contents,
    })
    .expect("context");
    let mut w = Warnings::default();
    let main = Container {
        name: svc.to_string(),
        image: Some("app:1".to_string()),
        ..Container::default()
    };
    let pod = assemble(&ctx, svc, main, None, &mut w).expect("pod");
    (pod, w.finish())
}

fn spec(p: &PodTemplateSpec) -> &PodSpec {
    p.spec.as_ref().expect("spec")
}

/// The warnings' keys, for `service`.
fn keys(w: &[Warning]) -> Vec<&str> {
    w.iter().map(|w| w.key.as_str()).collect()
}

/// The one warning with `key`.
fn warning<'a>(w: &'a [Warning], key: &str) -> &'a Warning {
    let found: Vec<_> = w.iter().filter(|w| w.key == key).collect();
    assert_eq!(found.len(), 1, "one warning {key:?} in {w:#?}");
    found[0]
}

#[test]
fn a_plain_service_is_one_container_restarted_always_with_the_selector_labels() {
    let (pod, w) = pod_of("services: {web: {image: nginx}}", "web");
    assert!(w.is_empty(), "{w:#?}");
    let s = spec(&pod);
    assert_eq!(s.containers.len(), 1);
    assert_eq!(s.containers[0].image.as_deref(), Some("app:1"));
    assert!(s.containers[0].volume_mounts.is_none());
    assert_eq!(s.restart_policy.as_deref(), Some("Always"));
    assert!(s.init_containers.is_none() && s.volumes.is_none());
    assert!(s.service_account_name.is_none() && s.dns_config.is_none());
    let labels = pod.metadata.as_ref().unwrap().labels.as_ref().unwrap();
    assert_eq!(labels["app.kubernetes.io/name"], "web");
    assert_eq!(labels["app.kubernetes.io/part-of"], "demo");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "compose");
    assert!(pod.metadata.as_ref().unwrap().annotations.is_none());
}

#[test]
fn the_pod_security_context_is_the_one_given() {
    let project = project("services: {web: {image: x}}");
    let contents = Contents::default();
    let ctx = Context::new(Input {
        name: "demo",
        project: &project,
        contents: &contents,
    })
    .unwrap();
    let sc = PodSecurityContext {
        supplemental_groups: Some(vec![5]),
        ..PodSecurityContext::default()
    };
    let pod = assemble(
        &ctx,
        "web",
        Container::default(),
        Some(sc.clone()),
        &mut Warnings::default(),
    )
    .unwrap();
    assert_eq!(spec(&pod).security_context, Some(sc));
}

#[test]
fn compose_labels_become_labels_or_annotations() {
    let (pod, w) = pod_of(
        r#"
services:
  web:
    image: x
    labels:
      tier: front
      com.example.description: "Accounting web app"
      app.kubernetes.io/name: other
    annotations:
      example.com/note: "any text"
"#,
        "web",
    );
    let meta = pod.metadata.as_ref().unwrap();
    let labels = meta.labels.as_ref().unwrap();
    let ann = meta.annotations.as_ref().unwrap();
    assert_eq!(labels["tier"], "front");
    assert_eq!(labels["app.kubernetes.io/name"], "web", "ours win");
    assert!(!labels.contains_key("com.example.description"));
    assert_eq!(ann["com.example.description"], "Accounting web app");
    assert_eq!(ann["app.kubernetes.io/name"], "other");
    assert_eq!(ann["example.com/note"], "any text");
    assert_eq!(keys(&w), ["labels.app.kubernetes.io/name"]);
}

#[test]
fn restart_on_a_deployment_is_always_and_warned_unless_it_asks_for_that() {
    for (restart, warned) in [
        ("always", false),
        ("unless-stopped", false),
        ("\"no\"", true),
        ("on-failure:3", true),
    ] {
        let (pod, w) = pod_of(
            &format!("services: {{web: {{image: x, restart: {restart}}}}}"),
            "web",
        );
        assert_eq!(spec(&pod).restart_policy.as_deref(), Some("Always"));
        assert_eq!(keys(&w), if warned { vec!["restart"] } else { vec![] });
    }
    let (_, w) = pod_of(
        "services: {web: {image: x, deploy: {restart_policy: {condition: none, delay: 5s, window: 1m}}}}",
        "web",
    );
    assert_eq!(
        keys(&w),
        [
            "deploy.restart_policy.condition",
            "deploy.restart_policy.delay",
            "deploy.restart_policy.window"
        ]
    );
}

#[test]
fn restart_on_a_job_is_never_or_on_failure() {
    let job = |restart: &str| {
        pod_of(
            &format!("services: {{init: {{image: x, {restart} x-kubernetes: {{kind: job}}}}}}"),
            "init",
        )
    };
    let (pod, w) = job("");
    assert_eq!(spec(&pod).restart_policy.as_deref(), Some("Never"));
    assert!(w.is_empty());
    let (pod, w) = job("restart: \"no\",");
    assert_eq!(spec(&pod).restart_policy.as_deref(), Some("Never"));
    assert!(w.is_empty());
    let (pod, w) = job("restart: on-failure,");
    assert_eq!(spec(&pod).restart_policy.as_deref(), Some("OnFailure"));
    assert!(w.is_empty());
    let (pod, w) = job("restart: on-failure:4,");
    assert_eq!(spec(&pod).restart_policy.as_deref(), Some("OnFailure"));
    assert!(warning(&w, "restart").message.contains("backoffLimit"));
    let (pod, w) = job("restart: always,");
    assert_eq!(spec(&pod).restart_policy.as_deref(), Some("OnFailure"));
    assert_eq!(keys(&w), ["restart"]);
    // deploy's condition is the one read when both are set.
    let (pod, w) = job("restart: always, deploy: {restart_policy: {condition: on-failure}},");
    assert_eq!(spec(&pod).restart_policy.as_deref(), Some("OnFailure"));
    assert!(w.is_empty(), "{w:#?}");
}

#[test]
fn stop_grace_period_is_whole_seconds_rounded_up() {
    let (pod, _) = pod_of(
        "services: {web: {image: x, stop_grace_period: 1500ms}}",
        "web",
    );
    assert_eq!(spec(&pod).termination_grace_period_seconds, Some(2));
    assert_eq!(seconds_up(std::time::Duration::from_secs(30)), 30);
    assert_eq!(seconds_up(std::time::Duration::from_nanos(1)), 1);
}

#[test]
fn named_volumes_are_claims_one_pod_volume_each() {
    let (pod, w) = pod_of(
        r#"
services:
  db:
    image: x
    volumes:
      - data:/var/lib/db
      - type: volume
        source: data
        target: /backup
        read_only: true
        volume: {subpath: dumps, nocopy: true}
      - shared:/shared
volumes:
  data: {}
  shared: {external: true, name: team-share}
"#,
        "db",
    );
    assert!(w.is_empty(), "{w:#?}");
    let s = spec(&pod);
    let vols = s.volumes.as_ref().unwrap();
    assert_eq!(vols.len(), 2);
    assert_eq!(vols[0].name, "data");
    let pvc = vols[0].persistent_volume_claim.as_ref().unwrap();
    assert_eq!(pvc.claim_name, "data");
    assert_eq!(vols[1].name, "shared");
    assert_eq!(
        vols[1].persistent_volume_claim.as_ref().unwrap().claim_name,
        "team-share"
    );
    let mounts = s.containers[0].volume_mounts.as_ref().unwrap();
    assert_eq!(mounts.len(), 3);
    assert_eq!(
        (mounts[0].name.as_str(), mounts[0].mount_path.as_str()),
        ("data", "/var/lib/db")
    );
    assert_eq!(mounts[0].read_only, None);
    assert_eq!(mounts[1].name, "data");
    assert_eq!(mounts[1].read_only, Some(true));
    assert_eq!(mounts[1].sub_path.as_deref(), Some("dumps"));
    assert_eq!(mounts[2].mount_path, "/shared");
}

#[test]
fn anonymous_volumes_are_empty_dirs_with_a_warning() {
    let (pod, w) = pod_of(
        r#"
services:
  web:
    image: x
    volumes: ["/cache", {type: volume, target: /c2, volume: {labels: {a: b}}}]
"#,
        "web",
    );
    let vols = spec(&pod).volumes.as_ref().unwrap();
    assert_eq!(vols.len(), 2);
    assert!(vols[0].empty_dir.as_ref().unwrap().medium.is_none());
    assert_ne!(vols[0].name, vols[1].name);
    assert!(warning(&w, "volumes[0]")
        .message
        .contains("does not outlive the pod"));
    assert_eq!(
        keys(&w),
        ["volumes[0]", "volumes[1]", "volumes[1].volume.labels"]
    );
}

#[test]
fn a_volume_named_like_a_local_volume_keeps_its_name() {
    // The named volume `tmpfs` is referred to by that name from claim templates; the tmpfs
    // mount's volume must step aside.
    let (pod, _) = pod_of(
        "services: {web: {image: x, tmpfs: [/run], volumes: [\"tmpfs:/data\"]}}\nvolumes: {tmpfs: {}}",
        "web",
    );
    let vols = spec(&pod).volumes.as_ref().unwrap();
    let names: Vec<&str> = vols.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["tmpfs", "tmpfs-2"]);
    assert!(vols[0].persistent_volume_claim.is_some());
    assert!(vols[1].empty_dir.is_some());
}

#[test]
fn bind_mounts_are_warned_unless_host_path_is_asked_for() {
    let yaml = |ext: &str| {
        format!(
            r#"
services:
  web:
    image: x
    {ext}
    volumes:
      - ./site:/usr/share/nginx/html:ro
      - type: bind
        source: /var/log
        target: /logs
        bind: {{propagation: rslave, selinux: z, create_host_path: false}}
"#
        )
    };
    let (pod, w) = pod_of(&yaml(""), "web");
    assert!(spec(&pod).volumes.is_none());
    assert!(spec(&pod).containers[0].volume_mounts.is_none());
    let m = &warning(&w, "volumes[0]").message;
    assert!(
        m.contains("bind mount of host path ./site") && m.contains("x-kubernetes.host_path"),
        "{m}"
    );
    assert_eq!(keys(&w), ["volumes[0]", "volumes[1]"]);

    let (pod, w) = pod_of(&yaml("x-kubernetes: {host_path: true}"), "web");
    let vols = spec(&pod).volumes.as_ref().unwrap();
    let hp0 = vols[0].host_path.as_ref().unwrap();
    assert_eq!(hp0.path, "./site");
    assert_eq!(hp0.type_.as_deref(), Some("DirectoryOrCreate"));
    let hp1 = vols[1].host_path.as_ref().unwrap();
    assert_eq!(hp1.path, "/var/log");
    assert_eq!(hp1.type_, None);
    let mounts = spec(&pod).containers[0].volume_mounts.as_ref().unwrap();
    assert_eq!(mounts[0].read_only, Some(true));
    assert_eq!(
        mounts[1].mount_propagation.as_deref(),
        Some("HostToContainer")
    );
    assert_eq!(keys(&w), ["volumes[1].bind.selinux"]);
}

#[test]
fn tmpfs_and_shm_size_are_memory_empty_dirs() {
    let (pod, w) = pod_of(
        r#"
services:
  web:
    image: x
    shm_size: 256m
    tmpfs: ["/run:size=64m,mode=1777", /tmp]
    volumes:
      - {type: tmpfs, target: /scratch, tmpfs: {size: 1000, mode: 0700}}
      - {type: image, source: "img:1", target: /img}
"#,
        "web",
    );
    let s = spec(&pod);
    let vols = s.volumes.as_ref().unwrap();
    let mounts = s.containers[0].volume_mounts.as_ref().unwrap();
    let at = |path: &str| {
        let m = mounts
            .iter()
            .find(|m| m.mount_path == path)
            .unwrap_or_else(|| panic!("{path}"));
        let v = vols.iter().find(|v| v.name == m.name).unwrap();
        v.empty_dir.clone().unwrap()
    };
    for path in ["/run", "/tmp", "/scratch", "/dev/shm"] {
        assert_eq!(at(path).medium.as_deref(), Some("Memory"), "{path}");
    }
    assert_eq!(at("/run").size_limit.unwrap().0, "64Mi");
    assert_eq!(at("/tmp").size_limit, None);
    assert_eq!(at("/scratch").size_limit.unwrap().0, "1000");
    assert_eq!(at("/dev/shm").size_limit.unwrap().0, "256Mi");
    assert_eq!(mounts.len(), 4, "the image volume is not mounted");
    assert_eq!(
        keys(&w),
        ["tmpfs[0]", "volumes[0].tmpfs.mode", "volumes[1]"]
    );
    assert!(warning(&w, "tmpfs[0]").message.contains("\"mode=1777\""));
}

#[test]
fn two_mounts_at_one_path_keep_the_first() {
    let (pod, w) = pod_of(
        "services: {web: {image: x, volumes: [\"cache:/d\"], tmpfs: [/d]}}\nvolumes: {cache: {}}",
        "web",
    );
    let mounts = spec(&pod).containers[0].volume_mounts.as_ref().unwrap();
    assert_eq!(mounts.len(), 1, "{mounts:#?}");
    assert_eq!(mounts[0].name, "cache");
    assert_eq!(spec(&pod).volumes.as_ref().unwrap().len(), 1);
    assert_eq!(keys(&w), ["tmpfs[0]"]);
}

#[test]
fn configs_and_secrets_are_files_at_compose_targets() {
    let (pod, w) = pod_of(
        r#"
services:
  web:
    image: x
    configs:
      - app_config
      - {source: app_config, target: etc/app.conf, mode: 0440}
      - {source: shared_conf, target: /etc/shared, uid: "1000"}
    secrets:
      - db_password
      - {source: db_password, target: /etc/pw}
      - {source: api_key, target: keys/api, gid: "5", mode: 01777}
configs:
  app_config: {file: ./app.conf}
  shared_conf: {external: true, name: org-shared}
secrets:
  db_password: {file: ./pw}
  api_key: {external: true}
"#,
        "web",
    );
    let s = spec(&pod);
    let vols = s.volumes.as_ref().unwrap();
    let mounts = s.containers[0].volume_mounts.as_ref().unwrap();
    let path_of = |p: &str| mounts.iter().find(|m| m.mount_path == p).unwrap();
    let vol = |name: &str| vols.iter().find(|v| v.name == name).unwrap();

    let m = path_of("/app_config");
    assert_eq!(m.sub_path.as_deref(), Some("app_config"));
    assert_eq!(m.read_only, Some(true));
    let cm = vol(&m.name).config_map.clone().unwrap();
    assert_eq!(cm.name, "app-config");
    let item = &cm.items.unwrap()[0];
    assert_eq!(
        (item.key.as_str(), item.path.as_str()),
        ("app_config", "app_config")
    );
    assert_eq!(item.mode, None);
    // Another mode, another volume of the same ConfigMap.
    let m = path_of("/etc/app.conf");
    let cm = vol(&m.name).config_map.clone().unwrap();
    assert_eq!(cm.name, "app-config");
    assert_eq!(cm.items.unwrap()[0].mode, Some(0o440));
    let m = path_of("/etc/shared");
    assert_eq!(vol(&m.name).config_map.clone().unwrap().name, "org-shared");

    let m1 = path_of("/run/secrets/db_password");
    let m2 = path_of("/etc/pw");
    assert_eq!(m1.name, m2.name, "one volume for one secret mounted twice");
    assert_eq!(m2.sub_path.as_deref(), Some("db_password"));
    let sec = vol(&m1.name).secret.clone().unwrap();
    assert_eq!(sec.secret_name.as_deref(), Some("db-password"));
    let m = path_of("/run/secrets/keys/api");
    let sec = vol(&m.name).secret.clone().unwrap();
    assert_eq!(
        sec.secret_name.as_deref(),
        Some("api_key"),
        "external: its own name"
    );
    assert_eq!(sec.items.unwrap()[0].mode, None);
    assert_eq!(mounts.len(), 6);
    assert_eq!(vols.len(), 5);
    assert_eq!(
        keys(&w),
        ["configs[2].uid", "secrets[2].gid", "secrets[2].mode"]
    );
}

#[test]
fn an_unknown_config_is_warned_not_mounted() {
    let (pod, w) = pod_of("services: {web: {image: x, configs: [nope]}}", "web");
    assert!(spec(&pod).volumes.is_none());
    assert_eq!(keys(&w), ["configs[0]"]);
}

#[test]
fn hostname_hosts_and_dns_are_carried_over() {
    let (pod, w) = pod_of(
        r#"
services:
  web:
    image: x
    hostname: front-1
    domainname: example.com
    extra_hosts:
      - "db.local=10.0.0.5"
      - "cache.local:10.0.0.5"
      - "api.local=10.0.0.9"
      - "gw=host-gateway"
    dns: [1.1.1.1, 8.8.8.8, 9.9.9.9, 8.8.4.4]
    dns_search: corp.example
    dns_opt: [ndots:2, use-vc]
"#,
        "web",
    );
    let s = spec(&pod);
    assert_eq!(s.hostname.as_deref(), Some("front-1"));
    assert!(s.subdomain.is_none());
    let aliases = s.host_aliases.as_ref().unwrap();
    assert_eq!(aliases.len(), 2);
    assert_eq!(aliases[0].ip, "10.0.0.5");
    assert_eq!(
        aliases[0].hostnames.as_deref().unwrap(),
        ["cache.local", "db.local"]
    );
    assert_eq!(aliases[1].ip, "10.0.0.9");
    let dns = s.dns_config.as_ref().unwrap();
    assert_eq!(
        dns.nameservers.as_deref().unwrap(),
        ["1.1.1.1", "8.8.8.8", "9.9.9.9"]
    );
    assert_eq!(dns.searches.as_deref().unwrap(), ["corp.example"]);
    let opts = dns.options.as_ref().unwrap();
    assert_eq!(opts[0].name.as_deref(), Some("ndots"));
    assert_eq!(opts[0].value.as_deref(), Some("2"));
    assert_eq!(opts[1].name.as_deref(), Some("use-vc"));
    assert_eq!(opts[1].value, None);
    assert!(s.dns_policy.is_none(), "ClusterFirst stays");
    assert_eq!(keys(&w), ["dns", "domainname", "extra_hosts.gw"]);
    assert!(warning(&w, "dns").message.contains("8.8.4.4"));

    let (pod, w) = pod_of("services: {web: {image: x, hostname: Web_1}}", "web");
    assert!(spec(&pod).hostname.is_none());
    assert_eq!(keys(&w), ["hostname"]);
}

#[test]
fn namespace_and_host_settings_are_warned_by_key() {
    let (_, w) = pod_of(
        r#"
services:
  web:
    image: x
    network_mode: host
    pid: host
    ipc: shareable
    uts: host
    userns_mode: "keep-id"
    cgroup: host
    cgroup_parent: /custom
    mac_address: "02:42:ac:11:00:02"
    volumes_from: [other]
  other: {image: x}
"#,
        "web",
    );
    assert_eq!(
        keys(&w),
        [
            "cgroup",
            "cgroup_parent",
            "ipc",
            "mac_address",
            "network_mode",
            "pid",
            "userns_mode",
            "uts",
            "volumes_from[0]"
        ]
    );
    for mode in ["none", "service:other", "container:abc"] {
        let (_, w) = pod_of(
            &format!(
                "services: {{web: {{image: x, network_mode: \"{mode}\"}}, other: {{image: x}}}}"
            ),
            "web",
        );
        assert_eq!(keys(&w), ["network_mode"], "{mode}");
    }
    // What a pod already is: nothing to say.
    let (_, w) = pod_of(
        "services: {web: {image: x, network_mode: bridge, ipc: private, userns_mode: host, cgroup: private}}",
        "web",
    );
    assert!(w.is_empty(), "{w:#?}");
}

const STACK: &str = r#"
services:
  web:
    image: x
    depends_on:
      migrate: {condition: service_completed_successfully}
      db: {condition: service_healthy}
      cache: {condition: service_started, restart: true}
      seed: {condition: service_started}
      gone: {condition: service_started, required: false}
  migrate: {image: x}
  seed: {image: x, x-kubernetes: {kind: job}}
  db: {image: x, expose: ["5432"], ports: ["53:53/udp"]}
  cache: {image: x}
"#;

#[test]
fn depends_on_becomes_init_containers_in_order() {
    let (pod, w) = pod_of(STACK, "web");
    let s = spec(&pod);
    let init = s.init_containers.as_ref().unwrap();
    let names: Vec<&str> = init.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["wait-migrate", "wait-db", "wait-cache"]);

    assert_eq!(init[0].image.as_deref(), Some(KUBECTL_IMAGE));
    assert!(init[0].command.is_none());
    assert_eq!(
        init[0].args.as_deref().unwrap(),
        [
            "wait",
            "--for=condition=complete",
            "job/migrate",
            "--timeout=-1s"
        ]
    );
    assert_eq!(s.service_account_name.as_deref(), Some("demo-wait"));

    assert_eq!(init[1].image.as_deref(), Some(BUSYBOX_IMAGE));
    assert_eq!(init[1].command.as_deref().unwrap(), ["sh", "-c"]);
    let script = &init[1].args.as_deref().unwrap()[0];
    assert!(
        script.starts_with("until nc -z -w 2 db 5432;"),
        "first TCP port: {script}"
    );

    let script = &init[2].args.as_deref().unwrap()[0];
    assert!(
        script.contains("until nslookup cache.$domain;") && script.contains("/etc/resolv.conf"),
        "{script}"
    );

    assert_eq!(keys(&w), ["depends_on.cache.restart", "depends_on.seed"]);
    assert!(warning(&w, "depends_on.seed").message.contains("Job"));
}

#[test]
fn a_pod_that_waits_for_no_job_keeps_the_default_account() {
    let (pod, _) = pod_of(STACK, "db");
    assert!(spec(&pod).service_account_name.is_none());
    assert!(spec(&pod).init_containers.is_none());
}

#[test]
fn waiting_for_completion_of_a_long_running_service_waits_for_its_service() {
    let (pod, w) = pod_of(
        r#"
services:
  web:
    image: x
    depends_on: {api: {condition: service_completed_successfully}}
  api: {image: x, x-kubernetes: {kind: deployment}, ports: ["8080:80"]}
"#,
        "web",
    );
    let init = spec(&pod).init_containers.clone().unwrap();
    assert_eq!(init.len(), 1);
    assert!(init[0].args.as_ref().unwrap()[0].contains("nc -z -w 2 api 80;"));
    assert!(spec(&pod).service_account_name.is_none());
    assert_eq!(keys(&w), ["depends_on.api"]);
}

#[test]
fn dependencies_with_one_dns_name_get_distinct_init_containers() {
    let (pod, _) = pod_of(
        "services: {web: {image: x, depends_on: [my_db, my-db]}, my_db: {image: x}, my-db: {image: x}}",
        "web",
    );
    let init = spec(&pod).init_containers.clone().unwrap();
    let names: Vec<&str> = init.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["wait-my-db", "wait-my-db-2"]);
}
