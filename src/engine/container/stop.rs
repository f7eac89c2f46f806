//! The one stop sequence: mark the container as stopped on purpose (its monitor must not
//! restart it), send the stop signal to its PID 1, thaw it if paused (a frozen process cannot
//! act on a signal), wait out the grace period, kill what is left, wait for the monitor to
//! record the exit, and clean up in the monitor's place when it is gone.
//!
//! Split in two ([`Container::begin_stop`], then [`Stopping::finish`]) so `stop` and `down`
//! signal every container of a wave first and wait for them together; the grace period counts
//! from the signal. The system side is the [`StopSys`] seam, so the sequence's order is
//! unit-tested through a recording fake.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::process::Signal;

use super::{pidfd, Container, ContainerError};
use crate::engine::state;

/// How long PID 1 gets to die after SIGKILL, and the monitor to record an exit.
const AFTER_KILL: Duration = Duration::from_secs(10);
/// How long a monitor killed for not recording an exit gets to go.
const MONITOR_KILLED: Duration = Duration::from_secs(2);

/// What the stop sequence does to the system; [`Container`] does it for real.
pub trait StopSys {
    /// A process pinned for signalling and waiting (a pidfd).
    type Process;
    /// Marks the container as stopped on purpose.
    fn mark_stopping(&self) -> Result<(), ContainerError>;
    /// Its PID 1 and its monitor, each if it is still the process recorded.
    fn processes(&self) -> (Option<Self::Process>, Option<Self::Process>);
    fn signal(&self, p: &Self::Process, signal: Signal);
    /// Waits for `p` to exit, at most `timeout`; whether it did.
    fn wait(&self, p: &Self::Process, timeout: Duration) -> bool;
    fn thaw_if_paused(&self);
    /// Everything the monitor would have done after the exit ([`Container::clean_up_orphan`]).
    fn clean_up_orphan(&self) -> Result<(), ContainerError>;
}

/// A container being stopped: signalled, not yet waited for.
pub struct Stopping<S: StopSys = Container> {
    sys: S,
    pid1: Option<S::Process>,
    monitor: Option<S::Process>,
    grace: Duration,
    signalled: Instant,
}

impl Container {
    /// Starts stopping the container: marks it as stopped on purpose, sends `signal` to its
    /// PID 1 and thaws it if paused. [`Stopping::finish`] waits for it, `grace` counted from
    /// now.
    #[tracing::instrument(name = "container", skip_all, fields(name = %self.record.name))]
    pub fn begin_stop(self, signal: Signal, grace: Duration) -> Result<Stopping, ContainerError> {
        tracing::debug!(?signal, ?grace, "stopping");
        begin(self, signal, grace)
    }

    /// Stops the container (both halves of the sequence).
    pub fn stop(self, signal: Signal, grace: Duration) -> Result<(), ContainerError> {
        self.begin_stop(signal, grace)?.finish()
    }
}

fn begin<S: StopSys>(
    sys: S,
    signal: Signal,
    grace: Duration,
) -> Result<Stopping<S>, ContainerError> {
    sys.mark_stopping()?;
    let (pid1, monitor) = sys.processes();
    if let Some(p) = &pid1 {
        sys.signal(p, signal);
    }
    sys.thaw_if_paused();
    Ok(Stopping {
        sys,
        pid1,
        monitor,
        grace,
        signalled: Instant::now(),
    })
}

impl<S: StopSys> Stopping<S> {
    /// Waits out the grace period, kills what is left, waits for the monitor to record the
    /// exit, and cleans up itself when the monitor is gone (killed, or a reboot).
    pub fn finish(self) -> Result<(), ContainerError> {
        let sys = &self.sys;
        if let Some(p) = &self.pid1 {
            let left = self.grace.saturating_sub(self.signalled.elapsed());
            if !sys.wait(p, left) {
                // PID 1 of a PID namespace: the kernel kills every process in it.
                sys.signal(p, Signal::KILL);
                sys.wait(p, AFTER_KILL);
            }
        }
        match &self.monitor {
            Some(m) => {
                if !sys.wait(m, AFTER_KILL) {
                    sys.signal(m, Signal::KILL);
                    sys.wait(m, MONITOR_KILLED);
                    sys.clean_up_orphan()?;
                }
            }
            None => sys.clean_up_orphan()?,
        }
        Ok(())
    }
}

impl StopSys for Container {
    type Process = OwnedFd;

    fn mark_stopping(&self) -> Result<(), ContainerError> {
        std::fs::write(state::stopping_path(&self.dir), b"").map_err(|source| ContainerError::Io {
            name: self.record.id.clone(),
            action: "marking it as stopping",
            source,
        })
    }

    fn processes(&self) -> (Option<OwnedFd>, Option<OwnedFd>) {
        let st = self.recorded_state();
        if st.boot_id != state::boot_id() {
            return (None, None);
        }
        (
            pidfd::open(st.pid, st.pid_start),
            pidfd::open(st.monitor_pid, st.monitor_start),
        )
    }

    fn signal(&self, p: &OwnedFd, signal: Signal) {
        // A process that is already gone needs no signal: the wait that follows sees it.
        if let Err(e) = pidfd::signal(p.as_fd(), signal) {
            self.warn(&format!("sending {signal:?}: {e}"));
        }
    }

    fn wait(&self, p: &OwnedFd, timeout: Duration) -> bool {
        pidfd::wait(p.as_fd(), Some(timeout))
    }

    fn thaw_if_paused(&self) {
        Container::thaw_if_paused(self)
    }

    fn clean_up_orphan(&self) -> Result<(), ContainerError> {
        Container::clean_up_orphan(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// What the sequence did, in order.
    #[derive(Debug, Clone, PartialEq)]
    enum Did {
        Mark,
        Signal(&'static str, Signal),
        Wait(&'static str),
        Thaw,
        CleanUp,
    }

    /// A container whose processes exit (or not) as told, recording every action.
    struct Fake {
        pid1: bool,
        monitor: bool,
        /// Whether PID 1 exits within the grace period.
        pid1_obeys: bool,
        /// Whether the monitor records the exit in time.
        monitor_alive_and_well: bool,
        did: RefCell<Vec<Did>>,
    }

    impl Fake {
        fn new(pid1: bool, monitor: bool) -> Fake {
            Fake {
                pid1,
                monitor,
                pid1_obeys: true,
                monitor_alive_and_well: true,
                did: RefCell::new(Vec::new()),
            }
        }
    }

    impl StopSys for &Fake {
        type Process = &'static str;
        fn mark_stopping(&self) -> Result<(), ContainerError> {
            self.did.borrow_mut().push(Did::Mark);
            Ok(())
        }
        fn processes(&self) -> (Option<&'static str>, Option<&'static str>) {
            (
                self.pid1.then_some("pid1"),
                self.monitor.then_some("monitor"),
            )
        }
        fn signal(&self, p: &&'static str, signal: Signal) {
            self.did.borrow_mut().push(Did::Signal(p, signal));
        }
        fn wait(&self, p: &&'static str, _timeout: Duration) -> bool {
            let mut did = self.did.borrow_mut();
            let killed = did.contains(&Did::Signal(p, Signal::KILL));
            did.push(Did::Wait(p));
            killed
                || match *p {
                    "pid1" => self.pid1_obeys,
                    _ => self.monitor_alive_and_well,
                }
        }
        fn thaw_if_paused(&self) {
            self.did.borrow_mut().push(Did::Thaw);
        }
        fn clean_up_orphan(&self) -> Result<(), ContainerError> {
            self.did.borrow_mut().push(Did::CleanUp);
            Ok(())
        }
    }

    fn stop(fake: &Fake) -> Vec<Did> {
        let s = begin(fake, Signal::TERM, Duration::from_secs(10)).unwrap();
        s.finish().unwrap();
        fake.did.borrow().clone()
    }

    #[test]
    fn marks_signals_then_thaws_before_waiting() {
        let fake = Fake::new(true, true);
        let s = begin(&fake, Signal::TERM, Duration::from_secs(10)).unwrap();
        // Nothing is waited for until `finish`: `down` signals a whole wave first.
        assert_eq!(
            *fake.did.borrow(),
            [Did::Mark, Did::Signal("pid1", Signal::TERM), Did::Thaw]
        );
        s.finish().unwrap();
        assert_eq!(
            fake.did.borrow()[3..],
            [Did::Wait("pid1"), Did::Wait("monitor")]
        );
    }

    #[test]
    fn kills_pid1_that_outlives_its_grace() {
        let mut fake = Fake::new(true, true);
        fake.pid1_obeys = false;
        assert_eq!(
            stop(&fake)[3..],
            [
                Did::Wait("pid1"),
                Did::Signal("pid1", Signal::KILL),
                Did::Wait("pid1"),
                Did::Wait("monitor"),
            ]
        );
    }

    #[test]
    fn cleans_up_for_a_monitor_that_does_not_record_the_exit() {
        let mut fake = Fake::new(true, true);
        fake.monitor_alive_and_well = false;
        assert_eq!(
            stop(&fake)[4..],
            [
                Did::Wait("monitor"),
                Did::Signal("monitor", Signal::KILL),
                Did::Wait("monitor"),
                Did::CleanUp,
            ]
        );
    }

    #[test]
    fn without_a_monitor_cleans_up_itself() {
        let fake = Fake::new(false, false);
        assert_eq!(stop(&fake), [Did::Mark, Did::Thaw, Did::CleanUp]);
    }
}
