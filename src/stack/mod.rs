//! Running a project: the commands' bodies (`up`, `down`, `port`, `ps`) as library functions,
//! organized like Docker Compose's `pkg/compose`: everything is checked and planned before the
//! first change; then networks, containers (in dependency order) and their monitors.
//!
//! State is on disk only (see [`crate::engine::state`]), guarded by the project's lock, so two
//! commands on one project never interleave and a command killed half-way leaves records the
//! next `up` or `down` can finish.

pub mod anon_volumes;
pub mod attach;
pub mod cp;
pub mod cp_stream;
pub mod create;
pub mod exec;
pub mod expose;
pub mod external_links;
pub mod hooks;
pub mod inspect;
pub mod oneoff;
pub mod ops;
pub mod pull;
pub mod restart_deps;

mod down;
mod port;
mod ps;
mod restart;

pub use down::down;
pub use port::port;
pub use ps::{ps, PsEntry, Publisher};
pub use restart::restart;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use indexmap::IndexMap;

use crate::engine::container::{Container, ContainerError};
use crate::engine::image::ImageStore;
use crate::engine::network::manager::{NetworkError, Networks};
use crate::engine::state::{self, Observed, StateError, Status};
use crate::engine::supervisor::{self, SuperviseError};
use crate::model::types::resources::Project;
use crate::planner::network::{self as netplan, NetPlanError, NetworkChoice, ServiceNetMode};
use crate::planner::support;

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
    Container(#[from] ContainerError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Plan(#[from] NetPlanError),
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

fn project_name(project: &Project) -> Result<String, StackError> {
    project
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("the project has no name"))
}

/// Desired number of containers of a service.
fn replicas(project: &Project, service: &str, opts: &UpOptions) -> u32 {
    if let Some(n) = opts.scale.get(service) {
        return *n;
    }
    let svc = &project.services[service];
    if let Some(n) = svc.scale {
        return n as u32;
    }
    svc.deploy
        .as_ref()
        .and_then(|d| d.replicas)
        .map(|n| n as u32)
        .unwrap_or(1)
}

/// The services whose first container `svc`'s configuration names: `service:X` namespaces and
/// `volumes_from: X`. Docker Compose resolves these to X's container id before hashing, so
/// `up` recreates `svc` whenever that container is new.
fn shared_targets(svc: &crate::model::types::service::ServiceConfig) -> Vec<String> {
    let namespaces = [&svc.network_mode, &svc.ipc, &svc.pid, &svc.uts, &svc.cgroup];
    let mut out: Vec<String> = namespaces
        .into_iter()
        .flatten()
        .filter_map(|m| m.strip_prefix("service:"))
        .map(str::to_string)
        .collect();
    out.extend(
        svc.volumes_from
            .iter()
            .filter(|v| !v.starts_with("container:"))
            .map(|v| v.split(':').next().unwrap_or(v).to_string()),
    );
    out
}

/// The services `service` depends on: `depends_on`, `links`, `network_mode: service:`,
/// `volumes_from`.
pub fn service_deps(project: &Project, service: &str) -> Vec<String> {
    let Some(svc) = project.services.get(service) else {
        return Vec::new();
    };
    let mut deps: Vec<String> = svc.depends_on.keys().cloned().collect();
    deps.extend(
        svc.links
            .iter()
            .map(|l| l.split(':').next().unwrap_or(l.as_str()).to_string()),
    );
    if let Some(s) = svc
        .network_mode
        .as_deref()
        .and_then(|m| m.strip_prefix("service:"))
    {
        deps.push(s.to_string());
    }
    for v in &svc.volumes_from {
        if !v.starts_with("container:") {
            deps.push(v.split(':').next().unwrap_or(v.as_str()).to_string());
        }
    }
    deps
}

/// Services in the order they must start: dependencies (`depends_on`, `links`,
/// `network_mode: service:`, `volumes_from`) first. Fails on a cycle, naming it.
pub fn start_order(project: &Project, wanted: &[String]) -> Result<Vec<String>, StackError> {
    use petgraph::graph::DiGraph;
    let mut g = DiGraph::<&str, ()>::new();
    let mut idx = BTreeMap::new();
    for name in project.services.keys() {
        idx.insert(name.as_str(), g.add_node(name.as_str()));
    }
    for (name, svc) in &project.services {
        let deps = service_deps(project, name);
        for d in deps.iter().map(String::as_str) {
            if let Some(&di) = idx.get(d) {
                g.add_edge(di, idx[name.as_str()], ());
            } else if svc.depends_on.get(d).is_none_or(|dep| dep.required) {
                return Err(invalid(format!(
                    "service {name} depends on undefined service {d}"
                )));
            }
        }
    }
    let order = petgraph::algo::toposort(&g, None).map_err(|c| {
        invalid(format!(
            "dependency cycle detected involving service {}",
            g[c.node_id()]
        ))
    })?;
    // The services asked for and everything they depend on.
    let mut keep: BTreeSet<&str> = BTreeSet::new();
    if wanted.is_empty() {
        keep.extend(project.services.keys().map(String::as_str));
    } else {
        let mut stack: Vec<petgraph::graph::NodeIndex> = Vec::new();
        for w in wanted {
            let i = idx
                .get(w.as_str())
                .ok_or_else(|| invalid(format!("no such service: {w}")))?;
            stack.push(*i);
        }
        while let Some(i) = stack.pop() {
            if keep.insert(g[i]) {
                stack.extend(g.neighbors_directed(i, petgraph::Direction::Incoming));
            }
        }
    }
    Ok(order
        .into_iter()
        .map(|i| g[i])
        .filter(|n| keep.contains(n))
        .map(String::from)
        .collect())
}

/// The project's networks the given services use, keyed by their Compose key.
fn used_networks(
    project: &Project,
    name: &str,
    services: &[String],
) -> Result<IndexMap<String, NetworkChoice>, StackError> {
    let mut out = IndexMap::new();
    for s in services {
        if let ServiceNetMode::Networks(keys) = netplan::net_mode(s, &project.services[s])? {
            for k in keys {
                if out.contains_key(&k) {
                    continue;
                }
                let cfg = project.networks.get(&k).ok_or_else(|| {
                    invalid(format!("service {s} refers to undefined network {k}"))
                })?;
                out.insert(k.clone(), netplan::network_choice(name, &k, cfg)?);
            }
        }
    }
    Ok(out)
}

/// Makes sure the networks `services` use exist (external ones checked); for `run`.
pub fn prepare_networks(
    ctx: &Ctx,
    project: &Project,
    services: &[String],
    rep: &mut dyn Reporter,
) -> Result<Networks, StackError> {
    let name = project_name(project)?;
    let nets = Networks::open(&ctx.root)?;
    for choice in used_networks(project, &name, services)?.values() {
        match choice {
            NetworkChoice::External(n) => {
                if nets.get(n)?.is_none() {
                    return Err(invalid(format!(
                        "network {n} declared as external, but could not be found"
                    )));
                }
            }
            NetworkChoice::Managed(def) => {
                if nets.get(&def.name)?.is_none() {
                    rep.event("Network", &def.name, "Creating");
                    nets.ensure(def)?;
                    rep.event("Network", &def.name, "Created");
                } else {
                    nets.ensure(def)?;
                }
            }
        }
    }
    Ok(nets)
}

/// `up`: creates what is missing, recreates what changed, starts what is stopped (see
/// [`crate::planner::reconcile`]), waiting before each service for the conditions of its
/// `depends_on`, and with `wait` for every service to be running, healthy or completed.
pub fn up(
    ctx: &Ctx,
    project: &Project,
    opts: &UpOptions,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    use crate::planner::reconcile::{self, Action, Existing, Wanted};
    let name = project_name(project)?;
    // `--wait-timeout` bounds every wait of this `up`, those for dependencies included.
    let limits = Limits {
        deadline: opts
            .wait
            .then_some(opts.wait_timeout)
            .flatten()
            .map(|t| Instant::now() + Duration::from_secs(t)),
        interrupts: opts.interrupts,
    };
    let mut order = start_order(project, &opts.services)?;
    if opts.no_deps && !opts.services.is_empty() {
        order.retain(|s| opts.services.contains(s));
    }
    let _lock = state::lock_project(&ctx.root, &name)?;
    let nets = Networks::open(&ctx.root)?;

    // Everything is checked before the first change.
    let store = ImageStore::open(ctx.root.join("images")).map_err(|e| StackError::Failed {
        context: "image store".into(),
        message: e.to_string(),
    })?;
    for s in &order {
        for w in support::check_service(s, &project.services[s], &support::Facts::host())
            .map_err(|e| invalid(e.to_string()))?
        {
            rep.warn(&w);
        }
    }
    // Pulls next (all at once), before the first change: a failed pull leaves nothing created.
    if !opts.dry_run {
        pull::ensure_images(
            &store,
            project,
            &order,
            opts.pull,
            opts.default_platform.as_deref(),
            rep,
        )?;
    }
    let mut images = BTreeMap::new();
    for s in &order {
        let svc = &project.services[s];
        let image_ref = svc.image.clone().unwrap_or_else(|| format!("{name}-{s}"));
        let image = store.resolve(&image_ref).map_err(|e| StackError::Failed {
            context: format!("service {s}"),
            message: format!(
                "image {image_ref}: {e}{}",
                if svc.image.is_some() {
                    ""
                } else {
                    " (the service has no `image:` to pull, and building images is not supported yet)"
                }
            ),
        })?;
        netplan::port_requests(s, svc)?;
        netplan::net_mode(s, svc)?;
        netplan::check_endpoints(s, svc)?;
        external_links::check(&ctx.root, &name, project, s, svc)?;
        crate::planner::container::check_sysctls(s, svc).map_err(|e| invalid(e.to_string()))?;
        crate::planner::preflight::check(project, s).map_err(invalid)?;
        support::check_image(s, svc, &image.config).map_err(|e| invalid(e.to_string()))?;
        images.insert(s.clone(), (image_ref, image));
    }
    let networks = used_networks(project, &name, &order)?;
    for choice in networks.values() {
        if let NetworkChoice::External(n) = choice {
            if nets.get(n)?.is_none() {
                return Err(invalid(format!(
                    "network {n} declared as external, but could not be found"
                )));
            }
        }
    }

    let observed = state::list(&ctx.root, Some(&name))?;
    let existing: Vec<Existing> = observed
        .iter()
        .filter(|o| !o.record.one_off)
        .map(|o| Existing {
            id: o.record.id.clone(),
            name: o.record.name.clone(),
            service: o.record.service.clone(),
            number: o.record.number,
            hash: o.record.config_hash.clone(),
            running: matches!(o.state.status, Status::Running | Status::Restarting),
        })
        .collect();
    let wanted: IndexMap<String, Wanted> = order
        .iter()
        .map(|s| {
            let svc = &project.services[s];
            (
                s.clone(),
                Wanted {
                    hash: crate::model::hash::service_hash(svc),
                    replicas: replicas(project, s, opts),
                    restart_with: svc
                        .depends_on
                        .iter()
                        .filter(|(_, d)| d.restart)
                        .map(|(k, _)| k.clone())
                        .collect(),
                    shares_with: shared_targets(svc),
                    depends_on: svc.depends_on.keys().cloned().collect(),
                },
            )
        })
        .collect();
    let all: Vec<String> = project.services.keys().cloned().collect();
    let plan = reconcile::plan(
        &order,
        &wanted,
        &all,
        &existing,
        reconcile::Options {
            force_recreate: opts.force_recreate,
            no_recreate: opts.no_recreate,
            always_recreate_deps: opts.always_recreate_deps,
            remove_orphans: opts.remove_orphans,
        },
    );
    if !plan.orphans.is_empty() {
        rep.warn(&format!(
            "Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            plan.orphans.join(", ")
        ));
    }
    // Docker's start of a paused container fails, and with it Docker Compose's `up` (and `run`,
    // which brings its dependencies up): said before anything changes.
    for a in &plan.actions {
        if let Action::Keep { id, .. } = a {
            if let Some(o) = observed.iter().find(|o| &o.record.id == id) {
                if ops::is_paused(&o.record) {
                    return Err(invalid(
                        "Error response from daemon: cannot start a paused container, try unpause instead",
                    ));
                }
            }
        }
    }
    if opts.dry_run {
        for choice in networks.values() {
            if let NetworkChoice::Managed(def) = choice {
                if nets.get(&def.name)?.is_none() {
                    rep.event("Network", &def.name, "DRY-RUN MODE - Created");
                }
            }
        }
        for a in &plan.actions {
            let (n, what) = match a {
                Action::Create { service, number } => (
                    create::container_name(&name, service, &project.services[service], *number),
                    "Created",
                ),
                Action::Recreate { name, .. } => (name.clone(), "Recreated"),
                Action::Start { name, .. } => (name.clone(), "Started"),
                Action::Restart { name, .. } => (name.clone(), "Restarted"),
                Action::Keep { name, .. } => (name.clone(), "Running"),
                Action::Remove { name, .. } => (name.clone(), "Removed"),
            };
            rep.event("Container", &n, &format!("DRY-RUN MODE - {what}"));
        }
        return Ok(());
    }

    for choice in networks.values() {
        if let NetworkChoice::Managed(def) = choice {
            let existed = nets.get(&def.name)?.is_some();
            if !existed {
                rep.event("Network", &def.name, "Creating");
            }
            nets.ensure(def)?;
            if !existed {
                rep.event("Network", &def.name, "Created");
            }
        }
    }

    let by_id: BTreeMap<&str, &Observed> =
        observed.iter().map(|o| (o.record.id.as_str(), o)).collect();
    let creator = std::sync::Mutex::new(create::Creator::new(ctx, project, &name, &nets)?);
    let shared = std::sync::Mutex::new(rep);

    // Orphans first; then the services level by level of the dependency graph, the services of
    // one level (and the replicas of one service) concurrently.
    let mut per_service: IndexMap<&str, Vec<&Action>> = IndexMap::new();
    for a in &plan.actions {
        let service = match a {
            Action::Create { service, .. }
            | Action::Recreate { service, .. }
            | Action::Start { service, .. }
            | Action::Restart { service, .. }
            | Action::Keep { service, .. } => Some(service.as_str()),
            Action::Remove { id, .. } => by_id
                .get(id.as_str())
                .map(|o| o.record.service.as_str())
                .filter(|s| order.iter().any(|o| o == s)),
        };
        match service {
            Some(s) => per_service.entry(s).or_default().push(a),
            None => {
                if let Action::Remove { id, .. } = a {
                    if let Some(o) = by_id.get(id.as_str()) {
                        let mut r = Shared(&shared);
                        remove_container(ctx, &nets, o, opts.timeout, &mut r)?;
                    }
                }
            }
        }
    }
    let mut level: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &order {
        let l = service_deps(project, s)
            .iter()
            .filter_map(|d| level.get(d.as_str()))
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        level.insert(s.as_str(), l);
    }
    let max_level = level.values().copied().max().unwrap_or(0);
    // `restart: true` dependents of a recreated service stop before anything is replaced
    // (dependents first), as Docker Compose's convergence does; each starts again at its level.
    let restarting: Vec<&Observed> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Restart { id, .. } => by_id.get(id.as_str()).copied(),
            _ => None,
        })
        .collect();
    for wave in stop_waves(Some(project), &restarting) {
        ops::stop_all(ctx, &wave, opts.timeout, &mut Shared(&shared))?;
    }
    let run_service = |s: &str, actions: &[&Action]| -> Result<(), StackError> {
        let mut r = Shared(&shared);
        let mut waited = false;
        let mut launches: Vec<(String, String)> = Vec::new();
        for a in actions {
            limits.check(None)?;
            let starts = matches!(
                a,
                Action::Create { .. }
                    | Action::Recreate { .. }
                    | Action::Start { .. }
                    | Action::Restart { .. }
            );
            if starts && !opts.no_start && !waited {
                // A service's dependencies' conditions hold before its first container starts.
                wait_dependencies(ctx, project, &name, s, limits, &mut r)?;
                waited = true;
            }
            let start = match a {
                Action::Remove { id, .. } => {
                    if let Some(o) = by_id.get(id.as_str()) {
                        remove_container(ctx, &nets, o, opts.timeout, &mut r)?;
                    }
                    None
                }
                Action::Keep { id, name, .. } => {
                    // Its ports as this version publishes them (rules lost to an `nft flush`,
                    // or written by an older version, are put back as they should be).
                    if let Some(o) = by_id.get(id.as_str()) {
                        for port in &o.record.ports {
                            nets.ensure_published(&create::mapping(port))?;
                        }
                    }
                    r.event("Container", name, "Running");
                    None
                }
                Action::Start { id, name, .. } | Action::Restart { id, name, .. } => {
                    // Published ports go with a reboot (or an `nft flush`): put them back.
                    if let Some(o) = by_id.get(id.as_str()) {
                        for port in &o.record.ports {
                            nets.publish(&create::mapping(port))?;
                        }
                    }
                    Some((id.clone(), name.clone()))
                }
                Action::Create { service, number } => {
                    let svc = &project.services[service];
                    let cname = create::container_name(&name, service, svc, *number);
                    r.event("Container", &cname, "Creating");
                    let (image_ref, image) = &images[service];
                    let rec = lock(&creator).create(
                        service,
                        *number,
                        &wanted[service].hash,
                        image_ref,
                        image,
                    )?;
                    r.event("Container", &rec.name, "Created");
                    Some((rec.id, rec.name))
                }
                Action::Recreate {
                    service,
                    number,
                    id,
                    name: old,
                } => {
                    r.event("Container", old, "Recreate");
                    let mut previous = IndexMap::new();
                    if let Some(o) = by_id.get(id.as_str()) {
                        previous = anon_volumes::of(&o.record);
                        remove_container(ctx, &nets, o, opts.timeout, &mut Muted(&mut r))?;
                    }
                    let (image_ref, image) = &images[service];
                    let inherited = match opts.renew_anon_volumes {
                        true => IndexMap::new(),
                        false => previous.clone(),
                    };
                    let rec = lock(&creator).create_replacing(
                        service,
                        *number,
                        &wanted[service].hash,
                        image_ref,
                        image,
                        &inherited,
                    )?;
                    // Those the new container did not take (`-V`, a mount gone from the
                    // service) belong to nothing any more: no command could reach them.
                    let unused = previous
                        .values()
                        .filter(|v| !rec.anonymous_volumes.values().any(|n| n == *v));
                    if let Err(e) = anon_volumes::remove(
                        &ctx.root.join("volumes"),
                        unused.map(PathBuf::as_path),
                    ) {
                        r.warn(&e.to_string());
                    }
                    r.event("Container", &rec.name, "Recreated");
                    Some((rec.id, rec.name))
                }
            };
            if let (Some(l), false) = (start, opts.no_start) {
                launches.push(l);
            }
        }
        // The replicas start together.
        std::thread::scope(|sc| {
            let handles: Vec<_> = launches
                .iter()
                .map(|(id, cname)| {
                    let shared = &shared;
                    sc.spawn(move || -> Result<(), StackError> {
                        let mut r = Shared(shared);
                        r.event("Container", cname, "Starting");
                        // Its monitor writes the `start` event.
                        supervisor::launch(&ctx.root, id)?;
                        r.event("Container", cname, "Started");
                        hooks::post_start(&ctx.root, id, &mut r)
                    })
                })
                .collect();
            first_error(handles.into_iter().map(|h| h.join()))
        })
    };
    for l in 0..=max_level {
        limits.check(None)?;
        let services: Vec<&str> = order
            .iter()
            .map(String::as_str)
            .filter(|s| level.get(s) == Some(&l))
            .collect();
        std::thread::scope(|sc| {
            let handles: Vec<_> = services
                .iter()
                .filter_map(|s| per_service.get(s).map(|a| (*s, a)))
                .map(|(s, actions)| {
                    let run_service = &run_service;
                    sc.spawn(move || run_service(s, actions))
                })
                .collect();
            first_error(handles.into_iter().map(|h| h.join()))
        })?;
    }
    let rep: &mut dyn Reporter = match shared.into_inner() {
        Ok(r) => r,
        Err(p) => p.into_inner(),
    };
    if opts.wait && !opts.no_start {
        wait_services(ctx, project, &name, &order, limits, rep)?;
    }
    Ok(())
}

/// A reporter shared by the threads of one command.
struct Shared<'a, 'r>(&'a std::sync::Mutex<&'r mut dyn Reporter>);

impl Reporter for Shared<'_, '_> {
    fn event(&mut self, kind: &str, name: &str, action: &str) {
        lock(self.0).event(kind, name, action);
    }
    fn warn(&mut self, message: &str) {
        lock(self.0).warn(message);
    }
    fn output(&mut self, source: &str, line: &str) {
        lock(self.0).output(source, line);
    }
}

/// Locks `m`; a thread that panicked holding it left nothing half-done that matters here.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// The first error of joined threads (a panic is resumed).
fn first_error(
    results: impl Iterator<Item = std::thread::Result<Result<(), StackError>>>,
) -> Result<(), StackError> {
    let mut first = Ok(());
    for r in results {
        match r {
            Ok(Err(e)) if first.is_ok() => first = Err(e),
            Ok(_) => {}
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
    first
}

/// A reporter that drops progress events but passes on warnings and hook output (a recreation
/// reports only `Recreate`/`Recreated`, yet a `pre_stop` hook's output and failure are shown).
struct Muted<'a>(&'a mut dyn Reporter);

impl Reporter for Muted<'_> {
    fn event(&mut self, _: &str, _: &str, _: &str) {}
    fn warn(&mut self, message: &str) {
        self.0.warn(message);
    }
    fn output(&mut self, source: &str, line: &str) {
        self.0.output(source, line);
    }
}

/// How often waits look at the containers' state (their monitors write it).
const POLL: Duration = Duration::from_millis(25);

/// Waits until the `depends_on` conditions of `service` hold; a dependency that fails (exits
/// when it should run, turns unhealthy, completes with an error) fails the `up`, unless it is
/// `required: false`.
fn wait_dependencies(
    ctx: &Ctx,
    project: &Project,
    name: &str,
    service: &str,
    limits: Limits,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    use crate::model::types::service::DependencyCondition as C;
    let svc = &project.services[service];
    for (dep, d) in &svc.depends_on {
        if d.condition == C::ServiceStarted {
            continue;
        }
        let result = loop {
            let mine: Vec<Observed> = state::list(&ctx.root, Some(name))?
                .into_iter()
                .filter(|o| &o.record.service == dep && !o.record.one_off)
                .collect();
            if mine.is_empty() {
                break Err(format!("dependency {dep} of {service} has no container"));
            }
            match verdict(&mine, d.condition) {
                Verdict::Ready => break Ok(()),
                Verdict::Failed(m) => break Err(m),
                Verdict::Pending => {
                    limits.check(Some(&|| format!("dependency {dep} of {service}")))?;
                    std::thread::sleep(POLL)
                }
            }
        };
        match result {
            Ok(()) => {
                let what = if d.condition == C::ServiceHealthy {
                    "Healthy"
                } else {
                    "Exited"
                };
                for o in state::list(&ctx.root, Some(name))?
                    .iter()
                    .filter(|o| &o.record.service == dep)
                {
                    rep.event("Container", &o.record.name, what);
                }
            }
            Err(m) if !d.required => rep.warn(&format!("optional dependency {dep}: {m}")),
            Err(m) => return Err(invalid(m)),
        }
    }
    Ok(())
}

enum Verdict {
    Ready,
    Pending,
    Failed(String),
}

/// Whether containers meet a `depends_on` condition.
fn verdict(
    containers: &[Observed],
    condition: crate::model::types::service::DependencyCondition,
) -> Verdict {
    use crate::engine::state::Health;
    use crate::model::types::service::DependencyCondition as C;
    let mut pending = false;
    for o in containers {
        let n = &o.record.name;
        let code = o.state.exit_code.unwrap_or(0);
        match condition {
            C::ServiceStarted => {}
            C::ServiceHealthy => {
                if o.record.healthcheck.is_none() {
                    return Verdict::Failed(format!(
                        "dependency failed to start: container {n} has no healthcheck configured"
                    ));
                }
                match (o.state.status, o.state.health) {
                    (Status::Running, Some(Health::Healthy)) => {}
                    (Status::Running, Some(Health::Unhealthy)) => {
                        return Verdict::Failed(format!(
                            "dependency failed to start: container {n} is unhealthy"
                        ))
                    }
                    (Status::Exited | Status::Dead, _) if o.state.live_monitor().is_none() => {
                        return Verdict::Failed(format!(
                            "dependency failed to start: container {n} exited ({code})"
                        ))
                    }
                    _ => pending = true,
                }
            }
            C::ServiceCompletedSuccessfully => match o.state.status {
                Status::Exited | Status::Dead if o.state.live_monitor().is_none() => {
                    if code != 0 {
                        return Verdict::Failed(format!(
                            "service \"{}\" didn't complete successfully: exit {code}",
                            o.record.service
                        ));
                    }
                }
                _ => pending = true,
            },
        }
    }
    if pending {
        Verdict::Pending
    } else {
        Verdict::Ready
    }
}

/// What cuts the waits of one `up` short: `--wait-timeout`'s deadline, and SIGINT/SIGTERM.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Limits {
    pub(crate) deadline: Option<Instant>,
    pub(crate) interrupts: Option<&'static AtomicUsize>,
}

impl Limits {
    /// Fails with [`StackError::Interrupted`] once an interrupt came and, when something is
    /// being waited for (`waiting_for` names it), once the deadline has passed.
    fn check(&self, waiting_for: Option<&dyn Fn() -> String>) -> Result<(), StackError> {
        if self
            .interrupts
            .is_some_and(|n| n.load(Ordering::SeqCst) > 0)
        {
            return Err(StackError::Interrupted);
        }
        if let (Some(what), Some(deadline)) = (waiting_for, self.deadline) {
            if Instant::now() >= deadline {
                return Err(invalid(format!(
                    "timeout waiting for {} to be running and healthy",
                    what()
                )));
            }
        }
        Ok(())
    }
}

/// How long a container without a healthcheck must have been running before `up --wait`
/// counts it as up. A service that dies on start-up (a wrong command, a missing file, a port
/// in use) does so within milliseconds; Docker Compose's check ("running") reports it as up
/// and CI goes on against nothing. Containers settle together, so this costs at most this
/// long once per `up --wait`, and only where no healthcheck says more.
pub const SETTLE: Duration = Duration::from_millis(500);

/// What the services being started expect of each other.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectations {
    /// Services that must keep running: another one depends on them being started or
    /// healthy, links to them, or shares their network namespace or volumes.
    pub must_run: BTreeSet<String>,
    /// Services depended on only with `service_completed_successfully`: their exit 0 is what
    /// they are for, so it neither fails `up --wait` nor aborts an attached `up`.
    pub one_shots: BTreeSet<String>,
}

/// The [`Expectations`] of the services in `scope` (those `up` starts).
pub fn expectations(project: &Project, scope: &[String]) -> Expectations {
    use crate::model::types::service::DependencyCondition as C;
    let mut must_run = BTreeSet::new();
    let mut completed = BTreeSet::new();
    for s in scope {
        let Some(svc) = project.services.get(s) else {
            continue;
        };
        for (dep, d) in &svc.depends_on {
            if d.condition == C::ServiceCompletedSuccessfully {
                completed.insert(dep.clone());
            } else {
                must_run.insert(dep.clone());
            }
        }
        // links, network_mode: service:, volumes_from.
        let mut others = service_deps(project, s);
        others.drain(..svc.depends_on.len());
        must_run.extend(others);
    }
    let one_shots = completed.difference(&must_run).cloned().collect();
    Expectations {
        must_run,
        one_shots,
    }
}

/// Where one container stands for `up --wait`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Readiness {
    /// Up (the word Docker Compose reports it with).
    Ready(&'static str),
    Pending,
    Failed(String),
}

/// Where container `name` of `service` stands, from its observed state `st` (a PID that is
/// gone has been cleared by [`state::RunState::observed`]) at `now` (nanoseconds since the
/// epoch).
fn readiness(
    name: &str,
    service: &str,
    st: &state::RunState,
    has_healthcheck: bool,
    live_monitor: bool,
    exp: &Expectations,
    now: i64,
) -> Readiness {
    use crate::engine::state::Health;
    match st.status {
        // Its PID 1 is gone and the monitor is about to record how it ended.
        Status::Running if st.pid.is_none() => Readiness::Pending,
        Status::Running if has_healthcheck => match st.health {
            Some(Health::Healthy) => Readiness::Ready("Healthy"),
            Some(Health::Unhealthy) => Readiness::Failed(format!("container {name} is unhealthy")),
            _ => Readiness::Pending,
        },
        Status::Running => {
            let started = st.started_at.as_deref().and_then(attach::parse_log_time);
            let settled = started.is_none_or(|t| now.saturating_sub(t) >= SETTLE.as_nanos() as i64);
            if settled {
                Readiness::Ready("Healthy")
            } else {
                Readiness::Pending
            }
        }
        Status::Restarting => match st.exit_code {
            Some(code) if code != 0 => {
                Readiness::Failed(format!("container {name} exited ({code})"))
            }
            _ => Readiness::Pending,
        },
        // Its monitor lives: it is about to be restarted, or its exit to be recorded.
        Status::Exited | Status::Dead | Status::Created if live_monitor => Readiness::Pending,
        Status::Exited => match st.exit_code.unwrap_or(0) {
            0 if exp.must_run.contains(service) => Readiness::Failed(format!(
                "container {name} exited (0), but services that depend on {service} need it running"
            )),
            0 => Readiness::Ready("Exited"),
            code => Readiness::Failed(format!("container {name} exited ({code})")),
        },
        Status::Dead => Readiness::Failed(format!(
            "container {name} is dead: its monitor is gone (exit code {})",
            st.exit_code
                .map_or("unknown".to_string(), |c| c.to_string())
        )),
        Status::Created => Readiness::Pending,
    }
}

/// `up --wait`: waits until, at one look, every container of `services` is up: healthy when
/// it has a healthcheck, else running for [`SETTLE`]; or exited with 0 when nothing needs it
/// running (one-shots). A container that exits non-zero, turns unhealthy, or exits while
/// another service needs it started fails the wait, with its name and exit code, whenever
/// that happens before the others are up.
fn wait_services(
    ctx: &Ctx,
    project: &Project,
    name: &str,
    services: &[String],
    limits: Limits,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    let exp = expectations(project, services);
    let mut reported: BTreeSet<String> = BTreeSet::new();
    loop {
        let now = attach::now_nanos();
        let mut pending = Vec::new();
        for o in state::list(&ctx.root, Some(name))?
            .into_iter()
            .filter(|o| !o.record.one_off && services.contains(&o.record.service))
        {
            let n = &o.record.name;
            let live_monitor = o.state.live_monitor().is_some();
            match readiness(
                n,
                &o.record.service,
                &o.state,
                o.record.healthcheck.is_some(),
                live_monitor,
                &exp,
                now,
            ) {
                Readiness::Ready(what) => {
                    if reported.insert(n.clone()) {
                        rep.event("Container", n, what);
                    }
                }
                Readiness::Pending => pending.push(n.clone()),
                Readiness::Failed(m) => return Err(invalid(m)),
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        limits.check(Some(&|| pending.join(", ")))?;
        std::thread::sleep(POLL);
    }
}

/// Each service's level in the dependency graph: 0 without dependencies, else one more than
/// its highest dependency. Empty for a project with a dependency cycle (it could not start).
pub fn service_levels(project: &Project) -> BTreeMap<String, usize> {
    let mut level: BTreeMap<String, usize> = BTreeMap::new();
    for s in start_order(project, &[]).unwrap_or_default() {
        let l = service_deps(project, &s)
            .iter()
            .filter_map(|d| level.get(d.as_str()))
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        level.insert(s, l);
    }
    level
}

/// Containers in the waves `stop` and `down` stop them in: every service's dependents
/// (`depends_on`, links, `network_mode: service:`, `volumes_from`) in a wave before its own,
/// as Docker Compose does, so a database outlives the applications writing to it. Containers
/// of services `project` does not know (orphans; all of them without a project file) and
/// one-off containers go first.
pub fn stop_waves<'a>(
    project: Option<&Project>,
    targets: &[&'a Observed],
) -> Vec<Vec<&'a Observed>> {
    let level = project.map(service_levels).unwrap_or_default();
    let first = level.values().copied().max().map_or(0, |m| m + 1);
    let mut waves: BTreeMap<std::cmp::Reverse<usize>, Vec<&'a Observed>> = BTreeMap::new();
    for o in targets {
        let l = match level.get(o.record.service.as_str()) {
            Some(l) if !o.record.one_off => *l,
            _ => first,
        };
        waves.entry(std::cmp::Reverse(l)).or_default().push(*o);
    }
    waves.into_values().collect()
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
        let c = Container::of(&ctx.root, rec);
        let sig = c.stop_signal().map_err(invalid)?;
        let grace = Duration::from_secs(timeout.unwrap_or(rec.stop_grace_period));
        c.stop(sig, grace)?;
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
    Ok(Container::of(&ctx.root, rec).remove(nets)?)
}

/// One line of a container's log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct LogLine {
    pub log: String,
    pub stream: String,
    pub time: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::state::{Health, RunState};

    fn project(text: &str) -> Project {
        let tree =
            crate::model::yaml::parse_file_text(text, Some(std::path::Path::new("compose.yaml")))
                .expect("valid YAML");
        crate::model::de::from_node(&tree).expect("valid project")
    }

    const CI: &str = "\
services:
  setup: {image: busybox}
  db: {image: busybox}
  cache: {image: busybox}
  tests:
    image: busybox
    depends_on:
      setup: {condition: service_completed_successfully}
      db: {condition: service_healthy}
      cache: {condition: service_started}
  proxy:
    image: busybox
    network_mode: service:tests
";

    fn strings(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_shots_are_awaited_only_for_their_completion() {
        let p = project(CI);
        let all: Vec<String> = p.services.keys().cloned().collect();
        let e = expectations(&p, &all);
        assert_eq!(e.one_shots, strings(&["setup"]));
        assert_eq!(e.must_run, strings(&["cache", "db", "tests"]));
        // A dependent outside the scope expects nothing.
        let e = expectations(&p, &["db".to_string()]);
        assert_eq!(e, Expectations::default());
    }

    #[test]
    fn dependents_are_stopped_in_a_wave_before_their_dependencies() {
        let levels = service_levels(&project(CI));
        assert_eq!(levels["setup"], 0);
        assert_eq!(levels["db"], 0);
        assert_eq!(levels["tests"], 1);
        assert_eq!(levels["proxy"], 2);
    }

    fn running(started_ago_ms: i64, now: i64) -> RunState {
        let started = now - started_ago_ms * 1_000_000;
        let secs = started.div_euclid(1_000_000_000);
        RunState {
            status: Status::Running,
            pid: Some(42),
            started_at: Some(format!(
                "{}.{:09}Z",
                crate::engine::fsutil::format_rfc3339(secs).trim_end_matches('Z'),
                started.rem_euclid(1_000_000_000)
            )),
            ..RunState::default()
        }
    }

    #[test]
    fn wait_readiness_catches_early_exits_and_lets_one_shots_pass() {
        let p = project(CI);
        let all: Vec<String> = p.services.keys().cloned().collect();
        let e = expectations(&p, &all);
        let now = 1_700_000_000_000_000_000i64;
        let r = |service: &str, st: &RunState, hc: bool, monitor: bool| {
            readiness("c-1", service, st, hc, monitor, &e, now)
        };
        // Running, but not for long enough yet; then settled.
        assert_eq!(r("db", &running(10, now), false, true), Readiness::Pending);
        assert_eq!(
            r("db", &running(600, now), false, true),
            Readiness::Ready("Healthy")
        );
        // PID 1 gone, exit not recorded yet.
        let exiting = RunState {
            pid: None,
            ..running(600, now)
        };
        assert_eq!(r("db", &exiting, false, true), Readiness::Pending);
        // With a healthcheck: its verdict.
        let mut hc = running(10, now);
        hc.health = Some(Health::Starting);
        assert_eq!(r("db", &hc, true, true), Readiness::Pending);
        hc.health = Some(Health::Healthy);
        assert_eq!(r("db", &hc, true, true), Readiness::Ready("Healthy"));
        hc.health = Some(Health::Unhealthy);
        assert!(
            matches!(r("db", &hc, true, true), Readiness::Failed(m) if m.contains("unhealthy"))
        );
        // Exits.
        let exited = |code| RunState {
            status: Status::Exited,
            exit_code: Some(code),
            ..RunState::default()
        };
        assert!(
            matches!(r("setup", &exited(3), false, false), Readiness::Failed(m) if m == "container c-1 exited (3)")
        );
        assert_eq!(
            r("setup", &exited(0), false, false),
            Readiness::Ready("Exited")
        );
        assert!(
            matches!(r("db", &exited(0), false, false), Readiness::Failed(m) if m.contains("exited (0)"))
        );
        // Still monitored: about to restart (or to record its exit).
        assert_eq!(r("db", &exited(0), false, true), Readiness::Pending);
        let restarting = RunState {
            status: Status::Restarting,
            exit_code: Some(2),
            ..RunState::default()
        };
        assert!(
            matches!(r("db", &restarting, false, true), Readiness::Failed(m) if m.contains("(2)"))
        );
    }

    #[test]
    fn limits_stop_at_an_interrupt_and_at_the_deadline() {
        static N: AtomicUsize = AtomicUsize::new(0);
        let l = Limits {
            deadline: None,
            interrupts: Some(&N),
        };
        assert!(l.check(None).is_ok());
        N.store(1, Ordering::SeqCst);
        assert!(matches!(l.check(None), Err(StackError::Interrupted)));
        let past = Limits {
            deadline: Some(Instant::now()),
            interrupts: None,
        };
        assert!(past.check(None).is_ok());
        let what = || "web".to_string();
        assert!(
            matches!(past.check(Some(&what)), Err(StackError::Invalid(m)) if m.contains("timeout waiting for web"))
        );
    }
}
