//! `image rm`: untagging and deleting an image, and the garbage collection of the layers and
//! blobs no image refers to any more (also run after a load and by prune).

use std::collections::BTreeSet;
use std::fs;
use std::io;

use super::reference::Reference;
use super::store::{
    gone_is_fine, hex_of, io_ctx, ImageError, ImageStore, LayerMarker, RemoveEvent, Tags,
};
use crate::engine::root::ImageDir;

/// What one `remove` does: the names it untags, and whether the image `id` goes too.
struct RemovePlan {
    id: String,
    untag: Vec<Reference>,
    delete: bool,
}

impl ImageStore {
    /// Removes a name, or an image with all its names (`force` is needed when an id names an
    /// image with several names), like `docker image rm`. Layers and blobs no other image uses
    /// are deleted. Whether a container still uses the image is the caller's to check.
    pub fn remove(&self, input: &str, force: bool) -> Result<Vec<RemoveEvent>, ImageError> {
        tracing::debug!(image = input, force, "image store: removing");
        let _lock = self.lock()?;
        let mut tags = self.read_tags()?;
        let plan = self.remove_plan(input, force, &tags)?;
        let mut events = Vec::new();
        for r in &plan.untag {
            tags.remove(&r.to_string());
            events.push(RemoveEvent::Untagged(r.familiar()));
        }
        self.write_tags(&tags)?;
        if !plan.delete {
            return Ok(events);
        }
        let path = self.record_path(&plan.id);
        fs::remove_file(&path).map_err(io_ctx("removing", &path))?;
        events.push(RemoveEvent::Deleted(plan.id));
        for diff_id in self.collect_garbage(None)? {
            events.push(RemoveEvent::Deleted(diff_id));
        }
        Ok(events)
    }

    /// What `remove` would do, changing nothing (`image rm --dry-run`): the same refusals, the
    /// names it would untag and the image it would delete (not the layers that would go with
    /// it: which do is known only once it is gone).
    pub fn check_remove(&self, input: &str, force: bool) -> Result<Vec<RemoveEvent>, ImageError> {
        let tags = self.read_tags()?;
        let plan = self.remove_plan(input, force, &tags)?;
        let mut events: Vec<RemoveEvent> = plan
            .untag
            .iter()
            .map(|r| RemoveEvent::Untagged(r.familiar()))
            .collect();
        if plan.delete {
            events.push(RemoveEvent::Deleted(plan.id));
        }
        Ok(events)
    }

    /// `remove`'s decision: by name (not by id or digest) only that name is untagged, and the
    /// image deleted when it was its last; by id or digest every name goes with the image,
    /// which needs `force` when there are several.
    fn remove_plan(&self, input: &str, force: bool, tags: &Tags) -> Result<RemovePlan, ImageError> {
        let record = self.find(input, tags)?;
        let names = Self::tags_of(tags, &record.id);
        let by_name = Reference::parse(input)
            .ok()
            .filter(|r| r.digest().is_none() && tags.contains_key(&r.to_string()));
        if let Some(r) = by_name {
            return Ok(RemovePlan {
                id: record.id,
                untag: vec![r],
                delete: names.len() <= 1,
            });
        }
        if names.len() > 1 && !force {
            return Err(ImageError::Conflict(format!(
                "unable to delete {} (must be forced) - image is referenced in multiple \
                 repositories",
                &hex_of(&record.id)[..12]
            )));
        }
        Ok(RemovePlan {
            id: record.id,
            untag: names,
            delete: true,
        })
    }

    /// Deletes the layers and blobs no image record refers to; returns the diff ids of the
    /// deleted layers. With `only_blobs`, only those blobs are considered (after a load, the
    /// staged files the archive carried but no image uses). Call with the lock held.
    pub(crate) fn collect_garbage(
        &self,
        only_blobs: Option<&BTreeSet<String>>,
    ) -> Result<Vec<String>, ImageError> {
        let records = self.records()?;
        let mut blobs = BTreeSet::new();
        let mut layers = BTreeSet::new();
        for l in self.pinned_layers()? {
            blobs.insert(hex_of(&l.blob.digest).to_string());
            layers.insert(l.dir);
        }
        for r in &records {
            blobs.insert(hex_of(&r.manifest.digest).to_string());
            blobs.insert(hex_of(&r.config.digest).to_string());
            for l in &r.layers {
                blobs.insert(hex_of(&l.blob.digest).to_string());
                layers.insert(l.dir.clone());
            }
        }
        let blob_dir = self.dir().blobs();
        let candidates: Vec<String> = match only_blobs {
            Some(set) => set.iter().map(|d| hex_of(d).to_string()).collect(),
            None => fs::read_dir(&blob_dir)
                .map_err(io_ctx("listing", &blob_dir))?
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect(),
        };
        for hex in candidates {
            if !blobs.contains(&hex) {
                let p = blob_dir.join(&hex);
                match fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_ctx("removing", &p)(e)),
                }
            }
        }
        let mut deleted = Vec::new();
        if only_blobs.is_some() {
            return Ok(deleted);
        }
        let ldir = self.dir().layers();
        for entry in fs::read_dir(&ldir)
            .map_err(io_ctx("listing", &ldir))?
            .flatten()
        {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if ImageDir::json_stem(&name).is_some() || layers.contains(&name) {
                continue;
            }
            let marker = self.dir().layer_marker(&name);
            if let Ok(data) = fs::read(&marker) {
                if let Ok(m) = serde_json::from_slice::<LayerMarker>(&data) {
                    deleted.push(m.diff_id);
                }
            }
            // Marker first: a crash in between leaves an incomplete dir, which the next load
            // redoes, never a marker without its dir.
            gone_is_fine(fs::remove_file(&marker)).map_err(io_ctx("removing", &marker))?;
            let p = entry.path();
            fs::remove_dir_all(&p).map_err(io_ctx("removing", &p))?;
        }
        Ok(deleted)
    }
}
