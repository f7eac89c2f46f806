//! The command's side of supervision: starts a container's monitor and waits for its word on
//! the readiness pipe (`+`, or `-` and the start's error).

use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::Path;

use super::error::SuperviseError;
use super::handshake::{MONITOR_ARG0, MONITOR_ID_ENV, MONITOR_ROOT_ENV, READY_FD};
use crate::engine::container::Container;
use crate::engine::runtime::error::{InitError, Step};
use crate::engine::runtime::process;
use crate::engine::state::{self, Status};

/// Starts the monitor of container `id` (which must have a record) and returns once the
/// container's command has been executed, or with the error that prevented it.
pub fn launch(root: &Path, id: &str) -> Result<(), SuperviseError> {
    let c = Container::open(root, id)?;
    let (rec, dir) = (c.record(), c.dir());
    let io = |action: &'static str| {
        let name = rec.name.clone();
        move |source| SuperviseError::Io {
            name,
            action,
            source,
        }
    };
    let raw = c.recorded_state();
    if raw.boot_id == state::boot_id() {
        let monitor = state::same_process(raw.monitor_pid, raw.monitor_start);
        if monitor && raw.status != Status::Exited {
            // Already supervised (a concurrent start won).
            return Ok(());
        }
        if !monitor && state::same_process(raw.pid, raw.pid_start) {
            // Its monitor was killed but the container lives on: end it before starting anew.
            c.clean_up_orphan()?;
        }
    }
    match std::fs::remove_file(state::stopping_path(dir)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("clearing the stop marker")(e)),
    }
    let (ready_r, ready_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| io("creating a pipe")(e.into()))?;
    let mut cmd = std::process::Command::new(process::compose_executable());
    {
        use std::os::unix::process::CommandExt;
        // A readable process title (`compose-monitor web-1`); what it serves goes in the
        // environment, which the monitor clears before it starts anything.
        cmd.arg0(MONITOR_ARG0);
    }
    cmd.arg(&rec.name)
        .env(MONITOR_ROOT_ENV, root)
        .env(MONITOR_ID_ENV, id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(filter) = crate::engine::logging::active_filter() {
        cmd.env(crate::engine::logging::LOG_ENV, filter);
    }
    tracing::debug!(container = %rec.name, "starting its monitor");
    let w = ready_w.as_raw_fd();
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: dup2 is async-signal-safe; the descriptor is open in the parent.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(w, READY_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().map_err(io("starting its monitor"))?;
    drop(ready_w);
    // The first process only forks the real monitor and exits.
    let _ = child.wait();
    let mut msg = Vec::new();
    let _ = std::fs::File::from(ready_r).read_to_end(&mut msg);
    match msg.first() {
        Some(b'+') => Ok(()),
        Some(b'-') => Err(SuperviseError::Start {
            name: rec.name.clone(),
            source: serde_json::from_slice(&msg[1..]).unwrap_or_else(|_| {
                InitError::msg(Step::Spawn, None, "the monitor failed to start it")
            }),
        }),
        _ => Err(SuperviseError::Start {
            name: rec.name.clone(),
            source: InitError::msg(Step::Spawn, None, "its monitor exited without starting it"),
        }),
    }
}
