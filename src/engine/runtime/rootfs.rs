//! The container's filesystem view, built inside its new mount namespace: the overlay root,
//! /proc, /sys, a private /dev, the user's mounts, then `pivot_root` into it and the masked and
//! read-only paths on top.
//!
//! Every mount target inside the root is resolved with `openat2(RESOLVE_IN_ROOT)` and mounted
//! through `/proc/self/fd/N`: an image (or a container that wrote to a volume) may contain
//! symlinks such as `/proc -> /etc` or `data -> /`, and following them on the host path would mount
//! onto the host (the class of bug behind runc's CVE-2021-30465). Everything here runs in the
//! container's mount namespace, so nothing needs unmounting on the host afterwards: the mounts
//! disappear with the namespace.

use std::path::Path;

use rustix::fs::FileType;
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};

use super::error::{InitError, Step};
use super::mounter::{Mounter, Node, TargetKind};
use crate::engine::cgroups::CgroupMount;
use crate::engine::spec::{ContainerSpec, DeviceSpec, MountKind, MountSpec, VOLUME_DATA};

/// Mounts the overlay root at `merged` from the spec's layers and the container's upper/work dirs.
pub fn mount_overlay<M: Mounter>(
    m: &M,
    spec: &ContainerSpec,
    container_dir: &Path,
    merged: &Path,
) -> Result<(), InitError> {
    let upper = container_dir.join("upper");
    let work = container_dir.join("work");
    let layers = &spec.rootfs.layers;
    if layers.is_empty() {
        return Err(InitError::msg(
            Step::Rootfs,
            Some(merged),
            "the image has no layers",
        ));
    }
    // Short lowerdir strings: when all layers share a parent directory, name them relative to it
    // (after chdir there). The option string is limited to one page.
    let parent = layers[0].parent().map(Path::to_path_buf);
    let relative = parent
        .as_ref()
        .is_some_and(|p| layers.iter().all(|l| l.parent() == Some(p.as_path())));
    let lower: Vec<String> = if relative {
        let p = parent.as_ref().expect("checked above");
        m.chdir(p)
            .map_err(|e| InitError::sys(Step::Rootfs, Some(p), e))?;
        layers
            .iter()
            .map(|l| {
                l.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect()
    } else {
        layers.iter().map(|l| l.display().to_string()).collect()
    };
    for l in &lower {
        if l.contains([':', ',']) {
            return Err(InitError::msg(
                Step::Rootfs,
                Some(Path::new(l)),
                "layer path contains ':' or ',', which overlayfs cannot take",
            ));
        }
    }
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        upper.display(),
        work.display()
    );
    if data.len() >= 4095 {
        return Err(InitError::msg(
            Step::Rootfs,
            Some(merged),
            format!(
                "{} layers make an overlay option string over one page",
                layers.len()
            ),
        ));
    }
    m.mount_at("overlay", merged, "overlay", MountFlags::empty(), &data)
        .map_err(|e| InitError::sys(Step::Rootfs, Some(merged), e))
}

fn mount_in_root<M: Mounter>(
    m: &M,
    root: &M::Target,
    dest: &str,
    source: &str,
    fstype: &str,
    flags: MountFlags,
    data: &str,
) -> Result<(), InitError> {
    let target = m.resolve(root, dest, TargetKind::Dir)?;
    m.mount(source, &target, fstype, flags, data)
        .map_err(|e| InitError::sys(Step::Mounts, Some(Path::new(dest)), e))
}

fn bind_in_root<M: Mounter>(
    m: &M,
    root: &M::Target,
    source: &Path,
    dest: &str,
    kind: TargetKind,
    recursive: bool,
    read_only: bool,
) -> Result<(), InitError> {
    let target = m.resolve(root, dest, kind)?;
    m.bind(source, &target, recursive)
        .map_err(|e| InitError::sys(Step::Mounts, Some(source), e))?;
    if read_only {
        // A bind mount takes the read-only flag only on a remount of the new mount itself.
        let target = m.resolve(root, dest, kind)?;
        m.remount(
            &target,
            MountFlags::BIND | MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV,
            "",
        )
        .or_else(|_| m.remount(&target, MountFlags::BIND | MountFlags::RDONLY, ""))
        .map_err(|e| InitError::sys(Step::Mounts, Some(Path::new(dest)), e))?;
    }
    Ok(())
}

/// /proc, /sys, /dev and its standard devices, /dev/pts, /dev/shm, /dev/mqueue.
pub fn mount_system<M: Mounter>(
    m: &M,
    root: &M::Target,
    spec: &ContainerSpec,
) -> Result<(), InitError> {
    let nsd = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    mount_in_root(m, root, "/proc", "proc", "proc", nsd, "")?;
    let sys_flags = if spec.privileged {
        nsd
    } else {
        nsd | MountFlags::RDONLY
    };
    mount_in_root(m, root, "/sys", "sysfs", "sysfs", sys_flags, "")?;
    mount_in_root(
        m,
        root,
        "/dev",
        "tmpfs",
        "tmpfs",
        MountFlags::NOSUID | MountFlags::STRICTATIME,
        "mode=755,size=65536k",
    )?;
    let dev = m.resolve(root, "/dev", TargetKind::Dir)?;
    let dev = m
        .open_dir(&dev)
        .map_err(|e| InitError::sys(Step::Devices, Some(Path::new("/dev")), e))?;
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let node = Node {
            block: false,
            major,
            minor,
            perm: 0o666,
            uid: 0,
            gid: 0,
        };
        m.make_node(&dev, name, node)
            .map_err(|e| InitError::sys(Step::Devices, Some(Path::new(name)), e))?;
    }
    for d in &spec.devices {
        make_device(m, root, d)?;
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
        ("core", "/proc/kcore"),
    ] {
        m.symlink(target, &dev, link)
            .map_err(|e| InitError::sys(Step::Devices, Some(Path::new(link)), e))?;
    }
    mount_in_root(
        m,
        root,
        "/dev/pts",
        "devpts",
        "devpts",
        MountFlags::NOSUID | MountFlags::NOEXEC,
        "newinstance,ptmxmode=0666,mode=0620,gid=5",
    )?;
    if super::namespaces::own_shm(&spec.namespaces) {
        let shm = format!("mode=1777,size={}", spec.shm_size.max(4096));
        mount_in_root(m, root, "/dev/shm", "shm", "tmpfs", nsd, &shm)?;
    }
    mount_in_root(m, root, "/dev/mqueue", "mqueue", "mqueue", nsd, "")?;
    Ok(())
}

fn make_device<M: Mounter>(m: &M, root: &M::Target, d: &DeviceSpec) -> Result<(), InitError> {
    let path = Path::new(&d.path);
    let (parent, name) = match (path.parent(), path.file_name()) {
        (Some(p), Some(n)) => (
            p.to_string_lossy().into_owned(),
            n.to_string_lossy().into_owned(),
        ),
        _ => {
            return Err(InitError::msg(
                Step::Devices,
                Some(path),
                "not a device path",
            ))
        }
    };
    let dir = m.resolve(root, &parent, TargetKind::Dir)?;
    let dir = m
        .open_dir(&dir)
        .map_err(|e| InitError::sys(Step::Devices, Some(path), e))?;
    // A node the image (or a standard device above) already has there is replaced; there being
    // none is the usual case, and any other failure shows in the mknod that follows.
    m.unlink(&dir, name.as_str()).ok();
    let node = Node {
        block: d.kind == 'b',
        major: d.major,
        minor: d.minor,
        perm: d.file_mode & 0o7777,
        uid: d.uid,
        gid: d.gid,
    };
    m.make_node(&dir, &name, node)
        .map_err(|e| InitError::sys(Step::Devices, Some(Path::new(&name)), e))
}

/// /dev/console: the terminal the container's output goes to, bound from the host's pty.
pub fn mount_console<M: Mounter>(m: &M, root: &M::Target, console: &Path) -> Result<(), InitError> {
    let target = m.resolve(root, "/dev/console", TargetKind::File)?;
    m.bind(console, &target, false)
        .map_err(|e| InitError::sys(Step::Devices, Some(Path::new("/dev/console")), e))
}

/// /sys/fs/cgroup: a tmpfs holding one mount per host hierarchy (or the unified cgroup2 itself),
/// read-only unless privileged. Made after the cgroup namespace, so each shows the container's
/// own cgroup as its root.
pub fn mount_cgroups<M: Mounter>(
    m: &M,
    root: &M::Target,
    mounts: &[CgroupMount],
    privileged: bool,
) -> Result<(), InitError> {
    if mounts.is_empty() {
        return Ok(());
    }
    let ro = if privileged {
        MountFlags::empty()
    } else {
        MountFlags::RDONLY
    };
    let nsd = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    if let [only] = mounts {
        if only.dir.is_empty() {
            return mount_in_root(
                m,
                root,
                "/sys/fs/cgroup",
                "cgroup2",
                "cgroup2",
                nsd | ro,
                "",
            );
        }
    }
    // /sys is read-only by now unless privileged: the tmpfs goes on top of it, which is allowed.
    mount_in_root(m, root, "/sys/fs/cgroup", "tmpfs", "tmpfs", nsd, "mode=755")?;
    for c in mounts {
        let dest = format!("/sys/fs/cgroup/{}", c.dir);
        mount_in_root(m, root, &dest, &c.fstype, &c.fstype, nsd | ro, &c.options)?;
    }
    if !privileged {
        let target = m.resolve(root, "/sys/fs/cgroup", TargetKind::Dir)?;
        m.remount(&target, nsd | MountFlags::RDONLY, "mode=755")
            .map_err(|e| InitError::sys(Step::Mounts, Some(Path::new("/sys/fs/cgroup")), e))?;
    }
    Ok(())
}

/// The user's volumes, binds and tmpfs mounts, in the order the spec lists them.
pub fn mount_user<M: Mounter>(
    m: &M,
    root: &M::Target,
    spec: &ContainerSpec,
) -> Result<(), InitError> {
    for mnt in &spec.mounts {
        match &mnt.kind {
            MountKind::Bind {
                source,
                propagation,
                recursive,
            } => {
                if mnt.create_source && !m.source_exists(source) {
                    m.create_source_dir(source)
                        .map_err(|e| InitError::io(Step::Mounts, Some(source), &e))?;
                }
                let kind = match m.source_is_dir(source) {
                    Ok(true) => TargetKind::Dir,
                    Ok(false) => TargetKind::File,
                    Err(e) => return Err(InitError::io(Step::Mounts, Some(source), &e)),
                };
                bind_in_root(
                    m,
                    root,
                    source,
                    &mnt.destination,
                    kind,
                    *recursive,
                    mnt.read_only,
                )?;
                if let Some(p) = propagation.as_deref() {
                    let flags = match p {
                        "shared" => MountPropagationFlags::SHARED,
                        "rshared" => MountPropagationFlags::SHARED | MountPropagationFlags::REC,
                        "slave" => MountPropagationFlags::DOWNSTREAM,
                        "rslave" => MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
                        "private" => MountPropagationFlags::PRIVATE,
                        _ => MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
                    };
                    let target = m.resolve(root, &mnt.destination, kind)?;
                    m.propagate(&target, flags).map_err(|e| {
                        InitError::sys(Step::Mounts, Some(Path::new(&mnt.destination)), e)
                    })?;
                }
            }
            MountKind::Volume {
                volume, subpath, ..
            } => mount_volume(m, root, mnt, volume, subpath.as_deref())?,
            MountKind::Tmpfs {
                size,
                mode,
                options,
            } => {
                let mut data = format!("mode={:o}", mode.unwrap_or(0o1777));
                if let Some(s) = size {
                    data.push_str(&format!(",size={s}"));
                }
                let (flags, data) = super::tmpfs::apply(options, mnt.read_only, data);
                mount_in_root(m, root, &mnt.destination, "tmpfs", "tmpfs", flags, &data)?;
            }
        }
    }
    Ok(())
}

/// Mounts a volume (its data, or its subpath) at the mount's destination, from what
/// [`Mounter::open_volume`] opened rather than from a path a link in the volume could redirect.
fn mount_volume<M: Mounter>(
    m: &M,
    root: &M::Target,
    mnt: &MountSpec,
    volume: &Path,
    subpath: Option<&str>,
) -> Result<(), InitError> {
    let src = m.open_volume(volume, subpath, mnt.create_source)?;
    let shown = match subpath {
        Some(s) => volume.join(VOLUME_DATA).join(s),
        None => volume.join(VOLUME_DATA),
    };
    let (ftype, _) = m
        .stat(&src)
        .map_err(|e| InitError::sys(Step::Mounts, Some(&shown), e))?;
    let kind = if ftype == FileType::Directory {
        TargetKind::Dir
    } else {
        TargetKind::File
    };
    let via = m.source_path(&src);
    bind_in_root(m, root, &via, &mnt.destination, kind, true, mnt.read_only).map_err(|mut e| {
        // Name the volume, not the descriptor it was mounted through.
        if e.path.as_deref() == via.to_str() {
            e.path = Some(shown.display().to_string());
        }
        e
    })
}

/// Binds the files the engine writes for the container (/etc/hostname, /etc/hosts,
/// /etc/resolv.conf) over the image's.
pub fn mount_etc_files<M: Mounter>(
    m: &M,
    root: &M::Target,
    container_dir: &Path,
    read_only: bool,
) -> Result<(), InitError> {
    for name in ["hostname", "hosts", "resolv.conf"] {
        let src = container_dir.join(name);
        if m.source_exists(&src) {
            bind_in_root(
                m,
                root,
                &src,
                &format!("/etc/{name}"),
                TargetKind::File,
                false,
                read_only,
            )?;
        }
    }
    Ok(())
}

/// Makes `merged` the root: the old root is detached, so nothing of the host stays reachable.
pub fn pivot<M: Mounter>(m: &M, merged: &Path) -> Result<(), InitError> {
    m.chdir(merged)
        .map_err(|e| InitError::sys(Step::PivotRoot, Some(merged), e))?;
    m.pivot_root(Path::new("."), Path::new("."))
        .map_err(|e| InitError::sys(Step::PivotRoot, Some(merged), e))?;
    // The old root is now stacked under the new one at "/": detach it.
    let slash = Path::new("/");
    m.propagate_at(
        Path::new("."),
        MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
    )
    .map_err(|e| InitError::sys(Step::PivotRoot, Some(slash), e))?;
    m.unmount_at(Path::new("."), UnmountFlags::DETACH)
        .map_err(|e| InitError::sys(Step::PivotRoot, Some(slash), e))?;
    m.chdir(slash)
        .map_err(|e| InitError::sys(Step::PivotRoot, Some(slash), e))
}

/// `read_only: true`: the root filesystem itself becomes read-only, its mounts stay as they are.
pub fn make_root_readonly<M: Mounter>(m: &M) -> Result<(), InitError> {
    m.remount_at(Path::new("/"), MountFlags::BIND | MountFlags::RDONLY, "")
        .map_err(|e| InitError::sys(Step::Rootfs, Some(Path::new("/")), e))
}

#[cfg(test)]
#[path = "rootfs_tests.rs"]
mod tests;
