//! Reading the host's files, for the planner, which makes no system calls: the stack stats the
//! files a service's secrets and configs name with [`gather`] and hands the result to the
//! planner, which decides from their mode and owner whether each is bound as it is.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What the planner needs of one host file (links followed, as a bind follows them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFile {
    /// Permission bits and set-id/sticky bits (`st_mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub is_dir: bool,
}

/// The host files read before planning, by path; the error of a path that could not be read.
#[derive(Debug, Default)]
pub struct HostFiles {
    pub files: BTreeMap<PathBuf, Result<HostFile, io::Error>>,
}

impl HostFiles {
    /// Whether `path` was read and exists (as [`Path::exists`] says: an unreadable path does
    /// not); a path that was not read does not either.
    pub fn exists(&self, path: &Path) -> bool {
        matches!(self.files.get(path), Some(Ok(_)))
    }
}

/// Stats each of `paths`.
pub fn gather<'a>(paths: impl IntoIterator<Item = &'a Path>) -> HostFiles {
    let files = paths
        .into_iter()
        .map(|p| {
            let facts = std::fs::metadata(p).map(|m| HostFile {
                mode: m.mode() & 0o7777,
                uid: m.uid(),
                gid: m.gid(),
                is_dir: m.is_dir(),
            });
            (p.to_path_buf(), facts)
        })
        .collect();
    HostFiles { files }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_records_mode_owner_and_kind_and_keeps_the_error_of_a_missing_path() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("f");
        std::fs::write(&f, "x").unwrap();
        std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
        let missing = tmp.path().join("missing");
        let facts = gather([f.as_path(), tmp.path(), missing.as_path()]);
        let me = (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        );
        let got = facts.files[&f].as_ref().unwrap();
        assert_eq!(
            (got.mode, got.uid, got.gid, got.is_dir),
            (0o640, me.0, me.1, false)
        );
        assert!(facts.files[tmp.path()].as_ref().unwrap().is_dir);
        let e = facts.files[&missing].as_ref().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(facts.exists(&f) && facts.exists(tmp.path()));
        assert!(!facts.exists(&missing) && !facts.exists(Path::new("/not/read")));
    }
}
