//! Pushing images from the store to a registry.
//!
//! Per image: every layer blob, then the config, then the manifest LAST, so the registry never
//! names (by tag) an image whose content it lacks. A blob the registry already has is skipped
//! (HEAD); one the store knows came from another repository of the same registry is mounted
//! from there (`POST …/blobs/uploads/?mount=…&from=…`), falling back to an upload where the
//! registry will not mount; uploads stream from the blob file, never read whole. The manifest
//! is sent as the exact bytes the store holds, so its digest (what a later pull gets) is the
//! digest the store knows the image by.
use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use oci_client::errors::OciDistributionError;
use oci_client::RegistryOperation;
use tokio::io::AsyncReadExt;

use super::client::{api_host, map_error, Connections, Endpoint};
use super::config::RegistryConfig;
use super::credentials::DockerConfig;
use super::error::RegistryError;
use crate::engine::fsutil;
use crate::engine::image::{BlobRef, ImageError, ImageRecord, ImageStore, Reference};

/// Layers sent at once per image (Docker's `max-concurrent-uploads`).
pub const MAX_CONCURRENT_UPLOADS: usize = 5;
/// Bytes read from a blob file per upload chunk.
const READ_CHUNK: usize = 1 << 20;
/// The largest manifest sent (read whole to be sent as one body): registries refuse bigger
/// ones (distribution's and Docker's limit is 4 MiB).
const MAX_MANIFEST: u64 = 4 << 20;

/// Progress of a push, reported as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushEvent {
    /// The registry already has this blob: nothing sent (Docker's "Layer already exists").
    Exists {
        layer: String,
    },
    /// Mounted from another repository of the same registry (Docker's "Mounted from …").
    Mounted {
        layer: String,
        from: String,
    },
    /// Bytes of the blob sent so far.
    Pushing {
        layer: String,
        done: u64,
        total: u64,
    },
    Pushed {
        layer: String,
    },
    /// The manifest is in: `tag: digest: … size: …` in Docker's words.
    Done {
        tag: String,
        digest: String,
        size: u64,
    },
}

pub trait PushProgress: Send + Sync {
    /// `image` is the reference as given.
    fn event(&self, image: &str, event: PushEvent);
}

pub struct PushOptions {
    pub config: RegistryConfig,
    pub credentials: DockerConfig,
    pub progress: Arc<dyn PushProgress>,
}

/// An image now at the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The reference as given.
    pub reference: String,
    /// Its full name at the registry (`docker.io/library/app:1`).
    pub canonical: String,
    /// The manifest's digest, as the registry now serves it.
    pub digest: String,
}

/// Pushes each reference (one after the other, sharing connections); one result per
/// reference, in order.
pub fn push_images(
    store: &ImageStore,
    references: &[String],
    opts: &PushOptions,
) -> Vec<Result<Pushed, RegistryError>> {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let msg = e.to_string();
            return references
                .iter()
                .map(|r| {
                    Err(RegistryError::Protocol {
                        image: r.clone(),
                        registry: String::new(),
                        detail: format!("starting the network runtime: {msg}"),
                    })
                })
                .collect();
        }
    };
    let conns = Connections::new(opts.config.clone(), opts.credentials.clone());
    references
        .iter()
        .map(|r| runtime.block_on(push_one(store, &conns, r, opts)))
        .collect()
}

/// The image a reference names in the store, by name only (as `docker push`: an id or a
/// digest names no repository to push to).
pub fn local_image(
    store: &ImageStore,
    input: &str,
) -> Result<(Reference, ImageRecord), RegistryError> {
    let reference = Reference::parse(input)?;
    if reference.digest().is_some() {
        return Err(RegistryError::PushByDigest {
            image: input.to_string(),
        });
    }
    let store_err = |source| RegistryError::Store {
        image: input.to_string(),
        source,
    };
    let tags = store.read_tags().map_err(store_err)?;
    let id = tags
        .get(&reference.to_string())
        .ok_or_else(|| RegistryError::NotLocal {
            image: reference.familiar(),
        })?;
    let record = store.read_record(id).map_err(store_err)?;
    Ok((reference, record))
}

/// Other repositories of `reference`'s registry that the store has a name for, with the blob
/// digests of the images so named: where a blob can be mounted from.
fn mount_sources(
    store: &ImageStore,
    reference: &Reference,
) -> Result<Vec<(Reference, Vec<String>)>, ImageError> {
    let tags = store.read_tags()?;
    let mut by_repo: BTreeMap<String, (Reference, Vec<String>)> = BTreeMap::new();
    for (name, id) in &tags {
        let Ok(r) = Reference::parse(name) else {
            continue;
        };
        if r.domain() != reference.domain() || r.path() == reference.path() {
            continue;
        }
        let Ok(record) = store.read_record(id) else {
            continue;
        };
        let entry = by_repo
            .entry(r.path().to_string())
            .or_insert_with(|| (r.clone(), Vec::new()));
        entry.1.push(record.config.digest.clone());
        entry
            .1
            .extend(record.layers.iter().map(|l| l.blob.digest.clone()));
    }
    Ok(by_repo.into_values().collect())
}

async fn push_one(
    store: &ImageStore,
    conns: &Connections,
    input: &str,
    opts: &PushOptions,
) -> Result<Pushed, RegistryError> {
    let (reference, record) = local_image(store, input)?;
    let host = api_host(reference.domain()).to_string();
    let endpoint = conns.endpoint(input, reference.domain(), &host).await?;
    let oci_ref = endpoint.reference(&reference);
    endpoint
        .client
        .auth(&oci_ref, &endpoint.auth, RegistryOperation::Push)
        .await
        .map_err(|e| map_error(input, &host, "push access", e))?;
    let sources = mount_sources(store, &reference).map_err(|source| RegistryError::Store {
        image: input.to_string(),
        source,
    })?;
    // Layers a few at a time (a layer twice in one image is sent once), then the config: the
    // manifest goes only when everything it names is there.
    let mut seen = std::collections::BTreeSet::new();
    let layers: Vec<&BlobRef> = record
        .layers
        .iter()
        .map(|l| &l.blob)
        .filter(|b| seen.insert(b.digest.clone()))
        .collect();
    let results: Vec<Result<(), RegistryError>> = stream::iter(
        layers
            .into_iter()
            .map(|blob| push_blob(store, &endpoint, &reference, input, blob, &sources, opts)),
    )
    .buffer_unordered(MAX_CONCURRENT_UPLOADS)
    .collect()
    .await;
    results.into_iter().collect::<Result<(), RegistryError>>()?;
    if !seen.contains(&record.config.digest) {
        push_blob(
            store,
            &endpoint,
            &reference,
            input,
            &record.config,
            &sources,
            opts,
        )
        .await?;
    }
    // The manifest, byte for byte as stored (its digest checked: the store's file is what
    // the registry will serve under that digest).
    let manifest_path = store.blob_path(&record.manifest.digest);
    let manifest_size = std::fs::metadata(&manifest_path)
        .map_err(|e| RegistryError::Store {
            image: input.to_string(),
            source: ImageError::Io {
                op: "stat",
                path: manifest_path.clone(),
                source: e,
            },
        })?
        .len();
    if manifest_size > MAX_MANIFEST {
        return Err(RegistryError::Protocol {
            image: input.to_string(),
            registry: host.clone(),
            detail: format!(
                "the manifest {} is {manifest_size} bytes, more than registries accept ({MAX_MANIFEST})",
                record.manifest.digest
            ),
        });
    }
    let body = store
        .read_blob(&record.manifest.digest)
        .map_err(|source| RegistryError::Store {
            image: input.to_string(),
            source,
        })?;
    let actual = fsutil::sha256_digest(&body);
    if actual != record.manifest.digest {
        return Err(RegistryError::Store {
            image: input.to_string(),
            source: ImageError::DigestMismatch {
                what: format!("stored manifest of {input}"),
                expected: record.manifest.digest.clone(),
                actual,
            },
        });
    }
    let size = body.len() as u64;
    let content_type = record
        .manifest
        .media_type
        .parse()
        .map_err(|_| RegistryError::Protocol {
            image: input.to_string(),
            registry: host.clone(),
            detail: format!(
                "the stored manifest's media type {:?} is not a valid header value",
                record.manifest.media_type
            ),
        })?;
    endpoint
        .client
        .push_manifest_raw(&oci_ref, body, content_type)
        .await
        .map_err(|e| map_error(input, &host, "manifest", e))?;
    opts.progress.event(
        input,
        PushEvent::Done {
            tag: reference.tag().unwrap_or("latest").to_string(),
            digest: record.manifest.digest.clone(),
            size,
        },
    );
    record_digest(store, &reference, &record).map_err(|source| RegistryError::Store {
        image: input.to_string(),
        source,
    })?;
    Ok(Pushed {
        reference: input.to_string(),
        canonical: reference.to_string(),
        digest: record.manifest.digest.clone(),
    })
}

/// After a push, the store names the image `name@digest` too (Docker's `RepoDigests` grow the
/// same way), so `image ls --digests` shows it and later pushes can mount from this repository.
fn record_digest(
    store: &ImageStore,
    reference: &Reference,
    record: &ImageRecord,
) -> Result<(), ImageError> {
    let _lock = store.lock()?;
    let mut tags = store.read_tags()?;
    let by_digest = reference.with_digest(&record.manifest.digest)?;
    // Removed while we pushed: nothing to name.
    if store.read_record(&record.id).is_err() {
        return Ok(());
    }
    tags.insert(by_digest.to_string(), record.id.clone());
    store.write_tags(&tags)
}

/// One blob: skipped when the registry has it, mounted when another repository there has it,
/// else streamed from the store's file.
async fn push_blob(
    store: &ImageStore,
    endpoint: &Endpoint,
    reference: &Reference,
    input: &str,
    blob: &BlobRef,
    sources: &[(Reference, Vec<String>)],
    opts: &PushOptions,
) -> Result<(), RegistryError> {
    let host = &endpoint.host;
    let layer = super::pull::short_id(&blob.digest);
    let what = format!("blob {}", blob.digest);
    let oci_ref = endpoint.reference(reference);
    let exists = endpoint
        .client
        .blob_exists(&oci_ref, &blob.digest)
        .await
        .map_err(|e| map_error(input, host, &what, e))?;
    if exists {
        opts.progress.event(input, PushEvent::Exists { layer });
        return Ok(());
    }
    for (source, digests) in sources {
        if !digests.contains(&blob.digest) {
            continue;
        }
        let from = endpoint.reference(source);
        // A refusal (the registry answers 202 with an upload session instead of 201, or the
        // token has no pull right on the source) is not an error: the blob is uploaded.
        if endpoint
            .client
            .mount_blob(&oci_ref, &from, &blob.digest)
            .await
            .is_ok()
        {
            opts.progress.event(
                input,
                PushEvent::Mounted {
                    layer,
                    from: source.path().to_string(),
                },
            );
            return Ok(());
        }
    }
    let path = store.blob_path(&blob.digest);
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| RegistryError::Store {
            image: input.to_string(),
            source: ImageError::Io {
                op: "opening blob",
                path: path.clone(),
                source: e,
            },
        })?;
    let total = file
        .metadata()
        .await
        .map(|m| m.len())
        .map_err(|e| RegistryError::Store {
            image: input.to_string(),
            source: ImageError::Io {
                op: "stat",
                path: path.clone(),
                source: e,
            },
        })?;
    let progress = opts.progress.clone();
    let image = input.to_string();
    let name = layer.clone();
    // The file is read a chunk at a time as the client sends; a read error ends the upload
    // with that error (the registry then discards the session).
    let chunks = stream::unfold((file, 0u64, false), move |(mut file, done, failed)| {
        let progress = progress.clone();
        let image = image.clone();
        let name = name.clone();
        async move {
            if failed {
                return None;
            }
            let mut buf = vec![0u8; READ_CHUNK];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    let done = done + n as u64;
                    progress.event(
                        &image,
                        PushEvent::Pushing {
                            layer: name,
                            done,
                            total,
                        },
                    );
                    Some((Ok(Bytes::from(buf)), (file, done, false)))
                }
                Err(e) => Some((
                    Err(OciDistributionError::GenericError(Some(format!(
                        "reading the blob file: {e}"
                    )))),
                    (file, done, true),
                )),
            }
        }
    });
    endpoint
        .client
        .push_blob_stream(&oci_ref, chunks, &blob.digest, Some(total))
        .await
        .map_err(|e| map_error(input, host, &what, e))?;
    opts.progress.event(input, PushEvent::Pushed { layer });
    Ok(())
}
