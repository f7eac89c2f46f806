//! `compose build [SERVICE...]` and `compose builder prune`: flags parsed here, the work in
//! [`crate::stack::build`] and [`crate::build`]; `--push` pushes through the push command's
//! code.

use std::io::Write;
use std::sync::{Arc, Mutex};

use clap::{Args, Subcommand};

use super::GlobalOptions;
use crate::engine::fsutil::human_size;
use crate::engine::registry::push_images;
use crate::model::load::load;
use crate::stack::build::{BuildCommandOptions, BuildFlags, BuildMode};
use crate::stack::Reporter;

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Do not use cache when building the image
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pub pull: bool,
    /// Push service images
    #[arg(long)]
    pub push: bool,
    /// Don't print anything to STDOUT but the ids of the images built
    #[arg(short, long)]
    pub quiet: bool,
    /// Set build-time variables for services (KEY=VALUE, or KEY from the environment)
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
    /// Also build dependencies (transitively)
    #[arg(long)]
    pub with_dependencies: bool,
    /// Type of progress output, as the global `--progress` (which it overrides; Docker Compose
    /// keeps it here too, hidden, for scripts written before it became global)
    #[arg(long, value_enum, hide = true)]
    pub progress: Option<super::Progress>,
    /// Services to build (all when none is given)
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BuilderArgs {
    #[command(subcommand)]
    pub command: BuilderCommand,
}

#[derive(Debug, Subcommand)]
pub enum BuilderCommand {
    /// Remove build cache
    Prune(BuilderPruneArgs),
}

#[derive(Debug, Args)]
pub struct BuilderPruneArgs {
    /// Remove all build cache, not only the steps whose layers no image uses
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// `--build` / `--no-build` of `up` and `create` (clap refuses both at once).
pub fn build_mode(build: bool, no_build: bool) -> BuildMode {
    match (build, no_build) {
        (true, _) => BuildMode::Always,
        (false, true) => BuildMode::Never,
        (false, false) => BuildMode::Missing,
    }
}

/// Shows nothing but warnings (`-q`: standard output is the images' ids).
struct QuietBuild;

impl Reporter for QuietBuild {
    fn event(&mut self, _: &str, _: &str, _: &str) {}
    fn warn(&mut self, message: &str) {
        eprintln!("WARN[0000] {message}");
    }
}

pub fn build(global: &GlobalOptions, args: &BuildArgs) -> anyhow::Result<i32> {
    let global_here;
    let global = match args.progress {
        Some(progress) => {
            // Docker Compose's warning, word for word in meaning.
            eprintln!(
                "--progress is a global compose flag, better use `compose --progress {} build ...`",
                progress_name(progress)
            );
            global_here = GlobalOptions {
                progress,
                ..global.clone()
            };
            &global_here
        }
        None => global,
    };
    let loaded = load(&super::project::load_options(global, &args.services)?)?;
    let project = loaded.project;
    let opts = BuildCommandOptions {
        services: args.services.clone(),
        with_dependencies: args.with_dependencies,
        flags: BuildFlags {
            no_cache: args.no_cache,
            pull: args.pull,
            build_args: args.build_args.clone(),
        },
        dry_run: global.dry_run,
    };
    let mut rep: Box<dyn Reporter> = if args.quiet {
        Box::new(QuietBuild)
    } else {
        super::progress::reporter_titled(global, "Building")
    };
    let built = crate::stack::build::command::build_project(
        &super::lifecycle::ctx(global),
        &project,
        &opts,
        &mut *rep,
    )?;
    if args.quiet {
        let mut out = std::io::stdout().lock();
        for id in built.iter().filter_map(|b| b.id.as_deref()) {
            writeln!(out, "{id}")?;
        }
    }
    if args.push && !global.dry_run {
        push_built(global, &built, rep)?;
    }
    Ok(0)
}

/// The value `--progress` was given as.
fn progress_name(progress: super::Progress) -> String {
    use clap::ValueEnum;
    progress
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// `--push`: every name of every image built, as `compose push` pushes them.
fn push_built(
    global: &GlobalOptions,
    built: &[crate::stack::build::Built],
    rep: Box<dyn Reporter>,
) -> anyhow::Result<()> {
    let images: Vec<String> = built.iter().flat_map(|b| b.tags.iter().cloned()).collect();
    if images.is_empty() {
        return Ok(());
    }
    let store = super::image_store::open_store(global)?;
    let events = Arc::new(super::push::ComposeEvents(Mutex::new(rep)));
    let opts = super::push::options(events)?;
    let mut failures = Vec::new();
    for (image, result) in images.iter().zip(push_images(&store, &images, &opts)) {
        if let Err(e) = result {
            failures.push(format!("pushing {image}: {e}"));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{}", failures.join("\n"))
    }
}

const PRUNE_WARNING: &str = "WARNING! This will remove all build cache.\n\
Are you sure you want to continue?";

pub fn builder(global: &GlobalOptions, args: &BuilderArgs) -> anyhow::Result<i32> {
    match &args.command {
        BuilderCommand::Prune(a) => {
            if !a.force && !super::image_prune::confirm(PRUNE_WARNING)? {
                return Ok(0);
            }
            if global.dry_run {
                // What would go, counted as the prune picks it; nothing removed.
                let n = crate::build::builder::prunable_cache(&global.root, a.all)?;
                let line = format!("Deleted build cache objects: {n}");
                println!("{}", super::progress::dry_line(true, &line));
                return Ok(0);
            }
            let pruned = crate::build::builder::prune_cache(&global.root, a.all)?;
            println!(
                "Deleted build cache objects: {}\nTotal reclaimed space: {}",
                pruned.removed,
                human_size(pruned.reclaimed)
            );
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("compose").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    #[test]
    fn build_takes_every_flag() {
        let cli = parse(&[
            "build",
            "--no-cache",
            "--pull",
            "--push",
            "-q",
            "--build-arg",
            "A=1",
            "--build-arg",
            "B",
            "--with-dependencies",
            "--dry-run",
            "web",
            "worker",
        ]);
        let Command::Build(b) = cli.command else {
            panic!("not build: {:?}", cli.command)
        };
        assert!(
            b.no_cache && b.pull && b.push && b.quiet && b.with_dependencies && cli.global.dry_run
        );
        assert_eq!(b.build_args, ["A=1", "B"]);
        assert_eq!(b.services, ["web", "worker"]);
        let Command::Build(b) = parse(&["build", "--quiet"]).command else {
            panic!("not build")
        };
        assert!(b.quiet && !b.no_cache && !b.push && b.services.is_empty());
    }

    #[test]
    fn build_takes_the_global_progress_flag() {
        let cli = parse(&["--progress", "plain", "build"]);
        assert_eq!(cli.global.progress, super::super::Progress::Plain);
    }

    /// Docker Compose's `build` keeps a hidden `--progress` of its own (cmd/compose/build.go).
    #[test]
    fn build_takes_its_own_hidden_progress_flag() {
        let Command::Build(b) = parse(&["build", "--progress", "plain"]).command else {
            panic!("not build")
        };
        assert_eq!(b.progress, Some(super::super::Progress::Plain));
        assert_eq!(progress_name(super::super::Progress::Plain), "plain");
    }

    #[test]
    fn builder_prune_takes_all_and_force() {
        let Command::Builder(b) = parse(&["builder", "prune", "-a", "-f"]).command else {
            panic!("not builder")
        };
        let BuilderCommand::Prune(p) = b.command;
        assert!(p.all && p.force);
        let Command::Builder(b) = parse(&["builder", "prune"]).command else {
            panic!("not builder")
        };
        let BuilderCommand::Prune(p) = b.command;
        assert!(!p.all && !p.force);
    }

    #[test]
    fn up_create_and_run_take_build_flags() {
        let Command::Up(u) = parse(&["up", "--build"]).command else {
            panic!("not up")
        };
        assert_eq!(build_mode(u.build, u.no_build), BuildMode::Always);
        let Command::Up(u) = parse(&["up", "--no-build"]).command else {
            panic!("not up")
        };
        assert_eq!(build_mode(u.build, u.no_build), BuildMode::Never);
        let Command::Create(c) = parse(&["create", "--build"]).command else {
            panic!("not create")
        };
        assert_eq!(build_mode(c.build, c.no_build), BuildMode::Always);
        let Command::Run(r) = parse(&["run", "--build", "web"]).command else {
            panic!("not run")
        };
        assert!(r.build);
        assert!(Cli::try_parse_from(["compose", "up", "--build", "--no-build"]).is_err());
        assert!(Cli::try_parse_from(["compose", "create", "--build", "--no-build"]).is_err());
    }

    #[test]
    fn image_prune_takes_build_cache() {
        let Command::Image(i) = parse(&["image", "prune", "--build-cache", "-f"]).command else {
            panic!("not image")
        };
        let crate::cli::image::ImageCommand::Prune(p) = i.command else {
            panic!("not prune")
        };
        assert!(p.build_cache && p.force);
    }

    #[test]
    fn build_modes() {
        assert_eq!(build_mode(false, false), BuildMode::Missing);
        assert_eq!(build_mode(true, false), BuildMode::Always);
        assert_eq!(build_mode(false, true), BuildMode::Never);
    }
}
