//! `logs`: the containers' json-file logs, merged in time order, optionally followed; the
//! reading, following and formatting are in [`crate::stack::attach`].

use std::sync::atomic::AtomicUsize;

use clap::Args;

use super::project::project_name_for;
use super::{use_color, GlobalOptions};
use crate::stack::attach::{self, FormatOptions, LogsOptions, Selection};

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
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
