//! The step's output, delivered as it comes: everything the container writes to the pipe until
//! its command (PID 1) ends. A process it left in the background may still hold the pipe; what
//! is buffered then is read without waiting, and the cgroup's kill ends the rest. A step on an
//! engine network has its DNS resolver served from the same loop.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use crate::engine::network::dns::Resolver;
use crate::engine::runtime::process::Child;

/// Reads `pipe` into `output` until end-of-file or the end of `child`, answering the DNS
/// queries of `resolver` meanwhile; an error when `output` says it takes no more.
pub(super) fn deliver(
    pipe: &OwnedFd,
    child: &Child,
    mut resolver: Option<&mut Resolver>,
    output: &mut dyn FnMut(&[u8]) -> bool,
) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut open = true;
    loop {
        let pollfd = |fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let mut fds: Vec<libc::pollfd> = [if open { pipe.as_raw_fd() } else { -1 }]
            .into_iter()
            .chain([child.pidfd.as_raw_fd()])
            .chain(resolver.as_ref().map(|r| r.poll_fds()).unwrap_or_default())
            .map(pollfd)
            .collect();
        let ms = resolver
            .as_ref()
            .and_then(|r| r.next_timeout())
            .map_or(-1, |t| {
                t.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int
            });
        // SAFETY: polling descriptors we own, in a live array of the length given (a
        // negative one is ignored).
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
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
            } else if !output(&buf[..got]) {
                return Err(stopped());
            }
        }
        if let Some(r) = resolver.as_mut() {
            for p in &fds[2..] {
                if p.revents != 0 {
                    r.handle_ready(p.fd);
                }
            }
            r.expire();
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
fn drain(pipe: &OwnedFd, buf: &mut [u8], output: &mut dyn FnMut(&[u8]) -> bool) -> io::Result<()> {
    rustix::fs::fcntl_setfl(pipe.as_fd(), rustix::fs::OFlags::NONBLOCK)?;
    loop {
        match read(pipe, buf) {
            Ok(0) => return Ok(()),
            Ok(n) if !output(&buf[..n]) => return Err(stopped()),
            Ok(_) => {}
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

fn stopped() -> io::Error {
    io::Error::other("the caller stopped taking the step's output")
}
