//! Recording a pulled image: its record in the store and its names.

use std::collections::BTreeMap;

use super::super::error::RegistryError;
use super::resolve::Resolved;
use super::{short_id, Ctx, PullEvent, Pulled};
use crate::engine::fsutil;
use crate::engine::image::{ImageRecord, LayerRef, Reference};

/// Writes the image record and its names: the reference as given, and `name@digest` (Docker's
/// `RepoDigests`).
pub(super) fn record(
    ctx: &Ctx<'_>,
    index: usize,
    r: &Resolved,
    tags: &mut BTreeMap<String, String>,
) -> Result<Pulled, RegistryError> {
    let image = &ctx.requests[index].reference;
    let store_err = |source| RegistryError::Store {
        image: image.clone(),
        source,
    };
    let mut layers = Vec::new();
    let mut size = 0;
    for (blob, diff_id) in &r.layers {
        let existed = ctx.store.existing_layer(diff_id).map_err(store_err)?;
        let (dir, layer_size) = match existed {
            Some(found) => found,
            None => {
                ctx.emit(
                    index,
                    PullEvent::LayerExtracting {
                        layer: short_id(&blob.digest),
                    },
                );
                let found = ctx
                    .store
                    .ensure_layer(diff_id, &blob.digest)
                    .map_err(store_err)?;
                ctx.emit(
                    index,
                    PullEvent::LayerDone {
                        layer: short_id(&blob.digest),
                    },
                );
                found
            }
        };
        size += layer_size;
        layers.push(LayerRef {
            diff_id: diff_id.clone(),
            blob: blob.clone(),
            dir,
        });
    }
    let record = ImageRecord {
        id: r.config.digest.clone(),
        manifest: r.manifest.clone(),
        config: r.config.clone(),
        layers,
        size,
        loaded_at: fsutil::format_rfc3339(fsutil::now_secs()),
    };
    let mut names = Vec::new();
    if r.reference.tag().is_some() {
        let mut tagged = r.reference.clone();
        if tagged.digest().is_some() {
            // `name:tag@digest` is stored as `name:tag` (what `image ls` shows) and by digest.
            tagged = Reference::parse(&format!(
                "{}:{}",
                r.reference.name(),
                r.reference.tag().unwrap_or("latest")
            ))?;
        }
        names.push(tagged);
    }
    let by_digest = Reference::parse(&format!("{}@{}", r.reference.name(), r.digest))?;
    names.push(by_digest);
    ctx.store.commit(&record, &names, tags).map_err(store_err)?;
    ctx.emit(
        index,
        PullEvent::Done {
            id: record.id.clone(),
            digest: r.digest.clone(),
        },
    );
    Ok(Pulled {
        reference: image.clone(),
        id: record.id,
        digest: r.digest.clone(),
    })
}
