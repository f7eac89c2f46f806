//! A build's context: the directory whose files a Dockerfile's COPY and ADD may read, with
//! `.dockerignore` applied, listed without ever following a symlink out of it, and each file's
//! content hash (the input of the layer cache's key) computed when asked for.
mod digest;
mod dockerignore;
mod error;
mod files;
mod pattern;
mod source;
mod walk;

pub use digest::FileDigest;
pub use dockerignore::{clean, IgnoreRules};
pub use error::ContextError;
pub use files::build_files;
pub use pattern::{Pattern, PatternError};
pub use source::ContextDir;
pub use walk::{ContextEntry, EntryKind};
