use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::OwnedFd;

use super::{probe_bind, socket_holds, socket_holds_with, tagged_rules_present};
use crate::engine::network::nft::{self, PortMapping, Protocol};

/// A port's rules count as in place only when they are exactly what this version writes:
/// one missing, one more (an older version's `prerouting` DNAT of a loopback port) or one
/// that differs all make `ensure_published` write them again.
#[test]
fn port_rules_are_in_place_only_when_exactly_as_written_now() {
    let p = PortMapping {
        network: "p_default".into(),
        bridge: "br-p".into(),
        protocol: Protocol::Tcp,
        host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        host_port: 8080,
        container_ip: IpAddr::V4(Ipv4Addr::new(10, 203, 0, 2)),
        container_port: 80,
    };
    let tag = nft::port_tag(&p);
    let want = nft::port_rules(&p).unwrap();
    let listed = |rules: &[nft::Rule]| -> Vec<nft::ListedRule> {
        rules
            .iter()
            .enumerate()
            .map(|(i, r)| nft::ListedRule {
                family: 1,
                table: nft::TABLE.into(),
                chain: r.chain.name().into(),
                handle: i as u64,
                tag: Some(tag.clone()),
                exprs: r.exprs.clone(),
            })
            .collect()
    };
    assert!(tagged_rules_present(&listed(&want), &tag, &want));
    assert!(!tagged_rules_present(&listed(&want[1..]), &tag, &want));
    // The DNAT an older version also put in `prerouting` for a loopback port.
    let mut old = want.clone();
    let mut dnat = want
        .iter()
        .find(|r| r.chain == nft::Chain::Output)
        .expect("output DNAT")
        .clone();
    dnat.chain = nft::Chain::Prerouting;
    old.push(dnat);
    assert!(!tagged_rules_present(&listed(&old), &tag, &want));
    let mut other = listed(&want);
    other[0].exprs.pop();
    assert!(!tagged_rules_present(&other, &tag, &want));
}

/// Soak failure of issue 16 (`up -d` refused a free port about once in 900 cycles): `up`
/// probes one service's ports while another thread forks to launch another service's
/// monitor, and the child keeps a copy of whatever probe socket is open at that moment until
/// it executes. Here every socket the probe binds is copied (`dup`, as that fork would) and
/// the copies kept: the probe must still find the free port free, having bound both
/// wildcards. The old probe (`0.0.0.0` closed, then a dual-stack `[::]`) collided with its
/// own copy and said "in use".
#[test]
fn a_probe_whose_sockets_a_forked_child_copies_finds_a_free_port_free() {
    use std::net::SocketAddr;
    let ipv6 = std::net::UdpSocket::bind("[::1]:0").is_ok();
    let wildcard = if ipv6 { "[::]:0" } else { "0.0.0.0:0" };
    for proto in [Protocol::Udp, Protocol::Tcp] {
        let port = match proto {
            Protocol::Udp => std::net::UdpSocket::bind(wildcard).and_then(|s| s.local_addr()),
            Protocol::Tcp => std::net::TcpListener::bind(wildcard).and_then(|s| s.local_addr()),
        }
        .expect("a free port")
        .port();
        let mut copies: Vec<(SocketAddr, OwnedFd)> = Vec::new();
        let mut forked = |proto: Protocol, addr: SocketAddr, v6only: bool| {
            let fd = probe_bind(proto, addr, v6only)?;
            copies.push((addr, rustix::io::dup(&fd).expect("a copy")));
            Ok(fd)
        };
        assert!(
            !socket_holds_with(proto, None, port, &mut forked).expect("probing"),
            "{proto:?} {port}: the probe's own copied sockets made it look held"
        );
        let bound: Vec<SocketAddr> = copies.iter().map(|(a, _)| *a).collect();
        let mut want = vec![SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port)];
        if ipv6 {
            want.push(SocketAddr::new(
                std::net::Ipv6Addr::UNSPECIFIED.into(),
                port,
            ));
        }
        assert_eq!(bound, want, "{proto:?}: both wildcards probed");
    }
}

/// Binding the two wildcards together (the IPv6 one `IPV6_V6ONLY`) still finds every socket
/// a server could hold the port with: IPv4 on one address or all, IPv6 on one address or
/// all, dual-stack or IPv6 only, for both protocols; and a port free again once it is gone.
#[test]
fn a_probe_sees_every_kind_of_holder() {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    use std::net::SocketAddr;
    let hold = |proto: Protocol, addr: SocketAddr, v6only: bool| {
        let kind = match proto {
            Protocol::Tcp => SocketType::STREAM,
            Protocol::Udp => SocketType::DGRAM,
        };
        let family = if addr.is_ipv6() {
            AddressFamily::INET6
        } else {
            AddressFamily::INET
        };
        let fd =
            rustix::net::socket_with(family, kind, SocketFlags::CLOEXEC, None).expect("a socket");
        if addr.is_ipv6() {
            rustix::net::sockopt::set_ipv6_v6only(&fd, v6only).expect("IPV6_V6ONLY");
        }
        rustix::net::bind(&fd, &addr).map(|()| {
            if proto == Protocol::Tcp {
                rustix::net::listen(&fd, 1).expect("listen");
            }
            fd
        })
    };
    let ipv6 = std::net::UdpSocket::bind("[::1]:0").is_ok();
    for proto in [Protocol::Udp, Protocol::Tcp] {
        for (ip, v6only) in [
            ("0.0.0.0", false),
            ("127.0.0.1", false),
            ("::", false),
            ("::", true),
            ("::1", true),
            ("::1", false),
        ] {
            let ip: IpAddr = ip.parse().expect("an address");
            if ip.is_ipv6() && !ipv6 {
                continue;
            }
            // A port free on both families: the kernel's pick for a dual-stack wildcard.
            let wildcard = if ipv6 { "[::]:0" } else { "0.0.0.0:0" };
            let port = match proto {
                Protocol::Udp => std::net::UdpSocket::bind(wildcard).and_then(|s| s.local_addr()),
                Protocol::Tcp => std::net::TcpListener::bind(wildcard).and_then(|s| s.local_addr()),
            }
            .expect("a free port")
            .port();
            let holder = hold(proto, SocketAddr::new(ip, port), v6only).expect("holding it");
            assert!(
                socket_holds(proto, None, port).expect("probing"),
                "{proto:?} {ip}:{port} (v6only {v6only}) not seen"
            );
            drop(holder);
            assert!(
                !socket_holds(proto, None, port).expect("probing"),
                "{proto:?} {port} still held"
            );
        }
    }
}
