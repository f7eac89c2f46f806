//! A step on an engine network (`Bridge`, the build network): it joins as a one-off container
//! does — an address from IPAM, a veth on the network's bridge (connected by the start's
//! [`Placer`](crate::engine::container::start::Placer)), the embedded DNS resolver answering
//! the network's names — but publishes no name of its own (nothing may find a build step).
//! [`Joined::release`] gives the address back; the veth goes with the step's namespace.

use std::net::IpAddr;

use crate::engine::network::dns::upstreams_from_resolv_conf;
use crate::engine::network::ipam::AddrRequest;
use crate::engine::network::link;
use crate::engine::network::manager::{NetworkError, Networks};
use crate::engine::state::{BridgeRef, DnsSetup, Endpoint};

/// The step's place on a network, until released.
pub(super) struct Joined {
    nets: Networks,
    network: String,
    id: String,
    pub(super) endpoint: Endpoint,
    pub(super) dns: DnsSetup,
}

/// Gives the step `id` an address on the existing engine network `network` (under `root`),
/// its resolver forwarding to the host's `resolv_conf` name servers.
pub(super) fn join(
    root: &std::path::Path,
    network: &str,
    id: &str,
    resolv_conf: &str,
) -> Result<Joined, NetworkError> {
    let nets = Networks::open(root)?;
    let info = nets
        .get(network)?
        .ok_or_else(|| NetworkError::NotFound(network.to_string()))?;
    let addrs = nets.allocate(network, id, &AddrRequest::default())?;
    let assigned: Vec<_> = [addrs.ipv4, addrs.ipv6].into_iter().flatten().collect();
    let endpoint = Endpoint {
        network: network.to_string(),
        bridge: BridgeRef {
            name: info.bridge.clone(),
            mtu: info.def.mtu,
            gateways: (info.addrs.subnets.iter())
                .map(|s| (s.gateway, s.subnet.prefix_len()))
                .collect(),
        },
        host_if: link::veth_name(id, network),
        container_if: "eth0".to_string(),
        // Docker's MAC for an IPv4 address (02:42 and the address).
        mac: assigned.iter().find_map(|a| match a.addr {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                Some([0x02, 0x42, o[0], o[1], o[2], o[3]])
            }
            IpAddr::V6(_) => None,
        }),
        addresses: assigned
            .iter()
            .map(|a| (a.addr, a.subnet.prefix_len()))
            .collect(),
        default_gateways: if info.def.internal {
            Vec::new()
        } else {
            assigned.iter().map(|a| a.gateway).collect()
        },
        dns_names: Vec::new(),
        link_local: Vec::new(),
    };
    let dns = DnsSetup {
        networks: vec![network.to_string()],
        links: Vec::new(),
        upstreams: upstreams_from_resolv_conf(resolv_conf),
    };
    Ok(Joined {
        nets,
        network: network.to_string(),
        id: id.to_string(),
        endpoint,
        dns,
    })
}

impl Joined {
    /// The step's own address (for /etc/hosts).
    pub(super) fn address(&self) -> Option<IpAddr> {
        self.endpoint.addresses.first().map(|a| a.0)
    }

    /// Gives the address back.
    pub(super) fn release(self) -> Result<(), NetworkError> {
        self.nets.release(&self.network, &self.id).map(|_| ())
    }
}
