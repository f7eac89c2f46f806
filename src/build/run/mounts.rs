//! The step's `--mount`s as the runtime's mounts. A cache directory and a read-only bind are
//! bound as they are; what the step may write without the writes being kept (a writable bind,
//! another stage's files) is an overlay with a throw-away upper dir, or a private copy for a
//! single file; a secret is a private copy with the owner and mode asked for, bound
//! read-only, so neither its content nor its path reaches the layer.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};

use super::error::{Fail, RunStepError};
use super::workdir::{HostMounts, StepDir};
use super::{RunStep, StepMount};
use crate::engine::spec::{MountKind, MountSpec};

/// The paths the runtime mounts on in the container's root, besides the mounts' own: the
/// system file systems and the /etc files bound over the image's (see
/// [`crate::engine::runtime::rootfs`]).
const RUNTIME_TARGETS: [&str; 5] = ["/proc", "/sys", "/dev", "/etc/hosts", "/etc/resolv.conf"];

/// Every path the runtime mounts on for `step`, in the order it mounts them.
pub(super) fn targets(step: &RunStep) -> Vec<String> {
    let (system, etc) = RUNTIME_TARGETS.split_at(3);
    system
        .iter()
        .map(|t| t.to_string())
        .chain(step.mounts.iter().map(|m| m.target().to_string()))
        .chain(etc.iter().map(|t| t.to_string()))
        .collect()
}

/// The runtime's mounts for the step's, with the overlays and copies they need made in `dir`.
pub(super) fn prepare<M: HostMounts>(
    step: &RunStep,
    dir: &mut StepDir<M>,
    fail: &Fail,
) -> Result<Vec<MountSpec>, RunStepError> {
    let mut out = Vec::new();
    for m in &step.mounts {
        let target = m.target();
        if !target.starts_with('/') {
            return Err(fail.msg(format!("mount target {target:?} is not an absolute path")));
        }
        let spec = match m {
            StepMount::Bind {
                source,
                read_write: false,
                ..
            } => bind(source.clone(), target, true),
            StepMount::Bind { source, .. } if source.is_dir() => {
                let merged = dir
                    .overlay(std::slice::from_ref(source))
                    .map_err(fail.io("mounting a writable copy of", source))?;
                bind(merged, target, false)
            }
            StepMount::Bind { source, .. } => {
                let copy = dir
                    .copy(source, None, None)
                    .map_err(fail.io("copying", source))?;
                bind(copy, target, false)
            }
            StepMount::Layers {
                layers,
                source,
                read_write,
                ..
            } => {
                let merged = dir
                    .overlay(layers)
                    .map_err(fail.io("mounting the files of", layers_name(layers)))?;
                let inside = beneath(&merged, source).map_err(fail.io("opening", source))?;
                bind(inside, target, !read_write)
            }
            StepMount::Cache { dir: cache, .. } => MountSpec {
                create_source: true,
                ..bind(cache.clone(), target, false)
            },
            StepMount::Secret {
                file,
                mode,
                uid,
                gid,
                ..
            } => {
                let copy = dir
                    .copy(file, Some(*mode), Some((*uid, *gid)))
                    .map_err(fail.io("copying the secret", file))?;
                bind(copy, target, true)
            }
            StepMount::Tmpfs { size, .. } => MountSpec {
                kind: MountKind::Tmpfs {
                    size: *size,
                    mode: None,
                    options: Vec::new(),
                },
                destination: target.to_string(),
                read_only: false,
                create_source: false,
            },
        };
        out.push(spec);
    }
    Ok(out)
}

fn bind(source: PathBuf, target: &str, read_only: bool) -> MountSpec {
    MountSpec {
        kind: MountKind::Bind {
            source,
            propagation: None,
            recursive: true,
        },
        destination: target.to_string(),
        read_only,
        create_source: false,
    }
}

fn layers_name(layers: &[PathBuf]) -> PathBuf {
    layers.first().cloned().unwrap_or_default()
}

/// The host path of `source` inside `root`, symbolic links resolved as if `root` were `/`:
/// no link leads out of it. The path it gives has no link left in it, so the runtime's bind
/// follows none.
pub(super) fn beneath(root: &Path, source: &str) -> std::io::Result<PathBuf> {
    let root_fd = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let rel = source.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    let fd = rustix::fs::openat2(
        root_fd.as_fd(),
        rel,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT,
    )?;
    std::fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    ))
}
