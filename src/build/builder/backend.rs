//! The seam between deciding what a build does and doing it: the orchestrator (stage order,
//! scopes, cache keys, the image config, progress) asks a [`Backend`] to fetch bases, run
//! steps, copy files, consult the cache and commit the image. The engine-backed one does it for
//! real; the tests' recording fake checks the decisions without root.

use std::path::PathBuf;

use serde_json::Value;

use super::image_config::ImageConfig;
use super::key::Key;
use crate::build::dockerfile::Copy;
use crate::build::BuildError;
use crate::engine::image::{LayerRef, Reference};

/// A base image as a stage starts from it.
#[derive(Debug, Clone)]
pub struct Base {
    /// `sha256:<hex>`: part of the cache key.
    pub id: String,
    /// Bottom layer first.
    pub layers: Vec<LayerRef>,
    pub config: ImageConfig,
    /// Its ONBUILD triggers, as recorded (`RUN make`).
    pub on_build: Vec<String>,
}

/// Where files come from (a COPY's sources, a RUN bind mount's).
#[derive(Debug, Clone, PartialEq)]
pub enum Files {
    /// The build context.
    Context,
    /// A named context that is a directory.
    Dir(PathBuf),
    /// A stage's or an image's files: its layers, bottom first.
    Layers(Vec<LayerRef>),
}

/// The network of one RUN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunNet {
    None,
    Host,
    /// The build's network (the request's).
    Build,
}

/// A RUN mount, its `from` resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum RunMount {
    Bind {
        files: Files,
        source: String,
        target: String,
        read_write: bool,
    },
    Cache {
        /// The cache's id: `id=`, else the target.
        id: String,
        target: String,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Secret {
        id: String,
        target: String,
        required: bool,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Tmpfs {
        target: String,
        size: Option<u64>,
    },
}

/// One RUN, ready to execute.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    pub argv: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub user: Option<String>,
    pub network: RunNet,
    pub mounts: Vec<RunMount>,
    /// `--security=insecure` (allowed only for a privileged build).
    pub privileged: bool,
}

/// One COPY or ADD, expanded.
#[derive(Debug, Clone, PartialEq)]
pub struct CopySpec {
    pub copy: Copy,
    pub add: bool,
    /// The stage's WORKDIR at that point (a relative dest is joined to it).
    pub workdir: String,
    pub from: Files,
}

/// Resolves base images, on the build's own thread (pulling may report progress through the
/// stack), before any stage runs.
pub trait BaseResolver {
    /// The image `reference`, fetched when missing (or always with `pull`).
    fn base(&mut self, reference: &str, pull: bool) -> Result<Base, BuildError>;
}

/// A step's result found in the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheHit {
    /// `None`: the step made no layer.
    pub layer: Option<LayerRef>,
    /// When the step ran (seconds since the epoch), if recorded: a fully cached rebuild dates
    /// its image from its steps, so it is the same image as before.
    pub created: Option<i64>,
}

/// What a build needs done; shared by the threads of independent stages.
pub trait Backend: Sync {
    /// The step result cached under `key`, if it is still whole.
    fn cached(&self, key: &Key) -> Option<CacheHit>;
    /// Records a step's result under `key`, made at `created` (seconds since the epoch).
    fn remember(&self, key: &Key, layer: Option<&LayerRef>, created: i64)
        -> Result<(), BuildError>;
    /// Runs a RUN over `lowers` (bottom first); its exit code and, when it changed anything,
    /// the layer it made.
    fn run(
        &self,
        lowers: &[LayerRef],
        spec: &RunSpec,
        output: &mut dyn FnMut(&[u8]),
    ) -> Result<(i32, Option<LayerRef>), BuildError>;
    /// What a COPY reads, hashed: its part of the cache key.
    fn copy_key(&self, spec: &CopySpec) -> Result<[u8; 32], BuildError>;
    /// Performs a COPY onto `lowers` (bottom first); the layer it made, if any.
    fn copy(&self, lowers: &[LayerRef], spec: &CopySpec) -> Result<Option<LayerRef>, BuildError>;
    /// Stores the image and gives it `names`; returns its id.
    fn commit(
        &self,
        config: Value,
        layers: &[LayerRef],
        names: &[Reference],
    ) -> Result<String, BuildError>;
}
