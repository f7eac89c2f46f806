//! Running a project: the commands' bodies (`up`, `down`, `port`, `ps`) as library functions,
//! organized like Docker Compose's `pkg/compose`: everything is checked and planned before the
//! first change; then networks, volumes, containers (in dependency order) and their monitors.
//! `up.rs` observes and plans (the plan is the reconciler's, over the planner's dependency
//! graph), `executor.rs` is the only code that walks a plan, `wait.rs` holds what `up` waits
//! for (`depends_on` conditions, `--wait`).
//!
//! State is on disk only (see [`crate::engine::state`]), guarded by the project's lock, so two
//! commands on one project never interleave and a command killed half-way leaves records the
//! next `up` or `down` can finish.

pub mod anon_volumes;
pub mod attach;
pub mod cp_stream;
pub mod create;
mod executor;
pub mod expose;
pub mod external_links;
pub mod hooks;
pub mod inspect;
pub mod oneoff;
pub mod ops;
pub mod pull;
pub mod restart_deps;
mod threads;
mod up;
mod wait;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use indexmap::IndexMap;

use crate::engine::image::ImageStore;
use crate::engine::network::manager::{NetworkError, Networks};
use crate::engine::network::proxy;
use crate::engine::state::{self, Observed, StateError, Status};
use crate::engine::supervisor::{self, SuperviseError};
use crate::model::types::resources::Project;
use crate::planner::graph::GraphError;
pub use crate::planner::graph::{service_deps, service_levels, start_order, stop_waves};
use crate::planner::network::NetPlanError;
use threads::{first_error, lock, Shared};
pub(crate) use up::project_name;
pub use up::{prepare_networks, up};
pub use wait::{expectations, Expectations, SETTLE};
pub(crate) use wait::{wait_dependencies, Limits};

/// Where state lives and how containers are placed.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub root: PathBuf,
    /// The cgroup under which containers' cgroups are made.
    pub cgroup_parent: String,
}

/// Why a stack operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Supervise(#[from] SuperviseError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Plan(#[from] NetPlanError),
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("{0}")]
    Invalid(String),
    #[error("{context}: {message}")]
    Failed { context: String, message: String },
    /// SIGINT or SIGTERM arrived while `up` was working or waiting; what was started stays,
    /// as the next command finds it.
    #[error("interrupted")]
    Interrupted,
}

fn invalid(m: impl Into<String>) -> StackError {
    StackError::Invalid(m.into())
}

/// Progress of a command, as Docker Compose reports it (` Container p-web-1  Started`).
pub trait Reporter: Send {
    /// `kind` is `Network`, `Container` or `Volume`.
    fn event(&mut self, kind: &str, name: &str, action: &str);
    fn warn(&mut self, message: &str);
    /// A line a lifecycle hook wrote, from `source` (`web-1 ->`): the hook's output is the
    /// user's, so it is shown whatever the progress mode.
    fn output(&mut self, source: &str, line: &str) {
        eprintln!("{source} {line}");
    }
    /// Where the progress of image pulls goes (layer by layer); `None` shows nothing.
    fn pull_progress(
        &mut self,
    ) -> Option<std::sync::Arc<dyn crate::engine::registry::PullProgress>> {
        None
    }
}

/// A reporter that prints Docker Compose's plain progress lines on standard error.
pub struct PlainReporter;

impl Reporter for PlainReporter {
    fn event(&mut self, kind: &str, name: &str, action: &str) {
        eprintln!(" {kind} {name}  {action}");
    }
    fn warn(&mut self, message: &str) {
        eprintln!("WARN[0000] {message}");
    }
}

/// Options of `up`.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Only these services (and their dependencies); empty: all.
    pub services: Vec<String>,
    pub force_recreate: bool,
    pub no_recreate: bool,
    pub no_start: bool,
    pub remove_orphans: bool,
    /// `--scale SERVICE=N`.
    pub scale: IndexMap<String, u32>,
    /// `-t/--timeout` for containers stopped to be recreated.
    pub timeout: Option<u64>,
    pub no_deps: bool,
    pub always_recreate_deps: bool,
    pub dry_run: bool,
    /// `--wait`, with `--wait-timeout` seconds.
    pub wait: bool,
    pub wait_timeout: Option<u64>,
    /// `-V/--renew-anon-volumes`: a recreated container gets new anonymous volumes.
    pub renew_anon_volumes: bool,
    /// SIGINT/SIGTERM counter (see [`attach::catch_interrupts`]): once it is non-zero, `up`
    /// stops at its next step or poll and returns [`StackError::Interrupted`].
    pub interrupts: Option<&'static AtomicUsize>,
    /// `--pull`: replaces every service's `pull_policy`.
    pub pull: Option<crate::planner::pull_policy::PullPolicy>,
    /// `DOCKER_DEFAULT_PLATFORM`: the platform pulled for services without `platform:`.
    pub default_platform: Option<String>,
}

/// Options of `down`.
#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    pub volumes: bool,
    /// `--rmi all|local`: remove the services' images (`local`: those without an `image:`,
    /// named after the project, as Docker Compose builds them).
    pub rmi: Option<String>,
    pub remove_orphans: bool,
    pub timeout: Option<u64>,
}

/// Stops a container (if running) and removes it with everything it holds: published ports,
/// addresses, state directory.
fn remove_container(
    ctx: &Ctx,
    nets: &Networks,
    o: &Observed,
    timeout: Option<u64>,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    let rec = &o.record;
    if !matches!(o.state.status, Status::Exited | Status::Created) || o.state.pid.is_some() {
        rep.event("Container", &rec.name, "Stopping");
        hooks::pre_stop(&ctx.root, o, rep);
        let sig = supervisor::parse_signal(rec.stop_signal.as_deref()).map_err(invalid)?;
        let grace = Duration::from_secs(timeout.unwrap_or(rec.stop_grace_period));
        let stop = supervisor::begin_stop(&ctx.root, &rec.id, sig, grace)?;
        ops::thaw_if_paused(rec);
        supervisor::finish_stop(&ctx.root, stop)?;
        crate::engine::events::emit(&ctx.root, rec, "stop", &[]);
        rep.event("Container", &rec.name, "Stopped");
    }
    rep.event("Container", &rec.name, "Removing");
    forget_container(ctx, nets, rec)?;
    rep.event("Container", &rec.name, "Removed");
    Ok(())
}

/// Releases what a stopped container holds and deletes its directory.
pub fn forget_container(
    ctx: &Ctx,
    nets: &Networks,
    rec: &state::ContainerRecord,
) -> Result<(), StackError> {
    for p in &rec.ports {
        nets.unpublish(&create::mapping(p))?;
    }
    for ep in &rec.endpoints {
        nets.release(&ep.network, &rec.id)?;
    }
    let dir = state::container_dir(&ctx.root, &rec.id);
    crate::engine::events::emit(&ctx.root, rec, "destroy", &[]);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StackError::Failed {
            context: format!("container {}", rec.name),
            message: format!("removing {}: {e}", dir.display()),
        }),
    }
}

/// `down`: stops and removes the project's containers, then its networks (not external ones),
/// and with `volumes` its named volumes and its containers' anonymous ones.
pub fn down(
    ctx: &Ctx,
    name: &str,
    project: Option<&Project>,
    opts: &DownOptions,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    let _lock = state::lock_project(&ctx.root, name)?;
    let nets = Networks::open(&ctx.root)?;
    let all = state::list(&ctx.root, Some(name))?;
    let (ours, orphans): (Vec<&Observed>, Vec<&Observed>) = all.iter().partition(|o| {
        o.record.one_off || project.is_none_or(|p| p.services.contains_key(&o.record.service))
    });
    let targets: Vec<&Observed> = if opts.remove_orphans || project.is_none() {
        all.iter().collect()
    } else {
        if !orphans.is_empty() {
            let names: Vec<&str> = orphans.iter().map(|o| o.record.name.as_str()).collect();
            rep.warn(&format!(
                "Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
                names.join(", ")
            ));
        }
        ours
    };
    // Dependents before their dependencies: wave by wave, the containers of one wave
    // signalled first, then waited for (and removed) together.
    let shared = std::sync::Mutex::new(rep);
    let nets = &nets;
    for wave in stop_waves(project, &targets) {
        let mut stopping = Vec::new();
        for o in wave {
            let rec = &o.record;
            let running = o.state.pid.is_some() || o.state.live_monitor().is_some();
            if running {
                lock(&shared).event("Container", &rec.name, "Stopping");
                hooks::pre_stop(&ctx.root, o, &mut Shared(&shared));
            }
            let sig = supervisor::parse_signal(rec.stop_signal.as_deref()).map_err(invalid)?;
            let grace = Duration::from_secs(opts.timeout.unwrap_or(rec.stop_grace_period));
            let stop = supervisor::begin_stop(&ctx.root, &rec.id, sig, grace)?;
            // A frozen container cannot act on its signal.
            ops::thaw_if_paused(rec);
            stopping.push((o, running, stop));
        }
        std::thread::scope(|sc| {
            let handles: Vec<_> = stopping
                .into_iter()
                .map(|(o, running, s)| {
                    let shared = &shared;
                    sc.spawn(move || -> Result<(), StackError> {
                        let mut rep = Shared(shared);
                        supervisor::finish_stop(&ctx.root, s)?;
                        if running {
                            crate::engine::events::emit(&ctx.root, &o.record, "stop", &[]);
                            rep.event("Container", &o.record.name, "Stopped");
                        }
                        rep.event("Container", &o.record.name, "Removing");
                        forget_container(ctx, nets, &o.record)?;
                        if opts.volumes {
                            anon_volumes::remove_of(&ctx.root, &o.record)?;
                        }
                        rep.event("Container", &o.record.name, "Removed");
                        Ok(())
                    })
                })
                .collect();
            first_error(handles.into_iter().map(|h| h.join()))
        })?;
    }
    let rep: &mut dyn Reporter = match shared.into_inner() {
        Ok(r) => r,
        Err(p) => p.into_inner(),
    };
    // Containers whose creation was cut short (no record): their directories only.
    for id in state::incomplete(&ctx.root) {
        let _ = std::fs::remove_dir_all(state::container_dir(&ctx.root, &id));
    }
    for info in nets.list()? {
        if info.def.project.as_deref() != Some(name) {
            continue;
        }
        // Addresses of containers whose creation was cut short (a killed `up`): no record, so
        // nothing else will ever give them back.
        for id in info.addrs.allocations.keys() {
            if state::read_record(&ctx.root, id)?.is_none() {
                nets.release(&info.def.name, id)?;
            }
        }
        rep.event("Network", &info.def.name, "Removing");
        nets.remove(&info.def.name)?;
        rep.event("Network", &info.def.name, "Removed");
    }
    if let (Some(which), Some(p)) = (opts.rmi.as_deref(), project) {
        let store = ImageStore::open(ctx.root.join("images")).map_err(|e| StackError::Failed {
            context: "image store".into(),
            message: e.to_string(),
        })?;
        let in_use: BTreeSet<String> = state::list(&ctx.root, None)?
            .into_iter()
            .map(|o| o.record.image)
            .collect();
        let mut done = BTreeSet::new();
        for (s, svc) in &p.services {
            let image = match (&svc.image, which) {
                (Some(i), "all") => i.clone(),
                (Some(_), _) => continue,
                (None, _) => format!("{name}-{s}"),
            };
            if in_use.contains(&image) || !done.insert(image.clone()) {
                continue;
            }
            if store.resolve(&image).is_ok() {
                rep.event("Image", &image, "Removing");
                store
                    .remove(&image, false)
                    .map_err(|e| StackError::Failed {
                        context: format!("image {image}"),
                        message: e.to_string(),
                    })?;
                rep.event("Image", &image, "Removed");
            }
        }
    }
    if opts.volumes {
        if let Some(p) = project {
            for (key, v) in &p.volumes {
                if !v.external.is_not_external() {
                    continue;
                }
                let vname = v.name.clone().unwrap_or_else(|| format!("{name}_{key}"));
                let dir = ctx.root.join("volumes").join(&vname);
                if dir.exists() {
                    rep.event("Volume", &vname, "Removing");
                    std::fs::remove_dir_all(&dir).map_err(|e| StackError::Failed {
                        context: format!("volume {vname}"),
                        message: e.to_string(),
                    })?;
                    rep.event("Volume", &vname, "Removed");
                }
            }
        }
    }
    Ok(())
}

/// The ports a container publishes now: those of its record while it runs, none once it has
/// stopped (its rules are gone), as Docker reports them in `ps` and `port`.
fn live_ports(o: &state::Observed) -> &[state::PublishedPort] {
    if o.state.status == Status::Running {
        &o.record.ports
    } else {
        &[]
    }
}

/// `port`: the host address and port a container port of a service is published on.
pub fn port(
    root: &Path,
    project: &str,
    service: &str,
    private_port: u16,
    protocol: crate::engine::network::nft::Protocol,
    index: u32,
) -> Result<Option<String>, StackError> {
    let all = state::list(root, Some(project))?;
    let Some(o) = all
        .iter()
        .find(|o| o.record.service == service && o.record.number == index && !o.record.one_off)
    else {
        return Err(invalid(format!(
            "service \"{service}\" is not running container #{index}"
        )));
    };
    Ok(live_ports(o)
        .iter()
        .find(|p| p.container_port == private_port && p.protocol == protocol)
        .map(|p| {
            let ip = p
                .host_ip
                .map(|i| match i {
                    std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                    v4 => v4.to_string(),
                })
                .unwrap_or_else(|| "0.0.0.0".into());
            format!("{ip}:{}", p.host_port)
        }))
}

/// One line of `ps` (`--format json` prints these, with Docker Compose's keys).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PsEntry {
    pub command: String,
    pub created_at: String,
    pub exit_code: i32,
    pub health: String,
    #[serde(rename = "ID")]
    pub id: String,
    pub image: String,
    pub labels: String,
    pub name: String,
    pub names: String,
    pub networks: String,
    pub ports: String,
    pub project: String,
    pub publishers: Vec<Publisher>,
    pub running_for: String,
    pub service: String,
    /// created, running, restarting, paused, exited, dead.
    pub state: String,
    pub status: String,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Publisher {
    #[serde(rename = "URL")]
    pub url: String,
    pub target_port: u16,
    pub published_port: u16,
    pub protocol: String,
}

/// `ps`: the project's containers (running ones unless `all`), one-offs included as Docker
/// Compose lists them.
pub fn ps(root: &Path, project: &str, all: bool) -> Result<Vec<PsEntry>, StackError> {
    let now = crate::engine::fsutil::now_secs();
    let mut out = Vec::new();
    for o in state::list(root, Some(project))? {
        let paused = o.state.status == Status::Running && ops::is_paused(&o.record);
        let running = matches!(o.state.status, Status::Running | Status::Restarting);
        if !all && !running {
            continue;
        }
        let since = |t: &Option<String>| {
            t.as_deref()
                .and_then(crate::engine::fsutil::parse_rfc3339)
                .map(|t| crate::engine::fsutil::human_duration(now - t))
        };
        let health = o
            .state
            .health
            .map(|h| h.as_str().to_string())
            .unwrap_or_default();
        let code = o.state.exit_code.unwrap_or(0);
        let status = match o.state.status {
            Status::Running => {
                let mut s = format!(
                    "Up {}",
                    since(&o.state.started_at).unwrap_or_else(|| "Less than a second".into())
                );
                if !health.is_empty() {
                    s.push_str(&format!(" ({health})"));
                }
                if paused {
                    s.push_str(" (Paused)");
                }
                s
            }
            Status::Restarting => format!("Restarting ({code})"),
            Status::Created => "Created".to_string(),
            Status::Exited => format!(
                "Exited ({code}) {} ago",
                since(&o.state.finished_at).unwrap_or_else(|| "Less than a second".into())
            ),
            // Its monitor is gone (killed, or a reboot): `up` starts it again, `down` cleans up.
            Status::Dead => "Dead".to_string(),
        };
        let state_word = if paused {
            "paused"
        } else {
            o.state.status.as_str()
        };
        let mut publishers: Vec<Publisher> = live_ports(&o)
            .iter()
            .map(|p| Publisher {
                url: p
                    .host_ip
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "0.0.0.0".into()),
                target_port: p.container_port,
                published_port: p.host_port,
                protocol: p.protocol.name().to_string(),
            })
            .collect();
        if o.state.status == Status::Running && proxy::host_has_ipv6() {
            // What its monitor relays on IPv6, as Docker lists `[::]:8080->80/tcp` too.
            publishers.extend(proxy::forwards(&o.record.ports).iter().map(|f| Publisher {
                url: f.listen.ip().to_string(),
                target_port: f.target.port(),
                published_port: f.listen.port(),
                protocol: f.protocol.name().to_string(),
            }));
        }
        if o.state.status == Status::Running {
            let exposed = expose::publishers(&o.record.expose, &publishers);
            publishers.extend(exposed);
        }
        let ports = (publishers.iter().map(expose::display))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(PsEntry {
            command: format!("\"{}\"", o.record.spec.process.args.join(" ")),
            created_at: crate::engine::fsutil::format_go_time(o.record.created),
            exit_code: code,
            health,
            id: o.record.id.clone(),
            image: o.record.image.clone(),
            labels: o
                .record
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
            name: o.record.name.clone(),
            names: o.record.name.clone(),
            networks: o
                .record
                .endpoints
                .iter()
                .map(|e| e.network.clone())
                .collect::<Vec<_>>()
                .join(","),
            ports,
            project: o.record.project.clone(),
            publishers,
            running_for: format!(
                "{} ago",
                crate::engine::fsutil::human_duration(now - o.record.created)
            ),
            service: o.record.service.clone(),
            state: state_word.to_string(),
            status,
        });
    }
    Ok(out)
}

/// One line of a container's log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct LogLine {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// `restart`: stops the project's containers (of `services`; all when empty) and starts them
/// again, keeping their addresses, ports and names.
pub fn restart(
    ctx: &Ctx,
    project: &str,
    services: &[String],
    timeout: Option<u64>,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    let _lock = state::lock_project(&ctx.root, project)?;
    let mut all = state::list(&ctx.root, Some(project))?;
    // In the order given (dependencies first, see `restart_deps`), as Docker Compose restarts.
    all.sort_by_key(|o| services.iter().position(|s| *s == o.record.service));
    for o in all {
        if o.record.one_off || (!services.is_empty() && !services.contains(&o.record.service)) {
            continue;
        }
        rep.event("Container", &o.record.name, "Restarting");
        hooks::pre_stop(&ctx.root, &o, rep);
        let sig = supervisor::parse_signal(o.record.stop_signal.as_deref()).map_err(invalid)?;
        let grace = Duration::from_secs(timeout.unwrap_or(o.record.stop_grace_period));
        // Docker's events: kill, die (the monitor's), stop, start (the monitor's), restart.
        crate::engine::events::emit(
            &ctx.root,
            &o.record,
            "kill",
            &[("signal", ops::signal_number(sig))],
        );
        let stop = supervisor::begin_stop(&ctx.root, &o.record.id, sig, grace)?;
        ops::thaw_if_paused(&o.record);
        supervisor::finish_stop(&ctx.root, stop)?;
        crate::engine::events::emit(&ctx.root, &o.record, "stop", &[]);
        supervisor::launch(&ctx.root, &o.record.id)?;
        crate::engine::events::emit(&ctx.root, &o.record, "restart", &[]);
        rep.event("Container", &o.record.name, "Started");
        hooks::post_start(&ctx.root, &o.record.id, rep)?;
    }
    Ok(())
}
