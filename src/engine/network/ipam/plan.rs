//! Planning a new network's subnets (pure): validating an explicit `ipam.config` and choosing
//! a free subnet from the pools for each enabled family that has none.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::error::{invalid, join, IpamError};
use super::pool::{HostPrefix, IpamPools};
use super::records::{IpamRequest, NetworkAddrs, NetworkOptions, SubnetAddrs};
use super::subnet::{family_name, from_u128, to_u128, Subnet};

/// Checks an explicit config entry and turns it into a record (pure: no overlap checks).
fn validate_explicit(network: &str, req: &IpamRequest) -> Result<SubnetAddrs, IpamError> {
    let Some(subnet) = req.subnet else {
        let what = if let Some(g) = req.gateway {
            format!("gateway {g}")
        } else if let Some(r) = req.ip_range {
            format!("ip_range {r}")
        } else {
            "aux_addresses".to_string()
        };
        return Err(invalid(format!(
            "network {network}: ipam.config gives {what} without a subnet"
        )));
    };
    let Some((first, last)) = subnet.host_range().filter(|(f, l)| l - f >= 1) else {
        return Err(invalid(format!(
            "network {network}: subnet {subnet} is too small (it needs room for a gateway and a container)"
        )));
    };
    let is_host =
        |ip: IpAddr| ip.is_ipv4() == subnet.is_ipv4() && (first..=last).contains(&to_u128(ip));
    if let Some(r) = req.ip_range {
        if !subnet.contains_subnet(&r) {
            return Err(invalid(format!(
                "network {network}: ip_range {r} is not inside subnet {subnet}"
            )));
        }
    }
    let gateway = match req.gateway {
        Some(g) if !subnet.contains(g) => {
            return Err(invalid(format!(
                "network {network}: gateway {g} is not inside subnet {subnet}"
            )))
        }
        Some(g) if !is_host(g) => {
            return Err(invalid(format!(
            "network {network}: gateway {g} is the network or broadcast address of subnet {subnet}"
        )))
        }
        Some(g) => g,
        None => from_u128(first, subnet.is_ipv4()),
    };
    for (name, a) in &req.aux_addresses {
        if !subnet.contains(*a) {
            return Err(invalid(format!(
                "network {network}: aux address {name}={a} is not inside subnet {subnet}"
            )));
        }
        if !is_host(*a) {
            return Err(invalid(format!(
                "network {network}: aux address {name}={a} is the network or broadcast address of subnet {subnet}"
            )));
        }
    }
    Ok(SubnetAddrs {
        subnet,
        gateway,
        ip_range: req.ip_range,
        aux_addresses: req.aux_addresses.clone(),
        automatic: false,
        last: None,
    })
}

/// Decides the subnets of a new network: validates the explicit configs, refuses overlaps
/// with the host and with `others` (our existing networks), and picks a subnet from the pools
/// for each enabled family that has no explicit one.
pub fn plan_network(
    name: &str,
    configs: &[IpamRequest],
    options: NetworkOptions,
    pools: &IpamPools,
    host: &[HostPrefix],
    others: &[NetworkAddrs],
) -> Result<Vec<SubnetAddrs>, IpamError> {
    let mut subnets: Vec<SubnetAddrs> = Vec::new();
    for req in configs.iter().filter(|r| !r.is_empty()) {
        let s = validate_explicit(name, req)?;
        let v4 = s.subnet.is_ipv4();
        if v4 && !options.enable_ipv4 {
            return Err(invalid(format!(
                "network {name}: ipam.config has IPv4 subnet {} but enable_ipv4 is false",
                s.subnet
            )));
        }
        if !v4 && !options.enable_ipv6 {
            return Err(invalid(format!(
                "network {name}: ipam.config has IPv6 subnet {} but enable_ipv6 is not set",
                s.subnet
            )));
        }
        if let Some(prev) = subnets.iter().find(|p| p.subnet.overlaps(&s.subnet)) {
            return Err(invalid(format!(
                "network {name}: ipam.config subnets {} and {} overlap",
                prev.subnet, s.subnet
            )));
        }
        for other in others {
            if let Some(o) = other.subnets.iter().find(|o| o.subnet.overlaps(&s.subnet)) {
                return Err(IpamError::OverlapsNetwork {
                    network: name.to_string(),
                    subnet: s.subnet,
                    other: other.name.clone(),
                    other_subnet: o.subnet,
                });
            }
        }
        if let Some(h) = host.iter().find(|h| h.subnet.overlaps(&s.subnet)) {
            return Err(IpamError::OverlapsHost {
                network: name.to_string(),
                subnet: s.subnet,
                host: h.clone(),
            });
        }
        subnets.push(s);
    }

    for (v4, enabled, family_pools) in [
        (true, options.enable_ipv4, &pools.v4),
        (false, options.enable_ipv6, &pools.v6),
    ] {
        if !enabled || subnets.iter().any(|s| s.subnet.is_ipv4() == v4) {
            continue;
        }
        let taken: Vec<Subnet> = host
            .iter()
            .map(|h| h.subnet)
            .chain(
                others
                    .iter()
                    .flat_map(|o| o.subnets.iter().map(|s| s.subnet)),
            )
            .chain(subnets.iter().map(|s| s.subnet))
            .filter(|s| s.is_ipv4() == v4)
            .collect();
        let chosen = family_pools
            .iter()
            .filter(|p| p.is_ipv4() == v4)
            .filter_map(|p| p.first_free(&taken))
            .find(|s| s.host_range().is_some_and(|(f, l)| l > f));
        let Some(subnet) = chosen else {
            return Err(IpamError::PoolsExhausted {
                network: name.to_string(),
                family: family_name(v4),
                pools: join(family_pools.iter().filter(|p| p.is_ipv4() == v4)),
            });
        };
        let gateway = from_u128(subnet.start() + 1, v4);
        subnets.push(SubnetAddrs {
            subnet,
            gateway,
            ip_range: None,
            aux_addresses: BTreeMap::new(),
            automatic: true,
            last: None,
        });
    }
    Ok(subnets)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
