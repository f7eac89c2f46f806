//! A service's pod template: its container, the init containers that wait for its
//! dependencies, its volumes, and the pod-level settings.
//!
//! [`template`] builds the main container and pod security context (the `container` module)
//! and hands them to [`assemble`], which adds everything that belongs to the pod: labels and
//! annotations, volumes and their mounts ([`volumes`]), init containers for `depends_on`
//! ([`wait`]), the restart policy, the grace period, and the name-resolution settings and
//! namespace-sharing warnings ([`network`]). Keeping the assembly apart from the container lets
//! each be tested with the other hand-made.

pub mod container;
mod network;
mod volumes;
mod wait;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSecurityContext, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::context::{Context, WorkloadKind};
use super::error::Result;
use super::labels;
use super::names;
use super::warning::Warnings;

/// The pod template of service `name`, with the standard labels and the selector's labels.
pub fn template(ctx: &Context<'_>, name: &str, warnings: &mut Warnings) -> Result<PodTemplateSpec> {
    let main = container::main(ctx, name, warnings)?;
    let security = container::pod_security(ctx, name, warnings)?;
    assemble(ctx, name, main, security, warnings)
}

/// The pod around the already-built main container `main` and pod security context.
fn assemble(
    ctx: &Context<'_>,
    name: &str,
    mut main: Container,
    security: Option<PodSecurityContext>,
    w: &mut Warnings,
) -> Result<PodTemplateSpec> {
    let svc = ctx.service(name);
    let pod_volumes = volumes::build(ctx, name, w)?;
    if !pod_volumes.mounts.is_empty() {
        main.volume_mounts = Some(pod_volumes.mounts);
    }
    let waits = wait::init_containers(ctx, name, w);
    let mut spec = PodSpec {
        containers: vec![main],
        init_containers: non_empty(waits.containers),
        volumes: non_empty(pod_volumes.volumes),
        restart_policy: Some(restart_policy(ctx, name, w).to_string()),
        termination_grace_period_seconds: svc.stop_grace_period.map(|d| seconds_up(d.as_std())),
        security_context: security,
        service_account_name: waits.needs_waiter.then(|| names::waiter(ctx.name)),
        ..PodSpec::default()
    };
    network::apply(ctx, name, &mut spec, w);
    Ok(PodTemplateSpec {
        metadata: Some(metadata(ctx, name, w)),
        spec: Some(spec),
    })
}

/// The selector's and standard labels, then the Compose `labels` Kubernetes can hold as labels;
/// the others (and every `annotations` entry) become annotations, which hold any string.
fn metadata(ctx: &Context<'_>, name: &str, w: &mut Warnings) -> ObjectMeta {
    let svc = ctx.service(name);
    let mut labels = labels::standard(ctx.name, Some(name));
    labels.extend(labels::selector(ctx.name, name));
    let mut annotations: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in &svc.labels {
        if labels.contains_key(k) {
            // Ours select the pods: a Compose label may not change them.
            w.service(
                name,
                format!("labels.{k}"),
                "is a label the generator sets itself; the Compose value is kept as an annotation",
            );
            annotations.insert(k.clone(), v.clone());
        } else if labels::is_valid_label(k, v) {
            labels.insert(k.clone(), v.clone());
        } else {
            annotations.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in &svc.annotations {
        annotations.insert(k.clone(), v.clone());
    }
    ObjectMeta {
        labels: Some(labels),
        annotations: (!annotations.is_empty()).then_some(annotations),
        ..ObjectMeta::default()
    }
}

/// What Compose asks for when the container exits: `deploy.restart_policy.condition` when set
/// (it is what Docker Compose itself falls back to only without `restart`, but a file that sets
/// both means the deploy one for a cluster), else `restart`.
fn restart_policy(ctx: &Context<'_>, name: &str, w: &mut Warnings) -> &'static str {
    let svc = ctx.service(name);
    let deploy = svc.deploy.as_ref().and_then(|d| d.restart_policy.as_ref());
    if let Some(rp) = deploy {
        for (key, set) in [
            ("delay", rp.delay.is_some()),
            ("window", rp.window.is_some()),
        ] {
            if set {
                w.service(
                    name,
                    format!("deploy.restart_policy.{key}"),
                    "Kubernetes restarts containers with its own exponential back-off; the setting is dropped",
                );
            }
        }
    }
    let (key, condition) = match deploy.and_then(|rp| rp.condition.as_deref()) {
        Some(c) => ("deploy.restart_policy.condition", c),
        None => ("restart", svc.restart.as_deref().unwrap_or("no")),
    };
    let wanted = Restart::parse(condition);
    if ctx.kind(name) != WorkloadKind::Job {
        // Deployments, StatefulSets and DaemonSets accept nothing but Always.
        if wanted != Restart::Always && (key != "restart" || svc.restart.is_some()) {
            w.service(
                name,
                key,
                format!(
                    "{condition:?}: the pods of a {} are always restarted; run it as a Job (x-kubernetes.kind: job) to stop after it exits",
                    ctx.kind(name).as_str()
                ),
            );
        }
        return "Always";
    }
    match wanted {
        Restart::Never => "Never",
        Restart::OnFailure => {
            if condition.contains(':') {
                w.service(
                    name,
                    key,
                    format!("{condition:?}: the retry count is not carried over; a Job retries up to its backoffLimit (deploy.restart_policy.max_attempts)"),
                );
            }
            "OnFailure"
        }
        Restart::Always => {
            w.service(
                name,
                key,
                format!("{condition:?}: a Job's pods are only restarted on failure (OnFailure); one that succeeds is done"),
            );
            "OnFailure"
        }
    }
}

/// A Compose restart condition, by what Kubernetes can do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restart {
    /// `no`, `none`.
    Never,
    /// `on-failure[:N]`.
    OnFailure,
    /// `always`, `unless-stopped`, `any`.
    Always,
}

impl Restart {
    fn parse(s: &str) -> Restart {
        match s.split(':').next().unwrap_or(s) {
            "no" | "none" => Restart::Never,
            "on-failure" => Restart::OnFailure,
            _ => Restart::Always,
        }
    }
}

/// Whole seconds, rounded up: Kubernetes takes no fractions, and rounding down could leave a
/// process less time than Compose gave it.
fn seconds_up(d: std::time::Duration) -> i64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i64::try_from(s).unwrap_or(i64::MAX)
}

/// `None` for an empty list, so the field is left out of the YAML.
fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}
