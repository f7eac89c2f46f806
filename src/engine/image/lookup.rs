//! Finding an image by what a user types (reference, id, id prefix) and resolving it to
//! what the planner needs (config, healthcheck, unpacked layer directories).

use std::collections::BTreeSet;
use std::fs;

use oci_spec::image::ImageConfiguration;
use serde_json::Value;

use super::reference::Reference;
use super::store::{io_ctx, Image, ImageError, ImageRecord, ImageStore, Tags};
use crate::engine::root::ImageDir;

impl ImageStore {
    /// Finds the image `input` names: a reference (`busybox`, `busybox:1`, `x@sha256:…`),
    /// else a full id (`sha256:<hex>`) or an id prefix, like Docker.
    pub(crate) fn find(&self, input: &str, tags: &Tags) -> Result<ImageRecord, ImageError> {
        if let Ok(r) = Reference::parse(input) {
            if let Some(digest) = r.digest() {
                if let Some(id) = tags.get(&r.to_string()) {
                    return self.read_record(id);
                }
                for rec in self.records()? {
                    if rec.manifest.digest == digest || rec.id == digest {
                        return Ok(rec);
                    }
                }
            } else if let Some(id) = tags.get(&r.to_string()) {
                return self.read_record(id);
            }
        }
        let hex = input.strip_prefix("sha256:").unwrap_or(input);
        if !hex.is_empty()
            && hex.len() <= 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            let dir = self.dir().records();
            let mut found = Vec::new();
            for entry in fs::read_dir(&dir)
                .map_err(io_ctx("listing", &dir))?
                .flatten()
            {
                if let Some(h) = entry.file_name().to_str().and_then(ImageDir::json_stem) {
                    if h.len() == 64 && h.starts_with(hex) {
                        found.push(h.to_string());
                    }
                }
            }
            match found.len() {
                0 => {}
                1 => return self.read_record(&found[0]),
                _ => return Err(ImageError::Ambiguous(input.to_string())),
            }
        }
        Err(ImageError::NotFound(input.to_string()))
    }

    pub(super) fn tags_of(tags: &Tags, id: &str) -> Vec<Reference> {
        tags.iter()
            .filter(|(_, v)| v.as_str() == id)
            .filter_map(|(k, _)| Reference::parse(k).ok())
            .collect()
    }

    /// Resolves a reference or id to what the runtime needs.
    pub fn resolve(&self, input: &str) -> Result<Image, ImageError> {
        let tags = self.read_tags()?;
        let record = self.find(input, &tags)?;
        let data = self.read_blob(&record.config.digest)?;
        let config: ImageConfiguration =
            serde_json::from_slice(&data).map_err(|source| ImageError::Json {
                what: format!("image config {}", record.config.digest),
                source,
            })?;
        let raw: Value = serde_json::from_slice(&data).map_err(|source| ImageError::Json {
            what: format!("image config {}", record.config.digest),
            source,
        })?;
        let healthcheck = raw
            .pointer("/config/Healthcheck")
            .filter(|v| !v.is_null())
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let mut seen = BTreeSet::new();
        let mut layer_dirs = Vec::new();
        for layer in record.layers.iter().rev() {
            if seen.insert(layer.dir.clone()) {
                let dir = self.dir().layer(&layer.dir);
                if !dir.is_dir() {
                    return Err(ImageError::Corrupt(format!(
                        "layer {} of image {} is missing ({})",
                        layer.diff_id,
                        record.id,
                        dir.display()
                    )));
                }
                layer_dirs.push(dir);
            }
        }
        Ok(Image {
            repo_tags: Self::tags_of(&tags, &record.id)
                .iter()
                .map(Reference::familiar)
                .collect(),
            id: record.id,
            config,
            healthcheck,
            layer_dirs,
            size: record.size,
        })
    }
}
