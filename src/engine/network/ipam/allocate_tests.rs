use std::net::IpAddr;

use crate::engine::network::ipam::test_support::*;
use crate::engine::network::ipam::*;

fn explicit_net(req: IpamRequest, options: NetworkOptions) -> NetworkAddrs {
    let mut reqs = vec![req];
    if options.enable_ipv6 {
        reqs.push(explicit("fd00:aa::/64"));
    }
    net_with(plan(&reqs, options, &[], &[]).unwrap())
}

fn auto(net: &mut NetworkAddrs, id: &str) -> Result<IpAddr, IpamError> {
    allocate_in(net, id, &AddrRequest::default()).map(|a| a.ipv4.unwrap().addr)
}

#[test]
fn allocation_order_reservations_and_requests() {
    let mut net = explicit_net(
        IpamRequest {
            subnet: Some(sn("10.10.0.0/24")),
            aux_addresses: [("router".to_string(), ip("10.10.0.3"))].into(),
            ..Default::default()
        },
        v4only(),
    );
    assert_eq!(net.subnets[0].gateway, ip("10.10.0.1"));
    assert_eq!(auto(&mut net, "a").unwrap(), ip("10.10.0.2"));
    // .3 is the aux address.
    assert_eq!(auto(&mut net, "b").unwrap(), ip("10.10.0.4"));
    // Idempotent: a container keeps its address.
    assert_eq!(auto(&mut net, "a").unwrap(), ip("10.10.0.2"));
    let got = allocate_in(&mut net, "b", &AddrRequest::default()).unwrap();
    let v4 = got.ipv4.unwrap();
    assert_eq!(
        (v4.subnet, v4.gateway),
        (sn("10.10.0.0/24"), ip("10.10.0.1"))
    );
    assert!(got.ipv6.is_none());

    // Requested addresses.
    let req = |a: &str| AddrRequest {
        ipv4: Some(a.parse().unwrap()),
        ipv6: None,
    };
    let c = allocate_in(&mut net, "c", &req("10.10.0.50")).unwrap();
    assert_eq!(c.ipv4.unwrap().addr, ip("10.10.0.50"));
    let e = |id: &str, a: &str, net: &mut NetworkAddrs| {
        allocate_in(net, id, &req(a)).unwrap_err().to_string()
    };
    assert_eq!(
        e("d", "10.10.0.50", &mut net),
        "network p_default: address 10.10.0.50 is already in use by container c"
    );
    assert_eq!(
        e("d", "10.10.0.1", &mut net),
        "network p_default: address 10.10.0.1 is the gateway"
    );
    assert_eq!(
        e("d", "10.10.0.3", &mut net),
        "network p_default: address 10.10.0.3 is reserved as aux address \"router\""
    );
    assert_eq!(
        e("d", "10.10.0.0", &mut net),
        "network p_default: address 10.10.0.0 is the network address of 10.10.0.0/24"
    );
    assert_eq!(
        e("d", "10.10.0.255", &mut net),
        "network p_default: address 10.10.0.255 is the broadcast address of 10.10.0.0/24"
    );
    assert_eq!(
        e("d", "10.11.0.5", &mut net),
        "network p_default: address 10.11.0.5 is not inside any of its subnets (10.10.0.0/24)"
    );
    assert_eq!(
        e("a", "10.10.0.9", &mut net),
        "container a already has address 10.10.0.2 on network p_default, not the requested 10.10.0.9"
    );
    assert_eq!(
        allocate_in(
            &mut net,
            "d",
            &AddrRequest {
                ipv4: None,
                ipv6: Some("fd00::5".parse().unwrap())
            }
        )
        .unwrap_err()
        .to_string(),
        "network p_default: address fd00::5 requested but the network has no IPv6 subnet (is enable_ipv6 set?)"
    );
    // Serial: after .50 comes .51, not .5.
    assert_eq!(auto(&mut net, "d").unwrap(), ip("10.10.0.51"));
}

#[test]
fn ip_range_limits_dynamic_addresses_only() {
    let mut net = explicit_net(
        IpamRequest {
            subnet: Some(sn("172.28.0.0/16")),
            ip_range: Some(sn("172.28.5.0/30")),
            gateway: Some(ip("172.28.5.254")),
            ..Default::default()
        },
        v4only(),
    );
    // The range holds .0-.3; all four are host addresses of the /16.
    let got: Vec<IpAddr> = ["a", "b", "c", "d"]
        .iter()
        .map(|id| auto(&mut net, id).unwrap())
        .collect();
    assert_eq!(
        got,
        ["172.28.5.0", "172.28.5.1", "172.28.5.2", "172.28.5.3"].map(ip)
    );
    let err = auto(&mut net, "e").unwrap_err();
    assert_eq!(
        err.to_string(),
        "network p_default: no free IPv4 address left in 172.28.0.0/16"
    );
    // A static address outside the range but inside the subnet is fine (as in Docker).
    let s = allocate_in(
        &mut net,
        "e",
        &AddrRequest {
            ipv4: Some("172.28.9.9".parse().unwrap()),
            ipv6: None,
        },
    )
    .unwrap();
    assert_eq!(s.ipv4.unwrap().addr, ip("172.28.9.9"));
}

#[test]
fn exhaustion_release_and_reuse() {
    let mut net = explicit_net(explicit("10.20.0.0/29"), v4only());
    // .1 gateway, .2-.6 containers, .7 broadcast.
    let got: Vec<IpAddr> = (0..5)
        .map(|i| auto(&mut net, &format!("c{i}")).unwrap())
        .collect();
    assert_eq!(
        got,
        [
            "10.20.0.2",
            "10.20.0.3",
            "10.20.0.4",
            "10.20.0.5",
            "10.20.0.6"
        ]
        .map(ip)
    );
    assert!(matches!(
        auto(&mut net, "c5").unwrap_err(),
        IpamError::Exhausted { .. }
    ));
    net.allocations.remove("c1");
    // The only free address is reused after wrapping.
    assert_eq!(auto(&mut net, "c5").unwrap(), ip("10.20.0.3"));
    net.allocations.remove("c3");
    net.allocations.remove("c0");
    // Serial: continue after .3 -> .5 is next free (c3's), then wrap to .2.
    assert_eq!(auto(&mut net, "c6").unwrap(), ip("10.20.0.5"));
    assert_eq!(auto(&mut net, "c7").unwrap(), ip("10.20.0.2"));
}

#[test]
fn ipv6_64_allocation() {
    let mut net = explicit_net(explicit("10.30.0.0/24"), dual());
    assert_eq!(net.subnets[1].subnet, sn("fd00:aa::/64"));
    assert_eq!(net.subnets[1].gateway, ip("fd00:aa::1"));
    let a = allocate_in(&mut net, "a", &AddrRequest::default()).unwrap();
    assert_eq!(a.ipv4.unwrap().addr, ip("10.30.0.2"));
    assert_eq!(a.ipv6.unwrap().addr, ip("fd00:aa::2"));
    assert_eq!(a.ipv6.unwrap().subnet.prefix_len(), 64);
    let b = allocate_in(
        &mut net,
        "b",
        &AddrRequest {
            ipv4: None,
            ipv6: Some("fd00:aa::beef".parse().unwrap()),
        },
    )
    .unwrap();
    assert_eq!(b.ipv6.unwrap().addr, ip("fd00:aa::beef"));
    assert_eq!(b.ipv4.unwrap().addr, ip("10.30.0.3"));
    let c = allocate_in(&mut net, "c", &AddrRequest::default()).unwrap();
    assert_eq!(c.ipv6.unwrap().addr, ip("fd00:aa::bef0"));
    // The last address of a /64 is usable (no broadcast in IPv6).
    let d = allocate_in(
        &mut net,
        "d",
        &AddrRequest {
            ipv4: None,
            ipv6: Some("fd00:aa::ffff:ffff:ffff:ffff".parse().unwrap()),
        },
    )
    .unwrap();
    assert!(d.ipv6.is_some());
    // …and the next dynamic one wraps to the start of the /64.
    let e = allocate_in(&mut net, "e", &AddrRequest::default()).unwrap();
    assert_eq!(e.ipv6.unwrap().addr, ip("fd00:aa::3"));
}
