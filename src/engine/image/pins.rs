//! Pins: layers kept for another user of the store — the build cache — although no image
//! refers to them. A pin is a small record named by its owner (`build-<cache key>`); the
//! garbage collector (`image rm`, `prune`, after a load) keeps every layer a pin names, and a
//! pin whose layer went missing anyway (removed by hand) reads as absent, never as a layer.

use std::fs;
use std::io;

use serde::{Deserialize, Serialize};

use super::store::{io_ctx, ImageError, ImageStore, LayerRef};
use crate::engine::fsutil;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pin {
    layers: Vec<LayerRef>,
    /// When its owner made what it holds (seconds since the epoch); absent in pins written
    /// before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created: Option<i64>,
}

/// What a whole pin holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Pinned {
    pub layers: Vec<LayerRef>,
    /// When it was made, if recorded.
    pub created: Option<i64>,
}

/// Pin names are file names: the owner's prefix and a hex key, nothing else.
fn valid(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl ImageStore {
    /// Records the pin `name` holding `layers` made at `created` (replacing one of that name),
    /// under the lock so no collection runs between a layer's arrival and its pin.
    pub fn pin(&self, name: &str, layers: &[LayerRef], created: i64) -> Result<(), ImageError> {
        if !valid(name) {
            return Err(ImageError::Corrupt(format!("invalid pin name {name:?}")));
        }
        let _lock = self.lock()?;
        let dir = self.dir().pins();
        crate::engine::root::private_dir(&dir).map_err(io_ctx("creating", &dir))?;
        let path = self.dir().pin(name);
        let data = serde_json::to_vec(&Pin {
            layers: layers.to_vec(),
            created: Some(created),
        })
        .map_err(|source| ImageError::Json {
            what: path.display().to_string(),
            source,
        })?;
        fsutil::write_atomic(&path, &data).map_err(io_ctx("writing", &path))
    }

    /// Pin `name` when it exists and every one of its layers is still whole (its directory,
    /// marker and blob present).
    pub fn pinned(&self, name: &str) -> Option<Pinned> {
        if !valid(name) {
            return None;
        }
        let data = fs::read(self.dir().pin(name)).ok()?;
        let pin: Pin = serde_json::from_slice(&data).ok()?;
        let whole = pin.layers.iter().all(|l| {
            self.dir().layer(&l.dir).is_dir()
                && self.dir().layer_marker(&l.dir).is_file()
                && self.has_blob(&l.blob.digest, l.blob.size)
        });
        whole.then_some(Pinned {
            layers: pin.layers,
            created: pin.created,
        })
    }

    /// Every pin's layers, for the collector; a pin that cannot be read keeps nothing.
    pub(crate) fn pinned_layers(&self) -> Result<Vec<LayerRef>, ImageError> {
        let dir = self.dir().pins();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_ctx("listing", &dir)(e)),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            if let Ok(data) = fs::read(entry.path()) {
                if let Ok(pin) = serde_json::from_slice::<Pin>(&data) {
                    out.extend(pin.layers);
                }
            }
        }
        Ok(out)
    }

    /// Removes every pin whose name starts with `prefix` — with `all`, else only those whose
    /// layers no image uses (what `builder prune` without `-a` calls dangling) — then the
    /// layers and blobs nothing keeps any more; returns how many pins went and the bytes freed.
    pub fn unpin_all(&self, prefix: &str, all: bool) -> Result<(u64, u64), ImageError> {
        let _lock = self.lock()?;
        let doomed = self.unpinnable(prefix, all)?;
        for p in &doomed {
            fs::remove_file(p).map_err(io_ctx("removing", p))?;
        }
        let before = self.disk_usage();
        self.collect_garbage(None)?;
        Ok((
            doomed.len() as u64,
            before.saturating_sub(self.disk_usage()),
        ))
    }

    /// The pins `unpin_all` removes, changing nothing (`builder prune --dry-run` counts them).
    pub fn unpinnable(
        &self,
        prefix: &str,
        all: bool,
    ) -> Result<Vec<std::path::PathBuf>, ImageError> {
        let dir = self.dir().pins();
        let in_images: std::collections::BTreeSet<String> = self
            .records()?
            .into_iter()
            .flat_map(|r| r.layers.into_iter().map(|l| l.dir))
            .collect();
        let used = |path: &std::path::Path| {
            fs::read(path)
                .ok()
                .and_then(|d| serde_json::from_slice::<Pin>(&d).ok())
                // A step that made no layer holds nothing: only `all` drops it.
                .is_some_and(|p| p.layers.iter().all(|l| in_images.contains(&l.dir)))
        };
        let mut doomed = Vec::new();
        match fs::read_dir(&dir) {
            Ok(entries) => {
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if name.starts_with(prefix) && (all || !used(&entry.path())) {
                        doomed.push(entry.path());
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_ctx("listing", &dir)(e)),
        }
        Ok(doomed)
    }

    /// Bytes in blobs and unpacked layers (their markers' sizes).
    fn disk_usage(&self) -> u64 {
        let mut total = 0;
        if let Ok(entries) = fs::read_dir(self.dir().blobs()) {
            total += entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum::<u64>();
        }
        if let Ok(entries) = fs::read_dir(self.dir().layers()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if crate::engine::root::ImageDir::json_stem(&name).is_some() {
                    if let Ok(data) = fs::read(e.path()) {
                        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&data) {
                            total += v["size"].as_u64().unwrap_or(0);
                        }
                    }
                }
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::super::layer::Compression;
    use super::super::testimage::{ArchiveFormat, TestImage};
    use super::*;

    #[test]
    fn a_pinned_layer_outlives_its_image_until_unpinned() {
        let t = tempfile::tempdir().unwrap();
        let s = ImageStore::open(t.path().join("images")).unwrap();
        let img = TestImage {
            compression: Compression::Gzip,
            ..TestImage::default()
        };
        s.load_archive(&img.archive(ArchiveFormat::Oci).unwrap()[..])
            .unwrap();
        let record = s.read_record(&s.resolve("busybox").unwrap().id).unwrap();
        s.pin("build-abc", &record.layers, 1_700_000_000).unwrap();
        let held = Pinned {
            layers: record.layers.clone(),
            created: Some(1_700_000_000),
        };
        assert_eq!(s.pinned("build-abc"), Some(held.clone()));
        assert!(s.pin("../x", &record.layers, 0).is_err());
        assert_eq!(s.pinned("nope"), None);

        // While an image uses its layers, the pin is not dangling: only `-a` removes it.
        assert_eq!(s.unpin_all("build-", false).unwrap().0, 0);
        s.pin("build-abc", &record.layers, 1_700_000_000).unwrap();
        s.remove("busybox", false).unwrap();
        let dir = s.dir().layer(&record.layers[0].dir);
        assert!(dir.is_dir(), "the pin keeps the layer");
        assert_eq!(s.pinned("build-abc"), Some(held));

        let (pins, freed) = s.unpin_all("build-", false).unwrap();
        assert_eq!(pins, 1);
        assert!(freed > 0);
        assert!(!dir.exists(), "unpinned, the layer goes");
        assert_eq!(s.pinned("build-abc"), None);
    }

    #[test]
    fn a_pin_whose_layer_went_missing_reads_as_absent() {
        let t = tempfile::tempdir().unwrap();
        let s = ImageStore::open(t.path().join("images")).unwrap();
        s.load_archive(&TestImage::default().archive(ArchiveFormat::Oci).unwrap()[..])
            .unwrap();
        let record = s.read_record(&s.resolve("busybox").unwrap().id).unwrap();
        s.pin("build-1", &record.layers, 0).unwrap();
        fs::remove_file(s.dir().layer_marker(&record.layers[0].dir)).unwrap();
        assert_eq!(s.pinned("build-1"), None);
    }
}
