//! Torn records of a network, repaired (see [`crate::engine::json_store`] on torn records).
//!
//! - IPAM's `<name>.json` (subnets and who holds which address) is rebuilt from what the
//!   containers' records say: each endpoint on the network names the bridge's gateways with
//!   their prefixes (the network's subnets) and the container's addresses. The definition's
//!   `ipam.config` says which subnets were asked for (the others were automatic) and their
//!   ranges and aux addresses. When no container is on the network there is nothing to rebuild
//!   from and nothing to keep: the torn record is removed, and a network with a definition
//!   gets new subnets as a new one would. Which address was handed out last is lost: the next
//!   search starts at the subnet's beginning, as in a new network.
//! - Other networks' planning never fails on a torn record (IPAM's listing leaves it out), and
//!   the rebuild runs under the manager's lock, the record replaced under IPAM's.
//! - The definition `defs/<name>.json` is read as absent (see `Networks::read_record`): the next
//!   `up` of its project writes it again from the Compose file, keeping the addresses.

use std::collections::BTreeMap;

use super::error::NetworkError;
use super::Networks;
use crate::engine::json_store;
use crate::engine::network::ipam::{IpamError, NetworkAddrs, Subnet, SubnetAddrs};
use crate::engine::state::{self, Observed};

impl Networks {
    /// Runs the IPAM operation `op` on network `name`; when it meets the network's torn record,
    /// rebuilds that (under the manager's lock, taken here unless the caller holds it,
    /// `locked`) and runs `op` again.
    pub(super) fn with_repair<T>(
        &self,
        name: &str,
        locked: bool,
        op: impl Fn() -> Result<T, IpamError>,
    ) -> Result<T, NetworkError> {
        match op() {
            Err(IpamError::Corrupt { path, source }) => {
                json_store::warn_torn(
                    &path,
                    &source,
                    "the network's addresses are rebuilt from its containers' records",
                );
                let _lock = if locked { None } else { Some(self.lock()?) };
                let containers =
                    state::list(&self.root, None).map_err(|source| NetworkError::Rebuild {
                        network: name.to_string(),
                        source,
                    })?;
                let requests = match self.read_record(name)? {
                    Some(rec) => rec.def.ipam,
                    None => Vec::new(),
                };
                let rebuilt = rebuild(name, &requests, &containers);
                let replaced = self.ipam.replace_torn(name, rebuilt.as_ref())?;
                if replaced.is_none() {
                    if let Some(rec) = self.read_record(name)? {
                        self.create_addrs(&rec.def)?;
                    }
                }
                Ok(op()?)
            }
            r => Ok(r?),
        }
    }
}

/// Network `name`'s IPAM record as its containers' records describe it; `None` when none is on
/// it.
fn rebuild(
    name: &str,
    requests: &[crate::engine::network::ipam::IpamRequest],
    containers: &[Observed],
) -> Option<NetworkAddrs> {
    let mut net = NetworkAddrs {
        name: name.to_string(),
        subnets: Vec::new(),
        allocations: BTreeMap::new(),
    };
    for o in containers {
        for ep in o.record.endpoints.iter().filter(|e| e.network == name) {
            for &(gateway, prefix) in &ep.bridge.gateways {
                let Ok(subnet) = Subnet::new(gateway, prefix) else {
                    continue;
                };
                if net.subnets.iter().any(|s| s.subnet == subnet) {
                    continue;
                }
                let asked = requests.iter().find(|r| r.subnet == Some(subnet));
                net.subnets.push(SubnetAddrs {
                    subnet,
                    gateway,
                    ip_range: asked.and_then(|r| r.ip_range),
                    aux_addresses: asked.map(|r| r.aux_addresses.clone()).unwrap_or_default(),
                    automatic: asked.is_none(),
                    last: None,
                });
            }
            let ips: Vec<_> = ep.addresses.iter().map(|&(ip, _)| ip).collect();
            if !ips.is_empty() {
                net.allocations.insert(o.record.id.clone(), ips);
            }
        }
    }
    (!net.subnets.is_empty()).then_some(net)
}

#[cfg(test)]
#[path = "repair_tests.rs"]
mod tests;
