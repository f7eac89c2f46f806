//! Why a build failed, with the build, the step and the file named all the way up.

use super::context::ContextError;
use super::dockerfile::DockerfileError;
use crate::engine::image::ImageError;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Dockerfile(#[from] DockerfileError),
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error("image store: {0}")]
    Image(#[from] ImageError),
    /// A base image could not be found or pulled.
    #[error("{build}: base image {reference}: {message}")]
    BaseImage {
        build: String,
        reference: String,
        message: String,
    },
    /// A RUN exited non-zero: BuildKit's words, with the step as progress showed it.
    #[error("{build}: {step}: process {process:?} did not complete successfully: exit code: {code}{}",
        if tail.is_empty() { String::new() } else { format!("\n{tail}") })]
    RunFailed {
        build: String,
        /// `[web builder 3/7] RUN make`.
        step: String,
        /// The command, its words joined by spaces (`/bin/sh -c make`).
        process: String,
        code: i32,
        /// The last lines of its output.
        tail: String,
    },
    /// A step failed for another reason.
    #[error("{build}: {step}: {message}")]
    Step {
        build: String,
        step: String,
        message: String,
    },
    /// Something the request or the Dockerfile asks for that this builder does not do.
    #[error("{build}: {message}")]
    Unsupported { build: String, message: String },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}
