//! What every part of the translation reads: the project, the file contents read for it, the
//! `x-kubernetes` sections, and the decisions others depend on (each service's workload kind
//! and ports), made once here so the pieces agree.

use indexmap::IndexMap;

use super::error::Result;
use super::ext::{self, KindChoice, ProjectExt, ServiceExt, VolumeExt};
use crate::model::types::mounts::VolumeType;
use crate::model::types::resources::Project;
use crate::model::types::service::{DependencyCondition, ServiceConfig};

/// What the stack layer read from files for the translation (the translation itself reads
/// nothing).
#[derive(Debug, Clone, Default)]
pub struct Contents {
    /// Per service, the variables its `env_file`s define (later files winning), without what
    /// its `environment` sets.
    pub env_files: IndexMap<String, IndexMap<String, String>>,
    /// The content of each project secret that is not external (from `file` or `environment`).
    pub secrets: IndexMap<String, Vec<u8>>,
    /// The content of each project config that is not external (`file`, `environment` or
    /// `content`).
    pub configs: IndexMap<String, Vec<u8>>,
}

/// The input of a translation.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The project name (`app.kubernetes.io/part-of`).
    pub name: &'a str,
    /// The loaded project: profiles applied, only the selected services (and what they need),
    /// `environment` resolved (env files included), paths absolute.
    pub project: &'a Project,
    pub contents: &'a Contents,
}

/// The workload a service becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    Job,
    DaemonSet,
}

impl WorkloadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::DaemonSet => "DaemonSet",
        }
    }
}

/// A container port of a service, from `ports` and `expose`, once per (port, protocol).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    pub target: u16,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: &'static str,
    /// The host port `ports` publishes it on (the first, when several do), if any.
    pub published: Option<u16>,
    /// The long syntax's `name`.
    pub name: Option<String>,
    /// The long syntax's `app_protocol`.
    pub app_protocol: Option<String>,
}

/// The shared state of one translation.
#[derive(Debug)]
pub struct Context<'a> {
    pub name: &'a str,
    pub project: &'a Project,
    pub contents: &'a Contents,
    pub project_ext: ProjectExt,
    /// Every service's `x-kubernetes` (default when absent), in the project's order.
    pub services: IndexMap<String, ServiceExt>,
    /// Every top-level volume's `x-kubernetes`.
    pub volumes: IndexMap<String, VolumeExt>,
    /// Every service's workload kind.
    pub kinds: IndexMap<String, WorkloadKind>,
}

impl<'a> Context<'a> {
    /// Reads the `x-kubernetes` sections and decides each service's workload kind.
    pub fn new(input: Input<'a>) -> Result<Self> {
        let project = input.project;
        let project_ext: ProjectExt =
            ext::read(&project.extensions, "").map_err(strip_leading_dot)?;
        let mut services = IndexMap::new();
        for (name, svc) in &project.services {
            let e: ServiceExt = ext::read(&svc.extensions, &format!("services.{name}"))?;
            services.insert(name.clone(), e);
        }
        let mut volumes = IndexMap::new();
        for (name, v) in &project.volumes {
            let e: VolumeExt = ext::read(&v.extensions, &format!("volumes.{name}"))?;
            volumes.insert(name.clone(), e);
        }
        let mut ctx = Context {
            name: input.name,
            project,
            contents: input.contents,
            project_ext,
            services,
            volumes,
            kinds: IndexMap::new(),
        };
        let kinds = project
            .services
            .keys()
            .map(|n| (n.clone(), ctx.decide_kind(n)))
            .collect();
        ctx.kinds = kinds;
        Ok(ctx)
    }

    /// The Compose service `name` (which must be the project's).
    pub fn service(&self, name: &str) -> &'a ServiceConfig {
        &self.project.services[name]
    }

    /// The `x-kubernetes` of service `name`.
    pub fn ext(&self, name: &str) -> &ServiceExt {
        &self.services[name]
    }

    /// The workload kind of service `name`.
    pub fn kind(&self, name: &str) -> WorkloadKind {
        self.kinds[name]
    }

    /// How many pods service `name` runs: `deploy.replicas`, else `scale`, else 1.
    pub fn replicas(&self, name: &str) -> u64 {
        let svc = self.service(name);
        svc.deploy
            .as_ref()
            .and_then(|d| d.replicas)
            .or(svc.scale)
            .unwrap_or(1)
    }

    /// Whether bind mounts of service `name` become hostPath volumes.
    pub fn host_path(&self, name: &str) -> bool {
        self.ext(name)
            .host_path
            .unwrap_or(self.project_ext.host_path)
    }

    /// Whether some selected service waits for `name` with `service_completed_successfully`.
    pub fn awaited_to_complete(&self, name: &str) -> bool {
        self.project.services.values().any(|s| {
            s.depends_on
                .get(name)
                .is_some_and(|d| d.condition == DependencyCondition::ServiceCompletedSuccessfully)
        })
    }

    /// Whether service `name` gets a Service (every workload but a Job: a Compose service is
    /// reachable by name, and a Job's pods are not meant to be called).
    pub fn has_service(&self, name: &str) -> bool {
        self.kind(name) != WorkloadKind::Job
    }

    /// Whether some pod has an init container waiting for a Job, and so runs as the waiter's
    /// ServiceAccount (see [`super::names::waiter`]).
    pub fn needs_waiter(&self) -> bool {
        self.project.services.values().any(|s| {
            s.depends_on.iter().any(|(dep, d)| {
                d.condition == DependencyCondition::ServiceCompletedSuccessfully
                    && self.kinds.get(dep) == Some(&WorkloadKind::Job)
            })
        })
    }

    /// The container ports of service `name`: `ports` first (in order), then `expose`.
    pub fn ports(&self, name: &str) -> Vec<ServicePort> {
        let svc = self.service(name);
        let mut out: Vec<ServicePort> = Vec::new();
        let mut add = |p: ServicePort| match out
            .iter_mut()
            .find(|o| o.target == p.target && o.protocol == p.protocol)
        {
            Some(o) => {
                o.published = o.published.or(p.published);
                o.name = o.name.take().or(p.name);
                o.app_protocol = o.app_protocol.take().or(p.app_protocol);
            }
            None => out.push(p),
        };
        for p in &svc.ports {
            let Ok(target) = u16::try_from(p.target) else {
                continue;
            };
            let published = p
                .published
                .as_deref()
                .and_then(|s| s.split('-').next())
                .and_then(|s| s.parse::<u16>().ok());
            add(ServicePort {
                target,
                protocol: protocol(&p.protocol),
                published,
                name: p.name.clone(),
                app_protocol: p.app_protocol.clone(),
            });
        }
        for (port, proto) in crate::stack::expose::ports(&svc.expose) {
            add(ServicePort {
                target: port,
                protocol: protocol(&proto),
                published: None,
                name: None,
                app_protocol: None,
            });
        }
        out
    }

    /// The port service `name`'s own Service offers container port `p` on: the container port,
    /// as Compose's network offers it to other services, except behind a LoadBalancer, which
    /// offers the published port (the one the outside world used on the Compose host).
    pub fn service_port(&self, name: &str, p: &ServicePort) -> u16 {
        match self.ext(name).service_type {
            ext::ServiceType::LoadBalancer => p.published.unwrap_or(p.target),
            _ => p.target,
        }
    }

    /// Whether service `name` mounts a named volume of the project (not external).
    pub fn mounts_project_volume(&self, name: &str) -> bool {
        self.service(name).volumes.iter().any(|v| {
            v.kind == VolumeType::Volume
                && v.source.as_ref().is_some_and(|s| {
                    self.project
                        .volumes
                        .get(s)
                        .is_some_and(|c| !c.external.external)
                })
        })
    }

    /// The kind, in this order: `x-kubernetes.kind`; `deploy.mode` global (DaemonSet) or a job
    /// mode (Job); awaited with `service_completed_successfully` (Job); project volumes and more
    /// than one replica (StatefulSet: each replica its own claim); else Deployment.
    fn decide_kind(&self, name: &str) -> WorkloadKind {
        if let Some(k) = self.ext(name).kind {
            return match k {
                KindChoice::Deployment => WorkloadKind::Deployment,
                KindChoice::StatefulSet => WorkloadKind::StatefulSet,
                KindChoice::Job => WorkloadKind::Job,
                KindChoice::DaemonSet => WorkloadKind::DaemonSet,
            };
        }
        let mode = self
            .service(name)
            .deploy
            .as_ref()
            .and_then(|d| d.mode.as_deref());
        match mode {
            Some("global") => return WorkloadKind::DaemonSet,
            Some("replicated-job") | Some("global-job") => return WorkloadKind::Job,
            _ => {}
        }
        if self.awaited_to_complete(name) {
            return WorkloadKind::Job;
        }
        if self.mounts_project_volume(name) && self.replicas(name) > 1 {
            return WorkloadKind::StatefulSet;
        }
        WorkloadKind::Deployment
    }
}

/// `tcp`/`udp`/`sctp` as Kubernetes spells it.
fn protocol(p: &str) -> &'static str {
    match p.to_ascii_lowercase().as_str() {
        "udp" => "UDP",
        "sctp" => "SCTP",
        _ => "TCP",
    }
}

/// The top-level section's path is `x-kubernetes`, not `.x-kubernetes`.
fn strip_leading_dot(e: super::error::KubeError) -> super::error::KubeError {
    match e {
        super::error::KubeError::Extension { path, message } => {
            super::error::KubeError::Extension {
                path: path.trim_start_matches('.').to_string(),
                message,
            }
        }
        other => other,
    }
}
