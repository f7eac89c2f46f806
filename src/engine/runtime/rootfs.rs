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

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{self, Mode, OFlags, ResolveFlags};
use rustix::mount::{self, MountFlags, MountPropagationFlags, UnmountFlags};

use super::error::{InitError, Step};
use crate::engine::spec::{ContainerSpec, DeviceSpec, MountKind};

/// Mounts the overlay root at `merged` from the spec's layers and the container's upper/work dirs.
pub fn mount_overlay(
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
        rustix::process::chdir(p).map_err(|e| InitError::sys(Step::Rootfs, Some(p), e))?;
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
    mount::mount(
        "overlay",
        merged,
        "overlay",
        MountFlags::empty(),
        cdata(&data).as_deref(),
    )
    .map_err(|e| InitError::sys(Step::Rootfs, Some(merged), e))
}

/// Mount data as the C string the syscall takes (`None` when empty).
pub(super) fn cdata(s: &str) -> Option<std::ffi::CString> {
    if s.is_empty() {
        None
    } else {
        std::ffi::CString::new(s).ok()
    }
}

/// A directory fd for the new root, used to resolve every target inside it.
pub fn open_root(merged: &Path) -> Result<OwnedFd, InitError> {
    fs::open(
        merged,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| InitError::sys(Step::Rootfs, Some(merged), e))
}

/// What a mount target must be when it has to be created.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Dir,
    File,
}

/// Resolves (creating what is missing) `path` inside the root without ever leaving it, and
/// returns an `O_PATH` fd of the target.
pub fn target_in_root(root: &OwnedFd, path: &str, kind: TargetKind) -> Result<OwnedFd, InitError> {
    let rel = path.trim_start_matches('/');
    let how = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    let flags = OFlags::PATH | OFlags::CLOEXEC;
    if rel.is_empty() {
        return fs::openat2(root, ".", flags, Mode::empty(), how)
            .map_err(|e| InitError::sys(Step::Mounts, Some(Path::new(path)), e));
    }
    if let Ok(fd) = fs::openat2(root, rel, flags, Mode::empty(), how) {
        return Ok(fd);
    }
    // Create parents one component at a time, each resolved inside the root.
    let comps: Vec<&str> = rel
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let mut dir = fs::openat2(
        root,
        ".",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        how,
    )
    .map_err(|e| InitError::sys(Step::Mounts, Some(Path::new(path)), e))?;
    let mut so_far = String::new();
    for (i, c) in comps.iter().enumerate() {
        so_far.push('/');
        so_far.push_str(c);
        let last = i + 1 == comps.len();
        let open_dir = |so_far: &str| {
            fs::openat2(
                root,
                so_far.trim_start_matches('/'),
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
                how,
            )
        };
        if last && kind == TargetKind::File {
            let dirfd = fs::openat2(
                &dir,
                ".",
                OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
                how,
            )
            .map_err(|e| InitError::sys(Step::Mounts, Some(Path::new(&so_far)), e))?;
            match fs::openat2(
                &dirfd,
                *c,
                OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                Mode::from_raw_mode(0o644),
                how,
            ) {
                Ok(_) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(InitError::sys(Step::Mounts, Some(Path::new(&so_far)), e)),
            }
        } else {
            match open_dir(&so_far) {
                Ok(fd) => {
                    dir = fd;
                    continue;
                }
                Err(rustix::io::Errno::NOENT) => {}
                Err(e) => return Err(InitError::sys(Step::Mounts, Some(Path::new(&so_far)), e)),
            }
            let dirfd = fs::openat2(
                &dir,
                ".",
                OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
                how,
            )
            .map_err(|e| InitError::sys(Step::Mounts, Some(Path::new(&so_far)), e))?;
            match fs::mkdirat(&dirfd, *c, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(InitError::sys(Step::Mounts, Some(Path::new(&so_far)), e)),
            }
            dir = open_dir(&so_far)
                .map_err(|e| InitError::sys(Step::Mounts, Some(Path::new(&so_far)), e))?;
        }
    }
    fs::openat2(root, rel, flags, Mode::empty(), how)
        .map_err(|e| InitError::sys(Step::Mounts, Some(Path::new(path)), e))
}

/// The path through which the kernel mounts onto an fd (the fd itself, not a path that a symlink
/// could redirect).
pub(super) fn fd_path(fd: &OwnedFd) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
}

fn mount_in_root(
    root: &OwnedFd,
    dest: &str,
    kind: TargetKind,
    source: &str,
    fstype: &str,
    flags: MountFlags,
    data: &str,
) -> Result<(), InitError> {
    let target = target_in_root(root, dest, kind)?;
    mount::mount(
        source,
        fd_path(&target).as_path(),
        fstype,
        flags,
        cdata(data).as_deref(),
    )
    .map_err(|e| InitError::sys(Step::Mounts, Some(Path::new(dest)), e))
}

pub(super) fn bind_in_root(
    root: &OwnedFd,
    source: &Path,
    dest: &str,
    kind: TargetKind,
    recursive: bool,
    read_only: bool,
) -> Result<(), InitError> {
    let target = target_in_root(root, dest, kind)?;
    let tp = fd_path(&target);
    let r = if recursive {
        mount::mount_bind_recursive(source, tp.as_path())
    } else {
        mount::mount_bind(source, tp.as_path())
    };
    r.map_err(|e| InitError::sys(Step::Mounts, Some(source), e))?;
    if read_only {
        // A bind mount takes the read-only flag only on a remount of the new mount itself.
        let target = target_in_root(root, dest, kind)?;
        mount::mount_remount(
            fd_path(&target).as_path(),
            MountFlags::BIND | MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV,
            "",
        )
        .or_else(|_| {
            mount::mount_remount(
                fd_path(&target).as_path(),
                MountFlags::BIND | MountFlags::RDONLY,
                "",
            )
        })
        .map_err(|e| InitError::sys(Step::Mounts, Some(Path::new(dest)), e))?;
    }
    Ok(())
}

/// /proc, /sys, /dev and its standard devices, /dev/pts, /dev/shm, /dev/mqueue.
pub fn mount_system(root: &OwnedFd, spec: &ContainerSpec) -> Result<(), InitError> {
    let nsd = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    mount_in_root(root, "/proc", TargetKind::Dir, "proc", "proc", nsd, "")?;
    let sys_flags = if spec.privileged {
        nsd
    } else {
        nsd | MountFlags::RDONLY
    };
    mount_in_root(
        root,
        "/sys",
        TargetKind::Dir,
        "sysfs",
        "sysfs",
        sys_flags,
        "",
    )?;
    mount_in_root(
        root,
        "/dev",
        TargetKind::Dir,
        "tmpfs",
        "tmpfs",
        MountFlags::NOSUID | MountFlags::STRICTATIME,
        "mode=755,size=65536k",
    )?;
    let dev = target_in_root(root, "/dev", TargetKind::Dir)?;
    let dev = fs::openat(
        &dev,
        ".",
        OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| InitError::sys(Step::Devices, Some(Path::new("/dev")), e))?;
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        make_node(&dev, name, 'c', major, minor, 0o666, 0, 0)?;
    }
    for d in &spec.devices {
        make_device(root, d)?;
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
        ("core", "/proc/kcore"),
    ] {
        fs::symlinkat(target, &dev, link)
            .map_err(|e| InitError::sys(Step::Devices, Some(Path::new(link)), e))?;
    }
    mount_in_root(
        root,
        "/dev/pts",
        TargetKind::Dir,
        "devpts",
        "devpts",
        MountFlags::NOSUID | MountFlags::NOEXEC,
        "newinstance,ptmxmode=0666,mode=0620,gid=5",
    )?;
    if super::namespaces::own_shm(&spec.namespaces) {
        let shm = format!("mode=1777,size={}", spec.shm_size.max(4096));
        mount_in_root(root, "/dev/shm", TargetKind::Dir, "shm", "tmpfs", nsd, &shm)?;
    }
    mount_in_root(
        root,
        "/dev/mqueue",
        TargetKind::Dir,
        "mqueue",
        "mqueue",
        nsd,
        "",
    )?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn make_node(
    dir: &OwnedFd,
    name: &str,
    kind: char,
    major: u64,
    minor: u64,
    perm: u32,
    uid: u32,
    gid: u32,
) -> Result<(), InitError> {
    let ftype = if kind == 'b' {
        fs::FileType::BlockDevice
    } else {
        fs::FileType::CharacterDevice
    };
    let dev = fs::makedev(major as u32, minor as u32);
    fs::mknodat(dir, name, ftype, Mode::from_raw_mode(perm), dev)
        .map_err(|e| InitError::sys(Step::Devices, Some(Path::new(name)), e))?;
    // mknod honours the umask; set the exact mode and owner afterwards.
    fs::chmodat(dir, name, Mode::from_raw_mode(perm), fs::AtFlags::empty())
        .map_err(|e| InitError::sys(Step::Devices, Some(Path::new(name)), e))?;
    fs::chownat(
        dir,
        name,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
        fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| InitError::sys(Step::Devices, Some(Path::new(name)), e))
}

fn make_device(root: &OwnedFd, d: &DeviceSpec) -> Result<(), InitError> {
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
    let dir = target_in_root(root, &parent, TargetKind::Dir)?;
    let dir = fs::openat(
        &dir,
        ".",
        OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| InitError::sys(Step::Devices, Some(path), e))?;
    let _ = fs::unlinkat(&dir, name.as_str(), fs::AtFlags::empty());
    make_node(
        &dir,
        &name,
        d.kind,
        d.major,
        d.minor,
        d.file_mode & 0o7777,
        d.uid,
        d.gid,
    )
}

/// /sys/fs/cgroup: a tmpfs holding one mount per host hierarchy (or the unified cgroup2 itself),
/// read-only unless privileged. Made after the cgroup namespace, so each shows the container's
/// own cgroup as its root.
pub fn mount_cgroups(
    root: &OwnedFd,
    mounts: &[super::init::CgroupMount],
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
                root,
                "/sys/fs/cgroup",
                TargetKind::Dir,
                "cgroup2",
                "cgroup2",
                nsd | ro,
                "",
            );
        }
    }
    // /sys is read-only by now unless privileged: the tmpfs goes on top of it, which is allowed.
    mount_in_root(
        root,
        "/sys/fs/cgroup",
        TargetKind::Dir,
        "tmpfs",
        "tmpfs",
        nsd,
        "mode=755",
    )?;
    for m in mounts {
        let dest = format!("/sys/fs/cgroup/{}", m.dir);
        mount_in_root(
            root,
            &dest,
            TargetKind::Dir,
            &m.fstype,
            &m.fstype,
            nsd | ro,
            &m.options,
        )?;
    }
    if !privileged {
        let target = target_in_root(root, "/sys/fs/cgroup", TargetKind::Dir)?;
        mount::mount_remount(
            fd_path(&target).as_path(),
            nsd | MountFlags::RDONLY,
            "mode=755",
        )
        .map_err(|e| InitError::sys(Step::Mounts, Some(Path::new("/sys/fs/cgroup")), e))?;
    }
    Ok(())
}

/// The user's volumes, binds and tmpfs mounts, in the order the spec lists them.
pub fn mount_user(root: &OwnedFd, spec: &ContainerSpec) -> Result<(), InitError> {
    for m in &spec.mounts {
        match &m.kind {
            MountKind::Bind {
                source,
                propagation,
                recursive,
            } => {
                if m.create_source && !source.exists() {
                    std::fs::create_dir_all(source)
                        .map_err(|e| InitError::io(Step::Mounts, Some(source), &e))?;
                }
                let meta = std::fs::metadata(source)
                    .map_err(|e| InitError::io(Step::Mounts, Some(source), &e))?;
                let kind = if meta.is_dir() {
                    TargetKind::Dir
                } else {
                    TargetKind::File
                };
                bind_in_root(root, source, &m.destination, kind, *recursive, m.read_only)?;
                if let Some(p) = propagation.as_deref() {
                    let flags = match p {
                        "shared" => MountPropagationFlags::SHARED,
                        "rshared" => MountPropagationFlags::SHARED | MountPropagationFlags::REC,
                        "slave" => MountPropagationFlags::DOWNSTREAM,
                        "rslave" => MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
                        "private" => MountPropagationFlags::PRIVATE,
                        _ => MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
                    };
                    let target = target_in_root(root, &m.destination, kind)?;
                    mount::mount_change(fd_path(&target).as_path(), flags).map_err(|e| {
                        InitError::sys(Step::Mounts, Some(Path::new(&m.destination)), e)
                    })?;
                }
            }
            MountKind::Volume {
                volume, subpath, ..
            } => super::volume::mount(root, m, volume, subpath.as_deref())?,
            MountKind::Tmpfs {
                size,
                mode,
                options,
            } => {
                let mut data = format!("mode={:o}", mode.unwrap_or(0o1777));
                if let Some(s) = size {
                    data.push_str(&format!(",size={s}"));
                }
                let (flags, data) = super::tmpfs::apply(options, m.read_only, data);
                mount_in_root(
                    root,
                    &m.destination,
                    TargetKind::Dir,
                    "tmpfs",
                    "tmpfs",
                    flags,
                    &data,
                )?;
            }
        }
    }
    Ok(())
}

/// Binds the files the engine writes for the container (/etc/hostname, /etc/hosts,
/// /etc/resolv.conf) over the image's.
pub fn mount_etc_files(
    root: &OwnedFd,
    container_dir: &Path,
    read_only: bool,
) -> Result<(), InitError> {
    for name in ["hostname", "hosts", "resolv.conf"] {
        let src = container_dir.join(name);
        if src.exists() {
            bind_in_root(
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
pub fn pivot(merged: &Path) -> Result<(), InitError> {
    rustix::process::chdir(merged).map_err(|e| InitError::sys(Step::PivotRoot, Some(merged), e))?;
    rustix::process::pivot_root(".", ".")
        .map_err(|e| InitError::sys(Step::PivotRoot, Some(merged), e))?;
    // The old root is now stacked under the new one at "/": detach it.
    mount::mount_change(
        ".",
        MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
    )
    .map_err(|e| InitError::sys(Step::PivotRoot, Some(Path::new("/")), e))?;
    mount::unmount(".", UnmountFlags::DETACH)
        .map_err(|e| InitError::sys(Step::PivotRoot, Some(Path::new("/")), e))?;
    rustix::process::chdir("/")
        .map_err(|e| InitError::sys(Step::PivotRoot, Some(Path::new("/")), e))
}

/// `read_only: true`: the root filesystem itself becomes read-only, its mounts stay as they are.
pub fn make_root_readonly() -> Result<(), InitError> {
    mount::mount_remount("/", MountFlags::BIND | MountFlags::RDONLY, "")
        .map_err(|e| InitError::sys(Step::Rootfs, Some(Path::new("/")), e))
}
