//! The list of what a build may read from its context: every entry the ignore rules keep.
//!
//! Entries come in the order Docker's walker sends them: depth first, each directory's names
//! sorted by their bytes, a directory before its contents. Symlinks are listed with their target
//! and never followed. An excluded directory is skipped unread unless an exception (or a file
//! the build always keeps) may re-include something below it; it is then walked, and listed only
//! if something in it is kept, so every kept path has its parent directories listed.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode};
use rustix::io::Errno;

use super::dockerignore::IgnoreRules;
use super::error::ContextError;
use super::source::{ContextDir, DIR_FLAGS};

/// What an entry is. Special files are listed (a COPY of them fails later, as in Docker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink { target: PathBuf },
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
}

/// One entry of the context, as a build sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEntry {
    /// Relative to the context root; any bytes a file name may hold.
    pub path: PathBuf,
    pub kind: EntryKind,
    /// Permission bits with setuid, setgid and sticky (`st_mode & 0o7777`).
    pub mode: u32,
    /// Size in bytes of a regular file; 0 for anything else.
    pub size: u64,
}

/// A directory being walked: its descriptor, its sorted names, and its own entry while it is
/// excluded and not yet known to hold anything kept.
struct Frame {
    fd: OwnedFd,
    path: PathBuf,
    names: std::vec::IntoIter<OsString>,
    pending: Option<ContextEntry>,
}

impl ContextDir {
    /// Lists the context as the build will see it. `keep` names paths (relative to the root)
    /// that are kept whatever the ignore rules say: the Dockerfile and the ignore file, which
    /// Docker always sends.
    pub fn list(
        &self,
        ignore: &IgnoreRules,
        keep: &[PathBuf],
    ) -> Result<Vec<ContextEntry>, ContextError> {
        let root = rustix::fs::openat(self.root_fd(), ".", DIR_FLAGS, Mode::empty())
            .map_err(|e| self.entry_error(Path::new("."), "open", e))?;
        let mut stack = vec![Frame {
            names: self.read_names(&root, Path::new(""))?.into_iter(),
            fd: root,
            path: PathBuf::new(),
            pending: None,
        }];
        let mut out = Vec::new();
        while let Some(frame) = stack.last_mut() {
            let Some(name) = frame.names.next() else {
                stack.pop();
                continue;
            };
            let path = frame.path.join(&name);
            let stat = match rustix::fs::statat(&frame.fd, &name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) => stat,
                // Removed since the directory was read: it is simply not part of the context.
                Err(Errno::NOENT) => continue,
                Err(e) => return Err(self.entry_error(&path, "stat", e)),
            };
            let text = path.to_string_lossy();
            let kept = keep.iter().any(|k| k == &path);
            let excluded = !kept && ignore.excludes(&text);
            let file_type = FileType::from_raw_mode(stat.st_mode);
            let kind = match file_type {
                FileType::RegularFile => EntryKind::File,
                FileType::Directory => EntryKind::Dir,
                FileType::Symlink => EntryKind::Symlink {
                    target: self.read_link(&frame.fd, &name, &path)?,
                },
                FileType::Fifo => EntryKind::Fifo,
                FileType::Socket => EntryKind::Socket,
                FileType::CharacterDevice => EntryKind::CharDevice,
                FileType::BlockDevice => EntryKind::BlockDevice,
                FileType::Unknown => return Err(self.entry_error(&path, "stat", Errno::INVAL)),
            };
            let entry = ContextEntry {
                path: path.clone(),
                size: if kind == EntryKind::File {
                    stat.st_size as u64
                } else {
                    0
                },
                kind,
                mode: stat.st_mode & 0o7777,
            };
            if entry.kind != EntryKind::Dir {
                if !excluded {
                    flush_pending(&mut stack, &mut out);
                    out.push(entry);
                }
                continue;
            }
            let keep_below = keep.iter().any(|k| k != &path && k.starts_with(&path));
            if excluded && !keep_below && !ignore.may_reinclude_below(&text) {
                continue;
            }
            let fd = rustix::fs::openat(&frame.fd, &name, DIR_FLAGS, Mode::empty())
                .map_err(|e| self.entry_error(&path, "open", e))?;
            let names = self.read_names(&fd, &path)?;
            let pending = if excluded {
                Some(entry)
            } else {
                flush_pending(&mut stack, &mut out);
                out.push(entry);
                None
            };
            stack.push(Frame {
                fd,
                path,
                names: names.into_iter(),
                pending,
            });
        }
        Ok(out)
    }

    /// The names in a directory, without `.` and `..`, sorted by their bytes.
    fn read_names(&self, fd: &OwnedFd, path: &Path) -> Result<Vec<OsString>, ContextError> {
        let err = |e| self.entry_error(path, "read directory", e);
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(fd).map_err(err)? {
            let entry = entry.map_err(err)?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(OsStr::from_bytes(name).to_os_string());
            }
        }
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        Ok(names)
    }

    fn read_link(&self, dir: &OwnedFd, name: &OsStr, path: &Path) -> Result<PathBuf, ContextError> {
        let target = rustix::fs::readlinkat(dir, name, Vec::new())
            .map_err(|e| self.entry_error(path, "read link", e))?;
        Ok(PathBuf::from(OsStr::from_bytes(target.as_bytes())))
    }
}

/// Lists the excluded directories above an entry that is kept, outermost first.
fn flush_pending(stack: &mut [Frame], out: &mut Vec<ContextEntry>) {
    out.extend(stack.iter_mut().filter_map(|f| f.pending.take()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in files {
            let p = dir.path().join(f);
            if let Some(stripped) = f.strip_suffix('/') {
                std::fs::create_dir_all(dir.path().join(stripped)).expect("mkdir");
            } else {
                std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
                std::fs::write(&p, f.as_bytes()).expect("write");
            }
        }
        dir
    }

    fn listed(dir: &Path, ignore: &str, keep: &[&str]) -> Vec<String> {
        let rules = IgnoreRules::parse(ignore, Path::new(".dockerignore")).expect("rules");
        let keep: Vec<PathBuf> = keep.iter().map(PathBuf::from).collect();
        ContextDir::open(dir)
            .expect("open")
            .list(&rules, &keep)
            .expect("list")
            .into_iter()
            .map(|e| e.path.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn depth_first_sorted_with_types_modes_and_sizes() {
        let dir = tree(&["b.txt", "a/x", "a-b", "empty/"]);
        std::fs::set_permissions(
            dir.path().join("b.txt"),
            std::fs::Permissions::from_mode(0o4751),
        )
        .expect("chmod");
        symlink("/etc/passwd", dir.path().join("link")).expect("symlink");
        let entries = ContextDir::open(dir.path())
            .expect("open")
            .list(&IgnoreRules::default(), &[])
            .expect("list");
        let paths: Vec<_> = entries
            .iter()
            .map(|e| e.path.to_str().expect("utf-8"))
            .collect();
        assert_eq!(paths, ["a", "a/x", "a-b", "b.txt", "empty", "link"]);
        assert_eq!(entries[0].kind, EntryKind::Dir);
        assert_eq!(
            (entries[1].kind.clone(), entries[1].size),
            (EntryKind::File, 3)
        );
        assert_eq!(entries[3].mode, 0o4751);
        assert_eq!(
            entries[5].kind,
            EntryKind::Symlink {
                target: PathBuf::from("/etc/passwd")
            },
            "listed, never followed"
        );
    }

    #[test]
    fn ignored_directories_are_skipped_and_exceptions_reach_inside() {
        let dir = tree(&[
            "src/main.rs",
            "node_modules/x/index.js",
            "vendor/keep/a.go",
            "vendor/keep/a.c",
            "vendor/other/b.go",
            "README.md",
            "NOTES.md",
        ]);
        let got = listed(
            dir.path(),
            "node_modules\nvendor\n!vendor/keep/*.go\n*.md\n!README.md\n",
            &[],
        );
        assert_eq!(
            got,
            [
                "README.md",
                "src",
                "src/main.rs",
                "vendor",
                "vendor/keep",
                "vendor/keep/a.go"
            ]
        );
    }

    #[test]
    fn dockerfile_and_ignore_file_are_always_kept() {
        let dir = tree(&["docker/Dockerfile", "docker/other", ".dockerignore", "app"]);
        let got = listed(
            dir.path(),
            "docker\n.dockerignore\n",
            &["docker/Dockerfile", ".dockerignore"],
        );
        assert_eq!(got, [".dockerignore", "app", "docker", "docker/Dockerfile"]);
    }

    #[test]
    fn hostile_names_are_kept_byte_for_byte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let names: [&[u8]; 4] = [b"-rf", b"new\nline", b"bad\xff\xfe", b"back\\slash"];
        for name in names {
            std::fs::write(dir.path().join(OsStr::from_bytes(name)), b"x").expect("write");
        }
        let entries = ContextDir::open(dir.path())
            .expect("open")
            .list(&IgnoreRules::default(), &[])
            .expect("list");
        let mut want: Vec<&[u8]> = names.to_vec();
        want.sort();
        let got: Vec<&[u8]> = entries
            .iter()
            .map(|e| e.path.as_os_str().as_bytes())
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_symlinked_directory_is_not_walked_into() {
        let outside = tree(&["secret"]);
        let dir = tree(&["a"]);
        symlink(outside.path(), dir.path().join("out")).expect("symlink");
        assert_eq!(listed(dir.path(), "", &[]), ["a", "out"]);
    }
}
