//! See the list in `tests/security.rs`.
//!
//! Both attacks aim at the stand-in host's 127.0.0.1 from outside it (CVE-2020-8558 pattern,
//! moby 41872): a neighbour on the host's link, and a container. Everything happens in network
//! namespaces the test makes (the fixture's stand-in host, and an "outside" namespace joined to
//! it by a veth in the documentation range 198.51.100.0/24); nothing reaches the real host.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use compose::engine::network::link::{create_netns, in_netns, Netlink};

use crate::require_engine;
use crate::support::{self, engine::ok, engine::Fixture};

/// The stand-in host's end of the link to the outside (or, in the container test, an address
/// of its own on `lo`).
const HOST_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The outside neighbour's address.
const OUTSIDE_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// `GET /` over HTTP/1.0 to `addr` from the calling thread's namespace: the body, or `None` when
/// no connection or answer came in time.
fn http_get(addr: SocketAddr, timeout: Duration) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split("\r\n\r\n").nth(1).map(|b| b.trim().to_string())
}

/// Tries `get` until it answers, for at most `secs`.
fn within<T>(secs: u64, mut get: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = get() {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An attacker's namespace on the stand-in host's link, as a neighbour on a LAN: a veth
/// (198.51.100.2 there, 198.51.100.1 on the host), its `lo` left down so that 127.0.0.1 is not
/// local to it, a route to 127.0.0.1 through the host, and `route_localnet` on its end so that
/// it accepts answers from 127.0.0.1. This is the forged-packet attack of moby 41872 without
/// raw sockets.
fn outside_neighbour(f: &Fixture) -> OwnedFd {
    let outside = create_netns().expect("outside namespace");
    let host = f.netns.as_ref().expect("stand-in host");
    let mut hn = Netlink::new_in(host.as_fd()).expect("netlink in the stand-in host");
    let hv = hn
        .create_veth_into("sec-lan", "eth0", None, outside.as_fd())
        .expect("veth to the outside");
    hn.add_address(hv, IpAddr::V4(HOST_ADDR), 24)
        .expect("host address");
    hn.set_up(hv).expect("veth up");
    let mut on = Netlink::new_in(outside.as_fd()).expect("netlink outside");
    let eth0 = on.link_index("eth0").expect("eth0").expect("eth0 exists");
    on.add_address(eth0, IpAddr::V4(OUTSIDE_ADDR), 24)
        .expect("outside address");
    on.set_up(eth0).expect("eth0 up");
    on.add_route(
        Some((IpAddr::V4(LOOPBACK), 32)),
        Some(IpAddr::V4(HOST_ADDR)),
        eth0,
    )
    .expect("route to 127.0.0.1 through the host");
    in_netns(outside.as_fd(), || {
        std::fs::write("/proc/sys/net/ipv4/conf/eth0/route_localnet", "1")
    })
    .expect("enter the outside namespace")
    .expect("route_localnet outside");
    outside
}

/// Attack: a neighbour on the host's link sends packets to 127.0.0.1 through the host, aiming
/// at a port published on 127.0.0.1 only (`127.0.0.1:18081:80`). The host's DNAT rewrote such a
/// packet to the container before routing could drop it as a martian, so the neighbour talked
/// to the container. The port must stay reachable from the host's own 127.0.0.1, and the
/// neighbour must still reach a port published on every address (the control that shows the
/// link works).
#[test]
#[ignore = "needs root"]
fn a_neighbour_reaches_a_port_published_on_loopback_by_sending_to_127_0_0_1() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  web:
    image: busybox
    command: [sh, -c, 'echo web > /tmp/index.html; exec httpd -f -p 80 -h /tmp']
    ports: ['127.0.0.1:18081:80', '18082:80']
",
    );
    let outside = outside_neighbour(&f);
    ok(&f, &["up", "-d"]);
    let t = Duration::from_secs(2);

    let from_host = f.in_host(|| within(5, || http_get(SocketAddr::from((LOOPBACK, 18081)), t)));
    assert_eq!(
        from_host.as_deref(),
        Some("web"),
        "the host's own 127.0.0.1:18081"
    );
    let in_outside = |addr: SocketAddr, secs: u64| {
        in_netns(outside.as_fd(), || within(secs, || http_get(addr, t))).expect("outside")
    };
    assert_eq!(
        in_outside(SocketAddr::from((HOST_ADDR, 18082)), 5).as_deref(),
        Some("web"),
        "control: the neighbour reaches a port published on every address"
    );
    let stolen = in_outside(SocketAddr::from((LOOPBACK, 18081)), 0);
    assert_eq!(
        stolen, None,
        "the neighbour reached the port published on 127.0.0.1"
    );

    // The port's rules lost (an `nft flush`; an older version's rules are replaced the same
    // way): the next `up`, which keeps the running container, writes them back in the form
    // above, not only at the container's next start.
    let records = compose::engine::state::list(&f.root, Some(&f.project)).expect("records");
    let mut nft = compose::engine::network::nft::Nft::new_in(f.netns.as_ref().unwrap().as_fd())
        .expect("nftables in the stand-in host");
    for o in &records {
        for p in &o.record.ports {
            nft.remove_port(&compose::engine::network::nft::PortMapping::from(p))
                .expect("remove the port's rules");
        }
    }
    let lost = f.in_host(|| http_get(SocketAddr::from((LOOPBACK, 18081)), t));
    assert_eq!(lost, None, "the port's rules were not removed");
    ok(&f, &["up", "-d"]);
    let from_host = f.in_host(|| within(5, || http_get(SocketAddr::from((LOOPBACK, 18081)), t)));
    assert_eq!(from_host.as_deref(), Some("web"), "put back by `up`");
    let stolen = in_outside(SocketAddr::from((LOOPBACK, 18081)), 0);
    assert_eq!(stolen, None, "the neighbour reached it after `up`");

    ok(&f, &["down", "-t", "0"]);
    drop(outside);
    f.assert_clean();
}

/// Reads one datagram within `d`.
fn recv_within(s: &UdpSocket, d: Duration) -> Option<String> {
    s.set_read_timeout(Some(d)).ok()?;
    let mut buf = [0u8; 512];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Attack: a container (with CAP_NET_ADMIN in its own namespace, as CVE-2020-8558's proofs of
/// concept) drops its own 127.0.0.1, routes 127.0.0.1 through its gateway, and sends to a
/// service that listens only on the host's 127.0.0.1. `route_localnet=1` on the bridge made the
/// host deliver it. The service here is a UDP socket (busybox's `nslookup SERVER:PORT` is the
/// sender: its query names what it tried); a control socket on an ordinary host address shows
/// the container's packets do reach the host.
#[test]
#[ignore = "needs root"]
fn a_container_routes_127_0_0_1_through_its_gateway_to_reach_a_host_loopback_service() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  hostile:
    image: busybox
    cap_add: [NET_ADMIN, NET_RAW]
",
    );
    {
        let host = f.netns.as_ref().expect("stand-in host");
        let mut hn = Netlink::new_in(host.as_fd()).expect("netlink");
        let lo = hn.link_index("lo").expect("lo").expect("lo exists");
        hn.add_address(lo, IpAddr::V4(HOST_ADDR), 32)
            .expect("host address");
    }
    let (secret, control) = f.in_host(|| {
        (
            UdpSocket::bind((LOOPBACK, 0)).expect("loopback service"),
            UdpSocket::bind((HOST_ADDR, 0)).expect("control service"),
        )
    });
    let port = |s: &UdpSocket| s.local_addr().expect("addr").port();
    let script = format!(
        "gw=$(ip route show default | sed -n 's/.*via \\([0-9.]*\\).*/\\1/p')
         ip addr del 127.0.0.1/8 dev lo && ip route add 127.0.0.1/32 via \"$gw\" dev eth0 || exit 9
         timeout 2 nslookup reached-loopback 127.0.0.1:{} >/dev/null 2>&1 &
         timeout 2 nslookup reached-control {HOST_ADDR}:{} >/dev/null 2>&1 &
         wait; ip route get 127.0.0.1",
        port(&secret),
        port(&control)
    );
    let (code, out, err) = f.run("hostile", &["sh", "-c", &script]);
    assert_eq!(code, 0, "the container's set-up: {out}\n{err}");
    assert!(
        out.contains("via"),
        "127.0.0.1 routed via the gateway: {out}"
    );
    let got = recv_within(&control, Duration::from_secs(1));
    assert!(
        got.as_deref()
            .is_some_and(|q| q.contains("reached-control")),
        "control: the container's packets reach the host ({got:?})"
    );
    let stolen = recv_within(&secret, Duration::from_millis(300));
    assert_eq!(
        stolen, None,
        "the container reached a service listening only on the host's 127.0.0.1"
    );
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}
