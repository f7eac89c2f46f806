//! Running a project: the commands' bodies (`up`, `down`, `port`, `ps`) as library functions,
//! organized like Docker Compose's `pkg/compose`: everything is checked and planned before the
//! first change; then networks, containers (in dependency order) and their monitors.
//!
//! State is on disk only (see [`crate::engine::state`]), guarded by the project's lock, so two
//! commands on one project never interleave and a command killed half-way leaves records the
//! next `up` or `down` can finish.

pub mod attach;
pub mod create;
pub mod oneoff;
pub mod ops;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;

use crate::engine::image::ImageStore;
use crate::engine::network::manager::{NetworkError, Networks};
use crate::engine::state::{self, Observed, StateError, Status};
use crate::engine::supervisor::{self, SuperviseError};
use crate::model::types::resources::Project;
use crate::planner::network::{self as netplan, NetPlanError, NetworkChoice, ServiceNetMode};

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
    #[error("{0}")]
    Invalid(String),
    #[error("{context}: {message}")]
    Failed { context: String, message: String },
}

fn invalid(m: impl Into<String>) -> StackError {
    StackError::Invalid(m.into())
}

/// Progress of a command, as Docker Compose reports it (` Container p-web-1  Started`).
pub trait Reporter: Send {
    /// `kind` is `Network`, `Container` or `Volume`.
    fn event(&mut self, kind: &str, name: &str, action: &str);
    fn warn(&mut self, message: &str);
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
    let mut images = BTreeMap::new();
    for s in &order {
        let svc = &project.services[s];
        let image_ref = svc.image.clone().unwrap_or_else(|| format!("{name}-{s}"));
        let image = store.resolve(&image_ref).map_err(|e| StackError::Failed {
            context: format!("service {s}"),
            message: format!(
                "image {image_ref}: {e} (load it with `compose image load`; pulling and building are not supported yet)"
            ),
        })?;
        netplan::port_requests(s, svc)?;
        netplan::net_mode(s, svc)?;
        crate::planner::container::check_sysctls(s, svc).map_err(|e| invalid(e.to_string()))?;
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
    let run_service = |s: &str, actions: &[&Action]| -> Result<(), StackError> {
        let mut r = Shared(&shared);
        let mut waited = false;
        let mut launches: Vec<(String, String)> = Vec::new();
        for a in actions {
            let starts = matches!(
                a,
                Action::Create { .. } | Action::Recreate { .. } | Action::Start { .. }
            );
            if starts && !opts.no_start && !waited {
                // A service's dependencies' conditions hold before its first container starts.
                wait_dependencies(ctx, project, &name, s, &mut r)?;
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
                Action::Start { id, name, .. } => {
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
                    if let Some(o) = by_id.get(id.as_str()) {
                        remove_container(ctx, &nets, o, opts.timeout, &mut Quiet)?;
                    }
                    let (image_ref, image) = &images[service];
                    let rec = lock(&creator).create(
                        service,
                        *number,
                        &wanted[service].hash,
                        image_ref,
                        image,
                    )?;
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
                        Ok(())
                    })
                })
                .collect();
            first_error(handles.into_iter().map(|h| h.join()))
        })
    };
    for l in 0..=max_level {
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
        wait_services(ctx, &name, &order, opts.wait_timeout, rep)?;
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

/// A reporter that says nothing (inner steps of an action already reported).
struct Quiet;

impl Reporter for Quiet {
    fn event(&mut self, _: &str, _: &str, _: &str) {}
    fn warn(&mut self, _: &str) {}
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
                Verdict::Pending => std::thread::sleep(POLL),
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

/// `up --wait`: every container of `services` running (and healthy when it has a
/// healthcheck), or exited with 0 for one-shot services (no restart policy).
fn wait_services(
    ctx: &Ctx,
    name: &str,
    services: &[String],
    timeout: Option<u64>,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    use crate::engine::state::{Health, RestartPolicy};
    let deadline = timeout.map(|t| std::time::Instant::now() + Duration::from_secs(t));
    let mut done: BTreeSet<String> = BTreeSet::new();
    loop {
        let all: Vec<Observed> = state::list(&ctx.root, Some(name))?
            .into_iter()
            .filter(|o| !o.record.one_off && services.contains(&o.record.service))
            .collect();
        let mut pending = Vec::new();
        for o in &all {
            let n = &o.record.name;
            let code = o.state.exit_code.unwrap_or(0);
            let ready = match o.state.status {
                Status::Running => match (&o.record.healthcheck, o.state.health) {
                    (None, _) | (Some(_), Some(Health::Healthy)) => Some("Healthy"),
                    (Some(_), Some(Health::Unhealthy)) => {
                        return Err(invalid(format!("container {n} is unhealthy")))
                    }
                    _ => None,
                },
                Status::Exited | Status::Dead if o.state.live_monitor().is_none() => {
                    if code == 0 && o.record.restart == RestartPolicy::No {
                        Some("Exited")
                    } else {
                        return Err(invalid(format!("container {n} exited ({code})")));
                    }
                }
                _ => None,
            };
            match ready {
                Some(what) => {
                    if done.insert(n.clone()) {
                        rep.event("Container", n, what);
                    }
                }
                None => pending.push(n.clone()),
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        if deadline.is_some_and(|d| std::time::Instant::now() > d) {
            return Err(invalid(format!(
                "timeout waiting for {} to be running and healthy",
                pending.join(", ")
            )));
        }
        std::thread::sleep(POLL);
    }
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
/// and with `volumes` its named volumes.
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
    // Signal every container first, then wait for them together.
    let mut stopping = Vec::new();
    for o in &targets {
        let rec = &o.record;
        let running = o.state.pid.is_some() || o.state.live_monitor().is_some();
        if running {
            rep.event("Container", &rec.name, "Stopping");
        }
        let sig = supervisor::parse_signal(rec.stop_signal.as_deref()).map_err(invalid)?;
        let grace = Duration::from_secs(opts.timeout.unwrap_or(rec.stop_grace_period));
        let stop = supervisor::begin_stop(&ctx.root, &rec.id, sig, grace)?;
        // A frozen container cannot act on its signal.
        ops::thaw_if_paused(rec);
        stopping.push((*o, running, stop));
    }
    // ... and wait for them (and remove them) concurrently.
    let shared = std::sync::Mutex::new(rep);
    {
        let nets = &nets;
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
        let publishers: Vec<Publisher> = live_ports(&o)
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
        let ports = publishers
            .iter()
            .map(|p| {
                format!(
                    "{}:{}->{}/{}",
                    p.url, p.published_port, p.target_port, p.protocol
                )
            })
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
    for o in state::list(&ctx.root, Some(project))? {
        if o.record.one_off || (!services.is_empty() && !services.contains(&o.record.service)) {
            continue;
        }
        rep.event("Container", &o.record.name, "Restarting");
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
    }
    Ok(())
}
