//! `compose config`: the resolved, normalized project in canonical form, or parts of it.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

use super::project::load_options;
use super::GlobalOptions;
use crate::model::interpolate;
use crate::model::load::{load, load_model};
use crate::model::output;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Only these services (and what they depend on)
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Format the output
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
    /// Only validate the configuration, don't print anything
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the service names, one per line
    #[arg(long = "services")]
    pub list_services: bool,
    /// Print the volume names, one per line
    #[arg(long)]
    pub volumes: bool,
    /// Print the network names, one per line
    #[arg(long)]
    pub networks: bool,
    /// Print the profile names, one per line
    #[arg(long)]
    pub profiles: bool,
    /// Print the image names, one per line
    #[arg(long)]
    pub images: bool,
    /// Print the model names, one per line
    #[arg(long)]
    pub models: bool,
    /// Print the service config hash, one per line ("*" for all services)
    #[arg(long, value_name = "SERVICES")]
    pub hash: Option<String>,
    /// Print model variables and default values
    #[arg(long)]
    pub variables: bool,
    /// Print environment used for interpolation
    #[arg(long)]
    pub environment: bool,
    /// Save to file (default: standard output)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Don't interpolate environment variables
    #[arg(long)]
    pub no_interpolate: bool,
    /// Don't normalize compose model
    #[arg(long)]
    pub no_normalize: bool,
    /// Don't check model consistency - warning: may produce invalid Compose output
    #[arg(long)]
    pub no_consistency: bool,
    /// Don't resolve file paths
    #[arg(long)]
    pub no_path_resolution: bool,
    /// Don't resolve service env files
    #[arg(long)]
    pub no_env_resolution: bool,
    /// Pin image tags to digests (needs registry access, not available yet)
    #[arg(long)]
    pub resolve_image_digests: bool,
    /// Produce an override file with image digests (needs registry access, not available yet)
    #[arg(long)]
    pub lock_image_digests: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Yaml,
    Json,
}

pub fn run(global: &GlobalOptions, args: &ConfigArgs) -> anyhow::Result<i32> {
    if args.resolve_image_digests || args.lock_image_digests {
        bail!("--resolve-image-digests and --lock-image-digests need registry access, which compose does not have yet");
    }
    let mut opts = load_options(global, &args.services)?;
    // `--variables` lists the `${...}` references, so it must read the files uninterpolated
    // (as Docker Compose does); interpolating first would leave only `$$`-escaped text behind.
    opts.interpolate = !args.no_interpolate && !args.variables;
    opts.normalize = !args.no_normalize;
    opts.resolve_paths = !args.no_path_resolution;
    opts.consistency = !args.no_consistency;
    opts.resolve_env_files = !args.no_env_resolution;

    let text = if args.no_interpolate || args.variables || args.environment {
        // These work on the untyped model: `${...}` must survive, no type would accept it.
        let model = load_model(&opts)?;
        print_warnings(&model.warnings);
        if args.quiet {
            return Ok(0);
        }
        if args.variables {
            output::variables(
                &interpolate::variables(&model.tree),
                args.format == Format::Json,
            )?
        } else if args.environment {
            output::environment(&model.environment)
        } else {
            output::render(
                &output::tree_value(&model.tree),
                args.format == Format::Json,
            )?
        }
    } else {
        let loaded = load(&opts)?;
        print_warnings(&loaded.model.warnings);
        if args.quiet {
            return Ok(0);
        }
        let project = if args.services.is_empty() {
            loaded.project.clone()
        } else {
            output::with_services(&loaded.project, &args.services)?
        };
        if args.list_services {
            lines(project.services.keys())
        } else if args.volumes {
            lines(project.volumes.keys())
        } else if args.networks {
            lines(project.networks.keys())
        } else if args.models {
            lines(project.models.keys())
        } else if args.profiles {
            lines(loaded.all_profiles.iter())
        } else if args.images {
            output::images(&project)
        } else if let Some(sel) = &args.hash {
            output::hashes(&project, sel)?
        } else {
            output::render(
                &output::project_value(&project)?,
                args.format == Format::Json,
            )?
        }
    };

    match &args.output {
        Some(path) => std::fs::write(path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(0)
}

fn print_warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("WARN {w}");
    }
}

fn lines<'a>(items: impl Iterator<Item = &'a String>) -> String {
    let mut v: Vec<&String> = items.collect();
    v.sort();
    v.iter().map(|s| format!("{s}\n")).collect()
}
