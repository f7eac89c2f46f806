//! Attached `up`, once its containers are started: their output and exits shown as they come,
//! Ctrl-C and aborting exits turned into a stop of the project, and Docker Compose's exit code.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::cascade::{Cascade, Outcome};
use super::follow::{stopped_for_good, LogFollower};
use super::format::{emit, FormatOptions, Formatter};
use super::shutdown::{kill_all, stop_all};
use super::target::Selection;
use super::time::parse_log_time;
use super::{AttachError, DISCOVER_EVERY, POLL_INTERVAL};
use crate::engine::root::StateRoot;
use crate::engine::state;
use crate::stack::PlainReporter;

/// Options of an attached `up`, after `stack::up` has started the containers.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// Services whose logs are shown (`--attach`, else the services asked for, else all;
    /// minus `--no-attach`).
    pub attach: Vec<String>,
    /// Services `up` started: stopped on Ctrl-C or an abort, and watched for exits when
    /// nothing is attached.
    pub scope: Vec<String>,
    pub cascade: Cascade,
    /// `--exit-code-from`: its first exit code is `up`'s.
    pub exit_code_from: Option<String>,
    /// Services whose exit 0 is what they are for (see [`crate::stack::Expectations`]): it aborts
    /// nothing.
    pub one_shots: BTreeSet<String>,
    /// `-t/--timeout` for stopping; else each container's `stop_grace_period`.
    pub timeout: Option<u64>,
    /// Each service's level in the dependency graph ([`crate::stack::service_levels`]): the graceful
    /// stop takes the highest (dependents) first.
    pub levels: BTreeMap<String, usize>,
    /// Lines before this time (the start of this `up`) are not shown.
    pub since: i64,
    pub format: FormatOptions,
}

/// What the exits of one watched container look like so far.
#[derive(Debug, Default)]
struct ExitWatch {
    /// `finished_at` of the last exit reported.
    reported: Option<String>,
}

/// The message Docker Compose prints on the first Ctrl-C.
pub const GRACEFUL_MESSAGE: &str = "Gracefully Stopping... press Ctrl+C again to force";
/// The message Docker Compose prints when a container's exit stops everything.
pub const ABORT_MESSAGE: &str = "Aborting on container exit...";

/// Attached `up`, once the containers are started: prints the attached containers' output and
/// `<name> exited with code N` for each exit, stops everything on the first interrupt (counted
/// in `interrupts`) or on an exit that `cascade` aborts on, kills on the second interrupt, and
/// returns once every watched container is stopped for good, with Docker Compose's exit code:
/// `exit_code_from`'s exit code, else that of the container that caused an abort, else 0.
pub fn attached_up(
    root: &Path,
    project: &str,
    opts: &AttachOptions,
    interrupts: &AtomicUsize,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, AttachError> {
    let mut watched: BTreeSet<String> = if opts.attach.is_empty() {
        opts.scope.iter().cloned().collect()
    } else {
        opts.attach.iter().cloned().collect()
    };
    if let Some(s) = &opts.exit_code_from {
        watched.insert(s.clone());
    }
    let selection = Selection {
        services: watched.into_iter().collect(),
        index: None,
    };
    let mut follower =
        LogFollower::new(root, project, selection).with_window(Some(opts.since), None);
    let mut fmt = Formatter::new(opts.format);
    let shown = |service: &str| opts.attach.iter().any(|a| a == service);
    let targets = follower.discover()?;
    let names: Vec<&str> = targets
        .iter()
        .filter(|t| shown(&t.service))
        .map(|t| t.name.as_str())
        .collect();
    for n in &names {
        fmt.register(n);
    }
    if !names.is_empty() {
        let _ = writeln!(out, "Attaching to {}", names.join(", "));
        let _ = out.flush();
    }
    let mut exits: BTreeMap<String, ExitWatch> = BTreeMap::new();
    let mut stopper: Option<std::thread::JoinHandle<Result<(), AttachError>>> = None;
    let mut handled_interrupts = 0usize;
    let mut killed = false;
    let mut outcome = Outcome::new(
        opts.cascade,
        opts.exit_code_from.clone(),
        opts.one_shots.clone(),
    );
    let mut last_discover = Instant::now();
    let start_stop = |stopper: &mut Option<std::thread::JoinHandle<Result<(), AttachError>>>| {
        if stopper.is_none() {
            let (root, project, scope, levels, timeout) = (
                root.to_path_buf(),
                project.to_string(),
                opts.scope.clone(),
                opts.levels.clone(),
                opts.timeout,
            );
            *stopper = Some(std::thread::spawn(move || {
                stop_all(
                    &root,
                    &project,
                    &scope,
                    &levels,
                    timeout,
                    &mut PlainReporter,
                )
            }));
        }
    };
    loop {
        let n = interrupts.load(Ordering::SeqCst);
        if n > handled_interrupts {
            if handled_interrupts == 0 {
                let _ = writeln!(err, "{GRACEFUL_MESSAGE}");
                outcome.interrupt();
                start_stop(&mut stopper);
            }
            if n >= 2 && !killed {
                killed = true;
                kill_all(root, project, &opts.scope)?;
            }
            handled_interrupts = n;
        }
        if last_discover.elapsed() >= DISCOVER_EVERY {
            for t in follower.discover()? {
                if shown(&t.service) {
                    fmt.register(&t.name);
                }
            }
            last_discover = Instant::now();
        }
        // States before lines: a monitor records an exit only after the output before it.
        let mut exited_now = Vec::new();
        let mut all_stopped = true;
        for t in follower.targets() {
            let dir = StateRoot::new(root).container(&t.id);
            let st = state::read_state(&dir);
            let w = exits.entry(t.id.clone()).or_default();
            if let Some(f) = &st.finished_at {
                let new = w.reported.as_ref() != Some(f)
                    && parse_log_time(f).is_some_and(|t| t >= opts.since);
                if new {
                    exited_now.push((t.clone(), st.exit_code.unwrap_or(0), f.clone()));
                }
            }
            if !stopped_for_good(root, &t.id) {
                all_stopped = false;
            }
        }
        let (lines, behind) = follower.poll()?;
        for e in lines.iter().filter(|e| shown(&e.service)) {
            let _ = emit(&mut fmt, e, out);
        }
        let _ = out.flush();
        // An exit waits for the lines before it (a container read in chunks).
        exited_now.retain(|(t, _, _)| !behind.contains(&t.id));
        for (t, code, finished) in exited_now {
            exits.entry(t.id.clone()).or_default().reported = Some(finished);
            let _ = out.write_all(
                fmt.status(&t.name, &format!("exited with code {code}"))
                    .as_bytes(),
            );
            let _ = out.flush();
            if outcome.exit(&t.service, code) {
                if handled_interrupts == 0 {
                    let _ = writeln!(err, "{ABORT_MESSAGE}");
                }
                start_stop(&mut stopper);
            }
        }
        // What the logs still hold is shown, unless interrupted: Ctrl-C ends it now.
        if all_stopped && (behind.is_empty() || handled_interrupts > 0) {
            break;
        }
        if behind.is_empty() {
            std::thread::sleep(POLL_INTERVAL);
        }
    }
    if let Some(h) = stopper {
        match h.join() {
            Ok(r) => r?,
            Err(_) => {
                return Err(AttachError::Stop {
                    container: project.to_string(),
                    message: "the stopping thread panicked".into(),
                })
            }
        }
    }
    Ok(outcome.code())
}
