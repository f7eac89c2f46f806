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
//! - owns its stdout/stderr and writes them to `container.log` (Docker's json-file lines);
//! - records the state (`state.json`: pid with its start time, boot id, exit code, restarts);
//! - applies the restart policy with a doubling back-off, unless a command is stopping it on
//!   purpose (the `stopping` marker);
//! - cleans up after every exit: names withdrawn, veths and cgroup removed.
//!
//! A separate process per container rather than one daemon keeps containers independent of each
//! other and of any command; everything a later command needs is on disk (see
//! [`crate::engine::state`]), so a killed monitor or a reboot is detected, not fatal.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::process::{Pid, PidfdFlags, Signal};

use crate::engine::cgroups::{self, CgroupOptions, ContainerCgroup, Layout};
use crate::engine::network::attach::{self, Attachment, BridgeSpec};
use crate::engine::network::dns::{DnsEntry, EndpointStore, Resolver, ResolverConfig};
use crate::engine::network::link::{self, Netlink};
use crate::engine::runtime::error::{InitError, Step};
use crate::engine::runtime::init::InitConfig;
use crate::engine::runtime::monitor::{now_rfc3339_nanos, write_log_line};
use crate::engine::runtime::process::{self, Exit, Stdio};
use crate::engine::spec::NetworkMode;
use crate::engine::state::{self, ContainerRecord, RunState, StateError, Status};

/// `compose __monitor <root> <id>`.
pub const MONITOR_ARG: &str = "__monitor";

/// The descriptor on which the monitor reports its first start: `+`, or `-` and the
/// [`InitError`] as JSON.
const READY_FD: RawFd = 3;

/// Longest pause between two restarts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

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
    #[error("no such container: {0}")]
    NotFound(String),
}

/// The `<root>/dns` directory where running containers publish their names.
pub fn dns_dir(root: &Path) -> PathBuf {
    root.join("dns")
}

/// Starts the monitor of container `id` (which must have a record) and returns once the
/// container's command has been executed, or with the error that prevented it.
pub fn launch(root: &Path, id: &str) -> Result<(), SuperviseError> {
    let rec = state::read_record(root, id)?.ok_or_else(|| SuperviseError::NotFound(id.into()))?;
    let dir = state::container_dir(root, id);
    let io = |action: &'static str| {
        let name = rec.name.clone();
        move |source| SuperviseError::Io {
            name,
            action,
            source,
        }
    };
    match std::fs::remove_file(state::stopping_path(&dir)) {
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

/// The signal a container is stopped with (`stop_signal`, default SIGTERM).
pub fn parse_signal(name: Option<&str>) -> Result<Signal, String> {
    let Some(name) = name else {
        return Ok(Signal::TERM);
    };
    if let Ok(n) = name.parse::<i32>() {
        return Signal::from_named_raw(n).ok_or_else(|| format!("invalid signal number {n}"));
    }
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    let sig = match bare {
        "HUP" => Signal::HUP,
        "INT" => Signal::INT,
        "QUIT" => Signal::QUIT,
        "KILL" => Signal::KILL,
        "USR1" => Signal::USR1,
        "USR2" => Signal::USR2,
        "TERM" => Signal::TERM,
        "ALRM" => Signal::ALARM,
        "CONT" => Signal::CONT,
        "STOP" => Signal::STOP,
        "WINCH" => Signal::WINCH,
        "PWR" => Signal::POWER,
        _ => return Err(format!("invalid signal {name:?}")),
    };
    Ok(sig)
}

/// A pidfd for `pid` if it is still the process that started at `start`.
fn pidfd_of(pid: Option<i32>, start: Option<u64>) -> Option<OwnedFd> {
    let pid = pid?;
    let fd = rustix::process::pidfd_open(Pid::from_raw(pid)?, PidfdFlags::empty()).ok()?;
    // Checked after opening: the pidfd now pins the process we verified.
    state::same_process(Some(pid), start).then_some(fd)
}

/// Waits until the process behind `pidfd` exits, at most `timeout`; returns whether it did.
fn wait_pidfd(pidfd: BorrowedFd<'_>, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: polling one valid descriptor.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n > 0 {
            return true;
        }
        if n == 0 {
            return false;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}

/// The container processes a stop will wait for: its PID 1 and its monitor.
pub struct Stopping {
    id: String,
    container: Option<OwnedFd>,
    monitor: Option<OwnedFd>,
    grace: Duration,
    started: Instant,
}

/// Starts stopping container `id`: marks it as stopped on purpose (no restart) and sends
/// `signal` to its PID 1. [`finish_stop`] waits for it. Split so `down` signals every container
/// first and waits for them together.
pub fn begin_stop(
    root: &Path,
    id: &str,
    signal: Signal,
    grace: Duration,
) -> Result<Stopping, SuperviseError> {
    let dir = state::container_dir(root, id);
    let marker = state::stopping_path(&dir);
    std::fs::write(&marker, b"").map_err(|source| SuperviseError::Io {
        name: id.to_string(),
        action: "marking it as stopping",
        source,
    })?;
    let st = state::read_state(&dir);
    let container = if st.boot_id == state::boot_id() {
        pidfd_of(st.pid, st.pid_start)
    } else {
        None
    };
    let monitor = if st.boot_id == state::boot_id() {
        pidfd_of(st.monitor_pid, st.monitor_start)
    } else {
        None
    };
    if let Some(fd) = &container {
        let _ = rustix::process::pidfd_send_signal(fd, signal);
    }
    Ok(Stopping {
        id: id.to_string(),
        container,
        monitor,
        grace,
        started: Instant::now(),
    })
}

/// Waits out the grace period, kills what is left, waits for the monitor to record the exit,
/// and cleans up itself when the monitor is gone (killed, or a reboot).
pub fn finish_stop(root: &Path, s: Stopping) -> Result<(), SuperviseError> {
    if let Some(fd) = &s.container {
        let left = s.grace.saturating_sub(s.started.elapsed());
        if !wait_pidfd(fd.as_fd(), left) {
            // PID 1 of a PID namespace: the kernel kills every process in it.
            let _ = rustix::process::pidfd_send_signal(fd, Signal::KILL);
            wait_pidfd(fd.as_fd(), Duration::from_secs(10));
        }
    }
    match &s.monitor {
        Some(m) => {
            if !wait_pidfd(m.as_fd(), Duration::from_secs(10)) {
                let _ = rustix::process::pidfd_send_signal(m, Signal::KILL);
                wait_pidfd(m.as_fd(), Duration::from_secs(2));
                cleanup_orphan(root, &s.id)?;
            }
        }
        None => cleanup_orphan(root, &s.id)?,
    }
    Ok(())
}

/// Stops container `id` (see [`begin_stop`]).
pub fn stop(root: &Path, id: &str, signal: Signal, grace: Duration) -> Result<(), SuperviseError> {
    let s = begin_stop(root, id, signal, grace)?;
    finish_stop(root, s)
}

/// What the monitor would have done after the container's exit, for a container whose monitor
/// is gone: kill what is left, withdraw its names, remove its veths and cgroup, record the end.
fn cleanup_orphan(root: &Path, id: &str) -> Result<(), SuperviseError> {
    let Some(rec) = state::read_record(root, id)? else {
        return Ok(());
    };
    let dir = state::container_dir(root, id);
    let mut st = state::read_state(&dir);
    if st.boot_id == state::boot_id() {
        if let Some(fd) = pidfd_of(st.pid, st.pid_start) {
            let _ = rustix::process::pidfd_send_signal(&fd, Signal::KILL);
            wait_pidfd(fd.as_fd(), Duration::from_secs(10));
        }
    }
    after_exit(root, &rec, None);
    if let Ok(layout) = Layout::detect() {
        if let Ok(m) = cgroups::manager(
            &layout,
            &CgroupOptions {
                parent: rec.cgroup_parent.clone(),
                ..CgroupOptions::default()
            },
        ) {
            if let Ok(cg) = m.open(&rec.project, &rec.id) {
                let _ = cg.kill_all(Signal::KILL);
                let _ = cg.remove();
            }
        }
    }
    if matches!(st.status, Status::Running | Status::Restarting) || st.pid.is_some() {
        st.status = Status::Exited;
        st.exit_code = st.exit_code.or(Some(137));
        st.pid = None;
        st.pid_start = None;
        st.monitor_pid = None;
        st.monitor_start = None;
        st.finished_at = Some(now_rfc3339_nanos());
        st.boot_id = state::boot_id();
        state::write_state(&dir, &st)?;
    }
    Ok(())
}

/// Undoes a start's network side: names withdrawn, host ends of the veths deleted (the
/// container ends go with them). Idempotent.
fn after_exit(root: &Path, rec: &ContainerRecord, nl: Option<&mut Netlink>) {
    let store = EndpointStore::new(&dns_dir(root));
    for ep in &rec.endpoints {
        let _ = store.withdraw(&ep.network, &rec.id);
    }
    let mut own;
    let nl = match nl {
        Some(nl) => nl,
        None => match Netlink::new() {
            Ok(n) => {
                own = n;
                &mut own
            }
            Err(_) => return,
        },
    };
    for ep in &rec.endpoints {
        let _ = attach::detach(nl, &ep.host_if);
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
    root: PathBuf,
    dir: PathBuf,
    rec: ContainerRecord,
    ready: Option<std::fs::File>,
    state: RunState,
    layout: Option<Layout>,
}

/// One run of the container.
struct Running {
    child: process::Child,
    cgroup: Box<dyn ContainerCgroup>,
    out: OwnedFd,
    err: OwnedFd,
    resolver: Option<Resolver>,
}

impl Monitor {
    fn new(root: &Path, id: &str, ready: OwnedFd) -> Result<Monitor, StateError> {
        let mut ready = std::fs::File::from(ready);
        let rec = match state::read_record(root, id) {
            Ok(Some(r)) => r,
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
            root: root.to_path_buf(),
            dir: state::container_dir(root, id),
            state: RunState {
                status: Status::Created,
                monitor_pid: Some(me),
                monitor_start: state::pid_start_time(me),
                boot_id: state::boot_id(),
                ..RunState::default()
            },
            rec,
            ready: Some(ready),
            layout: Layout::detect().ok(),
        })
    }

    fn save(&self) {
        let _ = state::write_state(&self.dir, &self.state);
    }

    fn stopping(&self) -> bool {
        state::stopping_path(&self.dir).exists()
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
                    let exit = self.serve(running);
                    self.state.status = Status::Exited;
                    self.state.exit_code = Some(exit.0.code());
                    self.state.oom_killed = exit.1;
                    self.state.pid = None;
                    self.state.pid_start = None;
                    self.state.finished_at = Some(now_rfc3339_nanos());
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
                || !self.rec.restart.restarts(code, self.state.restart_count)
                || !self.dir.exists()
            {
                self.state.monitor_pid = None;
                self.state.monitor_start = None;
                self.save();
                if self.rec.auto_remove {
                    let _ = std::fs::remove_dir_all(&self.dir);
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
        let m = cgroups::manager(
            layout,
            &CgroupOptions {
                parent: self.rec.cgroup_parent.clone(),
                ..CgroupOptions::default()
            },
        )
        .map_err(cg_err)?;
        let (cg, _warnings) = m
            .create(&self.rec.project, &self.rec.id, &self.rec.spec.resources)
            .map_err(cg_err)?;
        Ok(cg)
    }

    /// Starts the container once: cgroup, process, network attachments, resolver.
    fn start(&mut self, null: &std::fs::File) -> Result<Running, InitError> {
        let cgroup = self.cgroup()?;
        let started = self.start_in(null, cgroup.as_ref());
        match started {
            Ok((child, out, err, resolver)) => Ok(Running {
                child,
                cgroup,
                out,
                err,
                resolver,
            }),
            Err(e) => {
                after_exit(&self.root, &self.rec, None);
                let _ = cgroup.kill_all(Signal::KILL);
                let _ = cgroup.remove();
                Err(e)
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn start_in(
        &mut self,
        null: &std::fs::File,
        cgroup: &dyn ContainerCgroup,
    ) -> Result<(process::Child, OwnedFd, OwnedFd, Option<Resolver>), InitError> {
        let net_err = |e: std::io::Error| InitError::io(Step::Network, None, &e);
        let (out_r, out_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| InitError::sys(Step::Spawn, None, e))?;
        let (err_r, err_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| InitError::sys(Step::Spawn, None, e))?;
        let mut spec = self.rec.spec.clone();
        if let NetworkMode::Join { container, netns } = &mut spec.network {
            // The other container's PID now: it changes with each of its restarts.
            let st = state::read_state(&state::container_dir(&self.root, container)).observed();
            *netns = st
                .live_pid()
                .map(|p| PathBuf::from(format!("/proc/{p}/ns/net")));
        }
        let cfg = InitConfig {
            spec,
            container_dir: self.dir.clone(),
            console: None,
            die_with_parent: false,
            copy_up: self.rec.copy_up.clone(),
            cgroup_mounts: self.rec.cgroup_mounts.clone(),
        };
        let stdio = Stdio {
            stdin: null.as_fd(),
            stdout: out_w.as_fd(),
            stderr: err_w.as_fd(),
        };
        let mut host = if self.rec.endpoints.is_empty() {
            None
        } else {
            Some(Netlink::new().map_err(net_err)?)
        };
        // Leftovers of a previous run whose monitor died would block the names.
        if let Some(nl) = host.as_mut() {
            for ep in &self.rec.endpoints {
                let _ = attach::detach(nl, &ep.host_if);
            }
        }
        let endpoints = self.rec.endpoints.clone();
        let mut netns: Option<OwnedFd> = None;
        let child = process::spawn(&cfg, &stdio, &mut |pid| {
            cgroup
                .add_pid(pid.as_raw_nonzero().get())
                .map_err(|e| InitError::msg(Step::Cgroups, None, e.to_string()))?;
            if let Some(nl) = host.as_mut() {
                let ns = link::open_netns(pid.as_raw_nonzero().get() as u32).map_err(net_err)?;
                for ep in &endpoints {
                    let bridge = attach::ensure_bridge(
                        nl,
                        &BridgeSpec {
                            name: ep.bridge.name.clone(),
                            mtu: ep.bridge.mtu,
                            gateways: ep.bridge.gateways.clone(),
                        },
                    )
                    .map_err(net_err)?;
                    attach::attach(
                        nl,
                        bridge,
                        ns.as_fd(),
                        &Attachment {
                            host_if: ep.host_if.clone(),
                            container_if: ep.container_if.clone(),
                            mtu: ep.bridge.mtu,
                            mac: ep.mac,
                            addresses: ep.addresses.clone(),
                            default_gateways: ep.default_gateways.clone(),
                        },
                    )
                    .map_err(|e| {
                        InitError::msg(
                            Step::Network,
                            None,
                            format!("connecting to network {}: {e}", ep.network),
                        )
                    })?;
                }
                netns = Some(ns);
            }
            Ok(())
        });
        drop(out_w);
        drop(err_w);
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                if let Some(nl) = host.as_mut() {
                    for ep in &self.rec.endpoints {
                        let _ = attach::detach(nl, &ep.host_if);
                    }
                }
                return Err(e);
            }
        };
        let resolver = match (&self.rec.dns, &netns) {
            (Some(dns), Some(ns)) => Some(
                Resolver::bind(
                    ns.as_fd(),
                    EndpointStore::new(&dns_dir(&self.root)),
                    ResolverConfig {
                        networks: dns.networks.clone(),
                        links: dns.links.clone(),
                        upstreams: dns.upstreams.clone(),
                    },
                )
                .map_err(|e| {
                    let _ = process::signal(&child, Signal::KILL);
                    let _ = process::wait(&child);
                    InitError::msg(
                        Step::Network,
                        None,
                        format!("starting the embedded DNS resolver: {e}"),
                    )
                })?,
            ),
            _ => None,
        };
        drop(netns);
        let pid = child.pid.as_raw_nonzero().get();
        self.state.status = Status::Running;
        self.state.pid = Some(pid);
        self.state.pid_start = state::pid_start_time(pid);
        self.state.started_at = Some(now_rfc3339_nanos());
        self.state.finished_at = None;
        self.state.exit_code = None;
        self.state.oom_killed = false;
        self.state.error = None;
        self.save();
        let store = EndpointStore::new(&dns_dir(&self.root));
        for ep in &self.rec.endpoints {
            let entry = DnsEntry {
                names: ep.dns_names.clone(),
                addresses: ep.addresses.iter().map(|(a, _)| *a).collect(),
            };
            let _ = store.publish(&ep.network, &self.rec.id, &entry);
        }
        Ok((child, out_r, err_r, resolver))
    }

    /// Copies the container's output to its log and answers DNS queries until it exits;
    /// returns how it ended and whether it was OOM-killed, after cleaning up.
    fn serve(&mut self, mut r: Running) -> (Exit, bool) {
        let log_path = state::log_path(&self.dir);
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .ok();
        let fds = [r.out.as_raw_fd(), r.err.as_raw_fd()];
        let mut open = [true, true];
        let mut pending: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let pidfd = r.child.pidfd.as_raw_fd();
        let mut exited = false;
        let mut drain_until: Option<Instant> = None;
        loop {
            if exited && (!(open[0] || open[1]) || drain_until.is_some_and(|d| Instant::now() > d))
            {
                break;
            }
            let mut pfds: Vec<libc::pollfd> = Vec::with_capacity(8);
            for i in 0..2 {
                pfds.push(libc::pollfd {
                    fd: if open[i] { fds[i] } else { -1 },
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            pfds.push(libc::pollfd {
                fd: if exited { -1 } else { pidfd },
                events: libc::POLLIN,
                revents: 0,
            });
            let dns_fds = r
                .resolver
                .as_ref()
                .map(|res| res.poll_fds())
                .unwrap_or_default();
            for fd in &dns_fds {
                pfds.push(libc::pollfd {
                    fd: *fd,
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            let mut timeout = r.resolver.as_ref().and_then(|res| res.next_timeout());
            if let Some(d) = drain_until {
                let left = d.saturating_duration_since(Instant::now());
                timeout = Some(timeout.map_or(left, |t| t.min(left)));
            }
            let ms = timeout.map_or(-1, |t| t.as_millis().min(60_000) as i32 + 1);
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
                let mut buf = [0u8; 16384];
                // SAFETY: reading into a local buffer.
                let got =
                    unsafe { libc::read(fds[i], buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
                if got <= 0 {
                    open[i] = false;
                    if !pending[i].is_empty() {
                        let rest = std::mem::take(&mut pending[i]);
                        if let Some(l) = log.as_mut() {
                            write_log_line(l, &rest, i);
                        }
                    }
                    continue;
                }
                pending[i].extend_from_slice(&buf[..got as usize]);
                while let Some(pos) = pending[i].iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = pending[i].drain(..=pos).collect();
                    if let Some(l) = log.as_mut() {
                        write_log_line(l, &line, i);
                    }
                }
            }
            if !exited && pfds[2].revents != 0 {
                exited = true;
                // Whatever is still writing (nothing, normally: PID 1's end took the namespace
                // with it) gets a moment, not forever.
                drain_until = Some(Instant::now() + Duration::from_secs(1));
            }
            for (k, fd) in dns_fds.iter().enumerate() {
                if pfds[3 + k].revents != 0 {
                    if let Some(res) = r.resolver.as_mut() {
                        res.handle_ready(*fd);
                    }
                }
            }
        }
        for (i, p) in pending.iter().enumerate() {
            if !p.is_empty() {
                if let Some(l) = log.as_mut() {
                    write_log_line(l, p, i);
                }
            }
        }
        let exit = process::wait(&r.child).unwrap_or(Exit::Code(255));
        // The resolver's sockets hold the container's network namespace: close them first so the
        // veths can go.
        r.resolver = None;
        let mut nl = Netlink::new().ok();
        after_exit(&self.root, &self.rec, nl.as_mut());
        let oom = r.cgroup.oom_killed().unwrap_or(false);
        let _ = r.cgroup.kill_all(Signal::KILL);
        let _ = r.cgroup.remove();
        (exit, oom)
    }
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
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal(None), Ok(Signal::TERM));
        assert_eq!(parse_signal(Some("SIGINT")), Ok(Signal::INT));
        assert_eq!(parse_signal(Some("quit")), Ok(Signal::QUIT));
        assert_eq!(parse_signal(Some("9")), Ok(Signal::KILL));
        assert!(parse_signal(Some("SIGNOPE")).is_err());
    }
}
