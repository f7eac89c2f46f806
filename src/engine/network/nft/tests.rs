use super::client::*;
use super::expr::*;
use super::rules::*;
use super::wire::*;
use super::*;
use crate::engine::network::link::{
    create_netns, in_netns, legacy_bridge_name, veth_name, Netlink,
};
use std::io;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::net::{SocketAddr as InetAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::BorrowedFd;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;
use std::time::Instant;

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

#[test]
fn prefix_masks_and_tags() {
    let e = match_addr(true, v4(10, 203, 7, 9), 20);
    assert_eq!(
        e,
        vec![
            Expr::Payload {
                base: PAYLOAD_NETWORK,
                offset: 12,
                len: 4,
                dreg: REG_1
            },
            Expr::Bitwise {
                sreg: REG_1,
                dreg: REG_1,
                mask: vec![255, 255, 0xf0, 0],
                xor: vec![0; 4]
            },
            Expr::Cmp {
                sreg: REG_1,
                op: CMP_EQ,
                data: vec![10, 203, 0, 0]
            },
        ]
    );
    // A full-length prefix needs no mask; IPv6 daddr is at offset 24.
    let e = match_addr(false, "fd00::5".parse().unwrap(), 128);
    assert_eq!(e.len(), 2);
    assert!(matches!(
        e[0],
        Expr::Payload {
            offset: 24,
            len: 16,
            ..
        }
    ));
    let t = "compose:net:proj_default";
    assert_eq!(decode_tag(&encode_tag(t)).as_deref(), Some(t));
    assert_eq!(decode_tag(&[]), None);
    assert_eq!(ifname_bytes("br-x")[..5], *b"br-x\0");
}

#[test]
fn expressions_round_trip_through_attributes() {
    let net = NetworkRules {
        name: "p_default".into(),
        bridge: "br-0123456789ab".into(),
        subnets: vec![(v4(10, 203, 0, 0), 24), ("fd00:1::".parse().unwrap(), 64)],
        internal: false,
    };
    let port = PortMapping {
        network: "p_default".into(),
        bridge: net.bridge.clone(),
        protocol: Protocol::Udp,
        host_ip: Some(v4(127, 0, 0, 1)),
        host_port: 5353,
        container_ip: v4(10, 203, 0, 2),
        container_port: 53,
    };
    let mut all = network_rules(&net);
    all.extend(port_rules(&port).unwrap());
    all.push(Rule {
        chain: Chain::Forward,
        position: Position::Tail,
        exprs: vec![Expr::Verdict {
            code: NFT_JUMP,
            chain: Some("x".into()),
        }],
        tag: "t".into(),
    });
    for r in &all {
        let mut buf = Vec::new();
        Attrs(&mut buf).nest(NFTA_RULE_EXPRESSIONS, |a| {
            for e in &r.exprs {
                encode_expr(a, e);
            }
        });
        let list = attr(&buf, NFTA_RULE_EXPRESSIONS).unwrap();
        let back: Vec<Expr> = attrs(list).map(|(_, e)| decode_expr(e)).collect();
        assert_eq!(back, r.exprs);
    }
    // Two masquerades (v4 + v6 subnet), drops at the head, accepts at the tail.
    let masq = all
        .iter()
        .filter(|r| r.exprs.last() == Some(&Expr::Masquerade) && r.tag == net_tag(&net.bridge))
        .count();
    assert_eq!(masq, 4, "two subnets, each with its hairpin");
    assert!(all
        .iter()
        .filter(|r| r.exprs.last() == Some(&verdict(NF_DROP)))
        .all(|r| r.position == Position::Head));
    assert_eq!(
        port_tag(&port),
        format!("compose:port:{}:udp:127.0.0.1:5353", net.bridge)
    );
    // A port published on loopback: DNAT for the host's own connections only, and a drop of
    // what arrives for it on other interfaces; every network drops its bridge's traffic to
    // 127.0.0.0/8 (the host's loopback services).
    let lo_rules = port_rules(&port).unwrap();
    let chains: Vec<Chain> = lo_rules.iter().map(|r| r.chain).collect();
    assert!(!chains.contains(&Chain::Prerouting), "{chains:?}");
    assert!(chains.contains(&Chain::Output), "{chains:?}");
    let raw = &lo_rules[0];
    assert_eq!(
        (raw.chain, raw.position),
        (Chain::RawPrerouting, Position::Head)
    );
    assert!(raw.exprs.contains(&Expr::Cmp {
        sreg: REG_1,
        op: CMP_NEQ,
        data: ifname_bytes("lo").to_vec()
    }));
    assert_eq!(raw.exprs.last(), Some(&verdict(NF_DROP)));
    let any = port_rules(&PortMapping {
        host_ip: None,
        ..port.clone()
    })
    .unwrap();
    assert!(any.iter().all(|r| r.chain != Chain::RawPrerouting));
    assert!(any.iter().any(|r| r.chain == Chain::Prerouting));
    for internal in [false, true] {
        let rules = network_rules(&NetworkRules {
            internal,
            ..net.clone()
        });
        let raw: Vec<&Rule> = rules
            .iter()
            .filter(|r| r.chain == Chain::RawPrerouting)
            .collect();
        assert_eq!(raw.len(), 1, "internal: {internal}");
        assert!(raw[0].exprs.contains(&Expr::Cmp {
            sreg: REG_1,
            op: CMP_EQ,
            data: vec![127, 0, 0, 0]
        }));
    }
    let internal = network_rules(&NetworkRules {
        internal: true,
        ..net
    });
    assert!(!internal.iter().any(|r| r.exprs.contains(&Expr::Masquerade)));
    let bad = port_rules(&PortMapping {
        host_ip: Some("::1".parse().unwrap()),
        ..port
    })
    .unwrap_err();
    assert!(bad.to_string().contains("differ in family"), "{bad}");
}

fn random_hex() -> String {
    let mut b = [0u8; 6];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut b);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Three throw-away namespaces: a stand-in host, a "container" behind the bridge and an
/// "outside" host. Everything (links, the nftables table, sysctls) lives inside them and
/// vanishes with their fds; Drop still deletes the table explicitly. The real host namespace
/// is never opened.
struct Lab {
    host: OwnedFd,
    ctr: OwnedFd,
    out: OwnedFd,
    ctr2: OwnedFd,
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Ok(mut nft) = Nft::new_in(self.host.as_fd()) {
            let _ = nft.delete_table();
        }
    }
}

const WAIT: Duration = Duration::from_secs(3);
const REFUSE_WAIT: Duration = Duration::from_millis(700);

fn accept_within(l: &TcpListener, d: Duration) -> Option<(TcpStream, InetAddr)> {
    l.set_nonblocking(true).unwrap();
    let end = Instant::now() + d;
    while Instant::now() < end {
        match l.accept() {
            Ok(x) => return Some(x),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
    None
}

/// Connects from namespace `ns` to `to`, and returns the peer address the listener saw
/// (after a byte went through), or None when no connection came within the time limits.
fn tcp_via(ns: BorrowedFd<'_>, to: InetAddr, l: &TcpListener, d: Duration) -> Option<IpAddr> {
    let stream = in_netns(ns, || TcpStream::connect_timeout(&to, d))
        .unwrap()
        .ok();
    let mut stream = stream?;
    let (mut acc, peer) = accept_within(l, d).expect("connected but nothing accepted");
    stream.write_all(b"x").unwrap();
    acc.set_read_timeout(Some(WAIT)).unwrap();
    let mut b = [0u8; 1];
    acc.read_exact(&mut b).unwrap();
    Some(peer.ip())
}

fn listen(ns: BorrowedFd<'_>, at: InetAddr) -> TcpListener {
    in_netns(ns, || TcpListener::bind(at)).unwrap().unwrap()
}

fn skip_unless_root() -> bool {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root (network namespaces, nftables)");
        return true;
    }
    false
}

/// Creates `table ip filter` with a `FORWARD` chain of policy DROP, as Docker does through
/// iptables-nft.
fn docker_like_forward_drop(nft: &mut Nft) {
    let mut body = Vec::new();
    let mut a = Attrs(&mut body);
    a.string(NFTA_CHAIN_TABLE, "filter");
    a.string(NFTA_CHAIN_NAME, "FORWARD");
    a.nest(NFTA_CHAIN_HOOK, |a| {
        a.u32(NFTA_HOOK_HOOKNUM, NF_INET_FORWARD);
        a.u32(NFTA_HOOK_PRIORITY, 0);
    });
    a.u32(NFTA_CHAIN_POLICY, NF_DROP as u32);
    a.string(NFTA_CHAIN_TYPE, "filter");
    nft.batch(&[
        table_msg("filter", NFPROTO_IPV4, NFT_MSG_NEWTABLE, "ip filter".into()),
        BatchMsg {
            ty: NFT_MSG_NEWCHAIN,
            flags: NLM_F_CREATE,
            family: NFPROTO_IPV4,
            body,
            what: "ip filter FORWARD".into(),
        },
    ])
    .unwrap();
}

#[test]
#[ignore = "needs root"]
fn masquerade_dnat_internal_and_removal_with_real_packets() {
    if skip_unless_root() {
        return;
    }
    let id = format!("compose-test-{}", random_hex());
    let lab = Lab {
        host: create_netns().expect("host netns"),
        ctr: create_netns().expect("container netns"),
        out: create_netns().expect("outside netns"),
        ctr2: create_netns().expect("second container netns"),
    };
    let (h, c, o, c2) = (
        lab.host.as_fd(),
        lab.ctr.as_fd(),
        lab.out.as_fd(),
        lab.ctr2.as_fd(),
    );
    let br_name = legacy_bridge_name(&id);
    let bridge_ip = v4(10, 203, 0, 1);
    let ctr_ip = v4(10, 203, 0, 2);
    let ctr2_ip = v4(10, 203, 0, 3);
    let host_out = v4(192, 0, 2, 1);
    let out_ip = v4(192, 0, 2, 2);

    // Stand-in host: lo, bridge, veth to the container, veth to the outside.
    let mut hn = Netlink::new_in(h).unwrap();
    hn.set_up(1).unwrap();
    let br = hn.create_bridge(&br_name, None).unwrap();
    hn.add_address(br, bridge_ip, 24).unwrap();
    hn.set_up(br).unwrap();
    let hv = hn
        .create_veth_into(&veth_name(&id, "ctr"), "eth0", None, c)
        .unwrap();
    hn.set_master(hv, br).unwrap();
    hn.set_up(hv).unwrap();
    let hv2 = hn
        .create_veth_into(&veth_name(&id, "ctr2"), "eth0", None, c2)
        .unwrap();
    hn.set_master(hv2, br).unwrap();
    hn.set_up(hv2).unwrap();
    let ho = hn
        .create_veth_into(&veth_name(&id, "out"), "eth0", None, o)
        .unwrap();
    hn.add_address(ho, host_out, 24).unwrap();
    hn.set_up(ho).unwrap();
    for (ns, ip, gw_dst) in [
        (c, ctr_ip, None),
        (c2, ctr2_ip, None),
        (o, out_ip, Some((v4(10, 203, 0, 0), 24u8))),
    ] {
        let mut n = Netlink::new_in(ns).unwrap();
        let eth0 = n.link_index("eth0").unwrap().expect("eth0 in namespace");
        n.set_up(1).unwrap();
        n.add_address(eth0, ip, 24).unwrap();
        n.set_up(eth0).unwrap();
        // The container routes everything via the bridge; the outside can route back to
        // the container subnet, so only masquerade explains a 192.0.2.1 source.
        let gw = if gw_dst.is_none() {
            bridge_ip
        } else {
            host_out
        };
        n.add_route(gw_dst, Some(gw), eth0).unwrap();
    }
    in_netns(h, || enable_ip_forward(false)).unwrap().unwrap();
    in_netns(h, || set_route_localnet(&br_name))
        .unwrap()
        .unwrap();

    let mut nft = Nft::new_in(h).unwrap();
    assert!(!nft.table_exists().unwrap());
    assert!(nft.list_rules().unwrap().is_empty());
    let net = NetworkRules {
        name: format!("{id}_default"),
        bridge: br_name.clone(),
        subnets: vec![(v4(10, 203, 0, 0), 24)],
        internal: false,
    };
    let tcp = PortMapping {
        network: net.name.clone(),
        bridge: br_name.clone(),
        protocol: Protocol::Tcp,
        host_ip: None,
        host_port: 8080,
        container_ip: ctr_ip,
        container_port: 80,
    };
    let udp = PortMapping {
        protocol: Protocol::Udp,
        host_ip: Some(host_out),
        host_port: 8081,
        container_port: 53,
        ..tcp.clone()
    };
    nft.add_network(&net).unwrap();
    nft.add_network(&net).unwrap(); // replaces, no duplicates
    nft.add_port(&tcp).unwrap();
    nft.add_port(&udp).unwrap();
    assert!(nft.table_exists().unwrap());

    // The listing is what we built, exactly, each rule once.
    let listed = nft.list_rules().unwrap();
    let mut built = network_rules(&net);
    built.extend(port_rules(&tcp).unwrap());
    built.extend(port_rules(&udp).unwrap());
    assert_eq!(listed.len(), built.len(), "{listed:#?}");
    for b in &built {
        let n = listed
            .iter()
            .filter(|l| {
                l.chain == b.chain.name()
                    && l.tag.as_deref() == Some(b.tag.as_str())
                    && l.exprs == b.exprs
            })
            .count();
        assert_eq!(n, 1, "rule {b:#?} listed {n} times in {listed:#?}");
    }
    // The isolation drop comes before every accept of the forward chain.
    let fwd: Vec<&ListedRule> = listed.iter().filter(|l| l.chain == "forward").collect();
    assert_eq!(fwd[0].exprs.last(), Some(&verdict(NF_DROP)));

    // (1) Masquerade: container -> outside arrives from the stand-in host's address.
    let l_out = listen(o, (out_ip, 0).into());
    let to_out: InetAddr = (out_ip, l_out.local_addr().unwrap().port()).into();
    assert_eq!(tcp_via(c, to_out, &l_out, WAIT), Some(host_out));

    // (2) DNAT: outside -> 192.0.2.1:8080 reaches 10.203.0.2:80 in the container; so do
    // the stand-in host's own connections to 127.0.0.1:8080 and 192.0.2.1:8080.
    let l_ctr = listen(c, (ctr_ip, 80).into());
    assert_eq!(
        tcp_via(o, (host_out, 8080).into(), &l_ctr, WAIT),
        Some(out_ip)
    );
    assert_eq!(
        tcp_via(h, (v4(127, 0, 0, 1), 8080).into(), &l_ctr, WAIT),
        Some(bridge_ip),
        "127.0.0.1 is masqueraded to the bridge address"
    );
    assert_eq!(
        tcp_via(h, (host_out, 8080).into(), &l_ctr, WAIT),
        Some(host_out)
    );
    // Hairpin: another container of the network, through the host's address, is seen as
    // coming from the bridge address.
    assert_eq!(
        tcp_via(c2, (host_out, 8080).into(), &l_ctr, WAIT),
        Some(bridge_ip)
    );
    // ... but the container is not reachable directly from outside (nothing Docker would
    // not open), only through the published port.
    assert_eq!(tcp_via(o, (ctr_ip, 80).into(), &l_ctr, REFUSE_WAIT), None);
    // UDP, bound to one host address.
    let u_ctr = in_netns(c, || UdpSocket::bind((ctr_ip, 53)))
        .unwrap()
        .unwrap();
    u_ctr.set_read_timeout(Some(WAIT)).unwrap();
    let u_out = in_netns(o, || UdpSocket::bind((out_ip, 0)))
        .unwrap()
        .unwrap();
    u_out.send_to(b"q", (host_out, 8081)).unwrap();
    let mut b = [0u8; 4];
    let (n, from) = u_ctr.recv_from(&mut b).expect("UDP through DNAT");
    assert_eq!((&b[..n], from.ip()), (&b"q"[..], out_ip));

    // Docker-like host: iptables-nft FORWARD policy DROP drops our traffic even though our
    // chain accepts it; the accepts in iptables' chain fix it, and go with the network.
    docker_like_forward_drop(&mut nft);
    assert_eq!(
        nft.iptables_forward_chain().unwrap(),
        Some(IptablesForward {
            chain: "FORWARD".into(),
            policy_drop: true
        })
    );
    assert_eq!(tcp_via(c, to_out, &l_out, REFUSE_WAIT), None);
    assert_eq!(
        nft.allow_in_iptables_forward(&net).unwrap().as_deref(),
        Some("FORWARD")
    );
    nft.allow_in_iptables_forward(&net).unwrap(); // replaces, no duplicates
    assert_eq!(nft.rules_of(NFPROTO_IPV4, "filter").unwrap().len(), 2);
    assert_eq!(tcp_via(c, to_out, &l_out, WAIT), Some(host_out));

    // (3) Internal: the same network marked internal cannot reach the outside, nor be
    // reached through its published port.
    let internal = NetworkRules {
        internal: true,
        ..net.clone()
    };
    nft.add_network(&internal).unwrap();
    let listed = nft.list_rules().unwrap();
    assert!(!listed
        .iter()
        .any(|l| l.tag.as_deref() == Some(net_tag(&net.bridge).as_str())
            && l.exprs.contains(&Expr::Masquerade)));
    assert_eq!(tcp_via(c, to_out, &l_out, REFUSE_WAIT), None);
    assert_eq!(
        tcp_via(o, (host_out, 8080).into(), &l_ctr, REFUSE_WAIT),
        None
    );
    nft.add_network(&net).unwrap();
    assert_eq!(tcp_via(c, to_out, &l_out, WAIT), Some(host_out));

    // (4) Removal: a port, then the network with everything else it had; then the table.
    let before = nft.list_rules().unwrap().len();
    assert_eq!(nft.remove_port(&udp).unwrap(), 4);
    assert_eq!(nft.remove_port(&udp).unwrap(), 0);
    assert_eq!(nft.list_rules().unwrap().len(), before - 4);
    let n_net = network_rules(&net).len() + port_rules(&tcp).unwrap().len() + 2;
    assert_eq!(nft.remove_network(&net.name, &net.bridge).unwrap(), n_net);
    assert!(nft.list_rules().unwrap().is_empty());
    assert!(nft.rules_of(NFPROTO_IPV4, "filter").unwrap().is_empty());
    assert!(nft.table_exists().unwrap());
    assert!(nft.delete_table().unwrap());
    assert!(!nft.table_exists().unwrap());
    assert!(!nft.delete_table().unwrap());
    // iptables' table is not ours: it stays (the test removes its stand-in now).
    assert!(nft.has_table(NFPROTO_IPV4, "filter").unwrap());
    let mut del = table_msg("filter", NFPROTO_IPV4, NFT_MSG_DELTABLE, "del".into());
    del.flags = 0;
    nft.batch(&[del]).unwrap();
    // Control: with no rules at all, the port is no longer published (nothing listens on
    // the host's 8080), and the direct path the isolation rule refused works — so that
    // refusal came from our rule, not from the lab.
    assert_eq!(
        tcp_via(o, (host_out, 8080).into(), &l_ctr, REFUSE_WAIT),
        None,
        "DNAT gone"
    );
    assert_eq!(tcp_via(o, (ctr_ip, 80).into(), &l_ctr, WAIT), Some(out_ip));
}

#[test]
#[ignore = "needs root"]
fn kernel_errors_name_the_message() {
    if skip_unless_root() {
        return;
    }
    let ns = create_netns().unwrap();
    let mut nft = Nft::new_in(ns.as_fd()).unwrap();
    let rules = vec![Rule {
        chain: Chain::Forward,
        position: Position::Tail,
        exprs: vec![Expr::Other("no-such-expression".into())],
        tag: "compose:test".into(),
    }];
    let msgs = rule_msgs(&rules, "t").unwrap();
    let mut all = ensure_msgs();
    all.extend(msgs);
    let e = nft.batch(&all).unwrap_err();
    eprintln!("kernel error as reported: {e}");
    assert!(
        e.to_string()
            .contains("add rule compose forward [compose:test]"),
        "{e}"
    );
    assert!(e.errno().is_some(), "{e}");
    // The transaction was undone as a whole: not even the table exists.
    assert!(!nft.table_exists().unwrap());
}
