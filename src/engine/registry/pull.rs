//! Pulling images into the store. SKELETON: the signatures are the contract.
use std::sync::Arc;

use super::config::RegistryConfig;
use super::credentials::DockerConfig;
use super::error::RegistryError;
use crate::engine::image::ImageStore;

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

/// Pulls every request, in parallel (layers shared between them are fetched once); one result
/// per request, in order.
pub fn pull_images(
    _store: &ImageStore,
    requests: &[PullRequest],
    _opts: &PullOptions,
) -> Vec<Result<Pulled, RegistryError>> {
    requests
        .iter()
        .map(|r| {
            Err(RegistryError::Protocol {
                image: r.reference.clone(),
                registry: String::new(),
                detail: "pull: being written".into(),
            })
        })
        .collect()
}
