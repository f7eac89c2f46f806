//! Pidfds of a container's processes: a pidfd pins the process it was opened for, so a signal
//! or a wait through it can never reach a process that reused the PID.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, Signal};

use crate::engine::state;

/// A pidfd for `pid` if it is still the process that started at `start`.
pub fn open(pid: Option<i32>, start: Option<u64>) -> Option<OwnedFd> {
    let pid = pid?;
    let fd = rustix::process::pidfd_open(Pid::from_raw(pid)?, PidfdFlags::empty()).ok()?;
    // Checked after opening: the pidfd now pins the process we verified.
    state::same_process(Some(pid), start).then_some(fd)
}

/// Sends `signal` through `pidfd`. A process that has already exited (`ESRCH`) needs no
/// signal, so that is no failure; any other is returned for the caller to warn about.
pub fn signal(pidfd: BorrowedFd<'_>, signal: Signal) -> Result<(), Errno> {
    match rustix::process::pidfd_send_signal(pidfd, signal) {
        Err(Errno::SRCH) => Ok(()),
        other => other,
    }
}

/// Waits until the process behind `pidfd` exits, at most `timeout` (`None`: as long as it
/// takes); returns whether it did.
pub fn wait(pidfd: BorrowedFd<'_>, timeout: Option<Duration>) -> bool {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let ms = match deadline {
            Some(d) => d
                .saturating_duration_since(Instant::now())
                .as_millis()
                .min(i32::MAX as u128) as i32,
            None => -1,
        };
        let mut pfd = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: polling one valid descriptor.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n > 0 {
            return true;
        }
        if n == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn a_signal_to_a_process_already_gone_is_no_failure_but_others_are() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = Pid::from_raw(child.id() as i32).expect("a pid");
        let fd = rustix::process::pidfd_open(pid, PidfdFlags::empty()).expect("pidfd");
        child.wait().expect("reaped");
        assert_eq!(
            rustix::process::pidfd_send_signal(&fd, Signal::KILL),
            Err(Errno::SRCH),
            "the kernel says ESRCH for a reaped process"
        );
        assert_eq!(signal(fd.as_fd(), Signal::KILL), Ok(()));
        let not_a_pidfd = std::fs::File::open("/dev/null").expect("/dev/null");
        assert_eq!(signal(not_a_pidfd.as_fd(), Signal::KILL), Err(Errno::BADF));
    }
}
