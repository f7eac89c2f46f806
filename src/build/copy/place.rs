//! Writing the selected source entries into the layer: a directory's contents recursively, a
//! file with its content, a symlink as a link (never followed), FIFOs and devices as nodes,
//! and a second name of a file already written in this COPY as a hard link to it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rustix::fs::FileType;

use super::error::CopyError;
use super::out::{Attrs, Out};
use super::owner::Owner;
use super::source::SourceTree;
use super::CopyStats;
use crate::build::context::IgnoreRules;
use crate::build::layers::{Metadata, NodeKind};

/// One COPY's writer: where it writes and how it sets owners and modes.
pub(super) struct Copier<'a> {
    pub tree: &'a dyn SourceTree,
    pub out: &'a mut Out,
    /// `--chown`; without it, files from the context belong to root and files of another
    /// stage keep their owners (`keep_owner`).
    pub owner: Option<Owner>,
    pub keep_owner: bool,
    /// `--chmod`, for files and directories.
    pub chmod: Option<u32>,
    /// `--exclude`, matched against paths relative to `root`, the directory being copied.
    pub exclude: IgnoreRules,
    pub root: PathBuf,
    /// The first layer path written for each (dev, ino) with several links.
    pub links: HashMap<(u64, u64), PathBuf>,
    pub stats: CopyStats,
}

impl<'a> Copier<'a> {
    pub(super) fn new(
        tree: &'a dyn SourceTree,
        out: &'a mut Out,
        owner: Option<Owner>,
        keep_owner: bool,
        chmod: Option<u32>,
        exclude: IgnoreRules,
    ) -> Self {
        Copier {
            tree,
            out,
            owner,
            keep_owner,
            chmod,
            exclude,
            root: PathBuf::new(),
            links: HashMap::new(),
            stats: CopyStats::default(),
        }
    }

    /// The attributes `meta` (read at `src`) is written with.
    pub(super) fn attrs(&self, src: &Path, meta: &Metadata) -> Result<Attrs, CopyError> {
        let (uid, gid) = match (self.owner, self.keep_owner) {
            (Some(o), _) => (o.uid, o.gid),
            (None, true) => (meta.uid, meta.gid),
            (None, false) => (0, 0),
        };
        let mode = match (meta.kind, self.chmod) {
            (NodeKind::File | NodeKind::Dir, Some(mode)) => mode,
            _ => meta.mode,
        };
        Ok(Attrs {
            mode,
            uid,
            gid,
            mtime: Some(meta.mtime),
            xattrs: self.tree.xattrs(src, meta)?,
        })
    }

    /// Copies what the directory `src` holds into the layer's directory `dest`.
    pub(super) fn contents(&mut self, src: &Path, dest: &Path) -> Result<(), CopyError> {
        for name in self.tree.children(src)? {
            let child = src.join(&name);
            if excluded(&self.exclude, &self.root, &child) {
                continue;
            }
            // Gone since the listing: not part of the copy.
            let Some(meta) = self.tree.metadata(&child)? else {
                continue;
            };
            self.entry(&child, &meta, &dest.join(&name))?;
        }
        Ok(())
    }

    /// Copies the entry `src` (described by `meta`) to the layer path `dest`.
    pub(super) fn entry(
        &mut self,
        src: &Path,
        meta: &Metadata,
        dest: &Path,
    ) -> Result<(), CopyError> {
        self.stats.entries += 1;
        let attrs = self.attrs(src, meta)?;
        let unsupported = |kind| CopyError::Unsupported {
            path: src.to_path_buf(),
            kind,
        };
        match meta.kind {
            NodeKind::Dir => {
                self.out.mkdir(dest, &attrs)?;
                self.contents(src, dest)
            }
            NodeKind::File => {
                if meta.nlink > 1 {
                    if let Some(first) = self.links.get(&(meta.dev, meta.ino)) {
                        return self.out.hard_link(dest, first);
                    }
                    self.links.insert((meta.dev, meta.ino), dest.to_path_buf());
                }
                let mut file = self.tree.open(src)?;
                self.stats.bytes += self.out.file(dest, &mut file, &attrs)?;
                Ok(())
            }
            NodeKind::Symlink => self.out.symlink(dest, &self.tree.read_link(src)?, &attrs),
            NodeKind::Fifo => self.out.node(dest, FileType::Fifo, 0, &attrs),
            // A 0/0 character device in a layer is a whiteout: it would delete, not copy.
            NodeKind::CharDevice if meta.rdev == 0 => Err(unsupported("0/0 character devices")),
            NodeKind::CharDevice => {
                self.out
                    .node(dest, FileType::CharacterDevice, meta.rdev, &attrs)
            }
            NodeKind::BlockDevice => self
                .out
                .node(dest, FileType::BlockDevice, meta.rdev, &attrs),
            NodeKind::Socket => Err(unsupported("sockets")),
        }
    }
}

/// Whether `--exclude` leaves out `path`, a descendant of the copied directory `root`.
pub(super) fn excluded(rules: &IgnoreRules, root: &Path, path: &Path) -> bool {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rules.excludes(&rel.to_string_lossy())
}
