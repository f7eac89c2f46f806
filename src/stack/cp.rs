//! `cp`: copies between the host and a container's root (running: through its PID 1's
//! `/proc/<pid>/root`; stopped: its rootfs with its volumes and binds), every container path
//! resolved inside the container's root so that `..` and symlinks never lead out of it.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags, ResolveFlags};

use super::ops::containers;
use super::{invalid, StackError};
use crate::engine::root::StateRoot;
use crate::engine::state::{self, Observed};

/// One side of a copy: the host, or a container's root seen through its PID 1
/// (`/proc/<pid>/root`), where every path is resolved with `RESOLVE_IN_ROOT` so that `..` and
/// symlinks (absolute or not) never lead out of the container's root.
pub enum Side {
    Host,
    Container {
        name: String,
        root: OwnedFd,
        /// A stopped container's volumes and directory binds, which no running mount table
        /// joins to its root: a path beneath one of them is resolved inside it.
        mounts: Vec<SubMount>,
    },
}

/// A volume or bind of a stopped container: its destination (lexical, absolute) and a detached
/// clone of what is mounted there, read-only when the mount is.
pub struct SubMount {
    destination: Vec<String>,
    root: OwnedFd,
}

/// The components of `path` taken lexically, `..` stopping at the root, as `RESOLVE_IN_ROOT`
/// takes them.
fn components(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c.to_string()),
        }
    }
    out
}

impl Side {
    /// The root of a running container.
    pub fn container(o: &Observed) -> Result<Side, StackError> {
        let name = o.record.name.clone();
        let pid = o
            .state
            .live_pid()
            .ok_or_else(|| invalid(format!("container {name} is not running")))?;
        let root = rustix::fs::open(
            format!("/proc/{pid}/root"),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|error| StackError::OpenRoot {
            container: name.clone(),
            error,
        })?;
        // The pid may have been reused between the check and the open.
        if !state::same_process(Some(pid), o.state.pid_start) {
            return Err(invalid(format!("container {name} is not running")));
        }
        Ok(Side::Container {
            name,
            root,
            mounts: Vec::new(),
        })
    }

    /// The root of a stopped (or never started) container: its image layers under its upper
    /// directory, as overlayfs merges them when it runs, mounted with the new mount API as a
    /// detached mount. It is attached nowhere (no host path shows it, nothing to unmount or
    /// leak) and goes away with the descriptor; files copied in land in the upper directory,
    /// where the container finds them when it starts. The caller holds the project lock, so
    /// the container does not start on the same upper directory meanwhile.
    pub fn stopped(root: &Path, o: &Observed) -> Result<Side, StackError> {
        use rustix::mount::{fsmount, FsMountFlags, MountAttrFlags};
        let name = o.record.name.clone();
        let err = |step: &'static str, error: rustix::io::Errno| StackError::MountRoot {
            container: name.clone(),
            step,
            error,
        };
        let layers = &o.record.spec.rootfs.layers;
        if layers.is_empty() {
            return Err(invalid(format!("container {name} has no image layers")));
        }
        let dir = StateRoot::new(root).container(&o.record.id);
        let (upper, work) = (dir.join("upper"), dir.join("work"));
        let fs = match overlay_context(layers, &upper, &work, Lower::OneByOne) {
            // `lowerdir+` is Linux 6.8's: older kernels refuse it (6.5 to 6.7 when it is
            // set, earlier ones, whose overlayfs takes its options as one legacy string,
            // when the file system is created).
            Err((_, rustix::io::Errno::INVAL)) => {
                overlay_context(layers, &upper, &work, Lower::Joined)
            }
            made => made,
        }
        .map_err(|(step, e)| err(step, e))?;
        let root = fsmount(
            &fs,
            FsMountFlags::FSMOUNT_CLOEXEC,
            MountAttrFlags::MOUNT_ATTR_NOSUID
                | MountAttrFlags::MOUNT_ATTR_NODEV
                | MountAttrFlags::MOUNT_ATTR_NOEXEC,
        )
        .map_err(|e| err("fsmount", e))?;
        let mounts =
            sub_mounts(&o.record.spec.mounts).map_err(|error| StackError::OpenVolumes {
                container: name.clone(),
                error,
            })?;
        Ok(Side::Container { name, root, mounts })
    }

    pub(super) fn open(&self, path: &str, flags: OFlags) -> io::Result<OwnedFd> {
        let flags = flags | OFlags::CLOEXEC;
        match self {
            Side::Host => Ok(rustix::fs::open(path, flags, Mode::empty())?),
            Side::Container { root, mounts, .. } => {
                // The deepest volume or bind the path lies in, and the path inside it.
                let parts = components(path);
                let inner = mounts
                    .iter()
                    .filter(|m| parts.starts_with(&m.destination))
                    .max_by_key(|m| m.destination.len());
                let (root, rest) = match inner {
                    Some(m) => (&m.root, parts[m.destination.len()..].join("/")),
                    None => (root, String::new()),
                };
                let p = match (inner, path.is_empty()) {
                    (Some(_), _) if rest.is_empty() => ".",
                    (Some(_), _) => rest.as_str(),
                    (None, true) => "/",
                    (None, false) => path,
                };
                loop {
                    // No magic links either: a container's /proc/<pid>/fd/N or /proc/<pid>/root
                    // may lead to anything its processes hold, on the host too.
                    let how = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
                    match rustix::fs::openat2(root, p, flags, Mode::empty(), how) {
                        // openat2 asks to retry when a rename raced with the resolution.
                        Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => continue,
                        r => return Ok(r?),
                    }
                }
            }
        }
    }

    pub(super) fn describe(&self, path: &str) -> String {
        match self {
            Side::Host => path.to_string(),
            Side::Container { name, .. } => format!("{name}:{path}"),
        }
    }
}

/// Detached clones of a stopped container's volumes and directory binds (files, tmpfs and
/// what is gone are left out), read-only where the mount is, so a copy into a read-only
/// volume fails as it does in the running container.
fn sub_mounts(mounts: &[crate::engine::spec::MountSpec]) -> io::Result<Vec<SubMount>> {
    use crate::engine::spec::MountKind;
    use rustix::mount::OpenTreeFlags;
    let mut out = Vec::new();
    for m in mounts {
        let source = match &m.kind {
            MountKind::Volume {
                volume, subpath, ..
            } => {
                match crate::engine::runtime::volume::open_source(volume, subpath.as_deref(), false)
                {
                    Ok(fd) => fd,
                    // Not made yet (never started) or removed: the container shows the image's.
                    Err(_) => continue,
                }
            }
            MountKind::Bind { source, .. } => match rustix::fs::open(
                source,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(_) => continue,
            },
            _ => continue,
        };
        if !rustix::fs::fstat(&source)
            .map(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir())
            .unwrap_or(false)
        {
            continue;
        }
        let root = rustix::mount::open_tree(
            &source,
            "",
            OpenTreeFlags::OPEN_TREE_CLONE
                | OpenTreeFlags::OPEN_TREE_CLOEXEC
                | OpenTreeFlags::AT_EMPTY_PATH,
        )?;
        if m.read_only {
            crate::engine::runtime::process::set_readonly(&root)?;
        }
        out.push(SubMount {
            destination: components(&m.destination),
            root,
        });
    }
    Ok(out)
}

/// Options of `cp`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyOptions {
    /// Follow a symlink given as the source (inside the source's root).
    pub follow_link: bool,
    /// `-a`: each copy keeps its source's owner and group; without it the copies are owned by
    /// whoever runs `cp` (root), as with `docker cp`.
    pub archive: bool,
}

/// How an overlay gets its lower layers.
#[derive(Clone, Copy)]
enum Lower {
    /// One `lowerdir+` per layer (Linux 6.8): no length limit, and no ':' or ',' to escape.
    OneByOne,
    /// One `lowerdir` string naming each layer by a descriptor (`/proc/self/fd/N`), for
    /// kernels without `lowerdir+`: short, escape-free names, since the whole string must fit
    /// one `fsconfig` value.
    Joined,
}

/// The longest string `fsconfig(FSCONFIG_SET_STRING)` takes (the kernel copies at most 256
/// bytes, the terminating NUL included).
const FSCONFIG_STRING_MAX: usize = 255;

/// A created overlay file system context for `layers` (topmost first) under `upper`/`work`,
/// ready for `fsmount`; the failing step and error otherwise.
fn overlay_context(
    layers: &[std::path::PathBuf],
    upper: &Path,
    work: &Path,
    lower: Lower,
) -> Result<OwnedFd, (&'static str, rustix::io::Errno)> {
    use rustix::mount::{fsconfig_create, fsconfig_set_string, fsopen, FsOpenFlags};
    let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC).map_err(|e| ("fsopen", e))?;
    // Held until the file system is created: the joined option names them.
    let mut held = Vec::new();
    match lower {
        Lower::OneByOne => {
            for l in layers {
                fsconfig_set_string(&fs, "lowerdir+", l).map_err(|e| ("lowerdir+", e))?;
            }
        }
        Lower::Joined => {
            for l in layers {
                let how = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
                held.push(rustix::fs::open(l, how, Mode::empty()).map_err(|e| ("open layer", e))?);
            }
            let fds: Vec<_> = held.iter().map(|fd| fd.as_raw_fd()).collect();
            let value = joined_lowerdir(&fds).ok_or((
                "lowerdir (too many layers for one option on a kernel before Linux 6.8)",
                rustix::io::Errno::TOOBIG,
            ))?;
            fsconfig_set_string(&fs, "lowerdir", value).map_err(|e| ("lowerdir", e))?;
        }
    }
    fsconfig_set_string(&fs, "upperdir", upper).map_err(|e| ("upperdir", e))?;
    fsconfig_set_string(&fs, "workdir", work).map_err(|e| ("workdir", e))?;
    fsconfig_create(&fs).map_err(|e| ("create", e))?;
    drop(held);
    Ok(fs)
}

/// `lowerdir`'s value naming the layers by descriptor, topmost first; `None` when it would not
/// fit one `fsconfig` string.
fn joined_lowerdir(fds: &[std::os::fd::RawFd]) -> Option<String> {
    let value = fds
        .iter()
        .map(|fd| format!("/proc/self/fd/{fd}"))
        .collect::<Vec<_>>()
        .join(":");
    (value.len() <= FSCONFIG_STRING_MAX).then_some(value)
}

pub(super) fn cp_err(what: String, e: impl Into<io::Error>) -> StackError {
    StackError::Copy {
        what,
        error: e.into(),
    }
}

/// Splits `a/b/c` into (`a/b`, `c`); `/c` into (`/`, `c`); `c` into (`.` or `/`, `c`).
pub(super) fn split_path(path: &str, in_container: bool) -> (String, String) {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) => ("/".into(), trimmed[1..].into()),
        Some(i) => (trimmed[..i].into(), trimmed[i + 1..].into()),
        None if in_container => ("/".into(), trimmed.into()),
        None => (".".into(), trimmed.into()),
    }
}

pub(super) fn reopen(fd: BorrowedFd<'_>, flags: OFlags) -> io::Result<OwnedFd> {
    // The magic link refers to the very file the O_PATH descriptor holds: nothing is resolved.
    Ok(rustix::fs::open(
        format!("/proc/self/fd/{}", fd.as_raw_fd()),
        flags | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// `cp`: copies `src` on side `from` to `dest` on side `to`, with `docker cp`'s rules: a
/// directory is copied into an existing directory under its own name (its contents only when
/// `src` ends in `/.`), a file into an existing directory under its name, anything else to
/// `dest` itself. Symlinks are copied as links.
pub fn copy(
    from: &Side,
    src: &str,
    to: &Side,
    dest: &str,
    opts: CopyOptions,
) -> Result<(), StackError> {
    let contents_only = src.ends_with("/.");
    let in_from = matches!(from, Side::Container { .. });
    let in_to = matches!(to, Side::Container { .. });
    let mut flags = OFlags::PATH;
    if !opts.follow_link && !contents_only {
        flags |= OFlags::NOFOLLOW;
    }
    let src_fd = from.open(src, flags).map_err(|e| match (from, e.kind()) {
        (Side::Container { name, .. }, io::ErrorKind::NotFound) => {
            invalid(format!("Could not find the file {src} in container {name}"))
        }
        _ => cp_err(from.describe(src), e),
    })?;
    let src_stat = rustix::fs::fstat(&src_fd).map_err(|e| cp_err(from.describe(src), e))?;
    let src_is_dir = rustix::fs::FileType::from_raw_mode(src_stat.st_mode).is_dir();
    let (_, src_base) = split_path(src.trim_end_matches("/."), in_from);
    if src_base.is_empty() && !contents_only && src_is_dir {
        return Err(invalid(format!(
            "cannot copy the root of {}: name a path below it or use /.",
            from.describe(src)
        )));
    }

    // Where the copy goes: (directory, name), or into a directory's contents.
    let dest_existing = to.open(dest, OFlags::PATH);
    let (dir_fd, name) = match dest_existing {
        Ok(fd) => {
            let st = rustix::fs::fstat(&fd).map_err(|e| cp_err(to.describe(dest), e))?;
            if rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir() {
                if contents_only {
                    copy_dir_contents(&src_fd, &fd, to, dest, opts)?;
                    return Ok(());
                }
                (fd, src_base.clone())
            } else {
                if src_is_dir {
                    return Err(invalid(format!(
                        "cannot copy a directory to a file: {}",
                        to.describe(dest)
                    )));
                }
                let (parent, base) = split_path(dest, in_to);
                let pfd = to
                    .open(&parent, OFlags::PATH | OFlags::DIRECTORY)
                    .map_err(|e| cp_err(to.describe(&parent), e))?;
                (pfd, base)
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if dest.ends_with('/') && !src_is_dir {
                return Err(invalid(format!(
                    "destination directory {} does not exist",
                    to.describe(dest)
                )));
            }
            let (parent, base) = split_path(dest, in_to);
            let pfd = to
                .open(&parent, OFlags::PATH | OFlags::DIRECTORY)
                .map_err(|e| cp_err(to.describe(&parent), e))?;
            (pfd, base)
        }
        Err(e) => return Err(cp_err(to.describe(dest), e)),
    };
    if name.is_empty() {
        return Err(invalid(format!(
            "invalid destination {}",
            to.describe(dest)
        )));
    }
    copy_item(&src_fd, &dir_fd, &name, to, dest, opts)
}

/// Copies the entries of directory `src` into directory `dest_dir`.
fn copy_dir_contents(
    src: &OwnedFd,
    dest_dir: &OwnedFd,
    to: &Side,
    what: &str,
    opts: CopyOptions,
) -> Result<(), StackError> {
    let dir = reopen(src.as_fd(), OFlags::RDONLY | OFlags::DIRECTORY)
        .map_err(|e| cp_err(what.to_string(), e))?;
    let target = dest_dir;
    let entries = rustix::fs::Dir::read_from(&dir).map_err(|e| cp_err(what.to_string(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| cp_err(what.to_string(), e))?;
        let n = entry.file_name().to_bytes();
        if n == b"." || n == b".." {
            continue;
        }
        let name = String::from_utf8_lossy(n).into_owned();
        // One component, not followed: nothing can lead out of the tree.
        let child = rustix::fs::openat(
            &dir,
            entry.file_name(),
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| cp_err(format!("{what}/{name}"), e))?;
        copy_item(&child, target, &name, to, what, opts)?;
    }
    Ok(())
}

/// Copies the file, directory or symlink `src` (an `O_PATH` descriptor) to `name` in
/// `dest_dir`, replacing a non-directory there.
fn copy_item(
    src: &OwnedFd,
    dest_dir: &OwnedFd,
    name: &str,
    to: &Side,
    what: &str,
    opts: CopyOptions,
) -> Result<(), StackError> {
    use rustix::fs::{AtFlags, FileType, Gid, Uid};
    let st = rustix::fs::fstat(src).map_err(|e| cp_err(what.to_string(), e))?;
    // `-a`: the source's owner; set before the mode, since a change of owner clears the
    // set-user-ID and set-group-ID bits.
    let owner = opts.archive.then(|| {
        (
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
        )
    });
    let mode = Mode::from_raw_mode(st.st_mode & 0o7777);
    let dest_desc = || to.describe(&format!("{}/{name}", what.trim_end_matches('/')));
    let existing = rustix::fs::statat(dest_dir, name, AtFlags::SYMLINK_NOFOLLOW).ok();
    let existing_dir = existing
        .as_ref()
        .is_some_and(|e| FileType::from_raw_mode(e.st_mode).is_dir());
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            if existing.is_some() && !existing_dir {
                rustix::fs::unlinkat(dest_dir, name, AtFlags::empty())
                    .map_err(|e| cp_err(dest_desc(), e))?;
            }
            if !existing_dir {
                rustix::fs::mkdirat(dest_dir, name, mode).map_err(|e| cp_err(dest_desc(), e))?;
            }
            // Opened for reading (not O_PATH) so that its mode is set on this very
            // descriptor at the end: by then the container may have renamed the directory and
            // put a symlink in its place, which a chmod by name would follow on the host.
            let sub = rustix::fs::openat(
                dest_dir,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| cp_err(dest_desc(), e))?;
            copy_dir_contents(
                src,
                &sub,
                to,
                &format!("{}/{name}", what.trim_end_matches('/')),
                opts,
            )?;
            if let Some((uid, gid)) = owner {
                rustix::fs::fchown(&sub, uid, gid).map_err(|e| cp_err(dest_desc(), e))?;
            }
            rustix::fs::fchmod(&sub, mode).map_err(|e| cp_err(dest_desc(), e))?;
        }
        FileType::RegularFile => {
            if existing.is_some() {
                if existing_dir {
                    return Err(invalid(format!(
                        "cannot overwrite directory {} with a file",
                        dest_desc()
                    )));
                }
                rustix::fs::unlinkat(dest_dir, name, AtFlags::empty())
                    .map_err(|e| cp_err(dest_desc(), e))?;
            }
            let input =
                reopen(src.as_fd(), OFlags::RDONLY).map_err(|e| cp_err(what.to_string(), e))?;
            let out = rustix::fs::openat(
                dest_dir,
                name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                mode,
            )
            .map_err(|e| cp_err(dest_desc(), e))?;
            let mut input = std::fs::File::from(input);
            let mut out = std::fs::File::from(out);
            io::copy(&mut input, &mut out).map_err(|e| cp_err(dest_desc(), e))?;
            if let Some((uid, gid)) = owner {
                rustix::fs::fchown(&out, uid, gid).map_err(|e| cp_err(dest_desc(), e))?;
            }
            // On the descriptor: the umask does not apply, and no name is looked up again.
            rustix::fs::fchmod(&out, mode).map_err(|e| cp_err(dest_desc(), e))?;
        }
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(src, "", Vec::new())
                .map_err(|e| cp_err(what.to_string(), e))?;
            if existing.is_some() {
                if existing_dir {
                    return Err(invalid(format!(
                        "cannot overwrite directory {} with a symlink",
                        dest_desc()
                    )));
                }
                rustix::fs::unlinkat(dest_dir, name, AtFlags::empty())
                    .map_err(|e| cp_err(dest_desc(), e))?;
            }
            rustix::fs::symlinkat(target.as_c_str(), dest_dir, name)
                .map_err(|e| cp_err(dest_desc(), e))?;
            if let Some((uid, gid)) = owner {
                // The link itself, never what it points to.
                rustix::fs::chownat(dest_dir, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| cp_err(dest_desc(), e))?;
            }
        }
        // Devices, FIFOs and sockets are not copied (`docker cp` would need a tar stream).
        _ => {}
    }
    Ok(())
}

/// The running containers of `service` by replica number, for `cp` and `exec`-like commands.
pub fn container_of(
    root: &Path,
    project: &str,
    service: &str,
    index: u32,
) -> Result<Observed, StackError> {
    containers(root, project, &[service.to_string()])?
        .into_iter()
        .find(|o| o.record.number == index)
        .ok_or_else(|| {
            invalid(format!(
                "service \"{service}\" is not running container #{index}"
            ))
        })
}

/// Where a `cp` argument points: `SERVICE:PATH` or a local path (absolute paths and paths
/// starting with `.` are always local, as with `docker cp`).
pub fn split_cp_arg(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') || arg.starts_with('.') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((svc, path)) if !svc.contains('/') && !svc.is_empty() => (Some(svc), path),
        _ => (None, arg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_lowerdir_names_layers_by_descriptor_within_one_fsconfig_string() {
        assert_eq!(
            joined_lowerdir(&[7, 12]).as_deref(),
            Some("/proc/self/fd/7:/proc/self/fd/12")
        );
        // 14 three-digit descriptors take 14 * 17 + 13 = 251 bytes; a 15th is too many.
        let fits: Vec<i32> = (100..114).collect();
        assert_eq!(joined_lowerdir(&fits).map(|v| v.len()), Some(251));
        let over: Vec<i32> = (100..115).collect();
        assert_eq!(joined_lowerdir(&over), None);
    }

    /// (major, minor) of the running kernel.
    fn kernel_version() -> (u32, u32) {
        let uname = rustix::system::uname();
        let release = uname.release().to_string_lossy().into_owned();
        let mut parts = release.split(|c: char| !c.is_ascii_digit());
        let mut next = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        (next(), next())
    }

    /// The kernel decides which way a stopped container's root is mounted: `lowerdir+` from
    /// Linux 6.8, the joined option before (the VM run on 6.1 checks the fall-back really is
    /// needed there, and works).
    #[test]
    #[ignore = "needs root"]
    fn overlay_layers_one_by_one_from_linux_6_8_and_joined_on_any_kernel() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: mounting an overlay needs root");
            return;
        }
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = |name: &str| {
            let p = tmp.path().join(name);
            std::fs::create_dir(&p).expect("mkdir");
            p
        };
        let layers = vec![dir("top"), dir("bottom")];
        std::fs::write(layers[0].join("a"), "top").expect("write");
        std::fs::write(layers[1].join("a"), "bottom").expect("write");
        std::fs::write(layers[1].join("b"), "bottom").expect("write");

        let one_by_one = overlay_context(&layers, &dir("u1"), &dir("w1"), Lower::OneByOne);
        let version = kernel_version();
        if version >= (6, 8) {
            assert!(one_by_one.is_ok(), "{version:?}: {:?}", one_by_one.err());
        } else {
            let (_, errno) = one_by_one.expect_err("lowerdir+ before Linux 6.8");
            assert_eq!(errno, rustix::io::Errno::INVAL, "{version:?}");
        }

        let fs = overlay_context(&layers, &dir("u2"), &dir("w2"), Lower::Joined).expect("joined");
        use rustix::mount::{fsmount, FsMountFlags, MountAttrFlags};
        let root =
            fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty()).expect("fsmount");
        let read = |name: &str| {
            let fd = rustix::fs::openat(&root, name, OFlags::RDONLY, Mode::empty())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::fs::File::from(fd), &mut s).expect("read");
            s
        };
        // Topmost first: the top layer's `a` hides the bottom one's.
        assert_eq!(read("a"), "top");
        assert_eq!(read("b"), "bottom");
    }

    #[test]
    fn cp_arguments() {
        assert_eq!(split_cp_arg("web:/etc"), (Some("web"), "/etc"));
        assert_eq!(split_cp_arg("/tmp/a:b"), (None, "/tmp/a:b"));
        assert_eq!(split_cp_arg("./web:x"), (None, "./web:x"));
        assert_eq!(split_cp_arg("file"), (None, "file"));
        assert_eq!(split_cp_arg("dir/web:x"), (None, "dir/web:x"));
    }

    #[test]
    fn paths_are_taken_lexically_as_in_root_resolution_does() {
        assert_eq!(components("/reports/deep/../x"), ["reports", "x"]);
        assert_eq!(components("/../../etc//./app/"), ["etc", "app"]);
        assert!(components("/").is_empty());
        assert!(components("").is_empty());
    }

    #[test]
    fn path_split() {
        assert_eq!(split_path("/a/b/", true), ("/a".into(), "b".into()));
        assert_eq!(split_path("/a", true), ("/".into(), "a".into()));
        assert_eq!(split_path("a", true), ("/".into(), "a".into()));
        assert_eq!(split_path("a", false), (".".into(), "a".into()));
    }

    /// The CVE-2018-15664 race, made deterministic: while a directory is being copied, the
    /// destination's owner renames the new directory away and puts a symlink to another file
    /// (on the host, in the real attack) under its name. The copied directory's mode must land
    /// on the directory the copy filled, never on the symlink's target.
    #[test]
    fn a_directory_swapped_for_a_symlink_mid_copy_does_not_redirect_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        use std::sync::atomic::{AtomicBool, Ordering};
        let mode_of = |p: &std::path::Path| {
            std::fs::symlink_metadata(p)
                .expect("stat")
                .permissions()
                .mode()
                & 0o7777
        };
        let tmp = tempfile::tempdir().expect("tempdir");
        let sentinel = tmp.path().join("sentinel");
        std::fs::write(&sentinel, "host file").expect("write");
        std::fs::set_permissions(&sentinel, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let src = tmp.path().join("payload/dir");
        std::fs::create_dir_all(&src).expect("mkdir");
        // Big enough that copying it takes far longer than the swap below takes to react.
        std::fs::write(src.join("big"), vec![7u8; 16 << 20]).expect("write");
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o705)).expect("chmod");
        let mut landed = false;
        for attempt in 0..10 {
            let dest = tmp.path().join(format!("dest{attempt}"));
            std::fs::create_dir(&dest).expect("mkdir");
            // The copy opens the source directory only once the new directory is open.
            let watch = rustix::fs::inotify::init(
                rustix::fs::inotify::CreateFlags::NONBLOCK
                    | rustix::fs::inotify::CreateFlags::CLOEXEC,
            )
            .expect("inotify");
            rustix::fs::inotify::add_watch(&watch, &src, rustix::fs::inotify::WatchFlags::OPEN)
                .expect("watch");
            let done = AtomicBool::new(false);
            let (result, swapped_in_time) = std::thread::scope(|s| {
                let copier = s.spawn(|| {
                    let r = copy(
                        &Side::Host,
                        src.to_str().expect("utf-8"),
                        &Side::Host,
                        dest.to_str().expect("utf-8"),
                        CopyOptions::default(),
                    );
                    done.store(true, Ordering::SeqCst);
                    r
                });
                let mut buf = [0u8; 4096];
                while rustix::io::read(&watch, &mut buf).is_err() && !done.load(Ordering::SeqCst) {
                    std::thread::sleep(std::time::Duration::from_micros(50));
                }
                std::fs::rename(dest.join("dir"), dest.join("moved")).expect("rename");
                std::os::unix::fs::symlink(&sentinel, dest.join("dir")).expect("symlink");
                let in_time = !done.load(Ordering::SeqCst);
                (copier.join().expect("copy thread"), in_time)
            });
            assert_eq!(
                mode_of(&sentinel),
                0o600,
                "the copy chmod-ed the symlink's target"
            );
            assert_eq!(
                std::fs::read_to_string(&sentinel).expect("read"),
                "host file"
            );
            if swapped_in_time {
                result.expect("copy");
                assert_eq!(mode_of(&dest.join("moved")), 0o705);
                landed = true;
                break;
            }
        }
        assert!(landed, "the swap never landed while the copy ran");
    }

    #[test]
    fn host_copy_keeps_links_as_links_and_copies_trees() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("sub")).expect("mkdir");
        std::fs::write(src.join("sub/f"), "x").expect("write");
        std::os::unix::fs::symlink("/etc/passwd", src.join("link")).expect("symlink");
        let dest = dir.path().join("dest");
        let s = src.to_str().expect("utf-8");
        let d = dest.to_str().expect("utf-8");
        copy(&Side::Host, s, &Side::Host, d, CopyOptions::default()).expect("copy");
        assert_eq!(
            std::fs::read_to_string(dest.join("sub/f")).expect("read"),
            "x"
        );
        let meta = std::fs::symlink_metadata(dest.join("link")).expect("link");
        assert!(meta.file_type().is_symlink());
        // Into an existing directory: under the source's name.
        copy(&Side::Host, s, &Side::Host, d, CopyOptions::default()).expect("copy again");
        assert!(dest.join("src/sub/f").exists());
        // Contents only with `/.`.
        let dest2 = dir.path().join("dest2");
        std::fs::create_dir(&dest2).expect("mkdir");
        let dot = format!("{s}/.");
        copy(
            &Side::Host,
            &dot,
            &Side::Host,
            dest2.to_str().expect("utf-8"),
            CopyOptions::default(),
        )
        .expect("copy contents");
        assert!(dest2.join("sub/f").exists());
        // A directory onto a file is refused.
        assert!(copy(
            &Side::Host,
            s,
            &Side::Host,
            dest.join("sub/f").to_str().expect("utf-8"),
            CopyOptions::default()
        )
        .is_err());
    }

    /// `cp -a` keeps owner and group of every file, directory and link; a plain copy makes
    /// them the copier's (Docker's `docker cp` and its `--archive`).
    #[test]
    fn archive_mode_keeps_owners_and_plain_copies_do_not() {
        use std::os::unix::fs::MetadataExt;
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: changing owners needs root");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("sub")).expect("mkdir");
        std::fs::write(src.join("sub/f"), "x").expect("write");
        std::os::unix::fs::symlink("f", src.join("sub/link")).expect("symlink");
        for p in ["sub", "sub/f", "sub/link"] {
            std::os::unix::fs::lchown(src.join(p), Some(1234), Some(4321)).expect("lchown");
        }
        let s = src.to_str().expect("utf-8");
        let owners = |root: &std::path::Path| -> Vec<(u32, u32)> {
            ["sub", "sub/f", "sub/link"]
                .iter()
                .map(|p| {
                    let m = std::fs::symlink_metadata(root.join(p)).expect("stat");
                    (m.uid(), m.gid())
                })
                .collect()
        };
        let kept = dir.path().join("kept");
        let archive = CopyOptions {
            archive: true,
            ..CopyOptions::default()
        };
        copy(
            &Side::Host,
            s,
            &Side::Host,
            kept.to_str().expect("utf-8"),
            archive,
        )
        .expect("copy");
        assert_eq!(owners(&kept), vec![(1234, 4321); 3]);
        let plain = dir.path().join("plain");
        copy(
            &Side::Host,
            s,
            &Side::Host,
            plain.to_str().expect("utf-8"),
            CopyOptions::default(),
        )
        .expect("copy");
        assert_eq!(owners(&plain), vec![(0, 0); 3]);
    }
}
