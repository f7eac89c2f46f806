//! The standard streams a monitor gives the container it runs (see
//! [`crate::engine::supervisor`]), as Docker's shim does: two pipes for stdout and stderr, or
//! with `tty: true` a pseudo-terminal whose slave side is the process's stdin, stdout, stderr,
//! controlling terminal and /dev/console; and with `stdin_open: true` a standard input that stays
//! open (a pipe whose write end the monitor holds) instead of /dev/null.
//!
//! Only the container's ends reach it: the monitor's ends (the pty master, the pipes' other
//! sides) are close-on-exec, and `compose __init` closes whatever else it inherited.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use rustix::pipe::PipeFlags;

use super::error::{InitError, Step};
use super::process::Stdio;
use super::pty::Pty;

/// The container's standard streams before it starts.
pub struct Streams<'a> {
    /// /dev/null, standard input when nothing keeps it open.
    null: BorrowedFd<'a>,
    /// What the container gets: (stdin or `None` for /dev/null, stdout, stderr).
    stdin: Option<OwnedFd>,
    stdout: OwnedFd,
    stderr: OwnedFd,
    /// The terminal's slave on the host (`/dev/pts/N`), bound at the container's /dev/console.
    console: Option<PathBuf>,
    /// What the monitor keeps.
    held: Held,
}

/// The monitor's side of a running container's streams.
pub struct Held {
    /// Everything the container writes to its stdout (the pty master with a terminal, where
    /// stdout and stderr are one stream, logged as `stdout` as Docker does).
    pub out: OwnedFd,
    /// Its stderr, unless it has a terminal.
    pub err: Option<OwnedFd>,
    /// Kept and never written, so the container's standard input stays open: the write end of
    /// its stdin pipe (`stdin_open` without a terminal).
    pub stdin: Option<OwnedFd>,
    /// A slave descriptor of the terminal, held while the container runs so that the master
    /// never reports a hang-up (and is never left unread) when the container's processes close
    /// theirs and another opens /dev/console later. Dropped with [`Held::container_exited`] so
    /// the master then reads what is left and ends.
    slave: Option<OwnedFd>,
}

impl<'a> Streams<'a> {
    /// Opens the streams for a container with `terminal` and `stdin_open`.
    pub fn open(terminal: bool, stdin_open: bool, null: BorrowedFd<'a>) -> Result<Self, InitError> {
        let pipe = || {
            rustix::pipe::pipe_with(PipeFlags::CLOEXEC)
                .map_err(|e| InitError::sys(Step::Spawn, None, e))
        };
        if terminal {
            let pty = Pty::open()?;
            let dup = || {
                pty.slave
                    .try_clone()
                    .map_err(|e| InitError::io(Step::Spawn, Some(&pty.slave_path), &e))
            };
            // With a terminal, standard input is the terminal whether or not `stdin_open`
            // asks: nobody types, so a read waits (as under Docker) and never sees an end.
            let (stdin, stdout, stderr) = (dup()?, dup()?, dup()?);
            return Ok(Streams {
                null,
                stdin: Some(stdin),
                stdout,
                stderr,
                console: Some(pty.slave_path),
                held: Held {
                    out: pty.master,
                    err: None,
                    stdin: None,
                    slave: Some(pty.slave),
                },
            });
        }
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let (stdin, keep) = if stdin_open {
            let (r, w) = pipe()?;
            (Some(r), Some(w))
        } else {
            (None, None)
        };
        Ok(Streams {
            null,
            stdin,
            stdout: out_w,
            stderr: err_w,
            console: None,
            held: Held {
                out: out_r,
                err: Some(err_r),
                stdin: keep,
                slave: None,
            },
        })
    }

    /// The host path to bind at the container's /dev/console (its terminal), if it has one.
    pub fn console(&self) -> Option<PathBuf> {
        self.console.clone()
    }

    /// The container's ends, for [`super::process::spawn`].
    pub fn stdio(&self) -> Stdio<'_> {
        Stdio {
            stdin: self.stdin.as_ref().map_or(self.null, |f| f.as_fd()),
            stdout: self.stdout.as_fd(),
            stderr: self.stderr.as_fd(),
        }
    }

    /// Once the container started: closes the monitor's copies of the container's ends (so the
    /// pipes report end-of-file when the container's last writer goes) and returns the
    /// monitor's side.
    pub fn started(self) -> Held {
        self.held
    }
}

impl Held {
    /// The container's PID 1 ended (and with it every process of its namespace): the terminal's
    /// slave is let go, so the master yields what is still buffered and then ends.
    pub fn container_exited(&mut self) {
        self.slave = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;

    fn null() -> std::fs::File {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .expect("/dev/null")
    }

    fn is_tty(fd: BorrowedFd<'_>) -> bool {
        rustix::termios::isatty(fd)
    }

    #[test]
    fn without_terminal_or_stdin_open_stdin_is_null_and_output_goes_through_pipes() {
        let null = null();
        let s = Streams::open(false, false, null.as_fd()).expect("streams");
        let io = s.stdio();
        assert_eq!(io.stdin.as_raw_fd(), null.as_raw_fd());
        assert!(!is_tty(io.stdout));
        assert!(s.console().is_none());
        let mut w = std::fs::File::from(s.stderr.try_clone().expect("dup"));
        let held = s.started();
        assert!(held.stdin.is_none());
        w.write_all(b"err\n").expect("write");
        drop(w);
        let mut got = String::new();
        std::fs::File::from(held.err.expect("stderr pipe"))
            .read_to_string(&mut got)
            .expect("read");
        assert_eq!(got, "err\n");
    }

    #[test]
    fn stdin_open_gives_a_pipe_that_stays_open_while_held() {
        let null = null();
        let s = Streams::open(false, true, null.as_fd()).expect("streams");
        let stdin = s
            .stdin
            .as_ref()
            .expect("a stdin pipe")
            .try_clone()
            .expect("dup");
        let held = s.started();
        assert!(held.stdin.is_some());
        // Open: nothing to read yet, and no end of file.
        rustix::fs::fcntl_setfl(&stdin, rustix::fs::OFlags::NONBLOCK).expect("nonblock");
        let mut buf = [0u8; 1];
        assert_eq!(
            rustix::io::read(&stdin, &mut buf),
            Err(rustix::io::Errno::AGAIN)
        );
        drop(held);
        assert_eq!(rustix::io::read(&stdin, &mut buf), Ok(0));
    }

    #[test]
    fn a_terminal_is_all_three_streams_and_its_output_reads_from_the_master() {
        if rustix::fs::access("/dev/ptmx", rustix::fs::Access::READ_OK).is_err() {
            eprintln!("skipped: no /dev/ptmx");
            return;
        }
        let null = null();
        let s = Streams::open(true, false, null.as_fd()).expect("streams");
        let io = s.stdio();
        assert!(is_tty(io.stdin) && is_tty(io.stdout) && is_tty(io.stderr));
        assert!(s.console().is_some_and(|p| p.starts_with("/dev/pts")));
        let mut w = std::fs::File::from(s.stdout.try_clone().expect("dup"));
        let mut held = s.started();
        assert!(held.err.is_none());
        w.write_all(b"hi\n").expect("write");
        drop(w);
        held.container_exited();
        // The terminal turns the line end into \r\n, as Docker's logs of a tty show; after the
        // last slave closed, the master gives what was buffered, then EIO.
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match rustix::io::read(&held.out, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(got, b"hi\r\n");
    }
}
