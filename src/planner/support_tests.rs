use std::collections::BTreeSet;

use indexmap::IndexMap;

use super::*;
use crate::model::types::bytes::ByteSize;
use crate::model::types::deploy::{DeployConfig, Resource, Resources, RestartPolicy};
use crate::model::types::fields::struct_fields;
use crate::model::types::mounts::{
    BindOptions, ImageOptions, ServiceVolume, TmpfsOptions, VolumeOptions, VolumeType,
};
use crate::model::types::ports::PortConfig;
use crate::model::types::service::{
    BlkioConfig, HealthCheckConfig, LoggingConfig, ServiceDependency, ServiceNetworkConfig,
};

/// Extensions, as every struct's serializer writes them: one `x-` key.
fn ext() -> crate::model::types::fields::Extensions {
    let mut e = IndexMap::new();
    e.insert("x-probe".to_string(), serde_yaml_ng::Value::Bool(true));
    e
}

/// The keys a hand-serialized struct writes when every field is set. The struct literals are
/// exhaustive (no `..`), so a field added to one of these types does not compile here until
/// it is set, and then shows up as a key the table must classify.
fn keys_of(v: impl serde::Serialize) -> Vec<&'static str> {
    let tree = serde_json::to_value(v).expect("serializes");
    let obj = tree.as_object().expect("a mapping");
    obj.keys()
        .map(|k| {
            let k = if k.starts_with("x-") {
                "x-*"
            } else {
                k.as_str()
            };
            &*Box::leak(k.to_string().into_boxed_str())
        })
        .collect()
}

fn full_volume() -> ServiceVolume {
    ServiceVolume {
        kind: VolumeType::Volume,
        source: Some("data".into()),
        target: "/data".into(),
        read_only: true,
        consistency: Some("cached".into()),
        bind: Some(full_bind()),
        volume: Some(full_volume_options()),
        tmpfs: Some(full_tmpfs()),
        image: Some(full_image_options()),
        extensions: ext(),
    }
}

fn full_bind() -> BindOptions {
    BindOptions {
        propagation: Some("rprivate".into()),
        create_host_path: Some(true),
        selinux: Some("z".into()),
        recursive: Some("enabled".into()),
        extensions: ext(),
    }
}

fn full_volume_options() -> VolumeOptions {
    let mut labels = IndexMap::new();
    labels.insert("a".to_string(), "b".to_string());
    VolumeOptions {
        labels,
        nocopy: true,
        subpath: Some("sub".into()),
        extensions: ext(),
    }
}

fn full_tmpfs() -> TmpfsOptions {
    TmpfsOptions {
        size: Some(ByteSize(1)),
        mode: Some(0o700),
        extensions: ext(),
    }
}

fn full_image_options() -> ImageOptions {
    ImageOptions {
        subpath: Some("sub".into()),
        extensions: ext(),
    }
}

fn full_port() -> PortConfig {
    PortConfig {
        name: Some("web".into()),
        mode: "host".into(),
        host_ip: Some("127.0.0.1".into()),
        target: 80,
        published: Some("8080".into()),
        protocol: "tcp".into(),
        app_protocol: Some("http".into()),
        extensions: ext(),
    }
}

/// Every struct of the service model whose sub-keys can be ignored one by one, at the key path
/// where it sits (`[]` a list item, `*` a mapping value), with its keys. Derived structs give
/// their keys by serde reflection; hand-written ones by serializing a value with every field set.
fn model() -> Vec<(&'static str, Vec<&'static str>)> {
    let derived = |f: &'static [&'static str]| f.to_vec();
    vec![
        ("", derived(struct_fields::<ServiceConfig>())),
        ("blkio_config", derived(struct_fields::<BlkioConfig>())),
        (
            "depends_on.*",
            derived(struct_fields::<ServiceDependency>()),
        ),
        ("deploy", derived(struct_fields::<DeployConfig>())),
        ("deploy.resources", derived(struct_fields::<Resources>())),
        (
            "deploy.resources.limits",
            derived(struct_fields::<Resource>()),
        ),
        (
            "deploy.resources.reservations",
            derived(struct_fields::<Resource>()),
        ),
        (
            "deploy.restart_policy",
            derived(struct_fields::<RestartPolicy>()),
        ),
        ("healthcheck", derived(struct_fields::<HealthCheckConfig>())),
        ("logging", derived(struct_fields::<LoggingConfig>())),
        (
            "networks.*",
            derived(struct_fields::<ServiceNetworkConfig>()),
        ),
        ("ports[]", keys_of(full_port())),
        ("volumes[]", keys_of(full_volume())),
        ("volumes[].bind", keys_of(full_bind())),
        ("volumes[].volume", keys_of(full_volume_options())),
        ("volumes[].tmpfs", keys_of(full_tmpfs())),
        ("volumes[].image", keys_of(full_image_options())),
    ]
}

/// The Nested entry a walked prefix belongs to (`volumes[]` -> `volumes`).
fn nested_entry(prefix: &str) -> &str {
    prefix
        .strip_suffix(".*")
        .or_else(|| prefix.strip_suffix("[]"))
        .unwrap_or(prefix)
}

/// Item 10 of issue 12: every key of the service model is applied, inert as in Docker Compose,
/// refused, warned about or checked — by an entry of the table [`check_service`] acts on. A key
/// added to the model without an entry fails here (a field of a hand-serialized struct fails
/// to compile first), and so does an entry for a key the model no longer has.
#[test]
fn every_service_key_is_applied_refused_or_warned() {
    let mut walked = BTreeSet::new();
    let mut missing = Vec::new();
    for (prefix, keys) in model() {
        assert!(
            !keys.is_empty(),
            "no keys found for {prefix:?}: reflection failed"
        );
        if !prefix.is_empty() {
            let parent = nested_entry(prefix);
            assert!(
                matches!(rule_for(parent).map(|r| r.support), Some(Nested)),
                "{parent} is walked, so its entry must be Nested"
            );
        }
        for k in keys {
            let path = if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            };
            if rule_for(&path).is_none() {
                missing.push(path.clone());
            }
            walked.insert(path);
        }
    }
    assert!(
        missing.is_empty(),
        "service keys with no entry in planner::support::SERVICE_KEYS (say whether each is \
         applied, inert, refused, warned or checked): {missing:?}"
    );
    for r in SERVICE_KEYS {
        assert!(
            walked.contains(r.path),
            "SERVICE_KEYS has {:?}, which the service model does not have",
            r.path
        );
        if matches!(r.support, Nested) {
            assert!(
                model().iter().any(|(p, _)| nested_entry(p) == r.path),
                "{} is Nested but its sub-keys are not walked by this test",
                r.path
            );
        }
        let text = match r.support {
            Applied(t) | Inert(t) | Refused(t) | Warned(t) => t,
            Checked(_) | Nested => "checked",
        };
        assert!(!text.trim().is_empty(), "{}: say why", r.path);
    }
    let paths: Vec<&str> = SERVICE_KEYS.iter().map(|r| r.path).collect();
    let unique: BTreeSet<&str> = paths.iter().copied().collect();
    assert_eq!(unique.len(), paths.len(), "a key is listed twice");
}

struct FakeHost(bool);

impl Host for FakeHost {
    fn block_io_weight(&self) -> bool {
        self.0
    }
}

fn svc(yaml: &str) -> ServiceConfig {
    crate::model::types::fields::test_support::load_file("compose.yaml", yaml).expect("a service")
}

fn check(yaml: &str, weight: bool) -> Result<Vec<String>, SupportError> {
    check_service(
        "web",
        &svc(yaml),
        &Facts {
            image: None,
            host: &FakeHost(weight),
        },
    )
}

#[test]
fn refused_keys_name_service_and_key() {
    for (yaml, key) in [
        ("use_api_socket: true", "use_api_socket"),
        ("storage_opt: {size: 1G}", "storage_opt"),
        ("gpus: all", "gpus"),
        (
            "deploy: {resources: {reservations: {devices: [{capabilities: [gpu]}]}}}",
            "deploy.resources.reservations.devices",
        ),
        ("runtime: runsc", "runtime"),
        ("isolation: hyperv", "isolation"),
        (
            "security_opt: ['label=type:svirt_apache_t']",
            "security_opt",
        ),
        ("security_opt: ['apparmor=my-profile']", "security_opt"),
        ("pre_start: [{command: [true]}]", "pre_start"),
        ("credential_spec: {file: x.json}", "credential_spec"),
        (
            "networks: {n: {interface_name: wan0}}",
            "networks.*.interface_name",
        ),
        (
            "volumes: [{type: image, source: busybox, target: /img}]",
            "volumes[].type",
        ),
        (
            "volumes: [{type: bind, source: /tmp, target: /x, read_only: true, bind: {recursive: readonly}}]",
            "volumes[].bind.recursive",
        ),
    ] {
        let e = check(yaml, true).expect_err(yaml);
        assert_eq!(e.service, "web", "{yaml}");
        assert_eq!(e.key, key, "{yaml}");
        assert!(e.to_string().starts_with(&format!("service web: {key}: ")));
    }
}

#[test]
fn accepted_forms_pass_silently() {
    for yaml in [
        "runtime: runc",
        "runtime: io.containerd.runc.v2",
        "isolation: default",
        "security_opt: ['label=disable', 'label:nested', 'apparmor=unconfined', 'no-new-privileges']",
        "pull_policy: missing",
        "blkio_config: {weight: 300}",
        "deploy: {placement: {constraints: ['node.role==manager']}, resources: {reservations: {cpus: '0.5'}}}",
        "ports: ['80']\nvolumes: [{type: bind, source: /tmp, target: /x, consistency: cached}]",
        "volumes: [{type: bind, source: /tmp, target: /x, read_only: true, bind: {recursive: writable}}]",
    ] {
        assert_eq!(check(yaml, true).expect(yaml), Vec::<String>::new(), "{yaml}");
    }
}

#[test]
fn warned_keys_give_one_line_each() {
    let w = check("blkio_config: {weight: 300}", false).expect("a warning only");
    assert_eq!(w.len(), 1);
    assert!(
        w[0].starts_with("service web: blkio_config.weight: "),
        "{w:?}"
    );
    let w = check(
        "blkio_config: {weight: 300, weight_device: [{path: /dev/sda, weight: 100}]}",
        false,
    )
    .expect("a warning only");
    assert_eq!(w.len(), 1, "{w:?}");
    // `pull_policy` is applied (stack::pull): only `cpu_count` warns.
    let w = check("pull_policy: always\ncpu_count: 2", true).expect("warnings only");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("service web: cpu_count: "), "{w:?}");
    let w = check(
        "volumes: [{type: bind, source: /tmp, target: /x, bind: {selinux: z}}]",
        true,
    )
    .expect("a warning only");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("service web: volumes[].bind.selinux: "));
    let w = check(
        "logging: {driver: json-file, options: {max-size: 1m, compress: 'true'}}\nnetworks: {n: {driver_opts: {a: b}}}",
        true,
    )
    .expect("warnings only");
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].starts_with("service web: logging.options: compress: "),
        "{w:?}"
    );
    assert!(
        w[1].starts_with("service web: networks.*.driver_opts: "),
        "{w:?}"
    );
}

#[test]
fn platform_must_be_the_stored_images() {
    let image: ImageConfiguration = serde_json::from_value(serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []}
    }))
    .expect("an image config");
    let facts = Facts {
        image: Some(&image),
        host: &FakeHost(true),
    };
    for ok in ["linux/amd64", "linux/x86_64", "linux"] {
        let s = svc(&format!("platform: {ok}"));
        assert!(check_service("web", &s, &facts).is_ok(), "{ok}");
    }
    for bad in [
        "linux/arm64",
        "linux/arm/v7",
        "windows/amd64",
        "linux/amd64/v3",
    ] {
        let s = svc(&format!("platform: {bad}"));
        let e = check_service("web", &s, &facts).expect_err(bad);
        assert_eq!(e.key, "platform");
        assert!(e.why.contains("linux/amd64"), "{e}");
    }
}

/// The README's compatibility table lists every key that is not simply applied: what is
/// refused, warned, checked or has no effect is what a user must be able to look up.
#[test]
fn readme_lists_every_key_that_is_not_simply_applied() {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("## Compose keys this tool cannot honour")
        .expect("the README has the compatibility section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let missing: Vec<&str> = SERVICE_KEYS
        .iter()
        .filter(|r| !matches!(r.support, Applied(_) | Nested) && !r.path.ends_with("x-*"))
        .map(|r| r.path)
        .filter(|p| !section.contains(&format!("`{p}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "README compatibility table lacks {missing:?}"
    );
}
