//! `exec`: which running container of a service a command joins, and the configuration it
//! joins with (Docker's defaults applied); attending the command is the caller's.

use std::path::Path;

use super::{invalid, ops, StackError};
use crate::engine::runtime::exec::ExecConfig;
use crate::engine::state;

/// What `exec` was asked for, its flags parsed.
#[derive(Debug, Clone)]
pub struct ExecRequest<'a> {
    pub service: &'a str,
    /// `--index`: that replica; `None`: the first running one.
    pub index: Option<u32>,
    pub command: Vec<String>,
    /// `-e` as given, `KEY` already expanded from the caller's environment.
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub privileged: bool,
    pub tty: bool,
    pub detach: bool,
}

/// The container a command joins.
#[derive(Debug, Clone)]
pub struct ExecTarget {
    /// Its name, for the messages about it.
    pub name: String,
    pub config: ExecConfig,
}

/// Picks the running service container `req` names in `project` (never a one-off, never a
/// paused one: its helper would join the frozen cgroup and hang) and configures the command.
pub fn prepare(root: &Path, project: &str, req: ExecRequest) -> Result<ExecTarget, StackError> {
    let mut running: Vec<(state::Observed, i32)> = state::list(root, Some(project))?
        .into_iter()
        .filter(|o| o.record.service == req.service && !o.record.one_off)
        .filter(|o| req.index.is_none_or(|i| o.record.number == i))
        .filter_map(|o| o.state.live_pid().map(|pid| (o, pid)))
        .collect();
    running.sort_by_key(|(o, _)| o.record.number);
    let not_running = || match req.index {
        Some(i) => invalid(format!(
            "service {:?} is not running container #{i}",
            req.service
        )),
        None => invalid(format!("service {:?} is not running", req.service)),
    };
    let Some((target, pid)) = running.into_iter().next() else {
        return Err(not_running());
    };
    let Some(pid_start) = target.state.pid_start else {
        return Err(invalid(format!("service {:?} is not running", req.service)));
    };
    ops::refuse_if_paused(&target.record)?;
    let record = target.record;
    // With a terminal, `TERM=xterm` unless the container's environment sets TERM, as Docker
    // does (full-screen programs and colours need it); `-e TERM=...` still wins.
    let has_term = |env: &[String]| env.iter().any(|e| e == "TERM" || e.starts_with("TERM="));
    let default_term =
        (req.tty && !has_term(&record.spec.process.env)).then(|| "TERM=xterm".to_string());
    let env = default_term.into_iter().chain(req.env).collect();
    Ok(ExecTarget {
        name: record.name,
        config: ExecConfig {
            pid,
            pid_start,
            spec: record.spec,
            args: req.command,
            env,
            user: req.user,
            workdir: req.workdir,
            privileged: req.privileged,
            tty: req.tty,
            detach: req.detach,
        },
    })
}
