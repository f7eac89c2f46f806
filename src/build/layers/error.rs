//! What can go wrong reading a stack of layers; every error names the path in the view and,
//! where one layer is concerned, that layer's directory.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LayerViewError {
    #[error("layer {}: {op} {}: {source}", layer.display(), path.display())]
    Io {
        layer: PathBuf,
        /// Relative to the view's root.
        path: PathBuf,
        op: &'static str,
        source: rustix::io::Errno,
    },
    #[error("reading /{} of the image: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("/{}: too many levels of symbolic links", path.display())]
    Loop { path: PathBuf },
    #[error("/{}: a parent is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error("/{}: not found", path.display())]
    NotFound { path: PathBuf },
    #[error("/{}: is not {want}", path.display())]
    WrongKind { path: PathBuf, want: &'static str },
}
