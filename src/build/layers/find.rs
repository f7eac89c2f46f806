//! Finding one path of the merged view, layer by layer, as overlayfs would merge them.
//!
//! The path is walked one name at a time over the layers that hold its parent directory,
//! topmost first: a whiteout (a 0/0 character device) hides the name in every layer below it;
//! a directory joins the merged directory and, when opaque, ends the search below it; anything
//! else is the entry if no layer above had a directory of that name, and hides the layers
//! below. Every name is opened with `O_NOFOLLOW` from the fd of its parent in that layer.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::{Component, Path};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use super::error::LayerViewError;
use super::xattrs::is_opaque;
use super::LayerView;

/// Flags every directory of a layer is opened with.
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// A path of the view that exists.
pub(super) enum Found {
    /// A directory: the layers that hold it (topmost first, down to the first opaque one) and
    /// the stat of the topmost, which is what overlayfs shows. `stat` is `None` only for the
    /// root of a view without layers (`FROM scratch`).
    Dir {
        stat: Option<Stat>,
        layers: Vec<(usize, OwnedFd)>,
    },
    /// Anything else, in the one layer that shows it.
    Leaf {
        stat: Stat,
        layer: usize,
        parent: OwnedFd,
        name: OsString,
    },
}

pub(super) fn open_dir(dir: &OwnedFd, name: &std::ffi::OsStr) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(dir, name, DIR_FLAGS, Mode::empty())
}

fn is_whiteout(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice && st.st_rdev == 0
}

impl LayerView {
    /// Finds `path` (relative to the root, no symlink among its parents). `None` when it does
    /// not exist or is whited out; an error when a parent is not a directory.
    pub(super) fn find(&self, path: &Path) -> Result<Option<Found>, LayerViewError> {
        let mut active = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            let fd = open_dir(&layer.fd, ".".as_ref())
                .map_err(|e| self.io_error(i, path, "open the layer root", e))?;
            active.push((i, fd));
        }
        let mut top = match active.first() {
            Some((i, fd)) => {
                Some(rustix::fs::fstat(fd).map_err(|e| self.io_error(*i, path, "stat", e))?)
            }
            None => None,
        };
        let names: Vec<&std::ffi::OsStr> = path
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n),
                _ => None,
            })
            .collect();
        for (k, name) in names.iter().enumerate() {
            let mut next: Vec<(usize, OwnedFd)> = Vec::new();
            let mut next_top = None;
            let mut leaf = None;
            for (pos, (i, fd)) in active.iter().enumerate() {
                let st = match rustix::fs::statat(fd, *name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) => st,
                    Err(Errno::NOENT) => continue,
                    Err(e) => return Err(self.io_error(*i, path, "stat", e)),
                };
                if is_whiteout(&st) {
                    break;
                }
                if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                    let dir = open_dir(fd, name).map_err(|e| self.io_error(*i, path, "open", e))?;
                    let opaque = is_opaque(&dir);
                    if next.is_empty() {
                        next_top = Some(st);
                    }
                    next.push((*i, dir));
                    if opaque {
                        break;
                    }
                    continue;
                }
                if next.is_empty() {
                    leaf = Some((pos, st));
                }
                break;
            }
            if let Some((pos, stat)) = leaf {
                if k + 1 != names.len() {
                    return Err(LayerViewError::NotADirectory {
                        path: path.to_path_buf(),
                    });
                }
                let (layer, parent) = active.swap_remove(pos);
                return Ok(Some(Found::Leaf {
                    stat,
                    layer,
                    parent,
                    name: name.to_os_string(),
                }));
            }
            if next.is_empty() {
                return Ok(None);
            }
            active = next;
            top = next_top;
        }
        Ok(Some(Found::Dir {
            stat: top,
            layers: active,
        }))
    }
}
