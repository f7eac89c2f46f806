//! `commit SERVICE [REPOSITORY[:TAG]]`: Docker Compose's `commit` (a new image from a service
//! container's changes); the work is [`crate::stack::commit`].

use clap::{ArgAction, Args};

use super::GlobalOptions;
use crate::stack::commit::{self, CommitOptions};

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
    /// STOPSIGNAL, USER, VOLUME, WORKDIR)
    #[arg(short = 'c', long = "change", value_name = "INSTRUCTION")]
    pub changes: Vec<String>,
    /// Index of the container if service has multiple replicas
    #[arg(long, default_value_t = 0)]
    pub index: u32,
    /// Commit message
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Pause container during commit (`--pause=false` to leave it running)
    #[arg(short = 'p', long, default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub pause: bool,
    /// The service whose container is committed
    pub service: String,
    /// Name for the new image
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

pub fn commit(global: &GlobalOptions, args: &CommitArgs) -> anyhow::Result<i32> {
    let (name, _) = super::manage::project(global, std::slice::from_ref(&args.service))?;
    let opts = CommitOptions {
        reference: args.reference.clone(),
        pause: args.pause,
        author: args.author.clone(),
        message: args.message.clone(),
        changes: args.changes.clone(),
        dry_run: global.dry_run,
    };
    commit::commit(
        &global.root,
        &name,
        &args.service,
        args.index.max(1),
        &opts,
        &mut *super::progress::reporter(global),
    )?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn dockers_flags_parse() {
        let cli = Cli::try_parse_from([
            "compose",
            "commit",
            "-a",
            "me",
            "-m",
            "msg",
            "-c",
            "CMD [\"x\"]",
            "--index",
            "2",
            "web",
            "repo:tag",
        ])
        .expect("parse");
        let Command::Commit(a) = cli.command else {
            panic!("not commit");
        };
        assert_eq!(a.author.as_deref(), Some("me"));
        assert_eq!(a.message.as_deref(), Some("msg"));
        assert_eq!(a.changes, ["CMD [\"x\"]"]);
        assert_eq!((a.index, a.service.as_str()), (2, "web"));
        assert_eq!(a.reference.as_deref(), Some("repo:tag"));
        assert!(a.pause, "pauses by default, as Docker does");
        let cli = Cli::try_parse_from(["compose", "commit", "--pause=false", "web"]).expect("p");
        let Command::Commit(a) = cli.command else {
            panic!("not commit");
        };
        assert!(!a.pause);
        // `-p` is --pause here (the project name goes before the command).
        let cli = Cli::try_parse_from(["compose", "-p", "x", "commit", "-p", "web"]).expect("p");
        assert_eq!(cli.global.project_name.as_deref(), Some("x"));
    }
}
