//! Daemonless supervision: one small monitor process per container (Podman's conmon is the
//! model), and the operations other commands perform on it (start, stop).
//!
//! The monitor is this binary executed as `compose __monitor <root> <id>`: a fresh,
//! single-threaded process (no tokio, no clap) that detaches (fork + setsid, so the CLI that
//! started it can exit and its terminal can close) and then, for the container's whole life:
//! - starts it from its record (`container.json`): cgroup, the runtime's handshake, and while the
//!   set-up process waits, the veth of every network it is attached to;
//! - serves the container's embedded DNS resolver (see [`crate::engine::network::dns`]) from a
//!   socket inside the container's network namespace, and publishes the container's names while
//!   it runs, so other containers find it from their next query on;
//! - owns its stdout/stderr (with `tty`, the master of its terminal; with `stdin_open`, the
//!   write end of its stdin: see [`crate::engine::runtime::stdio`]) and writes the output to
//!   `container.log` (Docker's json-file lines), rotating it as `logging.options` (`max-size`,
//!   `max-file`) ask;
//! - runs the healthcheck (see [`HealthSpec`]) inside the container's namespaces on a timer and
//!   records the verdict with Docker's rules (`starting`, then `healthy` after one success,
//!   `unhealthy` after `retries` failures in a row outside the start period);
//! - records the state (`state.json`: pid with its start time, boot id, exit code, restarts);
//! - applies the restart policy with a doubling back-off, unless a command is stopping it on
//!   purpose (the `stopping` marker);
//! - cleans up after every exit: names withdrawn, veths and cgroup removed.
//!
//! A separate process per container rather than one daemon keeps containers independent of each
//! other and of any command; everything a later command needs is on disk (see
//! [`crate::engine::state`]), so a killed monitor or a reboot is detected, not fatal.
//!
//! Because there is one monitor per container, its resident memory is the engine's per-container
//! overhead: it is one `poll` loop without threads (the probe is a child process whose pidfd and
//! output pipe join the loop), keeps no buffer bigger than a read, and hands its start-up heap
//! back to the kernel once the container runs (see BENCHMARKS.md, "Monitor memory").

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::engine::cgroups::{self, ContainerCgroup, Layout};
use crate::engine::container::start::{Parent, StartOptions};
use crate::engine::container::{pidfd, Container, ContainerError};
use crate::engine::network::dns::Resolver;
use crate::engine::network::endpoints;
use crate::engine::network::link::Netlink;
use crate::engine::network::manager::Networks;
use crate::engine::network::proxy::{self, PortProxy};
use crate::engine::runtime::error::{InitError, Step};
use crate::engine::runtime::exec::{self, ExecChild, ExecConfig};
use crate::engine::runtime::process::{self, Exit, Stdio};
use crate::engine::runtime::stdio::{Held, Streams};
use crate::engine::state::{self, Health, HealthSpec, RunState, StateError, Status};
use crate::engine::timestamp::now_rfc3339_nanos;

/// `compose __monitor <root> <id>`.
pub const MONITOR_ARG: &str = "__monitor";

/// The descriptor on which the monitor reports its first start: `+`, or `-` and the
/// [`InitError`] as JSON.
const READY_FD: RawFd = 3;

/// How often an idle monitor gives back the code pages its work touched.
const SHED_EVERY: Duration = Duration::from_secs(10);

/// Longest pause between two restarts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Most of a probe's output kept (Docker's `maxOutputLen`).
const HEALTH_LOG_MAX: usize = 4096;

/// A line longer than this is logged in pieces (Docker splits at 16 KiB too), so a container
/// that never writes a newline cannot grow the monitor without bound.
const MAX_LINE: usize = 16 * 1024;

/// Why a supervision operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SuperviseError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("container {name}: {source}")]
    Start { name: String, source: InitError },
    #[error("container {name}: {action}: {source}")]
    Io {
        name: String,
        action: &'static str,
        source: std::io::Error,
    },
    #[error(transparent)]
    Container(#[from] ContainerError),
}

/// Starts the monitor of container `id` (which must have a record) and returns once the
/// container's command has been executed, or with the error that prevented it.
pub fn launch(root: &Path, id: &str) -> Result<(), SuperviseError> {
    let c = Container::open(root, id)?;
    let (rec, dir) = (c.record(), c.dir());
    let io = |action: &'static str| {
        let name = rec.name.clone();
        move |source| SuperviseError::Io {
            name,
            action,
            source,
        }
    };
    let raw = c.recorded_state();
    if raw.boot_id == state::boot_id() {
        let monitor = state::same_process(raw.monitor_pid, raw.monitor_start);
        if monitor && raw.status != Status::Exited {
            // Already supervised (a concurrent start won).
            return Ok(());
        }
        if !monitor && state::same_process(raw.pid, raw.pid_start) {
            // Its monitor was killed but the container lives on: end it before starting anew.
            c.clean_up_orphan()?;
        }
    }
    match std::fs::remove_file(state::stopping_path(dir)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("clearing the stop marker")(e)),
    }
    let (ready_r, ready_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| io("creating a pipe")(e.into()))?;
    let mut cmd = std::process::Command::new(process::compose_executable());
    cmd.arg(MONITOR_ARG)
        .arg(root)
        .arg(id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let w = ready_w.as_raw_fd();
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: dup2 is async-signal-safe; the descriptor is open in the parent.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(w, READY_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().map_err(io("starting its monitor"))?;
    drop(ready_w);
    // The first process only forks the real monitor and exits.
    let _ = child.wait();
    let mut msg = Vec::new();
    let _ = std::fs::File::from(ready_r).read_to_end(&mut msg);
    match msg.first() {
        Some(b'+') => Ok(()),
        Some(b'-') => Err(SuperviseError::Start {
            name: rec.name.clone(),
            source: serde_json::from_slice(&msg[1..]).unwrap_or_else(|_| {
                InitError::msg(Step::Spawn, None, "the monitor failed to start it")
            }),
        }),
        _ => Err(SuperviseError::Start {
            name: rec.name.clone(),
            source: InitError::msg(Step::Spawn, None, "its monitor exited without starting it"),
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// The monitor process
// ---------------------------------------------------------------------------------------------

/// Entry point of `compose __monitor <root> <id>`; never returns.
pub fn main() -> ! {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let (Some(root), Some(id)) = (args.get(2), args.get(3)) else {
        eprintln!("usage: compose __monitor ROOT ID");
        std::process::exit(2);
    };
    let root = PathBuf::from(root);
    let id = id.to_string_lossy().into_owned();
    // SAFETY: the launcher passed the readiness pipe at this fixed descriptor; we own it now.
    let ready = unsafe { OwnedFd::from_raw_fd(READY_FD) };
    let _ = rustix::io::fcntl_setfd(&ready, rustix::io::FdFlags::CLOEXEC);
    // A clean descriptor table: whatever the CLI had open (a shell's `exec 7</dir`) would
    // otherwise live as long as the container, and be handed to each of its starts.
    if let Err(e) = crate::engine::runtime::fds::close_from(READY_FD + 1) {
        let ie = InitError::io(Step::Spawn, None, &e);
        let _ = std::fs::File::from(ready).write_all(&error_message(&ie));
        std::process::exit(1);
    }
    // Detach: the launcher waits for this first process; the monitor is its child, reparented
    // when it exits, in a session of its own so no terminal's hang-up reaches it.
    // SAFETY: we are single-threaded (a fresh exec), so the child may run any code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        std::process::exit(1);
    }
    if pid > 0 {
        // SAFETY: leaving without running exit handlers twice.
        unsafe { libc::_exit(0) };
    }
    let _ = rustix::process::setsid();
    let code = match Monitor::new(&root, &id, ready) {
        Ok(mut m) => m.run(),
        Err(_) => 1,
    };
    std::process::exit(code);
}

struct Monitor {
    c: Container,
    ready: Option<std::fs::File>,
    state: RunState,
    layout: Option<Layout>,
}

/// One run of the container.
struct Running {
    child: process::Child,
    cgroup: Box<dyn ContainerCgroup>,
    streams: Held,
    resolver: Option<Resolver>,
    /// The published ports' IPv6 side, while the container runs.
    proxy: Option<PortProxy>,
}

impl Monitor {
    fn new(root: &Path, id: &str, ready: OwnedFd) -> Result<Monitor, StateError> {
        let mut ready = std::fs::File::from(ready);
        let c = match state::read_record(root, id) {
            Ok(Some(r)) => Container::of(root, &r),
            Ok(None) => {
                let e = InitError::msg(Step::State, None, format!("no record of container {id}"));
                let _ = ready.write_all(&error_message(&e));
                return Err(StateError::Io {
                    action: "reading",
                    path: state::container_dir(root, id),
                    source: std::io::ErrorKind::NotFound.into(),
                });
            }
            Err(e) => {
                let ie = InitError::msg(Step::State, None, e.to_string());
                let _ = ready.write_all(&error_message(&ie));
                return Err(e);
            }
        };
        let me = std::process::id() as i32;
        Ok(Monitor {
            c,
            state: RunState {
                status: Status::Created,
                monitor_pid: Some(me),
                monitor_start: state::pid_start_time(me),
                boot_id: state::boot_id(),
                ..RunState::default()
            },
            ready: Some(ready),
            layout: Layout::detect().ok(),
        })
    }

    /// Removes the container for good (`run --rm -d`): its published ports, addresses and
    /// state directory.
    fn forget(&self) {
        if let Err(e) = Networks::open(self.c.root())
            .map_err(ContainerError::from)
            .and_then(|nets| self.c.remove(&nets))
        {
            self.c.warn(&e.to_string());
        }
    }

    fn save(&self) {
        let _ = state::write_state(self.c.dir(), &self.state);
    }

    fn stopping(&self) -> bool {
        state::stopping_path(self.c.dir()).exists()
    }

    fn run(&mut self) -> i32 {
        let null = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
        {
            Ok(f) => f,
            Err(_) => return 1,
        };
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.start(&null) {
                Ok(running) => {
                    let since = Instant::now();
                    if let Some(mut r) = self.ready.take() {
                        let _ = r.write_all(b"+");
                    }
                    shed_memory();
                    let exit = self.serve(running, &null);
                    self.state.status = Status::Exited;
                    self.state.exit_code = Some(exit.0.code());
                    self.state.oom_killed = exit.1;
                    self.state.pid = None;
                    self.state.pid_start = None;
                    self.state.finished_at = Some(now_rfc3339_nanos());
                    crate::engine::events::emit(
                        self.c.root(),
                        self.c.record(),
                        "die",
                        &[("exitCode", exit.0.code().to_string())],
                    );
                    // A container that ran a while starts over with a short back-off.
                    if since.elapsed() > Duration::from_secs(10) {
                        backoff = Duration::from_millis(100);
                    }
                }
                Err(e) => {
                    if let Some(mut r) = self.ready.take() {
                        let _ = r.write_all(&error_message(&e));
                        self.state.status = Status::Exited;
                        self.state.exit_code = Some(e.exit_code());
                        self.state.error = Some(e.to_string());
                        self.state.finished_at = Some(now_rfc3339_nanos());
                        self.save();
                        return 1;
                    }
                    self.state.status = Status::Exited;
                    self.state.exit_code = Some(e.exit_code());
                    self.state.error = Some(e.to_string());
                    self.state.finished_at = Some(now_rfc3339_nanos());
                }
            }
            let code = self.state.exit_code.unwrap_or(0);
            if self.stopping()
                || !self
                    .c
                    .record()
                    .restart
                    .restarts(code, self.state.restart_count)
                || !self.c.dir().exists()
            {
                self.state.monitor_pid = None;
                self.state.monitor_start = None;
                self.save();
                if self.c.record().auto_remove {
                    self.forget();
                    // `run -d --rm`: its anonymous volumes go too, as with Docker's auto-remove.
                    // Detached, with its state gone, a failure is told to `compose events`.
                    if let Err(e) = super::anon_volumes::remove_of(self.c.root(), self.c.record()) {
                        crate::engine::events::emit(
                            self.c.root(),
                            self.c.record(),
                            "warning",
                            &[("message", e.to_string())],
                        );
                    }
                }
                return 0;
            }
            self.state.status = Status::Restarting;
            self.save();
            // Sleep the back-off in slices so a stop does not wait for it.
            let until = Instant::now() + backoff;
            while Instant::now() < until {
                if self.stopping() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
            }
            if self.stopping() {
                self.state.status = Status::Exited;
                self.state.monitor_pid = None;
                self.state.monitor_start = None;
                self.save();
                return 0;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            self.state.restart_count += 1;
        }
    }

    fn cgroup(&self) -> Result<Box<dyn ContainerCgroup>, InitError> {
        let cg_err = |e: cgroups::CgroupError| InitError::msg(Step::Cgroups, None, e.to_string());
        let layout = self
            .layout
            .as_ref()
            .ok_or_else(|| InitError::msg(Step::Cgroups, None, "no cgroup hierarchy found"))?;
        let (cg, _warnings) = self.c.create_cgroup(layout).map_err(cg_err)?;
        Ok(cg)
    }

    /// Starts the container once: cgroup, process, network attachments, resolver.
    fn start(&mut self, null: &std::fs::File) -> Result<Running, InitError> {
        // Listening first: a port taken on IPv6 stops the start before anything is made.
        let proxy = PortProxy::bind(&proxy::forwards(&self.c.record().ports))
            .map_err(|e| InitError::msg(Step::Network, None, e.to_string()))?;
        let cgroup = self.cgroup()?;
        let started = self.start_in(null, cgroup.as_ref());
        match started {
            Ok((child, streams, resolver)) => Ok(Running {
                child,
                cgroup,
                streams,
                resolver,
                proxy,
            }),
            Err(e) => {
                self.c.release_network(None);
                if let Err(ce) = cgroup.kill_all(Signal::KILL).and_then(|()| cgroup.remove()) {
                    self.c.warn(&format!("removing its cgroup: {ce}"));
                }
                Err(e)
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn start_in(
        &mut self,
        null: &std::fs::File,
        cgroup: &dyn ContainerCgroup,
    ) -> Result<(process::Child, Held, Option<Resolver>), InitError> {
        let process = &self.c.record().spec.process;
        let streams = Streams::open(process.terminal, process.stdin_open, null.as_fd())?;
        let options = StartOptions {
            parent: Parent::Monitor,
            terminal: process.terminal,
            console: streams.console(),
        };
        let mut start = self
            .c
            .prepare_start(cgroup, options)
            .map_err(|e| InitError::io(Step::Network, None, &e))?;
        let stdio = streams.stdio();
        let child = process::spawn(&start.config, &stdio, &mut |pid| start.placer.place(pid));
        let streams = streams.started();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                if let Some(nl) = start.placer.netlink() {
                    endpoints::disconnect(nl, &self.c.record().endpoints);
                }
                return Err(e);
            }
        };
        let resolver = start.placer.take_resolver();
        let pid = child.pid.as_raw_nonzero().get();
        self.state.status = Status::Running;
        self.state.pid = Some(pid);
        self.state.pid_start = state::pid_start_time(pid);
        self.state.started_at = Some(now_rfc3339_nanos());
        self.state.finished_at = None;
        self.state.exit_code = None;
        self.state.oom_killed = false;
        self.state.error = None;
        // Every start is judged afresh, as Docker does.
        self.state.health = self
            .c
            .record()
            .healthcheck
            .as_ref()
            .map(|_| Health::Starting);
        self.state.failing_streak = 0;
        self.state.health_log = None;
        self.save();
        let rec = self.c.record();
        endpoints::publish_names(&self.c.name_store(), &rec.id, &rec.endpoints);
        crate::engine::events::emit(self.c.root(), rec, "start", &[]);
        Ok((child, streams, resolver))
    }

    /// Copies the container's output to its log, answers DNS queries and runs the healthcheck
    /// until it exits; returns how it ended and whether it was OOM-killed, after cleaning up.
    fn serve(&mut self, mut r: Running, null: &std::fs::File) -> (Exit, bool) {
        let mut log = if self.c.record().log_disabled {
            // `logging.driver: none`: the output is read (so the container never blocks on a
            // full pipe) and dropped.
            LogWriter::discard()
        } else {
            LogWriter::open(
                state::log_path(self.c.dir()),
                self.c.record().log_max_size,
                self.c.record().log_max_file.unwrap_or(1),
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
        let _ = r.cgroup.kill_all(Signal::KILL);
        let _ = r.cgroup.remove();
        (exit, oom)
    }

    /// Time to the next probe: `start_interval` while the container is in its start period and
    /// not yet judged healthy or unhealthy, `interval` after that.
    fn probe_interval(&self, h: &HealthSpec, started: Instant) -> Duration {
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
    fn start_probe(&self, h: &HealthSpec, null: &std::fs::File) -> Result<Probe, String> {
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
    fn judge(&mut self, h: &HealthSpec, started: Instant, ok: bool, output: String) {
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

/// Gives back what the start needed and the running container does not: free heap (the
/// record's JSON text, the set-up's buffers) and the mapped pages of the binary and libraries
/// that only the start ran (argument handling, cgroup, netlink and handshake code). Pages a
/// mapping has written (relocations, data) are anonymous and stay; clean file pages come back
/// from the page cache when the loop touches them again, so only what the loop uses stays
/// resident. This is the difference between a ~5 MiB and a sub-MiB monitor (BENCHMARKS.md).
fn shed_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    // The mapping being read: (start, end, clean so far).
    let mut current: Option<(usize, usize, bool)> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        let range = first.split_once('-').and_then(|(a, b)| {
            Some((
                usize::from_str_radix(a, 16).ok()?,
                usize::from_str_radix(b, 16).ok()?,
            ))
        });
        if let Some((start, end)) = range {
            if let Some((s, e, true)) = current.take() {
                ranges.push((s, e));
            }
            let perms = fields.next().unwrap_or_default();
            let path = fields.nth(3).unwrap_or_default();
            let clean_file = perms.starts_with('r')
                && perms.as_bytes().get(1) == Some(&b'-')
                && perms.ends_with('p')
                && path.starts_with('/');
            current = Some((start, end, clean_file));
        } else if first == "Anonymous:" && fields.next() != Some("0") {
            if let Some(c) = current.as_mut() {
                c.2 = false;
            }
        }
    }
    if let Some((s, e, true)) = current {
        ranges.push((s, e));
    }
    // Everything that allocates or frees is done before the pages go: what runs after the
    // first madvise (the rest of the loop, then the caller's way to poll) touches as little
    // code as possible, each fault bringing back a 64 KiB window of it.
    let mut list = [(0usize, 0usize); 64];
    let n = ranges.len().min(list.len());
    list[..n].copy_from_slice(&ranges[..n]);
    drop(ranges);
    drop(smaps);
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    for &(start, end) in &list[..n] {
        // SAFETY: private, read-only file mappings without a private (anonymous) page: dropping
        // them only unmaps page-cache pages, which fault back in unchanged. rustix makes the
        // system call itself, so no libc code is faulted back in by it.
        unsafe {
            let _ = rustix::mm::madvise(
                start as *mut std::ffi::c_void,
                end - start,
                rustix::mm::Advice::LinuxDontNeed,
            );
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
struct Probe {
    child: ExecChild,
    out: Option<OwnedFd>,
    output: Vec<u8>,
    deadline: Instant,
}

impl Probe {
    /// Reads what the probe wrote so far (the pipe is non-blocking); what exceeds
    /// [`HEALTH_LOG_MAX`] is read and dropped so the probe never blocks on a full pipe.
    fn read_output(&mut self) {
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
    fn finish(mut self) -> (bool, String) {
        self.read_output();
        let ok = matches!(self.child.wait(), Ok(Exit::Code(0)));
        (ok, String::from_utf8_lossy(&self.output).into_owned())
    }

    /// Kills the probe's command (the helper cannot pass SIGKILL on, so it is signalled
    /// directly), and lets the helper reap it.
    fn kill(&mut self) {
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

/// `container.log` in Docker's json-file format, rotated at `max_size` keeping `max_file` files
/// (`container.log`, `container.log.1`, ...). Rotation happens between lines, before a line
/// that would take the file past `max_size`, so every file holds whole lines.
struct LogWriter {
    path: PathBuf,
    file: Option<std::fs::File>,
    size: u64,
    max_size: Option<u64>,
    max_file: u32,
    entry: Vec<u8>,
}

impl LogWriter {
    /// A writer that keeps nothing.
    fn discard() -> LogWriter {
        LogWriter {
            path: PathBuf::new(),
            file: None,
            size: 0,
            max_size: None,
            max_file: 1,
            entry: Vec::new(),
        }
    }

    fn open(path: PathBuf, max_size: Option<u64>, max_file: u32) -> LogWriter {
        let file = crate::engine::root::append_private(&path).ok();
        let size = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        LogWriter {
            path,
            file,
            size,
            max_size,
            max_file,
            entry: Vec::new(),
        }
    }

    fn write(&mut self, line: &[u8], stream: usize) {
        self.entry.clear();
        encode_entry(&mut self.entry, line, stream);
        if let Some(max) = self.max_size {
            if self.size > 0 && self.size + self.entry.len() as u64 > max {
                self.rotate();
            }
        }
        if let Some(f) = self.file.as_mut() {
            if f.write_all(&self.entry).is_ok() {
                self.size += self.entry.len() as u64;
            }
        }
        // A long line's buffer is not kept for the container's lifetime.
        if self.entry.capacity() > 2 * MAX_LINE {
            self.entry = Vec::new();
        }
    }

    fn rotate(&mut self) {
        if self.max_file <= 1 {
            if let Some(f) = self.file.as_ref() {
                let _ = f.set_len(0);
            }
            self.size = 0;
            return;
        }
        let numbered = |k: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{k}"));
            PathBuf::from(p)
        };
        for k in (1..self.max_file - 1).rev() {
            let _ = std::fs::rename(numbered(k), numbered(k + 1));
        }
        let _ = std::fs::rename(&self.path, numbered(1));
        self.file = crate::engine::root::append_private(&self.path).ok();
        self.size = 0;
    }
}

/// One json-file line: `{"log":...,"stream":...,"time":...}` and a newline.
fn encode_entry(out: &mut Vec<u8>, line: &[u8], stream: usize) {
    out.extend_from_slice(b"{\"log\":");
    let text = String::from_utf8_lossy(line);
    let _ = serde_json::to_writer(&mut *out, &*text);
    out.extend_from_slice(if stream == 0 {
        b",\"stream\":\"stdout\",\"time\":\""
    } else {
        b",\"stream\":\"stderr\",\"time\":\""
    });
    out.extend_from_slice(now_rfc3339_nanos().as_bytes());
    out.extend_from_slice(b"\"}\n");
}

fn error_message(e: &InitError) -> Vec<u8> {
    let mut msg = vec![b'-'];
    msg.extend(serde_json::to_vec(e).unwrap_or_default());
    msg
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

    #[test]
    fn log_entries_are_dockers_json_file_lines() {
        let mut out = Vec::new();
        encode_entry(&mut out, b"a \"q\"\n", 1);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(v["log"], "a \"q\"\n");
        assert_eq!(v["stream"], "stderr");
        assert!(v["time"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(out.last(), Some(&b'\n'));
    }

    fn lines_of(p: &Path) -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("whole json line");
                v["log"].as_str().unwrap_or_default().trim_end().to_string()
            })
            .collect()
    }

    #[test]
    fn logs_rotate_between_lines_keeping_max_file_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("container.log");
        let mut w = LogWriter::open(path.clone(), Some(400), 3);
        for i in 0..40 {
            w.write(format!("line {i:02}\n").as_bytes(), 0);
        }
        drop(w);
        let names: Vec<_> = {
            let mut n: Vec<_> = std::fs::read_dir(dir.path())
                .expect("dir")
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            n.sort();
            n
        };
        assert_eq!(
            names,
            ["container.log", "container.log.1", "container.log.2"]
        );
        let mut all = Vec::new();
        for n in names.iter().rev() {
            let p = dir.path().join(n);
            assert!(std::fs::metadata(&p).expect("size").len() <= 400, "{n}");
            all.extend(lines_of(&p));
        }
        // The newest lines, in order, none cut.
        let last = all.last().cloned();
        assert_eq!(last.as_deref(), Some("line 39"));
        for pair in all.windows(2) {
            let a: u32 = pair[0][5..].parse().expect("n");
            let b: u32 = pair[1][5..].parse().expect("n");
            assert_eq!(a + 1, b);
        }

        // max-file 1: the log is truncated in place.
        let path = dir.path().join("one.log");
        let mut w = LogWriter::open(path.clone(), Some(200), 1);
        for i in 0..20 {
            w.write(format!("l{i}\n").as_bytes(), 0);
        }
        assert!(std::fs::metadata(&path).expect("size").len() <= 200);
        assert!(!dir.path().join("one.log.1").exists());
        assert_eq!(lines_of(&path).last().map(String::as_str), Some("l19"));
    }
}
