//! Which sysctls a container may set: only those of the namespaces it has of its own.

use super::error::{Ctx, SpecError};
use crate::engine::spec::NetworkMode;
use crate::model::types::service::ServiceConfig;

/// The namespaced IPC sysctls (`kernel.*`) a container may set: runc's `validateSysctl` list.
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Why the sysctl `key` cannot be set in a container, if it cannot. Only sysctls of a
/// namespace the container has of its own may be written (runc's rule): the IPC ones,
/// `fs.mqueue.*`, and `net.*` unless the network is the host's (`host_network`). Everything else
/// (`vm.*`, `kernel.panic`...) would change the host. `kernel.hostname` and `kernel.domainname`
/// have their own keys. The key must be dotted names only: it becomes a path under /proc/sys.
pub fn sysctl_refusal(key: &str, host_network: bool) -> Option<String> {
    if key
        .split('.')
        .any(|c| c.is_empty() || c.contains(['/', '\0']))
    {
        return Some("a sysctl is dot-separated names (such as net.ipv4.ip_forward), without `/` or empty parts".into());
    }
    if IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.") {
        return None;
    }
    if key.starts_with("net.") {
        return host_network
            .then(|| "it would change the host's network namespace (network_mode: host)".into());
    }
    if key == "kernel.hostname" || key == "kernel.domainname" {
        return Some(format!(
            "set `{}` instead",
            key.trim_start_matches("kernel.")
        ));
    }
    Some("it is not namespaced: only kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.* and net.* can be set per container".into())
}

/// Refuses `svc`'s sysctls that a container cannot set (see [`sysctl_refusal`]); `up` calls it
/// for every service before it changes anything, as the spec builder does for one container.
pub fn check_sysctls(service: &str, svc: &ServiceConfig) -> Result<(), SpecError> {
    let host_network = svc.network_mode.as_deref() == Some("host");
    for key in svc.sysctls.keys() {
        if let Some(why) = sysctl_refusal(key, host_network) {
            return Err(SpecError::Invalid {
                service: service.to_string(),
                message: format!("sysctl {key:?} is not allowed: {why}"),
            });
        }
    }
    Ok(())
}

pub(super) fn sysctls_for(
    svc: &ServiceConfig,
    network: NetworkMode,
    ctx: &Ctx,
) -> Result<Vec<(String, String)>, SpecError> {
    let mut out = Vec::new();
    for (key, value) in &svc.sysctls {
        if let Some(why) = sysctl_refusal(key, network == NetworkMode::Host) {
            return Err(ctx.err(format!("sysctl {key:?} is not allowed: {why}")));
        }
        out.push((key.clone(), value.clone()));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "sysctls_tests.rs"]
mod tests;
