//! Published ports on the host's IPv6 addresses (issue 11, item 10), over real containers (root;
//! skipped with a reason otherwise). As in tests/network.rs, the CLI runs inside a network
//! namespace the test creates as a stand-in host (its `lo` has 127.0.0.1 and ::1), and traffic
//! goes to that namespace's loopback only.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use support::engine::{http_get, ok, wait_for, Fixture};

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// Whether something in the stand-in host listens on `addr` (a TCP connect is accepted).
fn listening(f: &Fixture, a: &str) -> bool {
    let a = addr(a);
    f.in_host(|| TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok())
}

/// The pid of the service's running container.
fn live_pid(f: &Fixture, service: &str) -> Option<i32> {
    compose::engine::state::list(&f.root, Some(&f.project))
        .expect("state")
        .into_iter()
        .find(|o| o.record.service == service)
        .and_then(|o| o.state.live_pid())
}

/// Docker Compose's `ports: ["8080:80"]` answers on `[::1]:8080` as well as on 127.0.0.1
/// (docker-proxy listens on `[::]` and relays to the container's IPv4 address), while
/// `127.0.0.1:8080:80` stays on IPv4 loopback. The IPv6 side lives with the container: back
/// after a restart (policy or `restart`), gone when it is stopped, and a port someone else holds
/// on IPv6 stops its start with Docker's "port is already allocated".
#[test]
#[ignore = "needs root"]
fn published_ports_answer_on_ipv6_loopback_like_docker() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  web:
    image: busybox
    command: [sh, -c, 'echo web > /tmp/index.html; exec httpd -f -p 80 -h /tmp']
    restart: always
    ports: ['18181:80']
  local:
    image: busybox
    command: [sh, -c, 'echo local > /tmp/index.html; exec httpd -f -p 80 -h /tmp']
    ports: ['127.0.0.1:18182:80']
",
    );
    ok(&f, &["up", "-d"]);
    let get = |f: &Fixture, a: &str| {
        let a = addr(a);
        f.in_host(|| wait_for(5, || http_get(a)))
    };
    assert_eq!(get(&f, "[::1]:18181").as_deref(), Some("web"), "IPv6");
    assert_eq!(get(&f, "127.0.0.1:18181").as_deref(), Some("web"), "IPv4");
    assert_eq!(get(&f, "127.0.0.1:18182").as_deref(), Some("local"));
    assert!(
        !listening(&f, "[::1]:18182"),
        "a port published on 127.0.0.1 must not listen on IPv6"
    );
    // `ps` lists both sides, as Docker Compose's: `0.0.0.0:18181->80/tcp, [::]:18181->80/tcp`.
    let ps = ok(&f, &["ps"]);
    assert!(
        ps.contains("0.0.0.0:18181->80/tcp, [::]:18181->80/tcp"),
        "{ps}"
    );
    assert!(!ps.contains("[::]:18182"), "{ps}");

    // The restart policy brings the container back, and its IPv6 side with it.
    let pid = live_pid(&f, "web").expect("web runs");
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let back = wait_for(10, || {
        live_pid(&f, "web")
            .filter(|p| *p != pid)
            .and_then(|_| f.in_host(|| http_get(addr("[::1]:18181"))))
    });
    assert_eq!(back.as_deref(), Some("web"), "IPv6 after a policy restart");
    ok(&f, &["restart", "-t", "0", "web"]);
    assert_eq!(
        get(&f, "[::1]:18181").as_deref(),
        Some("web"),
        "IPv6 after `restart`"
    );

    // Stopped: nothing listens on IPv6.
    ok(&f, &["stop", "-t", "0", "web"]);
    assert!(!listening(&f, "[::1]:18181"), "a stopped container listens");
    // Someone else takes the port on IPv6: the start fails, saying so, and nothing runs.
    let squatter = f.in_host(|| TcpListener::bind("[::]:18181").expect("bind [::]:18181"));
    let out = f.compose(&["start", "web"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "start with the port taken: {err}");
    assert!(
        err.contains("Bind for [::]:18181 failed: port is already allocated"),
        "{err}"
    );
    assert!(live_pid(&f, "web").is_none(), "web runs without its port");
    drop(squatter);
    ok(&f, &["start", "web"]);
    assert_eq!(
        get(&f, "[::1]:18181").as_deref(),
        Some("web"),
        "started again"
    );

    ok(&f, &["down", "-t", "0"]);
    assert!(!listening(&f, "[::1]:18181"), "listening after down");
    assert!(!listening(&f, "127.0.0.1:18181"), "IPv4 after down");
    f.assert_clean();
}

/// The same for UDP, as docker-proxy relays it: `19191:9999/udp` echoes on `[::1]` and on
/// 127.0.0.1, and nothing answers on `[::1]` once the stack is down.
#[test]
#[ignore = "needs root"]
fn published_udp_ports_answer_on_ipv6_loopback_like_docker() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  udp:
    image: busybox
    command: [/udp_echo, '9999']
    volumes: ['./udp_echo:/udp_echo:ro']
    ports: ['19191:9999/udp']
",
    );
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/udp_echo.c");
    let out = std::process::Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(f.project_dir.join("udp_echo"))
        .arg(src)
        .output()
        .expect("run cc (the tests need gcc and libc6-dev)");
    assert!(
        out.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok(&f, &["up", "-d"]);
    let echo = |f: &Fixture, host: &str, secs: u64| {
        let to = addr(&format!("{host}:19191"));
        f.in_host(|| {
            let s = std::net::UdpSocket::bind(if to.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" })
                .expect("udp");
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .expect("timeout");
            wait_for(secs, || {
                s.send_to(b"hello", to).ok()?;
                let mut buf = [0u8; 64];
                let (n, from) = s.recv_from(&mut buf).ok()?;
                Some((String::from_utf8_lossy(&buf[..n]).into_owned(), from))
            })
        })
    };
    assert_eq!(
        echo(&f, "[::1]", 5),
        Some(("hello".to_string(), addr("[::1]:19191"))),
        "UDP on IPv6"
    );
    assert_eq!(
        echo(&f, "127.0.0.1", 5).map(|e| e.0).as_deref(),
        Some("hello"),
        "UDP on IPv4"
    );
    ok(&f, &["down", "-t", "0"]);
    assert_eq!(echo(&f, "[::1]", 1), None, "UDP on IPv6 after down");
    f.assert_clean();
}

/// The same host port on TCP and UDP is two mappings, not a clash: Docker Compose publishes
/// `53:53/tcp` and `53:53/udp` of one service side by side (a DNS server's usual ports). This
/// `up` refused the second as "already allocated" when the ports taken so far were kept
/// without their protocol (found by the soak stack, issue 16).
#[test]
#[ignore = "needs root"]
fn the_same_host_port_on_tcp_and_udp_is_published_twice() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  dns:
    image: busybox
    command: [sleep, '100000']
    ports: ['18553:53/tcp', '18553:53/udp']
",
    );
    ok(&f, &["up", "-d"]);
    let ps = ok(&f, &["ps"]);
    assert!(ps.contains("18553->53/tcp"), "{ps}");
    assert!(ps.contains("18553->53/udp"), "{ps}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}
