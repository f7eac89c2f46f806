//! A container's life on the host side: its state directory under `--root`, the files the engine
//! writes for it, and running it in the foreground with signals forwarded.
//!
//! Layout: `<root>/containers/<id>/` holds `upper/` and `work/` (the overlay's writable layer),
//! `merged/` (the mount point, only ever mounted inside the container's own mount namespace, so
//! the host mount table never holds a container mount that could leak), `hostname`, `hosts` and
//! `resolv.conf`.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use rustix::process::{Pid, Signal};

use super::error::{InitError, Step};
use super::init::InitConfig;
use super::process::{self, Child, Exit, Stdio};
use super::pty::Pty;
use crate::engine::root::StateRoot;
use crate::engine::spec::ContainerSpec;

/// Creates the container's directories and writes the given `hosts` and `resolv.conf`.
pub fn prepare(
    root: &Path,
    spec: &ContainerSpec,
    hosts: &str,
    resolv_conf: &str,
) -> Result<PathBuf, InitError> {
    let dir = StateRoot::new(root).container(&spec.id);
    let io = |p: &Path, e: std::io::Error| InitError::io(Step::State, Some(p), &e);
    crate::engine::root::private_dir(&dir).map_err(|e| io(&dir, e))?;
    for sub in ["upper", "work", "merged"] {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).map_err(|e| io(&p, e))?;
    }
    let files = [
        ("hostname", format!("{}\n", spec.hostname)),
        ("hosts", hosts.to_string()),
        ("resolv.conf", resolv_conf.to_string()),
    ];
    for (name, content) in files {
        let p = dir.join(name);
        crate::engine::fsutil::write_atomic_shared(&p, content.as_bytes())
            .map_err(|e| io(&p, e))?;
    }
    Ok(dir)
}

/// Starts the container and waits for it, forwarding the signals a user sends to the CLI
/// (Ctrl-C, `kill`) to the container's PID 1. Returns how it ended.
///
/// With `pty`, the container's stdio is that terminal's slave side: this copies between the
/// user's terminal and the master side until the container exits.
pub fn run_foreground(
    cfg: &InitConfig,
    stdio: &Stdio<'_>,
    pty: Option<&Pty>,
    cgroup2: Option<BorrowedFd<'_>>,
    place: &mut dyn FnMut(Pid) -> Result<(), InitError>,
    started: &mut dyn FnMut(&Child),
) -> Result<Exit, InitError> {
    let child = attend(
        pty,
        || {
            let child = process::spawn(cfg, stdio, cgroup2, place)?;
            started(&child);
            Ok(child)
        },
        |c| c.pidfd.as_raw_fd(),
        |c, sig| {
            let _ = process::signal(c, sig);
        },
    )?;
    process::wait(&child)
}

/// The foreground part shared by `run` and `exec`: blocks the signals a user sends to the CLI
/// (so none is lost or kills it), starts the process with `start`, then until its `pidfd`
/// reports its end, passes those signals on with `signal` and, with `pty`, copies between the
/// user's terminal and the master side. Returns the process, not yet reaped. The CLI's signal
/// mask is restored on return.
pub fn attend<C>(
    pty: Option<&Pty>,
    start: impl FnOnce() -> Result<C, InitError>,
    pidfd: impl Fn(&C) -> std::os::fd::RawFd,
    signal: impl Fn(&C, Signal),
) -> Result<C, InitError> {
    let forwarded = [
        Signal::INT,
        Signal::TERM,
        Signal::HUP,
        Signal::QUIT,
        Signal::USR1,
        Signal::USR2,
        Signal::WINCH,
    ];
    // Block the signals so they queue for the signalfd instead of killing the CLI.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: sigset manipulation on local storage.
    unsafe {
        libc::sigemptyset(&mut set);
        for s in forwarded {
            libc::sigaddset(&mut set, s.as_raw());
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
    }
    let _restore = SigmaskGuard(old);
    // Made before the start, so a failure here leaves no process behind.
    // SAFETY: creating a signalfd for the blocked set.
    let sfd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
    if sfd < 0 {
        return Err(InitError::io(
            Step::Exec,
            None,
            &std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: we own the new descriptor.
    let sfd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(sfd) };
    let child = start()?;
    let stdin = rustix::stdio::stdin().as_raw_fd();
    let mut stdin_open = pty.is_some();
    let master = pty.map(|p| p.master.as_raw_fd()).unwrap_or(-1);
    if let Some(p) = pty {
        p.copy_size_from(rustix::stdio::stdin());
    }
    let pollfd = |fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        let mut fds = [
            pollfd(pidfd(&child)),
            pollfd(sfd.as_raw_fd()),
            pollfd(master),
            pollfd(if stdin_open { stdin } else { -1 }),
        ];
        // SAFETY: polling valid descriptors (negative ones are ignored by poll).
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break;
        }
        if fds[1].revents & libc::POLLIN != 0 {
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            loop {
                // SAFETY: reading one siginfo record into local storage.
                let r = unsafe {
                    libc::read(
                        sfd.as_raw_fd(),
                        &mut info as *mut _ as *mut libc::c_void,
                        std::mem::size_of::<libc::signalfd_siginfo>(),
                    )
                };
                if r <= 0 {
                    break;
                }
                match (Signal::from_named_raw(info.ssi_signo as i32), pty) {
                    // The terminal's size reaches the process through its own terminal.
                    (Some(Signal::WINCH), Some(p)) => p.copy_size_from(rustix::stdio::stdin()),
                    (Some(sig), _) => signal(&child, sig),
                    (None, _) => {}
                }
            }
        }
        if fds[2].revents & (libc::POLLIN | libc::POLLHUP) != 0 && copy(master, 1) == 0 {
            // The process closed its terminal; its exit follows.
        }
        if fds[3].revents & (libc::POLLIN | libc::POLLHUP) != 0 && copy(stdin, master) == 0 {
            stdin_open = false;
        }
        if fds[0].revents & libc::POLLIN != 0 {
            if let Some(p) = pty {
                // We hold the slave side too, so the master never reports end-of-file: drain what
                // is buffered without blocking.
                let _ = rustix::fs::fcntl_setfl(&p.master, rustix::fs::OFlags::NONBLOCK);
                while copy(master, 1) > 0 {}
            }
            break;
        }
    }
    Ok(child)
}

/// Copies what is available from `from` to `to`; returns the bytes copied (0 at end or error).
fn copy(from: std::os::fd::RawFd, to: std::os::fd::RawFd) -> usize {
    let mut buf = [0u8; 8192];
    // SAFETY: reading into a local buffer from a descriptor we poll.
    let n = unsafe { libc::read(from, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
    if n <= 0 {
        return 0;
    }
    let mut done = 0usize;
    while done < n as usize {
        // SAFETY: writing the bytes just read.
        let w = unsafe {
            libc::write(
                to,
                buf[done..].as_ptr() as *const libc::c_void,
                n as usize - done,
            )
        };
        if w <= 0 {
            break;
        }
        done += w as usize;
    }
    n as usize
}

struct SigmaskGuard(libc::sigset_t);

impl Drop for SigmaskGuard {
    fn drop(&mut self) {
        // SAFETY: restoring the mask saved before blocking.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}
