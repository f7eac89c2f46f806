//! The images `up`, `create` and `run` need, made ready before anything is created: pulled
//! first, then built, as Docker Compose's `ensureImagesExists` does (pkg/compose/create.go,
//! pull.go, build.go): a service with `build:` and an `image:` is pulled when its policy says
//! so, and a failed pull of it is no error since the image can be built; it is then built when
//! its image is still missing, when its `pull_policy` is `build`, or always with `--build`
//! (which Docker Compose implements by setting every buildable service's policy to `build`);
//! `--no-build` builds nothing, and a missing image is then an error where it is resolved.

use std::collections::BTreeMap;

use super::order::build_order;
use super::request::build_request;
use super::{image_name, BuildFlags, BuildMode, EngineBuilder, ImageBuilder};
use crate::engine::image::{ImageError, ImageStore};
use crate::engine::network::manager::Networks;
use crate::model::types::resources::Project;
use crate::planner::pull_policy::PullPolicy;
use crate::stack::{pull, Ctx, Reporter, StackError};

/// How `up`, `create` and `run` get their images.
#[derive(Debug, Clone, Default)]
pub struct ImageOptions {
    /// `--pull`: replaces every service's `pull_policy`.
    pub pull: Option<PullPolicy>,
    /// `DOCKER_DEFAULT_PLATFORM`.
    pub default_platform: Option<String>,
    /// `--build` / `--no-build`.
    pub build: BuildMode,
    pub flags: BuildFlags,
}

/// Whether a service's image is built by `up` (before which the pulls were done): never
/// without a `build:` section or with `--no-build`; always with `--build` or `pull_policy:
/// build`; else when it is not stored.
pub fn must_build(mode: BuildMode, has_build: bool, policy: PullPolicy, stored: bool) -> bool {
    has_build
        && match mode {
            BuildMode::Always => true,
            BuildMode::Never => false,
            BuildMode::Missing => policy == PullPolicy::Build || !stored,
        }
}

/// Pulls, then builds, what `services` need; returns when every image that can be had is
/// stored. Runs under the project's lock (the build network may be created).
pub fn ensure_images(
    ctx: &Ctx,
    store: &ImageStore,
    nets: &Networks,
    project: &Project,
    services: &[String],
    opts: &ImageOptions,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    pull::ensure_images(
        store,
        project,
        services,
        opts.pull,
        opts.default_platform.as_deref(),
        opts.build,
        rep,
    )?;
    let name = crate::stack::project_name(project)?;
    let mut stored = |reference: &str| match store.resolve(reference) {
        Ok(_) => Ok(true),
        Err(ImageError::NotFound(_)) => Ok(false),
        Err(error) => Err(StackError::ImageStore { error }),
    };
    let pull_progress = rep.pull_progress();
    let progress = rep.build_progress();
    let mut builder = EngineBuilder::new(ctx, project, &name, nets, store, pull_progress, progress);
    build_needed(
        project,
        &name,
        services,
        opts,
        &mut stored,
        &mut builder,
        rep,
    )?;
    Ok(())
}

/// The builds of [`ensure_images`], after its pulls: which services are built (see
/// [`must_build`]), in the order their `service:` contexts ask for. A context service whose
/// image is stored is used as it is. Returns, by service, the id of each image built (or the
/// name of a stored context image used as it is).
pub fn build_needed(
    project: &Project,
    project_name: &str,
    services: &[String],
    opts: &ImageOptions,
    stored: &mut dyn FnMut(&str) -> Result<bool, StackError>,
    builder: &mut dyn ImageBuilder,
    rep: &mut dyn Reporter,
) -> Result<BTreeMap<String, String>, StackError> {
    let mut wanted = Vec::new();
    for s in services {
        let svc = project
            .services
            .get(s)
            .ok_or_else(|| StackError::Invalid(format!("no such service: {s}")))?;
        let policy = PullPolicy::of_service(svc.pull_policy.as_deref())
            .map_err(|e| StackError::Invalid(format!("service {s}: pull_policy: {e}")))?;
        let is_stored = stored(&image_name(project_name, s, svc))?;
        if must_build(opts.build, svc.build.is_some(), policy, is_stored) {
            wanted.push(s.clone());
        }
    }
    if wanted.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut built = BTreeMap::new();
    for s in build_order(project, &wanted)? {
        let image = image_name(project_name, &s, &project.services[&s]);
        // A service only needed as another's context is built only when it is missing.
        if !wanted.contains(&s) && stored(&image)? {
            built.insert(s, image);
            continue;
        }
        let request = build_request(project, project_name, &s, &opts.flags, &built)?;
        rep.event("Service", &s, "Building");
        let image_built = builder.build(&s, &request)?;
        rep.event("Service", &s, "Built");
        built.insert(s, image_built.id);
    }
    Ok(built)
}

/// `run`: [`ensure_images`] under the project's lock, opening what it needs; `run` takes the
/// lock again afterwards for the dependencies it starts.
pub fn prepare_images(
    ctx: &Ctx,
    project: &Project,
    services: &[String],
    opts: &ImageOptions,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    let name = crate::stack::project_name(project)?;
    let _lock = crate::engine::state::lock_project(&ctx.root, &name)?;
    let nets = Networks::open(&ctx.root)?;
    let store = ImageStore::open(crate::engine::root::StateRoot::new(&ctx.root).images())
        .map_err(|error| StackError::ImageStore { error })?;
    ensure_images(ctx, &store, &nets, project, services, opts, rep)
}
