//! What can go wrong reading or compiling a seccomp profile.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("reading seccomp profile {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("parsing seccomp profile {path}: {source}")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("seccomp profile: unsupported action {0:?}")]
    Action(String),
    #[error("seccomp profile: unsupported comparison {0:?}")]
    Op(String),
    #[error("seccomp profile: invalid minKernel {0:?}")]
    Kernel(String),
    #[error("seccomp profile for syscall {name}: {message}")]
    Rule { name: String, message: String },
    #[error("compiling seccomp profile: {0}")]
    Compile(String),
    #[error("seccomp is not supported on architecture {0}")]
    Arch(&'static str),
}
