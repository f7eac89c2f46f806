//! What one image build is asked to do, in the builder's own terms: the stack turns a service's
//! Compose `build:` section (and the `build` command's flags) into a [`BuildRequest`], with
//! paths made absolute, build args resolved and secrets read from where they live, so the
//! builder never sees the Compose model.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::engine::image::Reference;
use crate::engine::spec::Rlimit;

/// One image to build.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// What progress lines call the build (`[web 3/7]`): the service's name.
    pub name: String,
    /// The context directory, absolute.
    pub context: PathBuf,
    pub dockerfile: DockerfileSource,
    /// Build args (`build.args` overridden by `--build-arg`), values resolved.
    pub args: BTreeMap<String, String>,
    /// The stage to build (`build.target`); the last one when `None`.
    pub target: Option<String>,
    /// Labels added to the image config (`build.labels`).
    pub labels: BTreeMap<String, String>,
    /// The names the image gets: the service's image name first, then `build.tags`.
    pub tags: Vec<Reference>,
    /// `--no-cache` / `build.no_cache`: no step is taken from the cache.
    pub no_cache: bool,
    /// `--pull` / `build.pull`: base images are pulled even when present.
    pub pull: bool,
    /// The network RUN steps use (`build.network`).
    pub network: BuildNetwork,
    /// `build.extra_hosts`: lines added to the RUN containers' `/etc/hosts`.
    pub extra_hosts: Vec<(String, String)>,
    /// `build.shm_size` in bytes.
    pub shm_size: Option<u64>,
    /// `build.secrets`: id to content source; mounted only by `RUN --mount=type=secret`.
    pub secrets: BTreeMap<String, SecretSource>,
    /// `build.additional_contexts`: name to what it holds.
    pub additional_contexts: BTreeMap<String, NamedContext>,
    /// `build.privileged`: RUN steps run privileged.
    pub privileged: bool,
    /// `build.ulimits` for RUN steps.
    pub ulimits: Vec<Rlimit>,
    /// `SOURCE_DATE_EPOCH`: file times in new layers clamped to it, image times set to it.
    pub source_date_epoch: Option<i64>,
    /// Where the RUN containers' cgroups go (the engine's cgroup parent); `compose` when empty.
    pub cgroup_parent: String,
}

/// Where the Dockerfile comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerfileSource {
    /// A file (absolute path); `<name>.dockerignore` beside it applies.
    Path(PathBuf),
    /// `build.dockerfile_inline`.
    Inline(String),
}

impl Default for DockerfileSource {
    fn default() -> Self {
        DockerfileSource::Path(PathBuf::from("Dockerfile"))
    }
}

/// The network of the RUN containers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BuildNetwork {
    /// A network namespace of its own with only loopback (`network: none`).
    None,
    /// The host's network namespace (`network: host`).
    Host,
    /// An existing engine network (its full name, `<project>_default`): the stack makes sure it
    /// exists before the build.
    Network(String),
    /// Nothing was asked and the project has no default network: a namespace of its own with
    /// only loopback (the stack gives `Network(<project>_default)` when there is one).
    #[default]
    Default,
}

/// Where a build secret's content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    File(PathBuf),
    /// Read by the stack (from the environment).
    Value(Vec<u8>),
}

/// What an additional context (or a `COPY --from=NAME` that is no stage) names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedContext {
    /// A local directory, absolute.
    Dir(PathBuf),
    /// An image reference (`docker-image://REF`, or an image id of a service built first).
    Image(String),
}
