//! What can go wrong reading a build context; every error names the path it concerns.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("{}:{line}: bad pattern `{pattern}`: {reason}", file.display())]
    BadPattern {
        file: PathBuf,
        line: usize,
        pattern: String,
        reason: String,
    },
    #[error("cannot read {}: {source}", path.display())]
    ReadIgnoreFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("build context {}: cannot open: {source}", dir.display())]
    OpenRoot {
        dir: PathBuf,
        source: rustix::io::Errno,
    },
    /// `path` is relative to the context root; `op` says which step failed.
    #[error("build context {}: {op} {}: {source}", root.display(), path.display())]
    Entry {
        root: PathBuf,
        path: PathBuf,
        op: &'static str,
        source: rustix::io::Errno,
    },
    #[error("build context {}: cannot read {}: {source}", root.display(), path.display())]
    Read {
        root: PathBuf,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("build context {}: {} is not a regular file", root.display(), path.display())]
    NotAFile { root: PathBuf, path: PathBuf },
}
