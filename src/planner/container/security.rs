//! `security_opt` (no-new-privileges, seccomp, label, apparmor, systempaths) and the paths
//! Docker masks or makes read-only in every unprivileged container.

use std::path::PathBuf;

use super::error::{Ctx, SpecError};
use crate::engine::runtime::seccomp::SeccompChoice;

/// Paths Docker makes unreadable (moby `oci.DefaultSpec`).
pub const DOCKER_MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

/// Also masked by Docker: `/sys/devices/virtual/powercap` (energy counters, CVE-2020-8694).
const DOCKER_MASKED_POWERCAP: &str = "/sys/devices/virtual/powercap";

/// Also masked by Docker 28: each CPU's thermal throttling counters (a thermal side channel,
/// GHSA-6fw5-f8r9-fgfm). Docker lists the CPUs of the host it runs on; the pattern is expanded
/// when the container starts instead (see `engine::runtime::masks`), so a recorded container
/// stays right on a host with other CPUs.
const DOCKER_MASKED_THERMAL_THROTTLE: &str = "/sys/devices/system/cpu/cpu*/thermal_throttle";

/// Paths Docker remounts read-only (moby `oci.DefaultSpec`).
pub const DOCKER_READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Parsed `security_opt`.
pub(super) struct Security {
    pub(super) no_new_privileges: bool,
    pub(super) seccomp: SeccompChoice,
    pub(super) unconfined_systempaths: bool,
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" => Some(true),
        "0" | "f" | "false" => Some(false),
        _ => None,
    }
}

pub(super) fn security_options(opts: &[String], ctx: &Ctx) -> Result<Security, SpecError> {
    let mut sec = Security {
        no_new_privileges: false,
        seccomp: SeccompChoice::Default,
        unconfined_systempaths: false,
    };
    for opt in opts {
        let (key, value) = match opt.split_once(['=', ':']) {
            Some((k, v)) => (k, Some(v)),
            None => (opt.as_str(), None),
        };
        let bad = || ctx.err(format!("invalid security_opt {opt:?}"));
        match (key, value) {
            ("no-new-privileges", None) => sec.no_new_privileges = true,
            ("no-new-privileges", Some(v)) => {
                sec.no_new_privileges = parse_bool(v).ok_or_else(bad)?
            }
            ("seccomp", Some("unconfined")) => sec.seccomp = SeccompChoice::Unconfined,
            ("seccomp", Some("builtin")) => sec.seccomp = SeccompChoice::Default,
            ("seccomp", Some(path)) if !path.is_empty() => {
                sec.seccomp = SeccompChoice::File(PathBuf::from(path))
            }
            // SELinux labels: no SELinux support, nothing to do.
            ("label", Some(_)) => {}
            // AppArmor: accepted, not enforced (no AppArmor support).
            ("apparmor", Some(_)) => {}
            ("systempaths", Some("unconfined")) => sec.unconfined_systempaths = true,
            _ => return Err(bad()),
        }
    }
    Ok(sec)
}

/// The paths masked and those made read-only, as Docker sets them; none when `unconfined`
/// (privileged, or `systempaths=unconfined`).
pub fn system_paths(unconfined: bool) -> (Vec<String>, Vec<String>) {
    if unconfined {
        return (Vec::new(), Vec::new());
    }
    let mut masked: Vec<String> = DOCKER_MASKED_PATHS.iter().map(|s| s.to_string()).collect();
    masked.push(DOCKER_MASKED_POWERCAP.to_string());
    masked.push(DOCKER_MASKED_THERMAL_THROTTLE.to_string());
    (
        masked,
        DOCKER_READONLY_PATHS
            .iter()
            .map(|s| s.to_string())
            .collect(),
    )
}
#[cfg(test)]
#[path = "security_tests.rs"]
mod tests;
