//! The resolver itself: listeners in the container's namespace, upstream sockets in the
//! monitor's, and the steps of the monitor's poll loop that answer (see `answer.rs`) or forward
//! each query.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::mem;
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket,
};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, ResponseCode};

use crate::engine::network::link::in_netns;
use crate::engine::network::nft::Nft;

use super::answer::*;
use super::config::*;
use super::error::*;
use super::store::*;

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

/// One container's DNS resolver, driven by its monitor's poll loop. See the module docs.
pub struct Resolver {
    pub(super) udp: UdpSocket,
    pub(super) tcp: TcpListener,
    up4: Option<UdpSocket>,
    up6: Option<UdpSocket>,
    answerer: Answerer,
    upstreams: Vec<SocketAddr>,
    pending: HashMap<u16, Pending>,
    conns: Vec<TcpConn>,
    next_token: u64,
    rng: u64,
    forward_timeout: Duration,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("listen", &self.udp.local_addr().ok())
            .field("answerer", &self.answerer)
            .field("upstreams", &self.upstreams)
            .field("pending", &self.pending.len())
            .field("tcp_conns", &self.conns.len())
            .finish()
    }
}

/// A new non-blocking, close-on-exec IPv4 socket with `IP_FREEBIND`, bound to `addr`.
pub(super) fn freebind_socket(ty: libc::c_int, addr: SocketAddrV4) -> io::Result<OwnedFd> {
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
pub(super) fn listeners(addr: SocketAddrV4) -> Result<(UdpSocket, TcpListener), DnsError> {
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

pub(super) fn upstream_socket(any: IpAddr) -> Result<UdpSocket, DnsError> {
    let sock = UdpSocket::bind(SocketAddr::new(any, 0))
        .map_err(|e| socket_err(format!("bind upstream socket {any}"), e))?;
    sock.set_nonblocking(true)
        .map_err(|e| socket_err("set upstream socket non-blocking", e))?;
    Ok(sock)
}

pub(super) fn random_seed() -> u64 {
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

/// SERVFAIL for the raw query `query`, under `id`; `None` if it does not parse.
pub(super) fn servfail_for(query: &[u8], id: u16) -> Option<Vec<u8>> {
    let mut msg = Message::from_vec(query).ok()?;
    msg.set_id(id);
    response_to(&msg, ResponseCode::ServFail).to_vec().ok()
}

/// The question section of a message with exactly one uncompressed question.
pub(super) fn question(packet: &[u8]) -> Option<&[u8]> {
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
    ) -> Result<Resolver, DnsError> {
        let (udp, tcp) = in_netns(container_netns, || -> Result<_, DnsError> {
            let (udp, tcp) = listeners(SocketAddrV4::new(RESOLVER_IP, 0))?;
            let port = udp
                .local_addr()
                .map_err(|e| socket_err("udp listener address", e))?
                .port();
            let redirect = |source| DnsError::Redirect { port, source };
            Nft::new()
                .map_err(redirect)?
                .add_resolver_redirect(RESOLVER_IP, DNS_PORT, port)
                .map_err(redirect)?;
            Ok((udp, tcp))
        })
        .map_err(DnsError::Netns)??;
        Resolver::with_listeners(udp, tcp, store, cfg)
    }

    /// [`Resolver::bind`] on another address of the container's namespace (port 0: a random
    /// port, the same for UDP and TCP; see [`Resolver::local_addr`]).
    pub fn bind_at(
        container_netns: BorrowedFd<'_>,
        listen: SocketAddrV4,
        store: EndpointStore,
        cfg: ResolverConfig,
    ) -> Result<Resolver, DnsError> {
        let (udp, tcp) =
            in_netns(container_netns, move || listeners(listen)).map_err(DnsError::Netns)??;
        Resolver::with_listeners(udp, tcp, store, cfg)
    }

    fn with_listeners(
        udp: UdpSocket,
        tcp: TcpListener,
        store: EndpointStore,
        cfg: ResolverConfig,
    ) -> Result<Resolver, DnsError> {
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
            answerer: Answerer::new(store, cfg.networks, cfg.links),
            upstreams: cfg.upstreams,
            pending: HashMap::new(),
            conns: Vec::new(),
            next_token: 0,
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
    pub fn poll_once(&mut self, max_wait: Duration) -> Result<(), DnsError> {
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
        let transport = match client {
            Client::Udp(_) => Transport::Udp,
            Client::Tcp(_) => Transport::Tcp,
        };
        match self.answerer.respond(packet, transport) {
            Response::Reply(bytes) => self.deliver(client, &bytes),
            Response::Forward { id } => self.forward(packet, id, client),
            Response::Ignore => {}
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
