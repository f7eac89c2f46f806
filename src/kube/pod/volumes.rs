//! A service's pod volumes and the main container's mounts: `volumes`, `tmpfs`, `configs`,
//! `secrets` and `shm_size`.
//!
//! A named volume is one pod volume (named [`names::pod_volume`]) however often it is mounted,
//! since the objects part turns exactly those into a StatefulSet's claim templates. The other
//! pod volumes (emptyDirs, hostPaths, ConfigMap and Secret volumes) are local to the pod and
//! referred to by nothing else, so their names are made here, kept clear of the named ones.
//!
//! A ConfigMap or Secret holds one key, the Compose config or secret key itself (the data
//! part writes it the same way), mounted with `subPath` so the target is a file, as in Compose.
//! An external one is expected to hold that key too.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, EmptyDirVolumeSource, HostPathVolumeSource, KeyToPath,
    PersistentVolumeClaimVolumeSource, SecretVolumeSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::kube::context::Context;
use crate::kube::error::Result;
use crate::kube::names;
use crate::kube::warning::Warnings;
use crate::model::types::bytes::ByteSize;
use crate::model::types::mounts::{ServiceVolume, VolumeType};
use crate::model::types::service::FileReferenceConfig;

/// Where Compose mounts a secret named only by its key, or with a relative target.
const SECRETS_DIR: &str = "/run/secrets";

/// The pod's volumes and the main container's mounts of them.
#[derive(Debug, Default)]
pub(super) struct PodVolumes {
    pub volumes: Vec<Volume>,
    pub mounts: Vec<VolumeMount>,
}

/// The volumes and mounts of service `name`.
pub(super) fn build(ctx: &Context<'_>, name: &str, w: &mut Warnings) -> Result<PodVolumes> {
    let svc = ctx.service(name);
    let mut b = Builder {
        reserved: svc
            .volumes
            .iter()
            .filter(|v| v.kind == VolumeType::Volume)
            .filter_map(|v| v.source.as_deref())
            .map(names::pod_volume)
            .collect(),
        ..Builder::default()
    };
    for (i, v) in svc.volumes.iter().enumerate() {
        service_volume(ctx, name, &mut b, &format!("volumes[{i}]"), v, w);
    }
    for (i, t) in svc.tmpfs.iter().enumerate() {
        tmpfs_entry(name, &mut b, &format!("tmpfs[{i}]"), t, w);
    }
    for (i, r) in svc.configs.iter().enumerate() {
        file_reference(ctx, name, &mut b, Kind::Config, i, r, w);
    }
    for (i, r) in svc.secrets.iter().enumerate() {
        file_reference(ctx, name, &mut b, Kind::Secret, i, r, w);
    }
    if let Some(size) = svc.shm_size {
        let vol = b.fresh("dshm");
        b.add(
            name,
            "shm_size",
            Volume {
                name: vol.clone(),
                empty_dir: Some(memory(Some(size))),
                ..Volume::default()
            },
            mount(&vol, "/dev/shm"),
            w,
        );
    }
    Ok(PodVolumes {
        volumes: b.volumes,
        mounts: b.mounts,
    })
}

/// Collects volumes (each name once) and mounts (each path once).
#[derive(Debug, Default)]
struct Builder {
    /// The pod volume names of the named volumes, which other volumes may not take.
    reserved: BTreeSet<String>,
    volumes: Vec<Volume>,
    mounts: Vec<VolumeMount>,
}

impl Builder {
    /// `base`, or `base-N` for the first N that no volume has and no named volume will take.
    fn fresh(&self, base: &str) -> String {
        let taken = |n: &str| self.reserved.contains(n) || self.volumes.iter().any(|v| v.name == n);
        let base = names::dns_label(base);
        if !taken(&base) {
            return base;
        }
        (2..)
            .map(|n| {
                let suffix = format!("-{n}");
                let keep = 63usize.saturating_sub(suffix.len()).min(base.len());
                format!("{}{suffix}", &base[..keep])
            })
            .find(|c| !taken(c))
            .unwrap_or(base)
    }

    /// Adds `volume` (unless one of its name is there: a named volume or a secret mounted
    /// twice) and `mount`; a mount at a path already mounted is dropped with a warning, since
    /// Kubernetes refuses two mounts at one path.
    fn add(&mut self, svc: &str, key: &str, volume: Volume, mount: VolumeMount, w: &mut Warnings) {
        if self.mounts.iter().any(|m| m.mount_path == mount.mount_path) {
            w.service(
                svc,
                key,
                format!(
                    "{} is already mounted by an earlier entry; this one is dropped",
                    mount.mount_path
                ),
            );
            return;
        }
        if !self.volumes.iter().any(|v| v.name == volume.name) {
            self.volumes.push(volume);
        }
        self.mounts.push(mount);
    }
}

/// One `volumes` entry.
fn service_volume(
    ctx: &Context<'_>,
    svc: &str,
    b: &mut Builder,
    key: &str,
    v: &ServiceVolume,
    w: &mut Warnings,
) {
    let volume = match v.kind {
        VolumeType::Volume => named_or_anonymous(ctx, svc, b, key, v, w),
        VolumeType::Bind => host_path(ctx, svc, b, key, v, w),
        VolumeType::Tmpfs => {
            if v.tmpfs.as_ref().is_some_and(|t| t.mode.is_some()) {
                w.service(
                    svc,
                    format!("{key}.tmpfs.mode"),
                    "an emptyDir's mode cannot be set; the mode is dropped",
                );
            }
            Some(Volume {
                name: b.fresh("tmpfs"),
                empty_dir: Some(memory(v.tmpfs.as_ref().and_then(|t| t.size))),
                ..Volume::default()
            })
        }
        VolumeType::Image => {
            w.service(
                svc,
                key,
                format!(
                    "image volume at {} cannot be carried over (Kubernetes 1.30 has no image volumes); copy the files into the service's image",
                    v.target
                ),
            );
            None
        }
        VolumeType::Npipe | VolumeType::Cluster => {
            w.service(
                svc,
                key,
                format!(
                    "{} mount at {} has no Kubernetes equivalent and is dropped",
                    v.kind.as_str(),
                    v.target
                ),
            );
            None
        }
    };
    let Some(volume) = volume else {
        return;
    };
    let mut m = mount(&volume.name, &v.target);
    m.read_only = v.read_only.then_some(true);
    m.sub_path = v
        .volume
        .as_ref()
        .and_then(|o| o.subpath.clone())
        .or_else(|| v.image.as_ref().and_then(|o| o.subpath.clone()));
    if let Some(p) = v.bind.as_ref().and_then(|o| o.propagation.as_deref()) {
        m.mount_propagation = propagation(p);
        if m.mount_propagation.is_none() {
            w.service(
                svc,
                format!("{key}.bind.propagation"),
                format!("{p:?} has no Kubernetes equivalent; the default (None) is used"),
            );
        }
    }
    b.add(svc, key, volume, m, w);
}

/// A named volume (a claim: the project's, or an external one that must exist) or an
/// anonymous one (an emptyDir).
fn named_or_anonymous(
    ctx: &Context<'_>,
    svc: &str,
    b: &mut Builder,
    key: &str,
    v: &ServiceVolume,
    w: &mut Warnings,
) -> Option<Volume> {
    if v.volume.as_ref().is_some_and(|o| !o.labels.is_empty()) {
        w.service(
            svc,
            format!("{key}.volume.labels"),
            "labels of a volume created by a mount cannot be carried over; set them on the top-level volume",
        );
    }
    let Some(source) = v.source.as_deref() else {
        w.service(
            svc,
            key,
            format!(
                "anonymous volume at {} becomes an emptyDir: its data does not outlive the pod; use a named volume to keep it",
                v.target
            ),
        );
        return Some(Volume {
            name: b.fresh("anon"),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        });
    };
    let Some(config) = ctx.project.volumes.get(source) else {
        w.service(
            svc,
            key,
            format!(
                "volume {source:?} is not a top-level volume of the project; the mount is dropped"
            ),
        );
        return None;
    };
    let claim_name = if config.external.external {
        let wanted = names::external_name(source, config.name.as_deref());
        let claim = names::external_claim(source, config.name.as_deref());
        if claim != wanted {
            w.service(
                svc,
                key,
                format!("external volume {wanted:?} is not a Kubernetes name: the pod claims {claim:?}, which must exist in the cluster"),
            );
        }
        claim
    } else {
        names::claim(source)
    };
    Some(Volume {
        name: names::pod_volume(source),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name,
            read_only: None,
        }),
        ..Volume::default()
    })
}

/// A bind mount: a hostPath when the service (or project) asks for it with
/// `x-kubernetes.host_path`, since the node's files are not the Compose host's; else dropped.
fn host_path(
    ctx: &Context<'_>,
    svc: &str,
    b: &mut Builder,
    key: &str,
    v: &ServiceVolume,
    w: &mut Warnings,
) -> Option<Volume> {
    let source = v.source.as_deref().unwrap_or_default();
    if !ctx.host_path(svc) {
        w.service(
            svc,
            key,
            format!(
                "bind mount of host path {source} at {} cannot be carried over: the cluster's nodes do not have the Compose host's files; put them in the image, a config or a volume, or set x-kubernetes.host_path: true to mount the node's own path",
                v.target
            ),
        );
        return None;
    }
    if let Some(bind) = &v.bind {
        if let Some(s) = &bind.selinux {
            w.service(
                svc,
                format!("{key}.bind.selinux"),
                format!("relabelling ({s}) is not done for hostPath volumes; set seLinuxOptions on the pod"),
            );
        }
        if bind.recursive.as_deref().is_some_and(|r| r != "enabled") {
            w.service(
                svc,
                format!("{key}.bind.recursive"),
                "hostPath volumes are always mounted recursively; the setting is dropped",
            );
        }
    }
    let create = v
        .bind
        .as_ref()
        .and_then(|o| o.create_host_path)
        .unwrap_or(false);
    Some(Volume {
        name: b.fresh("host"),
        host_path: Some(HostPathVolumeSource {
            path: source.to_string(),
            // Without create_host_path the path may be a file or a directory: no check.
            type_: create.then(|| "DirectoryOrCreate".to_string()),
        }),
        ..Volume::default()
    })
}

/// Compose's mount propagation as Kubernetes names it.
fn propagation(p: &str) -> Option<String> {
    let k = match p {
        "private" | "rprivate" => "None",
        "slave" | "rslave" => "HostToContainer",
        "shared" | "rshared" => "Bidirectional",
        _ => return None,
    };
    Some(k.to_string())
}

/// One `tmpfs` entry, `PATH[:OPTIONS]`: an emptyDir in memory; `size=` becomes its limit.
fn tmpfs_entry(svc: &str, b: &mut Builder, key: &str, entry: &str, w: &mut Warnings) {
    let (path, options) = entry.split_once(':').unwrap_or((entry, ""));
    let mut size = None;
    for opt in options.split(',').filter(|o| !o.is_empty()) {
        match opt.split_once('=') {
            Some(("size", v)) => match v.parse::<ByteSize>() {
                Ok(s) => size = Some(s),
                Err(e) => w.service(svc, key, format!("{e}; no size limit is set")),
            },
            _ if opt == "rw" => {}
            _ => w.service(
                svc,
                key,
                format!("tmpfs option {opt:?} cannot be set on an emptyDir and is dropped"),
            ),
        }
    }
    let name = b.fresh("tmpfs");
    b.add(
        svc,
        key,
        Volume {
            name: name.clone(),
            empty_dir: Some(memory(size)),
            ..Volume::default()
        },
        mount(&name, path),
        w,
    );
}

/// A secret or a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Config,
    Secret,
}

/// One `configs` or `secrets` reference: the ConfigMap or Secret's key mounted as a file at
/// the target.
fn file_reference(
    ctx: &Context<'_>,
    svc: &str,
    b: &mut Builder,
    kind: Kind,
    i: usize,
    r: &FileReferenceConfig,
    w: &mut Warnings,
) {
    let section = match kind {
        Kind::Config => "configs",
        Kind::Secret => "secrets",
    };
    let key = format!("{section}[{i}]");
    let source = r.source.as_str();
    // The object's name: ours, or an external one's own.
    let object = match kind {
        Kind::Config => ctx.project.configs.get(source).map(|c| {
            if c.external.external {
                c.name.clone().unwrap_or_else(|| source.to_string())
            } else {
                names::config_map(source)
            }
        }),
        Kind::Secret => ctx.project.secrets.get(source).map(|s| {
            if s.external.external {
                s.name.clone().unwrap_or_else(|| source.to_string())
            } else {
                names::secret(source)
            }
        }),
    };
    let Some(object) = object else {
        w.service(
            svc,
            key,
            format!("{source:?} is not a top-level entry of {section}; it is not mounted"),
        );
        return;
    };
    for (field, set) in [("uid", &r.uid), ("gid", &r.gid)] {
        if set.is_some() {
            w.service(
                svc,
                format!("{key}.{field}"),
                "a mounted file's owner cannot be set per file; use the pod's securityContext.fsGroup",
            );
        }
    }
    let mode = match r.mode {
        Some(m) if m.0 <= 0o777 => i32::try_from(m.0).ok(),
        Some(m) => {
            w.service(
                svc,
                format!("{key}.mode"),
                format!("{:#o} is not a file permission; the default is used", m.0),
            );
            None
        }
        None => None,
    };
    let base = match kind {
        Kind::Config => "",
        Kind::Secret => SECRETS_DIR,
    };
    let target = match r.target.as_deref().filter(|t| !t.is_empty()) {
        Some(t) if t.starts_with('/') => t.to_string(),
        Some(t) => format!("{base}/{t}"),
        None => format!("{base}/{source}"),
    };
    let items = Some(vec![KeyToPath {
        key: source.to_string(),
        path: source.to_string(),
        mode,
    }]);
    let vol_name = existing(b, kind, &object, mode).unwrap_or_else(|| {
        b.fresh(&format!(
            "{}-{}",
            match kind {
                Kind::Config => "config",
                Kind::Secret => "secret",
            },
            source
        ))
    });
    let mut volume = Volume {
        name: vol_name.clone(),
        ..Volume::default()
    };
    match kind {
        Kind::Config => {
            volume.config_map = Some(ConfigMapVolumeSource {
                name: object,
                items,
                ..ConfigMapVolumeSource::default()
            })
        }
        Kind::Secret => {
            volume.secret = Some(SecretVolumeSource {
                secret_name: Some(object),
                items,
                ..SecretVolumeSource::default()
            })
        }
    }
    let mut m = mount(&vol_name, &target);
    m.sub_path = Some(source.to_string());
    m.read_only = Some(true);
    b.add(svc, &key, volume, m, w);
}

/// The pod volume already made for ConfigMap or Secret `object` with file mode `mode` (a
/// reference mounted twice); another mode needs a volume of its own, as the mode is the
/// volume's.
fn existing(b: &Builder, kind: Kind, object: &str, mode: Option<i32>) -> Option<String> {
    b.volumes
        .iter()
        .find(|v| {
            let (name, items) = match kind {
                Kind::Config => match &v.config_map {
                    Some(c) => (Some(c.name.as_str()), &c.items),
                    None => return false,
                },
                Kind::Secret => match &v.secret {
                    Some(s) => (s.secret_name.as_deref(), &s.items),
                    None => return false,
                },
            };
            name == Some(object)
                && items
                    .as_ref()
                    .and_then(|i| i.first())
                    .is_some_and(|i| i.mode == mode)
        })
        .map(|v| v.name.clone())
}

/// A mount of pod volume `volume` at `path`.
fn mount(volume: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: volume.to_string(),
        mount_path: path.to_string(),
        ..VolumeMount::default()
    }
}

/// An emptyDir in memory (tmpfs), limited to `size` when given.
fn memory(size: Option<ByteSize>) -> EmptyDirVolumeSource {
    EmptyDirVolumeSource {
        medium: Some("Memory".to_string()),
        size_limit: size.filter(|s| s.bytes() > 0).map(|s| quantity(s.bytes())),
    }
}

/// `bytes` as a Kubernetes quantity, in the largest binary unit that divides it.
fn quantity(bytes: i64) -> Quantity {
    for (unit, shift) in [("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)] {
        let m = 1i64 << shift;
        if bytes % m == 0 {
            return Quantity(format!("{}{unit}", bytes / m));
        }
    }
    Quantity(bytes.to_string())
}
