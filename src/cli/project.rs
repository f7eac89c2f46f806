//! Turning the global options into loader options: the one place the process environment, the
//! working directory and standard input are read for loading.

use std::io::Read;
use std::path::Path;

use anyhow::Context;

use super::GlobalOptions;
use crate::model::environment::Environment;
use crate::model::load::LoadOptions;

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
