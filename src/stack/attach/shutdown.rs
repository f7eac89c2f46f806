//! Stopping an attached `up`'s containers: gracefully in dependency waves on the first
//! interrupt or an abort, killed at once on the second interrupt.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rustix::process::Signal;

use super::AttachError;
use crate::engine::container::Container;
use crate::engine::state;
use crate::stack::Reporter;

/// Stops the project's containers of `scope` (all with an empty scope) as `stop` does: in
/// waves by `levels`, dependents before the services they depend on (as Docker Compose's
/// graceful stop), each wave signalled first, then waited for together. Each wave is listed
/// afresh, so containers a second Ctrl-C killed meanwhile are not stopped again.
pub(super) fn stop_all(
    root: &Path,
    project: &str,
    scope: &[String],
    levels: &BTreeMap<String, usize>,
    timeout: Option<u64>,
    rep: &mut dyn Reporter,
) -> Result<(), AttachError> {
    let _lock = state::lock_project(root, project)?;
    // Services no level is known for go first, as with `stop`.
    let first = levels.values().copied().max().map_or(0, |m| m + 1);
    let level_of = |service: &str| levels.get(service).copied().unwrap_or(first);
    for wave in (0..=first).rev() {
        let mut stopping = Vec::new();
        for o in state::list(root, Some(project))? {
            if o.record.one_off
                || !(scope.is_empty() || scope.contains(&o.record.service))
                || level_of(&o.record.service) != wave
            {
                continue;
            }
            if o.state.pid.is_none() && o.state.live_monitor().is_none() {
                continue;
            }
            let c = Container::of(root, &o.record);
            let sig = c.stop_signal().map_err(|m| AttachError::Stop {
                container: o.record.name.clone(),
                message: m,
            })?;
            let grace = Duration::from_secs(timeout.unwrap_or(o.record.stop_grace_period));
            rep.event("Container", &o.record.name, "Stopping");
            crate::stack::hooks::pre_stop(root, &o, rep);
            stopping.push((o.record.name.clone(), c.begin_stop(sig, grace)?));
        }
        for (name, s) in stopping {
            s.finish()?;
            rep.event("Container", &name, "Stopped");
        }
    }
    Ok(())
}

/// Kills the project's containers of `scope` at once (a second Ctrl-C); a stop under way
/// then sees them gone.
pub(super) fn kill_all(root: &Path, project: &str, scope: &[String]) -> Result<(), AttachError> {
    for o in state::list(root, Some(project))? {
        if o.record.one_off || !(scope.is_empty() || scope.contains(&o.record.service)) {
            continue;
        }
        if o.state.live_pid().is_some() || o.state.live_monitor().is_some() {
            drop(Container::of(root, &o.record).begin_stop(Signal::KILL, Duration::ZERO)?);
        }
    }
    Ok(())
}
