//! `restart`: each container stopped with the one stop sequence and started again by a new
//! monitor, keeping its addresses, ports and names.

use std::time::Duration;

use super::{hooks, invalid, ops, Ctx, Reporter, StackError};
use crate::engine::container::Container;
use crate::engine::state;
use crate::engine::supervisor;

/// `restart`: stops the project's containers (of `services`; all when empty) and starts them
/// again, keeping their addresses, ports and names.
pub fn restart(
    ctx: &Ctx,
    project: &str,
    services: &[String],
    timeout: Option<u64>,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    let _lock = state::lock_project(&ctx.root, project)?;
    let mut all = state::list(&ctx.root, Some(project))?;
    // In the order given (dependencies first, see `restart_deps`), as Docker Compose restarts.
    all.sort_by_key(|o| services.iter().position(|s| *s == o.record.service));
    for o in all {
        if o.record.one_off || (!services.is_empty() && !services.contains(&o.record.service)) {
            continue;
        }
        if ctx.dry_run {
            super::dry_run::report(
                rep,
                "Container",
                [&o.record.name],
                &["Restarting", "Started"],
            );
            continue;
        }
        rep.event("Container", &o.record.name, "Restarting");
        hooks::pre_stop(&ctx.root, &o, rep);
        let c = Container::of(&ctx.root, &o.record);
        let sig = c.stop_signal().map_err(invalid)?;
        let grace = Duration::from_secs(timeout.unwrap_or(o.record.stop_grace_period));
        // Docker's events: kill, die (the monitor's), stop, start (the monitor's), restart.
        crate::engine::events::emit(
            &ctx.root,
            &o.record,
            "kill",
            &[("signal", ops::signal_number(sig))],
        );
        c.stop(sig, grace)?;
        crate::engine::fault::point("restart.after-stop");
        crate::engine::events::emit(&ctx.root, &o.record, "stop", &[]);
        supervisor::launch(&ctx.root, &o.record.id)?;
        crate::engine::fault::point("restart.after-launch");
        crate::engine::events::emit(&ctx.root, &o.record, "restart", &[]);
        rep.event("Container", &o.record.name, "Started");
        hooks::post_start(&ctx.root, &o.record.id, rep)?;
    }
    Ok(())
}
