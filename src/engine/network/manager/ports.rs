//! Published ports: their nftables rules added, checked and withdrawn, read back from the rule
//! tags, and the host ports probed for a free one.

use std::collections::HashSet;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::Path;

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
fn socket_holds(proto: Protocol, host_ip: Option<IpAddr>, port: u16) -> Result<bool, NetworkError> {
    let specific = host_ip.filter(|ip| !ip.is_unspecified());
    let addrs: Vec<IpAddr> = match specific {
        Some(ip) => vec![ip],
        None => vec![
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        ],
    };
    for ip in addrs {
        let addr = SocketAddr::new(ip, port);
        let bound = match proto {
            Protocol::Tcp => TcpListener::bind(addr).map(drop),
            Protocol::Udp => UdpSocket::bind(addr).map(drop),
        };
        match bound {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => return Ok(true),
            // A host without IPv6: nothing can hold the IPv6 wildcard.
            Err(e)
                if specific.is_none()
                    && ip.is_ipv6()
                    && matches!(
                        e.raw_os_error(),
                        Some(libc::EAFNOSUPPORT) | Some(libc::EADDRNOTAVAIL)
                    ) => {}
            Err(source) => {
                return Err(NetworkError::HostPort {
                    addr,
                    proto: proto.name(),
                    source,
                })
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
#[path = "ports_tests.rs"]
mod tests;
