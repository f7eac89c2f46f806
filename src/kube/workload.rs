//! The workload around a service's pod template: Deployment, StatefulSet, Job or DaemonSet,
//! with what `deploy` says about replicas, updates, restarts and placement.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy, Deployment, DeploymentSpec,
    DeploymentStrategy, RollingUpdateDaemonSet, RollingUpdateDeployment, StatefulSet,
    StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::context::{Context, WorkloadKind};
use super::error::{KubeError, Result};
use super::ext::AccessMode;
use super::labels;
use super::meta::object_meta;
use super::names;
use super::object::Object;
use super::storage;
use super::warning::Warnings;
use crate::model::types::deploy::{DeployConfig, UpdateConfig};
use crate::model::types::duration::Duration;
use crate::model::types::mounts::VolumeType;

/// The workload of service `name` running `pod`.
pub fn wrap(
    ctx: &Context<'_>,
    name: &str,
    mut pod: PodTemplateSpec,
    warnings: &mut Warnings,
) -> Result<Object> {
    let svc = ctx.service(name);
    let empty = DeployConfig::default();
    let deploy = svc.deploy.as_ref().unwrap_or(&empty);
    let kind = ctx.kind(name);
    placement(name, deploy, &mut pod, warnings);
    restart_policy(name, deploy, kind, warnings);
    if deploy.rollback_config.is_some() {
        warnings.service(
            name,
            "deploy.rollback_config",
            "cannot be carried over: roll back with `kubectl rollout undo`",
        );
    }
    if let Some(u) = &deploy.update_config {
        update_warnings(name, u, kind, warnings);
    }
    let metadata = object_meta(
        names::workload(name),
        labels::standard(ctx.name, Some(name)),
        &deploy.labels,
    );
    let selector = LabelSelector {
        match_labels: Some(labels::selector(ctx.name, name)),
        ..LabelSelector::default()
    };
    let replicas = i32::try_from(ctx.replicas(name)).map_err(|_| KubeError::Invalid {
        path: format!("services.{name}.deploy.replicas"),
        message: "more replicas than Kubernetes can count".to_string(),
    })?;
    let update = deploy.update_config.as_ref();
    let min_ready = update.and_then(|u| u.delay).map(seconds);
    Ok(match kind {
        WorkloadKind::Deployment => Object::Deployment(Deployment {
            metadata,
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                selector,
                strategy: update
                    .map(deployment_strategy)
                    .or_else(|| single_node_claim(ctx, name).then(recreate)),
                min_ready_seconds: min_ready,
                template: pod,
                ..DeploymentSpec::default()
            }),
            status: None,
        }),
        WorkloadKind::StatefulSet => {
            let templates = claim_templates(ctx, name, &mut pod)?;
            Object::StatefulSet(StatefulSet {
                metadata,
                spec: Some(StatefulSetSpec {
                    replicas: Some(replicas),
                    selector,
                    service_name: Some(names::service(name)),
                    // Compose starts and stops replicas together, not one after another.
                    pod_management_policy: Some("Parallel".to_string()),
                    update_strategy: Some(StatefulSetUpdateStrategy {
                        type_: Some("RollingUpdate".to_string()),
                        rolling_update: None,
                    }),
                    min_ready_seconds: min_ready,
                    volume_claim_templates: (!templates.is_empty()).then_some(templates),
                    template: pod,
                    ..StatefulSetSpec::default()
                }),
                status: None,
            })
        }
        WorkloadKind::Job => {
            if deploy.mode.as_deref() == Some("global-job") {
                warnings.service(
                    name,
                    "deploy.mode",
                    "global-job runs once per node; the Job runs it once (use a DaemonSet for a per-node task)",
                );
            }
            let backoff = deploy
                .restart_policy
                .as_ref()
                .and_then(|r| r.max_attempts)
                .map(|n| i32::try_from(n).unwrap_or(i32::MAX));
            let many = (replicas > 1).then_some(replicas);
            Object::Job(Job {
                metadata,
                spec: Some(JobSpec {
                    backoff_limit: backoff,
                    completions: many,
                    parallelism: many,
                    template: pod,
                    ..JobSpec::default()
                }),
                status: None,
            })
        }
        WorkloadKind::DaemonSet => {
            let set = if deploy.replicas.is_some() {
                Some("deploy.replicas")
            } else {
                svc.scale.map(|_| "scale")
            };
            if let Some(key) = set {
                warnings.service(
                    name,
                    key,
                    "a DaemonSet runs one pod per node: the replica count is dropped",
                );
            }
            Object::DaemonSet(DaemonSet {
                metadata,
                spec: Some(DaemonSetSpec {
                    selector,
                    update_strategy: update.map(daemon_set_strategy),
                    min_ready_seconds: min_ready,
                    template: pod,
                    ..DaemonSetSpec::default()
                }),
                status: None,
            })
        }
    })
}

/// How many pods an update replaces at once: `parallelism`, 0 meaning all (100%).
fn step(u: &UpdateConfig) -> IntOrString {
    match u.parallelism {
        Some(0) => IntOrString::String("100%".to_string()),
        Some(n) => IntOrString::Int(i32::try_from(n).unwrap_or(i32::MAX)),
        None => IntOrString::Int(1),
    }
}

/// Whether service `name` mounts a project volume whose claim only one node can attach
/// (ReadWriteOnce, the default, or ReadWriteOncePod).
fn single_node_claim(ctx: &Context<'_>, name: &str) -> bool {
    ctx.service(name).volumes.iter().any(|v| {
        v.kind == VolumeType::Volume
            && v.source.as_ref().is_some_and(|s| {
                ctx.project
                    .volumes
                    .get(s)
                    .is_some_and(|c| !c.external.external)
                    && ctx.volumes.get(s).is_none_or(|e| {
                        e.access_modes.is_empty()
                            || e.access_modes.iter().any(|m| {
                                matches!(
                                    m,
                                    AccessMode::ReadWriteOnce | AccessMode::ReadWriteOncePod
                                )
                            })
                    })
            })
    })
}

/// Without `update_config`, a Deployment whose claim only one node can attach is replaced by
/// stopping the old pod first, as Compose recreates a container: a rolling update would start
/// the new pod first, and on another node it would wait for the volume forever.
fn recreate() -> DeploymentStrategy {
    DeploymentStrategy {
        type_: Some("Recreate".to_string()),
        rolling_update: None,
    }
}

fn starts_first(u: &UpdateConfig) -> bool {
    u.order.as_deref() == Some("start-first")
}

/// start-first starts new pods before stopping old ones (surge, none unavailable); stop-first
/// (Compose's default) the other way round.
fn deployment_strategy(u: &UpdateConfig) -> DeploymentStrategy {
    let (surge, unavailable) = if starts_first(u) {
        (step(u), IntOrString::Int(0))
    } else {
        (IntOrString::Int(0), step(u))
    };
    DeploymentStrategy {
        type_: Some("RollingUpdate".to_string()),
        rolling_update: Some(RollingUpdateDeployment {
            max_surge: Some(surge),
            max_unavailable: Some(unavailable),
        }),
    }
}

fn daemon_set_strategy(u: &UpdateConfig) -> DaemonSetUpdateStrategy {
    let (surge, unavailable) = if starts_first(u) {
        (step(u), IntOrString::Int(0))
    } else {
        (IntOrString::Int(0), step(u))
    };
    DaemonSetUpdateStrategy {
        type_: Some("RollingUpdate".to_string()),
        rolling_update: Some(RollingUpdateDaemonSet {
            max_surge: Some(surge),
            max_unavailable: Some(unavailable),
        }),
    }
}

/// The `update_config` keys no rolling update holds.
fn update_warnings(name: &str, u: &UpdateConfig, kind: WorkloadKind, w: &mut Warnings) {
    let key = |k: &str| format!("deploy.update_config.{k}");
    if u.monitor.is_some() {
        w.service(name, key("monitor"), "cannot be carried over: a rollout is watched through readiness probes and progressDeadlineSeconds");
    }
    if u.failure_action.is_some() {
        w.service(
            name,
            key("failure_action"),
            "cannot be carried over: a failed rollout stops; undo it with `kubectl rollout undo`",
        );
    }
    if u.max_failure_ratio.is_some() {
        w.service(name, key("max_failure_ratio"), "cannot be carried over");
    }
    match kind {
        WorkloadKind::Job => {
            w.service(
                name,
                "deploy.update_config",
                "a Job is not updated in place: it is ignored",
            );
        }
        WorkloadKind::StatefulSet if starts_first(u) || u.parallelism.is_some_and(|p| p != 1) => {
            w.service(name, "deploy.update_config", "a StatefulSet replaces its pods one at a time, stopping each first: order and parallelism are dropped");
        }
        _ => {}
    }
}

/// `restart_policy`'s timing keys: Kubernetes restarts with its own backoff; only a Job counts
/// attempts (`max_attempts` -> backoffLimit). `condition` is the pod's (restartPolicy).
fn restart_policy(name: &str, d: &DeployConfig, kind: WorkloadKind, w: &mut Warnings) {
    let Some(r) = &d.restart_policy else { return };
    // `delay` and `window` are the pod part's (with `condition`); `max_attempts` is a Job's
    // backoffLimit, here.
    if r.max_attempts.is_some() && kind != WorkloadKind::Job {
        w.service(
            name,
            "deploy.restart_policy.max_attempts",
            "cannot be carried over: pods of a Deployment, StatefulSet or DaemonSet always restart",
        );
    }
}

/// `deploy.placement`: node label and hostname/platform constraints become a nodeSelector; the
/// rest is warned about.
fn placement(name: &str, d: &DeployConfig, pod: &mut PodTemplateSpec, w: &mut Warnings) {
    let p = &d.placement;
    let mut selector = BTreeMap::new();
    for (i, c) in p.constraints.iter().enumerate() {
        match node_selector(c) {
            Some((k, v)) => {
                selector.insert(k, v);
            }
            None => w.service(
                name,
                format!("deploy.placement.constraints[{i}]"),
                format!("{c:?} cannot be carried over: only `node.labels.<key> == <value>`, `node.hostname ==`, `node.platform.os ==` and `node.platform.arch ==` become a nodeSelector (use node affinity)"),
            ),
        }
    }
    if !p.preferences.is_empty() {
        w.service(
            name,
            "deploy.placement.preferences",
            "cannot be carried over: use topologySpreadConstraints",
        );
    }
    if p.max_replicas_per_node.is_some() {
        w.service(
            name,
            "deploy.placement.max_replicas_per_node",
            "cannot be carried over: use topologySpreadConstraints or pod anti-affinity",
        );
    }
    if selector.is_empty() {
        return;
    }
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.node_selector
        .get_or_insert_with(BTreeMap::new)
        .extend(selector);
}

/// One `==` constraint as a node label.
fn node_selector(c: &str) -> Option<(String, String)> {
    let (k, v) = c.split_once("==")?;
    let (k, v) = (k.trim(), v.trim());
    if v.is_empty() || v.contains('=') || k.ends_with('!') {
        return None;
    }
    let key = match k {
        "node.hostname" => "kubernetes.io/hostname".to_string(),
        "node.platform.os" => "kubernetes.io/os".to_string(),
        "node.platform.arch" => "kubernetes.io/arch".to_string(),
        _ => k.strip_prefix("node.labels.")?.to_string(),
    };
    let value = match (key.as_str(), v) {
        ("kubernetes.io/arch", "x86_64") => "amd64".to_string(),
        ("kubernetes.io/arch", "aarch64") => "arm64".to_string(),
        _ => v.to_string(),
    };
    labels::is_valid_label(&key, &value).then_some((key, value))
}

/// The pod's claims of project volumes become claim templates (one claim per replica), named
/// like the pod volumes they replace, so the mounts keep their volume names.
fn claim_templates(
    ctx: &Context<'_>,
    name: &str,
    pod: &mut PodTemplateSpec,
) -> Result<Vec<k8s_openapi::api::core::v1::PersistentVolumeClaim>> {
    let mut out = Vec::new();
    let Some(spec) = pod.spec.as_mut() else {
        return Ok(out);
    };
    let Some(volumes) = spec.volumes.take() else {
        return Ok(out);
    };
    let mut kept = Vec::new();
    for v in volumes {
        let claimed = v
            .persistent_volume_claim
            .as_ref()
            .map(|c| c.claim_name.as_str());
        let key =
            ctx.project.volumes.iter().find(|(k, vol)| {
                !vol.external.external && claimed == Some(names::claim(k).as_str())
            });
        match key {
            Some((k, _))
                if ctx
                    .service(name)
                    .volumes
                    .iter()
                    .any(|m| m.source.as_deref() == Some(k)) =>
            {
                out.push(storage::claim(ctx, k, names::pod_volume(k))?)
            }
            _ => kept.push(v),
        }
    }
    // No `volumes: []` left behind when every volume became a template.
    spec.volumes = (!kept.is_empty()).then_some(kept);
    Ok(out)
}

/// A duration in whole seconds, rounded up.
fn seconds(d: Duration) -> i32 {
    let std: std::time::Duration = d.into();
    let s = std.as_secs() + u64::from(std.subsec_nanos() > 0);
    i32::try_from(s).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests;
