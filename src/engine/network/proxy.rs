//! Published ports on the host's IPv6 addresses, forwarded to the container's IPv4 address.
//!
//! Docker Compose's `ports: ["8080:80"]` answers on `[::1]:8080` and the host's other IPv6
//! addresses too: docker-proxy listens on `[::]` and relays to the container's IPv4 address.
//! The kernel cannot DNAT an IPv6 connection to an IPv4 address, so our nftables rules (see
//! [`super::nft`]) cover IPv4 only and this small userland relay covers IPv6. It is owned by
//! the container's monitor (see [`crate::engine::supervisor`]) and lives exactly as long as one
//! run of the container: bound before the container starts (a port taken on IPv6 stops the
//! start, as a taken IPv4 port does), closed when it exits, so a stopped container listens on
//! nothing. It joins the monitor's single `poll` loop instead of running threads: the monitor's
//! memory is per-container overhead, and an idle connection here holds no buffer at all (data
//! goes straight from one socket to the other through the loop's read buffer; only what the
//! receiver could not take yet is kept).
//!
//! The listening sockets are `IPV6_V6ONLY`, so IPv4 keeps going through the DNAT rules, and
//! close-on-exec, so no container process inherits them.
//!
//! UDP is relayed per client address, as docker-proxy does: each client gets a socket connected
//! to the container (so the answers come back to it), dropped after [`UDP_IDLE`] without
//! traffic.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, Shutdown, SocketFlags, SocketType};

use super::nft::Protocol;
use crate::engine::state::PublishedPort;

/// Most connections relayed at once per container; the listeners are not polled beyond it (two
/// descriptors each: it keeps the monitor well inside the usual 1024-descriptor limit).
const MAX_CONNS: usize = 400;

/// How many pending connections one wake-up accepts, so one busy port cannot starve the rest
/// of the loop.
const ACCEPT_BATCH: usize = 32;

/// Most UDP clients relayed at once per port.
const MAX_FLOWS: usize = 256;

/// How long a UDP client's relay lives without traffic (docker-proxy's 90 s).
pub const UDP_IDLE: Duration = Duration::from_secs(90);

/// One IPv6 listening address and where its connections go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    pub protocol: Protocol,
    pub listen: SocketAddr,
    pub target: SocketAddr,
}

/// Why the relay could not listen.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// Docker's wording for a taken host port.
    #[error("Bind for {addr} failed: port is already allocated")]
    InUse { addr: SocketAddr },
    #[error("listening on {addr}/{proto} to publish the port on IPv6: {source}")]
    Listen {
        addr: SocketAddr,
        proto: &'static str,
        source: io::Error,
    },
}

/// The IPv6 relays a container's published ports need: ports published on every address
/// (no host IP, or `::`) to an IPv4 container address. A port bound to one address
/// (`127.0.0.1:8080:80`, `0.0.0.0:8080:80`) stays on that address, as with Docker; one whose
/// container address is IPv6 is served by ip6 DNAT already.
pub fn forwards(ports: &[PublishedPort]) -> Vec<Forward> {
    ports
        .iter()
        .filter(|p| p.container_ip.is_ipv4())
        .filter(|p| match p.host_ip {
            None => true,
            Some(IpAddr::V6(a)) => a.is_unspecified(),
            Some(IpAddr::V4(_)) => false,
        })
        .map(|p| Forward {
            protocol: p.protocol,
            listen: SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), p.host_port),
            target: SocketAddr::new(p.container_ip, p.container_port),
        })
        .collect()
}

/// Whether this host can listen on IPv6 at all (a kernel booted with `ipv6.disable=1` cannot):
/// where it cannot, no relay listens, and `ps` lists no `[::]` address.
pub fn host_has_ipv6() -> bool {
    rustix::net::socket_with(
        rustix::net::AddressFamily::INET6,
        rustix::net::SocketType::DGRAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .is_ok()
}

/// The listening sockets and the connections being relayed.
pub struct PortProxy {
    listeners: Vec<(OwnedFd, SocketAddr)>,
    conns: Vec<Conn>,
    udp: Vec<UdpPort>,
}

/// A UDP port and its clients.
struct UdpPort {
    fd: OwnedFd,
    target: SocketAddr,
    flows: Vec<Flow>,
}

/// One UDP client: its address and our socket connected to the container for it.
struct Flow {
    client: SocketAddr,
    up: OwnedFd,
    last: Instant,
}

/// One relayed connection: the client's socket and ours to the container.
struct Conn {
    fds: [OwnedFd; 2],
    /// Our connect to the container is still in progress.
    connecting: bool,
    /// Direction `i` copies from `fds[i]` to `fds[1 - i]`.
    dirs: [Dir; 2],
}

#[derive(Default)]
struct Dir {
    /// What the receiving side has not taken yet; reading stops until it has.
    pending: Vec<u8>,
    /// The sender has closed its side.
    eof: bool,
    /// The receiving side has been told (shutdown for writing).
    closed: bool,
}

impl PortProxy {
    /// Listens on every forward's address; `None` when there is nothing to listen on (no such
    /// port, or a host without IPv6).
    pub fn bind(forwards: &[Forward]) -> Result<Option<PortProxy>, ProxyError> {
        let mut listeners = Vec::new();
        let mut udp = Vec::new();
        for f in forwards {
            match listen(f.protocol, f.listen) {
                Ok(fd) if f.protocol == Protocol::Tcp => listeners.push((fd, f.target)),
                Ok(fd) => udp.push(UdpPort {
                    fd,
                    target: f.target,
                    flows: Vec::new(),
                }),
                // No IPv6 on this host: nothing to publish there, as Docker does.
                Err(Errno::AFNOSUPPORT) | Err(Errno::ADDRNOTAVAIL) => {}
                Err(Errno::ADDRINUSE) => return Err(ProxyError::InUse { addr: f.listen }),
                Err(e) => {
                    return Err(ProxyError::Listen {
                        addr: f.listen,
                        proto: f.protocol.name(),
                        source: e.into(),
                    })
                }
            }
        }
        Ok(
            (!listeners.is_empty() || !udp.is_empty()).then_some(PortProxy {
                listeners,
                conns: Vec::new(),
                udp,
            }),
        )
    }

    /// Appends the descriptors to poll and their events; [`PortProxy::handle`] takes the same
    /// entries back after the poll, in the same order.
    pub fn poll_fds(&self, out: &mut Vec<libc::pollfd>) {
        let accepting = self.conns.len() < MAX_CONNS;
        for (fd, _) in &self.listeners {
            out.push(pollfd(fd, if accepting { libc::POLLIN } else { 0 }));
        }
        for c in &self.conns {
            for (i, fd) in c.fds.iter().enumerate() {
                let events = if c.connecting {
                    if i == 1 {
                        libc::POLLOUT
                    } else {
                        0
                    }
                } else {
                    let reads = &c.dirs[i];
                    let writes = &c.dirs[1 - i];
                    let mut ev = 0;
                    if !reads.eof && reads.pending.is_empty() {
                        ev |= libc::POLLIN;
                    }
                    if !writes.pending.is_empty() {
                        ev |= libc::POLLOUT;
                    }
                    ev
                };
                out.push(pollfd(fd, events));
            }
        }
        for u in &self.udp {
            out.push(pollfd(&u.fd, libc::POLLIN));
            for f in &u.flows {
                out.push(pollfd(&f.up, libc::POLLIN));
            }
        }
    }

    /// When the next idle UDP client is due to be dropped (for the poll's timeout).
    pub fn next_deadline(&self) -> Option<Instant> {
        (self.udp.iter())
            .flat_map(|u| u.flows.iter().map(|f| f.last + UDP_IDLE))
            .min()
    }

    /// Acts on the poll's results for the entries [`PortProxy::poll_fds`] added; `buf` is the
    /// loop's read buffer.
    pub fn handle(&mut self, ready: &[libc::pollfd], buf: &mut [u8]) {
        let rev = |i: usize| ready.get(i).map_or(0, |p| p.revents);
        let n = self.listeners.len();
        let mut at = n + 2 * self.conns.len();
        let now = Instant::now();
        for u in &mut self.udp {
            let flows = u.flows.len();
            for k in 0..flows {
                if rev(at + 1 + k) != 0 {
                    u.answer(k, buf, now);
                }
            }
            if rev(at) != 0 {
                u.receive(buf, now);
            }
            u.flows.retain(|f| now.duration_since(f.last) < UDP_IDLE);
            at += 1 + flows;
        }
        let mut keep = Vec::with_capacity(self.conns.len());
        for (k, c) in self.conns.iter_mut().enumerate() {
            let rev = [
                ready.get(n + 2 * k).map_or(0, |p| p.revents),
                ready.get(n + 2 * k + 1).map_or(0, |p| p.revents),
            ];
            keep.push(c.step(rev, buf));
        }
        let mut it = keep.into_iter();
        self.conns.retain(|_| it.next().unwrap_or(true));
        for (i, (fd, target)) in self.listeners.iter().enumerate() {
            if ready.get(i).is_none_or(|p| p.revents == 0) {
                continue;
            }
            for _ in 0..ACCEPT_BATCH {
                if self.conns.len() >= MAX_CONNS {
                    break;
                }
                let client = match rustix::net::accept_with(
                    fd,
                    SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
                ) {
                    Ok(c) => c,
                    // WouldBlock: all taken; anything else (a client gone before we took
                    // it, out of descriptors): try again on the next wake-up.
                    Err(_) => break,
                };
                // A container that does not answer: the client sees its connection closed, as
                // docker-proxy does.
                if let Ok(c) = Conn::open(client, *target) {
                    self.conns.push(c);
                }
            }
        }
    }
}

impl Conn {
    fn open(client: OwnedFd, target: SocketAddr) -> Result<Conn, Errno> {
        let family = if target.is_ipv4() {
            AddressFamily::INET
        } else {
            AddressFamily::INET6
        };
        let up = rustix::net::socket_with(
            family,
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )?;
        let connecting = match rustix::net::connect(&up, &target) {
            Ok(()) => false,
            Err(Errno::INPROGRESS) => true,
            Err(e) => return Err(e),
        };
        Ok(Conn {
            fds: [client, up],
            connecting,
            dirs: [Dir::default(), Dir::default()],
        })
    }

    /// One round of relaying after a poll; whether the connection stays.
    fn step(&mut self, rev: [i16; 2], buf: &mut [u8]) -> bool {
        if self.connecting {
            if rev[1] == 0 {
                return true;
            }
            match rustix::net::sockopt::socket_error(&self.fds[1]) {
                Ok(Ok(())) => self.connecting = false,
                _ => return false,
            }
        }
        // A reset: whatever was in flight is lost anyway.
        if rev
            .iter()
            .any(|r| r & (libc::POLLERR | libc::POLLNVAL) != 0)
        {
            return false;
        }
        for (i, &revents) in rev.iter().enumerate() {
            let (src, dst) = (&self.fds[i], &self.fds[1 - i]);
            let d = &mut self.dirs[i];
            if !d.pending.is_empty() {
                match send_all(dst, &d.pending) {
                    Ok(sent) => {
                        d.pending.drain(..sent);
                    }
                    Err(_) => return false,
                }
            }
            if d.pending.is_empty() && !d.eof && revents != 0 {
                match rustix::net::recv(src, &mut *buf, RecvFlags::empty()) {
                    Ok((0, _)) => d.eof = true,
                    Ok((got, _)) => match send_all(dst, &buf[..got]) {
                        Ok(sent) => d.pending.extend_from_slice(&buf[sent..got]),
                        Err(_) => return false,
                    },
                    Err(Errno::AGAIN) | Err(Errno::INTR) => {}
                    Err(_) => return false,
                }
            }
            if d.eof && d.pending.is_empty() && !d.closed {
                // Half-close, so a client that sends its request and shuts its side still
                // gets the answer.
                let _ = rustix::net::shutdown(dst, Shutdown::Write);
                d.closed = true;
            }
            // Hung up both ways: nothing more can go to it, and once what it sent is passed
            // on, the connection is over (polling it again would only report the hang-up).
            if revents & libc::POLLHUP != 0 && d.eof && d.pending.is_empty() {
                return false;
            }
        }
        !(self.dirs[0].closed && self.dirs[1].closed)
    }
}

impl UdpPort {
    /// Passes the container's answers on flow `k` back to its client.
    fn answer(&mut self, k: usize, buf: &mut [u8], now: Instant) {
        let f = &mut self.flows[k];
        for _ in 0..ACCEPT_BATCH {
            match rustix::net::recv(&f.up, &mut *buf, RecvFlags::empty()) {
                Ok((got, _)) => {
                    f.last = now;
                    // A datagram the client cannot take now is lost, as on any UDP path.
                    let _ =
                        rustix::net::sendto(&self.fd, &buf[..got], SendFlags::NOSIGNAL, &f.client);
                }
                // Nothing more, or the container refused it (ICMP): the client retries.
                Err(_) => break,
            }
        }
    }

    /// Passes clients' datagrams to the container, each client through its own socket.
    fn receive(&mut self, buf: &mut [u8], now: Instant) {
        for _ in 0..ACCEPT_BATCH {
            let (got, client) = match rustix::net::recvfrom(&self.fd, &mut *buf, RecvFlags::empty())
            {
                Ok((got, _, Some(a))) => match SocketAddr::try_from(a) {
                    Ok(c) => (got, c),
                    Err(_) => continue,
                },
                Ok(_) => continue,
                Err(_) => break,
            };
            let k = match self.flows.iter().position(|f| f.client == client) {
                Some(k) => k,
                None if self.flows.len() < MAX_FLOWS => match udp_to(self.target) {
                    Ok(up) => {
                        self.flows.push(Flow {
                            client,
                            up,
                            last: now,
                        });
                        self.flows.len() - 1
                    }
                    Err(_) => continue,
                },
                // Too many clients: this one's datagram is dropped until one goes idle.
                None => continue,
            };
            let f = &mut self.flows[k];
            f.last = now;
            let _ = rustix::net::send(&f.up, &buf[..got], SendFlags::NOSIGNAL);
        }
    }
}

/// A non-blocking UDP socket connected to `target`, so only its answers come back on it.
fn udp_to(target: SocketAddr) -> Result<OwnedFd, Errno> {
    let family = if target.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let fd = rustix::net::socket_with(
        family,
        SocketType::DGRAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )?;
    rustix::net::connect(&fd, &target)?;
    Ok(fd)
}

/// Sends as much of `data` as the socket takes now; how much that was.
fn send_all(fd: &OwnedFd, data: &[u8]) -> Result<usize, Errno> {
    let mut sent = 0;
    while sent < data.len() {
        match rustix::net::send(fd, &data[sent..], SendFlags::NOSIGNAL) {
            Ok(n) => sent += n,
            Err(Errno::AGAIN) => break,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// A non-blocking, close-on-exec socket listening on `addr` (IPv6 only).
fn listen(protocol: Protocol, addr: SocketAddr) -> Result<OwnedFd, Errno> {
    let kind = match protocol {
        Protocol::Tcp => SocketType::STREAM,
        Protocol::Udp => SocketType::DGRAM,
    };
    let fd = rustix::net::socket_with(
        AddressFamily::INET6,
        kind,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )?;
    rustix::net::sockopt::set_ipv6_v6only(&fd, true)?;
    // TCP: a restart rebinds at once while the last run's connections sit in TIME_WAIT. Never
    // on UDP, where it would let a second socket share the port unnoticed.
    if protocol == Protocol::Tcp {
        rustix::net::sockopt::set_socket_reuseaddr(&fd, true)?;
    }
    rustix::net::bind(&fd, &addr)?;
    if protocol == Protocol::Tcp {
        rustix::net::listen(&fd, 128)?;
    }
    Ok(fd)
}

fn pollfd(fd: &OwnedFd, events: i16) -> libc::pollfd {
    libc::pollfd {
        fd: fd.as_fd().as_raw_fd(),
        events,
        revents: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, TcpListener, TcpStream};

    fn port(host_ip: Option<&str>, protocol: Protocol, container_ip: &str) -> PublishedPort {
        PublishedPort {
            network: "p_default".into(),
            bridge: "br-p".into(),
            protocol,
            host_ip: host_ip.map(|h| h.parse().unwrap()),
            host_port: 8080,
            container_ip: container_ip.parse().unwrap(),
            container_port: 80,
        }
    }

    /// Docker listens on `[::]` for a port published without a host IP (and on `::`), TCP or
    /// UDP, never for one bound to an IPv4 address; IPv6 container addresses need no relay.
    #[test]
    fn only_ports_published_on_every_address_get_an_ipv6_relay() {
        let all = [
            port(None, Protocol::Tcp, "10.1.0.2"),
            port(Some("::"), Protocol::Tcp, "10.1.0.2"),
            port(Some("127.0.0.1"), Protocol::Tcp, "10.1.0.2"),
            port(Some("0.0.0.0"), Protocol::Tcp, "10.1.0.2"),
            port(None, Protocol::Udp, "10.1.0.2"),
            port(Some("::1"), Protocol::Tcp, "fd00::2"),
        ];
        let want = |protocol| Forward {
            protocol,
            listen: "[::]:8080".parse().unwrap(),
            target: "10.1.0.2:80".parse().unwrap(),
        };
        assert_eq!(
            forwards(&all),
            vec![
                want(Protocol::Tcp),
                want(Protocol::Tcp),
                want(Protocol::Udp)
            ]
        );
    }

    /// Drives the relay's poll loop the way the monitor does.
    fn pump(p: &mut PortProxy, until: impl Fn(&PortProxy) -> bool) {
        let mut buf = [0u8; 64];
        for _ in 0..2000 {
            if until(p) {
                return;
            }
            let mut pfds = Vec::new();
            p.poll_fds(&mut pfds);
            // SAFETY: polling descriptors the relay owns.
            unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 5) };
            p.handle(&pfds, &mut buf);
        }
        panic!("the relay made no progress");
    }

    /// A request larger than the read buffer goes through whole, the answer comes back after
    /// the client half-closes, and the connection is dropped when both sides are done. Runs on
    /// loopback only (`[::1]` to `127.0.0.1`), skipped where the host has no IPv6.
    #[test]
    fn relays_both_ways_with_half_close() {
        let upstream = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let target = upstream.local_addr().unwrap();
        let probe = match TcpListener::bind("[::1]:0") {
            Ok(l) => l,
            Err(_) => return, // no IPv6 here
        };
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let listen = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port);
        let mut p = PortProxy::bind(&[Forward {
            protocol: Protocol::Tcp,
            listen,
            target,
        }])
        .unwrap()
        .expect("listening");
        assert!(matches!(
            PortProxy::bind(&[Forward {
                protocol: Protocol::Tcp,
                listen,
                target
            }]),
            Err(ProxyError::InUse { .. })
        ));
        let server = std::thread::spawn(move || {
            let (mut s, _) = upstream.accept().unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            s.write_all(format!("got {}", got.len()).as_bytes())
                .unwrap();
        });
        let mut c = TcpStream::connect(listen).unwrap();
        c.write_all(&[7u8; 1000]).unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let done = done.clone();
            std::thread::spawn(move || {
                let mut answer = String::new();
                c.read_to_string(&mut answer).unwrap();
                done.store(true, std::sync::atomic::Ordering::SeqCst);
                answer
            })
        };
        pump(&mut p, |_| done.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(reader.join().unwrap(), "got 1000");
        server.join().unwrap();
        pump(&mut p, |p| p.conns.is_empty());
    }

    /// A UDP client on `[::1]` reaches an IPv4 echo server through the relay and gets the
    /// answer back from the published address; a second client gets its own flow.
    #[test]
    fn relays_udp_per_client() {
        let upstream = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let target = upstream.local_addr().unwrap();
        let probe = match std::net::UdpSocket::bind("[::1]:0") {
            Ok(s) => s,
            Err(_) => return, // no IPv6 here
        };
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let listen = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port);
        let fwd = Forward {
            protocol: Protocol::Udp,
            listen,
            target,
        };
        let mut p = PortProxy::bind(&[fwd]).unwrap().expect("listening");
        assert!(matches!(
            PortProxy::bind(&[fwd]),
            Err(ProxyError::InUse { .. })
        ));
        let server = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            for _ in 0..2 {
                let (n, from) = upstream.recv_from(&mut buf).unwrap();
                upstream.send_to(&buf[..n], from).unwrap();
            }
        });
        for msg in ["one", "two"] {
            let c = std::net::UdpSocket::bind("[::1]:0").unwrap();
            c.set_nonblocking(true).unwrap();
            c.send_to(msg.as_bytes(), listen).unwrap();
            let got = std::cell::RefCell::new(None);
            pump(&mut p, |_| {
                let mut buf = [0u8; 64];
                if let Ok((n, from)) = c.recv_from(&mut buf) {
                    *got.borrow_mut() =
                        Some((String::from_utf8_lossy(&buf[..n]).into_owned(), from));
                }
                got.borrow().is_some()
            });
            assert_eq!(got.into_inner(), Some((msg.to_string(), listen)));
        }
        server.join().unwrap();
        assert_eq!(p.udp[0].flows.len(), 2);
        assert!(p.next_deadline().is_some());
    }
}
