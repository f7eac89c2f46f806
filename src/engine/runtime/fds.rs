//! Descriptors a process inherited without meaning to pass them on.
//!
//! Whatever the CLI had open without close-on-exec (a shell's `exec 7</etc`, a descriptor
//! leaked by a library) is inherited by the monitor, `compose __init` and `compose __exec`, and
//! from there by the container's process, which reaches the host through it
//! (`/proc/self/fd/7/..`; runc's CVE-2024-21626 was one such descriptor used as the working
//! directory). Each of our helpers therefore closes every descriptor it did not expect as soon
//! as it starts, and marks all above the standard streams close-on-exec right before it
//! executes the container's command.

use std::os::fd::RawFd;

/// `CLOSE_RANGE_CLOEXEC` (linux/close_range.h, Linux 5.11); the libc crate lacks it on some
/// targets.
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

/// Closes every descriptor from `first` up. `close_range` (Linux 5.9) does it in one call; older
/// kernels get a walk over /proc/self/fd.
pub fn close_from(first: RawFd) -> std::io::Result<()> {
    // SAFETY: closing descriptors no Rust object of this process owns (callers run this before
    // opening anything of their own above `first`).
    let r = unsafe { libc::syscall(libc::SYS_close_range, first as libc::c_uint, u32::MAX, 0) };
    if r == 0 {
        return Ok(());
    }
    for fd in open_fds()?.into_iter().filter(|fd| *fd >= first) {
        // SAFETY: as above.
        unsafe { libc::close(fd) };
    }
    Ok(())
}

/// Marks every descriptor from `first` up close-on-exec, so that none survives into the
/// command executed next (those still needed until then stay usable).
pub fn cloexec_from(first: RawFd) -> std::io::Result<()> {
    // SAFETY: only changes descriptor flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            u32::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return Ok(());
    }
    for fd in open_fds()?.into_iter().filter(|fd| *fd >= first) {
        // SAFETY: setting FD_CLOEXEC on a descriptor number; harmless if it was closed since.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// The numbers of this process's open descriptors (collected first: closing while the
/// directory is read would skip entries).
fn open_fds() -> std::io::Result<Vec<RawFd>> {
    let mut fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    Ok(fds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    /// Runs `f` in a forked child (descriptor tables are per process) and returns its exit code.
    fn in_child(f: impl FnOnce() -> i32) -> i32 {
        // SAFETY: the child only makes system calls and exits without unwinding.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            let code = f();
            // SAFETY: leaving the forked test process without running its exit handlers.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        libc::WEXITSTATUS(status)
    }

    fn inheritable_null() -> OwnedFd {
        // SAFETY: a plain open whose descriptor we own.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
        assert!(fd >= 0);
        // SAFETY: just opened, owned by nothing else.
        unsafe { OwnedFd::from_raw_fd(fd) }
    }

    #[test]
    fn close_from_closes_only_from_the_first_number_up() {
        let low = inheritable_null();
        let high = inheritable_null();
        let (low, high) = (low.as_raw_fd(), high.as_raw_fd());
        assert!(low < high);
        let code = in_child(|| {
            if close_from(high).is_err() {
                return 3;
            }
            // SAFETY: probing descriptor numbers.
            let open = |fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0;
            match (open(low), open(high)) {
                (true, false) => 0,
                _ => 1,
            }
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn cloexec_from_marks_without_closing() {
        let fd = inheritable_null();
        let fd = fd.as_raw_fd();
        let code = in_child(|| {
            if cloexec_from(fd).is_err() {
                return 3;
            }
            // SAFETY: probing a descriptor's flags.
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
            if flags >= 0 && flags & libc::FD_CLOEXEC != 0 {
                0
            } else {
                1
            }
        });
        assert_eq!(code, 0);
    }
}
