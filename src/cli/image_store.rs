//! The image store of a `--root`, as every image command opens it: apart from `image`, so that
//! `image pull` and `image push` (which `image` dispatches to) reach it without importing back.

use anyhow::Context;

use super::GlobalOptions;
use crate::engine::image::ImageStore;

/// The image store of a `--root`.
pub fn open_store(global: &GlobalOptions) -> anyhow::Result<ImageStore> {
    let root = crate::engine::root::StateRoot::new(&global.root).images();
    ImageStore::open(&root).with_context(|| format!("opening the image store {}", root.display()))
}
