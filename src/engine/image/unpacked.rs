//! The store's unpacked layers (overlayfs lower directories), shared by every image that
//! uses them: found complete by their marker, unpacked in staging, renamed into place.

use std::fs::{self, File};
use std::io::BufReader;
use std::path::Path;

use super::layer::{self, LayerError, UnpackOptions};
use super::store::{gone_is_fine, hex_of, io_ctx, leftover, ImageError, ImageStore, LayerMarker};
use crate::engine::fsutil::{self, HashingReader};

impl ImageStore {
    /// The directory name and size of the layer `diff_id` when it is unpacked and complete.
    /// Call with the lock held (an incomplete left-over is removed).
    pub(crate) fn existing_layer(
        &self,
        diff_id: &str,
    ) -> Result<Option<(String, u64)>, ImageError> {
        // Its first 12 hex digits name a directory: anything but `sha256:<64 lowercase hex>`
        // (`sha256:../../x…` from a hostile config) is refused before a path is built from it.
        if super::reference::validate_digest(diff_id).is_err() {
            return Err(ImageError::InvalidArchive(format!(
                "unsupported diff id {diff_id:?}"
            )));
        }
        let hex = hex_of(diff_id);
        let name = hex[..12].to_string();
        let marker = self.dir().layer_marker(&name);
        let dir = self.dir().layer(&name);
        if let Ok(data) = fs::read(&marker) {
            let m: LayerMarker =
                serde_json::from_slice(&data).map_err(|source| ImageError::Json {
                    what: marker.display().to_string(),
                    source,
                })?;
            if m.diff_id != diff_id {
                return Err(ImageError::Corrupt(format!(
                    "layers {} and {diff_id} share the directory {name}",
                    m.diff_id
                )));
            }
            if dir.is_dir() {
                return Ok(Some((name, m.size)));
            }
            gone_is_fine(fs::remove_file(&marker)).map_err(io_ctx("removing", &marker))?;
        }
        if dir.exists() {
            // Unpacked by a writer that died before writing the marker.
            fs::remove_dir_all(&dir).map_err(io_ctx("removing", &dir))?;
        }
        Ok(None)
    }

    /// Makes sure the layer `diff_id` is unpacked (from the blob `blob`); returns its
    /// directory name and size. Call with the lock held.
    pub(crate) fn ensure_layer(
        &self,
        diff_id: &str,
        blob: &str,
    ) -> Result<(String, u64), ImageError> {
        if let Some(found) = self.existing_layer(diff_id)? {
            return Ok(found);
        }
        let tmp = self.tmp_dir().join(fsutil::unique_name("layer-"));
        fs::create_dir(&tmp).map_err(io_ctx("creating", &tmp))?;
        let size = match self.unpack_blob(diff_id, blob, &tmp) {
            Ok(size) => size,
            Err(e) => return Err(e.with_leftovers(leftover(&tmp, fs::remove_dir_all(&tmp)))),
        };
        self.install_layer(&tmp, diff_id, size)
    }

    /// Moves a fully unpacked layer from `tmp` into place and marks it complete.
    pub(crate) fn install_layer(
        &self,
        tmp: &Path,
        diff_id: &str,
        size: u64,
    ) -> Result<(String, u64), ImageError> {
        if super::reference::validate_digest(diff_id).is_err() {
            return Err(ImageError::InvalidArchive(format!(
                "unsupported diff id {diff_id:?}"
            )));
        }
        let name = hex_of(diff_id)[..12].to_string();
        let marker = self.dir().layer_marker(&name);
        let dir = self.dir().layer(&name);
        // One syncfs makes the whole tree durable before the marker says it is complete.
        let f = File::open(tmp).map_err(io_ctx("opening", tmp))?;
        rustix::fs::syncfs(&f).map_err(|e| io_ctx("syncing", tmp)(e.into()))?;
        fs::rename(tmp, &dir).map_err(io_ctx("renaming into place", &dir))?;
        let data = serde_json::to_vec(&LayerMarker {
            diff_id: diff_id.to_string(),
            size,
        })
        .map_err(|source| ImageError::Json {
            what: marker.display().to_string(),
            source,
        })?;
        fsutil::write_atomic(&marker, &data).map_err(io_ctx("writing", &marker))?;
        Ok((name, size))
    }

    fn unpack_blob(&self, diff_id: &str, blob: &str, dest: &Path) -> Result<u64, ImageError> {
        let path = self.blob_path(blob);
        let file = File::open(&path).map_err(io_ctx("opening layer blob", &path))?;
        let layer_err = |source| ImageError::Layer {
            diff_id: diff_id.to_string(),
            source,
        };
        let reader =
            layer::decompress(BufReader::with_capacity(256 * 1024, file)).map_err(layer_err)?;
        let mut hashing = HashingReader::new(reader);
        let stats =
            layer::unpack(&mut hashing, dest, &UnpackOptions::default()).map_err(layer_err)?;
        let (actual, _) = hashing
            .finish()
            .map_err(|e| layer_err(LayerError::Tar(e)))?;
        if actual != diff_id {
            return Err(ImageError::DigestMismatch {
                what: format!("uncompressed layer {blob}"),
                expected: diff_id.to_string(),
                actual,
            });
        }
        Ok(stats.size)
    }
}
