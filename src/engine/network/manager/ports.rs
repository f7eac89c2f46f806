//! Published ports: their nftables rules added, checked and withdrawn, read back from the rule
//! tags, and the host ports probed for a free one.

use std::collections::HashSet;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

use super::error::{check_name, io_err, nft_err, NetworkError};
use super::Networks;
use crate::engine::network::nft::{self, PortMapping, Protocol};

/// A published port as read back from its rule tag (see [`nft::port_tag`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PublishedPort {
    /// The key of the tag: the network's bridge (rules of older versions: the network name).
    pub network: String,
    pub protocol: Protocol,
    /// `None`: every local address.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
}

impl PublishedPort {
    /// Whether a mapping on `host_ip:port/proto` would collide with this one (same protocol
    /// and port, and one of the two addresses includes the other).
    fn collides(&self, proto: Protocol, host_ip: Option<IpAddr>, port: u16) -> bool {
        self.protocol == proto && self.host_port == port && addresses_overlap(self.host_ip, host_ip)
    }
}

/// Whether two host addresses of published ports overlap: equal, or one of them every local
/// address (`None` or the unspecified address).
pub fn addresses_overlap(a: Option<IpAddr>, b: Option<IpAddr>) -> bool {
    let any = |ip: Option<IpAddr>| ip.is_none_or(|i| i.is_unspecified());
    any(a) || any(b) || a == b
}

/// Parses `compose:port:BRIDGE:PROTO:IP:PORT` (IP is `*` or an address, IPv6 ones contain
/// colons, bridge and network names never do; older versions wrote the network name).
pub fn parse_port_tag(tag: &str) -> Option<PublishedPort> {
    let rest = tag.strip_prefix(nft::TAG_PREFIX)?.strip_prefix("port:")?;
    let (network, rest) = rest.split_once(':')?;
    let (proto, rest) = rest.split_once(':')?;
    let (ip, port) = rest.rsplit_once(':')?;
    let protocol = match proto {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        _ => return None,
    };
    let host_ip = match ip {
        "*" => None,
        ip => Some(ip.parse().ok()?),
    };
    Some(PublishedPort {
        network: network.to_string(),
        protocol,
        host_ip,
        host_port: port.parse().ok()?,
    })
}

impl Networks {
    /// Publishes a port (DNAT and friends, see [`nft`]); replaces an earlier identical mapping.
    pub fn publish(&self, p: &PortMapping) -> Result<(), NetworkError> {
        check_name(&p.network)?;
        if (self.with_repair(&p.network, false, || self.ipam.get(&p.network))?).is_none() {
            return Err(NetworkError::NotFound(p.network.clone()));
        }
        self.nft()?
            .add_port(p)
            .map_err(nft_err(format!("publishing {}", nft::port_tag(p))))
    }

    /// Publishes a port of a container that keeps running unless its rules are already in place
    /// as this version writes them: put back after an `nft flush`, and rewritten when an older
    /// version wrote them otherwise (a port on 127.0.0.1 had a DNAT in `prerouting` that took
    /// packets from other interfaces). One rule listing; nothing written when all is there.
    pub fn ensure_published(&self, p: &PortMapping) -> Result<(), NetworkError> {
        let mut nft = self.nft()?;
        let listed = nft
            .list_rules()
            .map_err(nft_err(format!("listing rules of {}", nft::port_tag(p))))?;
        let want =
            nft::port_rules(p).map_err(nft_err(format!("rules for {}", nft::port_tag(p))))?;
        if tagged_rules_present(&listed, &nft::port_tag(p), &want) {
            return Ok(());
        }
        drop(nft);
        self.publish(p)
    }

    /// Withdraws a published port; one that is not published is fine.
    pub fn unpublish(&self, p: &PortMapping) -> Result<(), NetworkError> {
        self.nft()?
            .remove_port(p)
            .map_err(nft_err(format!("unpublishing {}", nft::port_tag(p))))
            .map(|_| ())
    }

    /// Every port we publish (of any state root), read back from the rule tags.
    pub fn published(&self) -> Result<Vec<PublishedPort>, NetworkError> {
        let rules = self
            .nft()?
            .list_rules()
            .map_err(nft_err("listing published ports"))?;
        let mut seen = HashSet::new();
        Ok(rules
            .iter()
            .filter_map(|r| r.tag.as_deref().and_then(parse_port_tag))
            .filter(|p| seen.insert(p.clone()))
            .collect())
    }

    /// A random port of the ephemeral range that no socket holds, we do not publish and
    /// `taken` does not list (for `ports: ["80"]` without a host port).
    pub fn free_host_port(
        &self,
        proto: Protocol,
        host_ip: Option<IpAddr>,
        taken: &[u16],
    ) -> Result<u16, NetworkError> {
        let published = self.published()?;
        let busy: HashSet<u16> = taken
            .iter()
            .copied()
            .chain(
                published
                    .iter()
                    .filter(|p| p.collides(proto, host_ip, p.host_port))
                    .map(|p| p.host_port),
            )
            .collect();
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        self.in_ns(|| -> Result<u16, NetworkError> {
            let (low, high) = ephemeral_range()?;
            let span = u64::from(high - low) + 1;
            let start = seed % span;
            for i in 0..span {
                let port = low + ((start + i) % span) as u16;
                if !busy.contains(&port) && !socket_holds(proto, host_ip, port)? {
                    return Ok(port);
                }
            }
            Err(NetworkError::NoFreePort {
                proto: proto.name(),
                low,
                high,
            })
        })
        .map_err(|source| NetworkError::Netns {
            step: "entering the network namespace to probe ports".into(),
            source,
        })?
    }

    /// Whether `host_ip:port/proto` is bound by a socket or published by us.
    pub fn host_port_in_use(
        &self,
        proto: Protocol,
        host_ip: Option<IpAddr>,
        port: u16,
    ) -> Result<bool, NetworkError> {
        if self
            .published()?
            .iter()
            .any(|p| p.collides(proto, host_ip, port))
        {
            return Ok(true);
        }
        self.in_ns(|| socket_holds(proto, host_ip, port))
            .map_err(|source| NetworkError::Netns {
                step: "entering the network namespace to probe ports".into(),
                source,
            })?
    }
}

/// Whether the rules tagged `tag` in `listed` are exactly `want` (same chains, same
/// expressions), none missing and none more.
pub(super) fn tagged_rules_present(
    listed: &[nft::ListedRule],
    tag: &str,
    want: &[nft::Rule],
) -> bool {
    let have: Vec<&nft::ListedRule> = listed
        .iter()
        .filter(|r| r.tag.as_deref() == Some(tag))
        .collect();
    have.len() == want.len()
        && want.iter().all(|w| {
            have.iter()
                .any(|h| h.chain == w.chain.name() && h.exprs == w.exprs)
        })
}

/// The calling thread's namespace's `net.ipv4.ip_local_port_range`.
fn ephemeral_range() -> Result<(u16, u16), NetworkError> {
    let path = Path::new("/proc/sys/net/ipv4/ip_local_port_range");
    let text = fs::read_to_string(path).map_err(io_err("reading", path))?;
    let mut it = text.split_whitespace().map(str::parse::<u16>);
    match (it.next(), it.next()) {
        (Some(Ok(low)), Some(Ok(high))) if low >= 1 && low <= high => Ok((low, high)),
        _ => Err(io_err("parsing", path)(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected content {:?}", text.trim()),
        ))),
    }
}

/// Whether a socket of the calling thread's namespace holds `host_ip:port/proto`, found by
/// trying to bind it (on both wildcard addresses when `host_ip` is none).
///
/// The two wildcard probes are held open together, the IPv6 one `IPV6_V6ONLY`, so that they
/// never collide with each other. Another thread of this process may fork while a probe is
/// open (`up` launches one service's monitor while it probes another service's ports), and
/// the child keeps its copy of the socket until it executes: a dual-stack `[::]` bound after
/// the `0.0.0.0` probe was closed would find that copy and call a free port taken (the soak's
/// "port is already allocated", issue 16). Together they still see every holder: `0.0.0.0`
/// collides with any IPv4 socket and any dual-stack `[::]` one, the `IPV6_V6ONLY` `[::]` with
/// any IPv6 one.
fn socket_holds(proto: Protocol, host_ip: Option<IpAddr>, port: u16) -> Result<bool, NetworkError> {
    socket_holds_with(proto, host_ip, port, &mut probe_bind)
}

/// How [`socket_holds`] binds one address (`v6only` for the IPv6 wildcard): [`probe_bind`];
/// a test wraps it to keep a copy of every socket, as a child forked meanwhile would.
type ProbeBind<'a> = &'a mut dyn FnMut(Protocol, SocketAddr, bool) -> Result<OwnedFd, Errno>;

/// [`socket_holds`] with its binds done by `bind`.
fn socket_holds_with(
    proto: Protocol,
    host_ip: Option<IpAddr>,
    port: u16,
    bind: ProbeBind<'_>,
) -> Result<bool, NetworkError> {
    let specific = host_ip.filter(|ip| !ip.is_unspecified());
    let addrs: Vec<IpAddr> = match specific {
        Some(ip) => vec![ip],
        None => vec![
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        ],
    };
    // Closed together when the probe is over, never one before the other is bound.
    let mut held: Vec<OwnedFd> = Vec::with_capacity(addrs.len());
    for ip in addrs {
        let addr = SocketAddr::new(ip, port);
        match bind(proto, addr, specific.is_none()) {
            Ok(fd) => held.push(fd),
            Err(Errno::ADDRINUSE) => return Ok(true),
            // A host without IPv6: nothing can hold the IPv6 wildcard.
            Err(Errno::AFNOSUPPORT | Errno::ADDRNOTAVAIL) if specific.is_none() && ip.is_ipv6() => {
            }
            Err(e) => {
                return Err(NetworkError::HostPort {
                    addr,
                    proto: proto.name(),
                    source: e.into(),
                })
            }
        }
    }
    Ok(false)
}

/// A close-on-exec socket bound to `addr` (and listening, for TCP), as a server would bind
/// it; `v6only` makes an IPv6 wildcard leave IPv4 to the `0.0.0.0` probe.
fn probe_bind(proto: Protocol, addr: SocketAddr, v6only: bool) -> Result<OwnedFd, Errno> {
    let (family, kind) = (
        if addr.is_ipv6() {
            AddressFamily::INET6
        } else {
            AddressFamily::INET
        },
        match proto {
            Protocol::Tcp => SocketType::STREAM,
            Protocol::Udp => SocketType::DGRAM,
        },
    );
    let fd = rustix::net::socket_with(family, kind, SocketFlags::CLOEXEC, None)?;
    if v6only && addr.is_ipv6() {
        rustix::net::sockopt::set_ipv6_v6only(&fd, true)?;
    }
    // As a TCP server binds (and std's `TcpListener` did here): the TIME_WAIT of connections
    // that are over holds no port.
    if proto == Protocol::Tcp {
        rustix::net::sockopt::set_socket_reuseaddr(&fd, true)?;
    }
    rustix::net::bind(&fd, &addr)?;
    if proto == Protocol::Tcp {
        rustix::net::listen(&fd, 128)?;
    }
    Ok(fd)
}

#[cfg(test)]
#[path = "ports_tests.rs"]
mod tests;
