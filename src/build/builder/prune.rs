//! `compose builder prune` and `image prune --build-cache`: frees the layer cache under
//! `--root`. The cache lands with the builder (issue 14); until then there is nothing to free,
//! which this says rather than reporting zero bytes freed from a cache that does not exist.

use std::path::Path;

use crate::build::BuildError;

/// What a prune removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CachePrune {
    /// Cache entries removed.
    pub removed: u64,
    /// Bytes freed.
    pub reclaimed: u64,
}

/// Removes every entry of the build cache under `root`.
pub fn prune_cache(root: &Path) -> Result<CachePrune, BuildError> {
    Err(BuildError::Unsupported {
        build: format!("build cache of {}", root.display()),
        message: "the layer cache lands with the builder (issue 14)".into(),
    })
}
