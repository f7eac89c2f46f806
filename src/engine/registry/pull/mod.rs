//! Pulling images into the store.
//!
//! Three phases, so that one command's images share their work and nothing half-done becomes
//! visible: (1) every reference is resolved at once (mirrors first, then the registry) down to
//! this platform's manifest and its config; (2) the layers not yet in the store are fetched —
//! each distinct layer once, at most [`MAX_CONCURRENT_DOWNLOADS`] at a time (Docker's default),
//! streamed into the store, unpacked and verified as they arrive; (3) each image whose layers
//! are all in is recorded and named. The store's writer lock is held throughout.
//!
//! Layout: the phases here ([`pull_images`]), the [`manifest`] documents, resolving a
//! reference ([`resolve`]), fetching a layer ([`layer`]) and recording an image ([`record`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::join_all;
use tokio::sync::Semaphore;

use super::client::Connections;
use super::config::RegistryConfig;
use super::credentials::DockerConfig;
use super::error::RegistryError;
use crate::engine::image::{ImageError, ImageStore};

mod layer;
mod manifest;
mod record;
mod resolve;

use layer::{fetch_layer, LayerJob};
use record::record;
use resolve::{resolve, Resolved};

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

pub(super) struct Ctx<'a> {
    pub(super) store: &'a ImageStore,
    pub(super) conns: Connections,
    pub(super) requests: &'a [PullRequest],
    pub(super) progress: Arc<dyn PullProgress>,
}

impl Ctx<'_> {
    pub(super) fn emit(&self, index: usize, event: PullEvent) {
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

pub(super) fn mismatch_or_store(
    image: &str,
    host: &str,
    what: &str,
    e: ImageError,
) -> RegistryError {
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
