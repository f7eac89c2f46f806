//! `Networks::remove`: a network's kernel state, DNS state and records taken away, in the
//! reverse order of their creation.

use std::fs;
use std::io;

use super::error::{check_name, io_err, nft_err, NetworkError};
use super::Networks;
use crate::engine::network::attach::remove_bridge;
use crate::engine::network::link::{self, Netlink};
use crate::engine::network::nft::{self, Nft};

impl Networks {
    /// Removes a network: bridge, its rules (its published ports' too, and its iptables
    /// accepts), its DNS state `<root>/dns/<name>/`, its records, and our nftables table when
    /// it was the last user. Refused while containers hold addresses on it. False when there
    /// was no such network.
    pub fn remove(&self, name: &str) -> Result<bool, NetworkError> {
        check_name(name)?;
        let _lock = self.lock()?;
        let rec = self.read_record(name)?;
        let addrs = self.with_repair(name, true, || self.ipam.get(name))?;
        if rec.is_none() && addrs.is_none() {
            return Ok(false);
        }
        if let Some(a) = &addrs {
            if !a.allocations.is_empty() {
                return Err(NetworkError::InUse {
                    network: name.to_string(),
                    containers: a.allocations.keys().cloned().collect(),
                });
            }
        }
        let bridge = rec
            .map(|r| r.bridge)
            .unwrap_or_else(|| link::bridge_name(&self.canonical_root, name));
        if let Some(e) = NetworkError::collected(self.teardown(name, &bridge)) {
            return Err(e);
        }
        crate::engine::fault::point("network.remove.after-teardown");
        let dns = crate::engine::root::StateRoot::new(&self.root).dns_of(name);
        match fs::remove_dir_all(&dns) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("removing", &dns)(e)),
        }
        self.delete_record(name)?;
        crate::engine::fault::point("network.remove.after-record");
        self.ipam.remove_network(name)?;
        Ok(true)
    }

    /// What `remove` would answer, changing nothing (`network rm --dry-run`): false when
    /// there is no such network, the same refusal while containers hold addresses on it.
    pub fn check_remove(&self, name: &str) -> Result<bool, NetworkError> {
        check_name(name)?;
        let rec = self.read_record(name)?;
        let addrs = self.ipam.get(name)?;
        match addrs {
            None if rec.is_none() => Ok(false),
            Some(a) if !a.allocations.is_empty() => Err(NetworkError::InUse {
                network: name.to_string(),
                containers: a.allocations.keys().cloned().collect(),
            }),
            _ => Ok(true),
        }
    }

    /// Takes away the kernel state of a network (see [`teardown`]). Both sockets are opened
    /// first: when one cannot be, nothing is tried and the failure to open it (or both) is
    /// returned.
    pub(super) fn teardown(&self, name: &str, bridge: &str) -> Vec<NetworkError> {
        match (self.nft(), self.netlink(name)) {
            (Ok(mut nft), Ok(mut nl)) => teardown(&mut nft, &mut nl, name, bridge),
            (nft, nl) => nft.err().into_iter().chain(nl.err()).collect(),
        }
    }
}

/// Takes away a network's rules (its published ports' and iptables accepts too), its bridge,
/// and our nftables table when no rule of ours is left in it; what is already gone is fine.
/// Every step is tried even after one failed (a network half taken away is worse than one
/// failure more), like netavark's teardown; the failures come back in order.
fn teardown(nft: &mut Nft, nl: &mut Netlink, name: &str, bridge: &str) -> Vec<NetworkError> {
    let mut failed = Vec::new();
    if let Err(e) = nft.remove_network(name, bridge) {
        failed.push(nft_err(format!("network {name}: removing rules"))(e));
    }
    if let Err(source) = remove_bridge(nl, bridge) {
        failed.push(NetworkError::Link {
            network: name.to_string(),
            step: format!("removing bridge {bridge}"),
            source,
        });
    }
    // The table is shared by every state root of the host: it goes only when no rule of any
    // of ours is left in it.
    match nft.list_rules() {
        Ok(rules) => {
            let left = rules.iter().any(|r| {
                r.tag
                    .as_deref()
                    .is_some_and(|t| t.starts_with(nft::TAG_PREFIX))
            });
            if !left {
                if let Err(e) = nft.delete_table() {
                    failed.push(nft_err("deleting our nftables table")(e));
                }
            }
        }
        Err(e) => failed.push(nft_err("listing rules")(e)),
    }
    failed
}

#[cfg(test)]
#[path = "remove_tests.rs"]
mod tests;
