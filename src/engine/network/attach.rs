//! Connecting a container to a project network: the network's bridge on the host (created on
//! first use, with the gateway addresses IPAM chose), and per attachment one veth pair whose
//! container end is created directly inside the container's network namespace under its final
//! name (one request, no rename), addressed, brought up, with the default route through the
//! gateway when this network carries it (`priority`/`gw_priority`).
//!
//! The runtime calls [`attach`] from the host side while the container's set-up process waits
//! in the handshake, so the interface exists before the user's command starts.

use std::io;
use std::net::IpAddr;
use std::os::fd::BorrowedFd;

use super::link::{netlink_errno, Netlink, NetlinkError};

/// Why a bridge could not be ensured or a container connected to it.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error(transparent)]
    Link(#[from] NetlinkError),
    /// The bridge another process created between our look-up and our request is gone again.
    #[error("bridge {bridge} vanished")]
    BridgeVanished { bridge: String },
    /// The container end of a veth just created inside the namespace cannot be found there.
    #[error("{ifname} not found in the container's namespace")]
    NotInContainer { ifname: String },
    /// Configuring the pair failed, and so did deleting it again: the veth left behind is
    /// named after the error that caused it.
    #[error("{error}; and deleting {host_if} again: {cleanup}")]
    CleanupFailed {
        error: Box<AttachError>,
        host_if: String,
        cleanup: NetlinkError,
    },
}

impl AttachError {
    /// The [`io::ErrorKind`] of the first cause, for callers that tolerate some.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            AttachError::Link(e) => e.kind(),
            AttachError::BridgeVanished { .. } | AttachError::NotInContainer { .. } => {
                io::ErrorKind::NotFound
            }
            AttachError::CleanupFailed { error, .. } => error.kind(),
        }
    }
}

/// A network's bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSpec {
    /// Interface name (≤ 15 bytes): `br-<hash>` or `driver_opts` `com.docker.network.bridge.name`.
    pub name: String,
    pub mtu: Option<u32>,
    /// Gateway addresses with their prefix lengths (one per subnet).
    pub gateways: Vec<(IpAddr, u8)>,
}

/// Creates the bridge when missing, gives it the gateway addresses it lacks, and brings it up.
/// Returns its index. Safe to call for every container: an existing bridge is left as it is.
pub fn ensure_bridge(nl: &mut Netlink, spec: &BridgeSpec) -> Result<u32, AttachError> {
    let index = match nl.link_index(&spec.name)? {
        Some(i) => i,
        None => match nl.create_bridge(&spec.name, spec.mtu) {
            Ok(i) => i,
            // Another process made it between our look-up and our request.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => nl
                .link_index(&spec.name)?
                .ok_or_else(|| AttachError::BridgeVanished {
                    bridge: spec.name.clone(),
                })?,
            Err(e) => return Err(e.into()),
        },
    };
    let have = nl.addresses(Some(index))?;
    for (addr, prefix) in &spec.gateways {
        if !have.iter().any(|a| a.addr == *addr) {
            match nl.add_address(index, *addr, *prefix) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    nl.set_up(index)?;
    Ok(index)
}

/// One container's connection to one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Host end (≤ 15 bytes, see [`super::link::veth_name`]).
    pub host_if: String,
    /// Name inside the container (`eth0`, `eth1`, ...).
    pub container_if: String,
    pub mtu: Option<u32>,
    pub mac: Option<[u8; 6]>,
    /// Addresses with prefix lengths.
    pub addresses: Vec<(IpAddr, u8)>,
    /// Gateways for the default routes this network provides (none for `internal` networks or
    /// when another network has the higher priority).
    pub default_gateways: Vec<IpAddr>,
}

/// Creates the veth pair, plugs the host end into the bridge and configures the container end
/// inside `container_ns`.
pub fn attach(
    host: &mut Netlink,
    bridge_index: u32,
    container_ns: BorrowedFd<'_>,
    a: &Attachment,
) -> Result<(), AttachError> {
    let host_index = host.create_veth_into(&a.host_if, &a.container_if, a.mtu, container_ns)?;
    crate::engine::fault::point("network.connect.after-veth");
    let configured = (|| {
        host.set_master(host_index, bridge_index)?;
        host.set_up(host_index)?;
        let mut c = Netlink::new_in(container_ns)?;
        let idx = c
            .link_index(&a.container_if)?
            .ok_or_else(|| AttachError::NotInContainer {
                ifname: a.container_if.clone(),
            })?;
        if let Some(mac) = a.mac {
            c.set_mac(idx, mac)?;
        }
        for (addr, prefix) in &a.addresses {
            c.add_address(idx, *addr, *prefix)?;
        }
        crate::engine::fault::point("network.connect.after-addresses");
        c.set_up(idx)?;
        for gw in &a.default_gateways {
            c.add_route(None, Some(*gw), idx)?;
        }
        Ok::<(), AttachError>(())
    })();
    let Err(e) = configured else {
        return Ok(());
    };
    // Half a connection is worse than none: the container side goes with the host side. When
    // that fails too, the veth left behind is named after the error that caused it.
    Err(match host.delete_link(host_index) {
        Ok(()) => e,
        Err(cleanup) => AttachError::CleanupFailed {
            error: Box::new(e),
            host_if: a.host_if.clone(),
            cleanup,
        },
    })
}

/// Removes a container's connection (deleting the host end removes the container end too).
/// Already gone is fine: the container's namespace may have taken it with it.
pub fn detach(host: &mut Netlink, host_if: &str) -> Result<(), NetlinkError> {
    match host.link_index(host_if)? {
        Some(i) => match host.delete_link(i) {
            Ok(()) => Ok(()),
            Err(e) if netlink_errno(&e) == Some(libc::ENODEV) => Ok(()),
            Err(e) => Err(e),
        },
        None => Ok(()),
    }
}

/// Removes a network's bridge (when its last container is gone and the network is removed).
pub fn remove_bridge(host: &mut Netlink, name: &str) -> Result<(), NetlinkError> {
    detach(host, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::network::link::tests::parse;
    use crate::engine::network::transport::fake::{ack_all, error_reply, FakeTransport};
    use netlink_packet_route::link::{LinkAttribute, LinkMessage};
    use netlink_packet_route::RouteNetlinkMessage;

    /// A host whose kernel makes the veth (index 5) but refuses to plug it into the bridge
    /// and then to delete it: both failures reach the caller, and the delete was tried.
    #[test]
    fn a_failed_attach_deletes_its_veth_and_names_a_failed_delete() {
        let (fake, record) = FakeTransport::new(|sent| match parse(sent).1 {
            RouteNetlinkMessage::GetLink(_) => {
                let mut l = LinkMessage::default();
                l.header.index = 5;
                l.attributes.push(LinkAttribute::IfName("vh-test".into()));
                let mut m =
                    netlink_packet_core::NetlinkMessage::from(RouteNetlinkMessage::NewLink(l));
                m.header.sequence_number = sent.seq;
                m.finalize();
                let mut buf = vec![0u8; m.buffer_len()];
                m.serialize(&mut buf);
                vec![buf]
            }
            RouteNetlinkMessage::SetLink(_) => vec![error_reply(sent, libc::EPERM)],
            RouteNetlinkMessage::DelLink(_) => vec![error_reply(sent, libc::EBUSY)],
            _ => ack_all(sent),
        });
        let mut host = Netlink::with_transport(fake);
        let ns = std::fs::File::open("/dev/null").expect("an fd to name");
        let a = Attachment {
            host_if: "vh-test".into(),
            container_if: "eth0".into(),
            mtu: None,
            mac: None,
            addresses: Vec::new(),
            default_gateways: Vec::new(),
        };
        let e = attach(&mut host, 3, ns.as_fd(), &a).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("; and deleting vh-test again: "), "{text}");
        assert_eq!(
            e.kind(),
            io::ErrorKind::PermissionDenied,
            "the cause's kind"
        );
        let deleted: Vec<u32> = record
            .sent()
            .iter()
            .filter_map(|s| match parse(s).1 {
                RouteNetlinkMessage::DelLink(m) => Some(m.header.index),
                _ => None,
            })
            .collect();
        assert_eq!(deleted, [5]);
    }
    use crate::engine::network::link::{create_netns, in_netns};
    use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
    use std::os::fd::AsFd;
    use std::time::Duration;

    #[test]
    #[ignore = "needs root"]
    fn a_container_reaches_the_gateway_and_detach_removes_everything() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root (network namespaces)");
            return;
        }
        // A stand-in host and a container: both fresh namespaces, gone with their fds.
        let host_ns = create_netns().expect("host netns");
        let ctr_ns = create_netns().expect("container netns");
        let mut host = Netlink::new_in(host_ns.as_fd()).expect("host netlink");
        let gw: IpAddr = Ipv4Addr::new(10, 204, 0, 1).into();
        let bridge = BridgeSpec {
            name: "br-attachtest".into(),
            mtu: Some(1400),
            gateways: vec![(gw, 24)],
        };
        let br = ensure_bridge(&mut host, &bridge).expect("bridge");
        // Idempotent: a second call finds it and adds nothing twice.
        assert_eq!(ensure_bridge(&mut host, &bridge).expect("bridge again"), br);
        // (An IPv6 link-local address appears by itself once the bridge is up.)
        let v4 = host
            .addresses(Some(br))
            .expect("addrs")
            .into_iter()
            .filter(|a| a.addr.is_ipv4())
            .count();
        assert_eq!(v4, 1);

        let a = Attachment {
            host_if: "cmpattach0".into(),
            container_if: "eth0".into(),
            mtu: Some(1400),
            mac: Some([0x02, 0x42, 0x0a, 0xcc, 0x00, 0x02]),
            addresses: vec![(Ipv4Addr::new(10, 204, 0, 2).into(), 24)],
            default_gateways: vec![gw],
        };
        attach(&mut host, br, ctr_ns.as_fd(), &a).expect("attach");
        // Attaching the same name again fails cleanly and leaves the first one working.
        assert!(attach(&mut host, br, ctr_ns.as_fd(), &a).is_err());

        let listener = in_netns(host_ns.as_fd(), || {
            TcpListener::bind((Ipv4Addr::new(10, 204, 0, 1), 0))
        })
        .expect("thread")
        .expect("listen");
        let port = listener.local_addr().expect("addr").port();
        let peer = in_netns(ctr_ns.as_fd(), move || {
            let s = TcpStream::connect_timeout(
                &SocketAddr::from((Ipv4Addr::new(10, 204, 0, 1), port)),
                Duration::from_secs(5),
            )?;
            s.local_addr()
        })
        .expect("thread")
        .expect("connect from the container");
        assert_eq!(peer.ip(), IpAddr::from(Ipv4Addr::new(10, 204, 0, 2)));
        let (_, from) = listener.accept().expect("accept");
        assert_eq!(from.ip(), IpAddr::from(Ipv4Addr::new(10, 204, 0, 2)));

        let mut ctr = Netlink::new_in(ctr_ns.as_fd()).expect("container netlink");
        let eth0 = ctr.link_index("eth0").expect("list").expect("eth0 exists");
        assert!(ctr
            .routes()
            .expect("routes")
            .iter()
            .any(|r| r.dst.is_none() && r.gateway == Some(gw) && r.oif == Some(eth0)));

        detach(&mut host, "cmpattach0").expect("detach");
        detach(&mut host, "cmpattach0").expect("detach twice is fine");
        assert_eq!(ctr.link_index("eth0").expect("list"), None);
        remove_bridge(&mut host, "br-attachtest").expect("remove bridge");
        assert_eq!(host.link_index("br-attachtest").expect("list"), None);
    }
}
