use std::collections::BTreeMap;

use crate::engine::network::ipam::test_support::*;
use crate::engine::network::ipam::*;

#[test]
fn automatic_subnets_skip_docker_podman_and_our_networks() {
    let host = &[
        route("172.17.0.0/16", "docker0"),
        route("10.88.0.0/16", "podman0"),
        route("10.89.0.0/24", "podman1"),
    ];
    let plan1 = plan(&[], v4only(), host, &[]).unwrap();
    assert_eq!(plan1.len(), 1);
    assert_eq!(plan1[0].subnet, sn("172.18.0.0/16"));
    assert_eq!(plan1[0].gateway, ip("172.18.0.1"));
    assert!(plan1[0].automatic);

    let mut ours = net_with(plan1);
    ours.name = "p_default".into();
    let plan2 = plan(&[], v4only(), host, std::slice::from_ref(&ours)).unwrap();
    assert_eq!(plan2[0].subnet, sn("172.19.0.0/16"));

    // 172.17-31 all taken: falls to 192.168.0.0/20, skipping a home LAN.
    let mut busy: Vec<HostPrefix> = (17..=31)
        .map(|i| route(&format!("172.{i}.0.0/16"), "x"))
        .collect();
    busy.push(route("192.168.0.0/24", "wlan0"));
    let plan3 = plan(&[], v4only(), &busy, &[]).unwrap();
    assert_eq!(plan3[0].subnet, sn("192.168.16.0/20"));

    // Everything taken.
    busy.push(route("192.168.0.0/16", "vpn"));
    let err = plan(&[], v4only(), &busy, &[]).unwrap_err();
    assert!(matches!(err, IpamError::PoolsExhausted { .. }));
    assert!(
        err.to_string().contains("172.17.0.0/12 split into /16"),
        "{err}"
    );

    // Dual stack: an IPv6 /64 from the ULA pool too.
    let plan4 = plan(&[], dual(), host, &[]).unwrap();
    assert_eq!(plan4.len(), 2);
    assert_eq!(plan4[1].subnet, sn("fd0c:6f6d:706f::/64"));
    assert_eq!(plan4[1].gateway, ip("fd0c:6f6d:706f::1"));

    // IPv6 only.
    let plan5 = plan(
        &[],
        NetworkOptions {
            enable_ipv4: false,
            enable_ipv6: true,
        },
        host,
        &[],
    )
    .unwrap();
    assert_eq!(plan5.len(), 1);
    assert!(!plan5[0].subnet.is_ipv4());
}

#[test]
fn explicit_config_validation_messages() {
    let host = [route("172.17.0.0/16", "docker0")];
    let ok = IpamRequest {
        subnet: Some(sn("172.28.0.0/16")),
        ip_range: Some(sn("172.28.5.0/24")),
        gateway: Some(ip("172.28.5.254")),
        aux_addresses: [("host1".to_string(), ip("172.28.1.5"))].into(),
    };
    let p = plan(std::slice::from_ref(&ok), v4only(), &host, &[]).unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].gateway, ip("172.28.5.254"));
    assert!(!p[0].automatic);

    let msg = |req: IpamRequest| plan(&[req], dual(), &host, &[]).unwrap_err().to_string();
    assert_eq!(
        msg(IpamRequest {
            gateway: Some(ip("10.0.0.1")),
            ..ok.clone()
        }),
        "network p_front: gateway 10.0.0.1 is not inside subnet 172.28.0.0/16"
    );
    assert_eq!(
        msg(IpamRequest {
            gateway: Some(ip("172.28.255.255")),
            ..ok.clone()
        }),
        "network p_front: gateway 172.28.255.255 is the network or broadcast address of subnet 172.28.0.0/16"
    );
    assert_eq!(
        msg(IpamRequest {
            ip_range: Some(sn("172.29.0.0/24")),
            ..ok.clone()
        }),
        "network p_front: ip_range 172.29.0.0/24 is not inside subnet 172.28.0.0/16"
    );
    assert_eq!(
        msg(IpamRequest {
            ip_range: Some(sn("172.0.0.0/8")),
            ..ok.clone()
        }),
        "network p_front: ip_range 172.0.0.0/8 is not inside subnet 172.28.0.0/16"
    );
    assert_eq!(
        msg(IpamRequest {
            aux_addresses: [("db".to_string(), ip("10.1.1.1"))].into(),
            ..ok.clone()
        }),
        "network p_front: aux address db=10.1.1.1 is not inside subnet 172.28.0.0/16"
    );
    assert_eq!(
        msg(IpamRequest {
            subnet: None,
            ..ok.clone()
        }),
        "network p_front: ipam.config gives gateway 172.28.5.254 without a subnet"
    );
    assert_eq!(
        msg(explicit("172.17.0.0/16")),
        "network p_front: subnet 172.17.0.0/16 overlaps route 172.17.0.0/16 dev docker0 on the host"
    );
    assert_eq!(
        msg(explicit("172.16.0.0/12")),
        "network p_front: subnet 172.16.0.0/12 overlaps route 172.17.0.0/16 dev docker0 on the host"
    );
    assert_eq!(
        msg(explicit("10.0.0.0/31")),
        "network p_front: subnet 10.0.0.0/31 is too small (it needs room for a gateway and a container)"
    );
    let other = NetworkAddrs {
        name: "q_back".into(),
        subnets: plan(&[explicit("10.5.0.0/16")], v4only(), &[], &[]).unwrap(),
        allocations: BTreeMap::new(),
    };
    assert_eq!(
        plan(&[explicit("10.5.3.0/24")], v4only(), &host, &[other])
            .unwrap_err()
            .to_string(),
        "network p_front: subnet 10.5.3.0/24 overlaps subnet 10.5.0.0/16 of network q_back"
    );
    assert_eq!(
        plan(
            &[explicit("10.6.0.0/16"), explicit("10.6.1.0/24")],
            v4only(),
            &host,
            &[]
        )
        .unwrap_err()
        .to_string(),
        "network p_front: ipam.config subnets 10.6.0.0/16 and 10.6.1.0/24 overlap"
    );
    assert_eq!(
        plan(&[explicit("fd00:9::/64")], v4only(), &host, &[])
            .unwrap_err()
            .to_string(),
        "network p_front: ipam.config has IPv6 subnet fd00:9::/64 but enable_ipv6 is not set"
    );
    // An explicit IPv4 subnet with enable_ipv6: the IPv6 one comes from the pool.
    let p = plan(&[explicit("10.7.0.0/24")], dual(), &host, &[]).unwrap();
    assert_eq!(p[0].subnet, sn("10.7.0.0/24"));
    assert!(!p[1].subnet.is_ipv4());
}
