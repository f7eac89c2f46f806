//! Which rules a network, a published port and the embedded resolver need, and the tags that
//! find them again: pure functions, no kernel involved.

use std::net::{IpAddr, Ipv4Addr};

use super::error::*;
use super::expr::*;
use crate::engine::state::PublishedPort;

/// Name of our table (family `inet`).
pub const TABLE: &str = "compose";

/// Prefix of every tag we put on rules.
pub const TAG_PREFIX: &str = "compose:";

/// A base chain of our table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Chain {
    /// Filtering before conntrack and NAT see a packet (priority `raw`).
    RawPrerouting,
    Forward,
    Prerouting,
    Output,
    Postrouting,
}

impl Chain {
    pub const ALL: [Chain; 5] = [
        Chain::RawPrerouting,
        Chain::Forward,
        Chain::Prerouting,
        Chain::Output,
        Chain::Postrouting,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Chain::RawPrerouting => "raw_prerouting",
            Chain::Forward => "forward",
            Chain::Prerouting => "prerouting",
            Chain::Output => "output",
            Chain::Postrouting => "postrouting",
        }
    }
}

/// Where a new rule goes in its chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Before every rule (drops, so no accept can shadow them).
    Head,
    /// After every rule.
    Tail,
}

/// A rule to add to our table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub chain: Chain,
    pub position: Position,
    pub exprs: Vec<Expr>,
    pub tag: String,
}

/// A rule as listed back from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedRule {
    pub family: u8,
    pub table: String,
    pub chain: String,
    pub handle: u64,
    /// Our tag (the comment in the rule's user data), if any.
    pub tag: Option<String>,
    pub exprs: Vec<Expr>,
}

/// The filtering/NAT needs of one project network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRules {
    /// The network's full name (`<project>_<name>`), used in the tag.
    pub name: String,
    /// Its bridge interface.
    pub bridge: String,
    /// Its subnets (address, prefix length); each is masqueraded unless `internal`.
    pub subnets: Vec<(IpAddr, u8)>,
    /// `internal: true`: no traffic in or out of the bridge.
    pub internal: bool,
}

pub use crate::engine::spec::Protocol;

/// One published port: `host_ip:host_port/protocol` → `container_ip:container_port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// The network (full name) the container is reached through.
    pub network: String,
    /// That network's bridge.
    pub bridge: String,
    pub protocol: Protocol,
    /// Only connections to this local address; `None` (or an unspecified address): any local
    /// address of the host, 127.0.0.1 included.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_ip: IpAddr,
    pub container_port: u16,
}

impl From<&PublishedPort> for PortMapping {
    /// The nftables form of a recorded published port.
    fn from(p: &PublishedPort) -> PortMapping {
        PortMapping {
            network: p.network.clone(),
            bridge: p.bridge.clone(),
            protocol: p.protocol,
            host_ip: p.host_ip,
            host_port: p.host_port,
            container_ip: p.container_ip,
            container_port: p.container_port,
        }
    }
}

/// Tag of the rules of the network whose bridge is `bridge`. Keyed by the bridge, not the
/// network name: the bridge name is unique on the host (it is derived from the state root too),
/// while two state roots may each have a network `proj_default`, and removing one must not take
/// the other's rules.
pub fn net_tag(bridge: &str) -> String {
    format!("{TAG_PREFIX}net:{bridge}")
}

/// Tag of the rules of a published port (keyed by the bridge, as [`net_tag`]).
pub fn port_tag(p: &PortMapping) -> String {
    port_tag_keyed(&p.bridge, p)
}

fn port_tag_keyed(key: &str, p: &PortMapping) -> String {
    let ip = match p.host_ip {
        Some(ip) if !ip.is_unspecified() => ip.to_string(),
        _ => "*".to_string(),
    };
    format!(
        "{TAG_PREFIX}port:{key}:{}:{ip}:{}",
        p.protocol.name(),
        p.host_port
    )
}

/// The tag an older version gave the rules of network `name`.
pub(super) fn old_net_tag(name: &str) -> String {
    format!("{TAG_PREFIX}net:{name}")
}

pub(super) fn port_tag_prefix(key: &str) -> String {
    format!("{TAG_PREFIX}port:{key}:")
}

/// Whether the network `name` with bridge `bridge` may have rules that versions before
/// root-derived bridge names wrote, tagged with the network name instead of the bridge. Only a
/// bridge named the old way ([`crate::engine::network::link::legacy_bridge_name`]) can: such a network keeps its
/// recorded bridge, which every state root with that network name shared anyway.
pub(super) fn legacy_network(name: &str, bridge: &str) -> bool {
    bridge == crate::engine::network::link::legacy_bridge_name(name)
}

/// The tag an older version gave a port's rules, when its network can have such rules.
pub(super) fn legacy_port_tag(p: &PortMapping) -> Option<String> {
    legacy_network(&p.network, &p.bridge).then(|| port_tag_keyed(&p.network, p))
}

/// `meta l4proto P th dport PORT`.
fn match_dport(proto: Protocol, port: u16) -> [Expr; 4] {
    [
        Expr::Meta {
            key: META_L4PROTO,
            dreg: REG_1,
        },
        Expr::Cmp {
            sreg: REG_1,
            op: CMP_EQ,
            data: vec![proto.number()],
        },
        Expr::Payload {
            base: PAYLOAD_TRANSPORT,
            offset: 2,
            len: 2,
            dreg: REG_1,
        },
        Expr::Cmp {
            sreg: REG_1,
            op: CMP_EQ,
            data: port.to_be_bytes().to_vec(),
        },
    ]
}

/// The rules of one network (see the module docs for what each one means).
pub fn network_rules(net: &NetworkRules) -> Vec<Rule> {
    let tag = net_tag(&net.bridge);
    let br = net.bridge.as_str();
    let rule = |chain, position, parts: Vec<Vec<Expr>>| Rule {
        chain,
        position,
        exprs: parts.into_iter().flatten().collect(),
        tag: tag.clone(),
    };
    // Nothing from the bridge reaches the host's loopback: `route_localnet` on the bridge would
    // deliver it (see the module docs). At `raw` priority the answers of a container to the
    // host's 127.0.0.1 connections still have the bridge address as destination (the
    // masquerade is undone later, at `dstnat`), so they pass.
    let mut rules = vec![rule(
        Chain::RawPrerouting,
        Position::Head,
        vec![
            match_ifname(META_IIFNAME, CMP_EQ, br).to_vec(),
            match_nfproto(NFPROTO_IPV4).to_vec(),
            match_addr(false, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8),
            vec![verdict(NF_DROP)],
        ],
    )];
    if net.internal {
        rules.push(rule(
            Chain::Forward,
            Position::Head,
            vec![
                match_ifname(META_IIFNAME, CMP_EQ, br).to_vec(),
                match_ifname(META_OIFNAME, CMP_NEQ, br).to_vec(),
                vec![verdict(NF_DROP)],
            ],
        ));
        rules.push(rule(
            Chain::Forward,
            Position::Head,
            vec![
                match_ifname(META_OIFNAME, CMP_EQ, br).to_vec(),
                match_ifname(META_IIFNAME, CMP_NEQ, br).to_vec(),
                vec![verdict(NF_DROP)],
            ],
        ));
        rules.push(rule(
            Chain::Forward,
            Position::Tail,
            vec![
                match_ifname(META_IIFNAME, CMP_EQ, br).to_vec(),
                match_ifname(META_OIFNAME, CMP_EQ, br).to_vec(),
                vec![verdict(NF_ACCEPT)],
            ],
        ));
        return rules;
    }
    rules.push(rule(
        Chain::Forward,
        Position::Head,
        vec![
            match_ifname(META_OIFNAME, CMP_EQ, br).to_vec(),
            match_ifname(META_IIFNAME, CMP_NEQ, br).to_vec(),
            match_ct_bits(CT_STATE, CT_STATE_NEW, CMP_NEQ).to_vec(),
            match_ct_bits(CT_STATUS, CT_STATUS_DNAT, CMP_EQ).to_vec(),
            vec![verdict(NF_DROP)],
        ],
    ));
    rules.push(rule(
        Chain::Forward,
        Position::Tail,
        vec![
            match_ifname(META_IIFNAME, CMP_EQ, br).to_vec(),
            vec![verdict(NF_ACCEPT)],
        ],
    ));
    rules.push(rule(
        Chain::Forward,
        Position::Tail,
        vec![
            match_ifname(META_OIFNAME, CMP_EQ, br).to_vec(),
            match_ct_bits(CT_STATE, CT_STATE_ESTABLISHED | CT_STATE_RELATED, CMP_NEQ).to_vec(),
            vec![verdict(NF_ACCEPT)],
        ],
    ));
    for &(ip, prefix) in &net.subnets {
        rules.push(rule(
            Chain::Postrouting,
            Position::Tail,
            vec![
                match_nfproto(family_of(ip)).to_vec(),
                match_addr(true, ip, prefix),
                match_ifname(META_OIFNAME, CMP_NEQ, br).to_vec(),
                vec![Expr::Masquerade],
            ],
        ));
        // Hairpin: a container reaching a published port of its own network through the
        // host's address. Its DNATed connection leaves through the bridge it came from; without
        // a source rewrite the server would answer the client directly (bridged, never
        // un-NATed unless br_netfilter is active), and the client would reset an answer from
        // an address it never called. (`iifname` is unknown in postrouting, hence the subnet.)
        rules.push(rule(
            Chain::Postrouting,
            Position::Tail,
            vec![
                match_nfproto(family_of(ip)).to_vec(),
                match_addr(true, ip, prefix),
                match_ifname(META_OIFNAME, CMP_EQ, br).to_vec(),
                match_ct_bits(CT_STATUS, CT_STATUS_DNAT, CMP_NEQ).to_vec(),
                vec![Expr::Masquerade],
            ],
        ));
    }
    rules
}

/// Tag of the rules that send a container's queries for the embedded resolver to its port.
pub const RESOLVER_TAG: &str = "compose:dns";

/// In a container's own network namespace: `ip daddr ADDR udp|tcp dport FROM dnat to ADDR:TO`
/// in `output`, so the container's queries for `ADDR:FROM` (`127.0.0.11:53`) reach the embedded
/// resolver listening on port `TO`, and the container's own port `FROM` stays free for its own
/// DNS server (Docker's approach). Conntrack rewrites the answers back to `FROM`.
pub fn resolver_redirect_rules(addr: Ipv4Addr, from: u16, to: u16) -> Vec<Rule> {
    [Protocol::Udp, Protocol::Tcp]
        .into_iter()
        .map(|proto| Rule {
            chain: Chain::Output,
            position: Position::Tail,
            exprs: [
                match_nfproto(NFPROTO_IPV4).to_vec(),
                match_addr(false, IpAddr::V4(addr), 32),
                match_dport(proto, from).to_vec(),
                vec![
                    Expr::Immediate {
                        dreg: REG_1,
                        data: addr.octets().to_vec(),
                    },
                    Expr::Immediate {
                        dreg: REG_2,
                        data: to.to_be_bytes().to_vec(),
                    },
                    Expr::Nat {
                        dnat: true,
                        family: u32::from(NFPROTO_IPV4),
                        reg_addr: REG_1,
                        reg_proto: REG_2,
                    },
                ],
            ]
            .concat(),
            tag: RESOLVER_TAG.to_string(),
        })
        .collect()
}

/// The rules of one published port: DNAT in `prerouting` and `output`, accept in `forward`,
/// and (IPv4) the masquerade of 127.0.0.0/8 towards the container. A port published on a
/// loopback address gets no `prerouting` DNAT (only the host's own connections may use it, and
/// those pass `output`) but a drop in `raw_prerouting` of what arrives for it on any other
/// interface.
pub fn port_rules(p: &PortMapping) -> Result<Vec<Rule>, NftError> {
    let tag = port_tag(p);
    let op = format!("rules for {tag}");
    let family = family_of(p.container_ip);
    let host_ip = p.host_ip.filter(|ip| !ip.is_unspecified());
    if let Some(h) = host_ip {
        if family_of(h) != family {
            return Err(invalid(
                &op,
                format!(
                    "host address {h} and container address {} differ in family",
                    p.container_ip
                ),
            ));
        }
    }
    let to_local = match host_ip {
        Some(h) => match_addr(false, h, if h.is_ipv4() { 32 } else { 128 }),
        None => vec![
            Expr::Fib {
                flags: FIB_F_DADDR,
                result: FIB_RESULT_ADDRTYPE,
                dreg: REG_1,
            },
            Expr::Cmp {
                sreg: REG_1,
                op: CMP_EQ,
                data: RTN_LOCAL.to_ne_bytes().to_vec(),
            },
        ],
    };
    let dnat: Vec<Expr> = [
        match_nfproto(family).to_vec(),
        match_dport(p.protocol, p.host_port).to_vec(),
        to_local,
        vec![
            Expr::Immediate {
                dreg: REG_1,
                data: ip_bytes(p.container_ip),
            },
            Expr::Immediate {
                dreg: REG_2,
                data: p.container_port.to_be_bytes().to_vec(),
            },
            Expr::Nat {
                dnat: true,
                family: u32::from(family),
                reg_addr: REG_1,
                reg_proto: REG_2,
            },
        ],
    ]
    .concat();
    let full = if p.container_ip.is_ipv4() { 32 } else { 128 };
    let to_container: Vec<Expr> = [
        match_nfproto(family).to_vec(),
        match_addr(false, p.container_ip, full),
        match_dport(p.protocol, p.container_port).to_vec(),
    ]
    .concat();
    let rule = |chain, position, exprs| Rule {
        chain,
        position,
        exprs,
        tag: tag.clone(),
    };
    let mut rules = Vec::new();
    match host_ip.filter(|h| h.is_loopback()) {
        Some(h) => rules.push(rule(
            Chain::RawPrerouting,
            Position::Head,
            [
                match_nfproto(family).to_vec(),
                match_ifname(META_IIFNAME, CMP_NEQ, "lo").to_vec(),
                match_addr(false, h, if h.is_ipv4() { 32 } else { 128 }),
                match_dport(p.protocol, p.host_port).to_vec(),
                vec![verdict(NF_DROP)],
            ]
            .concat(),
        )),
        None => rules.push(rule(Chain::Prerouting, Position::Tail, dnat.clone())),
    }
    rules.push(rule(Chain::Output, Position::Tail, dnat));
    rules.push(rule(
        Chain::Forward,
        Position::Tail,
        [
            match_ifname(META_OIFNAME, CMP_EQ, &p.bridge).to_vec(),
            to_container.clone(),
            vec![verdict(NF_ACCEPT)],
        ]
        .concat(),
    ));
    if p.container_ip.is_ipv4() {
        rules.push(rule(
            Chain::Postrouting,
            Position::Tail,
            [
                match_nfproto(NFPROTO_IPV4).to_vec(),
                match_addr(true, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8),
                to_container[2..].to_vec(),
                vec![Expr::Masquerade],
            ]
            .concat(),
        ));
    }
    Ok(rules)
}
