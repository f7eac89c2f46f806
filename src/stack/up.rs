//! `up`: everything checked and planned before the first change, then networks, containers
//! (in dependency order) and their monitors.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indexmap::IndexMap;

use super::threads::{first_error, lock, Muted, Shared};
use super::wait::{wait_dependencies, wait_services, Limits};
use super::{
    anon_volumes, create, external_links, hooks, invalid, ops, pull, remove_container, Ctx,
    Reporter, StackError, UpOptions,
};
use crate::engine::image::ImageStore;
use crate::engine::network::manager::Networks;
use crate::engine::state::{self, Observed, Status};
use crate::engine::supervisor;
use crate::model::types::resources::Project;
use crate::planner::graph::{shared_targets, start_order, stop_waves};
use crate::planner::network::{self as netplan, NetworkChoice, ServiceNetMode};
use crate::planner::support;

pub(crate) fn project_name(project: &Project) -> Result<String, StackError> {
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
    let level = crate::planner::graph::levels(project, &order);
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
            .filter(|s| level.get(*s) == Some(&l))
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
