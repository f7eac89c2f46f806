//! Taking a blob into the store as it arrives (from a registry): written to a staging file
//! and hashed byte by byte, and — for a layer — decompressed and unpacked at the same time, so
//! nothing is ever held whole in memory and the unpacking does not wait for the download.
//! Nothing becomes visible before it is verified: the blob is renamed into `blobs/` only when
//! its digest and size match the descriptor, the layer directory only when its diff id
//! matches the config; anything left in `tmp/` by an interrupted pull is removed by the next
//! writer.
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::layer::{self, LayerError, UnpackOptions};
use super::store::{io_ctx, leftover, ImageError, ImageStore};
use crate::engine::fsutil::{self, HashingReader};

/// Copies everything read into the staging file and the hash, and refuses to read more than
/// the descriptor's size (a registry cannot make us store more than it announced).
struct Tee<R> {
    inner: R,
    file: File,
    hasher: Sha256,
    count: u64,
    limit: u64,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        if self.count > self.limit {
            return Err(io::Error::other(format!(
                "more than the {} bytes the descriptor announced",
                self.limit
            )));
        }
        self.hasher.update(&buf[..n]);
        self.file.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// What [`ImageStore::ingest`] should do besides storing the blob.
pub(crate) enum Ingest<'a> {
    /// Store the blob only.
    Blob,
    /// Also unpack it as the layer with this diff id.
    Layer { diff_id: &'a str },
}

impl ImageStore {
    /// Whether the blob `digest` is stored with the size `size`.
    pub(crate) fn has_blob(&self, digest: &str, size: u64) -> bool {
        fs::metadata(self.blob_path(digest)).is_ok_and(|m| m.len() == size)
    }

    /// Streams `reader` (the blob `digest` of `size` bytes) into the store, unpacking it as a
    /// layer when asked; returns the layer's directory name and size for a layer. Call with
    /// the lock held.
    pub(crate) fn ingest<R: Read>(
        &self,
        reader: R,
        digest: &str,
        size: u64,
        what: Ingest<'_>,
    ) -> Result<Option<(String, u64)>, ImageError> {
        tracing::debug!(digest, size, "image store: ingesting a blob");
        let staged = self.tmp_dir().join(fsutil::unique_name("blob-"));
        let layer_dir = match what {
            Ingest::Layer { .. } => Some(self.tmp_dir().join(fsutil::unique_name("layer-"))),
            Ingest::Blob => None,
        };
        let result = self.ingest_staged(reader, digest, size, &what, &staged, &layer_dir);
        // The staged blob is renamed away on success: what is left is a failure's, or a
        // concurrent writer's twin; either way it goes, and a removal that fails is told.
        let mut left: Vec<_> = leftover(&staged, fs::remove_file(&staged))
            .into_iter()
            .collect();
        if let Some(dir) = &layer_dir {
            left.extend(leftover(dir, fs::remove_dir_all(dir)));
        }
        match result {
            Err(e) => Err(e.with_leftovers(left)),
            Ok(_) if !left.is_empty() => {
                let (path, source) = left.swap_remove(0);
                Err(ImageError::Io {
                    op: "removing",
                    path,
                    source,
                }
                .with_leftovers(left))
            }
            ok => ok,
        }
    }

    fn ingest_staged<R: Read>(
        &self,
        reader: R,
        digest: &str,
        size: u64,
        what: &Ingest<'_>,
        staged: &PathBuf,
        layer_dir: &Option<PathBuf>,
    ) -> Result<Option<(String, u64)>, ImageError> {
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(crate::engine::root::PRIVATE_FILE)
            .open(staged)
            .map_err(io_ctx("creating", staged))?;
        let mut tee = BufReader::with_capacity(
            256 * 1024,
            Tee {
                inner: reader,
                file,
                hasher: Sha256::new(),
                count: 0,
                limit: size,
            },
        );
        // Unpack while reading; the verdict on the bytes comes first (a corrupted blob is
        // reported as such, not as whatever the unpacker made of it).
        let unpacked = match (what, layer_dir) {
            (Ingest::Layer { diff_id }, Some(dir)) => {
                fs::create_dir(dir).map_err(io_ctx("creating", dir))?;
                Some(unpack_from(&mut tee, diff_id, dir))
            }
            _ => None,
        };
        io::copy(&mut tee, &mut io::sink()).map_err(io_ctx("receiving blob", staged))?;
        let tee = tee.into_inner();
        let actual = format!("sha256:{}", fsutil::hex(&tee.hasher.finalize()));
        if actual != digest || tee.count != size {
            return Err(ImageError::DigestMismatch {
                what: format!("blob {digest} ({} of {size} bytes)", tee.count),
                expected: digest.to_string(),
                actual,
            });
        }
        let mut file = tee.file;
        file.flush().map_err(io_ctx("writing", staged))?;
        file.sync_all().map_err(io_ctx("syncing", staged))?;
        let dest = self.blob_path(digest);
        if !dest.exists() {
            fsutil::rename_durable(staged, &dest).map_err(io_ctx("renaming into place", &dest))?;
        }
        match (unpacked, what, layer_dir) {
            (Some(result), Ingest::Layer { diff_id }, Some(dir)) => {
                let size = result?;
                if let Some(found) = self.existing_layer(diff_id)? {
                    // Another image's pull unpacked it meanwhile.
                    return Ok(Some(found));
                }
                self.install_layer(dir, diff_id, size).map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// Decompresses and unpacks a layer from `reader` into `dest`; checks its diff id.
fn unpack_from<R: io::BufRead>(
    reader: R,
    diff_id: &str,
    dest: &std::path::Path,
) -> Result<u64, ImageError> {
    let layer_err = |source| ImageError::Layer {
        diff_id: diff_id.to_string(),
        source,
    };
    let decompressed = layer::decompress(reader).map_err(layer_err)?;
    let mut hashing = HashingReader::new(decompressed);
    let stats = layer::unpack(&mut hashing, dest, &UnpackOptions::default()).map_err(layer_err)?;
    let (actual, _) = hashing
        .finish()
        .map_err(|e| layer_err(LayerError::Tar(e)))?;
    if actual != diff_id {
        return Err(ImageError::DigestMismatch {
            what: "uncompressed layer".to_string(),
            expected: diff_id.to_string(),
            actual,
        });
    }
    Ok(stats.size)
}
