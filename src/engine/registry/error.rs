//! What can go wrong talking to a registry, each as one line naming image and registry.
use thiserror::Error;

use super::config::RegistryConfigError;
use super::credentials::CredentialError;
use crate::engine::image::{ImageError, ReferenceError};

#[derive(Debug, Error)]
pub enum RegistryError {
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error("registry configuration: {0}")]
    Config(#[from] RegistryConfigError),
    #[error("credentials: {0}")]
    Credentials(#[from] CredentialError),
    #[error(
        "{image}: unauthorized at {registry}: {detail} (the repository may not exist, or it needs `compose login {registry}`)"
    )]
    Unauthorized {
        image: String,
        registry: String,
        detail: String,
    },
    #[error("{image}: {what} not found at {registry}")]
    NotFound {
        image: String,
        registry: String,
        what: String,
    },
    #[error("{image}: rate limited by {registry} (HTTP 429){reset}")]
    RateLimited {
        image: String,
        registry: String,
        /// `; retry after …` when the registry said when.
        reset: String,
    },
    #[error("{image}: {what} from {registry}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        image: String,
        registry: String,
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{image}: no manifest for {wanted} at {registry} (available: {available})")]
    NoPlatform {
        image: String,
        registry: String,
        wanted: String,
        available: String,
    },
    #[error("{image}: {registry} serves a Docker schema 1 manifest, which is not supported (push the image again with a current Docker or skopeo)")]
    Schema1 { image: String, registry: String },
    #[error("{image}: unsupported manifest media type {media_type:?} from {registry}")]
    UnsupportedMediaType {
        image: String,
        registry: String,
        media_type: String,
    },
    #[error("{image}: registry {registry} is unreachable: {detail}")]
    Unreachable {
        image: String,
        registry: String,
        detail: String,
    },
    #[error("{image}: {registry}: {detail}")]
    Protocol {
        image: String,
        registry: String,
        detail: String,
    },
    #[error("{image}: {source}")]
    Store {
        image: String,
        #[source]
        source: ImageError,
    },
    #[error("invalid platform {0:?}: expected os/arch[/variant], e.g. linux/arm64")]
    Platform(String),
    /// `compose login`: the registry refused the credential.
    #[error("login to {registry} failed: unauthorized: {detail}")]
    LoginRejected { registry: String, detail: String },
    /// `compose login`: anything else (unreachable, a protocol error).
    #[error("login to {registry}: {detail}")]
    Login { registry: String, detail: String },
    #[error("An image does not exist locally with the tag: {image}")]
    NotLocal { image: String },
    #[error("{image}: cannot push a digest reference (push a name with a tag)")]
    PushByDigest { image: String },
}
