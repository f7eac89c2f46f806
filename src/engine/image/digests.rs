//! Registry digests of images: the `name@sha256:…` names a pull records next to the tags.

use super::reference::Reference;
use super::store::{ImageError, ImageStore};

impl ImageStore {
    /// The digest the registry gave for `name`'s repository when it served the image `id`
    /// (Docker's `RepoDigests` entry for that repository), or the digest `name` itself
    /// carries; `None` for an image that never came from a registry under that name.
    pub fn registry_digest(&self, name: &str, id: &str) -> Result<Option<String>, ImageError> {
        let Ok(wanted) = Reference::parse(name) else {
            return Ok(None);
        };
        if let Some(d) = wanted.digest() {
            return Ok(Some(d.to_string()));
        }
        let tags = self.read_tags()?;
        Ok(tags
            .iter()
            .filter(|(_, image)| image.as_str() == id)
            .filter_map(|(n, _)| Reference::parse(n).ok())
            .filter(|r| r.name() == wanted.name())
            .find_map(|r| r.digest().map(str::to_string)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::image::testimage::{ArchiveFormat, TestImage};

    #[test]
    fn registry_digest_of_the_same_repository_only() {
        let t = tempfile::tempdir().unwrap();
        let s = ImageStore::open(t.path().join("images")).unwrap();
        let data = TestImage::default().archive(ArchiveFormat::Oci).unwrap();
        let id = s.load_archive(&data[..]).unwrap()[0].id.clone();
        assert_eq!(s.registry_digest("busybox", &id).unwrap(), None);
        let d = format!("sha256:{}", "e".repeat(64));
        let mut tags = s.read_tags().unwrap();
        tags.insert(format!("docker.io/library/busybox@{d}"), id.clone());
        tags.insert(
            format!("docker.io/library/other@sha256:{}", "f".repeat(64)),
            id.clone(),
        );
        s.write_tags(&tags).unwrap();
        assert_eq!(
            s.registry_digest("busybox:latest", &id).unwrap(),
            Some(d.clone())
        );
        assert_eq!(s.registry_digest("busybox", "sha256:0").unwrap(), None);
        assert_eq!(s.registry_digest("third:1", &id).unwrap(), None);
        let by_digest = format!("x@sha256:{}", "a".repeat(64));
        assert_eq!(
            s.registry_digest(&by_digest, &id).unwrap(),
            Some(format!("sha256:{}", "a".repeat(64)))
        );
    }
}
