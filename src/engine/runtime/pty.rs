//! Pseudo-terminals for containers run with a TTY: the container gets the slave side as its
//! stdio and controlling terminal (and /dev/console); the CLI copies between its own terminal, put
//! in raw mode, and the master side, and passes window-size changes on.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use rustix::fs::{Mode, OFlags};
use rustix::pty::OpenptFlags;
use rustix::termios::{self, OptionalActions, Termios};

use super::error::{InitError, Step};

pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    /// The slave's path on the host (`/dev/pts/N`), bound at the container's /dev/console.
    pub slave_path: PathBuf,
}

impl Pty {
    pub fn open() -> Result<Pty, InitError> {
        let sys = |e| InitError::sys(Step::Spawn, Some(std::path::Path::new("/dev/ptmx")), e);
        let master =
            rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
                .map_err(sys)?;
        rustix::pty::grantpt(&master).map_err(sys)?;
        rustix::pty::unlockpt(&master).map_err(sys)?;
        let name = rustix::pty::ptsname(&master, Vec::new()).map_err(sys)?;
        let slave_path = PathBuf::from(name.to_string_lossy().into_owned());
        let slave = rustix::fs::open(
            &slave_path,
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| InitError::sys(Step::Spawn, Some(&slave_path), e))?;
        Ok(Pty {
            master,
            slave,
            slave_path,
        })
    }

    /// Copies the window size of `from` (the user's terminal) to the container's terminal.
    pub fn copy_size_from(&self, from: impl AsFd) {
        if let Ok(ws) = termios::tcgetwinsize(from) {
            let _ = termios::tcsetwinsize(&self.master, ws);
        }
    }
}

/// In `compose __init`, just before the user's command: makes the terminal on standard input
/// the controlling terminal of a new session (so job control, Ctrl-C and `/dev/tty` work) and
/// gives it to the command's user, as runc does with a container's stdio: a process that drops
/// root can then reopen its own terminal by name (`$(tty)`, /dev/console), as programs that
/// prompt (`su`, `gpg`, pagers) do.
pub fn take_as_controlling(uid: u32, gid: u32) -> Result<(), InitError> {
    let console = Some(std::path::Path::new("/dev/console"));
    rustix::process::setsid().map_err(|e| InitError::sys(Step::Exec, None, e))?;
    let stdin = rustix::stdio::stdin();
    rustix::process::ioctl_tiocsctty(stdin).map_err(|e| InitError::sys(Step::Exec, console, e))?;
    rustix::fs::fchown(
        stdin,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    )
    .map_err(|e| InitError::sys(Step::User, console, e))
}

/// The user's terminal in raw mode until dropped, so keys (Ctrl-C included) reach the container.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    pub fn enable() -> Option<RawMode> {
        let stdin = rustix::stdio::stdin();
        let saved = termios::tcgetattr(stdin).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(stdin, OptionalActions::Now, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(rustix::stdio::stdin(), OptionalActions::Now, &self.saved);
    }
}
