//! Creating one container of a service: its addresses on each network, its published ports
//! (a random host port chosen once, here, so it survives restarts), its names for service
//! discovery, its /etc files and its record. Nothing runs yet: the monitor starts it.
//!
//! A creation that fails half-way gives back what it took (addresses, ports, directory), so
//! the failed `up` leaves nothing a next one trips on.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use indexmap::IndexMap;

use super::error::UndoError;
use super::{invalid, Ctx, StackError};
use crate::engine::cgroups::CgroupMount;
use crate::engine::cgroups::Layout;
use crate::engine::image::Image;
use crate::engine::network::dns::{self, RESOLVER_IP};
use crate::engine::network::ipam::AddrRequest;
use crate::engine::network::manager::{addresses_overlap, Networks};
use crate::engine::network::nft::PortMapping;
use crate::engine::root::StateRoot;
use crate::engine::runtime::container;
use crate::engine::runtime::etc;
use crate::engine::runtime::user::LayerFiles;
use crate::engine::runtime::{caps, host_devices, host_files, seccomp, written_files};
use crate::engine::spec::{ContainerSpec, MountKind, VOLUME_DATA};
use crate::engine::state::{self, ContainerRecord, DnsSetup, PublishedPort, RestartPolicy};
use crate::model::types::resources::Project;
use crate::model::types::service::ServiceConfig;
use crate::planner::container::{
    bind_sources, build_container_spec, device_paths, is_own_anonymous_volume, ContainerInput,
    HostInfo, OneOffOverrides, SpecError,
};
use crate::planner::network::{self as netplan, NetworkChoice, ServiceNetMode};
use crate::planner::secrets;

/// `<project>-<service>-<n>`, or `container_name`.
pub fn container_name(project: &str, service: &str, svc: &ServiceConfig, n: u32) -> String {
    svc.container_name
        .clone()
        .unwrap_or_else(|| format!("{project}-{service}-{n}"))
}

/// The engine's form of a recorded published port.
pub fn mapping(p: &PublishedPort) -> PortMapping {
    PortMapping::from(p)
}

/// The cgroup parent of a service's containers: its `cgroup_parent` (a path from the top of
/// each hierarchy, as Docker's cgroupfs driver takes it), else the command's; checked here so
/// that a bad one is refused before the container exists.
fn cgroup_parent(
    name: &str,
    svc: &ServiceConfig,
    default: &str,
    layout: &Layout,
) -> Result<String, StackError> {
    let Some(parent) = svc.cgroup_parent.as_deref().filter(|p| !p.is_empty()) else {
        return Ok(default.to_string());
    };
    crate::engine::container::cgroup_manager(layout, parent)
        .map_err(|e| invalid(format!("service {name}: cgroup_parent: {e}")))?;
    Ok(parent.to_string())
}

/// The restart policy: `restart:`, else `deploy.restart_policy`.
fn restart_policy(name: &str, svc: &ServiceConfig) -> Result<RestartPolicy, StackError> {
    if let Some(r) = &svc.restart {
        return RestartPolicy::parse(r).map_err(|m| invalid(format!("service {name}: {m}")));
    }
    let Some(p) = svc.deploy.as_ref().and_then(|d| d.restart_policy.as_ref()) else {
        return Ok(RestartPolicy::No);
    };
    Ok(match p.condition.as_deref() {
        Some("none") => RestartPolicy::No,
        Some("on-failure") => RestartPolicy::OnFailure(p.max_attempts.map(|n| n as u32)),
        _ => match p.max_attempts {
            Some(n) => RestartPolicy::OnFailure(Some(n as u32)),
            None => RestartPolicy::Always,
        },
    })
}

/// What makes a `run` container different from a service's replica.
pub struct OneOff<'a> {
    pub overrides: &'a OneOffOverrides,
    /// `--name`.
    pub name: Option<String>,
    /// `--service-ports`: publish the service's ports.
    pub service_ports: bool,
    /// `-p` short-syntax ports to publish.
    pub publish: Vec<String>,
    /// `--use-aliases`: be found by the service name and aliases too.
    pub use_aliases: bool,
    /// `--rm`.
    pub remove: bool,
}

/// The facts about the host the planner builds specs for (it makes no system calls itself).
fn host_info() -> Result<HostInfo, SpecError> {
    Ok(HostInfo {
        last_cap: caps::kernel_last_cap()?,
        kernel: seccomp::Target::running(&[]).kernel,
        hostname: rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned(),
    })
}

/// Creates containers for one `up`.
pub struct Creator<'a> {
    ctx: &'a Ctx,
    project: &'a Project,
    name: &'a str,
    nets: &'a Networks,
    host: HostInfo,
    layout: Layout,
    host_resolv: String,
    /// Host ports taken by this `up` so far (not yet visible as sockets or rules), with their
    /// protocol and address: `53:53/tcp` and `53:53/udp` do not collide, as with Docker.
    taken: Vec<PublishedPort>,
}

/// What a half-made container holds, given back if its creation fails.
#[derive(Default)]
struct Held {
    id: String,
    networks: Vec<String>,
    ports: Vec<PortMapping>,
    dir: Option<PathBuf>,
}

impl<'a> Creator<'a> {
    pub fn new(
        ctx: &'a Ctx,
        project: &'a Project,
        name: &'a str,
        nets: &'a Networks,
    ) -> Result<Creator<'a>, StackError> {
        Ok(Creator {
            ctx,
            project,
            name,
            nets,
            host: host_info().map_err(|error| StackError::HostInfo { error })?,
            layout: Layout::detect().map_err(|error| StackError::HostCgroups { error })?,
            host_resolv: std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
            taken: Vec::new(),
        })
    }

    /// Creates replica `n` of `service` and records it.
    pub fn create(
        &mut self,
        service: &str,
        n: u32,
        hash: &str,
        image_ref: &str,
        image: &Image,
    ) -> Result<ContainerRecord, StackError> {
        self.create_with(service, n, hash, image_ref, image, None, &IndexMap::new())
    }

    /// Creates replica `n` of `service` in place of a removed container, mounting `inherited`
    /// (that container's anonymous volumes, by destination) where the new one has anonymous
    /// volumes, as Docker does.
    pub fn create_replacing(
        &mut self,
        service: &str,
        n: u32,
        hash: &str,
        image_ref: &str,
        image: &Image,
        inherited: &IndexMap<String, PathBuf>,
    ) -> Result<ContainerRecord, StackError> {
        self.create_with(service, n, hash, image_ref, image, None, inherited)
    }

    /// Creates a one-off (`run`) container of `service`.
    pub fn create_one_off(
        &mut self,
        service: &str,
        hash: &str,
        image_ref: &str,
        image: &Image,
        one_off: &OneOff,
    ) -> Result<ContainerRecord, StackError> {
        self.create_with(
            service,
            1,
            hash,
            image_ref,
            image,
            Some(one_off),
            &IndexMap::new(),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn create_with(
        &mut self,
        service: &str,
        n: u32,
        hash: &str,
        image_ref: &str,
        image: &Image,
        one_off: Option<&OneOff>,
        inherited: &IndexMap<String, PathBuf>,
    ) -> Result<ContainerRecord, StackError> {
        let mut held = Held::default();
        let r = self.create_inner(
            service, n, hash, image_ref, image, one_off, inherited, &mut held,
        );
        r.map_err(|e| e.with_undo(self.undo(&held)))
    }

    /// Gives back what a failed create held (ports, addresses, its directory), trying every
    /// step; returns what could not be given back.
    fn undo(&self, held: &Held) -> Vec<UndoError> {
        let mut failed: Vec<UndoError> = Vec::new();
        for p in &held.ports {
            failed.extend(self.nets.unpublish(p).err().map(UndoError::from));
        }
        for net in &held.networks {
            failed.extend(self.nets.release(net, &held.id).err().map(UndoError::from));
        }
        if let Some(d) = &held.dir {
            match std::fs::remove_dir_all(d) {
                Err(source) if source.kind() != std::io::ErrorKind::NotFound => {
                    failed.push(UndoError::RemoveDir {
                        path: d.clone(),
                        source,
                    });
                }
                _ => {}
            }
        }
        failed
    }

    #[allow(clippy::too_many_arguments)]
    fn create_inner(
        &mut self,
        service: &str,
        n: u32,
        hash: &str,
        image_ref: &str,
        image: &Image,
        one_off: Option<&OneOff>,
        inherited: &IndexMap<String, PathBuf>,
        held: &mut Held,
    ) -> Result<ContainerRecord, StackError> {
        let svc = &self.project.services[service];
        let id = state::new_id().map_err(|e| invalid(format!("cannot make an id: {e}")))?;
        held.id = id.clone();
        let cname = match one_off {
            None => container_name(self.name, service, svc, n),
            Some(o) => o
                .name
                .clone()
                .unwrap_or_else(|| format!("{}-{service}-run-{}", self.name, &id[..12])),
        };
        let mode = netplan::net_mode(service, svc)?;

        // Addresses on each network, in interface order.
        let mut endpoints = Vec::new();
        let mut internal_of = Vec::new();
        if let ServiceNetMode::Networks(keys) = &mode {
            let gw_key = netplan::gateway_network(svc, keys).cloned();
            for (i, key) in keys.iter().enumerate() {
                let cfg = &self.project.networks[key];
                let full = match netplan::network_choice(self.name, key, cfg)? {
                    NetworkChoice::Managed(d) => d.name,
                    NetworkChoice::External(n) => n,
                };
                let info = self
                    .nets
                    .get(&full)?
                    .ok_or_else(|| invalid(format!("network {full} does not exist")))?;
                let req = netplan::endpoint_request(service, svc, key, i == 0)?;
                let addrs = self.nets.allocate(
                    &full,
                    &id,
                    &AddrRequest {
                        ipv4: req.ipv4,
                        ipv6: req.ipv6,
                    },
                )?;
                held.networks.push(full.clone());
                crate::engine::fault::point("up.create.after-allocate");
                let assigned: Vec<_> = [addrs.ipv4, addrs.ipv6].into_iter().flatten().collect();
                let hostname = svc.hostname.as_deref();
                // A MAC fixed at creation (Docker's 02:42 + IPv4 form when none is asked
                // for), so a restarted container answers on the MAC its neighbours have
                // cached for its address.
                let mut endpoint = info.endpoint(
                    &full,
                    &id,
                    i,
                    &assigned,
                    req.mac,
                    Some(key) == gw_key.as_ref(),
                );
                // A one-off container is found by its own name only, unless `--use-aliases`
                // (as with Docker Compose).
                endpoint.dns_names = match one_off {
                    Some(o) if !o.use_aliases => {
                        netplan::dns_names(&cname, &cname, &id, hostname, &[])
                    }
                    _ => netplan::dns_names(service, &cname, &id, hostname, &req.aliases),
                };
                endpoint.link_local = req.link_local.clone();
                endpoints.push(endpoint);
                internal_of.push(info.def.internal);
            }
        }

        let join_container = match &mode {
            ServiceNetMode::Service(s) => Some(self.service_container(s)?),
            ServiceNetMode::Container(c) => Some(self.container_by_name(c)?),
            _ => None,
        };

        let volume_names: IndexMap<String, String> = self
            .project
            .volumes
            .iter()
            .filter_map(|(k, v)| v.name.clone().map(|n| (k.clone(), n)))
            .collect();
        let files = LayerFiles::new(image.layer_dirs.clone());
        let volumes_dir = StateRoot::new(&self.ctx.root).volumes();
        let host_gateway = endpoints
            .first()
            .and_then(|e| e.bridge.gateways.iter().find(|g| g.0.is_ipv4()))
            .map(|g| g.0);
        let dir = StateRoot::new(&self.ctx.root).container(&id);
        let binds = bind_sources(svc, one_off.map(|o| o.overrides));
        let host_files = host_files::gather(
            secrets::host_paths(self.project, service)
                .into_iter()
                .chain(binds.iter().map(PathBuf::as_path)),
        );
        let own_files = secrets::service_files(self.project, service, &host_files)?;
        let file_mounts = secrets::mounts(&own_files, &dir);
        let volumes_from = self.volumes_from(service, svc)?;
        let (device_sources, whole_dev) = device_paths(svc);
        let devices = host_devices::gather(device_sources, whole_dev);
        let mut spec: ContainerSpec = build_container_spec(&ContainerInput {
            project: self.name,
            service_name: service,
            service: svc,
            image: &image.config,
            layers: &image.layer_dirs,
            rootfs_files: &files,
            container_id: &id,
            container_name: &cname,
            number: n,
            volumes_dir: &volumes_dir,
            inherited_volumes: inherited,
            volume_names: &volume_names,
            one_off: one_off.map(|o| o.overrides),
            host: &self.host,
            devices: &devices,
            host_files: &host_files,
            host_gateway,
            join_container: join_container.as_deref(),
            file_mounts: &file_mounts,
            volumes_from: &volumes_from,
        })?;
        crate::planner::namespaces::apply(&mut spec, service, svc, &self.host.hostname, &|t| {
            self.ns_target(t)
        })?;

        // Its anonymous volumes: new ones named after it, and those it took over.
        let anonymous_volumes: IndexMap<String, PathBuf> = spec
            .mounts
            .iter()
            .filter_map(|m| match &m.kind {
                MountKind::Volume { volume, .. }
                    if is_own_anonymous_volume(volume, &id)
                        || inherited.values().any(|v| v == volume) =>
                {
                    let dest = m.destination.trim_end_matches('/');
                    let dest = if dest.is_empty() { "/" } else { dest };
                    Some((dest.to_string(), volume.clone()))
                }
                _ => None,
            })
            .collect();

        // Volumes are made here; the container's set-up fills a new one from the image on its
        // first mount (and records that it did, beside the data).
        for m in &spec.mounts {
            if let MountKind::Volume { volume, .. } = &m.kind {
                let data = volume.join(VOLUME_DATA);
                if !data.exists() {
                    crate::engine::root::create_volume_dir(&volumes_dir, &data).map_err(
                        |error| StackError::CreateVolumeDir {
                            owner: format!("service {service}"),
                            path: data.clone(),
                            error,
                        },
                    )?;
                }
            }
        }

        // Published ports, on the first network that leads out.
        let mut ports = Vec::new();
        let requests = match one_off {
            None => netplan::port_requests(service, svc)?,
            Some(o) => {
                let mut r = if o.service_ports {
                    netplan::port_requests(service, svc)?
                } else {
                    Vec::new()
                };
                let mut extra = svc.clone();
                extra.ports = Vec::new();
                for p in &o.publish {
                    extra.ports.extend(
                        crate::model::types::ports::parse_short(p)
                            .map_err(|m| invalid(format!("--publish {p}: {m}")))?,
                    );
                }
                r.extend(netplan::port_requests(service, &extra)?);
                r
            }
        };
        // Without a network of its own (host, none, another container's) there is nothing to
        // publish: Docker discards the ports then too (host mode listens on the host already).
        let requests = if matches!(mode, ServiceNetMode::Networks(_)) {
            requests
        } else {
            Vec::new()
        };
        if !requests.is_empty() {
            let Some((ep, _)) = endpoints
                .iter()
                .zip(&internal_of)
                .find(|(_, internal)| !**internal)
            else {
                return Err(invalid(format!(
                    "service {service}: ports are published only from a container on a non-internal network"
                )));
            };
            for r in requests {
                let want_v6 = matches!(r.host_ip, Some(IpAddr::V6(_)));
                let Some(container_ip) = ep
                    .addresses
                    .iter()
                    .map(|a| a.0)
                    .find(|a| a.is_ipv6() == want_v6)
                else {
                    return Err(invalid(format!(
                        "service {service}: no {} address on network {} to publish port {} to",
                        if want_v6 { "IPv6" } else { "IPv4" },
                        ep.network,
                        r.container_port
                    )));
                };
                let host_port = match r.host_ports {
                    None => {
                        let taken: Vec<u16> = self
                            .taken
                            .iter()
                            .filter(|t| {
                                t.protocol == r.protocol && addresses_overlap(t.host_ip, r.host_ip)
                            })
                            .map(|t| t.host_port)
                            .collect();
                        self.nets.free_host_port(r.protocol, r.host_ip, &taken)?
                    }
                    Some((lo, hi)) => {
                        let mut found = None;
                        for p in lo..=hi {
                            if !self.taken.iter().any(|t| {
                                t.protocol == r.protocol
                                    && t.host_port == p
                                    && addresses_overlap(t.host_ip, r.host_ip)
                            }) && !self.nets.host_port_in_use(r.protocol, r.host_ip, p)?
                            {
                                found = Some(p);
                                break;
                            }
                        }
                        found.ok_or_else(|| {
                            invalid(format!(
                                "service {service}: Bind for {}:{} failed: port is already allocated",
                                r.host_ip.map(|i| i.to_string()).unwrap_or_else(|| "0.0.0.0".into()),
                                if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") }
                            ))
                        })?
                    }
                };
                let port = PublishedPort {
                    network: ep.network.clone(),
                    bridge: ep.bridge.name.clone(),
                    protocol: r.protocol,
                    host_ip: r.host_ip,
                    host_port,
                    container_ip,
                    container_port: r.container_port,
                };
                self.taken.push(port.clone());
                ports.push(port);
            }
        }

        // The /etc files: own addresses and the embedded resolver, or the joined container's.
        let dns_setup = (!endpoints.is_empty()).then(|| {
            let upstreams: Vec<SocketAddr> = if spec.dns.is_empty() {
                dns::upstreams_from_resolv_conf(&self.host_resolv)
            } else {
                spec.dns
                    .iter()
                    .filter_map(|d| d.parse::<IpAddr>().ok())
                    .map(|ip| SocketAddr::new(ip, 53))
                    .collect()
            };
            DnsSetup {
                networks: endpoints.iter().map(|e| e.network.clone()).collect(),
                links: netplan::link_aliases(svc),
                upstreams,
            }
        });
        let (hosts, resolv) = match (&join_container, endpoints.first()) {
            (Some(other), _) => {
                let odir = StateRoot::new(&self.ctx.root).container(other);
                (
                    std::fs::read_to_string(odir.join("hosts"))
                        .unwrap_or_else(|_| etc::hosts(&spec, "127.0.1.1")),
                    std::fs::read_to_string(odir.join("resolv.conf"))
                        .unwrap_or_else(|_| etc::resolv_conf(&spec, &self.host_resolv)),
                )
            }
            (None, Some(ep)) => {
                let own = ep
                    .addresses
                    .first()
                    .map(|a| a.0.to_string())
                    .unwrap_or_else(|| "127.0.1.1".into());
                (
                    etc::hosts(&spec, &own),
                    etc::resolv_conf_with_resolver(
                        &spec,
                        &self.host_resolv,
                        &RESOLVER_IP.to_string(),
                    ),
                )
            }
            (None, None) => (
                etc::hosts(&spec, "127.0.1.1"),
                etc::resolv_conf(&spec, &self.host_resolv),
            ),
        };
        held.dir = Some(StateRoot::new(&self.ctx.root).container(&id));
        container::prepare(&self.ctx.root, &spec, &hosts, &resolv)?;
        crate::engine::fault::point("up.create.after-rootfs");
        written_files::write(&dir, &secrets::writes(&own_files, service))?;

        let mut labels: IndexMap<String, String> = IndexMap::new();
        labels.insert("com.docker.compose.project".into(), self.name.to_string());
        labels.insert("com.docker.compose.service".into(), service.to_string());
        labels.insert("com.docker.compose.container-number".into(), n.to_string());
        labels.insert("com.docker.compose.config-hash".into(), hash.to_string());
        if !self.project.config_files.is_empty() {
            let files: Vec<String> = (self.project.config_files.iter())
                .map(|f| f.display().to_string())
                .collect();
            labels.insert(
                "com.docker.compose.project.config_files".into(),
                files.join(","),
            );
        }
        labels.insert(
            "com.docker.compose.oneoff".into(),
            if one_off.is_some() { "True" } else { "False" }.into(),
        );
        // The rest of the ten labels Docker Compose puts on every container, which scripts
        // read from `ps --format json` and `inspect`: dependencies as
        // `service:condition:restart`, the image's digest, the project directory and the
        // version of the tool that made it.
        let depends_on: Vec<String> = (svc.depends_on.iter())
            .map(|(dep, d)| format!("{dep}:{}:{}", d.condition.as_str(), d.restart))
            .collect();
        labels.insert("com.docker.compose.depends_on".into(), depends_on.join(","));
        labels.insert("com.docker.compose.image".into(), image.id.clone());
        labels.insert(
            "com.docker.compose.project.working_dir".into(),
            self.project.working_dir.display().to_string(),
        );
        labels.insert(
            "com.docker.compose.version".into(),
            env!("CARGO_PKG_VERSION").into(),
        );
        for (k, v) in &svc.labels {
            labels.insert(k.clone(), v.clone());
        }
        let rotation = crate::planner::health::log_rotation(svc)
            .map_err(|m| invalid(format!("service {service}: {m}")))?;
        let rec = ContainerRecord {
            id: id.clone(),
            name: cname,
            project: self.name.to_string(),
            service: service.to_string(),
            number: n,
            one_off: one_off.is_some(),
            config_hash: hash.to_string(),
            image: image_ref.to_string(),
            image_id: image.id.clone(),
            created: crate::engine::fsutil::now_secs(),
            spec,
            cgroup_mounts: CgroupMount::for_layout(&self.layout),
            cgroup_parent: cgroup_parent(service, svc, &self.ctx.cgroup_parent, &self.layout)?,
            cgroup_project: crate::engine::cgroups::project_group(
                &std::fs::canonicalize(&self.ctx.root).unwrap_or_else(|_| self.ctx.root.clone()),
                self.name,
            ),
            endpoints,
            ports,
            // The service's, then the image's `EXPOSE` (`80/tcp`), as Docker lists them.
            expose: (svc.expose.iter().cloned())
                .chain(
                    (image.config.config().as_ref())
                        .and_then(|c| c.exposed_ports().clone())
                        .unwrap_or_default(),
                )
                .collect(),
            dns: dns_setup,
            restart: match one_off {
                Some(_) => RestartPolicy::No,
                None => restart_policy(service, svc)?,
            },
            stop_grace_period: svc
                .stop_grace_period
                .map(|d| d.as_std().as_secs())
                .unwrap_or(10),
            stop_signal: svc.stop_signal.clone(),
            auto_remove: one_off.is_some_and(|o| o.remove),
            anonymous_volumes,
            labels,
            healthcheck: crate::planner::health::healthcheck(svc, image.healthcheck.as_ref())
                .map_err(|m| invalid(format!("service {service}: {m}")))?,
            log_max_size: rotation.0,
            log_max_file: rotation.1,
            log_disabled: svc.logging.as_ref().and_then(|l| l.driver.as_deref()) == Some("none"),
            hooks: crate::planner::hooks::hooks(svc)
                .map_err(|m| invalid(format!("service {service}: {m}")))?,
            annotations: svc.annotations.clone(),
            requested: crate::planner::requested::requested(
                svc,
                one_off.map(|o| o.overrides),
                &image.config,
            ),
        };
        state::write_record(&self.ctx.root, &rec)?;
        crate::engine::fault::point("up.create.after-record");
        crate::engine::events::emit(&self.ctx.root, &rec, "create", &[]);
        for p in &rec.ports {
            let m = mapping(p);
            self.nets.publish(&m)?;
            held.ports.push(m);
        }
        crate::engine::fault::point("up.create.after-publish");
        Ok(rec)
    }

    /// The id of the (first) container of `service` in this project.
    fn service_container(&self, service: &str) -> Result<String, StackError> {
        self.first_of_service(service)?.ok_or_else(|| {
            invalid(format!(
                "network_mode service:{service}: service {service} has no container"
            ))
        })
    }

    /// The id of this project's first container of `service`, if it has one.
    fn first_of_service(&self, service: &str) -> Result<Option<String>, StackError> {
        Ok(state::list(&self.ctx.root, Some(self.name))?
            .into_iter()
            .filter(|o| o.record.service == service && !o.record.one_off)
            .min_by_key(|o| o.record.number)
            .map(|o| o.record.id))
    }

    /// The id of the container named `name` (or whose id starts with it), any project's.
    fn find_container(&self, name: &str) -> Result<Option<String>, StackError> {
        Ok(state::list(&self.ctx.root, None)?
            .into_iter()
            .find(|o| o.record.name == name || o.record.id.starts_with(name))
            .map(|o| o.record.id))
    }

    /// The mounts that `volumes_from` repeats from other containers.
    fn volumes_from(
        &self,
        service: &str,
        svc: &ServiceConfig,
    ) -> Result<Vec<crate::engine::spec::MountSpec>, StackError> {
        if svc.volumes_from.is_empty() {
            return Ok(Vec::new());
        }
        let all = state::list(&self.ctx.root, None)?;
        let records: Vec<_> = all.iter().map(|o| &o.record).collect();
        crate::planner::volumes_from::mounts_for(&svc.volumes_from, self.name, &records, |id| {
            StateRoot::new(&self.ctx.root).container(id)
        })
        .map_err(|m| invalid(format!("service {service}: {m}")))
    }

    /// The id of the container a `pid`/`ipc` `service:`/`container:` form names.
    fn ns_target(&self, target: crate::planner::namespaces::Target) -> Result<String, String> {
        use crate::planner::namespaces::Target;
        match target {
            Target::Service(s) => self
                .first_of_service(s)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("service {s} has no container")),
            Target::Container(c) => self
                .find_container(c)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no such container {c}")),
        }
    }

    fn container_by_name(&self, name: &str) -> Result<String, StackError> {
        self.find_container(name)?
            .ok_or_else(|| invalid(format!("network_mode container:{name}: no such container")))
    }
}
