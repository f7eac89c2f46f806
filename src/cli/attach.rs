//! `attach SERVICE`: Docker Compose's `attach` (a service container's output from now on,
//! signals forwarded to it); the following is [`crate::stack::attach::attach_service`].

use anyhow::bail;
use clap::{ArgAction, Args};

use super::GlobalOptions;
use crate::stack::attach::{attach_service, AttachServiceOptions};

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Override the key sequence for detaching from a container (needs standard input
    /// attached, which is not supported yet: refused)
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Index of the container if service has multiple replicas (default: the first running)
    #[arg(long, default_value_t = 0)]
    pub index: u32,
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Proxy all received signals to the process (`--sig-proxy=false`: Ctrl-C detaches)
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub sig_proxy: bool,
    /// The service whose container is attached to
    pub service: String,
}

/// Message of Docker Compose's dry-run client, which cannot attach either.
const DRY_RUN_REFUSAL: &str = "interactive run is not supported in dry-run mode";

pub fn attach(global: &GlobalOptions, args: &AttachArgs) -> anyhow::Result<i32> {
    if args.detach_keys.is_some() {
        // Detach keys are read from the attached standard input; there is none to read them
        // from yet, and accepting the flag would promise a way out that does not exist.
        bail!(
            "--detach-keys: attaching standard input is not supported yet, so there are no \
             detach keys; Ctrl-C detaches with --sig-proxy=false"
        );
    }
    if global.dry_run {
        bail!(DRY_RUN_REFUSAL);
    }
    let (name, _) = super::manage::project(global, std::slice::from_ref(&args.service))?;
    let opts = AttachServiceOptions {
        service: args.service.clone(),
        index: args.index,
        no_stdin: args.no_stdin,
        sig_proxy: args.sig_proxy,
    };
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let code = attach_service(
        &global.root,
        &name,
        &opts,
        &mut stdout.lock(),
        &mut stderr.lock(),
    )?;
    Ok(code)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};

    fn parse(args: &[&str]) -> super::AttachArgs {
        let mut argv = vec!["compose"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Attach(a) => a,
            other => panic!("not attach: {other:?}"),
        }
    }

    // Flags and defaults from Docker Compose's cmd/compose/attach.go.
    #[test]
    fn defaults_are_docker_composes() {
        let a = parse(&["attach", "web"]);
        assert_eq!(a.service, "web");
        assert_eq!(a.index, 0);
        assert!(!a.no_stdin);
        assert!(a.sig_proxy, "--sig-proxy defaults to true");
        assert_eq!(a.detach_keys, None);
    }

    #[test]
    fn flags_parse_as_in_docker_compose() {
        let a = parse(&[
            "attach",
            "--index",
            "2",
            "--no-stdin",
            "--sig-proxy=false",
            "--detach-keys",
            "ctrl-x",
            "web",
        ]);
        assert_eq!(a.index, 2);
        assert!(a.no_stdin);
        assert!(!a.sig_proxy);
        assert_eq!(a.detach_keys.as_deref(), Some("ctrl-x"));
        assert!(parse(&["attach", "--sig-proxy", "web"]).sig_proxy);
        assert!(parse(&["attach", "--sig-proxy=true", "web"]).sig_proxy);
        // Global options before the command; --dry-run anywhere.
        let cli = Cli::try_parse_from(["compose", "-p", "demo", "attach", "--dry-run", "web"])
            .expect("parses");
        assert_eq!(cli.global.project_name.as_deref(), Some("demo"));
        assert!(cli.global.dry_run);
    }

    #[test]
    fn a_service_is_required_and_bad_values_are_refused() {
        assert!(Cli::try_parse_from(["compose", "attach"]).is_err());
        assert!(Cli::try_parse_from(["compose", "attach", "--index", "x", "web"]).is_err());
        assert!(Cli::try_parse_from(["compose", "attach", "--sig-proxy=maybe", "web"]).is_err());
        // `-p` after the command is not the project name (attach has no -p).
        assert!(Cli::try_parse_from(["compose", "attach", "-p", "x", "web"]).is_err());
    }
}
