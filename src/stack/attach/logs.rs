//! `logs`: the selected containers' logs, once or followed until they are stopped for good.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::follow::LogFollower;
use super::format::{emit_all, FormatOptions, Formatter};
use super::target::{Selection, Target};
use super::time::{now_nanos, parse_log_time};
use super::{AttachError, DISCOVER_EVERY, POLL_INTERVAL};
use crate::engine::root::StateRoot;
use crate::engine::state;

/// Options of `logs`.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    pub selection: Selection,
    pub follow: bool,
    /// Last lines of each container; `None`: all.
    pub tail: Option<usize>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub format: FormatOptions,
}

/// The followed containers that exited (again) at or after `since` and whose exit is not in
/// `reported` yet: each with its exit code and `finished_at`, to be recorded there once the
/// lines before it are printed.
fn new_exits(
    root: &Path,
    follower: &LogFollower,
    reported: &BTreeMap<String, String>,
    since: i64,
) -> Vec<(Target, i32, String)> {
    let mut out = Vec::new();
    for t in follower.targets() {
        let st = state::read_state(&StateRoot::new(root).container(&t.id));
        if let Some(f) = st.finished_at {
            if reported.get(&t.id) != Some(&f) && parse_log_time(&f).is_some_and(|t| t >= since) {
                out.push((t.clone(), st.exit_code.unwrap_or(0), f));
            }
        }
    }
    out
}

/// `logs`: prints what the selected containers logged; with `follow`, goes on printing new
/// lines (of containers started meanwhile too) and Docker Compose's `<name> exited with code
/// N` for each exit, until every followed container is stopped for good, `until` has passed,
/// or `interrupted` turns non-zero. Logs are read in bounded chunks and printed with blocking
/// writes, so a fast writer and a slow reader cost no memory.
pub fn logs(
    root: &Path,
    project: &str,
    opts: &LogsOptions,
    interrupted: &AtomicUsize,
    out: &mut dyn Write,
) -> Result<(), AttachError> {
    let started = now_nanos();
    let mut follower =
        LogFollower::new(root, project, opts.selection.clone()).with_window(opts.since, opts.until);
    let mut fmt = Formatter::new(opts.format);
    for t in follower.discover()? {
        fmt.register(&t.name);
    }
    follower.rewind(opts.tail, !opts.follow)?;
    loop {
        let (entries, behind) = follower.poll()?;
        if !emit_all(&mut fmt, &entries, out) {
            return Ok(());
        }
        if behind.is_empty() {
            break;
        }
    }
    if !opts.follow {
        return Ok(());
    }
    let mut reported: BTreeMap<String, String> = BTreeMap::new();
    let mut last_discover = Instant::now();
    // Stopped for good since: a `restart` leaves a moment with nothing running.
    let mut idle_since: Option<Instant> = None;
    loop {
        if interrupted.load(Ordering::SeqCst) > 0 {
            return Ok(());
        }
        if last_discover.elapsed() >= DISCOVER_EVERY {
            for t in follower.discover()? {
                fmt.register(&t.name);
            }
            last_discover = Instant::now();
        }
        // Stopped-ness and exits are read before the lines: a monitor records the exit after
        // the output.
        let stopped = follower.all_stopped();
        let exits = new_exits(root, &follower, &reported, started);
        let (entries, behind) = follower.poll()?;
        if !emit_all(&mut fmt, &entries, out) {
            return Ok(());
        }
        // An exit waits for the lines before it.
        for (t, code, finished) in exits.into_iter().filter(|e| !behind.contains(&e.0.id)) {
            let line = fmt.status(&t.name, &format!("exited with code {code}"));
            if out
                .write_all(line.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
            {
                return Ok(());
            }
            reported.insert(t.id, finished);
        }
        if !behind.is_empty() {
            // Behind the writers: read on at once.
            continue;
        }
        if opts.until.is_some_and(|u| now_nanos() > u) {
            return Ok(());
        }
        if stopped {
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= DISCOVER_EVERY {
                // One more look for containers that replaced the stopped ones.
                let new = follower.discover()?;
                if new.is_empty() && follower.all_stopped() {
                    // Anything still unread or unreported is shown by the next rounds, which
                    // end here again once nothing is left.
                    let (entries, behind) = follower.poll()?;
                    if !emit_all(&mut fmt, &entries, out) {
                        return Ok(());
                    }
                    if behind.is_empty()
                        && new_exits(root, &follower, &reported, started).is_empty()
                    {
                        return Ok(());
                    }
                    continue;
                }
                for t in new {
                    fmt.register(&t.name);
                }
                idle_since = None;
            }
        } else {
            idle_since = None;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}
