//! `compose kube generate`: the project as Kubernetes objects (Podman's verb).
//!
//! SKELETON: the output helper finishes this module (see /work/wt/briefs/kube-output.md).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::GlobalOptions;

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

/// Runs `kube`; returns the exit code.
pub fn run(global: &GlobalOptions, args: &KubeArgs) -> anyhow::Result<i32> {
    let _ = (global, args);
    anyhow::bail!("kube generate: not built yet")
}
