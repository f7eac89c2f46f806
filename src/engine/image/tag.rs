//! `image tag`: one more name for an image.

use super::reference::Reference;
use super::store::{ImageError, ImageStore};

impl ImageStore {
    /// Adds the name `target` to the image `source` names.
    pub fn tag(&self, source: &str, target: &str) -> Result<(), ImageError> {
        tracing::debug!(source, target, "image store: tagging");
        let target = Reference::parse(target)?;
        let _lock = self.lock()?;
        let mut tags = self.read_tags()?;
        let record = self.find(source, &tags)?;
        tags.insert(target.to_string(), record.id);
        self.write_tags(&tags)
    }
}
