//! How much a state root holds, for `compose info`: read from the records the commands keep,
//! never from the kernel, so it is cheap and needs no privilege beyond reading `--root`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::engine::image::{ImageError, ImageStore};
use crate::engine::network::manager::{NetworkError, Networks};
use crate::engine::root::StateRoot;
use crate::engine::state::{self, StateError, Status};

/// What a state root holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Projects with at least one container.
    pub projects: usize,
    pub containers: usize,
    pub running: usize,
    pub images: usize,
    pub volumes: usize,
    pub networks: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum CountsError {
    #[error("counting containers: {0}")]
    Containers(#[from] StateError),
    #[error("counting images: {0}")]
    Images(#[from] ImageError),
    #[error("counting networks: {0}")]
    Networks(#[from] NetworkError),
    #[error("counting volumes in {path}: {source}")]
    Volumes {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Counts what `root` holds; a part not made yet counts as none.
pub fn count(root: &Path) -> Result<Counts, CountsError> {
    let layout = StateRoot::new(root);
    let containers = state::list(root, None)?;
    let projects: BTreeSet<&str> = containers
        .iter()
        .map(|o| o.record.project.as_str())
        .collect();
    let running = containers
        .iter()
        .filter(|o| o.state.status == Status::Running)
        .count();
    let images = ImageStore::open(layout.images())?.list()?.len();
    let networks = Networks::open(root)?.list()?.len();
    let dir = layout.volumes();
    let volumes = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .count(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(source) => return Err(CountsError::Volumes { path: dir, source }),
    };
    Ok(Counts {
        projects: projects.len(),
        containers: containers.len(),
        running,
        images,
        volumes,
        networks,
    })
}
