//! A one-off container (`run`) in the foreground: the CLI is its parent and does what a monitor
//! does for a detached one — cgroup, network endpoints, the embedded DNS resolver (served from a
//! thread while the container runs), names published and withdrawn, state recorded — and with
//! `--rm` removes it afterwards. Before it, the service's dependencies are brought up as `up`
//! would (unless `--no-deps`), as Docker Compose's `run` does.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use super::create::{Creator, OneOff};
use super::{Ctx, Reporter, StackError, UpOptions};
use crate::engine::cgroups::{ContainerCgroup, Layout};
use crate::engine::container::remove::AnonymousVolumes;
use crate::engine::container::start::{Parent, Start, StartOptions};
use crate::engine::container::Container;
use crate::engine::image::Image;
use crate::engine::network::dns::Resolver;
use crate::engine::network::endpoints;
use crate::engine::network::manager::Networks;
use crate::engine::runtime::container;
use crate::engine::runtime::process::{Exit, Stdio};
use crate::engine::runtime::pty::{Pty, RawMode};
use crate::engine::state::{self, ContainerRecord, RunState, Status};
use crate::engine::supervisor;
use crate::engine::timestamp::now_rfc3339_nanos;
use crate::model::types::resources::Project;

/// `run` without `--no-deps`: brings up the dependencies of `service` (and theirs) with `up`'s
/// machinery, each waiting for the conditions of its own `depends_on`, then waits for the
/// conditions `service` puts on them (healthy, completed successfully), so the one-off
/// container starts when an `up` would have started the service. Their images must be in the
/// store already ([`super::build::prepare_images`]): nothing is pulled or built here.
pub fn start_dependencies(
    ctx: &Ctx,
    project: &Project,
    service: &str,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    let deps: Vec<String> = super::service_deps(project, service)
        .into_iter()
        .filter(|d| project.services.contains_key(d))
        .collect();
    if deps.is_empty() {
        return Ok(());
    }
    super::up(
        ctx,
        project,
        &UpOptions {
            services: deps,
            // `run` pulled every image it needs, these included, in one go before this:
            // a service whose policy is `always` is not pulled a second time.
            pull: Some(crate::planner::pull_policy::PullPolicy::Never),
            // Built then too, when they needed it.
            build: super::build::BuildMode::Never,
            dry_run: ctx.dry_run,
            ..UpOptions::default()
        },
        rep,
    )?;
    if ctx.dry_run {
        // Nothing was started to wait for.
        return Ok(());
    }
    let name = super::project_name(project)?;
    super::wait_dependencies(ctx, project, &name, service, super::Limits::default(), rep)
}

/// What `run` was asked for, its flags parsed and its image in the store.
pub struct RunRequest<'a> {
    pub service: &'a str,
    pub image_ref: &'a str,
    pub image: &'a Image,
    pub one_off: OneOff<'a>,
    /// `--no-deps`: the dependencies are not brought up.
    pub no_deps: bool,
    /// `-d`: its monitor runs it.
    pub detach: bool,
    /// The CLI's terminal is the container's (foreground only).
    pub tty: bool,
}

/// How a `run` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// `-d`: the container runs on under its monitor; its full ID, which Docker Compose prints.
    Detached { id: String },
    /// In the foreground: the container's exit code (or its set-up error's).
    Exited(i32),
}

/// `run`: brings up the service's dependencies (unless `--no-deps`), creates the one-off
/// container under the project's lock (networks, addresses, ports), then runs it without the
/// lock: detached under a monitor, or in the foreground. `reporter` makes the progress
/// display of each phase, as each command phase draws its own.
pub fn run(
    ctx: &Ctx,
    project: &Project,
    req: &RunRequest,
    reporter: &dyn Fn() -> Box<dyn Reporter>,
) -> Result<RunOutcome, StackError> {
    let Some(service) = project.services.get(req.service) else {
        return Err(super::invalid(format!("no such service: {}", req.service)));
    };
    let project_name = project.name.clone().unwrap_or_default();
    if !req.no_deps {
        start_dependencies(ctx, project, req.service, &mut *reporter())?;
    }
    if ctx.dry_run {
        return Ok(dry_run(&project_name, req, &mut *reporter()));
    }
    let (nets, rec) = {
        let _lock = state::lock_project(&ctx.root, &project_name)?;
        let nets = super::prepare_networks(
            ctx,
            project,
            std::slice::from_ref(&req.service.to_string()),
            &mut *reporter(),
        )?;
        let mut creator = Creator::new(ctx, project, &project_name, &nets)?;
        let rec = creator.create_one_off(
            req.service,
            &crate::model::hash::service_hash(service),
            req.image_ref,
            req.image,
            &req.one_off,
        )?;
        crate::engine::fault::point("run.after-create");
        (nets, rec)
    };
    if req.detach {
        if let Err(e) = supervisor::launch(&ctx.root, &rec.id) {
            // The container never ran: nothing of it stays, or the failure is told.
            if let Err(fe) = super::forget_container(ctx, &nets, &rec, AnonymousVolumes::Keep) {
                reporter().warn(&fe.to_string());
            }
            return Err(e.into());
        }
        // A failing post_start fails the command; the container runs on, as with `up -d`.
        super::hooks::post_start(&ctx.root, &rec.id, &mut *reporter())?;
        return Ok(RunOutcome::Detached { id: rec.id });
    }
    Ok(RunOutcome::Exited(run_foreground(
        ctx, &nets, &rec, req.tty,
    )?))
}

/// `run --dry-run`: the one-off container's lines (named as it would be, its id drawn the same
/// way), created and, detached, started; in the foreground nothing runs, so it "exits" 0.
fn dry_run(project_name: &str, req: &RunRequest, rep: &mut dyn Reporter) -> RunOutcome {
    let id = state::new_id().unwrap_or_else(|_| "0".repeat(64));
    let name = req
        .one_off
        .name
        .clone()
        .unwrap_or_else(|| format!("{project_name}-{}-run-{}", req.service, &id[..12]));
    let steps: &[&str] = match req.detach {
        true => &["Creating", "Created", "Starting", "Started"],
        false => &["Creating", "Created"],
    };
    super::dry_run::report(rep, "Container", [&name], steps);
    match req.detach {
        true => RunOutcome::Detached { id },
        false => RunOutcome::Exited(0),
    }
}

/// Runs the one-off container `rec` in the foreground with the CLI's terminal (a pty when
/// `tty`); returns its exit code (or the set-up error's, printed like Docker's).
pub fn run_foreground(
    ctx: &Ctx,
    nets: &Networks,
    rec: &ContainerRecord,
    tty: bool,
) -> Result<i32, StackError> {
    let c = Container::of(&ctx.root, rec);
    let cgroup_err = |error| StackError::ContainerCgroup {
        container: rec.name.clone(),
        error,
    };
    let layout = Layout::detect().map_err(cgroup_err)?;
    let (cgroup, warnings) = c.create_cgroup(&layout).map_err(cgroup_err)?;
    for w in warnings {
        eprintln!("WARN {w}");
    }
    crate::engine::fault::point("run.foreground.after-cgroup");
    let result = run_in(ctx, &c, cgroup.as_ref(), tty);
    crate::engine::fault::point("run.foreground.after-exit");

    // Whatever happened, nothing of the container keeps running or stays in the cgroup tree.
    if let Err(e) = cgroup.kill_all(rustix::process::Signal::KILL) {
        eprintln!("WARN cannot kill what is left in the container's cgroup: {e}");
    }
    if let Err(e) = cgroup.remove() {
        eprintln!("WARN cannot remove the container's cgroup: {e}");
    }
    if rec.auto_remove || result.is_err() {
        // As Docker's auto-remove does: the anonymous volumes it made go with it (nothing
        // could reach them once the container is gone).
        super::forget_container(ctx, nets, rec, AnonymousVolumes::Remove)?;
    }
    result
}

/// A foreground container's I/O failure as the command's error.
fn io_err(rec: &ContainerRecord) -> impl Fn(std::io::Error) -> StackError + '_ {
    |error| StackError::ContainerIo {
        container: rec.name.clone(),
        error,
    }
}

fn run_in(
    ctx: &Ctx,
    c: &Container,
    cgroup: &dyn ContainerCgroup,
    tty: bool,
) -> Result<i32, StackError> {
    let (rec, dir) = (c.record(), c.dir());
    let pty = if tty {
        Some(Pty::open().map_err(|error| StackError::Console {
            container: rec.name.clone(),
            error,
        })?)
    } else {
        None
    };
    let options = StartOptions {
        parent: Parent::Foreground,
        terminal: tty,
        console: pty.as_ref().map(|p| p.slave_path.clone()),
    };
    let Start {
        config,
        cgroup2,
        mut placer,
    } = c
        .prepare_start(cgroup, options)
        .map_err(|error| StackError::ContainerNetlink {
            container: rec.name.clone(),
            error,
        })?;
    let stdio = match &pty {
        Some(p) => Stdio {
            stdin: p.slave.as_fd(),
            stdout: p.slave.as_fd(),
            stderr: p.slave.as_fd(),
        },
        None => Stdio::inherit(),
    };
    let store = c.name_store();
    // The resolver's thread ends as soon as this write end closes (no polling interval to wait
    // out: a 100 ms one was most of the cost of `run --rm` on a network).
    let (wake_r, wake_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| io_err(rec)(e.into()))?;
    let mut wake_r = Some(wake_r);
    let mut serving: Option<std::thread::JoinHandle<()>> = None;
    let me = std::process::id() as i32;
    let raw = if tty { RawMode::enable() } else { None };
    // The post_start hooks run beside the container (they need it running): see `beside`.
    let mut hook: Option<std::thread::JoinHandle<Result<(), StackError>>> = None;
    let exit = container::run_foreground(
        &config,
        &stdio,
        pty.as_ref(),
        cgroup2.as_ref().map(|d| d.as_fd()),
        &mut |pid| {
            placer.place(pid)?;
            if let (Some(mut resolver), Some(wake)) = (placer.take_resolver(), wake_r.take()) {
                serving = Some(std::thread::spawn(move || serve_until(&mut resolver, wake)));
            }
            for e in endpoints::publish_names(&store, &rec.id, &rec.endpoints) {
                eprintln!("WARN container {}: {e}", rec.name);
            }
            Ok(())
        },
        &mut |child| {
            let pid = child.pid.as_raw_nonzero().get();
            let st = RunState {
                status: Status::Running,
                pid: Some(pid),
                pid_start: state::pid_start_time(pid),
                monitor_pid: Some(me),
                monitor_start: state::pid_start_time(me),
                boot_id: state::boot_id(),
                started_at: Some(now_rfc3339_nanos()),
                ..RunState::default()
            };
            let _ = state::write_state_as(dir, &st, rec.state_durability());
            crate::engine::fault::point("run.foreground.after-start");
            if !rec.hooks.post_start.is_empty() {
                hook = Some(beside(&ctx.root, rec, child.pid));
            }
        },
    );
    drop(raw);
    let hook_failed = hook.and_then(|h| h.join().ok()).and_then(Result::err);
    drop(wake_w);
    if let Some(t) = serving {
        let _ = t.join();
    }
    // The veths go with the container's network namespace (see the method).
    c.release_network_with_namespace();
    let code = match exit {
        Ok(exit) => exit_code(exit),
        Err(e) => {
            eprintln!("Error response from container {}: {e}", rec.name);
            e.exit_code()
        }
    };
    // Kept in the state too: `inspect` shows a one-off killed for memory as OOMKilled.
    let oom_killed = cgroup.oom_killed().unwrap_or(false);
    if oom_killed {
        eprintln!(
            "compose: container {} ran out of memory and was killed (OOM)",
            rec.name
        );
    }
    let st = RunState {
        status: Status::Exited,
        exit_code: Some(code),
        oom_killed,
        boot_id: state::boot_id(),
        finished_at: Some(now_rfc3339_nanos()),
        ..RunState::default()
    };
    let _ = state::write_state_as(dir, &st, rec.state_durability());
    match hook_failed {
        Some(e) => Err(e),
        None => Ok(code),
    }
}

/// Runs the container's `post_start` hooks from a thread while the CLI attends the container;
/// a failing one ends the container, which cannot outlive the command that failed.
fn beside(
    root: &std::path::Path,
    rec: &ContainerRecord,
    pid: rustix::process::Pid,
) -> std::thread::JoinHandle<Result<(), StackError>> {
    let container = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok();
    let (root, rec) = (root.to_path_buf(), rec.clone());
    std::thread::spawn(move || {
        let result = super::hooks::post_start_beside(&root, &rec, &mut super::PlainReporter);
        if result.is_err() {
            if let Some(fd) = container {
                let killed = crate::engine::container::pidfd::signal(
                    fd.as_fd(),
                    rustix::process::Signal::KILL,
                );
                if let Err(e) = killed {
                    super::PlainReporter.warn(&format!(
                        "container {}: killing it after its failed post_start hook: {e}",
                        rec.name
                    ));
                }
            }
        }
        result
    })
}

/// Serves the one-off container's DNS queries until `wake` reports end-of-file (its write end
/// closed when the container has ended).
fn serve_until(resolver: &mut Resolver, wake: OwnedFd) {
    loop {
        let mut pfds: Vec<libc::pollfd> = std::iter::once(wake.as_raw_fd())
            .chain(resolver.poll_fds())
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let ms = resolver.next_timeout().map_or(-1, |t| {
            t.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int
        });
        // SAFETY: `pfds` is a live array of the length given.
        let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
        if rc < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
        if pfds[0].revents != 0 {
            return;
        }
        for p in &pfds[1..] {
            if p.revents != 0 {
                resolver.handle_ready(p.fd);
            }
        }
        resolver.expire();
    }
}

fn exit_code(e: Exit) -> i32 {
    e.code()
}
