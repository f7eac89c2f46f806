//! Load errors. Every error a user can cause names where it happened (file, line, column), which
//! key it concerns (a dotted key path such as `services.web.ports[0]`) and what was expected, so a
//! typo in a 500-line stack file is found without guessing.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A position in a source file. `file` is `None` for text with no file (stdin is named `-`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Span {
    pub file: Option<Arc<Path>>,
    /// 1-based; 0 when unknown.
    pub line: u32,
    /// 1-based; 0 when unknown.
    pub col: u32,
}

impl Span {
    pub fn new(file: Option<Arc<Path>>, line: u32, col: u32) -> Self {
        Span { file, line, col }
    }

    /// A span that only names a file (errors about a whole file, e.g. it cannot be read).
    pub fn file(path: &Path) -> Self {
        Span {
            file: Some(Arc::from(path)),
            line: 0,
            col: 0,
        }
    }

    pub fn is_known(&self) -> bool {
        self.file.is_some() || self.line > 0
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(p) => write!(f, "{}", p.display())?,
            None => write!(f, "<input>")?,
        }
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if self.col > 0 {
                write!(f, ":{}", self.col)?;
            }
        }
        Ok(())
    }
}

/// What went wrong, independent of where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    #[error("cannot read {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("no configuration file provided: not found (looked for {looked_for} in {dir} and its parents)")]
    NoConfigFile { dir: PathBuf, looked_for: String },
    #[error("invalid YAML: {0}")]
    Yaml(String),
    #[error("unknown key `{key}`{}", hint.as_ref().map(|h| format!(", {h}")).unwrap_or_default())]
    UnknownKey { key: String, hint: Option<String> },
    #[error("expected {expected}, found {found}")]
    WrongType { expected: String, found: String },
    #[error("invalid {what} {value:?}: expected {expected}")]
    InvalidValue {
        what: String,
        value: String,
        expected: String,
    },
    #[error("{0}")]
    Interpolation(String),
    #[error("invalid .env syntax: {0}")]
    Dotenv(String),
    #[error("{kind} `{name}` is not defined{}", referrer.as_ref().map(|r| format!(" (used by {r})")).unwrap_or_default())]
    Undefined {
        kind: String,
        name: String,
        referrer: Option<String>,
    },
    #[error("dependency cycle detected: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    #[error("{0}")]
    Conflict(String),
    /// A service named on the command line that the project does not have. Not a broken
    /// file: Docker Compose exits 1 for it, not 15.
    #[error("no such service: {0}")]
    NoSuchService(String),
    #[error("{0}")]
    Other(String),
}

/// An error while loading a project: what, where, and under which key. Boxed: errors are rare
/// and results are everywhere, so the `Err` side stays one pointer wide.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadError(Box<Located>);

/// The parts of a [`LoadError`], reached through it by `Deref` (`err.span`, `err.kind`).
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub span: Span,
    /// Dotted key path, e.g. `services.web.ports[0]`; empty when the error is about a whole file.
    pub path: String,
    pub kind: ErrorKind,
}

impl std::ops::Deref for LoadError {
    type Target = Located;
    fn deref(&self) -> &Located {
        &self.0
    }
}

impl std::ops::DerefMut for LoadError {
    fn deref_mut(&mut self) -> &mut Located {
        &mut self.0
    }
}

impl LoadError {
    pub fn new(span: Span, path: impl Into<String>, kind: ErrorKind) -> Self {
        LoadError(Box::new(Located {
            span,
            path: path.into(),
            kind,
        }))
    }

    /// An error with no source position (e.g. about command-line input).
    pub fn bare(kind: ErrorKind) -> Self {
        LoadError::new(Span::default(), String::new(), kind)
    }

    pub fn into_parts(self) -> Located {
        *self.0
    }

    pub fn io(path: &Path, err: &std::io::Error) -> Self {
        LoadError::new(
            Span::file(path),
            "",
            ErrorKind::Io {
                path: path.to_path_buf(),
                message: err.to_string(),
            },
        )
    }

    pub fn other(span: Span, path: impl Into<String>, message: impl Into<String>) -> Self {
        LoadError::new(span, path, ErrorKind::Other(message.into()))
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.span.is_known() {
            write!(f, "{}: ", self.span)?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for LoadError {}

pub type Result<T, E = LoadError> = std::result::Result<T, E>;

/// Builds key paths the way errors print them: `services.web.ports[0]`.
pub fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

pub fn join_index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}
