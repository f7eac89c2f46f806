//! Volumes in the container set-up: filling a new volume from the image, and opening what a
//! volume mount mounts (the volume's data or a `subpath` inside it).
//!
//! Containers write into volumes, and several containers may share one, so everything found in a
//! volume's data is hostile: a container can plant a symbolic link (`passwd -> /etc/shadow`,
//! `sub -> /`) where the engine, running as host root before `pivot_root`, will later look. So
//! nothing here builds a host path from a volume's content: the data directory is opened once and
//! everything beneath it is reached from directory descriptors, with `O_NOFOLLOW` and
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`; owners and modes are set on descriptors, and
//! what is mounted is the descriptor that was opened, not a path a link could redirect.

use std::ffi::{CStr, OsStr};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self, AtFlags, Dir, FileType, FlockOperation, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::error::{InitError, Step};
use crate::engine::root;
use crate::engine::spec::{ContainerSpec, MountKind, VOLUME_DATA};

/// The file beside a volume's data that says the volume has been filled (or found holding data)
/// on a mount: from then on it is never filled again, whichever container mounts it. Docker
/// fills a volume only when it is empty at its first mount; copying again on every start is what
/// let a container aim the copy at host files through links it planted.
pub const PREFILLED: &str = "prefilled";

/// How a directory is opened to read it or to create entries in it: never through a link.
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Fills each volume of `spec` that asks for it (not `nocopy`, no subpath) from the image's
/// content at its destination, unless it was filled before or already holds data. Runs before
/// the user's mounts, so the image's content is what `root` shows at every destination.
pub fn prefill(root: &OwnedFd, spec: &ContainerSpec) -> Result<(), InitError> {
    for m in &spec.mounts {
        if let MountKind::Volume {
            volume,
            subpath: None,
            copy: true,
        } = &m.kind
        {
            prefill_one(root, volume, &m.destination)?;
        }
    }
    Ok(())
}

fn prefill_one(root: &OwnedFd, volume: &Path, dest: &str) -> Result<(), InitError> {
    let data_path = volume.join(VOLUME_DATA);
    let in_data = |e: Errno| InitError::sys(Step::Mounts, Some(&data_path), e);
    // The volume's own directory is the engine's (no container sees it): opened by path.
    let open_vdir = || {
        fs::open(
            volume,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
    };
    let vdir = open_or_make(open_vdir, &data_path)
        .map_err(|e| InitError::sys(Step::Mounts, Some(volume), e))?;
    // Containers sharing the volume may start together: one fills it, the others then find it
    // filled. Released when `vdir` closes.
    fs::flock(&vdir, FlockOperation::LockExclusive)
        .map_err(|e| InitError::sys(Step::Mounts, Some(volume), e))?;
    match fs::statat(&vdir, PREFILLED, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(_) => return Ok(()),
        Err(Errno::NOENT) => {}
        Err(e) => return Err(InitError::sys(Step::Mounts, Some(volume), e)),
    }
    let data = open_or_make(
        || fs::openat(&vdir, VOLUME_DATA, DIR_FLAGS, Mode::empty()),
        &data_path,
    )
    .map_err(in_data)?;
    if !is_empty(&data).map_err(in_data)? {
        // Data from an earlier mount: Docker does not copy into a volume that holds something.
        return mark_prefilled(&vdir, volume);
    }
    let rel = dest.trim_start_matches('/');
    let src = match fs::openat2(
        root,
        if rel.is_empty() { "." } else { rel },
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        // Nothing in the image there: the volume stays unmarked, so that the first mount where
        // an image has content fills it, as with Docker.
        Err(Errno::NOENT | Errno::NOTDIR) => return Ok(()),
        Err(e) => return Err(InitError::sys(Step::Mounts, Some(Path::new(dest)), e)),
    };
    let top =
        fs::fstat(&src).map_err(|e| InitError::sys(Step::Mounts, Some(Path::new(dest)), e))?;
    copy_dir(src, &data, Path::new("")).map_err(|(at, e)| InitError {
        step: Step::Mounts,
        path: Some(data_path.join(at).display().to_string()),
        errno: Some(e.raw_os_error()),
        message: format!(
            "filling the volume from the image's {dest}: {}",
            std::io::Error::from(e)
        ),
    })?;
    set_owner_mode(&data, &top).map_err(in_data)?;
    mark_prefilled(&vdir, volume)
}

/// `open()`, or, when what it opens is missing, `open()` again after making the volume's data
/// directory `data` with the modes the state root gives volumes ([`root::create_volume_dir`]).
/// They exist from the container's creation unless removed since.
fn open_or_make(open: impl Fn() -> Result<OwnedFd, Errno>, data: &Path) -> Result<OwnedFd, Errno> {
    match open() {
        Err(Errno::NOENT) => {
            // `<volumes>/<name>/_data`: the volumes directory is two levels up.
            let volumes = data.parent().and_then(Path::parent).ok_or(Errno::INVAL)?;
            root::create_volume_dir(volumes, data)
                .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
            open()
        }
        r => r,
    }
}

fn mark_prefilled(vdir: &OwnedFd, volume: &Path) -> Result<(), InitError> {
    fs::openat(
        vdir,
        PREFILLED,
        OFlags::CREATE | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map(drop)
    .map_err(|e| InitError::sys(Step::Mounts, Some(&volume.join(PREFILLED)), e))
}

fn is_empty(dir: &OwnedFd) -> Result<bool, Errno> {
    let mut entries = Dir::read_from(dir)?;
    while let Some(e) = entries.read() {
        if !is_dot(e?.file_name()) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn is_dot(name: &CStr) -> bool {
    matches!(name.to_bytes(), b"." | b"..")
}

/// Where a copy failed (relative to the volume's data) and why.
type CopyError = (PathBuf, Errno);

/// Copies the entries of the directory `src` into `dst` (directories, regular files, symbolic
/// links as links; owners and modes as in the image). An entry that already exists in `dst`
/// (another container made it meanwhile) is left as it is: nothing is ever written through it.
fn copy_dir(src: OwnedFd, dst: &OwnedFd, at: &Path) -> Result<(), CopyError> {
    let mut entries = Dir::new(src).map_err(|e| (at.to_path_buf(), e))?;
    while let Some(entry) = entries.read() {
        let entry = entry.map_err(|e| (at.to_path_buf(), e))?;
        let name = entry.file_name();
        if is_dot(name) {
            continue;
        }
        let here = at.join(OsStr::from_bytes(name.to_bytes()));
        let src_dir = entries.fd().map_err(|e| (here.clone(), e))?;
        copy_entry(src_dir, name, dst, &here)?;
    }
    Ok(())
}

fn copy_entry(
    src_dir: BorrowedFd,
    name: &CStr,
    dst: &OwnedFd,
    here: &Path,
) -> Result<(), CopyError> {
    let err = |e: Errno| (here.to_path_buf(), e);
    let st = fs::statat(src_dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(err)?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            // Private until its content and final mode are in place.
            match fs::mkdirat(dst, name, Mode::from_raw_mode(0o700)) {
                Ok(()) => {}
                Err(Errno::EXIST) => return Ok(()),
                Err(e) => return Err(err(e)),
            }
            let s = fs::openat(src_dir, name, DIR_FLAGS, Mode::empty()).map_err(err)?;
            let d = fs::openat(dst, name, DIR_FLAGS, Mode::empty()).map_err(err)?;
            copy_dir(s, &d, here)?;
            set_owner_mode(&d, &st).map_err(err)
        }
        FileType::RegularFile => {
            let s = fs::openat(
                src_dir,
                name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(err)?;
            if FileType::from_raw_mode(fs::fstat(&s).map_err(err)?.st_mode) != FileType::RegularFile
            {
                return Ok(());
            }
            let d = match fs::openat(
                dst,
                name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            ) {
                Ok(d) => d,
                Err(Errno::EXIST) => return Ok(()),
                Err(e) => return Err(err(e)),
            };
            let mut d = File::from(d);
            std::io::copy(&mut File::from(s), &mut d)
                .map_err(|e| err(Errno::from_io_error(&e).unwrap_or(Errno::IO)))?;
            set_owner_mode(&d, &st).map_err(err)
        }
        FileType::Symlink => {
            let target = fs::readlinkat(src_dir, name, Vec::new()).map_err(err)?;
            match fs::symlinkat(target.as_c_str(), dst, name) {
                Ok(()) => {}
                Err(Errno::EXIST) => return Ok(()),
                Err(e) => return Err(err(e)),
            }
            fs::chownat(
                dst,
                name,
                Some(fs::Uid::from_raw(st.st_uid)),
                Some(fs::Gid::from_raw(st.st_gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(err)
        }
        // Devices, FIFOs and sockets are not copied (as before).
        _ => Ok(()),
    }
}

/// The image entry's owner, then its mode (after the owner: `chown` clears set-id bits).
fn set_owner_mode(fd: impl AsFd, st: &fs::Stat) -> Result<(), Errno> {
    fs::fchown(
        &fd,
        Some(fs::Uid::from_raw(st.st_uid)),
        Some(fs::Gid::from_raw(st.st_gid)),
    )?;
    fs::fchmod(&fd, Mode::from_raw_mode(st.st_mode & 0o7777))
}

/// Opens (`O_PATH`) what a volume mount mounts: the volume's data directory, or `subpath`
/// resolved beneath it without following any symbolic link and without leaving it (as moby does
/// since its volume-subpath fix); with `create`, missing directories are made one at a time,
/// each beneath the one opened before.
pub fn open_source(
    volume: &Path,
    subpath: Option<&str>,
    create: bool,
) -> Result<OwnedFd, InitError> {
    let data_path = volume.join(VOLUME_DATA);
    let open_data = || {
        fs::open(
            &data_path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
    };
    let data = if create {
        open_or_make(open_data, &data_path)
    } else {
        open_data()
    }
    .map_err(|e| InitError::sys(Step::Mounts, Some(&data_path), e))?;
    let Some(sub) = subpath.filter(|s| !s.is_empty()) else {
        return Ok(data);
    };
    let fail = |e: Errno| subpath_error(&data_path, sub, e);
    let how = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    match fs::openat2(
        &data,
        sub,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        how,
    ) {
        Ok(fd) => return Ok(fd),
        Err(Errno::NOENT) if create => {}
        Err(e) => return Err(fail(e)),
    }
    let open_dir = |dir: &OwnedFd, c: &str| {
        fs::openat2(
            dir,
            c,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            how,
        )
    };
    let mut dir = data;
    for c in sub.split('/').filter(|c| !c.is_empty() && *c != ".") {
        dir = match open_dir(&dir, c) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                match fs::mkdirat(&dir, c, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(fail(e)),
                }
                open_dir(&dir, c).map_err(fail)?
            }
            Err(e) => return Err(fail(e)),
        };
    }
    Ok(dir)
}

fn subpath_error(data_path: &Path, sub: &str, e: Errno) -> InitError {
    let message = match e {
        Errno::LOOP => format!(
            "volume subpath {sub:?} passes through a symbolic link: links inside a volume are \
             not followed (a container may have planted them)"
        ),
        Errno::XDEV => format!("volume subpath {sub:?} leads outside the volume"),
        e => format!("volume subpath {sub:?}: {}", std::io::Error::from(e)),
    };
    InitError {
        step: Step::Mounts,
        path: Some(data_path.join(sub).display().to_string()),
        errno: Some(e.raw_os_error()),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::runtime::mounter::fd_path;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    /// A volume directory with empty data, and an image root with content at `/content`.
    struct Setup {
        _tmp: tempfile::TempDir,
        volume: PathBuf,
        image: PathBuf,
        host: PathBuf,
    }

    fn setup() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let volume = tmp.path().join("vol");
        std::fs::create_dir_all(volume.join(VOLUME_DATA)).unwrap();
        let image = tmp.path().join("image");
        let c = image.join("content");
        std::fs::create_dir_all(c.join("sub")).unwrap();
        std::fs::write(c.join("file"), "image file\n").unwrap();
        std::fs::set_permissions(c.join("file"), std::fs::Permissions::from_mode(0o751)).unwrap();
        std::fs::write(c.join("sub/inner"), "inner\n").unwrap();
        std::fs::set_permissions(c.join("sub"), std::fs::Permissions::from_mode(0o710)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", c.join("link")).unwrap();
        let host = tmp.path().join("host");
        std::fs::create_dir(&host).unwrap();
        std::fs::write(host.join("secret"), "secret\n").unwrap();
        Setup {
            _tmp: tmp,
            volume,
            image,
            host,
        }
    }

    impl Setup {
        fn data(&self) -> PathBuf {
            self.volume.join(VOLUME_DATA)
        }

        fn prefill(&self) -> Result<(), InitError> {
            let root = fs::open(
                &self.image,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .unwrap();
            prefill_one(&root, &self.volume, "/content")
        }
    }

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn fills_an_empty_volume_once_with_files_dirs_links_and_modes() {
        let s = setup();
        s.prefill().unwrap();
        let d = s.data();
        assert_eq!(
            std::fs::read_to_string(d.join("file")).unwrap(),
            "image file\n"
        );
        assert_eq!(mode(&d.join("file")), 0o751);
        assert_eq!(
            std::fs::read_to_string(d.join("sub/inner")).unwrap(),
            "inner\n"
        );
        assert_eq!(mode(&d.join("sub")), 0o710);
        assert_eq!(
            std::fs::read_link(d.join("link")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert!(s.volume.join(PREFILLED).is_file());

        // Once filled, never again: a deleted file stays deleted, even in an emptied volume.
        std::fs::remove_file(d.join("file")).unwrap();
        s.prefill().unwrap();
        assert!(!d.join("file").exists());
        std::fs::remove_dir_all(&d).unwrap();
        std::fs::create_dir(&d).unwrap();
        s.prefill().unwrap();
        assert!(!d.join("sub").exists());
    }

    #[test]
    fn a_volume_holding_data_is_not_filled_and_links_in_it_are_not_followed() {
        let s = setup();
        // What a container could have left: links where the image has a file and a directory.
        std::os::unix::fs::symlink(s.host.join("secret"), s.data().join("file")).unwrap();
        std::os::unix::fs::symlink(&s.host, s.data().join("sub")).unwrap();
        s.prefill().unwrap();
        assert_eq!(
            std::fs::read_to_string(s.host.join("secret")).unwrap(),
            "secret\n"
        );
        assert!(!s.host.join("inner").exists());
        assert!(s.volume.join(PREFILLED).is_file());
    }

    #[test]
    fn the_copy_itself_never_writes_through_an_existing_entry() {
        let s = setup();
        let root = fs::open(&s.image, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let src = fs::openat2(
            &root,
            "content",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT,
        )
        .unwrap();
        // Planted between the emptiness check and the copy (a container sharing the volume).
        std::os::unix::fs::symlink(s.host.join("secret"), s.data().join("file")).unwrap();
        std::os::unix::fs::symlink(&s.host, s.data().join("sub")).unwrap();
        let before = mode(&s.host.join("secret"));
        let data = fs::open(s.data(), DIR_FLAGS, Mode::empty()).unwrap();
        copy_dir(src, &data, Path::new("")).unwrap();
        assert_eq!(
            std::fs::read_to_string(s.host.join("secret")).unwrap(),
            "secret\n"
        );
        assert_eq!(mode(&s.host.join("secret")), before);
        assert!(!s.host.join("inner").exists());
        assert!(s.data().join("link").is_symlink());
    }

    #[test]
    fn nothing_in_the_image_leaves_the_volume_unmarked() {
        let s = setup();
        let root = fs::open(&s.image, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        prefill_one(&root, &s.volume, "/not/there").unwrap();
        assert!(!s.volume.join(PREFILLED).exists());
        assert_eq!(std::fs::read_dir(s.data()).unwrap().count(), 0);
    }

    #[test]
    fn a_volume_removed_since_its_container_was_made_is_made_again() {
        let s = setup();
        std::fs::remove_dir_all(&s.volume).unwrap();
        s.prefill().unwrap();
        assert!(s.data().join("sub/inner").is_file());
        std::fs::remove_dir_all(&s.volume).unwrap();
        assert!(open_source(&s.volume, None, false).is_err());
        open_source(&s.volume, None, true).unwrap();
        assert!(s.data().is_dir());
    }

    fn resolved(fd: &OwnedFd) -> PathBuf {
        std::fs::read_link(fd_path(fd)).unwrap()
    }

    #[test]
    fn a_subpath_is_created_and_resolved_beneath_the_volume() {
        let s = setup();
        let fd = open_source(&s.volume, Some("a/b/c"), true).unwrap();
        assert_eq!(resolved(&fd), s.data().join("a/b/c"));
        assert!(s.data().join("a/b/c").is_dir());
        let fd = open_source(&s.volume, Some("a/b"), false).unwrap();
        assert_eq!(resolved(&fd), s.data().join("a/b"));
        let fd = open_source(&s.volume, None, false).unwrap();
        assert_eq!(resolved(&fd), s.data());
        let e = open_source(&s.volume, Some("missing"), false).unwrap_err();
        assert_eq!(e.errno, Some(libc::ENOENT));
    }

    #[test]
    fn a_subpath_through_a_symlink_or_out_of_the_volume_is_refused() {
        let s = setup();
        let d = s.data();
        std::os::unix::fs::symlink(&s.host, d.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../host", d.join("rel")).unwrap();
        std::fs::create_dir(d.join("real")).unwrap();
        std::os::unix::fs::symlink("real", d.join("inside")).unwrap();
        for (sub, needle) in [
            ("abs", "symbolic link"),
            ("abs/new", "symbolic link"),
            ("rel", "symbolic link"),
            ("inside", "symbolic link"),
            ("inside/x", "symbolic link"),
            ("real/../..", "outside the volume"),
            ("/abs", "outside the volume"),
        ] {
            let e = open_source(&s.volume, Some(sub), true).unwrap_err();
            assert!(e.message.contains(needle), "{sub}: {e}");
        }
        assert!(!s.host.join("new").exists() && !d.join("real/x").exists());
    }
}
