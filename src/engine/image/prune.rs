//! `image prune`: removing the images nothing needs, then the layers and blobs only they used.
//!
//! Which images containers use is the caller's to say (the store knows nothing of containers):
//! the CLI passes the image ids of every container record under the state root, so a stopped
//! container keeps its image as it does with Docker.

use std::collections::BTreeSet;
use std::fs;
use std::io;

use serde::Deserialize;

use super::reference::Reference;
use super::store::{io_ctx, ImageError, ImageRecord, ImageStore, RemoveEvent};
use crate::engine::root::ImageDir;

/// What a prune did, in Docker's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// `untagged: NAME` and `deleted: ID` lines, in order: each image's names, the image, then
    /// the layers no image uses any more.
    pub events: Vec<RemoveEvent>,
    /// Bytes freed on disk: the removed blobs' sizes plus the removed layers' unpacked sizes.
    pub reclaimed: u64,
}

/// The size a layer's marker records (the only field read here).
#[derive(Deserialize)]
struct LayerSize {
    size: u64,
}

/// Whether an image counts as dangling for `prune` without `-a`: it has no name with a tag.
/// Names by digest alone (`name@sha256:…`) do not keep an image, as in moby's prune.
fn dangling(names: &[Reference]) -> bool {
    !names
        .iter()
        .any(|r| r.tag().is_some() && r.digest().is_none())
}

impl ImageStore {
    /// Removes the images no container uses (`in_use`: image ids): only the dangling ones
    /// (no tagged name) unless `all`; then the layers and blobs no remaining image refers to.
    pub fn prune(&self, all: bool, in_use: &BTreeSet<String>) -> Result<PruneReport, ImageError> {
        tracing::debug!(all, in_use = in_use.len(), "image store: pruning");
        let _lock = self.lock()?;
        let mut tags = self.read_tags()?;
        let mut report = PruneReport::default();
        let (doomed, kept) = self.prune_split(all, in_use, &tags)?;
        for (_, names) in &doomed {
            for name in names {
                tags.remove(&name.to_string());
                report.events.push(RemoveEvent::Untagged(name.familiar()));
            }
        }
        let doomed: Vec<ImageRecord> = doomed.into_iter().map(|(r, _)| r).collect();
        if doomed.is_empty() {
            return Ok(report);
        }
        // Names first: an image that lost its names but not its record is dangling, and the
        // next prune takes it; a record without its names would never be wrong either way.
        self.write_tags(&tags)?;
        for record in &doomed {
            let path = self.record_path(&record.id);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_ctx("removing", &path)(e)),
            }
            report.events.push(RemoveEvent::Deleted(record.id.clone()));
        }
        report.reclaimed = self.unreferenced_size(&kept)?;
        for diff_id in self.collect_garbage(None)? {
            report.events.push(RemoveEvent::Deleted(diff_id));
        }
        Ok(report)
    }

    /// What `prune` would do, changing nothing (`--dry-run`): the images it would remove, by
    /// id, each with the names it would untag, in the order `prune` reports them.
    pub fn prunable(
        &self,
        all: bool,
        in_use: &BTreeSet<String>,
    ) -> Result<Vec<(String, Vec<String>)>, ImageError> {
        let tags = self.read_tags()?;
        let (doomed, _) = self.prune_split(all, in_use, &tags)?;
        Ok(doomed
            .into_iter()
            .map(|(r, names)| (r.id, names.iter().map(Reference::familiar).collect()))
            .collect())
    }

    /// The records `prune` removes (with their names) and those it keeps, sorted by id.
    #[allow(clippy::type_complexity)]
    fn prune_split(
        &self,
        all: bool,
        in_use: &BTreeSet<String>,
        tags: &super::store::Tags,
    ) -> Result<(Vec<(ImageRecord, Vec<Reference>)>, Vec<ImageRecord>), ImageError> {
        let mut records = self.records()?;
        records.sort_by(|a, b| a.id.cmp(&b.id));
        let mut doomed = Vec::new();
        let mut kept = Vec::new();
        for record in records {
            let names: Vec<Reference> = tags
                .iter()
                .filter(|(_, id)| **id == record.id)
                .filter_map(|(name, _)| Reference::parse(name).ok())
                .collect();
            if in_use.contains(&record.id) || !(all || dangling(&names)) {
                kept.push(record);
            } else {
                doomed.push((record, names));
            }
        }
        Ok((doomed, kept))
    }

    /// Bytes that garbage collection will free once only `kept` remain: blobs none of them
    /// refers to, and unpacked layers (their recorded size) none of them uses.
    fn unreferenced_size(&self, kept: &[ImageRecord]) -> Result<u64, ImageError> {
        let mut blobs = BTreeSet::new();
        let mut layers = BTreeSet::new();
        for r in kept {
            blobs.insert(r.manifest.digest.clone());
            blobs.insert(r.config.digest.clone());
            for l in &r.layers {
                blobs.insert(l.blob.digest.clone());
                layers.insert(l.dir.clone());
            }
        }
        let mut total = 0u64;
        let blob_dir = self.dir().blobs();
        for entry in fs::read_dir(&blob_dir)
            .map_err(io_ctx("listing", &blob_dir))?
            .flatten()
        {
            let Ok(hex) = entry.file_name().into_string() else {
                continue;
            };
            if !blobs.contains(&format!("sha256:{hex}")) {
                total += entry.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
        let layer_dir = self.dir().layers();
        for entry in fs::read_dir(&layer_dir)
            .map_err(io_ctx("listing", &layer_dir))?
            .flatten()
        {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let Some(dir) = ImageDir::json_stem(&name) else {
                continue;
            };
            if layers.contains(dir) {
                continue;
            }
            // A marker that does not parse frees its directory all the same; its size is
            // unknown, so it adds nothing rather than a guess.
            if let Some(m) = fs::read(entry.path())
                .ok()
                .and_then(|d| serde_json::from_slice::<LayerSize>(&d).ok())
            {
                total += m.size;
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::image::testimage::{ArchiveFormat, TestImage};

    fn load(store: &ImageStore, img: &TestImage) -> String {
        let data = img.archive(ArchiveFormat::Oci).unwrap();
        store.load_archive(&data[..]).unwrap()[0].id.clone()
    }

    fn labelled(name: &str, label: &str, two_layers: bool) -> TestImage {
        TestImage {
            name: name.into(),
            two_layers,
            labels: [("which".to_string(), label.to_string())].into(),
            ..TestImage::default()
        }
    }

    fn deleted(report: &PruneReport) -> Vec<&str> {
        report
            .events
            .iter()
            .filter_map(|e| match e {
                RemoveEvent::Deleted(d) => Some(d.as_str()),
                RemoveEvent::Untagged(_) => None,
            })
            .collect()
    }

    /// Docker's `image prune` without `-a` takes dangling images only, never one a container
    /// uses; `-a` takes every unused one; layers go with the last image using them and the
    /// reclaimed space counts them.
    #[test]
    fn prune_dangling_then_all_keeps_images_in_use() {
        let t = tempfile::tempdir().unwrap();
        let s = ImageStore::open(t.path().join("images")).unwrap();
        // `old` loses its name to `new` (a re-tag, as a new pull of the same tag does).
        let old = load(&s, &labelled("app:1", "old", true));
        let new = load(&s, &labelled("app:1", "new", false));
        // `used` is dangling too, but a container uses it.
        let used = load(&s, &labelled("used:1", "used", false));
        let mut tags = s.read_tags().unwrap();
        tags.retain(|_, id| *id != used);
        s.write_tags(&tags).unwrap();
        let kept = load(&s, &labelled("kept:1", "kept", false));
        let in_use: BTreeSet<String> = [used.clone()].into();

        let r = s.prune(false, &in_use).unwrap();
        let gone = deleted(&r);
        assert_eq!(gone[0], old);
        // Layers only `old` used are reported deleted (diff ids).
        assert!(gone.len() > 1, "{r:?}");
        assert!(r.reclaimed > 0);
        assert!(!r
            .events
            .iter()
            .any(|e| matches!(e, RemoveEvent::Untagged(_))));
        assert!(s.read_record(&old).is_err());
        for id in [&new, &used, &kept] {
            let image = s.resolve(id).unwrap();
            assert!(
                image.layer_dirs.iter().all(|d| d.is_dir()),
                "{id} must stay"
            );
        }
        // Nothing dangling left: a second run removes nothing.
        assert_eq!(s.prune(false, &in_use).unwrap(), PruneReport::default());

        let r = s.prune(true, &in_use).unwrap();
        let untagged: BTreeSet<String> = r
            .events
            .iter()
            .filter_map(|e| match e {
                RemoveEvent::Untagged(n) => Some(n.clone()),
                RemoveEvent::Deleted(_) => None,
            })
            .collect();
        assert_eq!(untagged, ["app:1".to_string(), "kept:1".to_string()].into());
        let gone: BTreeSet<&str> = deleted(&r).into_iter().collect();
        assert!(gone.contains(new.as_str()) && gone.contains(kept.as_str()));
        // The shared base layer stays: `used` still needs it.
        let image = s.resolve(&used).unwrap();
        assert!(image.layer_dirs[0].join("bin/busybox").is_file());
        assert_eq!(s.records().unwrap().len(), 1);
        let blobs = fs::read_dir(s.root().join("blobs/sha256")).unwrap().count();
        assert_eq!(blobs, 3, "manifest, config and layer of `used` only");
    }

    /// moby's prune: a name by digest alone (`name@sha256:…`, what a pull by digest records)
    /// does not make an image "tagged"; the name is untagged as the image goes.
    #[test]
    fn digest_only_names_are_dangling() {
        let t = tempfile::tempdir().unwrap();
        let s = ImageStore::open(t.path().join("images")).unwrap();
        let id = load(&s, &labelled("app:1", "x", false));
        let manifest = s.read_record(&id).unwrap().manifest.digest;
        let by_digest = Reference::parse("app:1")
            .unwrap()
            .with_digest(&manifest)
            .unwrap();
        let mut tags = s.read_tags().unwrap();
        tags.clear();
        tags.insert(by_digest.to_string(), id.clone());
        s.write_tags(&tags).unwrap();
        let r = s.prune(false, &BTreeSet::new()).unwrap();
        assert_eq!(r.events[0], RemoveEvent::Untagged(by_digest.familiar()));
        assert_eq!(r.events[1], RemoveEvent::Deleted(id));
        assert!(s.read_tags().unwrap().is_empty());
        assert_eq!(
            fs::read_dir(s.root().join("layers")).unwrap().count(),
            0,
            "no layer left"
        );
    }
}
