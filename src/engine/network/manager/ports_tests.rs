use std::net::{IpAddr, Ipv4Addr};

use super::tagged_rules_present;
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
