//! Writing the new layer directory.
//!
//! The layer starts empty and only this COPY writes it, but what it writes is content: a copied
//! symlink may point anywhere, and a later source of the same COPY may name a path through it.
//! So every directory of the layer is opened from its parent's descriptor with `O_NOFOLLOW`,
//! every entry is created relative to such a descriptor, and an entry in the way of a directory
//! is replaced rather than followed: nothing is ever written outside the layer.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Timespec, Timestamps, XattrFlags};
use rustix::io::Errno;

use super::error::CopyError;
use crate::build::layers::Xattr;
use crate::engine::image::layer::remove_all_at;

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// What an entry written into the layer carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Attrs {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// `None`: left as the write made it (directories the COPY invents).
    pub mtime: Option<Timespec>,
    pub xattrs: Vec<Xattr>,
}

/// The layer directory being written.
pub(super) struct Out {
    root: OwnedFd,
    /// Where the layer is, for errors.
    path: PathBuf,
    /// Apply owners (lchown): only root may give files away, as with GNU tar.
    same_owner: bool,
    /// Directory mtimes, set last: writing their children changes them.
    dir_times: Vec<(PathBuf, Timespec)>,
}

fn write_error<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(Errno) -> CopyError + 'a {
    move |source| CopyError::Write {
        path: path.to_path_buf(),
        op,
        source,
    }
}

/// Which end of a copy failed: reading the source, or writing the layer (a full disk).
enum Side {
    Read(std::io::Error),
    Write(std::io::Error),
}

/// `std::io::copy`, telling a failed read from a failed write.
fn copy_content(src: &mut dyn std::io::Read, dst: &mut File) -> Result<u64, Side> {
    use std::io::{ErrorKind, Write};
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(Side::Read(e)),
        };
        dst.write_all(&buf[..n]).map_err(Side::Write)?;
        total += n as u64;
    }
}

/// Xattrs that a file system or a missing privilege refuses are skipped, as tar does.
fn ignorable_xattr_error(e: Errno) -> bool {
    matches!(
        e,
        Errno::NOTSUP | Errno::PERM | Errno::ACCESS | Errno::INVAL
    )
}

impl Out {
    pub(super) fn open(dir: &Path) -> Result<Self, CopyError> {
        let root = rfs::open(
            dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(write_error(Path::new(""), "open the layer directory"))?;
        Ok(Out {
            root,
            path: dir.to_path_buf(),
            same_owner: rustix::process::geteuid().is_root(),
            dir_times: Vec::new(),
        })
    }

    /// Opens the directory `rel` of the layer, never following a symlink.
    pub(super) fn dir(&self, rel: &Path) -> Result<OwnedFd, CopyError> {
        let mut fd = rfs::openat(&self.root, ".", DIR_FLAGS, Mode::empty())
            .map_err(write_error(rel, "open"))?;
        for c in rel.components() {
            if let Component::Normal(name) = c {
                fd = rfs::openat(&fd, name, DIR_FLAGS, Mode::empty())
                    .map_err(write_error(rel, "open"))?;
            }
        }
        Ok(fd)
    }

    /// Whether the layer already holds a directory (not a link to one) at `rel`.
    pub(super) fn has_dir(&self, rel: &Path) -> bool {
        self.dir(rel).is_ok()
    }

    /// Makes `rel` a directory with `attrs`, replacing whatever non-directory is there; an
    /// existing directory is kept as it is (an earlier source made it).
    pub(super) fn mkdir(&mut self, rel: &Path, attrs: &Attrs) -> Result<(), CopyError> {
        let (parent, name) = self.parent(rel)?;
        match rfs::statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => return Ok(()),
            Ok(_) => rfs::unlinkat(&parent, name, AtFlags::empty())
                .map_err(write_error(rel, "replace"))?,
            Err(Errno::NOENT) => {}
            Err(e) => return Err(write_error(rel, "stat")(e)),
        }
        rfs::mkdirat(&parent, name, Mode::from_raw_mode(0o700))
            .map_err(write_error(rel, "mkdir"))?;
        let fd = rfs::openat(&parent, name, DIR_FLAGS, Mode::empty())
            .map_err(write_error(rel, "open"))?;
        self.set_attrs(&fd, rel, attrs)?;
        if let Some(mtime) = attrs.mtime {
            self.dir_times.push((rel.to_path_buf(), mtime));
        }
        Ok(())
    }

    /// Writes the regular file `rel` with the content of `src`.
    pub(super) fn file(
        &self,
        rel: &Path,
        src: &mut dyn std::io::Read,
        attrs: &Attrs,
    ) -> Result<u64, CopyError> {
        let (parent, name) = self.clear(rel)?;
        let fd = rfs::openat(
            &parent,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(write_error(rel, "create"))?;
        let mut dst = File::from(fd);
        let n = copy_content(src, &mut dst).map_err(|e| match e {
            Side::Read(source) => CopyError::Read {
                path: rel.to_path_buf(),
                source,
            },
            Side::Write(source) => CopyError::WriteContent {
                path: self.path.join(rel),
                source,
            },
        })?;
        self.set_attrs(&dst, rel, attrs)?;
        if let Some(mtime) = attrs.mtime {
            rfs::futimens(&dst, &times(mtime)).map_err(write_error(rel, "set times"))?;
        }
        Ok(n)
    }

    /// Writes the symlink `rel` -> `target`, as a link: it is never followed.
    pub(super) fn symlink(
        &self,
        rel: &Path,
        target: &Path,
        attrs: &Attrs,
    ) -> Result<(), CopyError> {
        let (parent, name) = self.clear(rel)?;
        rfs::symlinkat(target, &parent, name).map_err(write_error(rel, "symlink"))?;
        self.set_attrs_at(&parent, name, rel, attrs)
    }

    /// Writes a FIFO or device node.
    pub(super) fn node(
        &self,
        rel: &Path,
        kind: FileType,
        rdev: u64,
        attrs: &Attrs,
    ) -> Result<(), CopyError> {
        let (parent, name) = self.clear(rel)?;
        rfs::mknodat(&parent, name, kind, Mode::from_raw_mode(attrs.mode), rdev)
            .map_err(write_error(rel, "mknod"))?;
        self.set_attrs_at(&parent, name, rel, attrs)?;
        rfs::chmodat(
            &parent,
            name,
            Mode::from_raw_mode(attrs.mode),
            AtFlags::empty(),
        )
        .map_err(write_error(rel, "chmod"))
    }

    /// Makes `rel` a hard link to `first`, an entry this COPY already wrote.
    pub(super) fn hard_link(&self, rel: &Path, first: &Path) -> Result<(), CopyError> {
        let (parent, name) = self.clear(rel)?;
        let (first_parent, first_name) = self.parent(first)?;
        rfs::linkat(&first_parent, first_name, &parent, name, AtFlags::empty())
            .map_err(write_error(rel, "link"))
    }

    /// Removes `rel` and everything below it (an ADD's staging directory).
    pub(super) fn remove(&self, rel: &Path) -> Result<(), CopyError> {
        let (parent, name) = self.parent(rel)?;
        remove_all_at(&parent, name).map_err(write_error(rel, "remove"))
    }

    /// Moves `from` to `to` (both in the layer), replacing a non-directory at `to`.
    pub(super) fn rename(&self, from: &Path, to: &Path) -> Result<(), CopyError> {
        let (from_parent, from_name) = self.parent(from)?;
        let (to_parent, to_name) = self.clear(to)?;
        rfs::renameat(&from_parent, from_name, &to_parent, to_name)
            .map_err(write_error(to, "rename"))
    }

    /// The parent directory of `rel` and its last name.
    fn parent<'p>(&self, rel: &'p Path) -> Result<(OwnedFd, &'p OsStr), CopyError> {
        let name = rel
            .file_name()
            .ok_or_else(|| write_error(rel, "name")(Errno::INVAL))?;
        Ok((self.dir(rel.parent().unwrap_or(Path::new("")))?, name))
    }

    /// The parent of `rel`, with whatever was at `rel` removed.
    fn clear<'p>(&self, rel: &'p Path) -> Result<(OwnedFd, &'p OsStr), CopyError> {
        let (parent, name) = self.parent(rel)?;
        remove_all_at(&parent, name).map_err(write_error(rel, "replace"))?;
        Ok((parent, name))
    }

    /// Owner, then mode (chown clears set-id bits), then xattrs, through an open fd.
    fn set_attrs(
        &self,
        fd: &impl std::os::fd::AsFd,
        rel: &Path,
        attrs: &Attrs,
    ) -> Result<(), CopyError> {
        if self.same_owner {
            rfs::fchown(
                fd,
                Some(rfs::Uid::from_raw(attrs.uid)),
                Some(rfs::Gid::from_raw(attrs.gid)),
            )
            .map_err(write_error(rel, "chown"))?;
        }
        rfs::fchmod(fd, Mode::from_raw_mode(attrs.mode)).map_err(write_error(rel, "chmod"))?;
        for (key, value) in &attrs.xattrs {
            match rfs::fsetxattr(fd, key.as_os_str(), value, XattrFlags::empty()) {
                Ok(()) => {}
                Err(e) if ignorable_xattr_error(e) => {}
                Err(e) => return Err(write_error(rel, "set an xattr")(e)),
            }
        }
        Ok(())
    }

    /// Owner and times of a node that is not opened (a symlink, a device), by name.
    fn set_attrs_at(
        &self,
        parent: &OwnedFd,
        name: &OsStr,
        rel: &Path,
        attrs: &Attrs,
    ) -> Result<(), CopyError> {
        if self.same_owner {
            rfs::chownat(
                parent,
                name,
                Some(rfs::Uid::from_raw(attrs.uid)),
                Some(rfs::Gid::from_raw(attrs.gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(write_error(rel, "lchown"))?;
        }
        if let Some(mtime) = attrs.mtime {
            rfs::utimensat(parent, name, &times(mtime), AtFlags::SYMLINK_NOFOLLOW)
                .map_err(write_error(rel, "set times"))?;
        }
        Ok(())
    }

    /// Sets the recorded directory times, deepest first. A directory replaced since it was
    /// written has nothing to set.
    pub(super) fn finish(self) -> Result<(), CopyError> {
        for (rel, mtime) in self.dir_times.iter().rev() {
            let fd = match self.dir(rel) {
                Ok(fd) => fd,
                Err(CopyError::Write {
                    source: Errno::NOENT | Errno::NOTDIR | Errno::LOOP,
                    ..
                }) => continue,
                Err(e) => return Err(e),
            };
            rfs::futimens(&fd, &times(*mtime)).map_err(write_error(rel, "set times"))?;
        }
        Ok(())
    }
}

fn times(mtime: Timespec) -> Timestamps {
    Timestamps {
        last_access: mtime,
        last_modification: mtime,
    }
}

impl Out {
    /// The names in the layer's directory `rel`.
    pub(super) fn names(&self, rel: &Path) -> Result<Vec<std::ffi::OsString>, CopyError> {
        let fd = self.dir(rel)?;
        let mut names = Vec::new();
        for entry in rfs::Dir::read_from(&fd).map_err(write_error(rel, "read directory"))? {
            let entry = entry.map_err(write_error(rel, "read directory"))?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names
                    .push(<OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(name).to_os_string());
            }
        }
        Ok(names)
    }

    /// Gives `rel` and everything below it to `uid:gid`, links themselves and not their targets.
    pub(super) fn chown_tree(&self, rel: &Path, uid: u32, gid: u32) -> Result<(), CopyError> {
        if !self.same_owner {
            return Ok(());
        }
        let (parent, name) = self.parent(rel)?;
        rfs::chownat(
            &parent,
            name,
            Some(rfs::Uid::from_raw(uid)),
            Some(rfs::Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(write_error(rel, "lchown"))?;
        if self.has_dir(rel) {
            for child in self.names(rel)? {
                self.chown_tree(&rel.join(child), uid, gid)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Broken;

    impl std::io::Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("source gone"))
        }
    }

    #[test]
    fn a_full_disk_is_a_write_error_and_a_failing_source_a_read_error() {
        // /dev/full: every write fails with ENOSPC, as on a full disk.
        let mut full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let mut data: &[u8] = b"content";
        match copy_content(&mut data, &mut full) {
            Err(Side::Write(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOSPC)),
            _ => panic!("a failed write was not told as one"),
        }
        let mut sink = tempfile::tempfile().expect("temp file");
        assert!(matches!(
            copy_content(&mut Broken, &mut sink),
            Err(Side::Read(_))
        ));
        let mut data: &[u8] = b"content";
        assert!(matches!(copy_content(&mut data, &mut sink), Ok(7)));
    }
}
