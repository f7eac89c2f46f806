//! What one container's resolver serves, where it forwards, and its limits.

use std::ffi::CString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

/// The address containers are told to use as their nameserver (as Docker's).
pub const RESOLVER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
/// The DNS port, for the listeners and for upstreams from `resolv.conf`.
pub const DNS_PORT: u16 = 53;
/// TTL of our own answers: long enough for caching clients, short enough that a recreated
/// container's new address is picked up within minutes (Docker uses 600 s too).
pub const TTL: u32 = 600;
/// How long a forwarded query may wait for upstream answers, all upstreams together, before the
/// client gets SERVFAIL (glibc's default per-try timeout, so a retrying client is not left
/// without an answer).
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a TCP connection may take to deliver its query.
pub const TCP_IDLE: Duration = Duration::from_secs(5);
/// Most TCP connections open at once; more are accepted and closed at once.
pub const MAX_TCP_CONNS: usize = 16;
/// Most forwarded queries waiting at once; more are answered SERVFAIL.
pub const MAX_PENDING: usize = 256;
/// Longest query accepted over TCP (real queries are well under 512 bytes).
pub(super) const MAX_TCP_QUERY: usize = 4096;
/// Most datagrams or connections handled per wake-up, so one busy socket cannot starve the
/// rest of the monitor's poll loop.
pub(super) const MAX_PER_WAKE: usize = 64;
/// Size of the scratch buffer: the largest possible UDP payload.
pub(super) const SCRATCH: usize = 65535;
/// Our answers over UDP never exceed this, whatever EDNS size the client offers (RFC 6891's
/// recommended maximum is about a fragment-free 1232, but our answers are local).
pub(super) const MAX_UDP_ANSWER: usize = 4096;
/// Length of the DNS header.
pub(super) const HEADER_LEN: usize = 12;

/// Host resolvers from a resolv.conf text: nameserver lines -> SocketAddr port 53.
///
/// IPv6 addresses with a zone (`fe80::1%eth0`) keep it as scope id; lines that do not parse
/// are skipped, as the C library does. Duplicates are dropped.
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(value) = words.next() else { continue };
        let addr = match value.split_once('%') {
            None => value
                .parse::<IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, DNS_PORT)),
            Some((ip, zone)) => ip.parse::<Ipv6Addr>().ok().and_then(|ip| {
                scope_id(zone).map(|s| SocketAddr::V6(SocketAddrV6::new(ip, DNS_PORT, 0, s)))
            }),
        };
        if let Some(a) = addr {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// An IPv6 zone: an interface index, or a name resolved in the caller's namespace.
pub(super) fn scope_id(zone: &str) -> Option<u32> {
    if let Ok(n) = zone.parse::<u32>() {
        return Some(n);
    }
    let name = CString::new(zone).ok()?;
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

/// What one container's resolver serves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolverConfig {
    /// The networks the container is on: names published on any of them resolve.
    pub networks: Vec<String>,
    /// Compose `links` aliases, as (alias, target name): the alias resolves as the target.
    pub links: Vec<(String, String)>,
    /// Where other names are forwarded, in order of preference (see
    /// [`upstreams_from_resolv_conf`]).
    pub upstreams: Vec<SocketAddr>,
}
