//! The monitor process (`compose-monitor <name>`, see [`super::invoked_as_monitor`]): detaches, then starts the container
//! (its cgroup, its network, through [`crate::engine::container::start`]) and starts it again
//! as its restart policy says, until it is stopped on purpose.

use std::io::Write;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::process::Signal;

use super::handshake::{error_message, MONITOR_ARG0, MONITOR_ID_ENV, MONITOR_ROOT_ENV, READY_FD};
use super::memory::shed_memory;
use crate::engine::cgroups::{self, ContainerCgroup, Layout};
use crate::engine::container::remove::AnonymousVolumes;
use crate::engine::container::start::{Parent, StartOptions};
use crate::engine::container::{Container, ContainerError};
use crate::engine::network::dns::Resolver;
use crate::engine::network::endpoints;
use crate::engine::network::manager::Networks;
use crate::engine::network::proxy::{self, PortProxy};
use crate::engine::root::StateRoot;
use crate::engine::runtime::error::{InitError, Step};
use crate::engine::runtime::process;
use crate::engine::runtime::stdio::{Held, Streams};
use crate::engine::state::{self, Health, RunState, StateError, Status};
use crate::engine::timestamp::now_rfc3339_nanos;

/// Longest pause between two restarts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Entry point of `compose-monitor <name>`; never returns.
pub fn main() -> ! {
    let (Some(root), Some(id)) = (
        std::env::var_os(MONITOR_ROOT_ENV),
        std::env::var_os(MONITOR_ID_ENV),
    ) else {
        eprintln!("usage: {MONITOR_ID_ENV}=ID {MONITOR_ROOT_ENV}=ROOT {MONITOR_ARG0} NAME");
        std::process::exit(2);
    };
    let root = PathBuf::from(root);
    let id = id.to_string_lossy().into_owned();
    // Not handed down: the processes the monitor starts (the container's set-up process, its
    // healthchecks) must not be mistaken for monitors, nor see where the state lives.
    std::env::remove_var(MONITOR_ROOT_ENV);
    std::env::remove_var(MONITOR_ID_ENV);
    // `comm` is the executable's file name (`exe` when started from /proc/self/exe); `top`,
    // `ps -e` and `pgrep` show this one instead.
    let _ = rustix::thread::set_name(c"compose-monitor");
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
    let log = state::monitor_log_path(&StateRoot::new(&root).container(&id));
    crate::engine::logging::init_file(
        &log,
        std::env::var(crate::engine::logging::LOG_ENV)
            .ok()
            .as_deref(),
    );
    let code = match Monitor::new(&root, &id, ready) {
        Ok(mut m) => m.run(),
        Err(_) => 1,
    };
    std::process::exit(code);
}

pub(super) struct Monitor {
    pub(super) c: Container,
    ready: Option<std::fs::File>,
    pub(super) state: RunState,
    layout: Option<Layout>,
}

/// One run of the container.
pub(super) struct Running {
    pub(super) child: process::Child,
    pub(super) cgroup: Box<dyn ContainerCgroup>,
    pub(super) streams: Held,
    pub(super) resolver: Option<Resolver>,
    /// The published ports' IPv6 side, while the container runs.
    pub(super) proxy: Option<PortProxy>,
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
                    path: StateRoot::new(root).container(id),
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
            .and_then(|nets| self.c.remove(&nets, AnonymousVolumes::Keep))
        {
            self.c.warn(&e.to_string());
        }
    }

    pub(super) fn save(&self) {
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
        let _span = tracing::info_span!("container", name = %self.c.record().name).entered();
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.start(&null) {
                Ok(running) => {
                    let since = Instant::now();
                    if let Some(mut r) = self.ready.take() {
                        let _ = r.write_all(b"+");
                    }
                    crate::engine::fault::point("monitor.handshake.after-ready");
                    shed_memory();
                    let exit = self.serve(running, &null);
                    tracing::info!(
                        code = exit.0.code(),
                        oom_killed = exit.1,
                        "container exited"
                    );
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
                    tracing::warn!(error = %e, "container did not start");
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
                    if let Err(e) =
                        crate::engine::anon_volumes::remove_of(self.c.root(), self.c.record())
                    {
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
            tracing::info!(
                restarts = self.state.restart_count + 1,
                ?backoff,
                "restarting the container"
            );
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
        crate::engine::fault::point("monitor.start.after-cgroup");
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
            .map_err(|e| InitError::msg(Step::Network, None, e.to_string()))?;
        let stdio = streams.stdio();
        let child = process::spawn(
            &start.config,
            &stdio,
            start.cgroup2.as_ref().map(|d| d.as_fd()),
            &mut |pid| start.placer.place(pid),
        );
        let streams = streams.started();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                if let Some(nl) = start.placer.netlink() {
                    for left in endpoints::disconnect(nl, &self.c.record().endpoints) {
                        self.c.warn(&left.to_string());
                    }
                }
                return Err(e);
            }
        };
        let resolver = start.placer.take_resolver();
        let pid = child.pid.as_raw_nonzero().get();
        tracing::info!(pid, "container started");
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
        crate::engine::fault::point("monitor.start.after-spawn");
        let rec = self.c.record();
        for e in endpoints::publish_names(&self.c.name_store(), &rec.id, &rec.endpoints) {
            self.c.warn(&e.to_string());
        }
        crate::engine::fault::point("monitor.start.after-dns");
        crate::engine::events::emit(self.c.root(), rec, "start", &[]);
        Ok((child, streams, resolver))
    }
}
