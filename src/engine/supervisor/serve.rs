//! The monitor's loop while the container runs: one `poll` over its output, its pidfd, the
//! healthcheck probe, the DNS resolver's sockets and the port proxy, without threads.

use std::os::fd::AsRawFd;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use rustix::process::Signal;

use super::health::Probe;
use super::logfile::{LogWriter, MAX_LINE};
use super::memory::{shed_memory, SHED_EVERY};
use super::monitor::{Monitor, Running};
use crate::engine::network::link::Netlink;
use crate::engine::runtime::process::{self, Exit};
use crate::engine::state;

impl Monitor {
    /// Copies the container's output to its log, answers DNS queries and runs the healthcheck
    /// until it exits; returns how it ended and whether it was OOM-killed, after cleaning up.
    pub(super) fn serve(&mut self, mut r: Running, null: &std::fs::File) -> (Exit, bool) {
        let mut log = if self.c.record().log_disabled {
            // `logging.driver: none`: the output is read (so the container never blocks on a
            // full pipe) and dropped.
            LogWriter::discard()
        } else {
            // The log's troubles (a full disk) are told to `compose events`, never fatal.
            let root = self.c.root().to_path_buf();
            let subject = crate::engine::events::Subject::from(self.c.record());
            LogWriter::open(
                state::log_path(self.c.dir()),
                self.c.record().log_max_size,
                self.c.record().log_max_file.unwrap_or(1),
                Box::new(move |message: &str| {
                    crate::engine::events::emit_about(
                        &root,
                        &subject,
                        "warning",
                        &[("message", message.to_string())],
                    );
                }),
            )
        };
        let fds = [
            r.streams.out.as_raw_fd(),
            r.streams.err.as_ref().map_or(-1, |e| e.as_raw_fd()),
        ];
        let mut open = [true, r.streams.err.is_some()];
        let mut pending: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let pidfd = r.child.pidfd.as_raw_fd();
        let mut last_shed: Option<Instant> = None;
        let mut exited = false;
        let mut drain_until: Option<Instant> = None;
        let started = Instant::now();
        let hc = self.c.record().healthcheck.clone();
        let mut probe: Option<Probe> = None;
        let mut next_probe = hc
            .as_ref()
            .map(|h| started + self.probe_interval(h, started));
        let mut buf = [0u8; 8192];
        loop {
            if exited && (!(open[0] || open[1]) || drain_until.is_some_and(|d| Instant::now() > d))
            {
                break;
            }
            let mut pfds: Vec<libc::pollfd> = Vec::with_capacity(8);
            let fd_or_none = |fd: Option<RawFd>| libc::pollfd {
                fd: fd.unwrap_or(-1),
                events: libc::POLLIN,
                revents: 0,
            };
            for i in 0..2 {
                pfds.push(fd_or_none(open[i].then_some(fds[i])));
            }
            pfds.push(fd_or_none((!exited).then_some(pidfd)));
            pfds.push(fd_or_none(
                probe
                    .as_ref()
                    .and_then(|p| p.out.as_ref().map(|o| o.as_raw_fd())),
            ));
            pfds.push(fd_or_none(
                probe.as_ref().map(|p| p.child.pidfd.as_raw_fd()),
            ));
            let dns_fds = r
                .resolver
                .as_ref()
                .map(|res| res.poll_fds())
                .unwrap_or_default();
            for fd in &dns_fds {
                pfds.push(fd_or_none(Some(*fd)));
            }
            let proxy_at = pfds.len();
            if let Some(p) = r.proxy.as_ref() {
                p.poll_fds(&mut pfds);
            }
            let mut timeout = r.resolver.as_ref().and_then(|res| res.next_timeout());
            let now = Instant::now();
            let deadlines = [
                drain_until,
                probe.as_ref().map(|p| p.deadline),
                next_probe.filter(|_| probe.is_none() && !exited),
                r.proxy.as_ref().and_then(|p| p.next_deadline()),
            ];
            for d in deadlines.into_iter().flatten() {
                let left = d.saturating_duration_since(now);
                timeout = Some(timeout.map_or(left, |t| t.min(left)));
            }
            let ms = timeout.map_or(-1, |t| t.as_millis().min(60_000) as i32 + 1);
            // About to wait with nothing to do: give back the pages the work since the last
            // time touched (at most every SHED_EVERY, so a busy container costs nothing extra).
            // An idle monitor then holds little more than its own heap and stack; what a
            // wake-up needs faults back in from the page cache.
            if !(0..=100).contains(&ms) && last_shed.is_none_or(|t| t.elapsed() >= SHED_EVERY) {
                last_shed = Some(Instant::now());
                shed_memory();
            }
            // SAFETY: polling descriptors we own (negative ones are ignored).
            let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
            if n < 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                break;
            }
            if let Some(res) = r.resolver.as_mut() {
                res.expire();
            }
            for i in 0..2 {
                if pfds[i].revents == 0 {
                    continue;
                }
                // SAFETY: reading into a local buffer.
                let got =
                    unsafe { libc::read(fds[i], buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
                if got <= 0 {
                    open[i] = false;
                    if !pending[i].is_empty() {
                        log.write(&pending[i], i);
                        pending[i] = Vec::new();
                    }
                    continue;
                }
                let mut chunk = &buf[..got as usize];
                // Whole lines straight from the read buffer; only a trailing partial line is
                // kept, and never more than MAX_LINE of it.
                while let Some(pos) = chunk.iter().position(|b| *b == b'\n') {
                    if pending[i].is_empty() {
                        log.write(&chunk[..=pos], i);
                    } else {
                        pending[i].extend_from_slice(&chunk[..=pos]);
                        log.write(&pending[i], i);
                        pending[i] = Vec::new();
                    }
                    chunk = &chunk[pos + 1..];
                }
                pending[i].extend_from_slice(chunk);
                if pending[i].len() >= MAX_LINE {
                    log.write(&pending[i], i);
                    pending[i] = Vec::new();
                }
            }
            if !exited && pfds[2].revents != 0 {
                exited = true;
                // Nothing listens for a container that is gone.
                r.proxy = None;
                r.streams.container_exited();
                // Whatever is still writing (nothing, normally: PID 1's end took the namespace
                // with it) gets a moment, not forever.
                drain_until = Some(Instant::now() + Duration::from_secs(1));
                // The probe's verdict no longer matters: the container is gone.
                if let Some(mut p) = probe.take() {
                    p.kill();
                }
                next_probe = None;
            }
            if let Some(p) = probe.as_mut() {
                if pfds[3].revents != 0 {
                    p.read_output();
                }
                let done = pfds[4].revents != 0;
                let late = Instant::now() >= p.deadline;
                if done || late {
                    let mut p = probe.take().expect("a running probe");
                    let (ok, output) = if done {
                        p.finish()
                    } else {
                        p.kill();
                        let t = hc.as_ref().map_or(0, |h| h.timeout_ms);
                        (false, format!("Health check exceeded timeout ({}ms)", t))
                    };
                    if let Some(h) = hc.as_ref() {
                        self.judge(h, started, ok, output);
                        next_probe = Some(Instant::now() + self.probe_interval(h, started));
                    }
                }
            }
            if let (Some(h), None, false) = (hc.as_ref(), probe.as_ref(), exited) {
                if next_probe.is_some_and(|t| Instant::now() >= t) {
                    match self.start_probe(h, null) {
                        Ok(p) => probe = Some(p),
                        Err(msg) => {
                            self.judge(h, started, false, msg);
                            next_probe = Some(Instant::now() + self.probe_interval(h, started));
                        }
                    }
                }
            }
            for (k, fd) in dns_fds.iter().enumerate() {
                if pfds[5 + k].revents != 0 {
                    if let Some(res) = r.resolver.as_mut() {
                        res.handle_ready(*fd);
                    }
                }
            }
            if let Some(p) = r.proxy.as_mut() {
                p.handle(&pfds[proxy_at..], &mut buf);
            }
        }
        if let Some(mut p) = probe.take() {
            p.kill();
        }
        for (i, p) in pending.iter().enumerate() {
            if !p.is_empty() {
                log.write(p, i);
            }
        }
        drop(log);
        let exit = process::wait(&r.child).unwrap_or(Exit::Code(255));
        // The resolver's sockets hold the container's network namespace: close them first so the
        // veths can go.
        r.resolver = None;
        let mut nl = Netlink::new().ok();
        self.c.release_network(nl.as_mut());
        let oom = r.cgroup.oom_killed().unwrap_or(false);
        if let Err(e) = r
            .cgroup
            .kill_all(Signal::KILL)
            .and_then(|()| r.cgroup.remove())
        {
            self.c.warn(&format!("removing its cgroup: {e}"));
        }
        (exit, oom)
    }
}
