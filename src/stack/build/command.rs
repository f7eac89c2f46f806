//! `compose build [SERVICE...]`: every selected service with a `build:` section is built (with
//! `--with-dependencies`, the services they depend on too), each once, after the services its
//! `service:` contexts name. Every request is made (and so checked) before the first build;
//! `--dry-run` stops there and builds nothing.

use std::collections::BTreeMap;

use super::order::build_order;
use super::request::build_request;
use super::{image_name, BuildFlags, EngineBuilder, ImageBuilder};
use crate::engine::image::ImageStore;
use crate::engine::network::manager::Networks;
use crate::engine::root::StateRoot;
use crate::engine::state;
use crate::model::types::resources::Project;
use crate::stack::{project_name, start_order, Ctx, Reporter, StackError};

/// Options of `compose build`.
#[derive(Debug, Clone, Default)]
pub struct BuildCommandOptions {
    /// These services (all when empty).
    pub services: Vec<String>,
    /// `--with-dependencies`: and the services they depend on (`depends_on`).
    pub with_dependencies: bool,
    pub flags: BuildFlags,
    /// `--dry-run`: say what would be built, build nothing.
    pub dry_run: bool,
}

/// One image the command built (or, with `--dry-run`, would build).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub service: String,
    /// Its names: the service's image first, then `build.tags`.
    pub tags: Vec<String>,
    /// `sha256:…`; `None` with `--dry-run`.
    pub id: Option<String>,
}

/// `compose build` with the engine's builder, under the project's lock.
pub fn build_project(
    ctx: &Ctx,
    project: &Project,
    opts: &BuildCommandOptions,
    rep: &mut dyn Reporter,
) -> Result<Vec<Built>, StackError> {
    let name = project_name(project)?;
    if opts.dry_run {
        let planned = check_builds(project, &name, opts)?;
        for b in &planned {
            rep.event("Service", &b.service, "Building");
            rep.event("Service", &b.service, "Built");
        }
        return Ok(planned);
    }
    let _lock = state::lock_project(&ctx.root, &name)?;
    let nets = Networks::open(&ctx.root)?;
    let store = ImageStore::open(StateRoot::new(&ctx.root).images())
        .map_err(|error| StackError::ImageStore { error })?;
    let pull_progress = rep.pull_progress();
    let progress = rep.build_progress();
    let mut builder =
        EngineBuilder::new(ctx, project, &name, &nets, &store, pull_progress, progress);
    build_command(project, &name, opts, &mut builder, rep)
}

/// The services `compose build` builds, in order.
fn selection(project: &Project, opts: &BuildCommandOptions) -> Result<Vec<String>, StackError> {
    let selected: Vec<String> = if opts.services.is_empty() {
        project.services.keys().cloned().collect()
    } else if opts.with_dependencies {
        start_order(project, &opts.services)?
    } else {
        for s in &opts.services {
            if !project.services.contains_key(s) {
                return Err(StackError::Invalid(format!("no such service: {s}")));
            }
        }
        opts.services.clone()
    };
    Ok(build_order(project, &selected)?)
}

/// What `compose build` would build (ids unknown): every request made, so that what cannot be
/// built is said before the first build; a `service:` context stands for the image its service
/// will get.
pub fn check_builds(
    project: &Project,
    project_name: &str,
    opts: &BuildCommandOptions,
) -> Result<Vec<Built>, StackError> {
    let mut ids = BTreeMap::new();
    let mut out = Vec::new();
    for s in selection(project, opts)? {
        let request = build_request(project, project_name, &s, &opts.flags, &ids)?;
        ids.insert(
            s.clone(),
            image_name(project_name, &s, &project.services[&s]),
        );
        out.push(Built {
            service: s,
            tags: request.tags.iter().map(|t| t.familiar()).collect(),
            id: None,
        });
    }
    Ok(out)
}

/// The body of `compose build` over any [`ImageBuilder`]: checks every build, then builds each
/// in order, a `service:` context getting the id of the image just built.
pub fn build_command(
    project: &Project,
    project_name: &str,
    opts: &BuildCommandOptions,
    builder: &mut dyn ImageBuilder,
    rep: &mut dyn Reporter,
) -> Result<Vec<Built>, StackError> {
    let planned = check_builds(project, project_name, opts)?;
    let mut ids = BTreeMap::new();
    let mut out = Vec::new();
    for mut b in planned {
        let request = build_request(project, project_name, &b.service, &opts.flags, &ids)?;
        rep.event("Service", &b.service, "Building");
        let image = builder.build(&b.service, &request)?;
        rep.event("Service", &b.service, "Built");
        ids.insert(b.service.clone(), image.id.clone());
        b.id = Some(image.id);
        out.push(b);
    }
    Ok(out)
}
