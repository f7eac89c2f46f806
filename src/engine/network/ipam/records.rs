//! What IPAM is asked for (a network's `ipam.config`, a container's requested addresses) and
//! what it records per network (subnets, gateways, allocations) and hands back to containers.
//! The records are the on-disk JSON, so field names and serde attributes are a file format.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::subnet::Subnet;

/// One entry of a network's `ipam.config`, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpamRequest {
    pub subnet: Option<Subnet>,
    pub ip_range: Option<Subnet>,
    pub gateway: Option<IpAddr>,
    pub aux_addresses: BTreeMap<String, IpAddr>,
}

impl IpamRequest {
    pub(super) fn is_empty(&self) -> bool {
        self.subnet.is_none()
            && self.ip_range.is_none()
            && self.gateway.is_none()
            && self.aux_addresses.is_empty()
    }
}

/// Which address families a new network has (`enable_ipv4` / `enable_ipv6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkOptions {
    pub enable_ipv4: bool,
    pub enable_ipv6: bool,
}

impl Default for NetworkOptions {
    fn default() -> Self {
        NetworkOptions {
            enable_ipv4: true,
            enable_ipv6: false,
        }
    }
}

/// One subnet of a network, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetAddrs {
    pub subnet: Subnet,
    pub gateway: IpAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<Subnet>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aux_addresses: BTreeMap<String, IpAddr>,
    /// Whether the subnet was chosen from a pool rather than given in `ipam.config`.
    #[serde(default)]
    pub automatic: bool,
    /// The address handed out last; the next search starts after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<IpAddr>,
}

impl SubnetAddrs {
    /// Why `ip` may not be handed to a container, if it is reserved in this subnet.
    pub(super) fn reserved(&self, ip: IpAddr) -> Option<String> {
        if ip == self.subnet.network() {
            return Some(format!("the network address of {}", self.subnet));
        }
        if self.subnet.is_ipv4() && ip == self.subnet.last() {
            return Some(format!("the broadcast address of {}", self.subnet));
        }
        if ip == self.gateway {
            return Some("the gateway".into());
        }
        self.aux_addresses
            .iter()
            .find(|(_, a)| **a == ip)
            .map(|(name, _)| format!("reserved as aux address {name:?}"))
    }

    /// Inclusive bounds of the addresses handed out automatically.
    pub(super) fn dynamic_range(&self) -> Option<(u128, u128)> {
        let (first, last) = self.subnet.host_range()?;
        match self.ip_range {
            None => Some((first, last)),
            Some(r) => {
                let (f, l) = (r.start().max(first), r.end().min(last));
                (f <= l).then_some((f, l))
            }
        }
    }
}

/// What we know about one of our networks' addresses; one JSON file per network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAddrs {
    pub name: String,
    pub subnets: Vec<SubnetAddrs>,
    /// container id -> its addresses on this network (at most one per family).
    #[serde(default)]
    pub allocations: BTreeMap<String, Vec<IpAddr>>,
}

impl NetworkAddrs {
    pub(super) fn owner_of(&self, ip: IpAddr) -> Option<&str> {
        self.allocations
            .iter()
            .find(|(_, addrs)| addrs.contains(&ip))
            .map(|(id, _)| id.as_str())
    }

    /// The addresses of `container_id` here, with their subnets and gateways.
    pub fn addrs_of(&self, container_id: &str) -> ContainerAddrs {
        let mut out = ContainerAddrs::default();
        for ip in self.allocations.get(container_id).into_iter().flatten() {
            if let Some(s) = self.subnets.iter().find(|s| s.subnet.contains(*ip)) {
                let a = Assigned {
                    addr: *ip,
                    subnet: s.subnet,
                    gateway: s.gateway,
                };
                if ip.is_ipv4() {
                    out.ipv4 = Some(a);
                } else {
                    out.ipv6 = Some(a);
                }
            }
        }
        out
    }
}

/// The addresses a container asks for on one network (`ipv4_address`, `ipv6_address`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddrRequest {
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
}

/// An address given to a container, with what it needs to configure its interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assigned {
    pub addr: IpAddr,
    pub subnet: Subnet,
    pub gateway: IpAddr,
}

/// A container's addresses on one network, one per family the network has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContainerAddrs {
    pub ipv4: Option<Assigned>,
    pub ipv6: Option<Assigned>,
}
