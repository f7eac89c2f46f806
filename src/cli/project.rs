//! Turning the global options into loader options: the one place the process environment, the
//! working directory and standard input are read for loading; and the project name commands
//! without a loaded project work on.

use std::io::Read;
use std::path::Path;

use anyhow::Context;

use super::GlobalOptions;
use crate::model::environment::Environment;
use crate::model::load::{load, LoadOptions};

/// Loader options from the global flags; `services` are the services named on the command line.
pub fn load_options(global: &GlobalOptions, services: &[String]) -> anyhow::Result<LoadOptions> {
    let cwd = std::env::current_dir().context("cannot determine the working directory")?;
    let mut opts = LoadOptions::new(cwd, Environment::from_process());
    opts.files = global.files.clone();
    if opts.files.iter().any(|f| f.as_path() == Path::new("-")) {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the Compose file from standard input")?;
        opts.stdin = Some(text);
    }
    opts.project_directory = global.project_directory.clone();
    opts.project_name = global.project_name.clone();
    opts.env_files = global.env_files.clone();
    opts.profiles = global.profiles.clone();
    opts.services = services.to_vec();
    Ok(opts)
}

/// The name of the project the command works on: the Compose file's when one is found, else
/// `-p`'s.
pub(crate) fn project_name(global: &GlobalOptions) -> anyhow::Result<String> {
    project_name_for(global, &[])
}

/// [`project_name`], and the services named on the command line must be the project's when a
/// Compose file is found (`no such service: x`, exit 1, as Docker Compose fails every command).
pub(crate) fn project_name_for(
    global: &GlobalOptions,
    services: &[String],
) -> anyhow::Result<String> {
    let loaded = match load(&load_options(global, services)?) {
        Ok(l) => l,
        Err(e) => match (&global.project_name, &e.kind) {
            (Some(n), crate::model::ErrorKind::NoConfigFile { .. }) => return Ok(n.clone()),
            _ => return Err(e.into()),
        },
    };
    Ok(loaded.project.name.unwrap_or_default())
}
