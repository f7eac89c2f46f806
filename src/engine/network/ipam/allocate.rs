//! Handing out container addresses on one network (pure; the store persists): requested
//! addresses are checked against reservations and owners, others are taken serially.

use std::collections::HashSet;
use std::net::IpAddr;

use super::error::{invalid, join, IpamError};
use super::records::{AddrRequest, ContainerAddrs, NetworkAddrs};
use super::subnet::{family_name, from_u128, to_u128};

/// Gives `container_id` its addresses on `net` (pure; the caller persists). Idempotent: a
/// container that already has addresses keeps them (a restart keeps its IP).
pub fn allocate_in(
    net: &mut NetworkAddrs,
    container_id: &str,
    req: &AddrRequest,
) -> Result<ContainerAddrs, IpamError> {
    let requested = [req.ipv4.map(IpAddr::V4), req.ipv6.map(IpAddr::V6)];
    if let Some(current) = net.allocations.get(container_id) {
        for want in requested.iter().flatten() {
            if let Some(cur) = current.iter().find(|c| c.is_ipv4() == want.is_ipv4()) {
                if cur != want {
                    return Err(IpamError::AlreadyAllocated {
                        network: net.name.clone(),
                        container: container_id.to_string(),
                        current: *cur,
                        requested: *want,
                    });
                }
            }
        }
        return Ok(net.addrs_of(container_id));
    }

    let mut picked: Vec<(usize, IpAddr)> = Vec::new();
    for (v4, want) in [(true, requested[0]), (false, requested[1])] {
        let family: Vec<usize> = (0..net.subnets.len())
            .filter(|i| net.subnets[*i].subnet.is_ipv4() == v4)
            .collect();
        if family.is_empty() {
            if let Some(w) = want {
                return Err(invalid(format!(
                    "network {}: address {w} requested but the network has no {} subnet{}",
                    net.name,
                    family_name(v4),
                    if v4 { "" } else { " (is enable_ipv6 set?)" }
                )));
            }
            continue;
        }
        let pick = match want {
            Some(w) => {
                let Some(&i) = family.iter().find(|i| net.subnets[**i].subnet.contains(w)) else {
                    return Err(IpamError::AddressOutside {
                        network: net.name.clone(),
                        addr: w,
                        subnets: join(family.iter().map(|i| net.subnets[*i].subnet)),
                    });
                };
                if let Some(why) = net.subnets[i].reserved(w) {
                    return Err(IpamError::AddressReserved {
                        network: net.name.clone(),
                        addr: w,
                        why,
                    });
                }
                if let Some(owner) = net.owner_of(w) {
                    return Err(IpamError::AddressInUse {
                        network: net.name.clone(),
                        addr: w,
                        owner: owner.to_string(),
                    });
                }
                (i, w)
            }
            None => family
                .iter()
                .find_map(|i| next_free(net, *i).map(|a| (*i, a)))
                .ok_or_else(|| IpamError::Exhausted {
                    network: net.name.clone(),
                    family: family_name(v4),
                    subnets: join(family.iter().map(|i| net.subnets[*i].subnet)),
                })?,
        };
        picked.push(pick);
    }
    for (i, addr) in &picked {
        net.subnets[*i].last = Some(*addr);
    }
    net.allocations.insert(
        container_id.to_string(),
        picked.iter().map(|(_, a)| *a).collect(),
    );
    Ok(net.addrs_of(container_id))
}

/// The next free dynamic address of subnet `i` after the last one handed out, wrapping.
fn next_free(net: &NetworkAddrs, i: usize) -> Option<IpAddr> {
    let s = &net.subnets[i];
    let v4 = s.subnet.is_ipv4();
    let (first, last) = s.dynamic_range()?;
    let used: HashSet<u128> = net
        .allocations
        .values()
        .flatten()
        .filter(|a| a.is_ipv4() == v4)
        .map(|a| to_u128(*a))
        .collect();
    let start = match s.last.map(to_u128) {
        Some(l) if (first..last).contains(&l) => l + 1,
        _ => first,
    };
    // Among `taken + 1` distinct candidates at least one is free, so the walk is bounded
    // by the number of used and reserved addresses, not by the (maybe /64) range.
    let taken = used.len() as u128 + 2 + s.aux_addresses.len() as u128;
    let span = last - first;
    let steps = taken.min(span).saturating_add(1);
    let mut cand = start;
    for _ in 0..steps {
        let ip = from_u128(cand, v4);
        if !used.contains(&cand) && s.reserved(ip).is_none() {
            return Some(ip);
        }
        cand = if cand == last { first } else { cand + 1 };
    }
    None
}

#[cfg(test)]
#[path = "allocate_tests.rs"]
mod tests;
