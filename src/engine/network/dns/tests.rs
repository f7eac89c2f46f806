use super::answer::*;
use super::config::*;
use super::server::*;
use super::store::*;
use super::*;
use std::fs;
use std::io::{self, Read, Write};
use std::mem;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::engine::network::link::in_netns;

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

// ---- answers without sockets (what the `dns_query` fuzz target drives) ------------------

fn answerer(tmp: &std::path::Path) -> Answerer {
    let store = EndpointStore::new(&tmp.join("dns"));
    store
        .publish(
            "net",
            "aaa",
            &entry(&["web", "web-1"], &["10.0.0.2", "fd00::2"]),
        )
        .unwrap();
    Answerer::new(
        store,
        vec!["net".into()],
        vec![("www".into(), "web".into())],
    )
}

fn reply(r: Response) -> Message {
    match r {
        Response::Reply(bytes) => Message::from_vec(&bytes).unwrap(),
        other => panic!("expected a reply, got {other:?}"),
    }
}

#[test]
fn answerer_answers_ours_and_forwards_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = answerer(tmp.path());
    let m = reply(a.respond(&query_bytes(9, "WEB.", RecordType::A), Transport::Udp));
    assert_eq!(m.id(), 9);
    assert_eq!(m.message_type(), MessageType::Response);
    assert_eq!(addrs(&m), ips(&["10.0.0.2"]));
    // A links alias resolves as its target.
    let m = reply(a.respond(&query_bytes(3, "www.", RecordType::AAAA), Transport::Tcp));
    assert_eq!(addrs(&m), ips(&["fd00::2"]));
    // Ours, another type: NOERROR with no answers, never forwarded.
    let m = reply(a.respond(&query_bytes(4, "web.", RecordType::MX), Transport::Udp));
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert!(m.answers().is_empty());
    let m = reply(a.respond(
        &query_bytes(5, "2.0.0.10.in-addr.arpa.", RecordType::PTR),
        Transport::Udp,
    ));
    assert_eq!(m.answers().len(), 1);
    assert_eq!(
        a.respond(
            &query_bytes(6, "example.org.", RecordType::A),
            Transport::Udp
        ),
        Response::Forward { id: 6 }
    );
}

#[test]
fn answerer_ignores_garbage_and_responses() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = answerer(tmp.path());
    assert_eq!(a.respond(&[], Transport::Udp), Response::Ignore);
    assert_eq!(a.respond(&[0xff; 11], Transport::Udp), Response::Ignore);
    let mut q = query_bytes(1, "web.", RecordType::A);
    q[2] |= 0x80; // the QR bit: a response, not a query
    assert_eq!(a.respond(&q, Transport::Udp), Response::Ignore);
}

#[test]
fn answerer_truncates_what_does_not_fit_a_datagram() {
    let tmp = tempfile::tempdir().unwrap();
    let store = EndpointStore::new(&tmp.path().join("dns"));
    let many: Vec<String> = (0..40).map(|i| format!("fd00::{i:x}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    store
        .publish("net", "aaa", &entry(&["web"], &many))
        .unwrap();
    let mut a = Answerer::new(store, vec!["net".into()], Vec::new());
    let q = query_bytes(2, "web.", RecordType::AAAA);
    let m = reply(a.respond(&q, Transport::Udp));
    assert!(m.truncated());
    assert!(m.answers().is_empty());
    let m = reply(a.respond(&q, Transport::Tcp));
    assert!(!m.truncated());
    assert_eq!(m.answers().len(), 40);
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
#[ignore = "needs root"]
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
#[ignore = "needs root"]
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
#[ignore = "needs root"]
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
