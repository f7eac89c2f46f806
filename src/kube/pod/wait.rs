//! `depends_on` as init containers: Kubernetes starts every pod at once, so a pod that must
//! come after another waits for it before its main container starts.
//!
//! - a dependency that runs as a Job, awaited with `service_completed_successfully`: `kubectl
//!   wait` for the Job's `complete` condition (the pod runs as the waiter's ServiceAccount, which
//!   the rbac part allows to read Jobs);
//! - a dependency with a Service that has ports: until its first TCP port accepts a connection.
//!   A Service routes only to ready pods, and a healthcheck is the readiness probe, so this waits
//!   for `service_healthy` as well as for `service_started`;
//! - a dependency whose Service has no port (headless): until its name resolves, which it does
//!   once one of its pods is ready.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Container;

use crate::kube::context::{Context, WorkloadKind};
use crate::kube::names;
use crate::kube::warning::Warnings;
use crate::model::types::service::DependencyCondition;

/// The image that waits for a Job. registry.k8s.io publishes a `kubectl` image for every
/// Kubernetes release since 1.28 (tags `vX.Y.Z`); v1.30.0 matches the oldest API the output
/// targets and is within kubectl's one-minor-version skew of 1.29 to 1.31 servers (`kubectl
/// wait` on a Job's condition works against any of them). Its entrypoint is kubectl, so only
/// the arguments are given.
pub(super) const KUBECTL_IMAGE: &str = "registry.k8s.io/kubectl:v1.30.0";

/// The image that waits for a Service: Docker Hub's official busybox, with `nc` and
/// `nslookup`. 1.36 is a long-published tag (1.36.0, January 2023) of the current series.
pub(super) const BUSYBOX_IMAGE: &str = "busybox:1.36";

/// The init containers of service `name`, and whether one of them waits for a Job (the pod
/// then runs as [`names::waiter`]).
#[derive(Debug, Default)]
pub(super) struct Waits {
    pub containers: Vec<Container>,
    pub needs_waiter: bool,
}

/// One init container per dependency of service `name` that can be waited for, in
/// `depends_on`'s order.
pub(super) fn init_containers(ctx: &Context<'_>, name: &str, w: &mut Warnings) -> Waits {
    let mut out = Waits::default();
    let mut used = BTreeSet::new();
    for (dep, d) in &ctx.service(name).depends_on {
        let key = format!("depends_on.{dep}");
        if d.restart {
            w.service(
                name,
                format!("{key}.restart"),
                "Kubernetes does not restart a pod when a pod it depends on restarts; the setting is dropped",
            );
        }
        if !ctx.project.services.contains_key(dep) {
            if d.required {
                w.service(
                    name,
                    key,
                    format!("{dep:?} is not a service of the project; nothing waits for it"),
                );
            }
            continue;
        }
        let is_job = ctx.kind(dep) == WorkloadKind::Job;
        let completed = d.condition == DependencyCondition::ServiceCompletedSuccessfully;
        let (image, command, args) = if is_job && completed {
            out.needs_waiter = true;
            (KUBECTL_IMAGE, None, wait_for_job(dep))
        } else if is_job {
            w.service(
                name,
                key,
                format!(
                    "{dep:?} runs as a Job, which has no Service to wait for; {} is not waited for (use service_completed_successfully)",
                    d.condition.as_str()
                ),
            );
            continue;
        } else {
            if completed {
                w.service(
                    name,
                    key,
                    format!(
                        "{dep:?} runs as a {}, which never completes; the pod waits for its Service instead",
                        ctx.kind(dep).as_str()
                    ),
                );
            }
            (BUSYBOX_IMAGE, Some(shell()), wait_for_service(ctx, dep))
        };
        out.containers.push(Container {
            name: unique(&mut used, dep),
            image: Some(image.to_string()),
            command,
            args: Some(args),
            ..Container::default()
        });
    }
    out
}

/// `wait-<dep>`, a DNS label, unique among this pod's init containers.
fn unique(used: &mut BTreeSet<String>, dep: &str) -> String {
    let base = names::dns_label(&format!("wait-{dep}"));
    let mut candidate = base.clone();
    let mut n = 2;
    while used.contains(&candidate) {
        let suffix = format!("-{n}");
        let keep = 63usize.saturating_sub(suffix.len()).min(base.len());
        candidate = format!("{}{suffix}", &base[..keep]);
        n += 1;
    }
    used.insert(candidate.clone());
    candidate
}

/// `kubectl wait` for the Job of `dep` to complete; `-1s` waits as long as kubectl allows (a
/// week) rather than failing the pod while the Job still runs.
fn wait_for_job(dep: &str) -> Vec<String> {
    vec![
        "wait".to_string(),
        "--for=condition=complete".to_string(),
        format!("job/{}", names::workload(dep)),
        "--timeout=-1s".to_string(),
    ]
}

fn shell() -> Vec<String> {
    vec!["sh".to_string(), "-c".to_string()]
}

/// A shell loop until `dep`'s Service answers: a TCP connection to its first TCP port, or,
/// without one, its name resolving. busybox's nslookup ignores resolv.conf's search list, so
/// the name is qualified with the first search domain, which is `<namespace>.svc.<cluster
/// domain>` in a pod with the ClusterFirst DNS policy.
fn wait_for_service(ctx: &Context<'_>, dep: &str) -> Vec<String> {
    let svc = names::service(dep);
    let port = ctx.ports(dep).into_iter().find(|p| p.protocol == "TCP");
    let script = match port {
        Some(p) => format!(
            "until nc -z -w 2 {svc} {}; do echo waiting for {svc}; sleep 1; done",
            ctx.service_port(dep, &p)
        ),
        None => format!(
            "domain=$(sed -n 's/^search \\([^ ]*\\).*/\\1/p' /etc/resolv.conf); until nslookup {svc}.$domain; do echo waiting for {svc}; sleep 1; done"
        ),
    };
    vec![script]
}
