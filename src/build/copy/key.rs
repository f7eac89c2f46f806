//! What the layer cache keys a COPY/ADD on: the content of what it reads, never its times.
//!
//! sha256 over one record per entry selected (pattern order, each directory walked in name
//! order): its path relative to the source root, its kind, mode, owner (for another stage's
//! files: the context's are written as root or `--chown` anyway), link target and content
//! digest. The instruction itself (flags, destination) is keyed by the caller.

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::error::CopyError;
use super::place::excluded;
use super::select::select;
use super::source::SourceTree;
use super::CopyPlan;
use crate::build::context::IgnoreRules;
use crate::build::layers::{Metadata, NodeKind};

/// Bytes read at a time while hashing content.
const CHUNK: usize = 64 * 1024;

fn field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

/// Hashes the entries `patterns` select in `tree`.
pub(super) fn tree_key(
    tree: &dyn SourceTree,
    plan: &CopyPlan,
    exclude: &IgnoreRules,
    keep_owner: bool,
    hasher: &mut Sha256,
) -> Result<(), CopyError> {
    for item in select(tree, &plan.sources, exclude)? {
        field(hasher, b"source");
        field(hasher, item.name.as_bytes());
        let walk = Walk {
            tree,
            exclude,
            root: &item.path,
            keep_owner,
        };
        walk.record(&item.path, &item.meta, hasher)?;
    }
    Ok(())
}

/// One selected entry being hashed.
struct Walk<'a> {
    tree: &'a dyn SourceTree,
    exclude: &'a IgnoreRules,
    root: &'a Path,
    keep_owner: bool,
}

impl Walk<'_> {
    fn record(&self, path: &Path, meta: &Metadata, hasher: &mut Sha256) -> Result<(), CopyError> {
        let (tree, keep_owner) = (self.tree, self.keep_owner);
        field(hasher, path.as_os_str().as_bytes());
        field(hasher, format!("{:?}", meta.kind).as_bytes());
        hasher.update(meta.mode.to_le_bytes());
        if keep_owner {
            hasher.update(meta.uid.to_le_bytes());
            hasher.update(meta.gid.to_le_bytes());
        }
        match meta.kind {
            NodeKind::File => {
                let mut file = tree.open(path)?;
                let mut content = Sha256::new();
                let mut buf = vec![0u8; CHUNK];
                loop {
                    let n = match file.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(source) => {
                            return Err(CopyError::Read {
                                path: path.to_path_buf(),
                                source,
                            })
                        }
                    };
                    content.update(&buf[..n]);
                }
                field(hasher, &content.finalize());
            }
            NodeKind::Symlink => field(hasher, tree.read_link(path)?.as_os_str().as_bytes()),
            NodeKind::CharDevice | NodeKind::BlockDevice => hasher.update(meta.rdev.to_le_bytes()),
            NodeKind::Dir => {
                for name in tree.children(path)? {
                    let child = path.join(name);
                    if excluded(self.exclude, self.root, &child) {
                        continue;
                    }
                    if let Some(meta) = tree.metadata(&child)? {
                        self.record(&child, &meta, hasher)?;
                    }
                }
            }
            NodeKind::Fifo | NodeKind::Socket => {}
        }
        Ok(())
    }
}
