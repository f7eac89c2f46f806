//! `kill`: a signal to a running container's PID 1, through a pidfd pinned while its state was
//! read, and, for SIGKILL, a wait until its monitor has recorded the exit so the next command
//! sees it.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::process::Signal;

use super::{pidfd, Container, ContainerError};
use crate::engine::state::{self, RunState, Status};

/// How long a SIGKILLed PID 1 gets to go, and its monitor then to record it.
const KILLED: Duration = Duration::from_secs(10);
const RECORDED: Duration = Duration::from_secs(5);

/// A running container's PID 1, pinned (see [`pidfd`]).
pub struct Pid1 {
    fd: OwnedFd,
    /// The PID as recorded, to tell when the monitor recorded its end.
    pid: Option<i32>,
}

impl Pid1 {
    /// Waits for it to exit, at most `timeout` (`None`: as long as it takes).
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        pidfd::wait(self.fd.as_fd(), timeout)
    }

    pub fn pid(&self) -> Option<i32> {
        self.pid
    }
}

impl Container {
    /// Its PID 1 if `observed` (its state as [`RunState::observed`] sees it) says it runs and
    /// it is still that process.
    pub fn pid1(&self, observed: &RunState) -> Option<Pid1> {
        let pid = observed.live_pid()?;
        Some(Pid1 {
            fd: pidfd::open(Some(pid), observed.pid_start)?,
            pid: observed.pid,
        })
    }

    /// Sends `signal` to its PID 1. `on_purpose` marks it as stopped on purpose first, so its
    /// monitor does not restart it; a `kill` event goes out before the signal (the monitor's
    /// `die` may follow at once). A paused container is thawed so it acts on the signal. After
    /// SIGKILL, returns once its monitor has recorded the exit (bounded).
    #[tracing::instrument(name = "container", skip_all, fields(name = %self.record.name))]
    pub fn kill(&self, pid1: Pid1, signal: Signal, on_purpose: bool) -> Result<(), ContainerError> {
        tracing::debug!(?signal, on_purpose, "signalling its PID 1");
        let os = |source: std::io::Error| ContainerError::Os {
            name: self.record.name.clone(),
            source,
        };
        if on_purpose {
            std::fs::write(state::stopping_path(&self.dir), b"").map_err(os)?;
        }
        crate::engine::events::emit(
            &self.root,
            &self.record,
            "kill",
            &[("signal", signal.as_raw().to_string())],
        );
        rustix::process::pidfd_send_signal(&pid1.fd, signal).map_err(|e| os(e.into()))?;
        self.thaw_if_paused();
        if signal == Signal::KILL {
            // No fixed sleep: the pidfd tells when PID 1 is gone.
            pid1.wait(Some(KILLED));
            self.wait_recorded(pid1.pid, RECORDED);
        }
        Ok(())
    }

    /// Waits (bounded by `limit`) until the monitor has recorded that PID `pid` is no longer
    /// the container's running process; returns the state then.
    pub fn wait_recorded(&self, pid: Option<i32>, limit: Duration) -> RunState {
        let deadline = Instant::now() + limit;
        loop {
            // The monitor's own record, not the observed one: that already hides a PID that
            // is gone, before the monitor wrote how it ended.
            let raw = self.recorded_state();
            let recorded = raw.status != Status::Running || raw.pid != pid;
            let st = raw.observed();
            if recorded || st.status == Status::Dead || Instant::now() >= deadline {
                return st;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
