//! Shorthands the IPAM unit tests share.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::*;

pub(super) fn sn(s: &str) -> Subnet {
    Subnet::parse_exact(s).unwrap()
}

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub(super) fn route(s: &str, dev: &str) -> HostPrefix {
    HostPrefix {
        subnet: sn(s),
        origin: format!("route {s} dev {dev}"),
    }
}

pub(super) fn net_with(subnets: Vec<SubnetAddrs>) -> NetworkAddrs {
    NetworkAddrs {
        name: "p_default".into(),
        subnets,
        allocations: BTreeMap::new(),
    }
}

pub(super) fn explicit(subnet: &str) -> IpamRequest {
    IpamRequest {
        subnet: Some(sn(subnet)),
        ..Default::default()
    }
}

pub(super) fn plan(
    configs: &[IpamRequest],
    options: NetworkOptions,
    host: &[HostPrefix],
    others: &[NetworkAddrs],
) -> Result<Vec<SubnetAddrs>, IpamError> {
    plan_network(
        "p_front",
        configs,
        options,
        &IpamPools::default(),
        host,
        others,
    )
}

pub(super) fn v4only() -> NetworkOptions {
    NetworkOptions::default()
}

pub(super) fn dual() -> NetworkOptions {
    NetworkOptions {
        enable_ipv4: true,
        enable_ipv6: true,
    }
}
