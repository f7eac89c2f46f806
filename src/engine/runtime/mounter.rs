//! The system calls that build a container's filesystem view (mounts, device nodes, links, the
//! pivot), behind one trait. The decisions of [`super::rootfs`] and [`super::masks`] (what is
//! mounted where, in which order, with which flags) sit on top of it, so they are unit-tested
//! through the recording fake in `mounter_fake.rs` without root; [`Kernel`] makes the calls.
//!
//! Targets inside the new root are descriptors, never paths: [`Mounter::resolve`] opens them with
//! `openat2(RESOLVE_IN_ROOT)` and the kernel mounts onto `/proc/self/fd/N`, so a symlink an image
//! or a volume planted cannot redirect a mount onto the host (runc's CVE-2021-30465).

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{self, FileType, Gid, Mode, OFlags, ResolveFlags, Uid};
use rustix::io::Errno;
use rustix::mount::{self, MountFlags, MountPropagationFlags, UnmountFlags};

use super::error::{InitError, Step};

/// What a mount target must be when it has to be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    Dir,
    File,
}

/// A device node to create: its type, numbers, permission bits and owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node {
    pub block: bool,
    pub major: u64,
    pub minor: u64,
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The mount-table and file-node operations of the container set-up. `Target` is a file reached
/// inside the new root (an `O_PATH` descriptor for the kernel); operations named `..._at` take a
/// path in the process's own view instead (the overlay's mount point, the pivot's ".").
pub trait Mounter {
    type Target;

    fn chdir(&self, dir: &Path) -> Result<(), Errno>;
    /// A directory opened by path (the new root before the pivot, "/" after it).
    fn open_root(&self, dir: &Path) -> Result<Self::Target, Errno>;
    /// `path` inside `root`, never leaving it, with missing parents (and the target, as `kind`)
    /// created.
    fn resolve(
        &self,
        root: &Self::Target,
        path: &str,
        kind: TargetKind,
    ) -> Result<Self::Target, InitError>;
    /// `path` inside `root` without following any symlink; `None` when it does not exist.
    fn open_no_follow(
        &self,
        root: &Self::Target,
        path: &str,
    ) -> Result<Option<Self::Target>, Errno>;
    /// The file type and device number of a target.
    fn stat(&self, target: &Self::Target) -> Result<(FileType, u64), Errno>;
    /// The names in directory `dir` of the process's view (after the pivot).
    fn list_dir(&self, dir: &Path) -> Vec<String>;
    /// The path through which a target is named as a mount source.
    fn source_path(&self, target: &Self::Target) -> PathBuf;

    fn mount_at(
        &self,
        source: &str,
        target: &Path,
        fstype: &str,
        flags: MountFlags,
        data: &str,
    ) -> Result<(), Errno>;
    fn mount(
        &self,
        source: &str,
        target: &Self::Target,
        fstype: &str,
        flags: MountFlags,
        data: &str,
    ) -> Result<(), Errno>;
    fn bind(&self, source: &Path, target: &Self::Target, recursive: bool) -> Result<(), Errno>;
    /// Clones the mount at `source` (`open_tree`) and moves the clone onto `target`.
    fn bind_tree(&self, source: &Self::Target, target: &Self::Target) -> Result<(), Errno>;
    fn remount(&self, target: &Self::Target, flags: MountFlags, data: &str) -> Result<(), Errno>;
    fn remount_at(&self, target: &Path, flags: MountFlags, data: &str) -> Result<(), Errno>;
    fn propagate(&self, target: &Self::Target, flags: MountPropagationFlags) -> Result<(), Errno>;
    fn propagate_at(&self, target: &Path, flags: MountPropagationFlags) -> Result<(), Errno>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno>;
    fn unmount_at(&self, target: &Path, flags: UnmountFlags) -> Result<(), Errno>;

    /// A target opened as a directory in which entries can be made.
    fn open_dir(&self, target: &Self::Target) -> Result<Self::Target, Errno>;
    /// Makes device node `name` in `dir` with exactly `node`'s mode and owner.
    fn make_node(&self, dir: &Self::Target, name: &str, node: Node) -> Result<(), Errno>;
    fn unlink(&self, dir: &Self::Target, name: &str) -> Result<(), Errno>;
    fn symlink(&self, target: &str, dir: &Self::Target, name: &str) -> Result<(), Errno>;

    /// Host paths a bind mount names as its source (before the pivot).
    fn source_exists(&self, source: &Path) -> bool;
    fn create_source_dir(&self, source: &Path) -> std::io::Result<()>;
    fn source_is_dir(&self, source: &Path) -> std::io::Result<bool>;
    /// What a volume mount mounts (its data, or `subpath` beneath it), see
    /// [`super::volume::open_source`].
    fn open_volume(
        &self,
        volume: &Path,
        subpath: Option<&str>,
        create: bool,
    ) -> Result<Self::Target, InitError>;
}

/// The real system calls.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kernel;

/// Mount data as the C string the syscall takes (`None` when empty).
fn cdata(s: &str) -> Option<std::ffi::CString> {
    if s.is_empty() {
        None
    } else {
        std::ffi::CString::new(s).ok()
    }
}

/// The path through which the kernel mounts onto an fd (the fd itself, not a path that a symlink
/// could redirect).
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
}

impl Mounter for Kernel {
    type Target = OwnedFd;

    fn chdir(&self, dir: &Path) -> Result<(), Errno> {
        rustix::process::chdir(dir)
    }

    fn open_root(&self, dir: &Path) -> Result<OwnedFd, Errno> {
        fs::open(
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
    }

    fn resolve(&self, root: &OwnedFd, path: &str, kind: TargetKind) -> Result<OwnedFd, InitError> {
        target_in_root(root, path, kind)
    }

    fn open_no_follow(&self, root: &OwnedFd, path: &str) -> Result<Option<OwnedFd>, Errno> {
        match fs::openat2(
            root,
            path.trim_start_matches('/'),
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS,
        ) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn stat(&self, target: &OwnedFd) -> Result<(FileType, u64), Errno> {
        let st = fs::fstat(target)?;
        Ok((FileType::from_raw_mode(st.st_mode), st.st_rdev))
    }

    fn list_dir(&self, dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect()
    }

    fn source_path(&self, target: &OwnedFd) -> PathBuf {
        fd_path(target)
    }

    fn mount_at(
        &self,
        source: &str,
        target: &Path,
        fstype: &str,
        flags: MountFlags,
        data: &str,
    ) -> Result<(), Errno> {
        mount::mount(source, target, fstype, flags, cdata(data).as_deref())
    }

    fn mount(
        &self,
        source: &str,
        target: &OwnedFd,
        fstype: &str,
        flags: MountFlags,
        data: &str,
    ) -> Result<(), Errno> {
        self.mount_at(source, &fd_path(target), fstype, flags, data)
    }

    fn bind(&self, source: &Path, target: &OwnedFd, recursive: bool) -> Result<(), Errno> {
        let tp = fd_path(target);
        if recursive {
            mount::mount_bind_recursive(source, tp.as_path())
        } else {
            mount::mount_bind(source, tp.as_path())
        }
    }

    fn bind_tree(&self, source: &OwnedFd, target: &OwnedFd) -> Result<(), Errno> {
        let tree = mount::open_tree(
            source,
            "",
            mount::OpenTreeFlags::OPEN_TREE_CLONE
                | mount::OpenTreeFlags::OPEN_TREE_CLOEXEC
                | mount::OpenTreeFlags::AT_EMPTY_PATH,
        )?;
        mount::move_mount(
            &tree,
            "",
            target,
            "",
            mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH
                | mount::MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
        )
    }

    fn remount(&self, target: &OwnedFd, flags: MountFlags, data: &str) -> Result<(), Errno> {
        self.remount_at(&fd_path(target), flags, data)
    }

    fn remount_at(&self, target: &Path, flags: MountFlags, data: &str) -> Result<(), Errno> {
        mount::mount_remount(target, flags, data)
    }

    fn propagate(&self, target: &OwnedFd, flags: MountPropagationFlags) -> Result<(), Errno> {
        self.propagate_at(&fd_path(target), flags)
    }

    fn propagate_at(&self, target: &Path, flags: MountPropagationFlags) -> Result<(), Errno> {
        mount::mount_change(target, flags)
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno> {
        rustix::process::pivot_root(new_root, put_old)
    }

    fn unmount_at(&self, target: &Path, flags: UnmountFlags) -> Result<(), Errno> {
        mount::unmount(target, flags)
    }

    fn open_dir(&self, target: &OwnedFd) -> Result<OwnedFd, Errno> {
        fs::openat(
            target,
            ".",
            OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
    }

    fn make_node(&self, dir: &OwnedFd, name: &str, node: Node) -> Result<(), Errno> {
        let ftype = if node.block {
            FileType::BlockDevice
        } else {
            FileType::CharacterDevice
        };
        let dev = fs::makedev(node.major as u32, node.minor as u32);
        let mode = Mode::from_raw_mode(node.perm);
        fs::mknodat(dir, name, ftype, mode, dev)?;
        // mknod honours the umask; set the exact mode and owner afterwards.
        fs::chmodat(dir, name, mode, fs::AtFlags::empty())?;
        fs::chownat(
            dir,
            name,
            Some(Uid::from_raw(node.uid)),
            Some(Gid::from_raw(node.gid)),
            fs::AtFlags::SYMLINK_NOFOLLOW,
        )
    }

    fn unlink(&self, dir: &OwnedFd, name: &str) -> Result<(), Errno> {
        fs::unlinkat(dir, name, fs::AtFlags::empty())
    }

    fn symlink(&self, target: &str, dir: &OwnedFd, name: &str) -> Result<(), Errno> {
        fs::symlinkat(target, dir, name)
    }

    fn source_exists(&self, source: &Path) -> bool {
        source.exists()
    }

    fn create_source_dir(&self, source: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(source)
    }

    fn source_is_dir(&self, source: &Path) -> std::io::Result<bool> {
        Ok(std::fs::metadata(source)?.is_dir())
    }

    fn open_volume(
        &self,
        volume: &Path,
        subpath: Option<&str>,
        create: bool,
    ) -> Result<OwnedFd, InitError> {
        super::volume::open_source(volume, subpath, create)
    }
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
                Ok(_) | Err(Errno::EXIST) => {}
                Err(e) => return Err(InitError::sys(Step::Mounts, Some(Path::new(&so_far)), e)),
            }
        } else {
            match open_dir(&so_far) {
                Ok(fd) => {
                    dir = fd;
                    continue;
                }
                Err(Errno::NOENT) => {}
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
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(InitError::sys(Step::Mounts, Some(Path::new(&so_far)), e)),
            }
            dir = open_dir(&so_far)
                .map_err(|e| InitError::sys(Step::Mounts, Some(Path::new(&so_far)), e))?;
        }
    }
    fs::openat2(root, rel, flags, Mode::empty(), how)
        .map_err(|e| InitError::sys(Step::Mounts, Some(Path::new(path)), e))
}
