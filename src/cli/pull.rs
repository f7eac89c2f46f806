//! `compose pull`, `compose image pull`, and the `--pull` flag of `up`/`create`/`run`: flags
//! and output; the work is in [`crate::stack::pull`].
use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::project::load_options;
use super::GlobalOptions;
use crate::engine::image::Reference;
use crate::engine::registry::{PullProgress, PullRequest};
use crate::model::load::load;
use crate::planner::pull_policy::PullPolicy;
use crate::stack::pull::{PullCommandOptions, SilentPull};
use crate::stack::Reporter;

/// `--pull POLICY` of `up`, `create` and `run`.
pub(crate) fn pull_flag(value: Option<&str>) -> anyhow::Result<Option<PullPolicy>> {
    value
        .map(PullPolicy::parse_flag)
        .transpose()
        .map_err(anyhow::Error::from)
}

/// `DOCKER_DEFAULT_PLATFORM`, which Docker Compose and the docker CLI pull for when nothing
/// else names a platform.
pub(crate) fn default_platform() -> Option<String> {
    std::env::var("DOCKER_DEFAULT_PLATFORM")
        .ok()
        .filter(|p| !p.is_empty())
}

/// Shows nothing: `--quiet`.
struct Quiet;

impl Reporter for Quiet {
    fn event(&mut self, _: &str, _: &str, _: &str) {}
    fn warn(&mut self, message: &str) {
        // Failures ignored with `--ignore-pull-failures` are still said.
        eprintln!("WARN[0000] {message}");
    }
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Pull without printing progress information
    #[arg(short, long)]
    pub quiet: bool,
    /// Pull what it can and ignores images with pull failures
    #[arg(long)]
    pub ignore_pull_failures: bool,
    /// Also pull services declared as dependencies
    #[arg(long)]
    pub include_deps: bool,
    /// Apply pull policy ("missing"|"always")
    #[arg(long, value_name = "POLICY")]
    pub policy: Option<String>,
    /// Services to pull (all when none is given)
    pub services: Vec<String>,
}

/// `compose pull [SERVICE...]`.
pub fn pull(global: &GlobalOptions, args: &PullArgs) -> anyhow::Result<i32> {
    let policy = args
        .policy
        .as_deref()
        .map(PullPolicy::parse_pull_command)
        .transpose()?;
    let loaded = load(&load_options(global, &args.services)?)?;
    let opts = PullCommandOptions {
        services: args.services.clone(),
        include_deps: args.include_deps,
        ignore_failures: args.ignore_pull_failures,
        policy,
        default_platform: default_platform(),
        dry_run: global.dry_run,
    };
    let mut rep: Box<dyn Reporter> = if args.quiet {
        Box::new(Quiet)
    } else {
        super::progress::reporter_titled(global, "Pulling")
    };
    crate::stack::pull::pull_command(&global.root, &loaded.project, &opts, &mut *rep)?;
    Ok(0)
}

#[derive(Debug, Args)]
pub struct ImagePullArgs {
    /// Set platform if server is multi-platform capable (os/arch[/variant])
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// The image to pull (NAME[:TAG|@DIGEST])
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub reference: String,
}

/// `compose image pull REF`: as `docker image pull`, progress on standard error, then the
/// digest and the full reference on standard output (only the reference with `-q`).
pub fn image_pull(global: &GlobalOptions, args: &ImagePullArgs) -> anyhow::Result<i32> {
    let full = Reference::parse(&args.reference)
        .with_context(|| format!("invalid reference {:?}", args.reference))?;
    let store = super::image_store::open_store(global)?;
    if global.dry_run {
        // As `compose pull --dry-run`: what it would pull, nothing pulled.
        let line = format!("Pulling {full}");
        println!("{}", super::progress::dry_line(true, &line));
        return Ok(0);
    }
    let progress: Arc<dyn PullProgress> = if args.quiet {
        Arc::new(SilentPull)
    } else {
        super::progress::reporter(global)
            .pull_progress()
            .unwrap_or_else(|| Arc::new(SilentPull))
    };
    let request = PullRequest {
        reference: args.reference.clone(),
        platform: args.platform.clone().or_else(default_platform),
    };
    let mut results = crate::stack::pull::pull_references(
        &store,
        std::slice::from_ref(&request),
        HashMap::new(),
        progress,
    )?;
    let pulled = results.pop().context("the puller returned no result")??;
    if !args.quiet {
        if super::progress::is_live(global) {
            // The live display ends on its last line: the result goes below it.
            eprintln!();
        }
        println!("Digest: {}", pulled.digest);
    }
    println!("{full}");
    Ok(0)
}
