//! ADD of a local archive: a tar (plain, gzip or zstd) is extracted into the destination
//! directory instead of copied, as Docker's ADD does; anything else is copied as a file.
//!
//! The archive is unpacked by the engine's layer unpacker (every name resolved by us from a
//! directory fd, nothing ever written outside its root) into a staging directory inside the new
//! layer, given the `--chown` owner, then moved into place with `rename`; the staging directory
//! is removed. bzip2 and xz archives are refused with an error saying so: no clean crate for
//! them is in the tree.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::error::CopyError;
use super::out::{Attrs, Out};
use super::owner::Owner;
use crate::engine::image::layer::{decompress, unpack, LayerError, UnpackOptions};

/// Where an archive is unpacked before it is moved into place (inside the layer, so the move
/// is a rename).
const STAGING: &str = ".compose-add-staging";

/// Whether `file` is a tar archive, compressed or not: the `ustar` magic of its first header.
/// A compressed file that is not a tar, or that does not decompress, is not an archive.
pub(super) fn is_archive(file: File, path: &Path) -> Result<bool, CopyError> {
    let reader = match decompress(BufReader::new(file)) {
        Ok(reader) => reader,
        Err(source @ LayerError::Compression(_)) => {
            return Err(CopyError::Archive {
                path: path.to_path_buf(),
                source,
            })
        }
        Err(_) => return Ok(false),
    };
    let mut head = Vec::with_capacity(512);
    if reader.take(512).read_to_end(&mut head).is_err() {
        return Ok(false);
    }
    Ok(head.len() == 512 && &head[257..262] == b"ustar")
}

/// Extracts the archive `file` (at `path` in its source) into the layer's directory `dest`.
pub(super) fn extract(
    out: &mut Out,
    layer: &Path,
    file: File,
    path: &Path,
    dest: &Path,
    owner: Option<Owner>,
) -> Result<u64, CopyError> {
    let staging = Path::new(STAGING);
    out.remove(staging)?;
    out.mkdir(
        staging,
        &Attrs {
            mode: 0o700,
            uid: 0,
            gid: 0,
            mtime: None,
            xattrs: Vec::new(),
        },
    )?;
    let archive_error = |source| CopyError::Archive {
        path: path.to_path_buf(),
        source,
    };
    let reader = decompress(BufReader::new(file)).map_err(archive_error)?;
    let defaults = UnpackOptions::default();
    let opts = UnpackOptions {
        same_owner: defaults.same_owner && owner.is_none(),
        ..defaults
    };
    let stats = unpack(reader, &layer.join(STAGING), &opts).map_err(archive_error)?;
    if let Some(owner) = owner {
        for name in out.names(staging)? {
            out.chown_tree(&staging.join(name), owner.uid, owner.gid)?;
        }
    }
    merge(out, staging, dest)?;
    out.remove(staging)?;
    Ok(stats.size)
}

/// Moves the contents of `from` into `to`, merging directories both hold.
fn merge(out: &Out, from: &Path, to: &Path) -> Result<(), CopyError> {
    for name in out.names(from)? {
        let (src, dst) = (from.join(&name), to.join(&name));
        if out.has_dir(&src) && out.has_dir(&dst) {
            merge(out, &src, &dst)?;
        } else {
            out.rename(&src, &dst)?;
        }
    }
    Ok(())
}
