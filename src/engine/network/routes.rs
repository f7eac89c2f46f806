//! The prefixes in use on the host, read over rtnetlink (RTM_GETROUTE, RTM_GETADDR and
//! RTM_GETLINK dumps; never by running `ip`), so that IPAM picks subnets nobody routes yet.
//!
//! What counts as "in use":
//! - every IPv4/IPv6 route of every table except `local` (255), of the types that claim a
//!   destination (unicast, blackhole, unreachable, prohibit), except default routes (a /0
//!   overlaps everything and says nothing about the on-link networks) and cloned/cache entries.
//!   The `local` table only holds the host's own addresses and broadcast addresses, which the
//!   address dump reports with their real prefix length;
//! - the prefix of every address on every interface (`127.0.0.1/8` on lo gives `127.0.0.0/8`,
//!   an address on a point-to-point link gives its peer's prefix and itself as a /32).
//!
//! Netlink sockets belong to the network namespace of the thread that creates them, so all of
//! this describes the calling thread's namespace.

use std::collections::HashMap;
use std::net::IpAddr;

use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use thiserror::Error;

use super::ipam::{HostPrefix, Subnet};
use super::link::{Netlink, NetlinkError};

/// A netlink exchange that failed: which step, and the error (the errno in most cases).
#[derive(Debug, Error)]
pub enum RoutesError {
    #[error("rtnetlink {step}: {source}")]
    Netlink {
        step: &'static str,
        #[source]
        source: NetlinkError,
    },
}

const RT_TABLE_LOCAL: u32 = 255;

fn io_err(step: &'static str) -> impl Fn(NetlinkError) -> RoutesError {
    move |source| RoutesError::Netlink { step, source }
}

fn link_names(nl: &mut Netlink) -> Result<HashMap<u32, String>, RoutesError> {
    let mut names = HashMap::new();
    for msg in nl
        .dump(
            || RouteNetlinkMessage::GetLink(LinkMessage::default()),
            "link dump",
        )
        .map_err(io_err("link dump"))?
    {
        if let RouteNetlinkMessage::NewLink(link) = msg {
            for attr in link.attributes {
                if let LinkAttribute::IfName(name) = attr {
                    names.insert(link.header.index, name);
                }
            }
        }
    }
    Ok(names)
}

fn route_ip(addr: &RouteAddress) -> Option<IpAddr> {
    match addr {
        RouteAddress::Inet(a) => Some(IpAddr::V4(*a)),
        RouteAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

/// The prefix a route claims, with a description, when it counts (see the module docs).
fn route_prefix(route: &RouteMessage, names: &HashMap<u32, String>) -> Option<HostPrefix> {
    let h = &route.header;
    if !matches!(h.address_family, AddressFamily::Inet | AddressFamily::Inet6) {
        return None;
    }
    if !matches!(
        h.kind,
        RouteType::Unicast | RouteType::BlackHole | RouteType::Unreachable | RouteType::Prohibit
    ) {
        return None;
    }
    if h.destination_prefix_length == 0 || h.flags.contains(RouteFlags::Cloned) {
        return None;
    }
    let mut table = u32::from(h.table);
    let mut dst = None;
    let mut dev = None;
    for attr in &route.attributes {
        match attr {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Destination(d) => dst = route_ip(d),
            RouteAttribute::Oif(i) => dev = Some(*i),
            _ => {}
        }
    }
    if table == RT_TABLE_LOCAL {
        return None;
    }
    let subnet = Subnet::new(dst?, h.destination_prefix_length).ok()?;
    let mut origin = match h.kind {
        RouteType::BlackHole => format!("route blackhole {subnet}"),
        RouteType::Unreachable => format!("route unreachable {subnet}"),
        RouteType::Prohibit => format!("route prohibit {subnet}"),
        _ => format!("route {subnet}"),
    };
    if let Some(i) = dev {
        match names.get(&i) {
            Some(n) => origin.push_str(&format!(" dev {n}")),
            None => origin.push_str(&format!(" dev #{i}")),
        }
    }
    if table != u32::from(RouteHeader::RT_TABLE_MAIN) {
        origin.push_str(&format!(" table {table}"));
    }
    Some(HostPrefix { subnet, origin })
}

/// The prefixes an interface address claims (see the module docs).
fn address_prefixes(addr: &AddressMessage, names: &HashMap<u32, String>) -> Vec<HostPrefix> {
    let h = &addr.header;
    let mut local = None;
    let mut address = None;
    for attr in &addr.attributes {
        match attr {
            AddressAttribute::Local(a) => local = Some(*a),
            AddressAttribute::Address(a) => address = Some(*a),
            _ => {}
        }
    }
    let dev = names
        .get(&h.index)
        .cloned()
        .unwrap_or_else(|| format!("#{}", h.index));
    let mut out = Vec::new();
    let mut push = |ip: IpAddr, prefix: u8| {
        if let Ok(subnet) = Subnet::new(ip, prefix) {
            out.push(HostPrefix {
                subnet,
                origin: format!("address {ip}/{prefix} on {dev}"),
            });
        }
    };
    match (local, address) {
        // Point-to-point: IFA_ADDRESS is the peer and carries the prefix.
        (Some(l), Some(a)) if l != a => {
            push(a, h.prefix_len);
            push(l, if l.is_ipv4() { 32 } else { 128 });
        }
        (Some(ip), _) | (None, Some(ip)) => push(ip, h.prefix_len),
        (None, None) => {}
    }
    out
}

/// Every prefix in use in the calling thread's network namespace: routes (all tables but
/// `local`) and interface addresses, IPv4 and IPv6, deduplicated by (prefix, origin).
pub fn host_prefixes() -> Result<Vec<HostPrefix>, RoutesError> {
    let mut nl = Netlink::new().map_err(io_err("open"))?;
    let names = link_names(&mut nl)?;
    let mut out: Vec<HostPrefix> = Vec::new();
    let route_req = || {
        let mut r = RouteMessage::default();
        r.header.address_family = AddressFamily::Unspec;
        RouteNetlinkMessage::GetRoute(r)
    };
    for msg in nl
        .dump(route_req, "route dump")
        .map_err(io_err("route dump"))?
    {
        if let RouteNetlinkMessage::NewRoute(r) = msg {
            out.extend(route_prefix(&r, &names));
        }
    }
    for msg in nl
        .dump(
            || RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            "address dump",
        )
        .map_err(io_err("address dump"))?
    {
        if let RouteNetlinkMessage::NewAddress(a) = msg {
            out.extend(address_prefixes(&a, &names));
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(p.clone()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::network::ipam::{IpamPools, IpamRequest, IpamStore, NetworkOptions, Pool};
    use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
    use netlink_packet_route::address::AddressHeader;
    use netlink_packet_route::route::{RouteProtocol, RouteScope};
    use std::net::Ipv4Addr;

    fn netns_inode() -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/thread-self/ns/net")
            .expect("stat /proc/thread-self/ns/net")
            .ino()
    }

    /// Runs `f` on a fresh thread that first moves into a new, empty network namespace; the
    /// namespace dies with the thread, and the host's namespace is never modified.
    fn in_new_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(move || {
            let before = netns_inode();
            // SAFETY: only the network namespace is unshared, which affects no fd tables or
            // memory other threads rely on.
            unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }
                .expect("unshare(CLONE_NEWNET)");
            assert_ne!(
                before,
                netns_inode(),
                "still in the host's network namespace"
            );
            f()
        })
        .join()
        .expect("netns thread panicked")
    }

    fn add_v4(rtnl: &mut Netlink, ip: Ipv4Addr, prefix: u8, index: u32) {
        let mut msg = AddressMessage::default();
        msg.header = AddressHeader {
            family: AddressFamily::Inet,
            prefix_len: prefix,
            index,
            ..msg.header
        };
        msg.attributes.push(AddressAttribute::Local(ip.into()));
        msg.attributes.push(AddressAttribute::Address(ip.into()));
        rtnl.ack(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            "add address",
        )
        .expect("RTM_NEWADDR");
    }

    fn add_route(rtnl: &mut Netlink, dst: Ipv4Addr, prefix: u8, kind: RouteType, oif: Option<u32>) {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        msg.header.destination_prefix_length = prefix;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Static;
        msg.header.scope = if oif.is_some() {
            RouteScope::Link
        } else {
            RouteScope::Universe
        };
        msg.header.kind = kind;
        msg.attributes
            .push(RouteAttribute::Destination(RouteAddress::Inet(dst)));
        if let Some(i) = oif {
            msg.attributes.push(RouteAttribute::Oif(i));
        }
        rtnl.ack(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            "add route",
        )
        .expect("RTM_NEWROUTE");
    }

    #[test]
    #[ignore = "needs root"]
    fn dump_in_a_new_netns_sees_our_prefixes() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root to create a network namespace");
            return;
        }
        let (empty, prefixes) = in_new_netns(|| {
            let empty = host_prefixes().expect("dump of an empty namespace");
            crate::engine::runtime::net::loopback_up().expect("lo up");
            let mut rtnl = Netlink::new().unwrap();
            add_v4(&mut rtnl, Ipv4Addr::new(10, 123, 0, 1), 24, 1);
            add_route(
                &mut rtnl,
                Ipv4Addr::new(10, 124, 0, 0),
                16,
                RouteType::BlackHole,
                None,
            );
            add_route(
                &mut rtnl,
                Ipv4Addr::new(10, 126, 5, 0),
                24,
                RouteType::Unicast,
                Some(1),
            );
            // A second exchange on the same socket must not see the first's replies.
            add_v4(&mut rtnl, Ipv4Addr::new(10, 125, 7, 1), 32, 1);
            (empty, host_prefixes().expect("dump"))
        });
        // lo is down and has no address in a new namespace: nothing is in use.
        assert!(empty.is_empty(), "{empty:?}");

        let show: Vec<String> = prefixes
            .iter()
            .map(|p| format!("{} <- {}", p.subnet, p.origin))
            .collect();
        let has = |subnet: &str, origin: &str| {
            prefixes
                .iter()
                .any(|p| p.subnet.to_string() == subnet && p.origin == origin)
        };
        assert!(has("127.0.0.0/8", "address 127.0.0.1/8 on lo"), "{show:#?}");
        assert!(
            has("10.123.0.0/24", "address 10.123.0.1/24 on lo"),
            "{show:#?}"
        );
        // A unicast route in the main table. (The kernel puts the prefix route of an address
        // on lo into the local table, so 10.123.0.0/24 comes from the address alone.)
        assert!(
            has("10.126.5.0/24", "route 10.126.5.0/24 dev lo"),
            "{show:#?}"
        );
        assert!(
            has("10.124.0.0/16", "route blackhole 10.124.0.0/16"),
            "{show:#?}"
        );
        assert!(
            has("10.125.7.1/32", "address 10.125.7.1/32 on lo"),
            "{show:#?}"
        );
        // Nothing from the local table (host routes for our own addresses, broadcasts).
        assert!(
            !prefixes
                .iter()
                .any(|p| p.origin.starts_with("route") && p.subnet.to_string() == "10.123.0.1/32"),
            "{show:#?}"
        );
        assert!(
            !prefixes
                .iter()
                .any(|p| p.origin.starts_with("route") && p.subnet.to_string() == "10.123.0.255/32"),
            "{show:#?}"
        );

        // The pool skips what the namespace uses, and an explicit subnet there is refused.
        let pool = Pool::new("10.123.0.0/13", 16).unwrap();
        let taken: Vec<Subnet> = prefixes.iter().map(|p| p.subnet).collect();
        assert_eq!(
            pool.first_free(&taken).map(|s| s.to_string()),
            Some("10.127.0.0/16".into())
        );
        let dir = tempfile::Builder::new()
            .prefix("compose-test-routes-")
            .tempdir()
            .unwrap();
        let store = IpamStore::with_pools(
            dir.path(),
            IpamPools {
                v4: vec![pool],
                v6: vec![],
            },
        )
        .unwrap();
        let net = store
            .create_network("t_default", &[], NetworkOptions::default(), &prefixes)
            .unwrap();
        assert_eq!(net.subnets[0].subnet.to_string(), "10.127.0.0/16");
        let err = store
            .create_network(
                "t_other",
                &[IpamRequest {
                    subnet: Some("10.123.0.0/16".parse().unwrap()),
                    ..Default::default()
                }],
                NetworkOptions::default(),
                &prefixes,
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("network t_other: subnet 10.123.0.0/16 overlaps ")
                && err.contains("10.123.0.")
                && err.ends_with(" on the host"),
            "{err}"
        );
    }

    #[test]
    fn host_dump_reads_without_error() {
        // Reading the real namespace is harmless and needs no privilege.
        let prefixes = host_prefixes().expect("dump of the current namespace");
        for p in &prefixes {
            eprintln!("{} <- {}", p.subnet, p.origin);
        }
        assert!(prefixes.iter().all(|p| p.subnet.prefix_len() > 0));
    }
}
