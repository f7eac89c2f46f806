//! A layer from a directory that stays where it is (a container's upper directory, for
//! `commit`): packed into a blob as a build step's is, then unpacked into the store from that
//! blob, so the store's copy is what the blob says and the container keeps its own.

use std::fs;
use std::path::Path;

use serde_json::Value;

use super::pack::PackOptions;
use super::store::{leftover, BlobRef, ImageError, ImageStore, LayerRef};
use crate::engine::fsutil;

impl ImageStore {
    /// Packs `dir` (left as it is; its content may be hostile: the packer walks it by
    /// descriptors and never follows a link) into a layer of the store.
    pub fn add_layer_from(&self, dir: &Path, opts: &PackOptions) -> Result<LayerRef, ImageError> {
        let _lock = self.lock()?;
        let staged = self.tmp_dir().join(fsutil::unique_name("blob-"));
        let packed = match self.pack_blob(dir, opts, &staged) {
            Ok(p) => p,
            Err(e) => return Err(e.with_leftovers(leftover(&staged, fs::remove_file(&staged)))),
        };
        let (name, _) = self.ensure_layer(&packed.diff_id, &packed.digest)?;
        Ok(LayerRef {
            diff_id: packed.diff_id,
            blob: BlobRef {
                media_type: packed.media_type.to_string(),
                digest: packed.digest,
                size: packed.compressed_size,
            },
            dir: name,
        })
    }

    /// The OCI config of image `input` (a name or an id) as stored.
    pub fn config_of(&self, input: &str) -> Result<Value, ImageError> {
        let tags = self.read_tags()?;
        let record = self.find(input, &tags)?;
        self.raw_config(&record)
    }
}
