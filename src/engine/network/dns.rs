//! The embedded DNS resolver that gives containers service discovery, as Docker's `127.0.0.11`
//! does: a container asks `127.0.0.11:53` for `web` and gets the addresses of every container
//! that publishes `web` on one of its networks; every other name goes to the host's resolvers.
//!
//! Why it looks like this:
//! - **One resolver per container, inside its monitor.** There is no daemon, and a resolver per
//!   project or per network would have to be started by the first container, outlive it if
//!   others remain, and be found again by later `compose` processes. Each container already has
//!   a small single-threaded monitor process (poll loop, no async runtime, memory budget under
//!   1 MiB) that lives exactly as long as the container, so the resolver is a few more fds in
//!   that poll loop ([`Resolver::poll_fds`], [`Resolver::handle_ready`],
//!   [`Resolver::next_timeout`], [`Resolver::expire`]): no extra process, no start-up latency,
//!   and it can never serve a container that is gone. Memory is bounded: one 64 KiB scratch
//!   buffer, at most [`MAX_TCP_CONNS`] TCP connections of at most 4 KiB each, and at most
//!   [`MAX_PENDING`] forwarded queries.
//! - **Two namespaces.** The listening sockets (UDP and TCP on `127.0.0.11:53`) are created in
//!   the container's network namespace (a socket stays in the namespace it was created in,
//!   whichever thread uses it later), with `IP_FREEBIND` so the bind works even before the
//!   container's loopback is up. The sockets that forward unknown names upstream are created in
//!   the monitor's own (host) namespace, so host-only resolvers such as systemd-resolved's
//!   `127.0.0.53` keep working, and no route from the container to them is needed.
//! - **Name data on disk, read per query.** Each container's names and addresses on a network
//!   are one small JSON file, `<dns dir>/<network>/<container-id>`, replaced atomically
//!   ([`EndpointStore`]). Every resolver reads the files of its networks on each query (a handful
//!   of small files, in the page cache), so a container that joins or leaves later is seen at
//!   once by every other container without signalling or restarting anyone, and there is no
//!   in-memory copy that can go stale. Rewriting `/etc/hosts` in every container instead would
//!   race with programs reading it and would not round-robin.
//! - **Answers.** A/AAAA for a name published on any of the container's networks are answered
//!   here (authoritative, TTL [`TTL`]) with all addresses of that family, rotated per query
//!   (round-robin, like Docker). A name that is ours but has no address of the asked family (or
//!   is asked for another type) gets NOERROR with no answers and is never forwarded, so internal
//!   names do not leak to, or get shadowed by, upstream resolvers. `links` aliases resolve as
//!   their target. PTR queries for our addresses answer the publishing container's first name.
//!   Everything else is relayed to the upstreams unchanged except for the query id (rewritten
//!   to a random free id, and restored in the answer; answers are accepted only from a
//!   configured upstream and only for the same question), trying the next upstream when one
//!   does not answer in its share of the [`FORWARD_TIMEOUT`]; when all fail, or there are no
//!   upstreams, the client gets SERVFAIL.
//! - **TCP** (clients retry there after a truncated answer): one 2-byte-length-prefixed query per
//!   connection, answered like a UDP one (forwarded over UDP), then the connection is closed.
//!   Connections that stay idle for [`TCP_IDLE`] are closed. The answer is written with one
//!   non-blocking write; an answer that does not fit the socket's send buffer (tens of KiB on a
//!   fresh connection) is dropped with the connection, which only a huge forwarded answer can hit.
//!
//! - **Port 53 stays the container's.** The listeners take a random port of `127.0.0.11`, and a
//!   DNAT rule in the container's own namespace (nftables `output`, see
//!   [`crate::engine::network::nft::resolver_redirect_rules`]) sends `127.0.0.11:53` there, as
//!   Docker does: a container that runs a DNS server on `0.0.0.0:53` binds it, and its queries to
//!   `127.0.0.11` are still answered here.
//!
//! Known limits: forwarded answers truncated by an upstream (TC) are relayed as is.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs;
use std::io::{self, Read, Write};
use std::mem;
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener, TcpStream,
    UdpSocket,
};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::engine::fsutil::write_atomic;
use crate::engine::network::link::in_netns;
use crate::engine::network::nft::{Nft, NftError};

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
const MAX_TCP_QUERY: usize = 4096;
/// Most datagrams or connections handled per wake-up, so one busy socket cannot starve the
/// rest of the monitor's poll loop.
const MAX_PER_WAKE: usize = 64;
/// Size of the scratch buffer: the largest possible UDP payload.
const SCRATCH: usize = 65535;
/// Our answers over UDP never exceed this, whatever EDNS size the client offers (RFC 6891's
/// recommended maximum is about a fragment-free 1232, but our answers are local).
const MAX_UDP_ANSWER: usize = 4096;
/// Length of the DNS header.
const HEADER_LEN: usize = 12;

/// Why a DNS store or resolver operation failed, with what it was working on. Carried inside
/// the [`io::Error`]s of this module (same [`io::ErrorKind`] as the cause).
#[derive(Debug, Error)]
pub enum DnsError {
    /// A network name or container id that cannot be a file name in the store.
    #[error("dns: invalid {what} {value:?}: {reason}")]
    InvalidName {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
    /// Reading or writing the endpoint store failed.
    #[error("dns: {op} {}: {source}", path.display())]
    Store {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Creating or binding a socket failed.
    #[error("dns: {op}: {source}")]
    Socket {
        op: String,
        #[source]
        source: io::Error,
    },
    /// The rule sending the resolver's address to its listener's port could not be installed.
    #[error("dns: redirect {RESOLVER_IP}:{DNS_PORT} to port {port}: {source}")]
    Redirect {
        port: u16,
        #[source]
        source: NftError,
    },
}

impl From<DnsError> for io::Error {
    fn from(e: DnsError) -> io::Error {
        let kind = match &e {
            DnsError::InvalidName { .. } => io::ErrorKind::InvalidInput,
            DnsError::Store { source, .. } | DnsError::Socket { source, .. } => source.kind(),
            DnsError::Redirect { .. } => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

fn store_err(op: &'static str, path: &Path, source: io::Error) -> io::Error {
    DnsError::Store {
        op,
        path: path.to_path_buf(),
        source,
    }
    .into()
}

fn socket_err(op: impl Into<String>, source: io::Error) -> io::Error {
    DnsError::Socket {
        op: op.into(),
        source,
    }
    .into()
}

// ---------------------------------------------------------------------------------------------
// Endpoint store
// ---------------------------------------------------------------------------------------------

/// What one container publishes on one network: the names it answers to (container name,
/// service name, aliases) and its addresses there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsEntry {
    pub names: Vec<String>,
    pub addresses: Vec<IpAddr>,
}

/// The published names of all containers, as files `<dir>/<network>/<container-id>`.
///
/// Files are replaced atomically, so a reader sees a container's old or new entry, never a mix;
/// files that cannot be read or parsed are skipped rather than failing every lookup.
#[derive(Debug, Clone)]
pub struct EndpointStore {
    dir: PathBuf,
}

/// Refuses what cannot be one plain file name; a leading `.` is reserved for the temporary
/// files of atomic writes, which readers skip.
fn check_component(what: &'static str, value: &str) -> io::Result<()> {
    let reason = if value.is_empty() {
        "empty"
    } else if value.starts_with('.') {
        "starts with '.'"
    } else if value.contains('/') || value.contains('\0') {
        "contains '/' or NUL"
    } else if value.len() > 255 {
        "longer than 255 bytes"
    } else {
        return Ok(());
    };
    Err(DnsError::InvalidName {
        what,
        value: value.to_string(),
        reason,
    }
    .into())
}

/// The form names are compared in: ASCII lower case, without the root's trailing dot.
fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

impl EndpointStore {
    /// A store kept under `dir` (the state root's `dns` folder); nothing is created until the
    /// first [`EndpointStore::publish`].
    pub fn new(dir: &Path) -> EndpointStore {
        EndpointStore {
            dir: dir.to_path_buf(),
        }
    }

    /// The folder the store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn network_dir(&self, network: &str) -> io::Result<PathBuf> {
        check_component("network name", network)?;
        Ok(self.dir.join(network))
    }

    /// Makes `entry` the names and addresses of `container_id` on `network`, replacing what it
    /// published there before. Every resolver serving `network` sees it from its next query.
    pub fn publish(&self, network: &str, container_id: &str, entry: &DnsEntry) -> io::Result<()> {
        let dir = self.network_dir(network)?;
        check_component("container id", container_id)?;
        crate::engine::root::private_dir(&dir).map_err(|e| store_err("create", &dir, e))?;
        let path = dir.join(container_id);
        let data = serde_json::to_vec(entry).map_err(io::Error::from)?;
        write_atomic(&path, &data).map_err(|e| store_err("write", &path, e))
    }

    /// Removes what `container_id` published on `network`; nothing published is fine.
    pub fn withdraw(&self, network: &str, container_id: &str) -> io::Result<()> {
        let dir = self.network_dir(network)?;
        check_component("container id", container_id)?;
        let path = dir.join(container_id);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(store_err("remove", &path, e)),
            _ => Ok(()),
        }
    }

    /// Removes everything published on `network` (when the network is removed); a network
    /// nothing was published on is fine.
    pub fn remove_network(&self, network: &str) -> io::Result<()> {
        let dir = self.network_dir(network)?;
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(store_err("remove", &dir, e)),
            _ => Ok(()),
        }
    }

    /// Every entry published on `network`, by container id (so answers have a stable base order
    /// for the rotation).
    pub fn entries(&self, network: &str) -> io::Result<Vec<(String, DnsEntry)>> {
        let dir = self.network_dir(network)?;
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(store_err("read", &dir, e)),
        };
        let mut out = Vec::new();
        for item in rd {
            let item = item.map_err(|e| store_err("read", &dir, e))?;
            let Ok(id) = item.file_name().into_string() else {
                continue;
            };
            if id.starts_with('.') {
                continue;
            }
            // A file withdrawn since the listing, or half-written by a foreign tool, is skipped:
            // one bad entry must not break name resolution for the whole network.
            let Ok(data) = fs::read(item.path()) else {
                continue;
            };
            if let Ok(entry) = serde_json::from_slice::<DnsEntry>(&data) {
                out.push((id, entry));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// All addresses published under `name` (case-insensitive, trailing dot ignored) on
    /// `network`, both families, each once, in container-id order.
    pub fn lookup(&self, network: &str, name: &str) -> io::Result<Vec<IpAddr>> {
        let want = normalize(name);
        let mut out = Vec::new();
        for (_, entry) in self.entries(network)? {
            if entry.names.iter().any(|n| normalize(n) == want) {
                for a in entry.addresses {
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The first name of the first container (by id) that publishes `ip` on `network`.
    pub fn reverse(&self, network: &str, ip: IpAddr) -> io::Result<Option<String>> {
        Ok(self
            .entries(network)?
            .into_iter()
            .filter(|(_, e)| e.addresses.contains(&ip))
            .find_map(|(_, e)| e.names.into_iter().next()))
    }
}

// ---------------------------------------------------------------------------------------------
// resolv.conf
// ---------------------------------------------------------------------------------------------

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
fn scope_id(zone: &str) -> Option<u32> {
    if let Ok(n) = zone.parse::<u32>() {
        return Some(n);
    }
    let name = CString::new(zone).ok()?;
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

// ---------------------------------------------------------------------------------------------
// Resolver
// ---------------------------------------------------------------------------------------------

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

/// Who gets the answer of a query.
#[derive(Debug, Clone, Copy)]
enum Client {
    Udp(SocketAddr),
    Tcp(u64),
}

/// A query sent upstream and not answered yet, under our id.
struct Pending {
    client: Client,
    client_id: u16,
    /// The query as sent upstream (our id in it), resent as is to the next upstream.
    query: Vec<u8>,
    /// The upstream being tried (index into the upstreams).
    upstream: usize,
    attempt_deadline: Instant,
    deadline: Instant,
}

struct TcpConn {
    token: u64,
    stream: TcpStream,
    buf: Vec<u8>,
    /// The query is complete and was forwarded: further input is read and discarded.
    forwarded: bool,
    deadline: Instant,
}

/// What to do with a query.
enum Outcome {
    Reply(Message),
    Forward,
}

/// One container's DNS resolver, driven by its monitor's poll loop. See the module docs.
pub struct Resolver {
    udp: UdpSocket,
    tcp: TcpListener,
    up4: Option<UdpSocket>,
    up6: Option<UdpSocket>,
    store: EndpointStore,
    networks: Vec<String>,
    /// (normalized alias, target).
    links: Vec<(String, String)>,
    upstreams: Vec<SocketAddr>,
    pending: HashMap<u16, Pending>,
    conns: Vec<TcpConn>,
    next_token: u64,
    rotation: usize,
    rng: u64,
    forward_timeout: Duration,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("listen", &self.udp.local_addr().ok())
            .field("networks", &self.networks)
            .field("upstreams", &self.upstreams)
            .field("pending", &self.pending.len())
            .field("tcp_conns", &self.conns.len())
            .finish()
    }
}

/// A new non-blocking, close-on-exec IPv4 socket with `IP_FREEBIND`, bound to `addr`.
fn freebind_socket(ty: libc::c_int, addr: SocketAddrV4) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let raw = unsafe {
        libc::socket(
            libc::AF_INET,
            ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let one: libc::c_int = 1;
    // SAFETY: the option value points to a live c_int of the size given.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_FREEBIND,
            (&one as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*addr.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `sin` is a valid sockaddr_in of the length given.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sin as *const libc::sockaddr_in).cast(),
            mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// The TCP and UDP listeners on `addr`, in the calling thread's namespace. With port 0 both get
/// the same (random) port.
fn listeners(addr: SocketAddrV4) -> io::Result<(UdpSocket, TcpListener)> {
    let tries = if addr.port() == 0 { 8 } else { 1 };
    let mut last = None;
    for _ in 0..tries {
        let tcp = freebind_socket(libc::SOCK_STREAM, addr)
            .map_err(|e| socket_err(format!("bind tcp {addr}"), e))?;
        // SAFETY: plain listen(2) on a socket we own.
        if unsafe { libc::listen(tcp.as_raw_fd(), MAX_TCP_CONNS as libc::c_int) } < 0 {
            return Err(socket_err(
                format!("listen tcp {addr}"),
                io::Error::last_os_error(),
            ));
        }
        let tcp = TcpListener::from(tcp);
        let port = tcp
            .local_addr()
            .map_err(|e| socket_err(format!("tcp {addr}"), e))?
            .port();
        let at = SocketAddrV4::new(*addr.ip(), port);
        match freebind_socket(libc::SOCK_DGRAM, at) {
            Ok(udp) => return Ok((UdpSocket::from(udp), tcp)),
            Err(e) => last = Some(socket_err(format!("bind udp {at}"), e)),
        }
    }
    Err(last.unwrap_or_else(|| socket_err(format!("bind {addr}"), io::ErrorKind::Other.into())))
}

fn upstream_socket(any: IpAddr) -> io::Result<UdpSocket> {
    let sock = UdpSocket::bind(SocketAddr::new(any, 0))
        .map_err(|e| socket_err(format!("bind upstream socket {any}"), e))?;
    sock.set_nonblocking(true)
        .map_err(|e| socket_err("set upstream socket non-blocking", e))?;
    Ok(sock)
}

fn random_seed() -> u64 {
    let mut seed = [0u8; 8];
    // SAFETY: the buffer is live and as long as the length given.
    let n = unsafe { libc::getrandom(seed.as_mut_ptr().cast(), seed.len(), libc::GRND_NONBLOCK) };
    let mut s = u64::from_ne_bytes(seed);
    if n != 8 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        s ^= nanos ^ (u64::from(std::process::id()) << 32);
    }
    s | 1
}

/// The response skeleton for `query`: same id, opcode, RD, CD and question.
fn response_to(query: &Message, code: ResponseCode) -> Message {
    let mut m = Message::new();
    m.set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(query.op_code())
        .set_recursion_desired(query.recursion_desired())
        .set_recursion_available(true)
        .set_checking_disabled(query.checking_disabled())
        .set_response_code(code)
        .add_queries(query.queries().iter().cloned());
    m
}

/// SERVFAIL for the raw query `query`, under `id`; `None` if it does not parse.
fn servfail_for(query: &[u8], id: u16) -> Option<Vec<u8>> {
    let mut msg = Message::from_vec(query).ok()?;
    msg.set_id(id);
    response_to(&msg, ResponseCode::ServFail).to_vec().ok()
}

/// The question section of a message with exactly one uncompressed question.
fn question(packet: &[u8]) -> Option<&[u8]> {
    if packet.len() < HEADER_LEN || packet[4..6] != [0, 1] {
        return None;
    }
    let mut at = HEADER_LEN;
    loop {
        let len = usize::from(*packet.get(at)?);
        if len == 0 {
            at += 1;
            break;
        }
        if len & 0xc0 != 0 {
            return None;
        }
        at += 1 + len;
    }
    packet.get(HEADER_LEN..at + 4)
}

impl Resolver {
    /// Answers `127.0.0.11:53` (UDP and TCP) inside `container_netns`, as Docker does: the
    /// listeners take a random port of `127.0.0.11` and a DNAT rule of the container's namespace
    /// sends `:53` there, so the container may bind port 53 itself (a DNS server of its own).
    /// Upstream sockets are created in the calling thread's namespace.
    pub fn bind(
        container_netns: BorrowedFd<'_>,
        store: EndpointStore,
        cfg: ResolverConfig,
    ) -> io::Result<Resolver> {
        let (udp, tcp) = in_netns(container_netns, || -> io::Result<_> {
            let (udp, tcp) = listeners(SocketAddrV4::new(RESOLVER_IP, 0))?;
            let port = udp.local_addr()?.port();
            let redirect = |source| io::Error::from(DnsError::Redirect { port, source });
            Nft::new()
                .map_err(redirect)?
                .add_resolver_redirect(RESOLVER_IP, DNS_PORT, port)
                .map_err(redirect)?;
            Ok((udp, tcp))
        })??;
        Resolver::with_listeners(udp, tcp, store, cfg)
    }

    /// [`Resolver::bind`] on another address of the container's namespace (port 0: a random
    /// port, the same for UDP and TCP; see [`Resolver::local_addr`]).
    pub fn bind_at(
        container_netns: BorrowedFd<'_>,
        listen: SocketAddrV4,
        store: EndpointStore,
        cfg: ResolverConfig,
    ) -> io::Result<Resolver> {
        let (udp, tcp) = in_netns(container_netns, move || listeners(listen))??;
        Resolver::with_listeners(udp, tcp, store, cfg)
    }

    fn with_listeners(
        udp: UdpSocket,
        tcp: TcpListener,
        store: EndpointStore,
        cfg: ResolverConfig,
    ) -> io::Result<Resolver> {
        let up4 = if cfg.upstreams.iter().any(SocketAddr::is_ipv4) {
            Some(upstream_socket(Ipv4Addr::UNSPECIFIED.into())?)
        } else {
            None
        };
        // A host without IPv6 cannot reach IPv6 upstreams anyway: they are skipped then.
        let up6 = if cfg.upstreams.iter().any(SocketAddr::is_ipv6) {
            upstream_socket(Ipv6Addr::UNSPECIFIED.into()).ok()
        } else {
            None
        };
        Ok(Resolver {
            udp,
            tcp,
            up4,
            up6,
            store,
            networks: cfg.networks,
            links: cfg
                .links
                .into_iter()
                .map(|(alias, target)| (normalize(&alias), target))
                .collect(),
            upstreams: cfg.upstreams,
            pending: HashMap::new(),
            conns: Vec::new(),
            next_token: 0,
            rotation: 0,
            rng: random_seed(),
            forward_timeout: FORWARD_TIMEOUT,
            scratch: vec![0; SCRATCH],
        })
    }

    /// Where the listeners are (the same port for UDP and TCP), in the container's namespace.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.udp.local_addr()
    }

    /// Changes the total time forwarded queries may wait (default [`FORWARD_TIMEOUT`]).
    pub fn set_forward_timeout(&mut self, timeout: Duration) {
        self.forward_timeout = timeout;
    }

    /// Everything to poll for `POLLIN`: listeners, upstream sockets, open TCP connections.
    pub fn poll_fds(&self) -> Vec<RawFd> {
        let mut fds = vec![self.udp.as_raw_fd(), self.tcp.as_raw_fd()];
        fds.extend(self.up4.iter().chain(&self.up6).map(|s| s.as_raw_fd()));
        fds.extend(self.conns.iter().map(|c| c.stream.as_raw_fd()));
        fds
    }

    /// Handles readiness of `fd` (one of [`Resolver::poll_fds`]); never blocks. An fd that is
    /// not (or no longer) ours is ignored.
    pub fn handle_ready(&mut self, fd: RawFd) {
        if fd == self.udp.as_raw_fd() {
            self.on_udp();
        } else if fd == self.tcp.as_raw_fd() {
            self.on_accept();
        } else if self.up4.as_ref().is_some_and(|s| s.as_raw_fd() == fd) {
            self.on_upstream(false);
        } else if self.up6.as_ref().is_some_and(|s| s.as_raw_fd() == fd) {
            self.on_upstream(true);
        } else if let Some(token) = self
            .conns
            .iter()
            .find(|c| c.stream.as_raw_fd() == fd)
            .map(|c| c.token)
        {
            self.on_conn(token);
        }
    }

    /// Time until the earliest forwarded query or TCP connection times out, if any.
    pub fn next_timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        self.pending
            .values()
            .map(|p| p.attempt_deadline)
            .chain(self.conns.iter().map(|c| c.deadline))
            .min()
            .map(|t| t.saturating_duration_since(now))
    }

    /// Moves forwarded queries whose upstream did not answer in time to the next upstream, or
    /// answers SERVFAIL when none is left; closes TCP connections that timed out.
    pub fn expire(&mut self) {
        let now = Instant::now();
        let due: Vec<u16> = self
            .pending
            .iter()
            .filter(|(_, p)| p.attempt_deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(p) = self.pending.remove(&id) else {
                continue;
            };
            if now < p.deadline {
                let next = p.upstream + 1;
                self.send_upstream(id, p, next);
            } else {
                self.fail(p);
            }
        }
        self.conns.retain(|c| c.deadline > now);
    }

    /// One round of a poll loop over this resolver alone (for tests and tools; the monitor
    /// polls these fds together with its own): waits at most `max_wait`, handles what is ready,
    /// then expires what timed out.
    pub fn poll_once(&mut self, max_wait: Duration) -> io::Result<()> {
        let mut pfds: Vec<libc::pollfd> = self
            .poll_fds()
            .into_iter()
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let wait = self.next_timeout().map_or(max_wait, |t| t.min(max_wait));
        // Round up, so a deadline 0.4 ms away does not turn into a busy loop.
        let ms = wait.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
        // SAFETY: `pfds` is a live array of the length given.
        let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(socket_err("poll", e));
            }
        }
        for p in &pfds {
            if p.revents != 0 {
                self.handle_ready(p.fd);
            }
        }
        self.expire();
        Ok(())
    }

    fn on_udp(&mut self) {
        let mut buf = mem::take(&mut self.scratch);
        for _ in 0..MAX_PER_WAKE {
            match self.udp.recv_from(&mut buf) {
                Ok((n, from)) => self.handle_query(&buf[..n], Client::Udp(from)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        self.scratch = buf;
    }

    fn on_accept(&mut self) {
        for _ in 0..MAX_PER_WAKE {
            match self.tcp.accept() {
                Ok((stream, _)) => {
                    if self.conns.len() >= MAX_TCP_CONNS || stream.set_nonblocking(true).is_err() {
                        continue; // dropped: closed at once
                    }
                    let token = self.next_token;
                    self.next_token += 1;
                    self.conns.push(TcpConn {
                        token,
                        stream,
                        buf: Vec::new(),
                        forwarded: false,
                        deadline: Instant::now() + TCP_IDLE,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    }

    fn close_conn(&mut self, token: u64) {
        self.conns.retain(|c| c.token != token);
    }

    fn on_conn(&mut self, token: u64) {
        let Some(conn) = self.conns.iter_mut().find(|c| c.token == token) else {
            return;
        };
        let mut chunk = [0u8; 512];
        let mut closed = false;
        for _ in 0..MAX_PER_WAKE {
            match conn.stream.read(&mut chunk) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => {
                    if conn.forwarded {
                        continue;
                    }
                    conn.buf.extend_from_slice(&chunk[..n]);
                    if conn.buf.len() > 2 + MAX_TCP_QUERY {
                        closed = true;
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    closed = true;
                    break;
                }
            }
        }
        if closed {
            self.close_conn(token);
            return;
        }
        if conn.forwarded || conn.buf.len() < 2 {
            return;
        }
        let len = usize::from(u16::from_be_bytes([conn.buf[0], conn.buf[1]]));
        if !(HEADER_LEN..=MAX_TCP_QUERY).contains(&len) {
            self.close_conn(token);
            return;
        }
        if conn.buf.len() < 2 + len {
            return;
        }
        let query = mem::take(&mut conn.buf);
        self.handle_query(&query[2..2 + len], Client::Tcp(token));
        // Answered (closed already), forwarded (kept until the answer), or dropped: close.
        if self.conns.iter().any(|c| c.token == token && !c.forwarded) {
            self.close_conn(token);
        }
    }

    fn handle_query(&mut self, packet: &[u8], client: Client) {
        let Ok(msg) = Message::from_vec(packet) else {
            return;
        };
        if msg.message_type() != MessageType::Query {
            return;
        }
        match self.answer(&msg) {
            Outcome::Reply(resp) => {
                let limit = usize::from(msg.max_payload()).min(MAX_UDP_ANSWER);
                self.reply(client, resp, limit);
            }
            Outcome::Forward => self.forward(packet, msg.id(), client),
        }
    }

    /// All addresses of `name` (after alias resolution) on the container's networks.
    fn addresses_of(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        let key = normalize(name);
        let target = self
            .links
            .iter()
            .find(|(alias, _)| *alias == key)
            .map_or(name, |(_, target)| target.as_str());
        let mut out = Vec::new();
        for net in &self.networks {
            for a in self.store.lookup(net, target)? {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
        Ok(out)
    }

    fn reverse_of(&self, name: &Name) -> io::Result<Option<String>> {
        let Ok(net) = name.parse_arpa_name() else {
            return Ok(None);
        };
        let ip = net.addr();
        let full = if ip.is_ipv4() { 32 } else { 128 };
        if net.prefix_len() != full {
            return Ok(None);
        }
        for network in &self.networks {
            if let Some(n) = self.store.reverse(network, ip)? {
                return Ok(Some(n));
            }
        }
        Ok(None)
    }

    fn answer(&mut self, msg: &Message) -> Outcome {
        if msg.op_code() != OpCode::Query {
            return Outcome::Reply(response_to(msg, ResponseCode::NotImp));
        }
        let [q] = msg.queries() else {
            return Outcome::Reply(response_to(msg, ResponseCode::FormErr));
        };
        if q.query_class() != DNSClass::IN {
            return Outcome::Forward;
        }
        let mut resp = response_to(msg, ResponseCode::NoError);
        resp.set_authoritative(true);
        if q.query_type() == RecordType::PTR {
            return match self.reverse_of(q.name()) {
                Err(_) => Outcome::Reply(response_to(msg, ResponseCode::ServFail)),
                Ok(None) => Outcome::Forward,
                Ok(Some(target)) => match Name::from_ascii(format!("{}.", normalize(&target))) {
                    Ok(target) => {
                        resp.add_answer(Record::from_rdata(
                            q.name().clone(),
                            TTL,
                            RData::PTR(PTR(target)),
                        ));
                        Outcome::Reply(resp)
                    }
                    Err(_) => Outcome::Reply(resp),
                },
            };
        }
        let mut addrs = match self.addresses_of(&q.name().to_ascii()) {
            Err(_) => return Outcome::Reply(response_to(msg, ResponseCode::ServFail)),
            Ok(a) if a.is_empty() => return Outcome::Forward,
            Ok(a) => a,
        };
        addrs.retain(|a| match q.query_type() {
            RecordType::A => a.is_ipv4(),
            RecordType::AAAA => a.is_ipv6(),
            _ => false,
        });
        if !addrs.is_empty() {
            let k = self.rotation % addrs.len();
            addrs.rotate_left(k);
            self.rotation = self.rotation.wrapping_add(1);
        }
        for a in addrs {
            let rdata = match a {
                IpAddr::V4(v4) => RData::A(A(v4)),
                IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
            };
            resp.add_answer(Record::from_rdata(q.name().clone(), TTL, rdata));
        }
        Outcome::Reply(resp)
    }

    fn reply(&mut self, client: Client, mut resp: Message, udp_limit: usize) {
        let Ok(mut bytes) = resp.to_vec() else {
            return;
        };
        match client {
            Client::Udp(to) => {
                if bytes.len() > udp_limit {
                    // Too many addresses for a datagram: the client retries over TCP.
                    resp.take_answers();
                    resp.set_truncated(true);
                    let Ok(b) = resp.to_vec() else { return };
                    bytes = b;
                }
                let _ = self.udp.send_to(&bytes, to);
            }
            Client::Tcp(token) => self.tcp_reply(token, &bytes),
        }
    }

    /// Writes `answer` to the TCP connection `token` and closes it.
    fn tcp_reply(&mut self, token: u64, answer: &[u8]) {
        let Ok(len) = u16::try_from(answer.len()) else {
            self.close_conn(token);
            return;
        };
        if let Some(conn) = self.conns.iter_mut().find(|c| c.token == token) {
            let mut framed = Vec::with_capacity(2 + answer.len());
            framed.extend_from_slice(&len.to_be_bytes());
            framed.extend_from_slice(answer);
            // One non-blocking write: see the module docs for why a short write is given up.
            let _ = conn.stream.write_all(&framed);
        }
        self.close_conn(token);
    }

    fn deliver(&mut self, client: Client, answer: &[u8]) {
        match client {
            Client::Udp(to) => {
                let _ = self.udp.send_to(answer, to);
            }
            Client::Tcp(token) => self.tcp_reply(token, answer),
        }
    }

    fn fresh_id(&mut self) -> u16 {
        loop {
            // xorshift64*: unpredictable enough to off-path spoofers given a random seed.
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            let id = (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 48) as u16;
            if !self.pending.contains_key(&id) {
                return id;
            }
        }
    }

    fn forward(&mut self, packet: &[u8], client_id: u16, client: Client) {
        if self.upstreams.is_empty() || self.pending.len() >= MAX_PENDING {
            if let Some(b) = servfail_for(packet, client_id) {
                self.deliver(client, &b);
            }
            return;
        }
        let id = self.fresh_id();
        let mut query = packet.to_vec();
        query[..2].copy_from_slice(&id.to_be_bytes());
        let now = Instant::now();
        let p = Pending {
            client,
            client_id,
            query,
            upstream: 0,
            attempt_deadline: now,
            deadline: now + self.forward_timeout,
        };
        if let Client::Tcp(token) = client {
            if let Some(c) = self.conns.iter_mut().find(|c| c.token == token) {
                c.forwarded = true;
                // The SERVFAIL on expiry must come before the connection's own timeout.
                c.deadline = p.deadline + Duration::from_secs(1);
            }
        }
        self.send_upstream(id, p, 0);
    }

    /// Sends `p` to the first upstream from index `from` that takes it, and waits for it;
    /// answers SERVFAIL when none is left.
    fn send_upstream(&mut self, id: u16, mut p: Pending, from: usize) {
        let now = Instant::now();
        let share = self.forward_timeout / self.upstreams.len().max(1) as u32;
        for i in from..self.upstreams.len() {
            let to = self.upstreams[i];
            let sock = if to.is_ipv4() { &self.up4 } else { &self.up6 };
            let Some(sock) = sock else { continue };
            if sock.send_to(&p.query, to).is_ok() {
                p.upstream = i;
                p.attempt_deadline = (now + share).min(p.deadline);
                self.pending.insert(id, p);
                return;
            }
        }
        self.fail(p);
    }

    fn fail(&mut self, p: Pending) {
        match servfail_for(&p.query, p.client_id) {
            Some(b) => self.deliver(p.client, &b),
            None => {
                if let Client::Tcp(token) = p.client {
                    self.close_conn(token);
                }
            }
        }
    }

    fn on_upstream(&mut self, v6: bool) {
        let mut buf = mem::take(&mut self.scratch);
        for _ in 0..MAX_PER_WAKE {
            let sock = if v6 { &self.up6 } else { &self.up4 };
            let Some(sock) = sock else { break };
            let (n, from) = match sock.recv_from(&mut buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let answer = &mut buf[..n];
            if n < HEADER_LEN || answer[2] & 0x80 == 0 {
                continue; // not a response
            }
            let id = u16::from_be_bytes([answer[0], answer[1]]);
            let Some(p) = self.pending.get(&id) else {
                continue;
            };
            // Only from an upstream we asked, and only for the question we asked.
            let known = self.upstreams[..=p.upstream]
                .iter()
                .any(|u| u.ip() == from.ip() && u.port() == from.port());
            let same_question = match (question(&p.query), question(answer)) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            };
            if !known || !same_question {
                continue;
            }
            let Some(p) = self.pending.remove(&id) else {
                continue;
            };
            answer[..2].copy_from_slice(&p.client_id.to_be_bytes());
            let client = p.client;
            let answer = answer.to_vec();
            self.deliver(client, &answer);
        }
        self.scratch = buf;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::network::link::{create_netns, Netlink};
    use std::os::fd::AsFd;
    use std::str::FromStr;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread::JoinHandle;

    use hickory_proto::op::Query;

    fn entry(names: &[&str], addrs: &[&str]) -> DnsEntry {
        DnsEntry {
            names: names.iter().map(|s| s.to_string()).collect(),
            addresses: addrs.iter().map(|a| IpAddr::from_str(a).unwrap()).collect(),
        }
    }

    fn ips(addrs: &[&str]) -> Vec<IpAddr> {
        addrs.iter().map(|a| IpAddr::from_str(a).unwrap()).collect()
    }

    #[test]
    fn store_publishes_looks_up_and_withdraws() {
        let tmp = tempfile::tempdir().unwrap();
        let store = EndpointStore::new(&tmp.path().join("dns"));
        assert_eq!(store.lookup("net", "web").unwrap(), Vec::<IpAddr>::new());
        assert_eq!(store.reverse("net", ips(&["10.0.0.2"])[0]).unwrap(), None);

        store
            .publish(
                "net",
                "bbb",
                &entry(&["web-2", "web"], &["10.0.0.3", "fd00::3"]),
            )
            .unwrap();
        store
            .publish("net", "aaa", &entry(&["web-1", "Web"], &["10.0.0.2"]))
            .unwrap();
        store
            .publish("other", "ccc", &entry(&["web"], &["10.9.0.2"]))
            .unwrap();
        assert_eq!(
            store.lookup("net", "WEB.").unwrap(),
            ips(&["10.0.0.2", "10.0.0.3", "fd00::3"])
        );
        assert_eq!(
            store.lookup("net", "web-2").unwrap(),
            ips(&["10.0.0.3", "fd00::3"])
        );
        assert_eq!(store.lookup("other", "web").unwrap(), ips(&["10.9.0.2"]));
        assert_eq!(
            store.reverse("net", ips(&["fd00::3"])[0]).unwrap(),
            Some("web-2".to_string())
        );

        // Republishing replaces; leftovers of atomic writes and foreign junk are skipped.
        store
            .publish("net", "aaa", &entry(&["web-1"], &["10.0.0.4"]))
            .unwrap();
        fs::write(tmp.path().join("dns/net/.tmp-x"), b"{}").unwrap();
        fs::write(tmp.path().join("dns/net/junk"), b"not json").unwrap();
        assert_eq!(
            store.lookup("net", "web").unwrap(),
            ips(&["10.0.0.3", "fd00::3"])
        );
        assert_eq!(store.lookup("net", "web-1").unwrap(), ips(&["10.0.0.4"]));
        assert_eq!(store.entries("net").unwrap().len(), 2);

        store.withdraw("net", "bbb").unwrap();
        store.withdraw("net", "bbb").unwrap();
        store.withdraw("nonet", "bbb").unwrap();
        assert!(store.lookup("net", "web").unwrap().is_empty());
        store.remove_network("net").unwrap();
        store.remove_network("net").unwrap();
        assert!(!tmp.path().join("dns/net").exists());
        assert_eq!(store.lookup("other", "web").unwrap(), ips(&["10.9.0.2"]));

        for bad in ["", ".", "..", ".hidden", "a/b"] {
            let e = store.publish(bad, "id", &entry(&["x"], &[])).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}: {e}");
            assert!(e.to_string().contains("network name"), "{e}");
            let e = store.withdraw("net", bad).unwrap_err();
            assert!(e.to_string().contains("container id"), "{e}");
        }
    }

    #[test]
    fn store_errors_name_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        fs::write(&file, b"x").unwrap();
        // The store's folder is a file: creating the network folder fails.
        let store = EndpointStore::new(&file);
        let e = store.publish("net", "id", &entry(&["a"], &[])).unwrap_err();
        assert!(e.to_string().contains("create"), "{e}");
        assert!(e.to_string().contains(&*file.to_string_lossy()), "{e}");
    }

    #[test]
    fn resolv_conf_nameservers() {
        let text = "# comment\n; other\nsearch example.com\nnameserver 127.0.0.53\n\
                    nameserver   ::1  # trailing\nnameserver not-an-ip\nnameserver\n\
                    nameserver fe80::1%7\nnameserver 127.0.0.53\noptions edns0\n";
        assert_eq!(
            upstreams_from_resolv_conf(text),
            vec![
                SocketAddr::from_str("127.0.0.53:53").unwrap(),
                SocketAddr::from_str("[::1]:53").unwrap(),
                SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 53, 0, 7)),
            ]
        );
        assert!(upstreams_from_resolv_conf("").is_empty());
    }

    #[test]
    fn question_section_is_found() {
        let q = query_bytes(7, "Web.Example.", RecordType::A);
        let sec = question(&q).unwrap();
        assert_eq!(sec.len(), 1 + 3 + 1 + 7 + 1 + 4);
        assert!(question(&q[..q.len() - 1]).is_none());
        assert!(question(&[0u8; 5]).is_none());
    }

    // ---- real resolvers in throw-away namespaces ----------------------------------------

    fn skip_unless_root() -> bool {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root (network namespaces)");
            return true;
        }
        false
    }

    fn query_bytes(id: u16, name: &str, ty: RecordType) -> Vec<u8> {
        let mut m = Message::new();
        m.set_id(id)
            .set_recursion_desired(true)
            .add_query(Query::query(Name::from_ascii(name).unwrap(), ty));
        m.to_vec().unwrap()
    }

    fn new_netns_with_lo() -> OwnedFd {
        let ns = create_netns().expect("create netns");
        Netlink::new_in(ns.as_fd())
            .and_then(|mut nl| nl.set_up(1))
            .expect("lo up");
        ns
    }

    /// A resolver for a throw-away container namespace, bound from a throw-away stand-in host
    /// namespace (so upstream sockets are there) and polled on a thread until drop.
    struct Fixture {
        ctr: OwnedFd,
        _host: OwnedFd,
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    impl Fixture {
        fn start(
            host: OwnedFd,
            store: EndpointStore,
            cfg: ResolverConfig,
            timeout: Duration,
        ) -> Fixture {
            // Bound while the container's loopback is still down (IP_FREEBIND), as the monitor
            // may do before the container has set it up.
            let ctr = create_netns().expect("create container netns");
            let ctr_fd = ctr.as_fd();
            let mut resolver = in_netns(host.as_fd(), move || Resolver::bind(ctr_fd, store, cfg))
                .unwrap()
                .expect("bind resolver");
            Netlink::new_in(ctr.as_fd())
                .and_then(|mut nl| nl.set_up(1))
                .expect("lo up");
            resolver.set_forward_timeout(timeout);
            // Port 53 stays free: queries to it are redirected to the resolver's own port.
            let at = resolver.local_addr().unwrap();
            assert_eq!(at.ip(), IpAddr::V4(RESOLVER_IP));
            assert_ne!(at.port(), DNS_PORT);
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            let thread = std::thread::spawn(move || {
                while !flag.load(Ordering::SeqCst) {
                    resolver.poll_once(Duration::from_millis(50)).unwrap();
                }
            });
            Fixture {
                ctr,
                _host: host,
                stop,
                thread: Some(thread),
            }
        }

        fn udp_client(&self) -> UdpSocket {
            let s = in_netns(self.ctr.as_fd(), || UdpSocket::bind("127.0.0.1:0"))
                .unwrap()
                .unwrap();
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            s
        }

        fn udp(&self, client: &UdpSocket, id: u16, name: &str, ty: RecordType) -> Message {
            client
                .send_to(&query_bytes(id, name, ty), (RESOLVER_IP, DNS_PORT))
                .unwrap();
            let mut buf = [0u8; 4096];
            let n = client.recv(&mut buf).expect("udp answer");
            let m = Message::from_vec(&buf[..n]).unwrap();
            assert_eq!(m.id(), id);
            assert_eq!(m.message_type(), MessageType::Response);
            m
        }

        fn tcp(&self, id: u16, name: &str, ty: RecordType) -> Message {
            let mut s = in_netns(self.ctr.as_fd(), || {
                TcpStream::connect((RESOLVER_IP, DNS_PORT))
            })
            .unwrap()
            .expect("tcp connect");
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            let q = query_bytes(id, name, ty);
            let mut framed = (q.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&q);
            // Split the write to exercise reassembly.
            s.write_all(&framed[..5]).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            s.write_all(&framed[5..]).unwrap();
            let mut len = [0u8; 2];
            s.read_exact(&mut len).expect("tcp answer length");
            let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
            s.read_exact(&mut body).unwrap();
            // The server closes after one answer.
            let mut rest = [0u8; 1];
            assert_eq!(s.read(&mut rest).unwrap(), 0);
            let m = Message::from_vec(&body).unwrap();
            assert_eq!(m.id(), id);
            m
        }
    }

    #[test]
    fn binds_addresses_the_namespace_does_not_have_yet() {
        if skip_unless_root() {
            return;
        }
        // 192.0.2.53 is on no interface of a fresh namespace: only IP_FREEBIND lets this bind.
        let ns = create_netns().expect("create netns");
        let tmp = tempfile::tempdir().unwrap();
        let listen = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 53), 0);
        let r = Resolver::bind_at(
            ns.as_fd(),
            listen,
            EndpointStore::new(tmp.path()),
            ResolverConfig::default(),
        )
        .expect("bind with IP_FREEBIND");
        let udp = r.local_addr().unwrap();
        assert_eq!(udp.ip(), IpAddr::V4(*listen.ip()));
        assert_ne!(udp.port(), 0);
        assert_eq!(r.tcp.local_addr().unwrap(), udp, "same port for TCP");
        assert_eq!(
            r.poll_fds().len(),
            2,
            "no upstream sockets without upstreams"
        );
        assert_eq!(r.next_timeout(), None);
        // Some kernels accept the bind anyway: check the option is really on both listeners.
        for fd in [r.udp.as_raw_fd(), r.tcp.as_raw_fd()] {
            let mut on: libc::c_int = 0;
            let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: `on` and `len` are live and sized as the kernel expects.
            let rc = unsafe {
                libc::getsockopt(
                    fd,
                    libc::IPPROTO_IP,
                    libc::IP_FREEBIND,
                    (&mut on as *mut libc::c_int).cast(),
                    &mut len,
                )
            };
            assert_eq!((rc, on), (0, 1), "IP_FREEBIND on fd {fd}");
        }
    }

    fn addrs(m: &Message) -> Vec<IpAddr> {
        m.answers()
            .iter()
            .filter_map(|r| match r.data() {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect()
    }

    fn sorted(mut v: Vec<IpAddr>) -> Vec<IpAddr> {
        v.sort();
        v
    }

    #[test]
    fn resolver_answers_names_on_its_networks() {
        if skip_unless_root() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let store = EndpointStore::new(&tmp.path().join("dns"));
        store
            .publish(
                "front",
                "c1",
                &entry(&["web", "proj-web-1"], &["10.1.0.2", "fd01::2"]),
            )
            .unwrap();
        store
            .publish("front", "c2", &entry(&["web", "proj-web-2"], &["10.1.0.3"]))
            .unwrap();
        store
            .publish("back", "c3", &entry(&["db", "proj-db-1"], &["10.2.0.2"]))
            .unwrap();
        store
            .publish("elsewhere", "c9", &entry(&["hidden"], &["10.9.0.2"]))
            .unwrap();
        let cfg = ResolverConfig {
            networks: vec!["front".into(), "back".into()],
            links: vec![("database".into(), "db".into())],
            upstreams: vec![],
        };
        let fx = Fixture::start(new_netns_with_lo(), store.clone(), cfg, FORWARD_TIMEOUT);
        let c = fx.udp_client();

        // Both containers named `web`, rotated per query.
        let a = fx.udp(&c, 1, "web", RecordType::A);
        assert_eq!(a.response_code(), ResponseCode::NoError);
        assert!(a.authoritative());
        assert_eq!(sorted(addrs(&a)), ips(&["10.1.0.2", "10.1.0.3"]));
        assert!(a.answers().iter().all(|r| r.ttl() == TTL));
        let b = fx.udp(&c, 2, "WEB.", RecordType::A);
        assert_eq!(sorted(addrs(&b)), sorted(addrs(&a)));
        assert_ne!(addrs(&a), addrs(&b), "round-robin order changes");
        assert_eq!(b.answers()[0].name().to_ascii(), "WEB.");

        // AAAA: the one v6 address; a name of ours without v6: NOERROR and no answers.
        let v6 = fx.udp(&c, 3, "web", RecordType::AAAA);
        assert_eq!(addrs(&v6), ips(&["fd01::2"]));
        let none = fx.udp(&c, 4, "db", RecordType::AAAA);
        assert_eq!(none.response_code(), ResponseCode::NoError);
        assert!(none.answers().is_empty());
        let mx = fx.udp(&c, 5, "db", RecordType::MX);
        assert_eq!(mx.response_code(), ResponseCode::NoError);
        assert!(mx.answers().is_empty());

        // Second network, link alias, container name.
        assert_eq!(
            addrs(&fx.udp(&c, 6, "db", RecordType::A)),
            ips(&["10.2.0.2"])
        );
        assert_eq!(
            addrs(&fx.udp(&c, 7, "database", RecordType::A)),
            ips(&["10.2.0.2"])
        );
        assert_eq!(
            addrs(&fx.udp(&c, 8, "proj-web-2", RecordType::A)),
            ips(&["10.1.0.3"])
        );

        // Not on our networks, and no upstream: SERVFAIL (it would have been forwarded).
        let hidden = fx.udp(&c, 9, "hidden", RecordType::A);
        assert_eq!(hidden.response_code(), ResponseCode::ServFail);
        assert!(hidden.answers().is_empty());
        assert_eq!(hidden.queries().len(), 1);

        // PTR for our address; for another one: forwarded, so SERVFAIL here.
        let ptr = fx.udp(&c, 10, "3.0.1.10.in-addr.arpa.", RecordType::PTR);
        match ptr.answers().first().map(|r| r.data()) {
            Some(RData::PTR(p)) => assert_eq!(p.0.to_ascii(), "web."),
            other => panic!("no PTR answer: {other:?}"),
        }
        let v6ptr = fx.udp(
            &c,
            11,
            "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.d.f.ip6.arpa.",
            RecordType::PTR,
        );
        assert_eq!(v6ptr.answers().len(), 1);
        let other = fx.udp(&c, 12, "9.9.9.10.in-addr.arpa.", RecordType::PTR);
        assert_eq!(other.response_code(), ResponseCode::ServFail);

        // Joins and leaves are seen at once.
        store
            .publish("back", "c4", &entry(&["cache"], &["10.2.0.7"]))
            .unwrap();
        assert_eq!(
            addrs(&fx.udp(&c, 13, "cache", RecordType::A)),
            ips(&["10.2.0.7"])
        );
        store.withdraw("front", "c1").unwrap();
        assert_eq!(
            addrs(&fx.udp(&c, 14, "web", RecordType::A)),
            ips(&["10.1.0.3"])
        );
        store.withdraw("back", "c4").unwrap();
        assert_eq!(
            fx.udp(&c, 15, "cache", RecordType::A).response_code(),
            ResponseCode::ServFail
        );

        // Malformed packets and stray responses are dropped; the resolver keeps answering.
        c.send_to(b"\x12\x34garbage", (RESOLVER_IP, DNS_PORT))
            .unwrap();
        let mut resp = query_bytes(99, "web", RecordType::A);
        resp[2] |= 0x80;
        c.send_to(&resp, (RESOLVER_IP, DNS_PORT)).unwrap();
        assert_eq!(
            addrs(&fx.udp(&c, 16, "web", RecordType::A)),
            ips(&["10.1.0.3"])
        );

        // TCP, the same answers.
        store
            .publish("front", "c1", &entry(&["web"], &["10.1.0.2"]))
            .unwrap();
        let t = fx.tcp(17, "web", RecordType::A);
        assert_eq!(sorted(addrs(&t)), ips(&["10.1.0.2", "10.1.0.3"]));
        let t = fx.tcp(18, "database", RecordType::A);
        assert_eq!(addrs(&t), ips(&["10.2.0.2"]));
        assert_eq!(
            fx.tcp(19, "nowhere.test", RecordType::A).response_code(),
            ResponseCode::ServFail
        );

        // A TCP client that sends garbage is disconnected without an answer.
        let mut s = in_netns(fx.ctr.as_fd(), || {
            TcpStream::connect((RESOLVER_IP, DNS_PORT))
        })
        .unwrap()
        .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        s.write_all(&[0, 14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14])
            .unwrap();
        let mut buf = [0u8; 16];
        assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
    }

    /// A fake upstream DNS server in `ns` on 127.0.0.1: answers A queries with 192.0.2.7
    /// (or stays silent), recording the ids it saw.
    struct FakeUpstream {
        addr: SocketAddr,
        seen: Arc<Mutex<Vec<u16>>>,
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
    }

    impl FakeUpstream {
        fn start(ns: BorrowedFd<'_>, silent: bool) -> FakeUpstream {
            let sock = in_netns(ns, || UdpSocket::bind("127.0.0.1:0"))
                .unwrap()
                .unwrap();
            sock.set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            let addr = sock.local_addr().unwrap();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let stop = Arc::new(AtomicBool::new(false));
            let (seen2, stop2) = (seen.clone(), stop.clone());
            let thread = std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while !stop2.load(Ordering::SeqCst) {
                    let Ok((n, from)) = sock.recv_from(&mut buf) else {
                        continue;
                    };
                    let Ok(q) = Message::from_vec(&buf[..n]) else {
                        continue;
                    };
                    seen2.lock().unwrap().push(q.id());
                    if silent {
                        continue;
                    }
                    let mut r = response_to(&q, ResponseCode::NoError);
                    r.add_answer(Record::from_rdata(
                        q.queries()[0].name().clone(),
                        42,
                        RData::A(A(Ipv4Addr::new(192, 0, 2, 7))),
                    ));
                    let _ = sock.send_to(&r.to_vec().unwrap(), from);
                }
            });
            FakeUpstream {
                addr,
                seen,
                stop,
                thread: Some(thread),
            }
        }

        fn count(&self) -> usize {
            self.seen.lock().unwrap().len()
        }
    }

    impl Drop for FakeUpstream {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    #[test]
    fn resolver_forwards_other_names_upstream() {
        if skip_unless_root() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let store = EndpointStore::new(&tmp.path().join("dns"));
        store
            .publish("net", "c1", &entry(&["web"], &["10.1.0.2"]))
            .unwrap();
        // The stand-in host: its 127.0.0.1 is not the container's, so answers can only come
        // through the resolver's upstream socket, made there.
        let host = new_netns_with_lo();
        let silent = FakeUpstream::start(host.as_fd(), true);
        let good = FakeUpstream::start(host.as_fd(), false);
        let cfg = ResolverConfig {
            networks: vec!["net".into()],
            links: vec![],
            upstreams: vec![silent.addr, good.addr],
        };
        let fx = Fixture::start(host, store.clone(), cfg, Duration::from_millis(1200));
        let c = fx.udp_client();

        // First upstream silent: after its share of the timeout the second one answers, and the
        // client gets the answer under its own id.
        let start = Instant::now();
        let m = fx.udp(&c, 0xbeef, "example.test", RecordType::A);
        assert_eq!(m.response_code(), ResponseCode::NoError);
        assert_eq!(addrs(&m), ips(&["192.0.2.7"]));
        assert_eq!(m.answers()[0].ttl(), 42, "relayed unchanged");
        assert!(start.elapsed() >= Duration::from_millis(500));
        assert_eq!((silent.count(), good.count()), (1, 1));
        let up_id = good.seen.lock().unwrap()[0];
        assert_eq!(silent.seen.lock().unwrap()[0], up_id, "resent as is");

        // Over TCP, forwarded over UDP.
        let t = fx.tcp(0x0102, "other.test", RecordType::A);
        assert_eq!(addrs(&t), ips(&["192.0.2.7"]));
        assert_eq!(good.count(), 2);

        // Our own names are never forwarded.
        assert_eq!(
            addrs(&fx.udp(&c, 3, "web", RecordType::A)),
            ips(&["10.1.0.2"])
        );
        assert!(fx.udp(&c, 4, "web", RecordType::AAAA).answers().is_empty());
        assert_eq!(good.count(), 2);
        drop(fx);

        // Only a silent upstream: SERVFAIL once the timeout is over.
        let host2 = new_netns_with_lo();
        let silent2 = FakeUpstream::start(host2.as_fd(), true);
        let cfg = ResolverConfig {
            networks: vec!["net".into()],
            links: vec![],
            upstreams: vec![silent2.addr],
        };
        let fx = Fixture::start(host2, store, cfg, Duration::from_millis(300));
        let c = fx.udp_client();
        let start = Instant::now();
        let m = fx.udp(&c, 0x7777, "slow.test", RecordType::A);
        assert_eq!(m.response_code(), ResponseCode::ServFail);
        assert!(start.elapsed() >= Duration::from_millis(250));
        assert_eq!(m.queries()[0].name().to_ascii(), "slow.test.");
        assert_eq!(silent2.count(), 1);
    }
}
