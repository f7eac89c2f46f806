//! Pidfds of a container's processes: a pidfd pins the process it was opened for, so a signal
//! or a wait through it can never reach a process that reused the PID.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::process::{Pid, PidfdFlags};

use crate::engine::state;

/// A pidfd for `pid` if it is still the process that started at `start`.
pub fn open(pid: Option<i32>, start: Option<u64>) -> Option<OwnedFd> {
    let pid = pid?;
    let fd = rustix::process::pidfd_open(Pid::from_raw(pid)?, PidfdFlags::empty()).ok()?;
    // Checked after opening: the pidfd now pins the process we verified.
    state::same_process(Some(pid), start).then_some(fd)
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
