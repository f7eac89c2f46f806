//! `attach SERVICE`: one running service container's output from now on, as `docker attach`
//! shows it (its standard output on ours, its standard error on ours, unprefixed), until the
//! container's process exits (then its exit code is the command's) or the user interrupts.
//!
//! The output is the container's json-file log followed from its current end (see
//! [`LogFollower::skip_to_end`]): the monitor owns the container's streams and copies them
//! there, so attaching needs no channel into the monitor and cannot disturb the container.
//! Standard input is not attached: the monitor has no way yet to take input for a running
//! container, so a container created with `stdin_open` is refused unless `--no-stdin` says
//! its input is not wanted (never silently left unattached).
//!
//! With `sig_proxy` (Docker's default) the signals the command receives are forwarded to the
//! container's PID 1, as Docker's CLI does through its kill API; without it they act on the
//! command as usual, so Ctrl-C detaches and leaves the container running.

use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::process::Signal;

use super::follow::LogFollower;
use super::target::{Selection, Target};
use super::{AttachError, POLL_INTERVAL};
use crate::engine::container::Container;
use crate::engine::root::StateRoot;
use crate::engine::state::{self, Observed, Status};

/// What `attach` attaches to and how.
#[derive(Debug, Clone)]
pub struct AttachServiceOptions {
    pub service: String,
    /// The replica's number (`--index`); 0: the lowest-numbered running one, as Docker
    /// Compose picks.
    pub index: u32,
    /// Whether the caller leaves the container's standard input unattached (`--no-stdin`).
    pub no_stdin: bool,
    /// Forward the signals the command receives to the container (`--sig-proxy`).
    pub sig_proxy: bool,
}

/// The signals forwarded with `--sig-proxy`: those a user or a supervisor sends to ask a
/// process to stop, reload or report. Docker's CLI forwards every signal but SIGCHLD, SIGPIPE
/// and SIGURG; job control (SIGTSTP, SIGCONT, SIGTTIN, SIGTTOU) and SIGWINCH are left to act on
/// the command itself here, so Ctrl-Z still suspends the command in its shell.
const PROXIED: [Signal; 7] = [
    Signal::HUP,
    Signal::INT,
    Signal::QUIT,
    Signal::USR1,
    Signal::USR2,
    Signal::ALARM,
    Signal::TERM,
];

/// Signals received and not forwarded yet, one bit per signal number.
static PENDING: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    if (0..64).contains(&sig) {
        PENDING.fetch_or(1 << sig, Ordering::SeqCst);
    }
}

/// Catches the [`PROXIED`] signals so that they are forwarded rather than end the command.
fn catch_proxied() -> Result<(), AttachError> {
    for sig in PROXIED {
        // SAFETY: the handler only touches an atomic (async-signal-safe); the struct is
        // zero-initialised as sigaction expects.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(sig.as_raw(), &sa, std::ptr::null_mut()) != 0 {
                return Err(AttachError::Signal(io::Error::last_os_error()));
            }
        }
    }
    Ok(())
}

/// The container `attach` picks: replica `index`, or with 0 the lowest-numbered running one
/// (the lowest-numbered one when none runs, so that the refusal names why), as Docker
/// Compose's `getSpecifiedContainer` does.
pub fn pick(
    root: &Path,
    project: &str,
    service: &str,
    index: u32,
) -> Result<Observed, AttachError> {
    let selection = Selection {
        services: vec![service.to_string()],
        index: (index > 0).then_some(index),
    };
    let mut found: Vec<Observed> = state::list(root, Some(project))?
        .into_iter()
        .filter(|o| selection.matches(o))
        .collect();
    found.sort_by_key(|o| (o.state.live_pid().is_none(), o.record.number));
    found
        .into_iter()
        .next()
        .ok_or_else(|| AttachError::NotRunning {
            service: service.to_string(),
            index: (index > 0).then_some(index),
        })
}

/// Why `o` cannot be attached to now, in Docker's words; `None` when it can.
pub fn refusal(o: &Observed, no_stdin: bool) -> Option<AttachError> {
    if o.state.status == Status::Restarting {
        return Some(AttachError::Refused(
            "You cannot attach to a restarting container, wait until it is running",
        ));
    }
    if o.state.live_pid().is_none() {
        return Some(AttachError::Refused(
            "You cannot attach to a stopped container, start it first",
        ));
    }
    if crate::engine::container::pause::is_paused(&o.record) {
        return Some(AttachError::Refused(
            "You cannot attach to a paused container, unpause it first",
        ));
    }
    if o.record.spec.process.stdin_open && !no_stdin {
        return Some(AttachError::StdinUnsupported {
            container: o.record.name.clone(),
        });
    }
    None
}

/// `attach`: prints the picked container's output written from now on (standard output lines
/// on `out`, standard error lines on `err`) until its process exits, and returns its exit
/// code. A broken `out` or `err` (the reader went away) ends it early with 0, as there is
/// nobody left to tell.
pub fn attach_service(
    root: &Path,
    project: &str,
    opts: &AttachServiceOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, AttachError> {
    let o = pick(root, project, &opts.service, opts.index)?;
    if let Some(refused) = refusal(&o, opts.no_stdin) {
        return Err(refused);
    }
    let container = Container::of(root, &o.record);
    let attached_pid = o.state.pid;
    let mut follower = LogFollower::new(
        root,
        project,
        Selection {
            services: vec![o.record.service.clone()],
            index: Some(o.record.number),
        },
    );
    follower.add(Target::of(&o));
    follower.skip_to_end()?;
    if opts.sig_proxy {
        catch_proxied()?;
    }
    let dir = StateRoot::new(root).container(&o.record.id);
    loop {
        if opts.sig_proxy {
            forward_pending(&container)?;
        }
        // The state is read before the lines: the monitor records an exit only after it has
        // copied the output that preceded it, so every line before the exit is read below.
        let raw = state::read_state(&dir);
        let ended = !state::record_path(&dir).exists()
            || raw.status != Status::Running
            || raw.pid != attached_pid
            || raw.clone().observed().status == Status::Dead;
        let (entries, behind) = follower.poll()?;
        for e in &entries {
            let sink: &mut dyn Write = if e.is_stderr() { &mut *err } else { &mut *out };
            if sink.write_all(e.line.log.as_bytes()).is_err() {
                return Ok(0);
            }
        }
        if out.flush().is_err() || err.flush().is_err() {
            return Ok(0);
        }
        if !behind.is_empty() {
            continue;
        }
        if ended {
            // As `ps` shows it: a container whose end was not recorded (dead) counts as 0.
            return Ok(raw.exit_code.unwrap_or(0));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Sends the signals received since the last call to the container's PID 1 (while it runs),
/// as Docker's `kill` would: one that is SIGKILL or the container's stop signal (any signal
/// when it has none) marks it stopped on purpose, so its restart policy does not start it
/// again.
fn forward_pending(container: &Container) -> Result<(), AttachError> {
    let pending = PENDING.swap(0, Ordering::SeqCst);
    if pending == 0 {
        return Ok(());
    }
    for sig in PROXIED {
        if pending & (1 << sig.as_raw()) == 0 {
            continue;
        }
        let st = container.recorded_state().observed();
        let Some(pid1) = container.pid1(&st) else {
            return Ok(());
        };
        let on_purpose = container.record().stop_signal.is_none()
            || container.stop_signal().is_ok_and(|s| s == sig);
        if let Err(e) = container.kill(pid1, sig, on_purpose) {
            // Gone between pinning and signalling: nothing to forward to; the exit is
            // reported by the loop.
            if container.recorded_state().observed().live_pid().is_some() {
                return Err(e.into());
            }
        }
    }
    Ok(())
}
