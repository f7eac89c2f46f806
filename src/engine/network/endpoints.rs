//! A container's recorded network endpoints, put in place and taken away: the host side (bridge
//! ensured, veth created and plugged, container end configured inside its namespace) and its
//! names for service discovery. Used by whoever is the container's parent: its monitor, or the
//! CLI for a foreground `run`.

use std::os::fd::{AsFd, OwnedFd};

use super::attach::{self, AttachError, Attachment, BridgeSpec};
use super::dns::{DnsEntry, DnsError, EndpointStore};
use super::link::{self, Netlink, NetlinkError};
use crate::engine::state::Endpoint;

/// Why a container could not be connected to its networks.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Its network namespace cannot be opened.
    #[error(transparent)]
    Netns(NetlinkError),
    /// One network's connection failed; the endpoints connected before it were taken away
    /// again, and `left` holds those that could not be (none dropped).
    #[error("connecting to network {network}: {source}{}", left.iter().map(|l| format!("; and {l}")).collect::<String>())]
    Network {
        network: String,
        source: AttachError,
        left: Vec<EndpointError>,
    },
}

/// Connects the container whose PID 1 is `pid` to every endpoint; returns its network
/// namespace (the resolver binds there). On error nothing stays connected.
pub fn connect(
    nl: &mut Netlink,
    endpoints: &[Endpoint],
    pid: u32,
) -> Result<OwnedFd, ConnectError> {
    let ns = link::open_netns(pid).map_err(ConnectError::Netns)?;
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
        if let Err(source) = done {
            // The connection's error is the one to report; one left half-made is named too.
            return Err(ConnectError::Network {
                network: ep.network.clone(),
                source,
                left: disconnect(nl, &endpoints[..i]),
            });
        }
    }
    Ok(ns)
}

/// What went wrong with one endpoint while its names were published or it was taken away.
/// These steps go on past a failure (the other endpoints still get theirs), so the callers get
/// every error back and report each as a warning.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("deleting its veth {host_if}: {source}")]
    Detach {
        host_if: String,
        #[source]
        source: NetlinkError,
    },
    #[error("publishing its names on network {network}: {source}")]
    Publish {
        network: String,
        #[source]
        source: DnsError,
    },
    #[error("withdrawing its names from network {network}: {source}")]
    Withdraw {
        network: String,
        #[source]
        source: DnsError,
    },
}

/// Removes the host ends of the container's veths (the container ends go with them). Already
/// gone is fine; every other failure is returned, after trying the rest.
pub fn disconnect(nl: &mut Netlink, endpoints: &[Endpoint]) -> Vec<EndpointError> {
    endpoints
        .iter()
        .filter_map(|ep| {
            attach::detach(nl, &ep.host_if)
                .err()
                .map(|source| EndpointError::Detach {
                    host_if: ep.host_if.clone(),
                    source,
                })
        })
        .collect()
}

/// Publishes the container's names and addresses on each of its networks; returns what could
/// not be published (the container runs without those names).
pub fn publish_names(
    store: &EndpointStore,
    container_id: &str,
    endpoints: &[Endpoint],
) -> Vec<EndpointError> {
    endpoints
        .iter()
        .filter_map(|ep| {
            let entry = DnsEntry {
                names: ep.dns_names.clone(),
                addresses: ep.addresses.iter().map(|(a, _)| *a).collect(),
            };
            store
                .publish(&ep.network, container_id, &entry)
                .err()
                .map(|source| EndpointError::Publish {
                    network: ep.network.clone(),
                    source,
                })
        })
        .collect()
}

/// Withdraws what [`publish_names`] published; returns what could not be withdrawn.
pub fn withdraw_names(
    store: &EndpointStore,
    container_id: &str,
    endpoints: &[Endpoint],
) -> Vec<EndpointError> {
    endpoints
        .iter()
        .filter_map(|ep| {
            store
                .withdraw(&ep.network, container_id)
                .err()
                .map(|source| EndpointError::Withdraw {
                    network: ep.network.clone(),
                    source,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::network::transport::fake::{ack_all, error_reply, FakeTransport, Sent};
    use crate::engine::state::BridgeRef;
    use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
    use netlink_packet_route::link::{LinkAttribute, LinkMessage};
    use netlink_packet_route::RouteNetlinkMessage;

    fn endpoint(host_if: &str) -> Endpoint {
        Endpoint {
            network: "p_default".into(),
            bridge: BridgeRef {
                name: "br-x".into(),
                mtu: None,
                gateways: Vec::new(),
            },
            host_if: host_if.into(),
            container_if: "eth0".into(),
            mac: None,
            addresses: Vec::new(),
            default_gateways: Vec::new(),
            dns_names: Vec::new(),
            link_local: Vec::new(),
        }
    }

    fn request(sent: &Sent) -> RouteNetlinkMessage {
        let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&sent.bytes).expect("parse");
        match m.payload {
            NetlinkPayload::InnerMessage(inner) => inner,
            other => panic!("not an rtnetlink request: {other:?}"),
        }
    }

    /// The kernel knows `vh-a` (index 7) and `vh-c` (index 9) but refuses to delete 9; `vh-b`
    /// is already gone. Every endpoint is tried, and only the refusal comes back.
    #[test]
    fn disconnect_tries_every_veth_and_returns_each_failure() {
        let (fake, record) = FakeTransport::new(|sent| match request(sent) {
            RouteNetlinkMessage::GetLink(q) => {
                let name = q.attributes.iter().find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some(n.clone()),
                    _ => None,
                });
                let index = match name.as_deref() {
                    Some("vh-a") => 7,
                    Some("vh-c") => 9,
                    _ => return vec![error_reply(sent, libc::ENODEV)],
                };
                let mut l = LinkMessage::default();
                l.header.index = index;
                let mut m = NetlinkMessage::from(RouteNetlinkMessage::NewLink(l));
                m.header.sequence_number = sent.seq;
                m.finalize();
                let mut buf = vec![0u8; m.buffer_len()];
                m.serialize(&mut buf);
                vec![buf]
            }
            RouteNetlinkMessage::DelLink(l) if l.header.index == 9 => {
                vec![error_reply(sent, libc::EPERM)]
            }
            _ => ack_all(sent),
        });
        let mut nl = Netlink::with_transport(fake);
        let errors = disconnect(
            &mut nl,
            &[endpoint("vh-a"), endpoint("vh-b"), endpoint("vh-c")],
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            matches!(&errors[0], EndpointError::Detach { host_if, source }
                if host_if == "vh-c" && source.kind() == std::io::ErrorKind::PermissionDenied),
            "{errors:?}"
        );
        assert!(errors[0]
            .to_string()
            .starts_with("deleting its veth vh-c: "));
        let deleted: Vec<u32> =
            crate::engine::network::transport::fake::split(&record.datagrams().concat())
                .iter()
                .filter_map(|s| match request(s) {
                    RouteNetlinkMessage::DelLink(l) => Some(l.header.index),
                    _ => None,
                })
                .collect();
        assert_eq!(deleted, [7, 9]);
    }
}
