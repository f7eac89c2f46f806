//! What a build hands the store: each step's directory becomes a layer, and the last step's
//! config and layers an image, stored exactly as a loaded or pulled one is (blobs, unpacked
//! layer directories with their marker, a record, tags), so everything else (`up`, `images`,
//! `save`, `push`, `rmi`, `prune`) treats it like any other.
//!
//! A step's directory is moved into place, not copied nor unpacked again: it has to be on the
//! store's filesystem already, and it stops belonging to the caller once given.

use std::fs::{self, File};
use std::io::BufWriter;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use oci_spec::image::ImageConfiguration;
use serde_json::{json, Value};

use super::pack::{self, PackOptions, PackedLayer};
use super::reference::Reference;
use super::store::{
    gone_is_fine, io_ctx, leftover, BlobRef, ImageError, ImageRecord, ImageStore, LayerRef,
    MEDIA_TYPE_CONFIG, MEDIA_TYPE_MANIFEST,
};
use crate::engine::fsutil;

/// The buffer between the compressor and the blob file.
const WRITE_BUFFER: usize = 256 * 1024;

fn layer_dir_error(dir: &Path, reason: &'static str) -> ImageError {
    ImageError::LayerDir {
        dir: dir.to_path_buf(),
        reason,
    }
}

fn json_error(what: &str) -> impl FnOnce(serde_json::Error) -> ImageError + '_ {
    move |source| ImageError::Json {
        what: what.to_string(),
        source,
    }
}

/// `value` with every object's keys in byte order, at every depth: the serialization is then
/// a function of the content alone (the crate's maps keep insertion order here: the
/// `preserve_order` feature is on), so the same config always has the same digest (image id).
fn sorted_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> =
                map.into_iter().map(|(k, v)| (k, sorted_keys(v))).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted_keys).collect()),
        other => other,
    }
}

fn canonical_json(value: Value, what: &str) -> Result<Vec<u8>, ImageError> {
    serde_json::to_vec(&sorted_keys(value)).map_err(json_error(what))
}

impl ImageStore {
    /// Makes the directory `dir` a layer of the store: packs it into a blob (compressed and
    /// hashed as [`pack::pack`] says), then moves `dir` itself into `layers/` as the layer's
    /// unpacked form. When the store already has a layer with the same content (diff id), `dir`
    /// is removed and that one is returned. Either way `dir` is gone afterwards.
    ///
    /// `dir` must be a directory (not a symlink) on the store's filesystem, and outside the
    /// store's `tmp/`, which every writer empties. Its content may be anything a container
    /// left, owned by anyone with any modes.
    pub fn add_layer(&self, dir: &Path, opts: &PackOptions) -> Result<LayerRef, ImageError> {
        let md = fs::symlink_metadata(dir).map_err(io_ctx("stat", dir))?;
        if !md.file_type().is_dir() {
            return Err(layer_dir_error(dir, "not a directory"));
        }
        let layers = self.dir().layers();
        let store_dev = fs::metadata(&layers)
            .map_err(io_ctx("stat", &layers))?
            .dev();
        if md.dev() != store_dev {
            return Err(layer_dir_error(
                dir,
                "not on the image store's filesystem (it is moved, not copied)",
            ));
        }
        let real = fs::canonicalize(dir).map_err(io_ctx("resolving", dir))?;
        for (inside, reason) in [
            (
                self.tmp_dir(),
                "inside the image store's tmp/, which the store empties",
            ),
            (layers, "inside the image store's layers/"),
        ] {
            let inside = fs::canonicalize(&inside).map_err(io_ctx("resolving", &inside))?;
            if real.starts_with(&inside) {
                return Err(layer_dir_error(dir, reason));
            }
        }
        let _lock = self.lock()?;
        let staged = self.tmp_dir().join(fsutil::unique_name("blob-"));
        let packed = match self.pack_blob(dir, opts, &staged) {
            Ok(p) => p,
            Err(e) => return Err(e.with_leftovers(leftover(&staged, fs::remove_file(&staged)))),
        };
        let blob = BlobRef {
            media_type: packed.media_type.to_string(),
            digest: packed.digest.clone(),
            size: packed.compressed_size,
        };
        let (name, _) = match self.existing_layer(&packed.diff_id)? {
            Some(found) => {
                // The same content is there already (an earlier build of the same step).
                gone_is_fine(fs::remove_dir_all(dir)).map_err(io_ctx("removing", dir))?;
                found
            }
            None => self.install_layer(dir, &packed.diff_id, packed.size)?,
        };
        Ok(LayerRef {
            diff_id: packed.diff_id,
            blob,
            dir: name,
        })
    }

    /// Packs `dir` into the file `staged`, then moves it into `blobs/` (unless that blob is
    /// there already). Call with the lock held.
    pub(super) fn pack_blob(
        &self,
        dir: &Path,
        opts: &PackOptions,
        staged: &Path,
    ) -> Result<PackedLayer, ImageError> {
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(crate::engine::root::PRIVATE_FILE)
            .open(staged)
            .map_err(io_ctx("creating", staged))?;
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
        let packed = pack::pack(dir, &mut out, opts).map_err(|source| ImageError::Pack {
            dir: dir.to_path_buf(),
            source,
        })?;
        let file: File = out
            .into_inner()
            .map_err(|e| io_ctx("writing", staged)(e.into_error()))?;
        file.sync_all().map_err(io_ctx("syncing", staged))?;
        let dest = self.blob_path(&packed.digest);
        if dest.exists() {
            gone_is_fine(fs::remove_file(staged)).map_err(io_ctx("removing", staged))?;
        } else {
            fsutil::rename_durable(staged, &dest).map_err(io_ctx("renaming into place", &dest))?;
        }
        Ok(packed)
    }

    /// Where the store keeps `layer` unpacked (an overlayfs lower directory).
    pub fn layer_dir(&self, layer: &LayerRef) -> PathBuf {
        self.dir().layer(&layer.dir)
    }

    /// The layers of the image `input` (a name or an id, as [`ImageStore::resolve`] takes),
    /// bottom first; [`ImageStore::layer_dir`] gives their directories.
    pub fn layers_of(&self, input: &str) -> Result<Vec<LayerRef>, ImageError> {
        let tags = self.read_tags()?;
        Ok(self.find(input, &tags)?.layers)
    }

    /// Stores the image made of `config` and `layers` (bottom first, from
    /// [`ImageStore::add_layer`] or another image) and gives it `names`; returns its id.
    ///
    /// `config` is the OCI image config without `rootfs` (one given is replaced): it is set
    /// from `layers`, the whole serialized with sorted keys, so the same config and layers give
    /// the same id. A name an older image had moves to this one, as `docker build -t` does;
    /// the older image stays, without that name.
    pub fn add_image(
        &self,
        config: Value,
        layers: &[LayerRef],
        names: &[Reference],
    ) -> Result<String, ImageError> {
        let Value::Object(mut config) = config else {
            return Err(ImageError::NewImage(
                "the config is not a JSON object".into(),
            ));
        };
        if let Some(n) = names.iter().find(|n| n.digest().is_some()) {
            return Err(ImageError::NewImage(format!(
                "{n}: a name by digest cannot be given to a new image"
            )));
        }
        let diff_ids: Vec<&str> = layers.iter().map(|l| l.diff_id.as_str()).collect();
        config.insert(
            "rootfs".into(),
            json!({ "type": "layers", "diff_ids": diff_ids }),
        );
        let config_data = canonical_json(Value::Object(config), "new image config")?;
        // What `resolve` will parse: refused now rather than stored unrunnable.
        serde_json::from_slice::<ImageConfiguration>(&config_data)
            .map_err(json_error("new image config"))?;
        let _lock = self.lock()?;
        let mut size = 0;
        for l in layers {
            match self.existing_layer(&l.diff_id)? {
                Some((dir, layer_size)) if dir == l.dir => size += layer_size,
                _ => return Err(ImageError::NotFound(format!("layer {}", l.diff_id))),
            }
            if !self.has_blob(&l.blob.digest, l.blob.size) {
                return Err(ImageError::NotFound(format!(
                    "blob {} of layer {}",
                    l.blob.digest, l.diff_id
                )));
            }
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_MANIFEST,
            "config": {
                "mediaType": MEDIA_TYPE_CONFIG,
                "digest": fsutil::sha256_digest(&config_data),
                "size": config_data.len(),
            },
            "layers": layers.iter().map(|l| json!({
                "mediaType": l.blob.media_type,
                "digest": l.blob.digest,
                "size": l.blob.size,
            })).collect::<Vec<_>>(),
        });
        let manifest_data = canonical_json(manifest, "new image manifest")?;
        let mut created = Vec::new();
        let result = self.store_image(
            &config_data,
            &manifest_data,
            layers,
            size,
            names,
            &mut created,
        );
        match result {
            Ok(id) => Ok(id),
            Err(e) => {
                // Blobs this call wrote that no record refers to (the record was not written).
                let recorded = self
                    .read_record(&fsutil::sha256_digest(&config_data))
                    .is_ok();
                let left = created
                    .iter()
                    .filter(|_| !recorded)
                    .filter_map(|p| leftover(p, fs::remove_file(p)));
                Err(e.with_leftovers(left.collect::<Vec<_>>()))
            }
        }
    }

    /// Writes the config and manifest blobs (recording in `created` those that were not
    /// there), the record and the names. Call with the lock held.
    fn store_image(
        &self,
        config_data: &[u8],
        manifest_data: &[u8],
        layers: &[LayerRef],
        size: u64,
        names: &[Reference],
        created: &mut Vec<PathBuf>,
    ) -> Result<String, ImageError> {
        let mut put = |data: &[u8]| -> Result<String, ImageError> {
            let path = self.blob_path(&fsutil::sha256_digest(data));
            let existed = path.exists();
            let digest = self.put_blob(data)?;
            if !existed {
                created.push(path);
            }
            Ok(digest)
        };
        let config_digest = put(config_data)?;
        let manifest_digest = put(manifest_data)?;
        let record = ImageRecord {
            id: config_digest.clone(),
            manifest: BlobRef {
                media_type: MEDIA_TYPE_MANIFEST.into(),
                digest: manifest_digest,
                size: manifest_data.len() as u64,
            },
            config: BlobRef {
                media_type: MEDIA_TYPE_CONFIG.into(),
                digest: config_digest,
                size: config_data.len() as u64,
            },
            layers: layers.to_vec(),
            size,
            loaded_at: fsutil::format_rfc3339(fsutil::now_secs()),
        };
        let mut tags = self.read_tags()?;
        self.commit(&record, names, &mut tags)?;
        self.write_tags(&tags)?;
        Ok(record.id)
    }
}

#[cfg(test)]
mod tests;
