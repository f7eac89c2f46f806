//! When the commands run a container's lifecycle hooks, and what their failures mean
//! (Docker Compose 2.30+ `post_start` / `pre_stop`; the running is [`crate::engine::hooks`]).
//!
//! - `post_start` hooks run one after the other right after each start by a command (`up`,
//!   `start`, `restart`, `run`; not the restarts of a restart policy, which no command sees, as
//!   with Docker). A hook that exits non-zero fails the command with Docker Compose's message
//!   (`<service> hook exited with status N`); the container keeps running, as there, except
//!   a foreground `run`'s, which cannot outlive the command that failed.
//! - `pre_stop` hooks run before the stop signal of `stop`, `down`, a recreation, an attached
//!   `up`'s Ctrl-C, and `restart` (Docker Compose skips them on `restart`; a hook that must run
//!   before every stop is better served by running it there too). A failing one is warned about
//!   and the stop goes on: a stop that a broken hook could prevent would leave `down` unable to
//!   tear a project down. A paused container is not entered (an exec would wait on the frozen
//!   cgroup), which is warned about too.
//!
//! Output lines are shown as Docker Compose shows them, prefixed with the container's name
//! without the project (`web-1 -> line`).

use std::path::Path;

use super::{invalid, Reporter, StackError};
use crate::engine::hooks;
use crate::engine::spec::HookSpec;
use crate::engine::state::{self, ContainerRecord};

/// The name Docker Compose prefixes hook output with: the container's, less `<project>-`.
fn source(rec: &ContainerRecord) -> String {
    let short = rec
        .name
        .strip_prefix(&format!("{}-", rec.project))
        .unwrap_or(&rec.name);
    format!("{short} ->")
}

fn run_one(
    root: &Path,
    rec: &ContainerRecord,
    hook: &HookSpec,
    rep: &mut dyn Reporter,
) -> Result<i32, hooks::HookError> {
    let src = source(rec);
    hooks::run(root, rec, hook, &mut |line| rep.output(&src, line))
}

/// Runs the `post_start` hooks of container `id`, just started.
pub fn post_start(root: &Path, id: &str, rep: &mut dyn Reporter) -> Result<(), StackError> {
    let Some(rec) = state::read_record(root, id)? else {
        return Ok(());
    };
    post_start_of(root, &rec, rep, false)
}

/// The `post_start` hooks of a foreground `run`'s container, run beside it: one that ended
/// before a hook could enter it leaves nothing to do (its own exit is what `run` reports).
pub fn post_start_beside(
    root: &Path,
    rec: &ContainerRecord,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    post_start_of(root, rec, rep, true)
}

fn post_start_of(
    root: &Path,
    rec: &ContainerRecord,
    rep: &mut dyn Reporter,
    gone_is_done: bool,
) -> Result<(), StackError> {
    for hook in &rec.hooks.post_start {
        let code = match run_one(root, rec, hook, rep) {
            Ok(code) => code,
            Err(hooks::HookError::NotRunning { .. }) if gone_is_done => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if code != 0 {
            return Err(invalid(format!(
                "{} hook exited with status {code}",
                rec.service
            )));
        }
    }
    Ok(())
}

/// Runs the `pre_stop` hooks of a container about to be stopped, when it is running; failures
/// are warnings.
pub fn pre_stop(root: &Path, o: &state::Observed, rep: &mut dyn Reporter) {
    let rec = &o.record;
    if rec.hooks.pre_stop.is_empty() || o.state.live_pid().is_none() {
        return;
    }
    if crate::engine::container::pause::is_paused(rec) {
        rep.warn(&format!(
            "service {}: pre_stop hook of container {} not run: the container is paused",
            rec.service, rec.name
        ));
        return;
    }
    for hook in &rec.hooks.pre_stop {
        let problem = match run_one(root, rec, hook, rep) {
            Ok(0) => continue,
            Ok(code) => format!("exited with status {code}"),
            Err(e) => format!("failed: {e}"),
        };
        rep.warn(&format!(
            "service {}: pre_stop hook of container {} {problem}; stopping it anyway",
            rec.service, rec.name
        ));
    }
}
