//! The registry documents a pull reads (image manifests and indexes, Docker's and OCI's), as
//! far as pulling needs them, and the limits put on them.

use serde::Deserialize;

use super::super::error::RegistryError;
use super::super::platform::IndexPlatform;
use crate::engine::image::BlobRef;

/// The most a manifest or config may weigh (Docker's limit for manifests is 4 MiB).
pub(super) const MAX_SMALL_BLOB: u64 = 8 * 1024 * 1024;

pub(super) const MEDIA_TYPE_DOCKER_MANIFEST: &str =
    "application/vnd.docker.distribution.manifest.v2+json";
pub(super) const MEDIA_TYPE_DOCKER_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
pub(super) const MEDIA_TYPE_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(super) const MEDIA_TYPE_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(super) const MEDIA_TYPE_DOCKER_V1_SIGNED: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
pub(super) const ACCEPT: &[&str] = &[
    MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_DOCKER_LIST,
    MEDIA_TYPE_OCI_MANIFEST,
    MEDIA_TYPE_DOCKER_MANIFEST,
];

/// What a manifest or index holds, as far as pulling needs it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Document {
    #[serde(default)]
    pub(super) schema_version: Option<i64>,
    #[serde(default)]
    pub(super) media_type: Option<String>,
    #[serde(default)]
    pub(super) manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    pub(super) config: Option<Descriptor>,
    #[serde(default)]
    pub(super) layers: Option<Vec<Descriptor>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Descriptor {
    #[serde(default)]
    pub(super) media_type: String,
    pub(super) digest: String,
    pub(super) size: i64,
    #[serde(default)]
    pub(super) platform: Option<IndexPlatform>,
}

impl Descriptor {
    pub(super) fn blob_ref(&self) -> BlobRef {
        BlobRef {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.size.max(0) as u64,
        }
    }
}

pub(super) fn parse_document(
    image: &str,
    host: &str,
    body: &[u8],
) -> Result<Document, RegistryError> {
    let doc: Document = serde_json::from_slice(body).map_err(|e| RegistryError::Protocol {
        image: image.to_string(),
        registry: host.to_string(),
        detail: format!("invalid manifest: {e}"),
    })?;
    if doc.schema_version == Some(1)
        || doc.media_type.as_deref() == Some(MEDIA_TYPE_DOCKER_V1_SIGNED)
    {
        return Err(RegistryError::Schema1 {
            image: image.to_string(),
            registry: host.to_string(),
        });
    }
    Ok(doc)
}

pub(super) fn is_index(doc: &Document) -> bool {
    match doc.media_type.as_deref() {
        Some(MEDIA_TYPE_OCI_INDEX | MEDIA_TYPE_DOCKER_LIST) => true,
        Some(_) => false,
        None => doc.manifests.is_some() && doc.config.is_none(),
    }
}
