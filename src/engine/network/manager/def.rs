//! What a network is asked to be ([`NetworkDef`]), what is recorded of it on disk
//! (`defs/<name>.json`, a file format) and what callers get back ([`NetworkInfo`]).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::engine::network::ipam::{IpamRequest, NetworkAddrs};

/// The only driver we implement.
pub const BRIDGE_DRIVER: &str = "bridge";

/// What a network should be, as the planner derives it from the Compose file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkDef {
    /// Full name, e.g. `myproj_default`.
    pub name: String,
    /// Owning project (for `down` and `ls`).
    #[serde(default)]
    pub project: Option<String>,
    /// Only `bridge` is supported; anything else is refused with a clear error.
    pub driver: String,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub enable_ipv6: bool,
    #[serde(default, with = "ipam_serde")]
    pub ipam: Vec<IpamRequest>,
    /// `driver_opts` `com.docker.network.bridge.name`.
    #[serde(default)]
    pub bridge_name: Option<String>,
    /// `driver_opts` `com.docker.network.driver.mtu`.
    #[serde(default)]
    pub mtu: Option<u32>,
    #[serde(default)]
    pub labels: IndexMap<String, String>,
}

impl NetworkDef {
    /// A plain bridge network with automatic addresses.
    pub fn bridge(name: &str) -> NetworkDef {
        NetworkDef {
            name: name.to_string(),
            project: None,
            driver: BRIDGE_DRIVER.to_string(),
            internal: false,
            enable_ipv6: false,
            ipam: Vec::new(),
            bridge_name: None,
            mtu: None,
            labels: IndexMap::new(),
        }
    }

    /// The fields (by their Compose names) in which `wanted` differs from this (recorded)
    /// definition; empty when they agree. For the caller's "network exists with a different
    /// configuration" warning.
    pub fn differences(&self, wanted: &NetworkDef) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut check = |differs: bool, field: &'static str| {
            if differs {
                out.push(field);
            }
        };
        check(self.project != wanted.project, "project");
        check(self.driver != wanted.driver, "driver");
        check(self.internal != wanted.internal, "internal");
        check(self.enable_ipv6 != wanted.enable_ipv6, "enable_ipv6");
        check(self.ipam != wanted.ipam, "ipam");
        check(
            self.bridge_name != wanted.bridge_name,
            "driver_opts.com.docker.network.bridge.name",
        );
        check(
            self.mtu != wanted.mtu,
            "driver_opts.com.docker.network.driver.mtu",
        );
        check(self.labels != wanted.labels, "labels");
        out
    }
}

/// `IpamRequest` has no serde of its own; its fields are all serializable, so it is stored
/// through this mirror (same names as Compose's `ipam.config`).
mod ipam_serde {
    use std::collections::BTreeMap;
    use std::net::IpAddr;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::engine::network::ipam::{IpamRequest, Subnet};

    #[derive(Serialize, Deserialize)]
    struct Entry {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subnet: Option<Subnet>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ip_range: Option<Subnet>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gateway: Option<IpAddr>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        aux_addresses: BTreeMap<String, IpAddr>,
    }

    pub fn serialize<S: Serializer>(v: &[IpamRequest], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|r| Entry {
            subnet: r.subnet,
            ip_range: r.ip_range,
            gateway: r.gateway,
            aux_addresses: r.aux_addresses.clone(),
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpamRequest>, D::Error> {
        Ok(Vec::<Entry>::deserialize(d)?
            .into_iter()
            .map(|e| IpamRequest {
                subnet: e.subnet,
                ip_range: e.ip_range,
                gateway: e.gateway,
                aux_addresses: e.aux_addresses,
            })
            .collect())
    }
}

/// One of our networks: its recorded definition, bridge, addresses and allocations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInfo {
    pub def: NetworkDef,
    pub bridge: String,
    pub addrs: NetworkAddrs,
    /// Unix seconds.
    pub created: i64,
}

/// `<root>/networks/defs/<name>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Record {
    pub(super) def: NetworkDef,
    pub(super) bridge: String,
    pub(super) created: i64,
}

impl NetworkInfo {
    /// The endpoint of container `id` on this network (`name`) with the addresses it was
    /// given, as its `index`-th interface (`eth<index>`): the bridge it plugs into, its veth's
    /// name, Docker's MAC for an IPv4 address (`02:42` and the address) unless `mac` fixes one,
    /// and its default gateways when `gateway` (never on an internal network). Names and
    /// link-local addresses are the caller's to add.
    pub fn endpoint(
        &self,
        name: &str,
        id: &str,
        index: usize,
        assigned: &[crate::engine::network::ipam::Assigned],
        mac: Option<[u8; 6]>,
        gateway: bool,
    ) -> crate::engine::state::Endpoint {
        use std::net::IpAddr;
        crate::engine::state::Endpoint {
            network: name.to_string(),
            bridge: crate::engine::state::BridgeRef {
                name: self.bridge.clone(),
                mtu: self.def.mtu,
                gateways: (self.addrs.subnets.iter())
                    .map(|s| (s.gateway, s.subnet.prefix_len()))
                    .collect(),
            },
            host_if: crate::engine::network::link::veth_name(id, name),
            container_if: format!("eth{index}"),
            mac: mac.or_else(|| {
                assigned.iter().find_map(|a| match a.addr {
                    IpAddr::V4(v4) => {
                        let o = v4.octets();
                        Some([0x02, 0x42, o[0], o[1], o[2], o[3]])
                    }
                    IpAddr::V6(_) => None,
                })
            }),
            addresses: assigned
                .iter()
                .map(|a| (a.addr, a.subnet.prefix_len()))
                .collect(),
            default_gateways: if gateway && !self.def.internal {
                assigned.iter().map(|a| a.gateway).collect()
            } else {
                Vec::new()
            },
            dns_names: Vec::new(),
            link_local: Vec::new(),
        }
    }
}
