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
use super::select::select;
use super::source::SourceTree;
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
    patterns: &[String],
    keep_owner: bool,
    hasher: &mut Sha256,
) -> Result<(), CopyError> {
    for item in select(tree, patterns)? {
        field(hasher, b"source");
        field(hasher, item.name.as_bytes());
        record(tree, &item.path, &item.meta, keep_owner, hasher)?;
    }
    Ok(())
}

fn record(
    tree: &dyn SourceTree,
    path: &Path,
    meta: &Metadata,
    keep_owner: bool,
    hasher: &mut Sha256,
) -> Result<(), CopyError> {
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
                if let Some(meta) = tree.metadata(&child)? {
                    record(tree, &child, &meta, keep_owner, hasher)?;
                }
            }
        }
        NodeKind::Fifo | NodeKind::Socket => {}
    }
    Ok(())
}
