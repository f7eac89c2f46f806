//! `inspect`: the project's containers as a JSON array in `docker inspect`'s shape (see
//! [`crate::stack::inspect`]). Docker Compose v2 has no such command (Podman Compose has one):
//! this one is ours, for what `docker inspect` would show of a Compose container.

use clap::{Args, ValueEnum};

use super::project::load_options;
use super::GlobalOptions;
use crate::model::load::load;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InspectFormat {
    Json,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output (only JSON)
    #[arg(long, value_enum, default_value_t = InspectFormat::Json)]
    pub format: InspectFormat,
    /// Services, container names or ids (all of the project's containers when none is given)
    pub names: Vec<String>,
}

pub fn run(global: &GlobalOptions, args: &InspectArgs) -> anyhow::Result<i32> {
    // Loaded without the names: they may be containers, not services.
    let (name, services) = match load(&load_options(global, &[])?) {
        Ok(l) => (
            l.project.name.clone().unwrap_or_default(),
            l.project.services.keys().cloned().collect::<Vec<_>>(),
        ),
        Err(e) => match (&global.project_name, &e.kind) {
            (Some(n), crate::model::ErrorKind::NoConfigFile { .. }) => (n.clone(), Vec::new()),
            _ => return Err(e.into()),
        },
    };
    let views = crate::stack::inspect::inspect(&global.root, &name, &args.names, &services)?;
    match args.format {
        InspectFormat::Json => println!("{}", serde_json::to_string_pretty(&views)?),
    }
    Ok(0)
}
