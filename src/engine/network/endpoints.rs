//! A container's recorded network endpoints, put in place and taken away: the host side (bridge
//! ensured, veth created and plugged, container end configured inside its namespace) and its
//! names for service discovery. Used by whoever is the container's parent: its monitor, or the
//! CLI for a foreground `run`.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use super::attach::{self, Attachment, BridgeSpec};
use super::dns::{DnsEntry, EndpointStore};
use super::link::{self, Netlink};
use crate::engine::state::Endpoint;

/// Connects the container whose PID 1 is `pid` to every endpoint; returns its network
/// namespace (the resolver binds there). On error nothing stays connected.
pub fn connect(nl: &mut Netlink, endpoints: &[Endpoint], pid: u32) -> io::Result<OwnedFd> {
    let ns = link::open_netns(pid)?;
    for (i, ep) in endpoints.iter().enumerate() {
        let done = (|| {
            let bridge = attach::ensure_bridge(
                nl,
                &BridgeSpec {
                    name: ep.bridge.name.clone(),
                    mtu: ep.bridge.mtu,
                    gateways: ep.bridge.gateways.clone(),
                },
            )?;
            attach::attach(
                nl,
                bridge,
                ns.as_fd(),
                &Attachment {
                    host_if: ep.host_if.clone(),
                    container_if: ep.container_if.clone(),
                    mtu: ep.bridge.mtu,
                    mac: ep.mac,
                    addresses: ep.addresses.iter().chain(&ep.link_local).copied().collect(),
                    default_gateways: ep.default_gateways.clone(),
                },
            )
        })();
        if let Err(e) = done {
            disconnect(nl, &endpoints[..i]);
            return Err(io::Error::new(
                e.kind(),
                format!("connecting to network {}: {e}", ep.network),
            ));
        }
    }
    Ok(ns)
}

/// Removes the host ends of the container's veths (the container ends go with them). Already
/// gone is fine.
pub fn disconnect(nl: &mut Netlink, endpoints: &[Endpoint]) {
    for ep in endpoints {
        let _ = attach::detach(nl, &ep.host_if);
    }
}

/// Publishes the container's names and addresses on each of its networks.
pub fn publish_names(store: &EndpointStore, container_id: &str, endpoints: &[Endpoint]) {
    for ep in endpoints {
        let entry = DnsEntry {
            names: ep.dns_names.clone(),
            addresses: ep.addresses.iter().map(|(a, _)| *a).collect(),
        };
        let _ = store.publish(&ep.network, container_id, &entry);
    }
}

/// Withdraws what [`publish_names`] published.
pub fn withdraw_names(store: &EndpointStore, container_id: &str, endpoints: &[Endpoint]) {
    for ep in endpoints {
        let _ = store.withdraw(&ep.network, container_id);
    }
}
