use super::error::nl_err;
use super::*;
use std::io;
use std::net::IpAddr;
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::OwnedFd;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::time::Duration;

#[test]
fn names_are_short_distinct_and_deterministic() {
    let a = veth_name("c0ffee", "proj_default");
    assert_eq!(a, veth_name("c0ffee", "proj_default"));
    assert_ne!(a, veth_name("c0ffee", "proj_back"));
    assert_ne!(veth_name("ab", "c"), veth_name("a", "bc"));
    assert!(a.starts_with("cmp") && a.len() == 13, "{a}");
    let p = veth_peer_name("c0ffee", "proj_default");
    assert!(p.starts_with(&a) && p.len() == 14);
    let b = bridge_name(Path::new("/var/lib/compose"), "proj_default");
    assert!(b.starts_with("br-") && b.len() == IFNAME_MAX, "{b}");
    assert_eq!(
        b,
        bridge_name(Path::new("/var/lib/compose"), "proj_default")
    );
    assert_ne!(b, bridge_name(Path::new("/srv/compose"), "proj_default"));
    let old = legacy_bridge_name("proj_default");
    assert!(old != b && old.len() == IFNAME_MAX, "{old}");
    for n in [&a, &p, &b, &old] {
        check_ifname(n).unwrap();
    }
}

#[test]
fn ifname_rules() {
    assert!(check_ifname("eth0").is_ok());
    assert!(check_ifname("123456789012345").is_ok());
    for bad in ["", "1234567890123456", ".", "..", "a/b", "a:b", "a b"] {
        assert!(check_ifname(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn errors_name_the_operation_and_keep_errno() {
    let e = nl_err(
        "create bridge br-x",
        io::Error::from_raw_os_error(libc::EEXIST),
    );
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
    assert_eq!(netlink_errno(&e), Some(libc::EEXIST));
    assert!(e.to_string().contains("create bridge br-x"), "{e}");
    assert_eq!(
        format_mac([2, 0x42, 0xac, 0x11, 0, 0xff]),
        "02:42:ac:11:00:ff"
    );
}

#[test]
fn in_netns_refuses_a_non_namespace_fd() {
    let f = std::fs::File::open("/dev/null").unwrap();
    let e = in_netns(f.as_fd(), || ()).unwrap_err();
    assert!(e.to_string().contains("enter netns"), "{e}");
    assert_eq!(netlink_errno(&e), Some(libc::EINVAL));
}

fn random_hex() -> String {
    let mut b = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut b);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Two throw-away namespaces: a stand-in host and a stand-in container. Drop deletes what the
/// test created in them; dropping the fds then destroys the namespaces themselves, so nothing
/// can outlive the test, and the real host namespace is never opened.
struct TestNets {
    host: OwnedFd,
    ctr: OwnedFd,
    host_links: Vec<String>,
}

impl Drop for TestNets {
    fn drop(&mut self) {
        if let Ok(mut nl) = Netlink::new_in(self.host.as_fd()) {
            for name in &self.host_links {
                if let Ok(Some(i)) = nl.link_index(name) {
                    let _ = nl.delete_link(i);
                }
            }
        }
    }
}

fn skip_unless_root() -> bool {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root (network namespaces, rtnetlink)");
        return true;
    }
    false
}

#[test]
#[ignore = "needs root"]
fn bridge_and_veth_connect_two_namespaces() {
    if skip_unless_root() {
        return;
    }
    let id = format!("compose-test-{}", random_hex());
    let br_name = legacy_bridge_name(&id);
    let h1 = veth_name(&id, "a");
    let p1 = veth_peer_name(&id, "a");
    let h2 = veth_name(&id, "b");
    let p2 = veth_peer_name(&id, "b");
    let h3 = veth_name(&id, "c");
    let mut nets = TestNets {
        host: create_netns().expect("host netns"),
        ctr: create_netns().expect("container netns"),
        host_links: vec![br_name.clone(), h1.clone(), h2.clone(), h3.clone()],
    };
    let mut host = Netlink::new_in(nets.host.as_fd()).expect("netlink in host netns");
    let mut ctr = Netlink::new_in(nets.ctr.as_fd()).expect("netlink in container netns");

    // Stand-in host: lo (with a second address to reach through the default route), bridge.
    host.set_up(1).unwrap();
    let far = Ipv4Addr::new(10, 202, 0, 1);
    host.add_address(1, far.into(), 32).unwrap();
    let br = host.create_bridge(&br_name, Some(1400)).unwrap();
    let dup = host.create_bridge(&br_name, None).unwrap_err();
    assert_eq!(dup.kind(), io::ErrorKind::AlreadyExists, "{dup}");
    assert!(dup.to_string().contains("create bridge"), "{dup}");
    host.add_address(br, Ipv4Addr::new(10, 201, 0, 1).into(), 24)
        .unwrap();
    host.set_up(br).unwrap();

    // First attachment: create, move by namespace fd, rename and configure inside.
    let (hi1, pi1) = host.create_veth(&h1, &p1, Some(1400)).unwrap();
    host.set_master(hi1, br).unwrap();
    host.set_up(hi1).unwrap();
    host.move_to_netns_fd(pi1, nets.ctr.as_fd()).unwrap();
    assert!(!host.link_exists(&p1).unwrap());
    let mac = [0x02, 0x42, 0x0a, 0xc9, 0x00, 0x02];
    let eth0 = in_netns(nets.ctr.as_fd(), || -> Result<u32, NetlinkError> {
        let mut nl = Netlink::new()?;
        let idx = nl
            .link_index(&p1)?
            .expect("peer arrived in the container netns");
        nl.rename(idx, "eth0")?;
        nl.set_mac(idx, mac)?;
        nl.add_address(idx, Ipv4Addr::new(10, 201, 0, 2).into(), 24)?;
        nl.set_up(1)?;
        nl.set_up(idx)?;
        nl.add_route(None, Some(Ipv4Addr::new(10, 201, 0, 1).into()), idx)?;
        Ok(idx)
    })
    .unwrap()
    .unwrap();

    // Second attachment: moved by the pid of a thread parked in the container namespace.
    let (hi2, pi2) = host.create_veth(&h2, &p2, None).unwrap();
    host.set_mtu(hi2, 1300).unwrap();
    let ctr_fd = nets.ctr.as_fd();
    std::thread::scope(|s| {
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        s.spawn(move || {
            let r = rustix::thread::move_into_link_name_space(
                ctr_fd,
                Some(rustix::thread::LinkNameSpaceType::Network),
            );
            let _ = tid_tx.send(r.map(|_| rustix::thread::gettid().as_raw_nonzero().get()));
            let _ = done_rx.recv();
        });
        let tid = tid_rx
            .recv()
            .unwrap()
            .expect("thread entered container netns");
        let moved = host.move_to_netns_pid(pi2, tid as u32);
        let _ = done_tx.send(());
        moved.unwrap();
    });
    let eth1 = ctr
        .link_index(&p2)
        .unwrap()
        .expect("second peer in container netns");
    ctr.rename(eth1, "eth1").unwrap();

    // Third attachment: the peer born in the container namespace under its final name.
    let hi3 = host
        .create_veth_into(&h3, "eth2", None, nets.ctr.as_fd())
        .unwrap();
    assert!(ctr.link_exists("eth2").unwrap());
    assert!(!host.link_exists("eth2").unwrap());

    // A real packet: UDP from the container to the bridge address, sockets made inside.
    let rx = in_netns(nets.host.as_fd(), || UdpSocket::bind("10.201.0.1:0"))
        .unwrap()
        .unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let port = rx.local_addr().unwrap().port();
    let tx = in_netns(nets.ctr.as_fd(), || UdpSocket::bind("10.201.0.2:0"))
        .unwrap()
        .unwrap();
    tx.send_to(b"ping", ("10.201.0.1", port)).unwrap();
    let mut buf = [0u8; 16];
    let (n, from) = rx
        .recv_from(&mut buf)
        .expect("UDP datagram from the container netns");
    assert_eq!(&buf[..n], b"ping");
    assert_eq!(from.ip(), IpAddr::from(Ipv4Addr::new(10, 201, 0, 2)));

    // TCP to an address off the subnet: only the default route gets it there.
    let listener = in_netns(nets.host.as_fd(), || TcpListener::bind((far, 0)))
        .unwrap()
        .unwrap();
    let tport = listener.local_addr().unwrap().port();
    let stream = in_netns(nets.ctr.as_fd(), || {
        TcpStream::connect_timeout(&(far, tport).into(), Duration::from_secs(5))
    })
    .unwrap()
    .expect("TCP through the default route");
    let (_accepted, peer) = listener.accept().unwrap();
    assert_eq!(peer.ip(), IpAddr::from(Ipv4Addr::new(10, 201, 0, 2)));
    drop(stream);

    // Listings.
    let links = host.links().unwrap();
    let find = |name: &str| links.iter().find(|l| l.name == name).cloned();
    let b = find(&br_name).expect("bridge listed");
    assert_eq!(
        (b.kind.as_deref(), b.index, b.up, b.mtu),
        (Some("bridge"), br, true, Some(1400))
    );
    let v1 = find(&h1).expect("veth listed");
    assert_eq!(
        (v1.kind.as_deref(), v1.master, v1.up),
        (Some("veth"), Some(br), true)
    );
    assert_eq!(find(&h2).expect("veth 2 listed").mtu, Some(1300));
    let clinks = ctr.links().unwrap();
    let e0 = clinks
        .iter()
        .find(|l| l.name == "eth0")
        .expect("eth0 listed");
    assert_eq!(
        (e0.index, e0.mac, e0.up, e0.kind.as_deref()),
        (eth0, Some(mac), true, Some("veth"))
    );
    assert!(clinks.iter().any(|l| l.name == "eth1" && l.index == eth1));
    let addrs = ctr.addresses(Some(eth0)).unwrap();
    assert!(
        addrs.contains(&Address {
            index: eth0,
            addr: Ipv4Addr::new(10, 201, 0, 2).into(),
            prefix_len: 24
        }),
        "{addrs:?}"
    );
    let routes = ctr.routes().unwrap();
    assert!(
        routes.iter().any(|r| r.dst.is_none()
            && r.gateway == Some(Ipv4Addr::new(10, 201, 0, 1).into())
            && r.oif == Some(eth0)
            && r.table == 254),
        "{routes:?}"
    );

    // Deleting the host end removes the pair; then the bridge.
    for (i, n) in [(hi1, &h1), (hi2, &h2), (hi3, &h3)] {
        host.delete_link(i).unwrap();
        assert!(!host.link_exists(n).unwrap());
    }
    for n in ["eth0", "eth1", "eth2"] {
        assert!(
            !ctr.link_exists(n).unwrap(),
            "{n} should be gone with its host end"
        );
    }
    host.delete_link(br).unwrap();
    assert!(!host.link_exists(&br_name).unwrap());
    let gone = host.delete_link(br).unwrap_err();
    assert_eq!(netlink_errno(&gone), Some(libc::ENODEV), "{gone}");
    let left: Vec<String> = host.links().unwrap().into_iter().map(|l| l.name).collect();
    assert_eq!(left, vec!["lo".to_string()]);
    nets.host_links.clear();
}

// --- link setup through the recording transport: the messages each operation sends ---

use netlink_packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_DUMP_INTR,
    NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressHeaderFlags};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteScope};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::engine::network::transport::fake::{
    ack_all, done_reply, error_reply, FakeTransport, Record, Sent,
};

pub(crate) fn parse(sent: &Sent) -> (u16, RouteNetlinkMessage) {
    let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&sent.bytes).expect("parse");
    match m.payload {
        NetlinkPayload::InnerMessage(inner) => (sent.flags, inner),
        other => panic!("not an rtnetlink request: {other:?}"),
    }
}

fn reply(sent: &Sent, flags: u16, msg: RouteNetlinkMessage) -> Vec<u8> {
    let mut m = NetlinkMessage::from(msg);
    m.header.sequence_number = sent.seq;
    m.header.flags = flags;
    m.finalize();
    let mut buf = vec![0u8; m.buffer_len()];
    m.serialize(&mut buf);
    buf
}

/// A kernel that ACKs every change and knows the links in `links` (name, index) by name.
pub(crate) fn kernel(links: &'static [(&'static str, u32)]) -> (Netlink, Record) {
    let (fake, record) = FakeTransport::new(move |sent| match parse(sent) {
        (_, RouteNetlinkMessage::GetLink(q)) => {
            let name = q.attributes.iter().find_map(|a| match a {
                LinkAttribute::IfName(n) => Some(n.clone()),
                _ => None,
            });
            match links.iter().find(|(n, _)| Some(*n) == name.as_deref()) {
                Some((n, i)) => {
                    let mut l = LinkMessage::default();
                    l.header.index = *i;
                    l.attributes.push(LinkAttribute::IfName(n.to_string()));
                    vec![reply(sent, 0, RouteNetlinkMessage::NewLink(l))]
                }
                None => vec![error_reply(sent, libc::ENODEV)],
            }
        }
        _ => ack_all(sent),
    });
    (Netlink::with_transport(fake), record)
}

fn requests(record: &Record) -> Vec<(u16, RouteNetlinkMessage)> {
    record.sent().iter().map(parse).collect()
}

const CHANGE: u16 = NLM_F_REQUEST | NLM_F_ACK;
const CREATE: u16 = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;

fn lookup(name: &str) -> (u16, RouteNetlinkMessage) {
    let mut q = LinkMessage::default();
    q.attributes.push(LinkAttribute::IfName(name.into()));
    (NLM_F_REQUEST, RouteNetlinkMessage::GetLink(q))
}

#[test]
fn bridge_is_created_with_its_mtu_then_found_by_name() {
    let (mut nl, record) = kernel(&[("br-0123456789ab", 7)]);
    assert_eq!(nl.create_bridge("br-0123456789ab", Some(1400)).unwrap(), 7);
    let mut want = LinkMessage::default();
    want.attributes = vec![
        LinkAttribute::IfName("br-0123456789ab".into()),
        LinkAttribute::Mtu(1400),
        LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]),
    ];
    assert_eq!(
        requests(&record),
        vec![
            (CREATE, RouteNetlinkMessage::NewLink(want)),
            lookup("br-0123456789ab")
        ]
    );
}

#[test]
fn veth_pair_is_created_with_its_peer_born_in_the_container() {
    let (mut nl, record) = kernel(&[("cmp0123456789", 12)]);
    let ns = std::fs::File::open("/dev/null").unwrap();
    let fd = ns.as_raw_fd();
    let host = nl
        .create_veth_into("cmp0123456789", "eth0", Some(1500), ns.as_fd())
        .unwrap();
    assert_eq!(host, 12);
    let mut peer = LinkMessage::default();
    peer.attributes = vec![
        LinkAttribute::IfName("eth0".into()),
        LinkAttribute::Mtu(1500),
        LinkAttribute::NetNsFd(fd),
    ];
    let mut want = LinkMessage::default();
    want.attributes = vec![
        LinkAttribute::IfName("cmp0123456789".into()),
        LinkAttribute::Mtu(1500),
        LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]),
    ];
    assert_eq!(
        requests(&record),
        vec![
            (CREATE, RouteNetlinkMessage::NewLink(want)),
            lookup("cmp0123456789")
        ]
    );
}

#[test]
fn link_settings_are_one_acknowledged_setlink_each() {
    let (mut nl, record) = kernel(&[]);
    nl.set_master(12, 7).unwrap();
    nl.set_mtu(12, 1400).unwrap();
    nl.set_mac(12, [2, 0x42, 10, 0, 0, 2]).unwrap();
    nl.rename(12, "eth1").unwrap();
    nl.set_up(12).unwrap();
    nl.set_down(12).unwrap();
    nl.delete_link(12).unwrap();
    let set = |attr: Option<LinkAttribute>, up: Option<bool>| {
        let mut m = LinkMessage::default();
        m.header.index = 12;
        m.attributes.extend(attr);
        if let Some(up) = up {
            m.header.flags = if up {
                LinkFlags::Up
            } else {
                LinkFlags::empty()
            };
            m.header.change_mask = LinkFlags::Up;
        }
        (CHANGE, RouteNetlinkMessage::SetLink(m))
    };
    let mut del = LinkMessage::default();
    del.header.index = 12;
    assert_eq!(
        requests(&record),
        vec![
            set(Some(LinkAttribute::Controller(7)), None),
            set(Some(LinkAttribute::Mtu(1400)), None),
            set(
                Some(LinkAttribute::Address(vec![2, 0x42, 10, 0, 0, 2])),
                None
            ),
            set(Some(LinkAttribute::IfName("eth1".into())), None),
            set(None, Some(true)),
            set(None, Some(false)),
            (CHANGE, RouteNetlinkMessage::DelLink(del)),
        ]
    );
}

#[test]
fn addresses_get_a_broadcast_in_ipv4_and_skip_dad_in_ipv6() {
    let (mut nl, record) = kernel(&[]);
    nl.add_address(3, "10.201.0.2".parse().unwrap(), 24)
        .unwrap();
    nl.add_address(3, "10.201.0.4".parse().unwrap(), 31)
        .unwrap();
    nl.add_address(3, "fd00::2".parse().unwrap(), 64).unwrap();
    let e = nl
        .add_address(3, "10.201.0.2".parse().unwrap(), 33)
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    let sent = requests(&record);
    assert_eq!(sent.len(), 3, "a refused prefix sends nothing");
    let RouteNetlinkMessage::NewAddress(v4) = &sent[0].1 else {
        panic!("{:?}", sent[0]);
    };
    assert_eq!(sent[0].0, CREATE);
    assert_eq!(
        (v4.header.family, v4.header.prefix_len, v4.header.index),
        (AddressFamily::Inet, 24, 3)
    );
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(
        v4.attributes,
        vec![
            AddressAttribute::Local(ip("10.201.0.2")),
            AddressAttribute::Address(ip("10.201.0.2")),
            AddressAttribute::Broadcast("10.201.0.255".parse().unwrap()),
        ]
    );
    let RouteNetlinkMessage::NewAddress(p2p) = &sent[1].1 else {
        panic!("{:?}", sent[1]);
    };
    assert!(
        !p2p.attributes
            .iter()
            .any(|a| matches!(a, AddressAttribute::Broadcast(_))),
        "a /31 has no broadcast address: {p2p:?}"
    );
    let RouteNetlinkMessage::NewAddress(v6) = &sent[2].1 else {
        panic!("{:?}", sent[2]);
    };
    assert_eq!(v6.header.family, AddressFamily::Inet6);
    assert_eq!(v6.header.flags, AddressHeaderFlags::Nodad);
    assert_eq!(
        v6.attributes,
        vec![
            AddressAttribute::Address(ip("fd00::2")),
            AddressAttribute::Flags(AddressFlags::Nodad),
        ]
    );
}

#[test]
fn routes_go_via_a_gateway_or_directly_on_the_link() {
    let (mut nl, record) = kernel(&[]);
    nl.add_route(None, Some("10.201.0.1".parse().unwrap()), 3)
        .unwrap();
    nl.add_route(Some(("fd00::".parse().unwrap(), 64)), None, 3)
        .unwrap();
    let mixed = nl
        .add_route(
            Some(("10.0.0.0".parse().unwrap(), 8)),
            Some("fd00::1".parse().unwrap()),
            3,
        )
        .unwrap_err();
    assert!(
        mixed.to_string().contains("mixed address families"),
        "{mixed}"
    );
    let sent = requests(&record);
    assert_eq!(sent.len(), 2, "a refused route sends nothing");
    let RouteNetlinkMessage::NewRoute(default) = &sent[0].1 else {
        panic!("{:?}", sent[0]);
    };
    assert_eq!(sent[0].0, CREATE);
    assert_eq!(
        (
            default.header.address_family,
            default.header.scope,
            default.header.table,
            default.header.destination_prefix_length
        ),
        (AddressFamily::Inet, RouteScope::Universe, 254, 0)
    );
    assert_eq!(
        default.attributes,
        vec![
            RouteAttribute::Gateway(RouteAddress::Inet("10.201.0.1".parse().unwrap())),
            RouteAttribute::Oif(3),
        ]
    );
    let RouteNetlinkMessage::NewRoute(on_link) = &sent[1].1 else {
        panic!("{:?}", sent[1]);
    };
    assert_eq!(
        (
            on_link.header.address_family,
            on_link.header.scope,
            on_link.header.destination_prefix_length
        ),
        (AddressFamily::Inet6, RouteScope::Link, 64)
    );
    assert_eq!(
        on_link.attributes,
        vec![
            RouteAttribute::Destination(RouteAddress::Inet6("fd00::".parse().unwrap())),
            RouteAttribute::Oif(3),
        ]
    );
}

#[test]
fn a_kernel_refusal_names_the_operation_and_keeps_the_errno() {
    let (fake, _record) = FakeTransport::new(|sent| vec![error_reply(sent, libc::EEXIST)]);
    let mut nl = Netlink::with_transport(fake);
    let e = nl.create_bridge("br-x", Some(1400)).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
    assert_eq!(netlink_errno(&e), Some(libc::EEXIST));
    assert!(
        e.to_string()
            .starts_with("netlink: create bridge br-x (mtu 1400): "),
        "{e}"
    );
    let (mut nl, _) = kernel(&[]);
    assert_eq!(nl.link_index("eth9").unwrap(), None, "ENODEV means absent");
}

#[test]
fn an_interrupted_dump_is_asked_again() {
    let mut dumps = 0;
    let (fake, record) = FakeTransport::new(move |sent| {
        dumps += 1;
        let mut l = LinkMessage::default();
        l.header.index = dumps;
        l.attributes
            .push(LinkAttribute::IfName(format!("if{dumps}")));
        let flags = if dumps == 1 { NLM_F_DUMP_INTR } else { 0 };
        let msg = RouteNetlinkMessage::NewLink(l);
        vec![reply(sent, flags | 0x2, msg), done_reply(sent)]
    });
    let mut nl = Netlink::with_transport(fake);
    let links = nl.links().unwrap();
    assert_eq!(
        links.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["if2"]
    );
    let sent = record.sent();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|s| s.flags == NLM_F_REQUEST | NLM_F_DUMP));
}

#[test]
fn a_refused_interface_name_is_a_typed_cause_and_sends_nothing() {
    let (mut nl, record) = kernel(&[]);
    let e = nl.create_bridge("br-name-far-too-long", None).unwrap_err();
    assert!(
        matches!(e.cause(), NetlinkFailure::InvalidIfname(bad) if bad.name == "br-name-far-too-long"),
        "{e:?}"
    );
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(
        netlink_errno(&e),
        None,
        "no errno: the kernel was never asked"
    );
    assert_eq!(
        e.to_string(),
        "netlink: create bridge br-name-far-too-long: invalid interface name \
         \"br-name-far-too-long\": longer than 15 bytes"
    );
    assert!(requests(&record).is_empty());
}
