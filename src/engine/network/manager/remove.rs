//! `Networks::remove`: a network's kernel state, DNS state and records taken away, in the
//! reverse order of their creation.

use std::fs;
use std::io;

use super::error::{check_name, io_err, nft_err, NetworkError};
use super::Networks;
use crate::engine::network::attach::remove_bridge;
use crate::engine::network::link;
use crate::engine::network::nft;

impl Networks {
    /// Removes a network: bridge, its rules (its published ports' too, and its iptables
    /// accepts), its DNS state `<root>/dns/<name>/`, its records, and our nftables table when
    /// it was the last user. Refused while containers hold addresses on it. False when there
    /// was no such network.
    pub fn remove(&self, name: &str) -> Result<bool, NetworkError> {
        check_name(name)?;
        let _lock = self.lock()?;
        let rec = self.read_record(name)?;
        let addrs = self.ipam.get(name)?;
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
        self.teardown(name, &bridge)?;
        let dns = self.root.join("dns").join(name);
        match fs::remove_dir_all(&dns) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("removing", &dns)(e)),
        }
        self.delete_record(name)?;
        self.ipam.remove_network(name)?;
        Ok(true)
    }

    /// Takes away the kernel state of a network; what is already gone is fine.
    pub(super) fn teardown(&self, name: &str, bridge: &str) -> Result<(), NetworkError> {
        let mut nft = self.nft()?;
        nft.remove_network(name, bridge)
            .map_err(nft_err(format!("network {name}: removing rules")))?;
        let mut nl = self.netlink(name)?;
        remove_bridge(&mut nl, bridge).map_err(|source| NetworkError::Link {
            network: name.to_string(),
            step: format!("removing bridge {bridge}"),
            source,
        })?;
        // The table is shared by every state root of the host: it goes only when no rule of
        // any of ours is left in it.
        let left = nft
            .list_rules()
            .map_err(nft_err("listing rules"))?
            .iter()
            .any(|r| {
                r.tag
                    .as_deref()
                    .is_some_and(|t| t.starts_with(nft::TAG_PREFIX))
            });
        if !left {
            nft.delete_table()
                .map_err(nft_err("deleting our nftables table"))?;
        }
        Ok(())
    }
}
