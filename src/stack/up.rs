//! `up`: everything checked and planned before the first change, then networks, containers
//! (in dependency order) and their monitors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indexmap::IndexMap;

use super::networks::{observe, used_networks, ProjectNetworks};
use super::threads::{lock, Muted};
use super::wait::{wait_dependencies, wait_services, Limits};
use super::{
    anon_volumes, build, create, executor, external_links, hooks, invalid, ops, remove_container,
    Ctx, Reporter, StackError, UpOptions,
};
use crate::engine::image::{Image, ImageStore};
use crate::engine::network::manager::Networks;
use crate::engine::root::StateRoot;
use crate::engine::runtime::host_files;
use crate::engine::spec::VOLUME_DATA;
use crate::engine::state::{self, Observed, Status};
use crate::engine::supervisor;
use crate::model::types::mounts::VolumeType;
use crate::model::types::resources::Project;
use crate::planner::graph;
use crate::planner::network as netplan;
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

/// `up`: checks everything, plans (see [`crate::planner::reconcile`]): creates what is
/// missing, recreates what changed, starts what is stopped; then prints the plan
/// (`--dry-run`) or executes it (see [`executor`]), waiting before each service for the
/// conditions of its `depends_on`, and with `wait` for every service to be running, healthy
/// or completed.
pub fn up(
    ctx: &Ctx,
    project: &Project,
    opts: &UpOptions,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    use crate::planner::reconcile::{self, Action, Existing, Resource, Wanted};
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
    let order = graph::up_scope(project, &opts.services, opts.no_deps)?;
    let _lock = state::lock_project(&ctx.root, &name)?;
    let nets = Networks::open(&ctx.root)?;

    // Everything is checked before the first change.
    let store = ImageStore::open(StateRoot::new(&ctx.root).images())
        .map_err(|error| StackError::ImageStore { error })?;
    for s in &order {
        for w in support::check_service(s, &project.services[s], &support::Facts::host())? {
            rep.warn(&w);
        }
    }
    // Pulls (all at once), then builds, before the first change: a failed pull or build
    // leaves nothing created.
    if !opts.dry_run {
        let images = build::ImageOptions {
            pull: opts.pull,
            default_platform: opts.default_platform.clone(),
            build: opts.build,
            flags: build::BuildFlags::default(),
        };
        build::ensure_images(ctx, &store, &nets, project, &order, &images, rep)?;
    }
    let mut images = BTreeMap::new();
    for s in &order {
        let svc = &project.services[s];
        let image_ref = svc.image.clone().unwrap_or_else(|| format!("{name}-{s}"));
        let image = store
            .resolve(&image_ref)
            .map_err(|error| StackError::ServiceImage {
                service: s.clone(),
                reference: image_ref.clone(),
                error: Box::new(error),
                hint: match (&svc.build, opts.build) {
                    (Some(_), build::BuildMode::Never) => {
                        " (it is not built with --no-build: run `compose build` first)"
                    }
                    (None, _) if svc.image.is_none() => {
                        " (the service has no `image:` nor `build:`)"
                    }
                    _ => "",
                },
            })?;
        netplan::port_requests(s, svc)?;
        netplan::net_mode(s, svc)?;
        netplan::check_endpoints(s, svc)?;
        external_links::check(&ctx.root, &name, project, s, svc)?;
        crate::planner::container::check_sysctls(s, svc)?;
        let host_paths = crate::planner::preflight::host_paths(project, s);
        let host_files = host_files::gather(host_paths.iter().map(PathBuf::as_path));
        crate::planner::preflight::check(project, s, &host_files).map_err(invalid)?;
        support::check_image(s, svc, &image.config)?;
        images.insert(s.clone(), (image_ref, image));
    }
    let networks = used_networks(project, &name, &order)?;
    let network_states = observe(&nets, networks.values())?;
    let volumes_dir = StateRoot::new(&ctx.root).volumes();
    let volume_states: Vec<Resource> = used_volumes(project, &name, &order)
        .into_iter()
        .map(|v| Resource {
            exists: volumes_dir.join(&v).join(VOLUME_DATA).exists(),
            name: v,
        })
        .collect();

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
                    shares_with: graph::shared_targets(svc),
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
    )
    .with_resources(&network_states, &volume_states);
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
        let container_name = |service: &str, number: u32| {
            create::container_name(&name, service, &project.services[service], number)
        };
        executor::dry_run(&plan, &container_name, rep);
        return Ok(());
    }

    let up_ops = UpOps {
        ctx,
        project,
        opts,
        limits,
        name: &name,
        nets: &nets,
        networks: ProjectNetworks::new(&nets, networks.values()),
        volumes_dir: &volumes_dir,
        images: &images,
        wanted: &wanted,
        by_id: observed.iter().map(|o| (o.record.id.as_str(), o)).collect(),
        creator: Mutex::new(create::Creator::new(ctx, project, &name, &nets)?),
    };
    let levels = graph::levels(project, &order);
    let schedule = executor::Schedule {
        order: &order,
        levels: &levels,
        start: !opts.no_start,
        limits,
    };
    executor::execute(&plan, &schedule, &up_ops, rep)?;
    if opts.wait && !opts.no_start {
        wait_services(ctx, project, &name, &order, limits, rep)?;
    }
    Ok(())
}

/// The named volumes the given services mount (not external ones: those are the user's), by
/// the name they have on disk.
fn used_volumes(project: &Project, name: &str, services: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in services {
        let keys = project.services[s]
            .volumes
            .iter()
            .filter(|v| v.kind == VolumeType::Volume)
            .filter_map(|v| v.source.as_deref().filter(|k| !k.is_empty()));
        for key in keys {
            let declared = project.volumes.get(key);
            if declared.is_some_and(|v| !v.external.is_not_external()) {
                continue;
            }
            // As the container's mounts and `down -v` name it (one rule for all three).
            let vname = crate::planner::volume_name::volume_name(name, key, declared);
            if !out.contains(&vname) {
                out.push(vname);
            }
        }
    }
    out
}

/// What the steps of `up`'s plan do, on this host.
struct UpOps<'a> {
    ctx: &'a Ctx,
    project: &'a Project,
    opts: &'a UpOptions,
    limits: Limits,
    name: &'a str,
    nets: &'a Networks,
    /// The project's networks the services use.
    networks: ProjectNetworks<'a>,
    volumes_dir: &'a Path,
    /// Each service's image reference and image.
    images: &'a BTreeMap<String, (String, Image)>,
    wanted: &'a IndexMap<String, crate::planner::reconcile::Wanted>,
    by_id: BTreeMap<&'a str, &'a Observed>,
    creator: Mutex<create::Creator<'a>>,
}

impl UpOps<'_> {
    fn observed(&self, id: &str) -> Option<&Observed> {
        self.by_id.get(id).copied()
    }
}

impl executor::NetworkOps for UpOps<'_> {
    fn create_network(&self, name: &str, rep: &mut dyn Reporter) -> Result<(), StackError> {
        self.networks.create_network(name, rep)
    }

    fn ensure_network(&self, name: &str) -> Result<(), StackError> {
        self.networks.ensure_network(name)
    }
}

impl executor::Operations for UpOps<'_> {
    fn create_volume(&self, name: &str) -> Result<(), StackError> {
        let data = self.volumes_dir.join(name).join(VOLUME_DATA);
        crate::engine::root::create_volume_dir(self.volumes_dir, &data).map_err(|error| {
            StackError::CreateVolumeDir {
                owner: format!("volume {name}"),
                path: data.clone(),
                error,
            }
        })?;
        crate::engine::fault::point("up.volume.after-create");
        Ok(())
    }

    fn remove(&self, id: &str, rep: &mut dyn Reporter) -> Result<(), StackError> {
        match self.observed(id) {
            Some(o) => remove_container(self.ctx, self.nets, o, self.opts.timeout, rep),
            None => Ok(()),
        }
    }

    fn stop(&self, ids: &[&str], rep: &mut dyn Reporter) -> Result<(), StackError> {
        let wave: Vec<&Observed> = ids.iter().filter_map(|id| self.observed(id)).collect();
        ops::stop_all(self.ctx, &wave, self.opts.timeout, rep)
    }

    fn wait_dependencies(&self, service: &str, rep: &mut dyn Reporter) -> Result<(), StackError> {
        wait_dependencies(self.ctx, self.project, self.name, service, self.limits, rep)
    }

    fn keep(&self, id: &str, name: &str, rep: &mut dyn Reporter) -> Result<(), StackError> {
        // Its ports as this version publishes them (rules lost to an `nft flush`, or written
        // by an older version, are put back as they should be).
        if let Some(o) = self.observed(id) {
            for port in &o.record.ports {
                self.nets.ensure_published(&create::mapping(port))?;
            }
        }
        rep.event("Container", name, "Running");
        Ok(())
    }

    fn republish(&self, id: &str) -> Result<(), StackError> {
        // Published ports go with a reboot (or an `nft flush`): put them back.
        if let Some(o) = self.observed(id) {
            for port in &o.record.ports {
                self.nets.publish(&create::mapping(port))?;
            }
        }
        Ok(())
    }

    fn create(
        &self,
        service: &str,
        number: u32,
        rep: &mut dyn Reporter,
    ) -> Result<(String, String), StackError> {
        let svc = &self.project.services[service];
        let cname = create::container_name(self.name, service, svc, number);
        rep.event("Container", &cname, "Creating");
        let (image_ref, image) = &self.images[service];
        let rec = lock(&self.creator).create(
            service,
            number,
            &self.wanted[service].hash,
            image_ref,
            image,
        )?;
        rep.event("Container", &rec.name, "Created");
        Ok((rec.id, rec.name))
    }

    fn recreate(
        &self,
        service: &str,
        number: u32,
        id: &str,
        old: &str,
        rep: &mut dyn Reporter,
    ) -> Result<(String, String), StackError> {
        rep.event("Container", old, "Recreate");
        let mut previous = IndexMap::new();
        if let Some(o) = self.observed(id) {
            previous = anon_volumes::of(&o.record);
            remove_container(self.ctx, self.nets, o, self.opts.timeout, &mut Muted(rep))?;
        }
        let (image_ref, image) = &self.images[service];
        let inherited = match self.opts.renew_anon_volumes {
            true => IndexMap::new(),
            false => previous.clone(),
        };
        let rec = lock(&self.creator).create_replacing(
            service,
            number,
            &self.wanted[service].hash,
            image_ref,
            image,
            &inherited,
        )?;
        // Those the new container did not take (`-V`, a mount gone from the service) belong
        // to nothing any more: no command could reach them.
        let unused = previous
            .values()
            .filter(|v| !rec.anonymous_volumes.values().any(|n| n == *v));
        if let Err(e) = anon_volumes::remove(self.volumes_dir, unused.map(PathBuf::as_path)) {
            rep.warn(&e.to_string());
        }
        rep.event("Container", &rec.name, "Recreated");
        Ok((rec.id, rec.name))
    }

    fn launch(&self, id: &str, name: &str, rep: &mut dyn Reporter) -> Result<(), StackError> {
        rep.event("Container", name, "Starting");
        crate::engine::fault::point("up.start.before-launch");
        // Its monitor writes the `start` event.
        supervisor::launch(&self.ctx.root, id)?;
        crate::engine::fault::point("up.start.after-launch");
        rep.event("Container", name, "Started");
        hooks::post_start(&self.ctx.root, id, rep)
    }
}
