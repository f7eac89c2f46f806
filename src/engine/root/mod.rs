//! The state root (`--root`, `/var/lib/compose` by default) and who may enter it.
//!
//! What lies under the root is root's alone: container records hold the environment (secrets
//! included), logs hold what containers print, and unpacked layers, containers' upper
//! directories and volumes hold whatever images and containers put there, setuid-root
//! binaries included, which any local user who reaches them runs with euid 0. So the root and
//! the directories the engine makes in it are 0700 and every file it writes for itself is
//! 0600. Docker makes its root 0710 so that a user-namespace-remapped group can traverse it;
//! nothing here runs as another user on the host, so nobody else needs to traverse.
//!
//! Containers do not need to traverse either: their processes reach their root filesystem,
//! volumes and `/etc` files through mounts, and a path walk inside a container never checks
//! the host directories above a mount. What they see keeps the modes it needs, set where it
//! is made: `containers/<id>/upper` (the overlay's upper directory gives the container's `/`
//! its mode), a volume's `_data` (0755, or what the image's directory gives it), and `hosts`,
//! `hostname` and `resolv.conf` (0644, bind-mounted as the container's `/etc` files and read
//! by any user in it).
//!
//! A root made before these modes is tightened on first use: the root and its top directories
//! on every open (a handful of syscalls), the files written 0644 once, as the first step of
//! the root's schema migrations (see [`migrate`], which also refuses a root of a newer
//! compose).

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags};

mod layout;
mod migrate;

pub use layout::{ImageDir, StateRoot};
use layout::{
    CONTAINERS, DNS, EVENTS, IMAGES, IMAGE_BLOBS, IMAGE_LAYERS, IMAGE_LOCK, IMAGE_RECORDS,
    IMAGE_TAGS, IMAGE_TMP, NETWORKS, PROJECTS, VOLUMES,
};
pub(crate) use layout::{
    CONTAINER_LOG, CONTAINER_MONITOR_LOG, CONTAINER_RECORD, CONTAINER_STATE, CONTAINER_STOPPING,
};
pub use migrate::CURRENT as SCHEMA_VERSION;

pub use crate::engine::fsutil::{PRIVATE_DIR, PRIVATE_FILE};
/// Directories a container's processes see as theirs (a volume's `_data`).
pub const SHARED_DIR: u32 = 0o755;

/// The directories at the top of the root.
const TOP_DIRS: [&str; 6] = [CONTAINERS, IMAGES, VOLUMES, NETWORKS, DNS, PROJECTS];

/// Why the root could not be made private or brought to this release's schema.
#[derive(Debug, thiserror::Error)]
pub enum RootError {
    #[error("state root: {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(
        "state root {} was written by a newer compose (state version {found}, this one reads \
         up to {supported}); upgrade compose or use another --root",
        root.display()
    )]
    Newer {
        root: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error(
        "state root: {} holds {found:?}, not a state version; restore it from a backup or use \
         another --root",
        path.display()
    )]
    BadVersion { path: PathBuf, found: String },
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> RootError {
    let path = path.to_path_buf();
    move |source| RootError::Io {
        action,
        path,
        source,
    }
}

/// Makes `root` private and current before a command uses it: creates it (0700) when missing,
/// closes it and its top directories to other users, and brings an older root to this
/// release's schema (see [`migrate`]; the first step tightens the files a root made before
/// these modes has). What a step cannot do is returned as warnings (it is tried again by the
/// next command); failing to close the root itself is an error, since nothing below it would
/// then be protected, and so is a root of a newer compose.
pub fn prepare(root: &Path) -> Result<Vec<String>, RootError> {
    let created = create_root(root)?;
    let dir = open_dir(None, root)
        .map_err(io_err("opening", root))?
        .ok_or_else(|| io_err("opening", root)(io::ErrorKind::NotFound.into()))?;
    set_mode(&dir, PRIVATE_DIR).map_err(io_err("closing to other users", root))?;
    for name in TOP_DIRS {
        let path = root.join(name);
        if let Some(sub) =
            open_dir(Some(dir.as_fd()), Path::new(name)).map_err(io_err("opening", &path))?
        {
            set_mode(&sub, PRIVATE_DIR).map_err(io_err("closing to other users", &path))?;
        }
    }
    if created {
        // Nothing older in it to migrate (if the version cannot be written, the next command
        // runs the steps, which find nothing to do).
        return Ok(migrate::write_version(root, migrate::CURRENT)
            .err()
            .map(|e| e.to_string())
            .into_iter()
            .collect());
    }
    migrate::migrate(root)
}

/// Migration 0 -> 1: the one pass over a root made before these modes (see [`tighten_files`]).
fn tighten_root(root: &Path) -> Result<Vec<String>, RootError> {
    let dir = open_dir(None, root)
        .map_err(io_err("opening", root))?
        .ok_or_else(|| io_err("opening", root)(io::ErrorKind::NotFound.into()))?;
    let mut warnings = Vec::new();
    tighten_files(dir.as_fd(), root, &mut warnings);
    Ok(warnings)
}

/// Creates the root 0700 (its missing parents with the usual modes); true when it was made now.
fn create_root(root: &Path) -> Result<bool, RootError> {
    let mkdir = || DirBuilder::new().mode(PRIVATE_DIR).create(root);
    let mut r = mkdir();
    if r.as_ref()
        .is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
    {
        if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io_err("creating", parent))?;
        }
        r = mkdir();
    }
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_err("creating", root)(e)),
    }
}

/// Opens a directory for `fchmod` (following a symlink: the root and its top entries are
/// the administrator's, who may have moved one elsewhere); `None` when it does not exist.
fn open_dir(at: Option<BorrowedFd<'_>>, path: &Path) -> io::Result<Option<OwnedFd>> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let r = match at {
        Some(at) => rustix::fs::openat(at, path, flags, Mode::empty()),
        None => rustix::fs::open(path, flags, Mode::empty()),
    };
    match r {
        Ok(fd) => Ok(Some(fd)),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Gives the open file `mode` unless it has it already.
fn set_mode(fd: &OwnedFd, mode: u32) -> io::Result<()> {
    let st = rustix::fs::fstat(fd)?;
    if st.st_mode & 0o7777 != mode {
        rustix::fs::fchmod(fd, Mode::from_raw_mode(mode))?;
    }
    Ok(())
}

/// Creates `path` and its missing parents 0700 (the umask can only take bits away).
pub fn private_dir(path: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR)
        .create(path)
}

/// Opens `path` for appending, creating it 0600: container logs, the events log.
pub fn append_private(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(PRIVATE_FILE)
        .open(path)
}

/// Creates a named volume's directory `data` (`<volumes_dir>/<name>/_data`, and a sub-path
/// below it if given): `<volumes_dir>` and `<name>` 0700, what is below 0755 whatever the
/// umask, so that a container's non-root user can use it. Each level is opened without
/// following symlinks.
pub fn create_volume_dir(volumes_dir: &Path, data: &Path) -> io::Result<()> {
    let rel = data.strip_prefix(volumes_dir).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not under {}", data.display(), volumes_dir.display()),
        )
    })?;
    private_dir(volumes_dir)?;
    let mut dir = rustix::fs::open(
        volumes_dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    for (depth, c) in rel.components().enumerate() {
        let Component::Normal(name) = c else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("volume path {} has a {c:?} component", data.display()),
            ));
        };
        let mode = if depth == 0 { PRIVATE_DIR } else { SHARED_DIR };
        let created = match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(mode)) {
            Ok(()) => true,
            Err(rustix::io::Errno::EXIST) => false,
            Err(e) => return Err(e.into()),
        };
        let next = rustix::fs::openat(
            &dir,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        if created {
            // mkdir's mode went through the umask.
            rustix::fs::fchmod(&next, Mode::from_raw_mode(mode))?;
        }
        dir = next;
    }
    Ok(())
}

/// What one pass over an old root tightens, by where it lies.
#[derive(Clone, Copy)]
enum Walk {
    /// Every directory 0700 and regular file 0600, to the bottom (nothing in it comes from a
    /// container or an image).
    Private,
    /// Regular files 0600, directories left as they are (unpacked layers: their modes are
    /// the image's).
    FilesOnly,
    /// Directories 0700, nothing inside touched (volumes: `_data` keeps its mode).
    DirsOnly,
    /// A container's directory: the records and logs 0600; its `/etc` files and overlay
    /// directories are the container's.
    Container,
}

/// One pass over a root made before these modes (the root and its top directories are
/// already closed): records, logs, locks and image metadata 0600, their directories 0700.
fn tighten_files(root: BorrowedFd<'_>, path: &Path, warnings: &mut Vec<String>) {
    tighten(root, Path::new(EVENTS), path, PRIVATE_FILE, warnings);
    for (dir, walk) in [
        (PROJECTS, Walk::Private),
        (NETWORKS, Walk::Private),
        (DNS, Walk::Private),
        (VOLUMES, Walk::DirsOnly),
    ] {
        tighten_tree(root, Path::new(dir), &path.join(dir), walk, warnings);
    }
    let images = path.join(IMAGES);
    if let Ok(Some(store)) = open_dir(Some(root), Path::new(IMAGES)) {
        for f in [IMAGE_LOCK, IMAGE_TAGS] {
            tighten(store.as_fd(), Path::new(f), &images, PRIVATE_FILE, warnings);
        }
        for (dir, walk) in [
            (IMAGE_RECORDS, Walk::Private),
            (IMAGE_BLOBS, Walk::Private),
            (IMAGE_LAYERS, Walk::FilesOnly),
        ] {
            tighten(
                store.as_fd(),
                Path::new(dir),
                &images,
                PRIVATE_DIR,
                warnings,
            );
            tighten_tree(
                store.as_fd(),
                Path::new(dir),
                &images.join(dir),
                walk,
                warnings,
            );
        }
        // Staging: a layer being unpacked there keeps its modes.
        tighten(
            store.as_fd(),
            Path::new(IMAGE_TMP),
            &images,
            PRIVATE_DIR,
            warnings,
        );
    }
    let containers = path.join(CONTAINERS);
    if let Ok(Some(dir)) = open_dir(Some(root), Path::new(CONTAINERS)) {
        for_each_entry(dir.as_fd(), &containers, warnings, |name, ft, warnings| {
            if ft == FileType::Directory {
                tighten(dir.as_fd(), name, &containers, PRIVATE_DIR, warnings);
                tighten_tree(
                    dir.as_fd(),
                    name,
                    &containers.join(name),
                    Walk::Container,
                    warnings,
                );
            }
        });
    }
}

/// Tightens what lies in directory `name` (under `at`) as `walk` says.
fn tighten_tree(
    at: BorrowedFd<'_>,
    name: &Path,
    path: &Path,
    walk: Walk,
    warnings: &mut Vec<String>,
) {
    let dir = match rustix::fs::openat(
        at,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(d) => d,
        Err(rustix::io::Errno::NOENT) => return,
        Err(e) => {
            warnings.push(format!("opening {}: {e}", path.display()));
            return;
        }
    };
    for_each_entry(dir.as_fd(), path, warnings, |entry, ft, warnings| {
        let is_log = |n: &str| {
            n.strip_prefix(CONTAINER_LOG)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        };
        match (walk, ft) {
            (Walk::Private, FileType::Directory) => {
                tighten(dir.as_fd(), entry, path, PRIVATE_DIR, warnings);
                tighten_tree(dir.as_fd(), entry, &path.join(entry), walk, warnings);
            }
            (Walk::Private | Walk::FilesOnly, FileType::RegularFile) => {
                tighten(dir.as_fd(), entry, path, PRIVATE_FILE, warnings);
            }
            (Walk::DirsOnly, FileType::Directory) => {
                tighten(dir.as_fd(), entry, path, PRIVATE_DIR, warnings);
            }
            (Walk::Container, FileType::RegularFile) => {
                let n = entry.to_string_lossy();
                if n == CONTAINER_RECORD || n == CONTAINER_STATE || is_log(&n) {
                    tighten(dir.as_fd(), entry, path, PRIVATE_FILE, warnings);
                }
            }
            _ => {}
        }
    });
}

/// Calls `f` with the name and type of each entry of `dir` (not `.` and `..`).
fn for_each_entry(
    dir: BorrowedFd<'_>,
    path: &Path,
    warnings: &mut Vec<String>,
    mut f: impl FnMut(&Path, FileType, &mut Vec<String>),
) {
    let entries = match rustix::fs::Dir::read_from(dir) {
        Ok(d) => d,
        Err(e) => {
            warnings.push(format!("listing {}: {e}", path.display()));
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                warnings.push(format!("listing {}: {e}", path.display()));
                return;
            }
        };
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let name = Path::new(std::ffi::OsStr::from_bytes(name));
        let ft = match entry.file_type() {
            FileType::Unknown => {
                match rustix::fs::statat(dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) => FileType::from_raw_mode(st.st_mode),
                    Err(_) => continue,
                }
            }
            ft => ft,
        };
        f(name, ft, warnings);
    }
}

/// Gives `name` (under `at`, not followed if a symlink) `mode`; a directory wants
/// [`PRIVATE_DIR`], a regular file [`PRIVATE_FILE`]. Gone meanwhile is fine.
fn tighten(at: BorrowedFd<'_>, name: &Path, path: &Path, mode: u32, warnings: &mut Vec<String>) {
    let want_dir = mode == PRIVATE_DIR;
    // O_NONBLOCK: whatever it turns out to be, opening it never waits.
    let fd = match rustix::fs::openat(
        at,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT | rustix::io::Errno::LOOP) => return,
        Err(e) => {
            warnings.push(format!("opening {}: {e}", path.join(name).display()));
            return;
        }
    };
    let result = rustix::fs::fstat(&fd).and_then(|st| {
        let ft = FileType::from_raw_mode(st.st_mode);
        let right_kind = if want_dir {
            ft == FileType::Directory
        } else {
            ft == FileType::RegularFile
        };
        if right_kind && st.st_mode & 0o7777 != mode {
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
        }
        Ok(())
    });
    if let Err(e) = result {
        warnings.push(format!("tightening {}: {e}", path.join(name).display()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p)
            .expect("stat")
            .permissions()
            .mode()
            & 0o7777
    }

    fn set(p: &Path, m: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod");
    }

    #[test]
    fn a_new_root_is_private_and_records_its_version() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("a/root");
        assert!(prepare(&root).expect("prepare").is_empty());
        assert_eq!(mode(&root), PRIVATE_DIR);
        assert_eq!(mode(&StateRoot::new(&root).version()), PRIVATE_FILE);
        // Idempotent, and a root opened to others again is closed on the next use.
        set(&root, 0o755);
        assert!(prepare(&root).expect("again").is_empty());
        assert_eq!(mode(&root), PRIVATE_DIR);
    }

    #[test]
    fn an_old_root_is_tightened_once_without_touching_what_containers_see() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("root");
        let c = root.join("containers/abc");
        let layer = root.join("images/layers/0123456789ab");
        let data = root.join("volumes/p_v/_data");
        for d in [
            c.join("upper/etc"),
            layer.join("bin"),
            root.join("images/blobs/sha256"),
            data.clone(),
            root.join("networks/defs"),
            root.join("dns/net"),
            root.join("projects"),
        ] {
            std::fs::create_dir_all(&d).expect("mkdir");
        }
        let files = [
            c.join("container.json"),
            c.join("state.json"),
            c.join("container.log"),
            c.join("container.log.1"),
            root.join("events.jsonl"),
            root.join("images/tags.json"),
            root.join("images/blobs/sha256/ff"),
            root.join("images/layers/0123456789ab.json"),
            root.join("networks/defs/n.json"),
            root.join("dns/net/abc"),
            root.join("projects/p.lock"),
        ];
        let untouched = [
            (c.join("hosts"), 0o644),
            (c.join("resolv.conf"), 0o644),
            (layer.join("bin/sh"), 0o4755),
            (c.join("upper/etc/passwd"), 0o644),
        ];
        for f in files.iter().chain(untouched.iter().map(|(f, _)| f)) {
            std::fs::write(f, "x").expect("write");
            set(f, 0o644);
        }
        set(&layer.join("bin/sh"), 0o4755);
        for d in [&root, &c, &c.join("upper"), &layer, &data, &data.join("..")] {
            set(d, 0o755);
        }

        assert!(prepare(&root).expect("prepare").is_empty());
        assert_eq!(mode(&root), PRIVATE_DIR);
        for d in TOP_DIRS {
            assert_eq!(mode(&root.join(d)), PRIVATE_DIR, "{d}");
        }
        for d in [&c, &root.join("volumes/p_v"), &root.join("networks/defs")] {
            assert_eq!(mode(d), PRIVATE_DIR, "{}", d.display());
        }
        for f in &files {
            assert_eq!(mode(f), PRIVATE_FILE, "{}", f.display());
        }
        for (f, m) in &untouched {
            assert_eq!(mode(f), *m, "{}", f.display());
        }
        for d in [&c.join("upper"), &layer, &data] {
            assert_eq!(mode(d), 0o755, "{}", d.display());
        }

        // Once: a file opened up again later is left to the code that writes it.
        set(&c.join("container.json"), 0o644);
        assert!(prepare(&root).expect("again").is_empty());
        assert_eq!(mode(&c.join("container.json")), 0o644);
    }

    #[test]
    fn a_volume_directory_is_private_above_data_and_usable_below() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let volumes = tmp.path().join("volumes");
        let data = volumes.join("p_v/_data");
        create_volume_dir(&volumes, &data).expect("create");
        assert_eq!(mode(&volumes), PRIVATE_DIR);
        assert_eq!(mode(&volumes.join("p_v")), PRIVATE_DIR);
        assert_eq!(mode(&data), SHARED_DIR);
        // Existing: left as it is (the image's pre-fill may have given it another mode).
        set(&data, 0o750);
        create_volume_dir(&volumes, &data).expect("again");
        assert_eq!(mode(&data), 0o750);
        // A symlink in the way is not followed.
        std::os::unix::fs::symlink(tmp.path(), volumes.join("link")).expect("symlink");
        assert!(create_volume_dir(&volumes, &volumes.join("link/_data")).is_err());
        assert!(!tmp.path().join("_data").exists());
        assert!(create_volume_dir(&volumes, &tmp.path().join("elsewhere")).is_err());
    }
}
