//! The container's mounts: the service's volumes (binds, named, anonymous, tmpfs), `run -v`,
//! `tmpfs:`, the secrets' and configs' binds, `volumes_from` and the image's VOLUMEs, checked
//! (absolute, unique, nothing over /proc) and sorted parents first.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::error::{Ctx, SpecError};
use super::input::{ContainerInput, OneOffOverrides};
use crate::engine::spec::{MountKind, MountSpec};
use crate::model::types::bytes::ByteSize;
use crate::model::types::mounts::{self, ServiceVolume, VolumeType};
use crate::model::types::service::ServiceConfig;

fn path_depth(p: &str) -> usize {
    Path::new(p)
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .count()
}

/// `/run:size=64m,mode=1777` (Docker's `--tmpfs` syntax); Docker's `noexec` comes before the
/// options given (see [`crate::engine::runtime::tmpfs`]).
fn parse_tmpfs(entry: &str, ctx: &Ctx) -> Result<MountSpec, SpecError> {
    let (dest, opts) = entry.split_once(':').unwrap_or((entry, ""));
    let (mut size, mut mode, mut read_only) = (None, None, false);
    let mut options = vec!["noexec".to_string()];
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        let bad = |why: String| ctx.err(format!("invalid tmpfs {entry:?}: {why}"));
        match opt.split_once('=') {
            Some(("size", v)) => {
                let b: ByteSize = v.parse().map_err(|e| bad(format!("{e}")))?;
                size = Some(b.0 as u64);
            }
            Some(("mode", v)) => {
                mode = Some(
                    u32::from_str_radix(v, 8)
                        .ok()
                        .filter(|m| *m <= 0o7777)
                        .ok_or_else(|| bad(format!("invalid mode {v:?}")))?,
                )
            }
            None if opt == "ro" => read_only = true,
            _ => {
                crate::engine::runtime::tmpfs::check(opt).map_err(bad)?;
                options.push(opt.to_string());
            }
        }
    }
    Ok(MountSpec {
        kind: MountKind::Tmpfs {
            size,
            mode,
            options,
        },
        destination: dest.to_string(),
        read_only,
        create_source: false,
    })
}

fn volume_mount(
    v: &ServiceVolume,
    input: &ContainerInput,
    anon: &mut usize,
    ctx: &Ctx,
) -> Result<MountSpec, SpecError> {
    let bind =
        |source: PathBuf, propagation: Option<String>, recursive: bool, create: bool| MountSpec {
            kind: MountKind::Bind {
                source,
                propagation,
                recursive,
            },
            destination: v.target.clone(),
            read_only: v.read_only,
            create_source: create,
        };
    let volume = |volume: PathBuf, subpath: Option<String>, copy: bool, create: bool| MountSpec {
        kind: MountKind::Volume {
            volume,
            subpath,
            copy,
        },
        destination: v.target.clone(),
        read_only: v.read_only,
        create_source: create,
    };
    match v.kind {
        VolumeType::Bind => {
            let source = v.source.clone().unwrap_or_default();
            if !source.starts_with('/') {
                return Err(ctx.err(format!(
                    "bind mount source {source:?} for {} must be an absolute path",
                    v.target
                )));
            }
            let opts = v.bind.as_ref();
            let create = opts.and_then(|b| b.create_host_path).unwrap_or(false);
            // A path inside a volume's data is container-written: it is resolved beneath the
            // volume like a subpath, never followed as a host path.
            if let Some((dir, subpath)) =
                crate::engine::spec::inside_volume(input.volumes_dir, Path::new(&source))
                    .map_err(|m| ctx.err(format!("bind mount source {source:?}: {m}")))?
            {
                if let Some(p) = opts.and_then(|b| b.propagation.as_deref()) {
                    return Err(ctx.err(format!(
                        "bind mount source {source:?} lies inside a volume: bind.propagation \
                         {p:?} is not supported there, mount the volume instead"
                    )));
                }
                return Ok(volume(dir, subpath, false, create));
            }
            // Refused here, before the container exists, as Docker refuses it at creation
            // (the runtime would fail only when the container starts).
            if !create && !input.host_files.exists(Path::new(&source)) {
                return Err(ctx.err(format!(
                    "bind mount source path {source} does not exist (mount at {}): create it, \
                     or set bind.create_host_path: true",
                    v.target
                )));
            }
            let recursive = !matches!(opts.and_then(|b| b.recursive.as_deref()), Some("disabled"));
            Ok(bind(
                PathBuf::from(source),
                opts.and_then(|b| b.propagation.clone()),
                recursive,
                create,
            ))
        }
        VolumeType::Volume => {
            let dir = match v.source.as_deref().filter(|s| !s.is_empty()) {
                Some(key) => {
                    let name = match input.volume_names.get(key) {
                        Some(n) => n.clone(),
                        None => crate::planner::volume_name::volume_name(input.project, key, None),
                    };
                    input.volumes_dir.join(name)
                }
                None => anonymous_volume(input, &v.target, anon),
            };
            let opts = v.volume.as_ref();
            let subpath = opts.and_then(|o| o.subpath.clone());
            if let Some(sub) = &subpath {
                if Path::new(sub).is_absolute()
                    || Path::new(sub)
                        .components()
                        .any(|c| matches!(c, std::path::Component::ParentDir))
                {
                    return Err(ctx.err(format!(
                        "volume subpath {sub:?} must be relative and stay inside the volume"
                    )));
                }
            }
            // Docker fills only the whole volume from the image, and not with `nocopy`.
            let copy = subpath.is_none() && !opts.is_some_and(|o| o.nocopy);
            Ok(volume(dir, subpath, copy, true))
        }
        VolumeType::Tmpfs => {
            let t = v.tmpfs.as_ref();
            let size = match t.and_then(|t| t.size) {
                Some(ByteSize(n)) if n < 0 => {
                    return Err(ctx.err(format!("tmpfs size {n} for {} is negative", v.target)))
                }
                Some(ByteSize(n)) => Some(n as u64),
                None => None,
            };
            Ok(MountSpec {
                kind: MountKind::Tmpfs {
                    size,
                    mode: t.and_then(|t| t.mode),
                    // Docker's default for every tmpfs (with nosuid,nodev).
                    options: vec!["noexec".to_string()],
                },
                destination: v.target.clone(),
                read_only: v.read_only,
                create_source: false,
            })
        }
        other => Err(ctx.err(format!(
            "volumes of type {other} are not supported (mount at {})",
            v.target
        ))),
    }
}

/// The directory of the anonymous volume at `destination`: the replaced container's one there,
/// else a new `<container id>-<n>`.
fn anonymous_volume(input: &ContainerInput, destination: &str, anon: &mut usize) -> PathBuf {
    let key = destination.trim_end_matches('/');
    let key = if key.is_empty() { "/" } else { key };
    if let Some(dir) = input.inherited_volumes.get(key) {
        return dir.clone();
    }
    *anon += 1;
    input
        .volumes_dir
        .join(format!("{}-{}", input.container_id, *anon))
}

pub(super) fn mounts_for(
    input: &ContainerInput,
    run: &OneOffOverrides,
    image: Option<&oci_spec::image::Config>,
    ctx: &Ctx,
) -> Result<Vec<MountSpec>, SpecError> {
    let mut anon = 0usize;
    let mut mounts = Vec::new();
    // `run -v` replaces a service mount at the same target.
    let extra = run
        .volumes
        .iter()
        .map(|s| mounts::parse_short(s).map_err(|e| ctx.err(format!("invalid volume {s:?}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let extra_targets: HashSet<&str> = extra.iter().map(|v| v.target.as_str()).collect();
    for v in input
        .service
        .volumes
        .iter()
        .filter(|v| !extra_targets.contains(v.target.as_str()))
        .chain(&extra)
    {
        mounts.push(volume_mount(v, input, &mut anon, ctx)?);
    }
    for t in &input.service.tmpfs {
        mounts.push(parse_tmpfs(t, ctx)?);
    }
    mounts.extend(input.file_mounts.iter().cloned());
    let mut seen = HashSet::new();
    for m in &mounts {
        if !m.destination.starts_with('/') {
            return Err(ctx.err(format!(
                "mount destination {:?} must be an absolute path",
                m.destination
            )));
        }
        if !seen.insert(m.destination.trim_end_matches('/').to_string()) {
            return Err(ctx.err(format!("duplicate mount point: {}", m.destination)));
        }
        proc_destination_allowed(m).map_err(|why| ctx.err(why))?;
    }
    for m in input.volumes_from {
        if seen.insert(m.destination.trim_end_matches('/').to_string()) {
            mounts.push(m.clone());
        }
    }
    // The image's VOLUMEs not covered by a mount get anonymous volumes, as with Docker.
    let mut image_volumes: Vec<String> =
        image.and_then(|c| c.volumes().clone()).unwrap_or_default();
    image_volumes.sort();
    for target in image_volumes {
        let clean = target.trim_end_matches('/');
        let clean = if clean.is_empty() { "/" } else { clean };
        if seen.insert(clean.to_string()) {
            if under_proc(clean) {
                return Err(ctx.err(format!(
                    "the image declares a VOLUME at {clean}: nothing may be mounted over the \
                     container's /proc"
                )));
            }
            mounts.push(MountSpec {
                kind: MountKind::Volume {
                    volume: anonymous_volume(input, clean, &mut anon),
                    subpath: None,
                    copy: true,
                },
                destination: clean.to_string(),
                read_only: false,
                create_source: true,
            });
        }
    }
    mounts.sort_by_key(|m| path_depth(&m.destination));
    Ok(mounts)
}

/// The absolute sources of the service's binds and of `run -v`'s: the host paths whose
/// existence [`mounts_for`] checks, read by the stack into [`ContainerInput::host_files`].
pub fn bind_sources(svc: &ServiceConfig, run: Option<&OneOffOverrides>) -> Vec<PathBuf> {
    let extra = run
        .into_iter()
        .flat_map(|r| &r.volumes)
        .filter_map(|s| mounts::parse_short(s).ok());
    svc.volumes
        .iter()
        .cloned()
        .chain(extra)
        .filter(|v| v.kind == VolumeType::Bind)
        .filter_map(|v| v.source.filter(|s| s.starts_with('/')))
        .map(PathBuf::from)
        .collect()
}

/// Files of /proc that a bind may cover (runc's list: what lxcfs provides, so that a container
/// sees its own limits there).
const PROC_BIND_ALLOWED: [&str; 10] = [
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// `dest` with `.`, `..` and repeated slashes resolved by its text, as the engine will resolve
/// it inside the container's root (where `..` stops at `/`).
fn lexical(dest: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in dest.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Whether `dest` is the container's /proc or lies beneath it.
fn under_proc(dest: &str) -> bool {
    let d = lexical(dest);
    d == "/proc" || d.starts_with("/proc/")
}

/// A mount over the container's /proc is refused, as runc refuses it: the engine's set-up
/// (masked paths, sysctls, descriptors reached through /proc/self/fd) and the container's
/// own tools rely on /proc being the kernel's, and a volume there is content a container
/// writes (runc CVE-2019-16884 / CVE-2019-19921 class). Binds of single files onto the few
/// that lxcfs provides stay allowed.
fn proc_destination_allowed(m: &MountSpec) -> Result<(), String> {
    if !under_proc(&m.destination) {
        return Ok(());
    }
    let clean = lexical(&m.destination);
    if matches!(m.kind, MountKind::Bind { .. }) && PROC_BIND_ALLOWED.contains(&clean.as_str()) {
        return Ok(());
    }
    Err(format!(
        "mount destination {}: nothing may be mounted over the container's /proc (only binds \
         onto {})",
        m.destination,
        PROC_BIND_ALLOWED.join(", ")
    ))
}

#[cfg(test)]
#[path = "mounts_tests.rs"]
mod tests;
