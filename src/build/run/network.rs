//! A step on an engine network (`Bridge`, the build network): it joins as a one-off container
//! does — an address from IPAM, a veth on the network's bridge (connected by the start's
//! [`Placer`](crate::engine::container::start::Placer)), the embedded DNS resolver answering
//! the network's names — but publishes no name of its own (nothing may find a build step).
//! [`Joined::release`] gives the address back; the veth goes with the step's namespace.

use std::net::IpAddr;

use crate::engine::network::dns::upstreams_from_resolv_conf;
use crate::engine::network::ipam::AddrRequest;
use crate::engine::network::manager::{NetworkError, Networks};
use crate::engine::state::{DnsSetup, Endpoint};

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
    let endpoint = info.endpoint(network, id, 0, &assigned, None, true);
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
