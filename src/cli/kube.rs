//! `compose kube generate`: the project as Kubernetes objects (Podman's verb).
//!
//! Loads and translates through [`crate::stack::kube`], prints what cannot be carried over as
//! warnings on stderr, and writes the objects to stdout (`-o -`) or as files to a directory.
//! Exit codes follow `compose config`: 14 without a Compose file, 15 for a file that does not load
//! and for `x-kubernetes` sections or values the translation cannot read, 1 otherwise (`--strict`
//! with something that cannot be carried over included).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};

use super::project::load_options;
use super::{GlobalOptions, EXIT_INVALID_PROJECT};
use crate::kube::output::{self, Format};
use crate::kube::{GenerateOptions, KubeError};
use crate::stack::kube::write::write_files;
use crate::stack::kube::{generate as translate, KubeGenerateError};

#[derive(Debug, Args)]
pub struct KubeArgs {
    #[command(subcommand)]
    pub command: KubeCommand,
}

#[derive(Debug, Subcommand)]
pub enum KubeCommand {
    /// Generate Kubernetes objects from the Compose file
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Where to write: a directory, or "-" for standard output (manifests only)
    #[arg(
        short = 'o',
        long = "output",
        value_name = "DIR|-",
        default_value = "-"
    )]
    pub output: PathBuf,
    /// What to write
    #[arg(long, value_enum, default_value_t = FormatArg::Manifests)]
    pub format: FormatArg,
    /// Fail when anything cannot be carried over, instead of warning
    #[arg(long)]
    pub strict: bool,
    /// Services to translate (default: all enabled), with what they depend on
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Manifests,
    Helm,
    Kustomize,
}

impl FormatArg {
    fn format(self) -> Format {
        match self {
            FormatArg::Manifests => Format::Manifests,
            FormatArg::Helm => Format::Helm,
            FormatArg::Kustomize => Format::Kustomize,
        }
    }

    /// As written on the command line.
    fn name(self) -> &'static str {
        match self {
            FormatArg::Manifests => "manifests",
            FormatArg::Helm => "helm",
            FormatArg::Kustomize => "kustomize",
        }
    }
}

/// Runs `kube`; returns the exit code.
pub fn run(global: &GlobalOptions, args: &KubeArgs) -> anyhow::Result<i32> {
    match &args.command {
        KubeCommand::Generate(g) => generate(global, g),
    }
}

fn generate(global: &GlobalOptions, args: &GenerateArgs) -> anyhow::Result<i32> {
    let format = args.format.format();
    let to_stdout = args.output.as_path() == Path::new("-");
    if to_stdout && format != Format::Manifests {
        bail!(
            "--format {} writes a directory of files: name one with -o DIR",
            args.format.name()
        );
    }
    let opts = load_options(global, &args.services)?;
    let options = GenerateOptions {
        strict: args.strict,
    };
    let (generated, load_warnings) = match translate(&opts, options) {
        Ok(done) => done,
        // The loader's own error, so main maps it as for every command (14, 15, or 1).
        Err(KubeGenerateError::Load(e)) => return Err(e.into()),
        // The file loads but says what Kubernetes cannot hold: an invalid project for this
        // command, as a file that does not load is for `config`.
        Err(KubeGenerateError::Kube(
            e @ (KubeError::Extension { .. }
            | KubeError::Invalid { .. }
            | KubeError::NameClash { .. }),
        )) => {
            eprintln!("{e}");
            return Ok(EXIT_INVALID_PROJECT);
        }
        Err(e) => return Err(e.into()),
    };
    for w in &load_warnings {
        eprintln!("WARN[0000] {w}");
    }
    for w in &generated.warnings {
        eprintln!("WARN[0000] {w}");
    }
    if to_stdout {
        let text = output::stream(&generated)?;
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
    } else if global.dry_run {
        // The files it would write, generated and checked in full; none written.
        for f in output::files(&generated, format)? {
            let line = format!("Writing {}", args.output.join(&f.path).display());
            println!("{}", super::progress::dry_line(true, &line));
        }
    } else {
        write_files(&args.output, &output::files(&generated, format)?)?;
    }
    Ok(0)
}
