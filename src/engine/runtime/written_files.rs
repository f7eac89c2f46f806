//! Files written into a container's directory for it to bind read-only (its secrets and configs
//! whose bytes are not a host file it may bind as it is): the planner decides what to write
//! ([`FileWrite`]), this writes it, never through a link a container or user planted there.

use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

/// The directory, inside a container's directory, that holds its written files.
pub const FILES_DIR: &str = "files";

/// What a written file holds.
#[derive(Clone, PartialEq)]
pub enum Content {
    /// A copy of a file on the host (an absolute path).
    Host(PathBuf),
    /// These bytes.
    Bytes(Vec<u8>),
}

impl std::fmt::Debug for Content {
    /// The bytes are a secret: only their length is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Content::Host(p) => f.debug_tuple("Host").field(p).finish(),
            Content::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
        }
    }
}

/// One file to write under [`FILES_DIR`].
#[derive(Debug, Clone, PartialEq)]
pub struct FileWrite {
    /// What the file is, for errors (`service web: secret token`).
    pub label: String,
    /// Its name inside [`FILES_DIR`] (one path component).
    pub name: String,
    pub content: Content,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("{label}: cannot write it to {path}: {source}")]
pub struct WriteError {
    pub label: String,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Where the file `name` of the container whose directory is `container_dir` is written.
pub fn path_of(container_dir: &Path, name: &str) -> PathBuf {
    container_dir.join(FILES_DIR).join(name)
}

/// Writes `files` under `container_dir` (which exists): a 0700 [`FILES_DIR`], and in it each
/// file created new (never through a link), filled, then given its owner and mode, all through
/// descriptors.
pub fn write(container_dir: &Path, files: &[FileWrite]) -> Result<(), WriteError> {
    let Some(first) = files.first() else {
        return Ok(());
    };
    let fail = |f: &FileWrite, path: PathBuf, e: std::io::Error| WriteError {
        label: f.label.clone(),
        path,
        source: e,
    };
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let files_dir = container_dir.join(FILES_DIR);
    let dir = (|| {
        let parent = rustix::fs::open(container_dir, dir_flags, Mode::empty())?;
        match rustix::fs::mkdirat(&parent, FILES_DIR, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e),
        }
        rustix::fs::openat(&parent, FILES_DIR, dir_flags, Mode::empty())
    })()
    .map_err(|e| fail(first, files_dir.clone(), e.into()))?;
    for f in files {
        let path = path_of(container_dir, &f.name);
        let bytes = match &f.content {
            Content::Bytes(b) => std::borrow::Cow::Borrowed(b.as_slice()),
            Content::Host(p) => {
                std::borrow::Cow::Owned(std::fs::read(p).map_err(|e| fail(f, p.clone(), e))?)
            }
        };
        let fd = rustix::fs::openat(
            &dir,
            f.name.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| fail(f, path.clone(), e.into()))?;
        let mut file = std::fs::File::from(fd);
        std::io::Write::write_all(&mut file, &bytes).map_err(|e| fail(f, path.clone(), e))?;
        rustix::fs::fchown(
            &file,
            Some(rustix::fs::Uid::from_raw(f.uid)),
            Some(rustix::fs::Gid::from_raw(f.gid)),
        )
        .map_err(|e| fail(f, path.clone(), e.into()))?;
        rustix::fs::fchmod(&file, Mode::from_raw_mode(f.mode))
            .map_err(|e| fail(f, path.clone(), e.into()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn written_files_get_their_mode_and_owner_and_never_replace_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let file = |mode, uid, gid| FileWrite {
            label: "service web: secret s".into(),
            name: "0".into(),
            content: Content::Bytes(b"value".to_vec()),
            mode,
            uid,
            gid,
        };
        let me = rustix::process::geteuid().as_raw();
        let mine = rustix::process::getegid().as_raw();
        write(dir, &[file(0o440, me, mine)]).unwrap();
        let p = dir.join("files/0");
        assert_eq!(std::fs::read(&p).unwrap(), b"value");
        let meta = std::fs::metadata(&p).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o440);
        let dmeta = std::fs::metadata(dir.join("files")).unwrap();
        assert_eq!(dmeta.mode() & 0o777, 0o700);
        // A file already there (or a link planted there) is not written through.
        let other = tempfile::tempdir().unwrap();
        std::fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink(other.path().join("x"), &p).unwrap();
        let e = write(dir, &[file(0o440, me, mine)])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("service web: secret s: cannot write it to "),
            "{e}"
        );
        assert!(!other.path().join("x").exists());
    }

    #[test]
    fn the_content_of_a_secret_never_shows_in_debug_output() {
        let c = Content::Bytes(b"s3cret".to_vec());
        assert_eq!(format!("{c:?}"), "Bytes(6 bytes)");
    }
}
