//! Lifecycle hooks (`post_start`, `pre_stop`): commands run in a running container the way
//! `compose exec` runs them (the `compose __exec` helper from the protected binary, see
//! [`crate::engine::runtime::exec`]), with the hook's own user, privileges, working directory
//! and environment.
//!
//! They are recorded with the container (resolved by [`crate::planner::hooks`] when it is
//! created) so that `stop` and `down` run the hooks of the configuration the container was made
//! from, even without the project file; a changed hook changes the configuration hash, so the
//! record never disagrees with the file `up` reads.
//!
//! The hook's output is read until the helper exits, never until end-of-file: a background
//! process the hook started may keep the pipe open for ever.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use crate::engine::root::StateRoot;
use crate::engine::runtime::exec::{self, ExecConfig};
use crate::engine::runtime::process::Stdio;
use crate::engine::spec::HookSpec;
use crate::engine::state::{self, ContainerRecord};

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("container {name} is not running")]
    NotRunning { name: String },
    #[error("container {name}: creating the hook's output pipe: {source}")]
    Pipe {
        name: String,
        source: rustix::io::Errno,
    },
    #[error("container {name}: {source}")]
    Exec {
        name: String,
        source: crate::engine::runtime::error::InitError,
    },
}

/// Runs `hook` in the running container `rec` (under state root `root`), handing each line it
/// writes (standard output and error together, as Docker Compose shows them) to `line`, and
/// returns its exit status (Docker's 126/127 when the command could not be started).
pub fn run(
    root: &std::path::Path,
    rec: &ContainerRecord,
    hook: &HookSpec,
    line: &mut dyn FnMut(&str),
) -> Result<i32, HookError> {
    let st = state::read_state(&StateRoot::new(root).container(&rec.id)).observed();
    let (Some(pid), Some(pid_start)) = (st.live_pid(), st.pid_start) else {
        return Err(HookError::NotRunning {
            name: rec.name.clone(),
        });
    };
    let pipe_err = |source| HookError::Pipe {
        name: rec.name.clone(),
        source,
    };
    let (out_r, out_w) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(pipe_err)?;
    rustix::fs::fcntl_setfl(&out_r, rustix::fs::OFlags::NONBLOCK).map_err(pipe_err)?;
    let null = rustix::fs::open(
        "/dev/null",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(pipe_err)?;
    let cfg = ExecConfig {
        pid,
        pid_start,
        spec: rec.spec.clone(),
        args: hook.args.clone(),
        env: hook.env.clone(),
        user: hook.user.clone(),
        workdir: hook.workdir.clone(),
        privileged: hook.privileged,
        tty: false,
        detach: false,
    };
    let stdio = Stdio {
        stdin: null.as_fd(),
        stdout: out_w.as_fd(),
        stderr: out_w.as_fd(),
    };
    let exec_err = |source| HookError::Exec {
        name: rec.name.clone(),
        source,
    };
    let mut child = match exec::start(&cfg, &stdio) {
        Ok(c) => c,
        Err(e) => {
            // Docker's status for a command that cannot run, reported as the hook's exit.
            let code = exec::exit_code(&e);
            line(&e.to_string());
            return Ok(code);
        }
    };
    drop(out_w);
    pump(&out_r, &child.pidfd, line);
    child.wait().map(|e| e.code()).map_err(exec_err)
}

/// Hands `out`'s lines to `line` until the process behind `pidfd` has exited, then what is
/// left in the pipe.
fn pump(out: &OwnedFd, pidfd: &OwnedFd, line: &mut dyn FnMut(&str)) {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    let mut flush = |pending: &mut Vec<u8>, all: bool| {
        while let Some(i) = pending.iter().position(|b| *b == b'\n') {
            let l: Vec<u8> = pending.drain(..=i).collect();
            line(String::from_utf8_lossy(&l[..i]).trim_end_matches('\r'));
        }
        if all && !pending.is_empty() {
            line(&String::from_utf8_lossy(pending));
            pending.clear();
        }
    };
    let mut open = true;
    loop {
        let mut fds = [
            libc::pollfd {
                // A negative descriptor is skipped: a closed pipe would report POLLHUP forever.
                fd: if open { out.as_raw_fd() } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: polling two valid descriptors.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break;
        }
        let exited = fds[1].revents != 0;
        // Read what is there; after the exit, drain it without waiting for end-of-file (and
        // bounded: a process the hook left behind may go on writing).
        let mut reads = 0;
        while open && reads < 256 {
            reads += 1;
            match rustix::io::read(out, &mut buf) {
                Ok(0) => open = false,
                Ok(k) => {
                    pending.extend_from_slice(&buf[..k]);
                    flush(&mut pending, false);
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => break,
            }
        }
        if exited {
            break;
        }
    }
    flush(&mut pending, true);
}
