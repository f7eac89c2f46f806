//! `compose watch`: not supported yet. The command exists so that a Docker Compose user's
//! `compose watch` says what to do instead rather than "unrecognized subcommand".

use clap::Args;

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Services to watch (watch is not supported yet)
    pub services: Vec<String>,
}

/// What `watch` answers until file watching lands.
pub const NOT_SUPPORTED: &str = "watch is not supported yet: rebuild and restart by hand \
     instead, with `compose up -d --build SERVICE` after a change to its build context, or \
     `compose restart SERVICE` after a change to a bound file";

/// `watch`: always the error above, exit code 1.
pub fn run(_args: &WatchArgs) -> anyhow::Result<i32> {
    anyhow::bail!(NOT_SUPPORTED)
}
