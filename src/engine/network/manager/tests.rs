use std::fs;
use std::net::{IpAddr, TcpListener};
use std::os::fd::{AsFd, OwnedFd};

use super::*;
use crate::engine::network::ipam::{AddrRequest, IpamRequest, Subnet};
use crate::engine::network::link::{bridge_name, create_netns, in_netns};
use crate::engine::network::nft::{self, PortMapping, Protocol};

fn skip_unless_root() -> bool {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root (network namespaces, nftables)");
        return true;
    }
    false
}

/// A throw-away network namespace standing in for the host, and a state root. The
/// namespace (bridges, nftables table, sysctls, sockets) vanishes with its fd; Drop still
/// deletes the table explicitly.
struct Lab {
    ns: OwnedFd,
    root: tempfile::TempDir,
}

impl Lab {
    fn new() -> Option<Lab> {
        if skip_unless_root() {
            return None;
        }
        Some(Lab {
            ns: create_netns().expect("creating a network namespace"),
            root: tempfile::Builder::new()
                .prefix("compose-test-netmgr-")
                .tempdir()
                .expect("tempdir"),
        })
    }

    fn nets(&self) -> Networks {
        Networks::open_in(self.root.path(), self.ns.as_fd()).expect("open")
    }

    fn nft(&self) -> Nft {
        Nft::new_in(self.ns.as_fd()).expect("nft")
    }

    fn nl(&self) -> Netlink {
        Netlink::new_in(self.ns.as_fd()).expect("netlink")
    }

    fn tagged(&self, tag: &str) -> Vec<nft::ListedRule> {
        self.nft()
            .list_rules()
            .expect("list")
            .into_iter()
            .filter(|r| r.tag.as_deref() == Some(tag))
            .collect()
    }

    fn sysctl(&self, path: &str) -> String {
        let path = path.to_string();
        in_netns(self.ns.as_fd(), move || fs::read_to_string(path))
            .expect("netns")
            .expect("read sysctl")
            .trim()
            .to_string()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Ok(mut nft) = Nft::new_in(self.ns.as_fd()) {
            let _ = nft.delete_table();
        }
    }
}

fn sn(s: &str) -> Subnet {
    Subnet::parse_exact(s).unwrap()
}

#[test]
fn def_round_trips_and_port_tags_parse() {
    let mut def = NetworkDef::bridge("p_front");
    def.project = Some("p".into());
    def.ipam = vec![IpamRequest {
        subnet: Some(sn("10.9.0.0/24")),
        ip_range: Some(sn("10.9.0.128/25")),
        gateway: Some("10.9.0.254".parse().unwrap()),
        aux_addresses: [("h".to_string(), "10.9.0.5".parse().unwrap())].into(),
    }];
    def.labels.insert("a".into(), "b".into());
    def.mtu = Some(1400);
    let text = serde_json::to_string(&def).unwrap();
    assert!(text.contains("\"subnet\":\"10.9.0.0/24\""), "{text}");
    let back: NetworkDef = serde_json::from_str(&text).unwrap();
    assert_eq!(back, def);
    assert!(def.differences(&back).is_empty());
    let mut other = def.clone();
    other.internal = true;
    other.mtu = None;
    assert_eq!(
        def.differences(&other),
        ["internal", "driver_opts.com.docker.network.driver.mtu"]
    );

    for (ip, proto) in [
        (None, Protocol::Tcp),
        (Some("127.0.0.1".parse().unwrap()), Protocol::Udp),
        (Some("fd00::1".parse().unwrap()), Protocol::Tcp),
    ] {
        let p = PortMapping {
            network: "p_a-b.c".into(),
            bridge: "br-x".into(),
            protocol: proto,
            host_ip: ip,
            host_port: 8080,
            container_ip: "10.0.0.2".parse().unwrap(),
            container_port: 80,
        };
        let parsed = parse_port_tag(&nft::port_tag(&p)).unwrap();
        assert_eq!(
            parsed,
            PublishedPort {
                network: "br-x".into(),
                protocol: proto,
                host_ip: ip,
                host_port: 8080
            }
        );
    }
    assert_eq!(parse_port_tag("compose:net:x"), None);
    assert_eq!(parse_port_tag("compose:port:x:sctp:*:1"), None);
}

#[test]
#[ignore = "needs root"]
fn ensure_creates_bridge_rules_and_sysctls_idempotently() {
    let Some(lab) = Lab::new() else { return };
    let nets = lab.nets();
    let def = NetworkDef::bridge("p_default");
    let info = nets.ensure(&def).unwrap();
    let br = bridge_name(&fs::canonicalize(lab.root.path()).unwrap(), "p_default");
    assert_eq!(info.bridge, br);
    assert_eq!(info.def, def);
    let gw = info.addrs.subnets[0].gateway;
    let mut nl = lab.nl();
    let idx = nl.link_index(&br).unwrap().expect("bridge exists");
    let addrs = nl.addresses(Some(idx)).unwrap();
    assert!(addrs.iter().any(|a| a.addr == gw), "{addrs:?}");
    let tag = nft::net_tag(&br);
    let rules = lab.tagged(&tag);
    assert!(!rules.is_empty());
    let handles: Vec<u64> = rules.iter().map(|r| r.handle).collect();
    assert_eq!(lab.sysctl("/proc/sys/net/ipv4/ip_forward"), "1");
    assert_eq!(
        lab.sysctl(&format!("/proc/sys/net/ipv4/conf/{br}/route_localnet")),
        "1"
    );

    // Twice: same network, the same rules (not even rewritten).
    let again = nets.ensure(&def).unwrap();
    assert_eq!(again, info);
    let handles2: Vec<u64> = lab.tagged(&tag).iter().map(|r| r.handle).collect();
    assert_eq!(handles2, handles);

    // A different definition for an existing network: the recorded one is kept.
    let mut changed = def.clone();
    changed.internal = true;
    let kept = nets.ensure(&changed).unwrap();
    assert_eq!(kept.def, def);
    assert_eq!(kept.def.differences(&changed), ["internal"]);

    // After a "reboot" (bridge and rules gone), ensure puts everything back.
    lab.nft().delete_table().unwrap();
    nl.delete_link(idx).unwrap();
    let back = nets.ensure(&def).unwrap();
    assert_eq!(back.addrs.subnets, info.addrs.subnets);
    let idx = nl.link_index(&br).unwrap().expect("bridge re-created");
    assert!(nl
        .addresses(Some(idx))
        .unwrap()
        .iter()
        .any(|a| a.addr == gw));
    assert_eq!(lab.tagged(&tag).len(), rules.len());

    // Another process (a second store on the same root) sees it.
    let other = Networks::open_in(lab.root.path(), lab.ns.as_fd()).unwrap();
    assert_eq!(other.get("p_default").unwrap(), Some(info.clone()));
    assert_eq!(other.list().unwrap(), vec![info]);
    assert_eq!(other.get("nosuch").unwrap(), None);
}

#[test]
#[ignore = "needs root"]
fn networks_get_disjoint_subnets_and_options() {
    let Some(lab) = Lab::new() else { return };
    let nets = lab.nets();
    let a = nets.ensure(&NetworkDef::bridge("p_a")).unwrap();
    let mut def_b = NetworkDef::bridge("p_b");
    def_b.bridge_name = Some("brtestb".into());
    def_b.mtu = Some(1400);
    def_b.internal = true;
    let b = nets.ensure(&def_b).unwrap();
    let (sa, sb) = (a.addrs.subnets[0].subnet, b.addrs.subnets[0].subnet);
    assert!(!sa.overlaps(&sb), "{sa} and {sb}");
    assert_eq!(b.bridge, "brtestb");
    let links = lab.nl().links().unwrap();
    let link_b = links.iter().find(|l| l.name == "brtestb").expect("bridge");
    assert_eq!(link_b.mtu, Some(1400));

    let mut explicit = NetworkDef::bridge("p_c");
    explicit.enable_ipv6 = true;
    explicit.ipam = vec![IpamRequest {
        subnet: Some(sn("10.77.0.0/24")),
        ..Default::default()
    }];
    let c = nets.ensure(&explicit).unwrap();
    assert_eq!(c.addrs.subnets[0].subnet, sn("10.77.0.0/24"));
    assert!(!c.addrs.subnets[1].subnet.is_ipv4());

    let mut clash = NetworkDef::bridge("p_d");
    clash.bridge_name = Some("brtestb".into());
    assert_eq!(
        nets.ensure(&clash).unwrap_err().to_string(),
        "network p_d: bridge brtestb is already the bridge of network p_b"
    );
    let mut overlay = NetworkDef::bridge("p_e");
    overlay.driver = "overlay".into();
    assert_eq!(
        nets.ensure(&overlay).unwrap_err().to_string(),
        "network p_e: driver \"overlay\" is not supported (only \"bridge\" is)"
    );
    assert!(matches!(
        nets.ensure(&NetworkDef::bridge("../x")),
        Err(NetworkError::InvalidName { .. })
    ));
    // Refused definitions leave nothing behind.
    let names: Vec<String> = nets
        .list()
        .unwrap()
        .into_iter()
        .map(|i| i.def.name)
        .collect();
    assert_eq!(names, ["p_a", "p_b", "p_c"]);
}

#[test]
#[ignore = "needs root"]
fn concurrent_ensure_creates_one_network() {
    let Some(lab) = Lab::new() else { return };
    let subnets: Vec<Subnet> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    // Each thread has its own store and lock fd, as processes would.
                    let nets = lab.nets();
                    nets.ensure(&NetworkDef::bridge("p_default"))
                        .unwrap()
                        .addrs
                        .subnets[0]
                        .subnet
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(subnets.windows(2).all(|w| w[0] == w[1]), "{subnets:?}");
    assert_eq!(lab.nets().list().unwrap().len(), 1);
    let bridges = lab
        .nl()
        .links()
        .unwrap()
        .into_iter()
        .filter(|l| l.name.starts_with("br-"))
        .count();
    assert_eq!(bridges, 1);
}

#[test]
#[ignore = "needs root"]
fn allocate_release_and_remove() {
    let Some(lab) = Lab::new() else { return };
    let nets = lab.nets();
    let a = nets.ensure(&NetworkDef::bridge("p_a")).unwrap();
    let b = nets.ensure(&NetworkDef::bridge("p_b")).unwrap();
    let got = nets.allocate("p_a", "c1", &AddrRequest::default()).unwrap();
    let v4 = got.ipv4.unwrap();
    assert_eq!(v4.subnet, a.addrs.subnets[0].subnet);
    assert_ne!(v4.addr, v4.gateway);
    assert_eq!(
        nets.allocate("p_a", "c1", &AddrRequest::default()).unwrap(),
        got
    );
    assert!(matches!(
        nets.allocate("nosuch", "c1", &AddrRequest::default()),
        Err(NetworkError::NotFound(_))
    ));

    let dns = lab.root.path().join("dns/p_a");
    fs::create_dir_all(&dns).unwrap();
    fs::write(dns.join("hosts"), "x").unwrap();

    let err = nets.remove("p_a").unwrap_err();
    assert_eq!(
        err.to_string(),
        "network p_a has active endpoints (containers c1)"
    );
    assert!(nets.get("p_a").unwrap().is_some());
    assert!(lab.nl().link_exists(&a.bridge).unwrap());

    assert!(nets.release("p_a", "c1").unwrap());
    assert!(!nets.release("p_a", "c1").unwrap());
    assert!(nets.remove("p_a").unwrap());
    assert!(!lab.nl().link_exists(&a.bridge).unwrap());
    assert!(lab.tagged(&nft::net_tag(&a.bridge)).is_empty());
    assert!(!lab.tagged(&nft::net_tag(&b.bridge)).is_empty());
    assert!(lab.nft().table_exists().unwrap(), "p_b still needs it");
    assert!(!dns.exists());
    assert_eq!(nets.get("p_a").unwrap(), None);
    assert!(!nets.remove("p_a").unwrap());

    assert!(nets.remove("p_b").unwrap());
    assert!(
        !lab.nft().table_exists().unwrap(),
        "last network took the table"
    );
    assert!(nets.list().unwrap().is_empty());
    assert!(nets.ipam.list().unwrap().is_empty());
}

fn mapping(net: &NetworkInfo, ip: IpAddr, host_port: u16) -> PortMapping {
    PortMapping {
        network: net.def.name.clone(),
        bridge: net.bridge.clone(),
        protocol: Protocol::Tcp,
        host_ip: None,
        host_port,
        container_ip: ip,
        container_port: 80,
    }
}

#[test]
#[ignore = "needs root"]
fn publish_unpublish_and_free_ports() {
    let Some(lab) = Lab::new() else { return };
    let nets = lab.nets();
    let net = nets.ensure(&NetworkDef::bridge("p_default")).unwrap();
    let ip = nets
        .allocate("p_default", "c1", &AddrRequest::default())
        .unwrap()
        .ipv4
        .unwrap()
        .addr;
    let net_rules = lab.tagged(&nft::net_tag(&net.bridge)).len();
    let p = mapping(&net, ip, 40000);
    let tag = nft::port_tag(&p);
    nets.publish(&p).unwrap();
    let n = lab.tagged(&tag).len();
    assert!(n > 0);
    nets.publish(&p).unwrap();
    assert_eq!(lab.tagged(&tag).len(), n, "publishing twice adds nothing");
    let other = mapping(&net, ip, 40100);
    nets.publish(&other).unwrap();
    assert_eq!(nets.published().unwrap().len(), 2, "{:?}", nets.published());

    // A small ephemeral range in the lab makes the search deterministic.
    in_netns(lab.ns.as_fd(), || {
        fs::write("/proc/sys/net/ipv4/ip_local_port_range", "40000 40002")
    })
    .unwrap()
    .unwrap();
    let listener = in_netns(lab.ns.as_fd(), || TcpListener::bind("0.0.0.0:40001"))
        .unwrap()
        .unwrap();
    assert!(nets.host_port_in_use(Protocol::Tcp, None, 40000).unwrap());
    assert!(nets
        .host_port_in_use(Protocol::Tcp, Some("127.0.0.1".parse().unwrap()), 40000)
        .unwrap());
    assert!(!nets.host_port_in_use(Protocol::Udp, None, 40000).unwrap());
    assert!(nets.host_port_in_use(Protocol::Tcp, None, 40001).unwrap());
    assert!(!nets.host_port_in_use(Protocol::Tcp, None, 40002).unwrap());
    for _ in 0..5 {
        assert_eq!(
            nets.free_host_port(Protocol::Tcp, None, &[]).unwrap(),
            40002
        );
    }
    assert_eq!(
        nets.free_host_port(Protocol::Tcp, None, &[40002])
            .unwrap_err()
            .to_string(),
        "no free tcp host port left in the ephemeral range 40000-40002"
    );
    let udp = nets.free_host_port(Protocol::Udp, None, &[40002]).unwrap();
    assert!([40000, 40001].contains(&udp), "{udp}");
    drop(listener);
    assert!(!nets.host_port_in_use(Protocol::Tcp, None, 40001).unwrap());

    nets.unpublish(&p).unwrap();
    assert!(lab.tagged(&tag).is_empty());
    assert!(!lab.tagged(&nft::port_tag(&other)).is_empty());
    assert_eq!(lab.tagged(&nft::net_tag(&net.bridge)).len(), net_rules);
    nets.unpublish(&p).unwrap(); // missing is fine
                                 // 40000 is free again; 40001 too since its listener is gone.
    let port = nets.free_host_port(Protocol::Tcp, None, &[40002]).unwrap();
    assert!([40000, 40001].contains(&port), "{port}");

    let stranger = PortMapping {
        network: "nosuch".into(),
        ..p.clone()
    };
    assert!(matches!(
        nets.publish(&stranger),
        Err(NetworkError::NotFound(_))
    ));

    // Removing the network takes its published ports with it.
    nets.release("p_default", "c1").unwrap();
    assert!(nets.remove("p_default").unwrap());
    assert!(nets.published().unwrap().is_empty());
}
