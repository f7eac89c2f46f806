//! The root of a build context, held as a directory descriptor.
//!
//! Everything below the root is reached by `openat` from that descriptor one name at a time with
//! `O_NOFOLLOW`, so a symlink inside the context (even one swapped in while a build reads it)
//! can never lead a read outside the directory the user named.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, CWD};
use rustix::io::Errno;

use super::error::ContextError;

/// An open build context directory.
#[derive(Debug)]
pub struct ContextDir {
    root: OwnedFd,
    dir: PathBuf,
}

/// Flags every directory below the root is opened with.
pub(super) const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

impl ContextDir {
    /// Opens `dir`. The directory itself may be reached through a symlink: the user named it.
    pub fn open(dir: &Path) -> Result<Self, ContextError> {
        let root = rustix::fs::openat(
            CWD,
            dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|source| ContextError::OpenRoot {
            dir: dir.to_path_buf(),
            source,
        })?;
        Ok(ContextDir {
            root,
            dir: dir.to_path_buf(),
        })
    }

    /// The directory as the user named it.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(super) fn root_fd(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    pub(super) fn entry_error(&self, path: &Path, op: &'static str, source: Errno) -> ContextError {
        ContextError::Entry {
            root: self.dir.clone(),
            path: path.to_path_buf(),
            op,
            source,
        }
    }

    /// Opens `rel` (relative, plain names only) below the root without following any symlink on
    /// the way: each directory with `O_NOFOLLOW | O_DIRECTORY`, the last name with `flags` and
    /// `O_NOFOLLOW`. `..`, `.` and absolute paths are refused.
    pub(crate) fn open_beneath(&self, rel: &Path, flags: OFlags) -> Result<OwnedFd, ContextError> {
        let names: Vec<&std::ffi::OsStr> = rel
            .components()
            .map(|c| match c {
                Component::Normal(name) => Ok(name),
                _ => Err(self.entry_error(rel, "resolve", Errno::INVAL)),
            })
            .collect::<Result<_, _>>()?;
        let Some((last, dirs)) = names.split_last() else {
            return Err(self.entry_error(rel, "resolve", Errno::INVAL));
        };
        let mut current: Option<OwnedFd> = None;
        for name in dirs {
            let parent = current.as_ref().map_or(self.root_fd(), |fd| fd.as_fd());
            let next = rustix::fs::openat(parent, *name, DIR_FLAGS, Mode::empty())
                .map_err(|e| self.entry_error(rel, "open", e))?;
            current = Some(next);
        }
        let parent = current.as_ref().map_or(self.root_fd(), |fd| fd.as_fd());
        rustix::fs::openat(
            parent,
            *last,
            flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| self.entry_error(rel, "open", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn open_beneath_never_follows_a_symlink() {
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("secret"), "s").expect("write");
        let ctx = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(ctx.path().join("d")).expect("mkdir");
        std::fs::write(ctx.path().join("d/f"), "f").expect("write");
        symlink(outside.path(), ctx.path().join("out")).expect("symlink");
        symlink(outside.path().join("secret"), ctx.path().join("d/link")).expect("symlink");
        let dir = ContextDir::open(ctx.path()).expect("open");
        assert!(dir.open_beneath(Path::new("d/f"), OFlags::RDONLY).is_ok());
        for (rel, errno) in [
            ("out/secret", Errno::NOTDIR),
            ("d/link", Errno::LOOP),
            ("d/../d/f", Errno::INVAL),
            ("/etc/passwd", Errno::INVAL),
            ("", Errno::INVAL),
        ] {
            match dir.open_beneath(Path::new(rel), OFlags::RDONLY) {
                Err(ContextError::Entry { source, .. }) => assert_eq!(source, errno, "{rel}"),
                other => panic!("{rel}: {other:?}"),
            }
        }
    }
}
