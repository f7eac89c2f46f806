//! Images from registries: the OCI distribution API (through `oci-client`), registry
//! configuration (mirrors, insecure hosts, CA certificates), Docker's credential store, pull and
//! push into and out of the [`ImageStore`](crate::engine::image::ImageStore).
//!
//! The rest of the program sees synchronous functions: each call runs its own small tokio
//! runtime, because nothing else in the engine is async.
pub mod client;
pub mod config;
pub mod credentials;
pub mod error;
pub mod login;
pub mod platform;
pub mod pull;
pub mod push;

pub use config::{RegistryConfig, RegistryConfigError};
pub use credentials::{Credential, CredentialError, DockerConfig};
pub use error::RegistryError;
pub use login::verify_login;
pub use pull::{pull_images, PullEvent, PullOptions, PullProgress, PullRequest, Pulled};
pub use push::{push_images, PushEvent, PushOptions, PushProgress, Pushed};
