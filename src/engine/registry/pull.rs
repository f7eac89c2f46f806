//! Pulling images into the store.
//!
//! Three phases, so that one command's images share their work and nothing half-done becomes
//! visible: (1) every reference is resolved at once (mirrors first, then the registry) down to
//! this platform's manifest and its config; (2) the layers not yet in the store are fetched —
//! each distinct layer once, at most [`MAX_CONCURRENT_DOWNLOADS`] at a time (Docker's default),
//! streamed into the store, unpacked and verified as they arrive; (3) each image whose layers
//! are all in is recorded and named. The store's writer lock is held throughout.
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::join_all;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::{mpsc, Semaphore};

use super::client::{map_error, Connections, Endpoint};
use super::config::RegistryConfig;
use super::credentials::DockerConfig;
use super::error::RegistryError;
use super::platform::{self, IndexPlatform, Platform};
use crate::engine::fsutil;
use crate::engine::image::{BlobRef, ImageError, ImageRecord, ImageStore, LayerRef, Reference};

/// One image to pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// As the user wrote it (`busybox`, `ghcr.io/o/app:1`, `x@sha256:…`).
    pub reference: String,
    /// `os/arch[/variant]`; `None` is this machine's.
    pub platform: Option<String>,
}

/// An image now in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The request's reference, as given.
    pub reference: String,
    /// Image id (`sha256:` of the config).
    pub id: String,
    /// Digest of what the reference named at the registry (the index for a multi-platform
    /// image), Docker's `RepoDigests` entry.
    pub digest: String,
}

/// Progress of a pull, reported as it happens (from any thread).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullEvent {
    /// The manifest is being fetched.
    Resolving,
    /// A layer to fetch; `size` is the compressed size from the manifest.
    LayerWaiting {
        layer: String,
        size: u64,
    },
    /// The layer is already in the store: nothing to fetch.
    LayerExists {
        layer: String,
    },
    /// Bytes received so far.
    LayerDownloading {
        layer: String,
        done: u64,
        total: u64,
    },
    /// All bytes in; the digest is being checked.
    LayerVerifying {
        layer: String,
    },
    /// Unpacking (after the download, when the layer was in the store as a blob only).
    LayerExtracting {
        layer: String,
    },
    LayerDone {
        layer: String,
    },
    /// The image is in the store.
    Done {
        id: String,
        digest: String,
    },
}

pub trait PullProgress: Send + Sync {
    /// `image` is the request's reference, as given.
    fn event(&self, image: &str, event: PullEvent);
}

pub struct PullOptions {
    pub config: RegistryConfig,
    pub credentials: DockerConfig,
    pub progress: Arc<dyn PullProgress>,
}

/// Layers fetched at once per command (Docker's `max-concurrent-downloads`).
pub const MAX_CONCURRENT_DOWNLOADS: usize = 3;
/// The most a manifest or config may weigh (Docker's limit for manifests is 4 MiB).
const MAX_SMALL_BLOB: u64 = 8 * 1024 * 1024;

const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const MEDIA_TYPE_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const MEDIA_TYPE_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MEDIA_TYPE_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MEDIA_TYPE_DOCKER_V1_SIGNED: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
const ACCEPT: &[&str] = &[
    MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_DOCKER_LIST,
    MEDIA_TYPE_OCI_MANIFEST,
    MEDIA_TYPE_DOCKER_MANIFEST,
];

/// What a manifest or index holds, as far as pulling needs it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    #[serde(default)]
    schema_version: Option<i64>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    size: i64,
    #[serde(default)]
    platform: Option<IndexPlatform>,
}

impl Descriptor {
    fn blob_ref(&self) -> BlobRef {
        BlobRef {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.size.max(0) as u64,
        }
    }
}

/// A request resolved to this platform's manifest, its config and its layers.
struct Resolved {
    reference: Reference,
    endpoint: Arc<Endpoint>,
    /// Digest of what the reference named (the index, for a multi-platform image).
    digest: String,
    manifest: BlobRef,
    config: BlobRef,
    /// (layer blob, diff id), bottom first.
    layers: Vec<(BlobRef, String)>,
}

/// One distinct layer to fetch, and the requests that wait for it.
struct LayerJob {
    blob: BlobRef,
    diff_id: String,
    endpoint: Arc<Endpoint>,
    reference: Reference,
    /// Request indexes (for progress) and their names.
    users: Vec<usize>,
    /// Whether the layer is unpacked already (only the blob is missing).
    blob_only: bool,
}

struct Ctx<'a> {
    store: &'a ImageStore,
    conns: Connections,
    requests: &'a [PullRequest],
    progress: Arc<dyn PullProgress>,
}

impl Ctx<'_> {
    fn emit(&self, index: usize, event: PullEvent) {
        self.progress.event(&self.requests[index].reference, event);
    }
}

/// The first 12 hex digits of a digest, as Docker names layers in progress output.
pub fn short_id(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex.chars().take(12).collect()
}

/// Pulls every request, in parallel (layers shared between them are fetched once); one result
/// per request, in order.
pub fn pull_images(
    store: &ImageStore,
    requests: &[PullRequest],
    opts: &PullOptions,
) -> Vec<Result<Pulled, RegistryError>> {
    let all_fail =
        |e: &dyn Fn(&PullRequest) -> RegistryError| -> Vec<Result<Pulled, RegistryError>> {
            requests.iter().map(|r| Err(e(r))).collect()
        };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let msg = e.to_string();
            return all_fail(&|r| RegistryError::Protocol {
                image: r.reference.clone(),
                registry: String::new(),
                detail: format!("starting the network runtime: {msg}"),
            });
        }
    };
    let _lock = match store.lock() {
        Ok(l) => l,
        Err(e) => {
            let msg = e.to_string();
            return all_fail(&|r| RegistryError::Store {
                image: r.reference.clone(),
                source: ImageError::Corrupt(msg.clone()),
            });
        }
    };
    let ctx = Ctx {
        store,
        conns: Connections::new(opts.config.clone(), opts.credentials.clone()),
        requests,
        progress: opts.progress.clone(),
    };
    runtime.block_on(pull_all(&ctx))
}

async fn pull_all(ctx: &Ctx<'_>) -> Vec<Result<Pulled, RegistryError>> {
    // (1) Resolve every request.
    let resolved: Vec<Result<Resolved, RegistryError>> =
        join_all(ctx.requests.iter().enumerate().map(|(i, r)| async move {
            ctx.emit(i, PullEvent::Resolving);
            resolve(ctx, &r.reference, r.platform.as_deref()).await
        }))
        .await;

    // (2) Fetch each missing layer once.
    let mut jobs: BTreeMap<String, LayerJob> = BTreeMap::new();
    let mut store_errors: BTreeMap<usize, RegistryError> = BTreeMap::new();
    for (i, res) in resolved.iter().enumerate() {
        let Ok(r) = res else { continue };
        for (blob, diff_id) in &r.layers {
            let layer = short_id(&blob.digest);
            let unpacked = match ctx.store.existing_layer(diff_id) {
                Ok(found) => found.is_some(),
                Err(e) => {
                    store_errors.insert(
                        i,
                        RegistryError::Store {
                            image: ctx.requests[i].reference.clone(),
                            source: e,
                        },
                    );
                    break;
                }
            };
            let have_blob = ctx.store.has_blob(&blob.digest, blob.size);
            if unpacked && have_blob {
                ctx.emit(i, PullEvent::LayerExists { layer });
                continue;
            }
            if have_blob {
                // Unpacked in phase 3 from the stored blob.
                continue;
            }
            ctx.emit(
                i,
                PullEvent::LayerWaiting {
                    layer,
                    size: blob.size,
                },
            );
            let job = jobs.entry(blob.digest.clone()).or_insert_with(|| LayerJob {
                blob: blob.clone(),
                diff_id: diff_id.clone(),
                endpoint: r.endpoint.clone(),
                reference: r.reference.clone(),
                users: Vec::new(),
                blob_only: unpacked,
            });
            job.users.push(i);
        }
    }
    let permits = Semaphore::new(MAX_CONCURRENT_DOWNLOADS);
    // A failed layer: its error goes to the first image that needed it, a line naming it to
    // the others.
    let mut failed: BTreeMap<String, (usize, Option<RegistryError>)> = BTreeMap::new();
    for (digest, first, result) in join_all(jobs.values().map(|job| async {
        let _permit = permits.acquire().await;
        (
            job.blob.digest.clone(),
            job.users[0],
            fetch_layer(ctx, job).await,
        )
    }))
    .await
    {
        if let Err(e) = result {
            failed.insert(digest, (first, Some(e)));
        }
    }

    // (3) Record each image whose layers are all in.
    let mut tags = match ctx.store.read_tags() {
        Ok(t) => t,
        Err(e) => {
            let msg = e.to_string();
            return ctx
                .requests
                .iter()
                .map(|r| {
                    Err(RegistryError::Store {
                        image: r.reference.clone(),
                        source: ImageError::Corrupt(msg.clone()),
                    })
                })
                .collect();
        }
    };
    let mut out = Vec::new();
    for (i, res) in resolved.into_iter().enumerate() {
        let image = ctx.requests[i].reference.clone();
        let result = match (res, store_errors.remove(&i)) {
            (Err(e), _) | (Ok(_), Some(e)) => Err(e),
            (Ok(r), None) => {
                let layer_error = r.layers.iter().find_map(|(b, _)| {
                    let (first, err) = failed.get_mut(&b.digest)?;
                    Some(match (*first == i, err.take()) {
                        (true, Some(e)) => e,
                        _ => RegistryError::Protocol {
                            image: image.clone(),
                            registry: r.endpoint.host.clone(),
                            detail: format!(
                                "layer {} failed (see {})",
                                b.digest, ctx.requests[*first].reference
                            ),
                        },
                    })
                });
                match layer_error {
                    Some(e) => Err(e),
                    None => record(ctx, i, &r, &mut tags),
                }
            }
        };
        out.push(result);
    }
    if out.iter().any(Result::is_err) {
        // What only failed images brought (verified layers of an image whose other layer was
        // corrupt, say) is not kept: a failed pull leaves the store as it was.
        if let Err(e) = ctx.store.collect_garbage(None) {
            eprintln!("WARN cleaning up after a failed pull: {e}");
        }
    }
    if let Err(e) = ctx.store.write_tags(&tags) {
        let msg = e.to_string();
        for r in out.iter_mut() {
            if let Ok(p) = r {
                *r = Err(RegistryError::Store {
                    image: p.reference.clone(),
                    source: ImageError::Corrupt(msg.clone()),
                });
            }
        }
    }
    out
}

/// Resolves `input` on its mirrors, then on its registry: the first that serves it wins
/// (Docker falls back past a failing mirror the same way).
async fn resolve(
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

fn parse_document(image: &str, host: &str, body: &[u8]) -> Result<Document, RegistryError> {
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

fn is_index(doc: &Document) -> bool {
    match doc.media_type.as_deref() {
        Some(MEDIA_TYPE_OCI_INDEX | MEDIA_TYPE_DOCKER_LIST) => true,
        Some(_) => false,
        None => doc.manifests.is_some() && doc.config.is_none(),
    }
}

fn mismatch_or_store(image: &str, host: &str, what: &str, e: ImageError) -> RegistryError {
    match e {
        ImageError::DigestMismatch {
            expected, actual, ..
        } => RegistryError::DigestMismatch {
            image: image.to_string(),
            registry: host.to_string(),
            what: what.to_string(),
            expected,
            actual,
        },
        other => RegistryError::Store {
            image: image.to_string(),
            source: other,
        },
    }
}

/// A small blob, read whole but never more than its descriptor says.
async fn fetch_small(
    endpoint: &Endpoint,
    image: &str,
    reference: &Reference,
    blob: &BlobRef,
) -> Result<Vec<u8>, RegistryError> {
    let what = format!("blob {}", blob.digest);
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

/// Reads what the download task sends, on the unpacking thread.
struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.current = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// Streams one layer from the registry into the store: the download runs here, the writing,
/// hashing and unpacking on a thread of its own, fed through a bounded channel.
async fn fetch_layer(ctx: &Ctx<'_>, job: &LayerJob) -> Result<(), RegistryError> {
    let image = &ctx.requests[job.users[0]].reference;
    let host = job.endpoint.host.clone();
    let layer = short_id(&job.blob.digest);
    let what = format!("layer {}", job.blob.digest);
    let oci_ref = job.endpoint.reference(&job.reference);
    let mut stream = job
        .endpoint
        .client
        .pull_blob_stream(&oci_ref, job.blob.digest.as_str())
        .await
        .map_err(|e| map_error(image, &host, &what, e))?;
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let store = ctx.store.clone();
    let digest = job.blob.digest.clone();
    let size = job.blob.size;
    let diff_id = job.diff_id.clone();
    let blob_only = job.blob_only;
    let writer = tokio::task::spawn_blocking(move || {
        let reader = ChannelReader {
            rx,
            current: Bytes::new(),
        };
        let what = if blob_only {
            crate::engine::image::Ingest::Blob
        } else {
            crate::engine::image::Ingest::Layer { diff_id: &diff_id }
        };
        store.ingest(reader, &digest, size, what)
    });
    let mut done: u64 = 0;
    let mut reported: u64 = 0;
    let mut stream_error = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                done += bytes.len() as u64;
                if tx.send(bytes).await.is_err() {
                    // The writer stopped (a hostile layer, a full disk): its error says why.
                    break;
                }
                if done - reported >= 256 * 1024 || done == size {
                    reported = done;
                    for &u in &job.users {
                        ctx.emit(
                            u,
                            PullEvent::LayerDownloading {
                                layer: layer.clone(),
                                done,
                                total: size,
                            },
                        );
                    }
                }
            }
            Err(e) => {
                stream_error = Some(e);
                break;
            }
        }
    }
    drop(tx);
    for &u in &job.users {
        ctx.emit(
            u,
            PullEvent::LayerVerifying {
                layer: layer.clone(),
            },
        );
    }
    let written = writer.await.map_err(|e| RegistryError::Protocol {
        image: image.clone(),
        registry: host.clone(),
        detail: format!("{what}: the unpacking thread failed: {e}"),
    })?;
    if let Some(e) = stream_error.filter(|_| done < size) {
        // A cut connection: what the writer made of the partial blob does not matter. (With
        // every byte in, the stream's own complaint is about the digest, which the writer
        // reports better.)
        return Err(RegistryError::Unreachable {
            image: image.clone(),
            registry: host,
            detail: format!("{what}: {e}"),
        });
    }
    written.map_err(|e| mismatch_or_store(image, &host, &what, e))?;
    for &u in &job.users {
        ctx.emit(
            u,
            PullEvent::LayerDone {
                layer: layer.clone(),
            },
        );
    }
    Ok(())
}

/// Writes the image record and its names: the reference as given, and `name@digest` (Docker's
/// `RepoDigests`).
fn record(
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
