//! CPU, memory, pids and GPUs: `deploy.resources` and the legacy service keys. Kubernetes has
//! requests (what the scheduler reserves) and limits (what the kernel enforces): Compose's
//! reservations are requests, its limits are limits.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::kube::context::Context;
use crate::kube::warning::Warnings;
use crate::model::types::deploy::{DeviceCount, DeviceRequest, Resource};
use crate::model::types::service::ServiceConfig;

type Quantities = BTreeMap<String, Quantity>;

/// The container's requests and limits; `None` when the service sets none.
pub fn requirements(
    ctx: &Context<'_>,
    name: &str,
    w: &mut Warnings,
) -> Option<ResourceRequirements> {
    let svc = ctx.service(name);
    let res = svc.deploy.as_ref().map(|d| &d.resources);
    let limits = res.and_then(|r| r.limits.as_ref());
    let reservations = res.and_then(|r| r.reservations.as_ref());
    let mut limit: Quantities = BTreeMap::new();
    let mut request: Quantities = BTreeMap::new();

    let cpu_limit = limits
        .and_then(|l| l.cpus)
        .or(svc.cpus)
        .filter(|c| *c > 0.0)
        .or_else(|| quota_cores(svc, name, w));
    if let Some(c) = cpu_limit {
        limit.insert("cpu".into(), cpu(c));
    }
    let mem_limit = limits.and_then(|l| l.memory).or(svc.mem_limit);
    if let Some(m) = mem_limit.map(|m| m.bytes()).filter(|m| *m > 0) {
        limit.insert("memory".into(), memory(m));
    }
    let cpu_request = match reservations.and_then(|r| r.cpus).filter(|c| *c > 0.0) {
        Some(c) => Some((c, "deploy.resources.reservations.cpus")),
        // Shares weigh CPU time against other containers; 1024 is one CPU's worth, which is
        // what a request of one core weighs on a node.
        None => svc
            .cpu_shares
            .filter(|s| *s > 0)
            .map(|s| (s as f64 / 1024.0, "cpu_shares")),
    };
    if let Some((c, key)) = cpu_request {
        request.insert("cpu".into(), cpu(clamp(c, cpu_limit, key, name, w)));
    }
    let mem_request = match reservations.and_then(|r| r.memory) {
        Some(m) => Some((m, "deploy.resources.reservations.memory")),
        None => svc.mem_reservation.map(|m| (m, "mem_reservation")),
    };
    if let Some((m, key)) = mem_request.filter(|(m, _)| m.bytes() > 0) {
        let limit = mem_limit.map(|l| l.bytes() as f64).filter(|l| *l > 0.0);
        let m = clamp(m.bytes() as f64, limit, key, name, w) as i64;
        request.insert("memory".into(), memory(m));
    }
    pids(svc, limits, reservations, name, w);
    if let Some(r) = reservations {
        gpus(
            ctx,
            name,
            &r.devices,
            ("deploy.resources.reservations.devices", false),
            &mut limit,
            w,
        );
        for (i, g) in r.generic_resources.iter().enumerate() {
            let kind = g
                .discrete_resource_spec
                .as_ref()
                .map(|d| d.kind.as_str())
                .unwrap_or("");
            w.service(
                name,
                format!("deploy.resources.reservations.generic_resources[{i}]"),
                format!("the generic resource {kind:?} has no Kubernetes name: add the node's extended resource to `resources.limits` by hand"),
            );
        }
    }
    gpus(ctx, name, &svc.gpus, ("gpus", true), &mut limit, w);
    if limit.is_empty() && request.is_empty() {
        return None;
    }
    Some(ResourceRequirements {
        limits: (!limit.is_empty()).then_some(limit),
        requests: (!request.is_empty()).then_some(request),
        ..ResourceRequirements::default()
    })
}

/// `cpu_quota` / `cpu_period` as cores (the period defaulting to the kernel's 100ms).
fn quota_cores(svc: &ServiceConfig, name: &str, w: &mut Warnings) -> Option<f64> {
    match (svc.cpu_quota.filter(|q| *q > 0), svc.cpu_period) {
        (Some(q), p) => Some(q as f64 / p.filter(|p| *p > 0).unwrap_or(100_000) as f64),
        (None, Some(_)) => {
            w.service(
                name,
                "cpu_period",
                "without `cpu_quota` it limits nothing, and Kubernetes sets the period itself: left out",
            );
            None
        }
        (None, None) => None,
    }
}

/// A request above its limit is refused by Kubernetes: it is lowered to the limit.
fn clamp(request: f64, limit: Option<f64>, key: &str, name: &str, w: &mut Warnings) -> f64 {
    match limit {
        Some(l) if request > l => {
            w.service(
                name,
                key,
                "the reservation is above the limit, which Kubernetes refuses: the request is the limit",
            );
            l
        }
        _ => request,
    }
}

/// Pids limits are per node in Kubernetes (the kubelet's `podPidsLimit`), never per container.
fn pids(
    svc: &ServiceConfig,
    limits: Option<&Resource>,
    reservations: Option<&Resource>,
    name: &str,
    w: &mut Warnings,
) {
    let msg = "Kubernetes limits processes per node (the kubelet's podPidsLimit), not per container: left out";
    if limits.is_some_and(|l| l.pids.is_some()) {
        w.service(name, "deploy.resources.limits.pids", msg);
    }
    if reservations.is_some_and(|r| r.pids.is_some()) {
        w.service(name, "deploy.resources.reservations.pids", msg);
    }
    if svc.pids_limit.is_some() {
        w.service(name, "pids_limit", msg);
    }
}

/// GPU device requests as limits of the vendor's extended resource (Kubernetes' device plugins
/// count whole devices and choose which ones). `(key, all_gpus)`: where the requests are, and
/// whether they are GPUs whatever their capabilities say (`gpus:`).
fn gpus(
    ctx: &Context<'_>,
    name: &str,
    requests: &[DeviceRequest],
    (key, all_gpus): (&str, bool),
    limit: &mut Quantities,
    w: &mut Warnings,
) {
    for (i, req) in requests.iter().enumerate() {
        let key = format!("{key}[{i}]");
        let is_gpu = all_gpus || req.capabilities.iter().any(|c| c == "gpu");
        if !is_gpu {
            w.service(
                name,
                key,
                format!("a device request for {:?} has no Kubernetes equivalent: request the device plugin's resource in `resources.limits` by hand", req.capabilities),
            );
            continue;
        }
        let resource = match (&ctx.ext(name).gpu_resource, req.driver.as_deref()) {
            (Some(r), _) => r.clone(),
            (None, None | Some("nvidia")) => "nvidia.com/gpu".to_string(),
            (None, Some("amd")) => "amd.com/gpu".to_string(),
            (None, Some(other)) => {
                w.service(
                    name,
                    format!("{key}.driver"),
                    format!("no known Kubernetes resource for GPU driver {other:?}: set `x-kubernetes.gpu_resource` to the device plugin's resource name"),
                );
                continue;
            }
        };
        let count = if !req.device_ids.is_empty() {
            w.service(
                name,
                format!("{key}.device_ids"),
                "Kubernetes chooses which GPUs a pod gets: as many GPUs as ids are requested",
            );
            req.device_ids.len() as u64
        } else {
            match req.count {
                Some(DeviceCount::Count(n)) => n,
                Some(DeviceCount::All) | None => {
                    w.service(
                        name,
                        format!("{key}.count"),
                        "Kubernetes cannot request all of a node's GPUs: one is requested; set `count`",
                    );
                    1
                }
            }
        };
        if !req.options.is_empty() {
            w.service(
                name,
                format!("{key}.options"),
                "driver options have no Kubernetes equivalent: left out",
            );
        }
        if count == 0 {
            continue;
        }
        let total = limit
            .get(&resource)
            .and_then(|q| q.0.parse::<u64>().ok())
            .unwrap_or(0)
            + count;
        limit.insert(resource, Quantity(total.to_string()));
    }
}

/// Cores as a CPU quantity, in millicores rounded up (at least `1m`): `0.5` -> `500m`, `2` -> `2`.
pub fn cpu(cores: f64) -> Quantity {
    let milli = ((cores * 1000.0).ceil() as i64).max(1);
    if milli % 1000 == 0 {
        Quantity((milli / 1000).to_string())
    } else {
        Quantity(format!("{milli}m"))
    }
}

/// Bytes as a memory quantity, in the largest binary unit that divides them exactly.
pub fn memory(bytes: i64) -> Quantity {
    for (unit, size) in [
        ("Ti", 1i64 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ] {
        if bytes % size == 0 {
            return Quantity(format!("{}{unit}", bytes / size));
        }
    }
    Quantity(bytes.to_string())
}
