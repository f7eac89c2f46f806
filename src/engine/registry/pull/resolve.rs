//! Resolving a reference (mirrors first, then its registry) down to this platform's manifest,
//! its config and its layers; the small blobs on the way are stored as they are read.

use std::io;
use std::sync::Arc;

use futures_util::StreamExt;

use super::super::client::{map_error, Endpoint};
use super::super::error::RegistryError;
use super::super::platform::{self, IndexPlatform, Platform};
use super::manifest::{
    is_index, parse_document, Descriptor, ACCEPT, MAX_SMALL_BLOB, MEDIA_TYPE_DOCKER_MANIFEST,
    MEDIA_TYPE_OCI_MANIFEST,
};
use super::{mismatch_or_store, Ctx};
use crate::engine::fsutil;
use crate::engine::image::{BlobRef, Reference};

/// A request resolved to this platform's manifest, its config and its layers.
pub(super) struct Resolved {
    pub(super) reference: Reference,
    pub(super) endpoint: Arc<Endpoint>,
    /// Digest of what the reference named (the index, for a multi-platform image).
    pub(super) digest: String,
    pub(super) manifest: BlobRef,
    pub(super) config: BlobRef,
    /// (layer blob, diff id), bottom first.
    pub(super) layers: Vec<(BlobRef, String)>,
}

/// Resolves `input` on its mirrors, then on its registry: the first that serves it wins
/// (Docker falls back past a failing mirror the same way).
pub(super) async fn resolve(
    ctx: &Ctx<'_>,
    input: &str,
    platform: Option<&str>,
) -> Result<Resolved, RegistryError> {
    let reference = Reference::parse(input)?;
    let platform = match platform {
        Some(p) => Platform::parse(p)?,
        None => Platform::host(),
    };
    let hosts = ctx.conns.hosts_for_pull(reference.domain());
    let mut last = None;
    for host in &hosts {
        let attempt = async {
            let endpoint = ctx.conns.endpoint(input, reference.domain(), host).await?;
            resolve_on(ctx, input, &reference, &platform, endpoint).await
        };
        match attempt.await {
            Ok(r) => return Ok(r),
            Err(e) => {
                if host != hosts.last().unwrap_or(host) {
                    tracing_warn(&format!(
                        "{input}: mirror {host} failed, trying the next: {e}"
                    ));
                }
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| RegistryError::Protocol {
        image: input.to_string(),
        registry: reference.domain().to_string(),
        detail: "no host to pull from".into(),
    }))
}

/// Mirror fall-backs are worth a line on stderr (a mirror that is always down costs time).
fn tracing_warn(msg: &str) {
    eprintln!("WARN {msg}");
}

async fn resolve_on(
    ctx: &Ctx<'_>,
    image: &str,
    reference: &Reference,
    platform: &Platform,
    endpoint: Arc<Endpoint>,
) -> Result<Resolved, RegistryError> {
    let host = endpoint.host.clone();
    let oci_ref = endpoint.reference(reference);
    let what = format!("manifest for {}", reference.familiar());
    tracing::debug!(host = %host, image, %what, "registry request");
    let (body, _) = endpoint
        .client
        .pull_manifest_raw(&oci_ref, &endpoint.auth, ACCEPT)
        .await
        .map_err(|e| map_error(image, &host, &what, e))?;
    let digest = fsutil::sha256_digest(&body);
    if let Some(want) = reference.digest() {
        if want != digest {
            return Err(RegistryError::DigestMismatch {
                image: image.to_string(),
                registry: host,
                what: "manifest".into(),
                expected: want.to_string(),
                actual: digest,
            });
        }
    }
    let doc = parse_document(image, &host, &body)?;
    let (manifest_body, manifest_digest, doc) = if is_index(&doc) {
        let entries: Vec<(Option<IndexPlatform>, Descriptor)> = doc
            .manifests
            .unwrap_or_default()
            .into_iter()
            .map(|d| (d.platform.clone(), d))
            .collect();
        let chosen = platform::select(platform, &entries).map_err(|available| {
            RegistryError::NoPlatform {
                image: image.to_string(),
                registry: host.clone(),
                wanted: platform.to_string(),
                available,
            }
        })?;
        let by_digest = oci_ref.clone_with_digest(chosen.digest.clone());
        let (body, _) = endpoint
            .client
            .pull_manifest_raw(&by_digest, &endpoint.auth, ACCEPT)
            .await
            .map_err(|e| map_error(image, &host, &format!("manifest {}", chosen.digest), e))?;
        let actual = fsutil::sha256_digest(&body);
        if actual != chosen.digest {
            return Err(RegistryError::DigestMismatch {
                image: image.to_string(),
                registry: host,
                what: format!("manifest for {platform}"),
                expected: chosen.digest.clone(),
                actual,
            });
        }
        let inner = parse_document(image, &host, &body)?;
        if is_index(&inner) {
            return Err(RegistryError::Protocol {
                image: image.to_string(),
                registry: host,
                detail: "an image index names another index for this platform".into(),
            });
        }
        (body, actual, inner)
    } else {
        (body, digest.clone(), doc)
    };
    let media_type = doc
        .media_type
        .clone()
        .unwrap_or_else(|| MEDIA_TYPE_OCI_MANIFEST.to_string());
    if media_type != MEDIA_TYPE_OCI_MANIFEST && media_type != MEDIA_TYPE_DOCKER_MANIFEST {
        return Err(RegistryError::UnsupportedMediaType {
            image: image.to_string(),
            registry: host,
            media_type,
        });
    }
    let (Some(config), Some(layers)) = (doc.config, doc.layers) else {
        return Err(RegistryError::Protocol {
            image: image.to_string(),
            registry: host,
            detail: "the manifest has no config or no layers".into(),
        });
    };
    for d in std::iter::once(&config).chain(layers.iter()) {
        if crate::engine::image::reference::validate_digest(&d.digest).is_err() || d.size < 0 {
            return Err(RegistryError::Protocol {
                image: image.to_string(),
                registry: host,
                detail: format!("unsupported descriptor {:?} of size {}", d.digest, d.size),
            });
        }
    }
    let store_err = |source| RegistryError::Store {
        image: image.to_string(),
        source,
    };
    // The config is small: fetched whole (bounded), checked, stored.
    let config_ref = config.blob_ref();
    if !ctx.store.has_blob(&config_ref.digest, config_ref.size) {
        if config_ref.size > MAX_SMALL_BLOB {
            return Err(RegistryError::Protocol {
                image: image.to_string(),
                registry: host,
                detail: format!("config of {} bytes is too large", config_ref.size),
            });
        }
        let data = fetch_small(&endpoint, image, reference, &config_ref).await?;
        ctx.store
            .ingest(
                io::Cursor::new(data),
                &config_ref.digest,
                config_ref.size,
                crate::engine::image::Ingest::Blob,
            )
            .map_err(|e| mismatch_or_store(image, &host, "config", e))?;
    }
    let config_data = ctx.store.read_blob(&config_ref.digest).map_err(store_err)?;
    let parsed: oci_spec::image::ImageConfiguration = serde_json::from_slice(&config_data)
        .map_err(|e| RegistryError::Protocol {
            image: image.to_string(),
            registry: host.clone(),
            detail: format!("invalid image config {}: {e}", config_ref.digest),
        })?;
    let diff_ids = parsed.rootfs().diff_ids();
    if diff_ids.len() != layers.len() {
        return Err(RegistryError::Protocol {
            image: image.to_string(),
            registry: host,
            detail: format!(
                "{} layers in the manifest but {} diff ids in the config",
                layers.len(),
                diff_ids.len()
            ),
        });
    }
    let manifest_ref = BlobRef {
        media_type,
        digest: manifest_digest,
        size: manifest_body.len() as u64,
    };
    ctx.store.put_blob(&manifest_body).map_err(store_err)?;
    Ok(Resolved {
        reference: reference.clone(),
        endpoint,
        digest,
        manifest: manifest_ref,
        config: config_ref,
        layers: layers
            .iter()
            .map(Descriptor::blob_ref)
            .zip(diff_ids.iter().cloned())
            .collect(),
    })
}

/// A small blob, read whole but never more than its descriptor says.
async fn fetch_small(
    endpoint: &Endpoint,
    image: &str,
    reference: &Reference,
    blob: &BlobRef,
) -> Result<Vec<u8>, RegistryError> {
    let what = format!("blob {}", blob.digest);
    tracing::debug!(host = %endpoint.host, image, %what, "registry request");
    let oci_ref = endpoint.reference(reference);
    let mut stream = endpoint
        .client
        .pull_blob_stream(&oci_ref, blob.digest.as_str())
        .await
        .map_err(|e| map_error(image, &endpoint.host, &what, e))?;
    let mut data = Vec::with_capacity(blob.size as usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| RegistryError::Protocol {
            image: image.to_string(),
            registry: endpoint.host.clone(),
            detail: format!("{what}: {e}"),
        })?;
        if (data.len() + chunk.len()) as u64 > blob.size {
            break;
        }
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}
