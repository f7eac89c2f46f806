//! Why a COPY or ADD failed, naming the source pattern, the flag or the path concerned.

use std::path::PathBuf;

use crate::build::context::ContextError;
use crate::build::layers::LayerViewError;
use crate::engine::image::layer::LayerError;

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// Worded as BuildKit words it, which users search for.
    #[error("failed to compute cache key: \"/{pattern}\" not found")]
    NotFound { pattern: String },
    #[error("source pattern `{pattern}`: {reason}")]
    BadPattern { pattern: String, reason: String },
    #[error("When using COPY with more than one source file, the destination must be a directory and end with a / (destination `{dest}`)")]
    DestNotDirSyntax { dest: String },
    #[error("ADD {url}: remote sources are not fetched (builds are offline): put the file in the build context, or fetch it with RUN")]
    RemoteSource { url: String },
    #[error("--chown={spec}: {reason}")]
    Chown { spec: String, reason: String },
    #[error("--chmod={spec}: not an octal mode of at most 4 digits")]
    Chmod { spec: String },
    #[error("destination /{}: a parent is not a directory in the image", path.display())]
    DestNotADirectory { path: PathBuf },
    #[error("cannot copy /{}: {kind} are not copied", path.display())]
    Unsupported { path: PathBuf, kind: &'static str },
    #[error("ADD {}: {source}", path.display())]
    Archive {
        path: PathBuf,
        #[source]
        source: LayerError,
    },
    #[error("reading source /{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Writing the new layer; `path` is relative to it.
    #[error("writing /{} of the new layer: {op}: {source}", path.display())]
    Write {
        path: PathBuf,
        op: &'static str,
        source: rustix::io::Errno,
    },
    /// Writing a file's content into the new layer (a full disk): the path on the host, so
    /// the user sees which file system is full.
    #[error("writing {}: {source}", path.display())]
    WriteContent {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error("reading the image: {0}")]
    View(#[from] LayerViewError),
}
