//! PersistentVolumeClaims for the project's named volumes that services mount (outside
//! StatefulSets, whose claims are templates: [`claim`] makes both, so they agree), and the
//! warnings for what a claim cannot say (volume drivers and their options, sharing).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::context::{Context, WorkloadKind};
use super::error::{KubeError, Result};
use super::ext::AccessMode;
use super::labels;
use super::meta::object_meta;
use super::names;
use super::object::Object;
use super::warning::Warnings;
use crate::model::types::bytes::ByteSize;
use crate::model::types::mounts::VolumeType;

/// A claim's size when neither `x-kubernetes.size` nor `driver_opts.size` gives one.
pub const DEFAULT_SIZE: &str = "1Gi";

/// The `driver_opts` a claim carries over; any other is warned about.
const CLAIM_OPTS: [&str; 2] = ["size", "storage_class"];

/// The claims of the project.
pub fn claims(ctx: &Context<'_>, warnings: &mut Warnings) -> Result<Vec<Object>> {
    let mut out = Vec::new();
    for (key, vol) in &ctx.project.volumes {
        let users = mounters(ctx, key);
        if users.is_empty() {
            continue;
        }
        let path = format!("volumes.{key}");
        if vol.external.external {
            if ctx
                .volumes
                .get(key)
                .is_some_and(|e| *e != Default::default())
            {
                warnings.top(
                    format!("{path}.x-kubernetes"),
                    "ignored: the volume is external, so its claim must already exist",
                );
            }
            continue;
        }
        if let Some(d) = vol.driver.as_deref().filter(|d| *d != "local") {
            warnings.top(
                format!("{path}.driver"),
                format!("volume driver {d:?} cannot be carried over: the claim gets the storage class's provisioner (set x-kubernetes.storage_class)"),
            );
        }
        for opt in vol.driver_opts.keys() {
            if !CLAIM_OPTS.contains(&opt.as_str()) {
                warnings.top(
                    format!("{path}.driver_opts.{opt}"),
                    "driver option cannot be carried over: the claim is provisioned by its storage class",
                );
            }
        }
        let (stateful, shared): (Vec<&str>, Vec<&str>) = users
            .iter()
            .partition(|s| ctx.kind(s) == WorkloadKind::StatefulSet);
        if !stateful.is_empty() && !shared.is_empty() {
            warnings.top(
                path.clone(),
                format!(
                    "StatefulSet {} gives each replica a claim of its own, while {} share the claim {:?}: they no longer see the same data",
                    stateful.join(", "),
                    shared.join(", "),
                    names::claim(key)
                ),
            );
        }
        if shared.is_empty() {
            continue;
        }
        let many_pods = shared.len() > 1
            || shared
                .iter()
                .any(|s| ctx.kind(s) == WorkloadKind::DaemonSet || ctx.replicas(s) > 1);
        if many_pods
            && !access_modes(ctx, key)
                .iter()
                .any(|m| matches!(m, AccessMode::ReadWriteMany | AccessMode::ReadOnlyMany))
        {
            warnings.top(
                path.clone(),
                format!(
                    "mounted by several pods ({}), but a ReadWriteOnce claim only binds to one node: pods scheduled elsewhere cannot start (set x-kubernetes.access_modes: [ReadWriteMany] with a storage class that supports it)",
                    shared.join(", ")
                ),
            );
        }
        out.push(Object::PersistentVolumeClaim(claim(
            ctx,
            key,
            names::claim(key),
        )?));
    }
    Ok(out)
}

/// The claim (or StatefulSet claim template) named `name` for project volume `key`: its
/// `x-kubernetes` size, storage class and access modes (else `driver_opts.size` read as Docker
/// reads it,
/// `driver_opts.storage_class`, and ReadWriteOnce), the volume's labels.
pub fn claim(ctx: &Context<'_>, key: &str, name: String) -> Result<PersistentVolumeClaim> {
    let vol = &ctx.project.volumes[key];
    let ext = ctx.volumes.get(key).cloned().unwrap_or_default();
    let size = match (&ext.size, vol.driver_opts.get("size")) {
        (Some(s), _) => quantity(s).ok_or_else(|| invalid(key, "x-kubernetes.size", s))?,
        // Docker's sizes first: `512m` there is 512 MiB, where Kubernetes reads 0.512 bytes.
        (None, Some(s)) => byte_quantity(s)
            .or_else(|| quantity(s))
            .ok_or_else(|| invalid(key, "driver_opts.size", s))?,
        (None, None) => DEFAULT_SIZE.to_string(),
    };
    let storage_class = ext
        .storage_class
        .clone()
        .or_else(|| vol.driver_opts.get("storage_class").cloned());
    let modes = access_modes(ctx, key)
        .iter()
        .map(|m| m.as_str().to_string())
        .collect();
    Ok(PersistentVolumeClaim {
        metadata: object_meta(name, labels::standard(ctx.name, None), &vol.labels),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(modes),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), Quantity(size))])),
                limits: None,
            }),
            storage_class_name: storage_class,
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    })
}

/// The services that mount project volume `key`, in the project's order.
fn mounters<'a>(ctx: &Context<'a>, key: &str) -> Vec<&'a str> {
    ctx.project
        .services
        .iter()
        .filter(|(_, s)| {
            s.volumes
                .iter()
                .any(|v| v.kind == VolumeType::Volume && v.source.as_deref() == Some(key))
        })
        .map(|(n, _)| n.as_str())
        .collect()
}

/// The access modes asked for (deduplicated, in order), else ReadWriteOnce.
fn access_modes(ctx: &Context<'_>, key: &str) -> Vec<AccessMode> {
    let mut modes: Vec<AccessMode> = Vec::new();
    for m in ctx
        .volumes
        .get(key)
        .map(|e| e.access_modes.as_slice())
        .unwrap_or_default()
    {
        if !modes.contains(m) {
            modes.push(*m);
        }
    }
    if modes.is_empty() {
        modes.push(AccessMode::ReadWriteOnce);
    }
    modes
}

fn invalid(key: &str, field: &str, value: &str) -> KubeError {
    KubeError::Invalid {
        path: format!("volumes.{key}.{field}"),
        message: format!("{value:?} is not a Kubernetes quantity (like 10Gi or 500M)"),
    }
}

/// `s` when it is a Kubernetes quantity without sign: digits with at most one `.`, then a
/// binary (`Ki`..`Ei`) or decimal (`n`, `u`, `m`, `k`, `M`..`E`) suffix or an exponent
/// (`e3`, `E-2`).
pub fn quantity(s: &str) -> Option<String> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let number_ok = num.chars().any(|c| c.is_ascii_digit()) && num.matches('.').count() <= 1;
    let suffix_ok = matches!(
        suffix,
        "" | "Ki"
            | "Mi"
            | "Gi"
            | "Ti"
            | "Pi"
            | "Ei"
            | "n"
            | "u"
            | "m"
            | "k"
            | "M"
            | "G"
            | "T"
            | "P"
            | "E"
    ) || suffix
        .strip_prefix(['e', 'E'])
        .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
        .is_some_and(|e| !e.is_empty() && e.chars().all(|c| c.is_ascii_digit()));
    (number_ok && suffix_ok).then(|| s.to_string())
}

/// A Docker size (`10g`, `512m`) as a quantity, in the largest binary unit it is a whole
/// number of.
fn byte_quantity(s: &str) -> Option<String> {
    let bytes = s.parse::<ByteSize>().ok()?.bytes();
    if bytes <= 0 {
        return None;
    }
    let units = [
        ("Ei", 60),
        ("Pi", 50),
        ("Ti", 40),
        ("Gi", 30),
        ("Mi", 20),
        ("Ki", 10),
    ];
    for (unit, shift) in units {
        if bytes % (1i64 << shift) == 0 {
            return Some(format!("{}{unit}", bytes >> shift));
        }
    }
    Some(bytes.to_string())
}

#[cfg(test)]
mod tests;
