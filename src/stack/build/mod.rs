//! Images from the services' `build:` sections: `compose build` ([`command`]), and the builds
//! `up`, `create` and `run` do before creating anything ([`ensure`]). [`request`] turns a
//! service into the builder's request, [`order`] says which services are built and in what
//! order, [`engine`] is the real [`ImageBuilder`]: the builder of [`crate::build`] with base
//! images pulled by the stack's pull machinery and the build network made first.
//!
//! Everything that decides goes through the [`ImageBuilder`] seam, so the decisions (what is
//! built, when, with what) are unit-tested with a recording fake, without root.

pub mod command;
pub mod engine;
pub mod ensure;
pub mod order;
pub mod request;

use crate::build::{BuildRequest, BuiltImage};
use crate::model::types::service::ServiceConfig;

use super::StackError;

pub use command::{build_command, BuildCommandOptions, Built};
pub use engine::EngineBuilder;
pub use ensure::{ensure_images, ImageOptions};

/// Builds one service's image. The real one ([`EngineBuilder`]) also makes ready what the build
/// needs outside the builder (its network); tests record the requests.
pub trait ImageBuilder {
    fn build(&mut self, service: &str, request: &BuildRequest) -> Result<BuiltImage, StackError>;
}

/// When `up`, `create` and `run` build a service's image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildMode {
    /// When it is missing, or the service's `pull_policy` is `build`.
    #[default]
    Missing,
    /// `--build`: every selected service with a `build:` section, every time.
    Always,
    /// `--no-build`: never; a missing image is an error.
    Never,
}

/// What the command line adds to every service's build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildFlags {
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--pull`: base images pulled even when stored.
    pub pull: bool,
    /// `--build-arg K=V` (or `K`, its value from the environment), over `build.args`.
    pub build_args: Vec<String>,
}

/// Why a service cannot be built as asked, before anything is built.
#[derive(Debug, thiserror::Error)]
pub enum BuildSetupError {
    #[error("no such service: {0}")]
    NoSuchService(String),
    #[error("service {0} has no build section")]
    NoBuild(String),
    /// A key this tool does not honour.
    #[error("service {service}: {key}: {message}")]
    Refused {
        service: String,
        key: String,
        message: String,
    },
    /// A value that cannot be used.
    #[error("service {service}: {key}: {message}")]
    Invalid {
        service: String,
        key: String,
        message: String,
    },
    /// `service:NAME` contexts that lead back to where they start.
    #[error("build contexts form a cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    /// A `service:` context whose service was not built before this one (an ordering bug).
    #[error("service {service}: build.additional_contexts.{context}: service {other} must be built first")]
    NotBuiltFirst {
        service: String,
        context: String,
        other: String,
    },
}

/// The name a service's image has: its `image:`, else `<project>-<service>` as Docker Compose
/// v2 names what it builds.
pub fn image_name(project_name: &str, service: &str, svc: &ServiceConfig) -> String {
    svc.image
        .clone()
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| format!("{project_name}-{service}"))
}

#[cfg(test)]
mod tests;
