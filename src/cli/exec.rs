//! `compose exec`: a command in a running container of a service, its exit code ours (see
//! [`crate::engine::runtime::exec`] for how the container is joined).

use anyhow::bail;
use clap::Args;

use super::project::load_options;
use super::GlobalOptions;
use crate::engine::runtime::exec;
use crate::engine::runtime::process::Stdio;
use crate::engine::runtime::pty::{Pty, RawMode};
use crate::model::load::load;
use crate::stack::{self, exec::ExecRequest};

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run the command in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Set environment variables (KEY=VALUE, or KEY to pass this shell's value)
    #[arg(short = 'e', long = "env", value_name = "KEY=VAL")]
    pub env: Vec<String>,
    /// Index of the container if the service has multiple replicas (default: the first running)
    #[arg(long, value_name = "N")]
    pub index: Option<u32>,
    /// Disable pseudo-TTY allocation (default: a TTY when standard input is a terminal)
    #[arg(short = 'T', long = "no-tty", alias = "no-TTY")]
    pub no_tty: bool,
    /// Keep STDIN open even if not attached (the default: standard input is always passed on)
    #[arg(short = 'i', long, hide = true)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY (the default when standard input is a terminal), so that the
    /// `docker exec -it` habit works
    #[arg(short = 't', long, hide = true, conflicts_with = "no_tty")]
    pub tty: bool,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// Run the command as this user (name or uid[:gid])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Path to the working directory for this command
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Service whose container runs the command
    pub service: String,
    /// Command and arguments
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

pub fn run(global: &GlobalOptions, args: &ExecArgs) -> anyhow::Result<i32> {
    let loaded = load(&load_options(global, std::slice::from_ref(&args.service))?)?;
    let project = loaded.project.name.clone().unwrap_or_default();
    if !loaded.project.services.contains_key(&args.service) {
        bail!("no such service: {}", args.service);
    }
    let tty = !args.detach && !args.no_tty && rustix::termios::isatty(rustix::stdio::stdin());
    let env = args
        .env
        .iter()
        .filter_map(|e| match e.split_once('=') {
            Some(_) => Some(e.clone()),
            // `-e KEY` passes this shell's value, and nothing when it has none.
            None => std::env::var(e).ok().map(|v| format!("{e}={v}")),
        })
        .collect();
    let target = stack::exec::prepare(
        &global.root,
        &project,
        ExecRequest {
            service: &args.service,
            index: args.index,
            command: args.command.clone(),
            env,
            user: args.user.clone(),
            workdir: args.workdir.clone(),
            privileged: args.privileged,
            tty,
            detach: args.detach,
        },
    )?;
    if global.dry_run {
        // As Docker Compose's dry run: the target is checked, nothing runs, nothing printed.
        return Ok(0);
    }
    let cfg = target.config;
    let name = &target.name;
    let failed = |e: crate::engine::runtime::error::InitError| -> i32 {
        eprintln!("Error response from container {name}: exec failed: {e}");
        exec::exit_code(&e)
    };

    if args.detach {
        let null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")?;
        use std::os::fd::AsFd;
        let stdio = Stdio {
            stdin: null.as_fd(),
            stdout: null.as_fd(),
            stderr: null.as_fd(),
        };
        return Ok(match exec::start(&cfg, &stdio) {
            // The helper exits as soon as the command runs.
            Ok(mut child) => match child.wait() {
                Ok(exit) => exit.code(),
                Err(e) => failed(e),
            },
            Err(e) => failed(e),
        });
    }

    let pty = if tty { Some(Pty::open()?) } else { None };
    let stdio = match &pty {
        Some(p) => {
            use std::os::fd::AsFd;
            Stdio {
                stdin: p.slave.as_fd(),
                stdout: p.slave.as_fd(),
                stderr: p.slave.as_fd(),
            }
        }
        None => Stdio::inherit(),
    };
    let raw = if tty { RawMode::enable() } else { None };
    let result = exec::run(&cfg, &stdio, pty.as_ref());
    drop(raw);
    Ok(match result {
        Ok(exit) => exit.code(),
        Err(e) => failed(e),
    })
}
