//! `image ls`: one summary per image.

use serde_json::Value;

use super::store::{ImageError, ImageStore, ImageSummary};
use crate::engine::fsutil;

impl ImageStore {
    /// All images, newest first (by the config's `created`).
    pub fn list(&self) -> Result<Vec<ImageSummary>, ImageError> {
        let tags = self.read_tags()?;
        let mut out = Vec::new();
        for record in self.records()? {
            let created = self
                .raw_config(&record)
                .ok()
                .and_then(|c| c.get("created").and_then(Value::as_str).map(str::to_string));
            out.push(ImageSummary {
                repo_tags: Self::tags_of(&tags, &record.id),
                id: record.id,
                created,
                size: record.size,
            });
        }
        out.sort_by(|a, b| {
            let ta = a.created.as_deref().and_then(fsutil::parse_rfc3339);
            let tb = b.created.as_deref().and_then(fsutil::parse_rfc3339);
            tb.cmp(&ta).then_with(|| a.id.cmp(&b.id))
        });
        Ok(out)
    }
}
