//! `scale SERVICE=NUM...`: Docker Compose's `scale`, which is `up -d --scale` for the services
//! named (and, unless `--no-deps`, what they depend on): replicas are added or removed and the
//! services' other containers converged as `up` converges them.

use anyhow::bail;
use clap::Args;

use super::lifecycle::{ctx, parse_scale};
use super::project::load_options;
use super::GlobalOptions;
use crate::model::load::load;
use crate::stack::{self, UpOptions};

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// SERVICE=REPLICAS, one or more
    #[arg(required = true, value_name = "SERVICE=REPLICAS")]
    pub replicas: Vec<String>,
}

pub fn scale(global: &GlobalOptions, args: &ScaleArgs) -> anyhow::Result<i32> {
    let scale = parse_scale(&args.replicas)?;
    let services: Vec<String> = scale.keys().cloned().collect();
    let loaded = load(&load_options(global, &services)?)?;
    for s in &services {
        if !loaded.project.services.contains_key(s) {
            bail!("no such service: {s}");
        }
    }
    let opts = UpOptions {
        services,
        scale,
        no_deps: args.no_deps,
        dry_run: global.dry_run,
        default_platform: super::pull::default_platform(),
        interrupts: if global.dry_run {
            None
        } else {
            Some(stack::attach::catch_interrupts()?)
        },
        ..UpOptions::default()
    };
    match stack::up(
        &ctx(global),
        &loaded.project,
        &opts,
        &mut *super::progress::reporter(global),
    ) {
        Ok(()) => Ok(0),
        Err(stack::StackError::Interrupted) => {
            eprintln!("scale interrupted: containers started so far are left as they are");
            Ok(stack::attach::INTERRUPTED_EXIT_CODE)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn replicas_and_no_deps_parse() {
        let cli =
            Cli::try_parse_from(["compose", "scale", "--no-deps", "web=3", "db=0"]).expect("parse");
        let Command::Scale(a) = cli.command else {
            panic!("not scale");
        };
        assert!(a.no_deps);
        assert_eq!(a.replicas, ["web=3", "db=0"]);
        let scale = crate::cli::lifecycle::parse_scale(&a.replicas).expect("scale");
        assert_eq!(scale.get("web"), Some(&3));
        // Docker Compose needs at least one SERVICE=REPLICAS.
        assert!(Cli::try_parse_from(["compose", "scale"]).is_err());
        assert!(crate::cli::lifecycle::parse_scale(&["web".into()]).is_err());
    }
}
