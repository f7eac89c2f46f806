//! `healthcheck` as probes: the same command for readiness (a pod receives traffic only once
//! healthy, which is what `service_healthy` waits for) and liveness (an unhealthy container is
//! restarted), and a startup probe covering `start_period`, during which failures do not count.

use k8s_openapi::api::core::v1::{ExecAction, Probe};

use crate::kube::warning::Warnings;
use crate::model::types::duration::Duration;
use crate::model::types::service::{HealthCheckConfig, ServiceConfig};

/// Docker's defaults for `interval` and `timeout` (30s) and `retries` (3).
const DEFAULT_PERIOD: u64 = 30;
const DEFAULT_RETRIES: u64 = 3;

/// The probes of a service; all `None` without a healthcheck.
#[derive(Debug, Default)]
pub struct Probes {
    pub readiness: Option<Probe>,
    pub liveness: Option<Probe>,
    pub startup: Option<Probe>,
}

pub fn from_healthcheck(svc: &ServiceConfig, name: &str, w: &mut Warnings) -> Probes {
    let Some(hc) = &svc.healthcheck else {
        return Probes::default();
    };
    if hc.disable {
        return Probes::default();
    }
    let command = match hc.test.split_first() {
        Some((first, _)) if first == "NONE" => return Probes::default(),
        Some((first, rest)) if first == "CMD" && !rest.is_empty() => rest.to_vec(),
        Some((first, rest)) if first == "CMD-SHELL" && !rest.is_empty() => {
            vec!["/bin/sh".into(), "-c".into(), rest.join(" ")]
        }
        None => {
            w.service(
                name,
                "healthcheck",
                "without `test` the image's own healthcheck applies, which Kubernetes does not run: no probe; write the `test`",
            );
            return Probes::default();
        }
        Some(_) => {
            w.service(
                name,
                "healthcheck.test",
                "must start with CMD, CMD-SHELL or NONE: no probe",
            );
            return Probes::default();
        }
    };
    let period = seconds(hc.interval, DEFAULT_PERIOD);
    let retries = hc.retries.filter(|r| *r > 0).unwrap_or(DEFAULT_RETRIES);
    let probe = Probe {
        exec: Some(ExecAction {
            command: Some(command),
        }),
        period_seconds: Some(int(period)),
        timeout_seconds: Some(int(seconds(hc.timeout, DEFAULT_PERIOD))),
        failure_threshold: Some(int(retries)),
        ..Probe::default()
    };
    Probes {
        startup: startup(hc, &probe, period, retries),
        readiness: Some(probe.clone()),
        liveness: Some(probe),
    }
}

/// A probe covering `start_period`: checked every `start_interval` (else `interval`), it may
/// fail for the whole start period plus `retries` times before the container is restarted.
fn startup(hc: &HealthCheckConfig, probe: &Probe, period: u64, retries: u64) -> Option<Probe> {
    let start = hc.start_period.filter(|d| !d.as_std().is_zero())?;
    let every = hc
        .start_interval
        .filter(|d| !d.as_std().is_zero())
        .map_or(period, |d| seconds(Some(d), period));
    let covering = seconds(Some(start), 1).div_ceil(every);
    Some(Probe {
        period_seconds: Some(int(every)),
        failure_threshold: Some(int(covering + retries)),
        ..probe.clone()
    })
}

/// A duration in whole seconds, rounded up and at least 1; `default` when unset or zero.
fn seconds(d: Option<Duration>, default: u64) -> u64 {
    match d.map(|d| d.as_std()).filter(|d| !d.is_zero()) {
        Some(d) => (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1),
        None => default,
    }
}

/// A probe field (an `i32` in the API), saturated.
fn int(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}
