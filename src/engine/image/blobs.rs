//! The store's blobs (manifests, configs, layers as loaded or pulled): written once under
//! their sha256, verified while they stream in, read back by digest.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;

use super::store::{gone_is_fine, io_ctx, leftover, ImageError, ImageStore};
use crate::engine::fsutil::{self, HashingReader};

impl ImageStore {
    pub(crate) fn read_blob(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let path = self.blob_path(digest);
        fs::read(&path).map_err(io_ctx("reading blob", &path))
    }

    /// Writes `data` as a blob (when not already there); returns its digest.
    pub(crate) fn put_blob(&self, data: &[u8]) -> Result<String, ImageError> {
        let digest = fsutil::sha256_digest(data);
        let path = self.blob_path(&digest);
        if !path.exists() {
            fsutil::write_atomic(&path, data).map_err(io_ctx("writing", &path))?;
        }
        Ok(digest)
    }

    /// Streams `reader` into the blob store, verifying `expected` when given; returns the
    /// digest, size, and whether the blob is new. The data is fsynced before the rename.
    pub(crate) fn stream_blob<R: Read>(
        &self,
        reader: R,
        expected: Option<&str>,
        what: &str,
    ) -> Result<(String, u64, bool), ImageError> {
        let tmp = self.tmp_dir().join(fsutil::unique_name("blob-"));
        let result = (|| {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(crate::engine::root::PRIVATE_FILE)
                .open(&tmp)
                .map_err(io_ctx("creating", &tmp))?;
            let mut hashing = HashingReader::new(reader);
            io::copy(&mut hashing, &mut file).map_err(io_ctx("writing", &tmp))?;
            let (digest, size) = hashing.finish().map_err(io_ctx("writing", &tmp))?;
            if let Some(expected) = expected {
                if expected != digest {
                    return Err(ImageError::DigestMismatch {
                        what: what.to_string(),
                        expected: expected.to_string(),
                        actual: digest,
                    });
                }
            }
            file.flush().map_err(io_ctx("writing", &tmp))?;
            file.sync_all().map_err(io_ctx("syncing", &tmp))?;
            let dest = self.blob_path(&digest);
            if dest.exists() {
                gone_is_fine(fs::remove_file(&tmp)).map_err(io_ctx("removing", &tmp))?;
                return Ok((digest, size, false));
            }
            fsutil::rename_durable(&tmp, &dest).map_err(io_ctx("renaming into place", &dest))?;
            Ok((digest, size, true))
        })();
        result.map_err(|e| e.with_leftovers(leftover(&tmp, fs::remove_file(&tmp))))
    }
}
