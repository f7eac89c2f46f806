//! The step's output, delivered as it comes: everything the container writes to the pipe until
//! its command (PID 1) ends. A process it left in the background may still hold the pipe; what
//! is buffered then is read without waiting, and the cgroup's kill ends the rest.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use crate::engine::runtime::process::Child;

/// Reads `pipe` into `output` until end-of-file or the end of `child`.
pub(super) fn deliver(
    pipe: &OwnedFd,
    child: &Child,
    output: &mut dyn FnMut(&[u8]),
) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut open = true;
    loop {
        let mut fds = [
            libc::pollfd {
                fd: if open { pipe.as_raw_fd() } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: child.pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: polling two descriptors we own (a negative one is ignored).
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if open && fds[0].revents != 0 {
            let got = read(pipe, &mut buf)?;
            if got == 0 {
                open = false;
            } else {
                output(&buf[..got]);
            }
        }
        if fds[1].revents != 0 {
            break;
        }
    }
    if open {
        drain(pipe, &mut buf, output)?;
    }
    Ok(())
}

/// What is buffered in `pipe` now, without waiting for more.
fn drain(pipe: &OwnedFd, buf: &mut [u8], output: &mut dyn FnMut(&[u8])) -> io::Result<()> {
    rustix::fs::fcntl_setfl(pipe.as_fd(), rustix::fs::OFlags::NONBLOCK)?;
    loop {
        match read(pipe, buf) {
            Ok(0) => return Ok(()),
            Ok(n) => output(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

fn read(pipe: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match rustix::io::read(pipe, &mut *buf) {
            Ok(n) => return Ok(n),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
