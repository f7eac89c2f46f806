//! Why starting a container's monitor failed.

use crate::engine::container::ContainerError;
use crate::engine::runtime::error::InitError;
use crate::engine::state::StateError;

/// Why a supervision operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SuperviseError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("container {name}: {source}")]
    Start { name: String, source: InitError },
    #[error("container {name}: {action}: {source}")]
    Io {
        name: String,
        action: &'static str,
        source: std::io::Error,
    },
    #[error(transparent)]
    Container(#[from] ContainerError),
}
