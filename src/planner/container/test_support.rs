//! What the spec builder's tests share: an image whose /etc/passwd and /etc/group name a user
//! `app`, a volumes directory, fixed host facts, and builders that take a service as YAML.

pub(super) use std::path::{Path, PathBuf};

pub(super) use indexmap::IndexMap;
pub(super) use oci_spec::image::ImageConfiguration;

pub(super) use super::{
    bind_sources, build_container_spec, device_paths, ContainerInput, HostInfo, OneOffOverrides,
    SpecError,
};
pub(super) use crate::engine::runtime::host_devices::{DeviceFacts, HostNode};
use crate::engine::runtime::user::LayerFiles;
pub(super) use crate::engine::spec::{ContainerSpec, MountKind};
pub(super) use crate::model::types::service::ServiceConfig;

pub(super) struct Fixture {
    pub(super) _tmp: tempfile::TempDir,
    pub(super) layers: Vec<PathBuf>,
    pub(super) files: LayerFiles,
    pub(super) volumes_dir: PathBuf,
    pub(super) inherited: IndexMap<String, PathBuf>,
    pub(super) host: HostInfo,
    pub(super) names: IndexMap<String, String>,
}

pub(super) const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

pub(super) fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let layer = tmp.path().join("l0");
    std::fs::create_dir_all(layer.join("etc")).unwrap();
    std::fs::write(
        layer.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        layer.join("etc/group"),
        "root:x:0:\nstaff:x:50:app\napp:x:1000:\n",
    )
    .unwrap();
    let layers = vec![layer];
    Fixture {
        files: LayerFiles::new(layers.clone()),
        layers,
        volumes_dir: tmp.path().join("volumes"),
        _tmp: tmp,
        host: HostInfo {
            last_cap: 40,
            kernel: (6, 1),
            hostname: "the-host".into(),
        },
        names: IndexMap::new(),
        inherited: IndexMap::new(),
    }
}

pub(super) fn service(yaml: &str) -> ServiceConfig {
    serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
}

pub(super) fn image(config: serde_json::Value) -> ImageConfiguration {
    serde_json::from_value(serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []},
        "config": config,
    }))
    .unwrap()
}

pub(super) fn build_with(
    svc: &ServiceConfig,
    img: &ImageConfiguration,
    one_off: Option<&OneOffOverrides>,
) -> Result<ContainerSpec, SpecError> {
    let f = fixture();
    let (sources, whole_dev) = device_paths(svc);
    let devices = crate::engine::runtime::host_devices::gather(sources, whole_dev);
    build_container_spec(&ContainerInput {
        project: "proj",
        service_name: "web",
        service: svc,
        image: img,
        layers: &f.layers,
        rootfs_files: &f.files,
        container_id: ID,
        container_name: "proj-web-1",
        number: 1,
        volumes_dir: &f.volumes_dir,
        inherited_volumes: &f.inherited,
        volume_names: &f.names,
        one_off,
        host: &f.host,
        devices: &devices,
        host_files: &crate::engine::runtime::host_files::gather(
            bind_sources(svc, one_off).iter().map(PathBuf::as_path),
        ),
        host_gateway: None,
        join_container: None,
        file_mounts: &[],
        volumes_from: &[],
    })
    .map(|mut s| {
        // The fixture's paths differ per call: make them comparable.
        for m in &mut s.mounts {
            if let MountKind::Volume { volume, .. } = &mut m.kind {
                if let Ok(rel) = volume.strip_prefix(&f.volumes_dir) {
                    *volume = Path::new("/VOL").join(rel);
                }
            }
        }
        s.rootfs.layers.clear();
        s
    })
}

pub(super) fn build(yaml: &str, img: serde_json::Value) -> Result<ContainerSpec, SpecError> {
    build_with(&service(yaml), &image(img), None)
}

pub(super) fn err(yaml: &str) -> String {
    build(yaml, serde_json::json!({"Cmd": ["sh"]}))
        .unwrap_err()
        .to_string()
}

pub(super) fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Builds `yaml` with `devices` as the host's device facts (no host is read).
pub(super) fn build_on(yaml: &str, devices: &DeviceFacts) -> Result<ContainerSpec, SpecError> {
    let f = fixture();
    let svc = service(yaml);
    let img = image(serde_json::json!({"Cmd": ["sh"]}));
    build_container_spec(&ContainerInput {
        project: "proj",
        service_name: "web",
        service: &svc,
        image: &img,
        layers: &f.layers,
        rootfs_files: &f.files,
        container_id: ID,
        container_name: "proj-web-1",
        number: 1,
        volumes_dir: &f.volumes_dir,
        inherited_volumes: &f.inherited,
        volume_names: &f.names,
        one_off: None,
        host: &f.host,
        devices,
        host_files: &crate::engine::runtime::host_files::gather(
            bind_sources(&svc, None).iter().map(PathBuf::as_path),
        ),
        host_gateway: None,
        join_container: None,
        file_mounts: &[],
        volumes_from: &[],
    })
}

pub(super) fn host_node(path: &str, major: u64, minor: u64) -> HostNode {
    HostNode {
        path: path.into(),
        block: false,
        major,
        minor,
        mode: 0o020666 | 0o1000,
        uid: 0,
        gid: 29,
    }
}
