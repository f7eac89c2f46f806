//! The trees a COPY reads from, behind one trait: the build context (only what `.dockerignore`
//! kept, every file opened beneath the context's descriptor) and a stage's layers
//! (`COPY --from`). Both resolve a source's symlinks inside their own root.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};

use rustix::fs::OFlags;

use super::error::CopyError;
use crate::build::context::{ContextDir, ContextEntry, EntryKind};
use crate::build::layers::resolve::{resolve, Step, Walk};
use crate::build::layers::xattrs::read_xattrs;
use crate::build::layers::{LayerView, Metadata, NodeKind, Xattr};

/// A tree a COPY reads. Paths are relative to its root, with no symlink among their parents.
pub(super) trait SourceTree {
    /// What `path` is, not followed; `None` when the tree does not hold it.
    fn metadata(&self, path: &Path) -> Result<Option<Metadata>, CopyError>;
    /// The names in the directory `path`, sorted by their bytes.
    fn children(&self, path: &Path) -> Result<Vec<OsString>, CopyError>;
    /// The regular file `path`, opened for reading without following it.
    fn open(&self, path: &Path) -> Result<File, CopyError>;
    fn read_link(&self, path: &Path) -> Result<PathBuf, CopyError>;
    /// The xattrs of a file or directory (none for anything else), overlay ones left out.
    fn xattrs(&self, path: &Path, meta: &Metadata) -> Result<Vec<Xattr>, CopyError>;
    /// `path` (any form) with its symlinks, the last one included, followed inside the root.
    fn resolve(&self, path: &Path) -> Result<PathBuf, CopyError>;
}

/// The build context as the listing of [`crate::build::context::build_files`] shows it: an
/// ignored file is not there, even to a symlink that names it.
pub(super) struct ContextTree<'a> {
    dir: &'a ContextDir,
    entries: BTreeMap<&'a Path, &'a ContextEntry>,
    children: BTreeMap<&'a Path, Vec<OsString>>,
}

impl<'a> ContextTree<'a> {
    pub(super) fn new(dir: &'a ContextDir, files: &'a [ContextEntry]) -> Self {
        let mut children: BTreeMap<&Path, Vec<OsString>> = BTreeMap::new();
        for entry in files {
            if let (Some(parent), Some(name)) = (entry.path.parent(), entry.path.file_name()) {
                children
                    .entry(parent)
                    .or_default()
                    .push(name.to_os_string());
            }
        }
        for names in children.values_mut() {
            names.sort_by(|a, b| {
                use std::os::unix::ffi::OsStrExt;
                a.as_bytes().cmp(b.as_bytes())
            });
        }
        ContextTree {
            dir,
            entries: files.iter().map(|e| (e.path.as_path(), e)).collect(),
            children,
        }
    }

    fn stat(&self, path: &Path, flags: OFlags) -> Result<Metadata, CopyError> {
        let st = if path.as_os_str().is_empty() {
            rustix::fs::stat(self.dir.dir())
        } else {
            let fd = self.dir.open_beneath(path, flags)?;
            rustix::fs::fstat(&fd)
        }
        .map_err(|e| read_error(path, e.into()))?;
        Metadata::from_stat(&st).ok_or_else(|| CopyError::Unsupported {
            path: path.to_path_buf(),
            kind: "unknown file types",
        })
    }
}

fn read_error(path: &Path, source: std::io::Error) -> CopyError {
    CopyError::Read {
        path: path.to_path_buf(),
        source,
    }
}

impl Walk for ContextTree<'_> {
    type Error = CopyError;

    fn step(&self, path: &Path) -> Result<Step, CopyError> {
        Ok(match self.entries.get(path).map(|e| &e.kind) {
            None => Step::Missing,
            Some(EntryKind::Dir) => Step::Dir,
            Some(EntryKind::Symlink { target }) => Step::Symlink(target.clone()),
            Some(_) => Step::Other,
        })
    }

    fn too_many_links(&self, path: &Path) -> CopyError {
        read_error(path, std::io::Error::from_raw_os_error(libc::ELOOP))
    }

    fn not_a_directory(&self, path: &Path) -> CopyError {
        read_error(path, std::io::Error::from_raw_os_error(libc::ENOTDIR))
    }
}

impl SourceTree for ContextTree<'_> {
    fn metadata(&self, path: &Path) -> Result<Option<Metadata>, CopyError> {
        if path.as_os_str().is_empty() {
            return self.stat(path, OFlags::empty()).map(Some);
        }
        if !self.entries.contains_key(path) {
            return Ok(None);
        }
        self.stat(path, OFlags::PATH).map(Some)
    }

    fn children(&self, path: &Path) -> Result<Vec<OsString>, CopyError> {
        Ok(self.children.get(path).cloned().unwrap_or_default())
    }

    fn open(&self, path: &Path) -> Result<File, CopyError> {
        let fd = self
            .dir
            .open_beneath(path, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY)?;
        Ok(File::from(fd))
    }

    fn read_link(&self, path: &Path) -> Result<PathBuf, CopyError> {
        match self.entries.get(path).map(|e| &e.kind) {
            Some(EntryKind::Symlink { target }) => Ok(target.clone()),
            _ => Err(read_error(
                path,
                std::io::Error::from_raw_os_error(libc::EINVAL),
            )),
        }
    }

    fn xattrs(&self, path: &Path, meta: &Metadata) -> Result<Vec<Xattr>, CopyError> {
        let flags = match meta.kind {
            // The context root's own xattrs are the user's directory, not content.
            _ if path.as_os_str().is_empty() => return Ok(Vec::new()),
            NodeKind::File => OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY,
            NodeKind::Dir => OFlags::RDONLY | OFlags::DIRECTORY,
            _ => return Ok(Vec::new()),
        };
        let fd = self.dir.open_beneath(path, flags)?;
        read_xattrs(&fd).map_err(|e| read_error(path, e.into()))
    }

    fn resolve(&self, path: &Path) -> Result<PathBuf, CopyError> {
        resolve(self, path, true)
    }
}

/// A stage's filesystem, for `COPY --from`.
pub(super) struct LayerTree<'a>(pub(super) &'a LayerView);

impl SourceTree for LayerTree<'_> {
    // Paths reach a tree with their parents resolved (see [`SourceTree`]), so the view's
    // one-lookup reads apply.
    fn metadata(&self, path: &Path) -> Result<Option<Metadata>, CopyError> {
        Ok(self.0.resolved().metadata(path)?)
    }

    fn children(&self, path: &Path) -> Result<Vec<OsString>, CopyError> {
        Ok(self.0.resolved().read_dir(path)?)
    }

    fn open(&self, path: &Path) -> Result<File, CopyError> {
        Ok(self.0.resolved().open(path)?)
    }

    fn read_link(&self, path: &Path) -> Result<PathBuf, CopyError> {
        Ok(self.0.resolved().read_link(path)?)
    }

    fn xattrs(&self, path: &Path, meta: &Metadata) -> Result<Vec<Xattr>, CopyError> {
        match meta.kind {
            NodeKind::File | NodeKind::Dir => Ok(self.0.resolved().xattrs(path)?),
            _ => Ok(Vec::new()),
        }
    }

    fn resolve(&self, path: &Path) -> Result<PathBuf, CopyError> {
        Ok(self.0.resolve(path, true)?)
    }
}
