//! `extra_hosts`: the /etc/hosts lines a service adds, `host-gateway` included.

use super::error::{Ctx, SpecError};
use crate::model::types::service::ServiceConfig;

/// `extra_hosts` as /etc/hosts lines. `host-gateway` names the host's address on the
/// container's network (as Docker maps it to its default bridge's gateway).
pub(super) fn extra_hosts_for(
    svc: &ServiceConfig,
    ctx: &Ctx,
    gateway: Option<std::net::IpAddr>,
) -> Result<Vec<(String, String)>, SpecError> {
    let mut out = Vec::new();
    for (host, ips) in &svc.extra_hosts {
        for ip in ips {
            if ip == "host-gateway" {
                let Some(gw) = gateway else {
                    return Err(ctx.err(format!(
                        "extra_hosts {host}=host-gateway needs a network gateway, and this container has no network"
                    )));
                };
                out.push((host.clone(), gw.to_string()));
                continue;
            }
            let addr = ip.trim_start_matches('[').trim_end_matches(']');
            if addr.parse::<std::net::IpAddr>().is_err() {
                return Err(ctx.err(format!("extra_hosts {host}: {ip:?} is not an IP address")));
            }
            out.push((host.clone(), addr.to_string()));
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "extra_hosts_tests.rs"]
mod tests;
