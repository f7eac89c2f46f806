//! The build itself: the stages a target needs, each instruction in turn (RUN in a container of
//! our engine, COPY/ADD written into a new layer, the rest into the image config), each step
//! looked up in the layer cache first, and the result committed to the image store.
//!
//! [`orchestrate`] decides everything (stage order, scopes, cache keys, the image config,
//! progress) and asks a [`backend::Backend`] to act; [`engine_backend`] is the one that acts on
//! our engine and image store.

pub mod backend;
mod describe;
mod engine_backend;
pub mod image_config;
pub mod key;
mod orchestrate;
mod prune;
mod stages;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

use std::path::Path;

use super::dockerfile::{self, Dockerfile};
use super::progress::BuildProgress;
use super::request::{BuildRequest, DockerfileSource};
use super::BuildError;
use crate::engine::image::Reference;
use backend::{Backend, BaseResolver};
pub use prune::{prunable_cache, prune_cache, CachePrune, PIN_PREFIX};

/// Pulls a base image that the store lacks (or that `--pull` asks to refresh): the stack's pull
/// machinery, behind a seam so the builder stays free of registries and progress displays.
pub trait BaseImages {
    fn fetch(&mut self, reference: &Reference) -> Result<(), String>;
}

/// What a build made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// `sha256:<config digest>`.
    pub id: String,
    /// The names it was given.
    pub names: Vec<Reference>,
    /// Each RUN, COPY and ADD of the stages built, in order, and whether it came from the cache.
    pub steps: Vec<(String, bool)>,
}

/// The request's Dockerfile, parsed.
pub fn dockerfile(req: &BuildRequest) -> Result<Dockerfile, BuildError> {
    Ok(match &req.dockerfile {
        DockerfileSource::Path(path) => dockerfile::read(path)?,
        DockerfileSource::Inline(text) => dockerfile::parse(text, "Dockerfile")?,
    })
}

/// Builds `req` with `backend` doing the work and `bases` resolving base images.
pub fn build_with(
    req: &BuildRequest,
    backend: &dyn Backend,
    bases: &mut dyn BaseResolver,
    progress: &mut dyn BuildProgress,
) -> Result<BuiltImage, BuildError> {
    let df = dockerfile(req)?;
    orchestrate::Orchestrator::new(req, backend, progress).build(&df, bases)
}

/// Builds `req` with the state root `root`; the image is stored and named.
pub fn build(
    root: &Path,
    req: &BuildRequest,
    bases: &mut dyn BaseImages,
    progress: &mut dyn BuildProgress,
) -> Result<BuiltImage, BuildError> {
    let backend = engine_backend::EngineBackend::new(root, req)?;
    let mut resolver = engine_backend::EngineBases::new(root, req, bases)?;
    build_with(req, &backend, &mut resolver, progress)
}
