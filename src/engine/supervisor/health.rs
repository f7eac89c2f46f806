//! The healthcheck: a probe run inside the container's namespaces (as `compose exec` runs),
//! judged with Docker's rules (`starting`, then `healthy` after one success, `unhealthy` after
//! `retries` failures in a row outside the start period).

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::process::Signal;

use super::monitor::Monitor;
use crate::engine::container::pidfd;
use crate::engine::runtime::exec::{self, ExecChild, ExecConfig};
use crate::engine::runtime::process::{Exit, Stdio};
use crate::engine::state::{Health, HealthSpec};

/// Most of a probe's output kept (Docker's `maxOutputLen`).
const HEALTH_LOG_MAX: usize = 4096;

impl Monitor {
    /// Time to the next probe: `start_interval` while the container is in its start period and
    /// not yet judged healthy or unhealthy, `interval` after that.
    pub(super) fn probe_interval(&self, h: &HealthSpec, started: Instant) -> Duration {
        let in_start = self.state.health == Some(Health::Starting)
            && started.elapsed() < Duration::from_millis(h.start_period_ms);
        Duration::from_millis(if in_start {
            h.start_interval_ms
        } else {
            h.interval_ms
        })
    }

    /// Starts one probe in the container (as `compose exec` does), its stdout and stderr going
    /// to one pipe.
    pub(super) fn start_probe(
        &self,
        h: &HealthSpec,
        null: &std::fs::File,
    ) -> Result<Probe, String> {
        let (Some(pid), Some(pid_start)) = (self.state.pid, self.state.pid_start) else {
            return Err("the container is not running".into());
        };
        let (out_r, out_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| format!("creating the probe's pipe: {e}"))?;
        let _ = rustix::fs::fcntl_setfl(&out_r, rustix::fs::OFlags::NONBLOCK);
        let cfg = ExecConfig {
            pid,
            pid_start,
            spec: self.c.record().spec.clone(),
            args: h.test.clone(),
            env: Vec::new(),
            user: None,
            workdir: None,
            privileged: false,
            tty: false,
            detach: false,
        };
        let stdio = Stdio {
            stdin: null.as_fd(),
            stdout: out_w.as_fd(),
            stderr: out_w.as_fd(),
        };
        let child = exec::start(&cfg, &stdio).map_err(|e| e.to_string())?;
        drop(out_w);
        Ok(Probe {
            child,
            out: Some(out_r),
            output: Vec::new(),
            deadline: Instant::now() + Duration::from_millis(h.timeout_ms),
        })
    }

    /// Applies one probe's result with Docker's rules and records the state if it changed.
    pub(super) fn judge(&mut self, h: &HealthSpec, started: Instant, ok: bool, output: String) {
        let before = (self.state.health, self.state.failing_streak);
        let next = health_after(
            self.state.health.unwrap_or(Health::Starting),
            self.state.failing_streak,
            ok,
            started.elapsed() < Duration::from_millis(h.start_period_ms),
            h.retries,
        );
        self.state.health = Some(next.0);
        self.state.failing_streak = next.1;
        if before.0 != Some(next.0) {
            crate::engine::events::emit(
                self.c.root(),
                self.c.record(),
                &format!("health_status: {}", next.0.as_str()),
                &[],
            );
        }
        let log = truncate_output(output);
        if before != (Some(next.0), next.1) || self.state.health_log.as_deref() != Some(&log) {
            self.state.health_log = Some(log);
            self.save();
        }
    }
}

/// Health and failing streak after one probe, as Docker judges it: a success makes the
/// container healthy and resets the streak; a failure counts unless the container is still
/// `starting` within its start period, and `retries` counted failures in a row make it
/// unhealthy.
fn health_after(
    health: Health,
    streak: u32,
    ok: bool,
    in_start_period: bool,
    retries: u32,
) -> (Health, u32) {
    if ok {
        return (Health::Healthy, 0);
    }
    if health == Health::Starting && in_start_period {
        return (health, streak);
    }
    let streak = streak.saturating_add(1);
    if streak >= retries.max(1) {
        (Health::Unhealthy, streak)
    } else {
        (health, streak)
    }
}

/// A probe's output as kept in `state.json`: at most [`HEALTH_LOG_MAX`] bytes, cut at a
/// character boundary.
fn truncate_output(mut s: String) -> String {
    if s.len() > HEALTH_LOG_MAX {
        let mut end = HEALTH_LOG_MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// One healthcheck run: the `compose __exec` helper and the pipe of its output.
pub(super) struct Probe {
    pub(super) child: ExecChild,
    pub(super) out: Option<OwnedFd>,
    output: Vec<u8>,
    pub(super) deadline: Instant,
}

impl Probe {
    /// Reads what the probe wrote so far (the pipe is non-blocking); what exceeds
    /// [`HEALTH_LOG_MAX`] is read and dropped so the probe never blocks on a full pipe.
    pub(super) fn read_output(&mut self) {
        let Some(fd) = self.out.as_ref() else {
            return;
        };
        let mut buf = [0u8; 1024];
        loop {
            match rustix::io::read(fd, &mut buf) {
                Ok(0) => {
                    self.out = None;
                    return;
                }
                Ok(n) => {
                    let room = HEALTH_LOG_MAX.saturating_sub(self.output.len());
                    self.output.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => return,
            }
        }
    }

    /// The probe exited: its verdict (exit status 0) and output.
    pub(super) fn finish(mut self) -> (bool, String) {
        self.read_output();
        let ok = matches!(self.child.wait(), Ok(Exit::Code(0)));
        (ok, String::from_utf8_lossy(&self.output).into_owned())
    }

    /// Kills the probe's command (the helper cannot pass SIGKILL on, so it is signalled
    /// directly), and lets the helper reap it.
    pub(super) fn kill(&mut self) {
        // The helper lives (we have not reaped it), so its children's PIDs are theirs.
        for pid in children_of(self.child.child.id() as i32) {
            // SAFETY: signalling a process by PID; see above for why it is the probe's.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        // The helper reaps the command and exits (no zombie left to the container's PID 1);
        // one that does not is killed too.
        if !pidfd::wait(self.child.pidfd.as_fd(), Some(Duration::from_millis(500))) {
            let _ = self.child.signal(Signal::KILL);
        }
        let _ = self.child.wait();
    }
}

/// The children of `pid`: from `/proc/<pid>/task/<pid>/children` where the kernel has it
/// (CONFIG_PROC_CHILDREN), else by the parent field of every process's `stat`.
fn children_of(pid: i32) -> Vec<i32> {
    if let Ok(list) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
        return list
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|stat| {
                    let rest = &stat[stat.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1)?.parse::<i32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_follows_dockers_rules() {
        use Health::*;
        // Failures in the start period do not count while starting.
        assert_eq!(health_after(Starting, 0, false, true, 2), (Starting, 0));
        assert_eq!(health_after(Starting, 0, false, false, 2), (Starting, 1));
        assert_eq!(health_after(Starting, 1, false, false, 2), (Unhealthy, 2));
        assert_eq!(health_after(Starting, 1, true, true, 2), (Healthy, 0));
        // Once healthy, the start period no longer shields failures.
        assert_eq!(health_after(Healthy, 0, false, true, 2), (Healthy, 1));
        assert_eq!(health_after(Healthy, 1, false, true, 2), (Unhealthy, 2));
        assert_eq!(health_after(Unhealthy, 5, true, false, 2), (Healthy, 0));
        assert_eq!(health_after(Healthy, 0, false, false, 1), (Unhealthy, 1));
        let long = "é".repeat(HEALTH_LOG_MAX);
        let cut = truncate_output(long);
        assert!(cut.len() <= HEALTH_LOG_MAX && cut.len() >= HEALTH_LOG_MAX - 1);
    }
}
