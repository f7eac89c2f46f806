//! Reading the merged view: what a path is, its content, its link target, its directory
//! listing and its xattrs. Every operation resolves the parents of its path inside the root
//! first ([`super::resolve`]); none follows the last element unless it says so.

use std::ffi::OsString;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec};
use rustix::io::Errno;

use super::error::LayerViewError;
use super::find::Found;
use super::metadata::{Metadata, NodeKind};
use super::resolve::{resolve, Step, Walk};
use super::xattrs::{read_xattrs, Xattr};
use super::LayerView;

impl Walk for LayerView {
    type Error = LayerViewError;

    fn step(&self, path: &Path) -> Result<Step, LayerViewError> {
        Ok(match self.find(path)? {
            None => Step::Missing,
            Some(Found::Dir { .. }) => Step::Dir,
            Some(Found::Leaf {
                stat,
                parent,
                name,
                layer,
            }) => {
                if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink {
                    let target = rustix::fs::readlinkat(&parent, &name, Vec::new())
                        .map_err(|e| self.io_error(layer, path, "read link", e))?;
                    Step::Symlink(PathBuf::from(std::ffi::OsStr::from_bytes(
                        target.as_bytes(),
                    )))
                } else {
                    Step::Other
                }
            }
        })
    }

    fn too_many_links(&self, path: &Path) -> LayerViewError {
        LayerViewError::Loop {
            path: path.to_path_buf(),
        }
    }

    fn not_a_directory(&self, path: &Path) -> LayerViewError {
        LayerViewError::NotADirectory {
            path: path.to_path_buf(),
        }
    }
}

impl LayerView {
    /// `path` with every symlink followed inside the root (the last one only with
    /// `follow_last`), relative to the root; names past a missing one are kept as written.
    pub fn resolve(&self, path: &Path, follow_last: bool) -> Result<PathBuf, LayerViewError> {
        resolve(self, path, follow_last)
    }

    /// What `path` is (its last element not followed), or `None` when the view does not hold
    /// it.
    pub fn metadata(&self, path: &Path) -> Result<Option<Metadata>, LayerViewError> {
        self.metadata_at(&self.resolve(path, false)?)
    }

    fn metadata_at(&self, resolved: &Path) -> Result<Option<Metadata>, LayerViewError> {
        let resolved = resolved.to_path_buf();
        let stat = match self.find(&resolved)? {
            None => return Ok(None),
            Some(Found::Leaf { stat, .. })
            | Some(Found::Dir {
                stat: Some(stat), ..
            }) => stat,
            // The root of an empty view: what `FROM scratch` starts with.
            Some(Found::Dir { stat: None, .. }) => {
                return Ok(Some(Metadata {
                    kind: NodeKind::Dir,
                    mode: 0o755,
                    uid: 0,
                    gid: 0,
                    size: 0,
                    mtime: Timespec {
                        tv_sec: 0,
                        tv_nsec: 0,
                    },
                    dev: 0,
                    ino: 0,
                    nlink: 1,
                    rdev: 0,
                }))
            }
        };
        Metadata::from_stat(&stat)
            .map(Some)
            .ok_or(LayerViewError::WrongKind {
                path: resolved,
                want: "a known file type",
            })
    }

    fn leaf(&self, resolved: &Path) -> Result<(PathBuf, Found), LayerViewError> {
        let resolved = resolved.to_path_buf();
        match self.find(&resolved)? {
            Some(found) => Ok((resolved, found)),
            None => Err(LayerViewError::NotFound { path: resolved }),
        }
    }

    /// Opens the regular file `path` for reading. The last element is never followed (a
    /// symlink there is refused), and `O_NONBLOCK` keeps a FIFO from hanging the open.
    pub fn open(&self, path: &Path) -> Result<File, LayerViewError> {
        self.open_at(&self.resolve(path, false)?)
    }

    fn open_at(&self, resolved: &Path) -> Result<File, LayerViewError> {
        let (resolved, found) = self.leaf(resolved)?;
        let not_a_file = || LayerViewError::WrongKind {
            path: resolved.clone(),
            want: "a regular file",
        };
        let Found::Leaf {
            stat,
            layer,
            parent,
            name,
        } = found
        else {
            return Err(not_a_file());
        };
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(not_a_file());
        }
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&parent, &name, flags, Mode::empty())
            .map_err(|e| self.io_error(layer, &resolved, "open", e))?;
        let st = rustix::fs::fstat(&fd).map_err(|e| self.io_error(layer, &resolved, "stat", e))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(not_a_file());
        }
        Ok(File::from(fd))
    }

    /// The target of the symlink `path`, as written in it.
    pub fn read_link(&self, path: &Path) -> Result<PathBuf, LayerViewError> {
        self.read_link_at(&self.resolve(path, false)?)
    }

    fn read_link_at(&self, resolved: &Path) -> Result<PathBuf, LayerViewError> {
        let (resolved, found) = self.leaf(resolved)?;
        match found {
            Found::Leaf {
                stat,
                layer,
                parent,
                name,
            } if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink => {
                let target = rustix::fs::readlinkat(&parent, &name, Vec::new())
                    .map_err(|e| self.io_error(layer, &resolved, "read link", e))?;
                Ok(PathBuf::from(std::ffi::OsStr::from_bytes(
                    target.as_bytes(),
                )))
            }
            _ => Err(LayerViewError::WrongKind {
                path: resolved,
                want: "a symlink",
            }),
        }
    }

    /// The names in the directory `path` (followed, as `opendir` does), merged over its
    /// layers: an upper name hides a lower one, whiteouts hide and are not listed. Sorted by
    /// their bytes.
    pub fn read_dir(&self, path: &Path) -> Result<Vec<OsString>, LayerViewError> {
        self.read_dir_at(&self.resolve(path, true)?)
    }

    fn read_dir_at(&self, resolved: &Path) -> Result<Vec<OsString>, LayerViewError> {
        let resolved = resolved.to_path_buf();
        let layers = match self.find(&resolved)? {
            Some(Found::Dir { layers, .. }) => layers,
            Some(Found::Leaf { .. }) => {
                return Err(LayerViewError::WrongKind {
                    path: resolved,
                    want: "a directory",
                })
            }
            None => return Err(LayerViewError::NotFound { path: resolved }),
        };
        let mut seen = std::collections::BTreeMap::new();
        for (layer, fd) in &layers {
            let err = |e| self.io_error(*layer, &resolved, "read directory", e);
            for entry in rustix::fs::Dir::read_from(fd).map_err(err)? {
                let entry = entry.map_err(err)?;
                let name = entry.file_name().to_bytes();
                if name == b"." || name == b".." {
                    continue;
                }
                let name = std::ffi::OsStr::from_bytes(name).to_os_string();
                if seen.contains_key(&name) {
                    continue;
                }
                let visible = match rustix::fs::statat(fd, &name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) => {
                        !(FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice
                            && st.st_rdev == 0)
                    }
                    Err(Errno::NOENT) => continue,
                    Err(e) => return Err(err(e)),
                };
                seen.insert(name, visible);
            }
        }
        let mut names: Vec<OsString> = seen
            .into_iter()
            .filter_map(|(name, visible)| visible.then_some(name))
            .collect();
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        Ok(names)
    }

    /// The xattrs of a regular file or directory `path` (not followed), overlay ones left out.
    /// Symlinks, devices and FIFOs are read with none: opening them is what a hostile layer
    /// would want.
    pub fn xattrs(&self, path: &Path) -> Result<Vec<Xattr>, LayerViewError> {
        self.xattrs_at(&self.resolve(path, false)?)
    }

    fn xattrs_at(&self, resolved: &Path) -> Result<Vec<Xattr>, LayerViewError> {
        let (resolved, found) = self.leaf(resolved)?;
        let (layer, fd) = match found {
            Found::Dir { layers, .. } => match layers.into_iter().next() {
                Some(top) => top,
                None => return Ok(Vec::new()),
            },
            Found::Leaf {
                stat,
                layer,
                parent,
                name,
            } => {
                if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
                    return Ok(Vec::new());
                }
                let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
                let fd = rustix::fs::openat(&parent, &name, flags, Mode::empty())
                    .map_err(|e| self.io_error(layer, &resolved, "open", e))?;
                (layer, fd)
            }
        };
        read_xattrs(&fd).map_err(|e| self.io_error(layer, &resolved, "read xattrs", e))
    }
}

/// The view's reads on paths already resolved: no symlink among their parents, as for the
/// names [`LayerView::read_dir`] lists in a resolved directory. One lookup each instead of one
/// per element, which a walk over thousands of files needs. A path that does go through a
/// symlink is refused (`NotADirectory`), never followed.
#[derive(Clone, Copy)]
pub struct Resolved<'a>(&'a LayerView);

impl LayerView {
    pub fn resolved(&self) -> Resolved<'_> {
        Resolved(self)
    }
}

impl Resolved<'_> {
    pub fn metadata(&self, path: &Path) -> Result<Option<Metadata>, LayerViewError> {
        self.0.metadata_at(path)
    }

    pub fn open(&self, path: &Path) -> Result<File, LayerViewError> {
        self.0.open_at(path)
    }

    pub fn read_link(&self, path: &Path) -> Result<PathBuf, LayerViewError> {
        self.0.read_link_at(path)
    }

    pub fn read_dir(&self, path: &Path) -> Result<Vec<OsString>, LayerViewError> {
        self.0.read_dir_at(path)
    }

    pub fn xattrs(&self, path: &Path) -> Result<Vec<Xattr>, LayerViewError> {
        self.0.xattrs_at(path)
    }
}
