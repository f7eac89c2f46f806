//! Detached containers (`run -d`): a monitor process that outlives the CLI.
//!
//! The CLI forks (it is single-threaded, so the child may run ordinary code), the child starts a
//! session of its own and becomes the container's parent: it owns the container's stdout and
//! stderr, writes them to `<container dir>/container.log` in Docker's json-file shape (one
//! `{"log":…,"stream":…,"time":…}` object a line, which existing tools read), records the exit in
//! `state.json`, and cleans up (cgroup; the state directory too with `--rm`). The CLI returns
//! once the container's command has been executed. The lifecycle issue replaces this fork with a
//! small dedicated monitor (restart policies, healthchecks, resident memory under 1 MiB).

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{InitError, Step};
use super::init::InitConfig;
use super::process::{self, Exit, Stdio};
use crate::engine::fsutil;

/// What `state.json` records about a detached container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerState {
    /// `running` or `exited`.
    pub status: String,
    pub pid: Option<i32>,
    pub exit_code: Option<i32>,
    pub oom_killed: bool,
    pub started_at: String,
    pub finished_at: Option<String>,
}

pub fn state_path(container_dir: &Path) -> PathBuf {
    container_dir.join("state.json")
}

pub fn log_path(container_dir: &Path) -> PathBuf {
    container_dir.join("container.log")
}

/// RFC 3339 with nanoseconds, as Docker's json-file logs write their `time`.
pub(crate) fn now_rfc3339_nanos() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let base = fsutil::format_rfc3339(now.as_secs() as i64);
    format!("{}.{:09}Z", base.trim_end_matches('Z'), now.subsec_nanos())
}

fn write_state(container_dir: &Path, state: &ContainerState) {
    if let Ok(bytes) = serde_json::to_vec(state) {
        let _ = fsutil::write_atomic(&state_path(container_dir), &bytes);
    }
}

/// Run by the monitor once the container has exited (cgroup and state removal); returns whether
/// the container was OOM-killed, which must be read before its cgroup goes.
pub type OnExit = Box<dyn FnOnce(Exit, &Path) -> bool>;

/// Starts the container under a monitor process and returns once its command runs. `place`
/// runs in the monitor (cgroup placement); `on_exit` too, after the exit is recorded; it
/// returns whether the container was OOM-killed.
pub fn start_detached(
    cfg: &InitConfig,
    place: &mut dyn FnMut(rustix::process::Pid) -> Result<(), InitError>,
    on_exit: OnExit,
) -> Result<(), InitError> {
    let (ready_r, ready_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| InitError::sys(Step::Spawn, None, e))?;
    // SAFETY: the CLI is single-threaded when it detaches a container, so the child may run any
    // code; it never returns to the caller (it exits).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(InitError::io(
            Step::Spawn,
            None,
            &std::io::Error::last_os_error(),
        ));
    }
    if pid == 0 {
        drop(ready_r);
        let code = match monitor(cfg, place, on_exit, ready_w) {
            Ok(()) => 0,
            Err(_) => 1,
        };
        // SAFETY: leaving the forked monitor without running the CLI's exit handlers twice.
        unsafe { libc::_exit(code) };
    }
    drop(ready_w);
    let mut msg = Vec::new();
    use std::io::Read;
    let _ = std::fs::File::from(ready_r).read_to_end(&mut msg);
    // The monitor stays; it is not ours to wait for (it is reparented when we exit).
    match msg.first() {
        Some(b'+') => Ok(()),
        _ => Err(
            serde_json::from_slice::<InitError>(&msg[1.min(msg.len())..]).unwrap_or_else(|_| {
                InitError::msg(
                    Step::Spawn,
                    None,
                    "the container monitor failed to start it",
                )
            }),
        ),
    }
}

fn monitor(
    cfg: &InitConfig,
    place: &mut dyn FnMut(rustix::process::Pid) -> Result<(), InitError>,
    on_exit: OnExit,
    ready: OwnedFd,
) -> Result<(), InitError> {
    let _ = rustix::process::setsid();
    let dir = cfg.container_dir.clone();
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| InitError::io(Step::Spawn, Some(Path::new("/dev/null")), &e))?;
    let (out_r, out_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| InitError::sys(Step::Spawn, None, e))?;
    let (err_r, err_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| InitError::sys(Step::Spawn, None, e))?;
    let stdio = Stdio {
        stdin: null.as_fd(),
        stdout: out_w.as_fd(),
        stderr: err_w.as_fd(),
    };
    let mut ready = std::fs::File::from(ready);
    let child = match process::spawn(cfg, &stdio, place) {
        Ok(c) => c,
        Err(e) => {
            let mut msg = vec![b'-'];
            msg.extend(serde_json::to_vec(&e).unwrap_or_default());
            let _ = ready.write_all(&msg);
            return Err(e);
        }
    };
    drop(out_w);
    drop(err_w);
    let mut state = ContainerState {
        status: "running".into(),
        pid: Some(child.pid.as_raw_nonzero().get()),
        exit_code: None,
        oom_killed: false,
        started_at: now_rfc3339_nanos(),
        finished_at: None,
    };
    write_state(&dir, &state);
    let _ = ready.write_all(b"+");
    drop(ready);
    // From here on nothing may write to the CLI's terminal.
    for fd in [0, 1, 2] {
        // SAFETY: replacing our own standard descriptors with /dev/null.
        unsafe { libc::dup2(null.as_raw_fd(), fd) };
    }

    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(&dir))
        .map_err(|e| InitError::io(Step::State, Some(&log_path(&dir)), &e))?;
    let mut open = [true, true];
    let fds = [out_r.as_raw_fd(), err_r.as_raw_fd()];
    let mut pending: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    while open[0] || open[1] {
        let mut pfds: Vec<libc::pollfd> = (0..2)
            .map(|i| libc::pollfd {
                fd: if open[i] { fds[i] } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: polling our two pipe read ends.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), 2, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break;
        }
        for i in 0..2 {
            if pfds[i].revents == 0 {
                continue;
            }
            let mut buf = [0u8; 16384];
            // SAFETY: reading into a local buffer.
            let r = unsafe { libc::read(fds[i], buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
            if r <= 0 {
                open[i] = false;
                if !pending[i].is_empty() {
                    let rest = std::mem::take(&mut pending[i]);
                    write_log_line(&mut log, &rest, i);
                }
                continue;
            }
            pending[i].extend_from_slice(&buf[..r as usize]);
            while let Some(pos) = pending[i].iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending[i].drain(..=pos).collect();
                write_log_line(&mut log, &line, i);
            }
        }
    }
    let exit = process::wait(&child).unwrap_or(Exit::Code(255));
    state.status = "exited".into();
    state.exit_code = Some(exit.code());
    state.finished_at = Some(now_rfc3339_nanos());
    state.pid = None;
    state.oom_killed = on_exit(exit, &dir);
    if dir.exists() {
        write_state(&dir, &state);
    }
    Ok(())
}

pub(crate) fn write_log_line(log: &mut std::fs::File, line: &[u8], stream: usize) {
    let entry = serde_json::json!({
        "log": String::from_utf8_lossy(line),
        "stream": if stream == 0 { "stdout" } else { "stderr" },
        "time": now_rfc3339_nanos(),
    });
    let _ = writeln!(log, "{entry}");
}
