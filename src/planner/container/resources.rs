//! The container's cgroup limits: memory, CPU, pids and block I/O from the service's fields
//! and `deploy.resources`, with Docker's defaults and conflicts.

use super::error::{Ctx, SpecError};
use crate::engine::spec::Resources;
use crate::model::types::bytes::ByteSize;
use crate::model::types::service::ServiceConfig;

pub(super) fn resources_for(svc: &ServiceConfig, ctx: &Ctx) -> Result<Resources, SpecError> {
    let bytes = |b: Option<ByteSize>| b.map(|b| b.0).filter(|n| *n != 0);
    let mut r = Resources {
        memory_limit: bytes(svc.mem_limit),
        memory_reservation: bytes(svc.mem_reservation),
        memory_swap: bytes(svc.memswap_limit),
        memory_swappiness: None,
        cpu_shares: None,
        cpu_quota: svc.cpu_quota.filter(|q| *q != 0),
        cpu_period: None,
        cpuset_cpus: svc.cpuset.clone().filter(|s| !s.is_empty()),
        cpuset_mems: None,
        pids_limit: None,
        blkio_weight: None,
        ..Resources::default()
    };
    if let Some(s) = svc.mem_swappiness {
        if !(0..=100).contains(&s.0) {
            return Err(ctx.err(format!(
                "mem_swappiness {} is out of range: it must be between 0 and 100",
                s.0
            )));
        }
        r.memory_swappiness = Some(s.0 as u64);
    }
    match svc.cpu_shares {
        Some(s) if s < 0 => return Err(ctx.err(format!("cpu_shares {s} is negative"))),
        Some(s) if s > 0 => r.cpu_shares = Some(s as u64),
        _ => {}
    }
    match svc.cpu_period {
        Some(p) if p < 0 => return Err(ctx.err(format!("cpu_period {p} is negative"))),
        Some(p) if p > 0 => r.cpu_period = Some(p as u64),
        _ => {}
    }
    let mut pids = svc.pids_limit.filter(|p| *p != 0);
    let mut cpus = svc.cpus.filter(|c| *c != 0.0);
    if let Some(res) = svc.deploy.as_ref().map(|d| &d.resources) {
        if let Some(l) = &res.limits {
            if let Some(m) = bytes(l.memory) {
                r.memory_limit = Some(m);
            }
            if let Some(c) = l.cpus.filter(|c| *c != 0.0) {
                cpus = Some(c);
            }
            if let Some(p) = l.pids.filter(|p| *p > 0) {
                pids = Some(p);
            }
        }
        if let Some(m) = res.reservations.as_ref().and_then(|rv| bytes(rv.memory)) {
            r.memory_reservation = Some(m);
        }
    }
    // Docker's default: a memory limit without `memswap_limit` allows as much swap again.
    r.memory_swap = crate::engine::cgroups::convert::compose_memory_swap(
        r.memory_limit,
        bytes(svc.memswap_limit),
    );
    r.oom_kill_disable = svc.oom_kill_disable;
    r.cpu_rt_runtime = svc.cpu_rt_runtime.filter(|v| *v != 0);
    match svc.cpu_rt_period {
        Some(p) if p < 0 => return Err(ctx.err(format!("cpu_rt_period {p} is negative"))),
        Some(p) if p > 0 => r.cpu_rt_period = Some(p as u64),
        _ => {}
    }
    r.pids_limit = pids.map(|p| if p < 0 { -1 } else { p });
    if let Some(c) = cpus {
        // Docker's NanoCPUs: a quota over its fixed 100 ms period.
        if !(c.is_finite() && c > 0.0) {
            return Err(ctx.err(format!("cpus {c} must be a positive number")));
        }
        if r.cpu_quota.is_some() || r.cpu_period.is_some() {
            return Err(ctx.err(
                "conflicting options: cpus cannot be set together with cpu_quota or cpu_period",
            ));
        }
        r.cpu_period = Some(100_000);
        r.cpu_quota = Some((c * 100_000.0).round() as i64);
    }
    if let Some(b) = &svc.blkio_config {
        r.blkio_weight = b.weight.filter(|w| *w != 0);
        r.blkio_weight_device = b
            .weight_device
            .iter()
            .map(|w| (w.path.clone(), w.weight))
            .collect();
        let rates = |list: &[crate::model::types::service::ThrottleDevice]| -> Vec<(String, u64)> {
            list.iter()
                .map(|t| (t.path.clone(), t.rate.0.max(0) as u64))
                .collect()
        };
        r.blkio_throttle_read_bps = rates(&b.device_read_bps);
        r.blkio_throttle_write_bps = rates(&b.device_write_bps);
        r.blkio_throttle_read_iops = rates(&b.device_read_iops);
        r.blkio_throttle_write_iops = rates(&b.device_write_iops);
    }
    Ok(r)
}

#[cfg(test)]
#[path = "resources_tests.rs"]
mod tests;
