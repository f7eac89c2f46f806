//! The filesystem of a build stage, read without mounting it.
//!
//! A stage is a stack of unpacked layer directories in overlayfs form (see
//! [`crate::engine::image::layer`]): a deletion is a 0/0 character device, an opaque directory
//! carries the `trusted.overlay.opaque` (or `user.overlay.opaque`) xattr. COPY needs to read
//! that stack (the source of `COPY --from`, the owners named by `--chown`, the directories a
//! destination goes through) many times per build; mounting an overlay for each would cost a
//! mount namespace and root, so [`LayerView`] merges the layers itself, as overlayfs would.
//!
//! The content is hostile: every name is opened from its parent's descriptor with
//! `O_NOFOLLOW`, and symlinks are followed by [`resolve`] inside the root only.
mod error;
mod find;
mod metadata;
mod read;
pub(crate) mod resolve;
mod users;
pub(crate) mod xattrs;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

pub use error::LayerViewError;
pub use metadata::{Metadata, NodeKind};
pub use read::Resolved;
pub use xattrs::Xattr;

/// One layer directory, held open.
#[derive(Debug)]
struct Layer {
    dir: PathBuf,
    fd: OwnedFd,
}

/// The merged view of a stack of layer directories.
#[derive(Debug)]
pub struct LayerView {
    /// Topmost first.
    layers: Vec<Layer>,
}

impl LayerView {
    /// Opens the layer directories `layers`, topmost first. None may be empty: `FROM scratch`
    /// is a view of no layers, an empty root.
    pub fn new(layers: &[PathBuf]) -> Result<Self, LayerViewError> {
        let layers = layers
            .iter()
            .map(|dir| {
                rustix::fs::open(
                    dir,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map(|fd| Layer {
                    dir: dir.clone(),
                    fd,
                })
                .map_err(|source| LayerViewError::Io {
                    layer: dir.clone(),
                    path: PathBuf::new(),
                    op: "open",
                    source,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(LayerView { layers })
    }

    fn io_error(
        &self,
        layer: usize,
        path: &Path,
        op: &'static str,
        source: rustix::io::Errno,
    ) -> LayerViewError {
        LayerViewError::Io {
            layer: self.layers[layer].dir.clone(),
            path: path.to_path_buf(),
            op,
            source,
        }
    }
}

#[cfg(test)]
mod tests;
