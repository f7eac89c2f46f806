//! `logs`: the containers' json-file logs, merged in time order, optionally followed; the
//! reading, following and formatting are in [`crate::stack::attach`].

use std::sync::atomic::AtomicUsize;

use clap::Args;

use super::lifecycle::project_name_for;
use super::{Ansi, GlobalOptions};
use crate::stack::attach::{self, FormatOptions, LogsOptions, Selection};

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Compose configuration files: only `--file` here, `-f` being `--follow` (as with Docker
    /// Compose); the values go to the global option of the same id.
    #[arg(id = "file", long = "file", value_name = "FILE", hide = true)]
    pub files: Vec<std::path::PathBuf>,
    /// Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Don't print prefix in logs
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Number of lines to show from the end of the logs for each container
    #[arg(short = 'n', long, value_name = "N", default_value = "all")]
    pub tail: String,
    /// Produce monochrome output
    #[arg(long)]
    pub no_color: bool,
    /// index of the container if service has multiple replicas
    #[arg(long, value_name = "N")]
    pub index: Option<u32>,
    /// Services
    pub services: Vec<String>,
}

/// Whether output gets ANSI colors: `--ansi always`, or `auto` on a terminal; never with
/// `--no-color`.
pub(crate) fn use_color(global: &GlobalOptions, no_color: bool) -> bool {
    if no_color {
        return false;
    }
    match global.ansi {
        Ansi::Never => false,
        Ansi::Always => true,
        Ansi::Auto => rustix::termios::isatty(rustix::stdio::stdout()),
    }
}

pub fn run(global: &GlobalOptions, args: &LogsArgs) -> anyhow::Result<i32> {
    let name = project_name_for(global, &args.services)?;
    let now = attach::now_nanos();
    let since = args
        .since
        .as_deref()
        .map(|s| attach::parse_time_arg("--since", s, now))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|s| attach::parse_time_arg("--until", s, now))
        .transpose()?;
    let opts = LogsOptions {
        selection: Selection {
            services: args.services.clone(),
            index: args.index,
        },
        follow: args.follow,
        tail: attach::parse_tail(&args.tail)?,
        since,
        until,
        format: FormatOptions {
            color: use_color(global, args.no_color),
            prefix: !args.no_log_prefix,
            timestamps: args.timestamps,
        },
    };
    // Ctrl-C ends `logs -f` the default way (the process dies; nothing to clean up), even
    // when started in the background of a script, whose shell had SIGINT ignored for it.
    if args.follow {
        default_sigint()?;
    }
    let never = AtomicUsize::new(0);
    let stdout = std::io::stdout();
    attach::logs(&global.root, &name, &opts, &never, &mut stdout.lock())?;
    Ok(0)
}

/// Gives SIGINT its default action back: a non-interactive shell starts a background job
/// with SIGINT ignored, and an ignored signal stays ignored across exec, so `kill -INT` (what
/// scripts send a background `logs -f`) would do nothing.
fn default_sigint() -> anyhow::Result<()> {
    // SAFETY: installs the default action, no handler code; the struct is zero-initialised as
    // sigaction expects.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut()) != 0 {
            return Err(anyhow::anyhow!(
                "restoring SIGINT's default action: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// The attached `up` (no `-d`): starts the project as `up -d` does, then streams the attached
/// services' output until they have all exited (see [`attach::attached_up`]) and returns
/// Docker Compose's exit code.
pub(crate) fn up_attached(
    global: &GlobalOptions,
    args: &super::lifecycle::UpArgs,
    ctx: &crate::stack::Ctx,
    project: &crate::model::types::resources::Project,
    opts: &crate::stack::UpOptions,
) -> anyhow::Result<i32> {
    use anyhow::bail;
    if args.abort_on_container_exit && args.abort_on_container_failure {
        bail!("--abort-on-container-failure and --abort-on-container-exit are incompatible");
    }
    let known = |s: &String| project.services.contains_key(s);
    for s in args
        .attach
        .iter()
        .chain(&args.no_attach)
        .chain(&args.exit_code_from)
    {
        if !known(s) {
            bail!("no such service: {s}");
        }
    }
    let name = project.name.clone().unwrap_or_default();
    // The services `up` starts: stopped on Ctrl-C or an abort.
    let mut scope = crate::stack::start_order(project, &args.services)?;
    if args.no_deps && !args.services.is_empty() {
        scope.retain(|s| args.services.contains(s));
    }
    // Attached: `--attach`, else the services asked for (not their dependencies), else every
    // service that does not say `attach: false`; minus `--no-attach`.
    let mut attached: Vec<String> = if !args.attach.is_empty() {
        args.attach.clone()
    } else if !args.services.is_empty() {
        args.services.clone()
    } else {
        scope
            .iter()
            .filter(|s| project.services[s.as_str()].attach != Some(false))
            .cloned()
            .collect()
    };
    attached.retain(|s| !args.no_attach.contains(s));
    let cascade = if args.abort_on_container_exit || args.exit_code_from.is_some() {
        attach::Cascade::Exit
    } else if args.abort_on_container_failure {
        attach::Cascade::Failure
    } else {
        attach::Cascade::Ignore
    };
    // Caught before the containers start, so an interrupt during start-up stops them too.
    let interrupts = attach::catch_interrupts()?;
    let since = attach::now_nanos();
    match crate::stack::up(ctx, project, opts, &mut super::progress::PlainCli) {
        // `attached_up` sees the interrupt and stops what was started.
        Ok(()) | Err(crate::stack::StackError::Interrupted) => {}
        Err(e) => return Err(e.into()),
    }
    let one_shots = crate::stack::expectations(project, &scope).one_shots;
    let aopts = attach::AttachOptions {
        attach: attached,
        scope,
        cascade,
        exit_code_from: args.exit_code_from.clone(),
        one_shots,
        timeout: args.timeout,
        levels: crate::stack::service_levels(project),
        since,
        format: FormatOptions {
            color: use_color(global, false),
            prefix: !args.no_log_prefix,
            timestamps: args.timestamps,
        },
    };
    // Unlocked handles: the thread that stops containers reports on standard error meanwhile.
    let code = attach::attached_up(
        &global.root,
        &name,
        &aopts,
        interrupts,
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )?;
    Ok(code)
}
