//! `compose builder prune` and `image prune --build-cache`: empties the layer cache — its
//! records (pins in the image store, so the layers only they kept go too) and the cache
//! mounts' directories under `<root>/build/`.

use std::fs;
use std::path::Path;

use crate::build::BuildError;
use crate::engine::image::ImageStore;
use crate::engine::root::StateRoot;

/// The prefix of the build cache's pins in the image store.
pub const PIN_PREFIX: &str = "build-";

/// What `builder prune` freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CachePrune {
    /// Cache records removed.
    pub removed: u64,
    /// Bytes freed: layers only the cache kept, and cache mounts.
    pub reclaimed: u64,
}

/// Empties the build cache: its records (the layers only they kept go too) and the cache
/// mounts' directories. Without `all`, records of steps whose layers an image still uses stay.
pub fn prune_cache(root: &Path, all: bool) -> Result<CachePrune, BuildError> {
    let store = ImageStore::open(StateRoot::new(root).images())?;
    let (removed, mut reclaimed) = store.unpin_all(PIN_PREFIX, all)?;
    let mounts = StateRoot::new(root).build_cache_mounts();
    if mounts.exists() {
        reclaimed += du(&mounts);
        fs::remove_dir_all(&mounts).map_err(|source| BuildError::Io {
            what: "removing",
            path: mounts.clone(),
            source,
        })?;
    }
    Ok(CachePrune { removed, reclaimed })
}

/// Bytes of the regular files under `dir` (not following links).
fn du(dir: &Path) -> u64 {
    let mut total = 0;
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

/// How many build cache objects `prune_cache` would remove, changing nothing (`--dry-run`).
pub fn prunable_cache(root: &Path, all: bool) -> Result<usize, BuildError> {
    let store = ImageStore::open(StateRoot::new(root).images())?;
    Ok(store.unpinnable(PIN_PREFIX, all)?.len())
}
