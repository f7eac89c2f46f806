//! End-to-end tests of project networks over real containers (root; skipped with a reason
//! otherwise). Every test runs the CLI inside a network namespace it creates as a stand-in host
//! (bridges, veths and nftables rules are made there and vanish with it), sends traffic only to
//! loopback or to addresses inside that namespace, and checks that `down` leaves the stand-in
//! host's links and rules as they were.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::time::Duration;

use support::engine::{http_get, ok, wait_for, Fixture};

/// The stand-in host's own (non-loopback) address, put on its `lo`.
const HOST_ADDR: &str = "10.200.0.1";

/// `compose exec -T SERVICE sh -c SCRIPT`: (exit code, stdout).
fn sh(f: &Fixture, service: &str, script: &str) -> (i32, String) {
    let o = f.compose(&["exec", "-T", service, "sh", "-c", script]);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

/// The IPv4 addresses busybox `nslookup NAME` printed for the name (not the server's).
fn lookup(f: &Fixture, from: &str, name: &str) -> Vec<String> {
    let (_, out) = sh(f, from, &format!("nslookup {name} 2>&1"));
    let mut addrs = Vec::new();
    let mut after_name = false;
    for line in out.lines() {
        if line.starts_with("Name:") {
            after_name = true;
        }
        if after_name {
            if let Some(a) = line.strip_prefix("Address:") {
                let a = a.trim().to_string();
                if a.parse::<std::net::Ipv4Addr>().is_ok() {
                    addrs.push(a);
                }
            }
        }
    }
    addrs
}

fn up(f: &Fixture) {
    ok(f, &["up", "-d"]);
}

/// Brings the stack down and checks the stand-in host is as before `up`.
fn down_and_check(f: &Fixture, links_before: &[String]) {
    ok(f, &["down", "-t", "0"]);
    assert_eq!(f.host_links(), links_before, "interfaces left after down");
    let (table, rules) = f.host_rules();
    assert!(!table, "nftables table left after down: {rules:?}");
    let nets = ok(f, &["network", "ls", "-q"]);
    assert!(nets.trim().is_empty(), "networks left: {nets}");
}

fn add_host_addr(f: &Fixture) {
    use compose::engine::network::link::Netlink;
    use std::os::fd::AsFd;
    let ns = f.netns.as_ref().expect("netns");
    let mut nl = Netlink::new_in(ns.as_fd()).expect("netlink");
    let lo = nl.link_index("lo").expect("lo").expect("lo");
    nl.add_address(lo, HOST_ADDR.parse().expect("addr"), 32)
        .expect("host address");
}

#[test]
#[ignore = "needs root"]
fn services_find_each_other_by_name_alias_and_replica_and_down_leaves_nothing() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  web:
    image: busybox
    command: [sh, -c, 'hostname > /tmp/index.html; exec httpd -f -p 80 -h /tmp']
    deploy: {replicas: 2}
    networks:
      default:
        aliases: [www]
  client:
    image: busybox
    command: [sleep, '1000']
",
    );
    let links_before = f.host_links();
    up(&f);
    let links = f.host_links();
    assert_eq!(
        links.len(),
        links_before.len() + 4,
        "bridge + 3 veths: {links:?}"
    );

    let web = lookup(&f, "client", "web");
    assert_eq!(web.len(), 2, "both replicas: {web:?}");
    let mut www = lookup(&f, "client", "www");
    www.sort();
    let mut sorted = web.clone();
    sorted.sort();
    assert_eq!(www, sorted, "the alias names every replica");
    let one = lookup(&f, "client", &format!("{}-web-1", f.project));
    assert_eq!(one.len(), 1, "container name");
    // Round-robin: the first answer changes between queries.
    let firsts: std::collections::BTreeSet<String> = (0..4)
        .filter_map(|_| lookup(&f, "client", "web").first().cloned())
        .collect();
    assert_eq!(firsts.len(), 2, "round-robin order: {firsts:?}");
    // Reachable by name, from a replica to the other service too.
    let (code, out) = sh(&f, "client", "timeout 3 wget -qO- http://www/");
    assert_eq!(code, 0, "{out}");
    let (code, out) = sh(&f, "web", "nslookup client >/dev/null && echo found");
    assert_eq!((code, out.trim()), (0, "found"));
    // Names that are not ours are not invented.
    let (code, _) = sh(&f, "client", "nslookup no-such-service");
    assert_ne!(code, 0);

    down_and_check(&f, &links_before);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn disjoint_networks_are_isolated_and_a_container_on_two_reaches_both() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  a:
    image: busybox
    command: [sleep, '1000']
    networks: [front]
  b:
    image: busybox
    command: [sh, -c, 'echo b > /tmp/index.html; exec httpd -f -p 80 -h /tmp']
    networks: [back]
  both:
    image: busybox
    command: [sh, -c, 'echo both > /tmp/index.html; exec httpd -f -p 80 -h /tmp']
    networks: [front, back]
networks:
  front: {}
  back: {}
",
    );
    let links_before = f.host_links();
    up(&f);
    // a and both share front; both and b share back.
    let (code, out) = sh(&f, "a", "timeout 3 wget -qO- http://both/");
    assert_eq!((code, out.trim()), (0, "both"), "a -> both");
    let (code, out) = sh(&f, "both", "timeout 3 wget -qO- http://b/");
    assert_eq!((code, out.trim()), (0, "b"), "both -> b");
    let (code, out) = sh(&f, "both", "ip -4 -o addr show | grep -c 'eth[01]'");
    assert_eq!((code, out.trim()), (0, "2"), "two interfaces: {out}");
    // a cannot resolve b, nor reach its address.
    assert!(lookup(&f, "a", "b").is_empty(), "b resolved from a");
    let b_ip = lookup(&f, "both", "b");
    assert_eq!(b_ip.len(), 1);
    let (code, out) = sh(&f, "a", &format!("timeout 2 wget -qO- http://{}/", b_ip[0]));
    assert_ne!(code, 0, "a reached b at {}: {out}", b_ip[0]);
    down_and_check(&f, &links_before);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn fixed_addresses_and_internal_networks() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  fixed:
    image: busybox
    command: [sleep, '1000']
    networks:
      lan:
        ipv4_address: 10.123.0.50
  inside:
    image: busybox
    command: [sleep, '1000']
    networks: [sealed]
networks:
  lan:
    ipam:
      config:
        - subnet: 10.123.0.0/24
  sealed:
    internal: true
",
    );
    add_host_addr(&f);
    // An HTTP server on the stand-in host's own address.
    let server = f.in_host(|| TcpListener::bind((HOST_ADDR, 0)).expect("listen"));
    let port = server.local_addr().expect("addr").port();
    server.set_nonblocking(true).expect("nonblocking");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let serving = std::thread::spawn(move || {
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            match server.accept() {
                Ok((mut s, _)) => {
                    let mut buf = [0u8; 1024];
                    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                    let _ = s.read(&mut buf);
                    let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhost\n");
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    let links_before = f.host_links();
    up(&f);
    let (code, out) = sh(&f, "fixed", "ip -4 -o addr show eth0");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("10.123.0.50/24"), "{out}");
    let url = format!("http://{HOST_ADDR}:{port}/");
    let (code, out) = sh(&f, "fixed", &format!("timeout 3 wget -qO- {url}"));
    assert_eq!(
        (code, out.trim()),
        (0, "host"),
        "a normal network leads out"
    );
    let (code, out) = sh(&f, "inside", &format!("timeout 2 wget -qO- {url}"));
    assert_ne!(code, 0, "an internal network leads out: {out}");
    let (_, routes) = sh(&f, "inside", "ip route");
    assert!(
        !routes.contains("default"),
        "internal network with a default route: {routes}"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = serving.join();
    down_and_check(&f, &links_before);
    f.assert_clean();
}

/// Compiles the UDP echo server (busybox has none) statically into the project folder.
fn build_udp_echo(f: &Fixture) {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/udp_echo.c");
    let out = std::process::Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(f.project_dir.join("udp_echo"))
        .arg(src)
        .output()
        .expect("run cc (the tests need gcc and libc6-dev)");
    assert!(
        out.status.success(),
        "cc -static: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "needs root"]
fn published_tcp_and_udp_ports_reach_the_container_and_survive_a_restart() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  web:
    image: busybox
    command: [sh, -c, 'echo web > /tmp/index.html; exec httpd -f -p 80 -h /tmp']
    restart: always
    ports:
      - '18080:80'
  rnd:
    image: busybox
    command: [sh, -c, 'echo rnd > /tmp/index.html; exec httpd -f -p 80 -h /tmp']
    ports:
      - target: 80
        protocol: tcp
  udp:
    image: busybox
    command: [/udp_echo, '9999']
    volumes: ['./udp_echo:/udp_echo:ro']
    ports: ['19999:9999/udp']
  client:
    image: busybox
    command: [sleep, '1000']
",
    );
    build_udp_echo(&f);
    add_host_addr(&f);
    let links_before = f.host_links();
    up(&f);
    for host in ["127.0.0.1", HOST_ADDR] {
        let addr: SocketAddr = format!("{host}:18080").parse().expect("addr");
        let got = f.in_host(|| wait_for(5, || http_get(addr)));
        assert_eq!(got.as_deref(), Some("web"), "TCP through {addr}");
    }
    // The random host port `port` reports.
    let printed = ok(&f, &["port", "rnd", "80"]);
    let printed: Vec<&str> = printed.lines().collect();
    assert_eq!(printed.len(), 1, "{printed:?}");
    let random: u16 = printed[0]
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port");
    assert!(
        printed[0].starts_with("0.0.0.0:") && random != 18080,
        "{printed:?}"
    );
    let addr: SocketAddr = format!("127.0.0.1:{random}").parse().expect("addr");
    assert_eq!(f.in_host(|| http_get(addr)).as_deref(), Some("rnd"));
    // Another container reaches the published port through the host's address.
    let (code, out) = sh(
        &f,
        "client",
        &format!("timeout 3 wget -qO- http://{HOST_ADDR}:18080/"),
    );
    assert_eq!((code, out.trim()), (0, "web"), "hairpin");
    // UDP from the host's loopback and its own address, answered through the same mapping.
    for host in ["127.0.0.1", HOST_ADDR] {
        let echoed = f.in_host(|| {
            let s = UdpSocket::bind("0.0.0.0:0").expect("udp");
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .expect("timeout");
            let msg = format!("hello-{host}");
            wait_for(5, || {
                s.send_to(msg.as_bytes(), format!("{host}:19999")).ok()?;
                let mut buf = [0u8; 64];
                let (n, _) = s.recv_from(&mut buf).ok()?;
                Some(String::from_utf8_lossy(&buf[..n]).into_owned())
            })
        });
        assert_eq!(
            echoed,
            Some(format!("hello-{host}")),
            "UDP through {host}:19999"
        );
    }
    // The web container dies and its restart policy brings it back: same port, same name.
    let before = lookup(&f, "client", "web");
    let web = |f: &Fixture| {
        compose::engine::state::list(&f.root, Some(&f.project))
            .expect("state")
            .into_iter()
            .find(|o| o.record.service == "web")
            .expect("web")
    };
    let pid = web(&f).state.live_pid().expect("web runs");
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let restarted = wait_for(10, || {
        let o = web(&f);
        (o.state.restart_count == 1 && o.state.live_pid().is_some_and(|p| p != pid)).then_some(())
    });
    assert!(
        restarted.is_some(),
        "web was not restarted: {:?}",
        web(&f).state
    );
    let back = wait_for(10, || {
        let addr: SocketAddr = "127.0.0.1:18080".parse().expect("addr");
        f.in_host(|| http_get(addr))
    });
    assert_eq!(
        back.as_deref(),
        Some("web"),
        "published port after a restart"
    );
    assert_eq!(lookup(&f, "client", "web"), before, "name after a restart");
    // `compose restart` keeps resolving and being resolved too.
    ok(&f, &["restart", "-t", "0", "client"]);
    assert_eq!(
        lookup(&f, "client", "web"),
        before,
        "lookups from a restarted container"
    );
    let (code, _) = sh(&f, "web", "nslookup client >/dev/null");
    assert_eq!(code, 0, "a restarted container is found");
    down_and_check(&f, &links_before);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn two_stacks_with_the_same_service_names_do_not_see_each_other() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  web:
    image: busybox
    command: [sleep, '1000']
  client:
    image: busybox
    command: [sleep, '1000']
",
    );
    let links_before = f.host_links();
    let other = format!("{}x", f.project);
    up(&f);
    ok(&f, &["-p", &other, "up", "-d"]);
    let mine = lookup(&f, "client", "web");
    let o = f.compose(&["-p", &other, "exec", "-T", "client", "nslookup", "web"]);
    let theirs = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(mine.len(), 1);
    assert!(
        !theirs.contains(&mine[0]),
        "the other stack sees {}: {theirs}",
        mine[0]
    );
    let (code, out) = sh(&f, "client", "nslookup web | tail -n +3");
    assert_eq!(code, 0, "{out}");
    ok(&f, &["-p", &other, "down", "-t", "0"]);
    down_and_check(&f, &links_before);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn network_modes_mac_ipv6_and_host_entries() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  web:
    image: busybox
    command: [sh, -c, 'echo web > /tmp/index.html; exec httpd -f -p 80 -h /tmp']
    mac_address: 02:aa:bb:cc:dd:ee
    extra_hosts: ['gw:host-gateway', 'static:10.1.2.3']
    networks:
      default: {}
      v6:
        ipv6_address: fd00:db8:5::10
  side:
    image: busybox
    command: [sleep, '1000']
    network_mode: service:web
  lonely:
    image: busybox
    command: [sleep, '1000']
    network_mode: none
  hostnet:
    image: busybox
    command: [sleep, '1000']
    network_mode: host
networks:
  v6:
    enable_ipv6: true
    ipam:
      config:
        - subnet: 10.124.0.0/24
        - subnet: fd00:db8:5::/64
",
    );
    let links_before = f.host_links();
    up(&f);
    let (code, link) = sh(&f, "web", "ip link show eth0");
    assert_eq!(code, 0, "{link}");
    assert!(link.contains("02:aa:bb:cc:dd:ee"), "mac_address: {link}");
    let (_, v6) = sh(&f, "web", "ip -6 -o addr show");
    assert!(v6.contains("fd00:db8:5::10/64"), "ipv6_address: {v6}");
    let (_, route) = sh(&f, "web", "ip route show default");
    let gw = route
        .split_whitespace()
        .skip_while(|w| *w != "via")
        .nth(1)
        .expect("a default route")
        .to_string();
    let (_, hosts) = sh(&f, "web", "cat /etc/hosts");
    assert!(
        hosts.contains(&format!("{gw}\tgw")),
        "host-gateway: {hosts}"
    );
    assert!(hosts.contains("10.1.2.3\tstatic"), "{hosts}");
    // service:web shares web's network namespace (its localhost is web's).
    let (code, out) = sh(&f, "side", "timeout 3 wget -qO- http://127.0.0.1/");
    assert_eq!((code, out.trim()), (0, "web"), "network_mode service:");
    let (_, links) = sh(&f, "lonely", "ip -o link show");
    assert_eq!(links.lines().count(), 1, "network_mode none: {links}");
    let (_, links) = sh(&f, "hostnet", "ip -o link show");
    assert!(
        links.contains("br-"),
        "network_mode host sees the host's bridges: {links}"
    );
    down_and_check(&f, &links_before);
    f.assert_clean();
}

/// Issue 11 item 9: two state roots running a project of the same name (two checkouts, two
/// CI jobs) each get their own bridge and rules; `down` in one leaves the other working.
#[test]
#[ignore = "needs root"]
fn the_same_project_under_two_state_roots_keeps_two_networks() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  web:
    image: busybox
    command: [httpd, -f, -p, '80', -h, /etc]
  client:
    image: busybox
    command: [sleep, '1000']
",
    );
    let mut g = f.twin();
    assert_eq!(f.project, g.project);
    let links_before = f.host_links();
    up(&f);
    up(&g);
    let links = f.host_links();
    let bridges: Vec<&String> = links.iter().filter(|l| l.starts_with("br-")).collect();
    assert_eq!(bridges.len(), 2, "one bridge per state root: {links:?}");
    ok(&f, &["down", "-t", "0"]);
    let left = g.host_links();
    let kept: Vec<&&String> = bridges.iter().filter(|b| left.contains(b)).collect();
    assert_eq!(
        kept.len(),
        1,
        "the other root's bridge went with down: {left:?}"
    );
    let (_, rules) = g.host_rules();
    assert!(
        rules
            .iter()
            .any(|r| r.contains(&format!("net:{}", kept[0]))),
        "the other root's rules went with down: {rules:?}"
    );
    let (code, out) = sh(&g, "client", "timeout 3 wget -qO- http://web/passwd");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("root:"), "{out}");
    down_and_check(&g, &links_before);
    f.assert_clean();
    g.assert_clean();
}

/// A command that looks a name up the moment it starts gets an answer: the embedded resolver
/// listens before the command runs (it came up just after, so `nslookup` at once found
/// 127.0.0.11 silent and failed). Docker's resolver is there before the container starts too.
#[test]
#[ignore = "needs root"]
fn a_lookup_made_the_moment_a_container_starts_is_answered() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:\n  db:\n    image: busybox\n    command: [sleep, '1000']\n    stop_signal: KILL\n  \
         app:\n    image: busybox\n    depends_on: [db]\n    restart: 'no'\n    \
         command: [sh, -c, 'for i in 1 2 3 4 5; do nslookup db >/dev/null 2>&1 || exit 7; done']\n",
    );
    let links_before = f.host_links();
    for round in 0..5 {
        ok(&f, &["up", "-d", "--force-recreate"]);
        let exited = wait_for(10, || {
            let ps = ok(&f, &["ps", "-a", "app", "--format", "json"]);
            ps.contains("exited").then_some(ps)
        })
        .expect("app never exited");
        assert!(
            exited.contains("\"ExitCode\":0"),
            "round {round}: the first lookups went unanswered: {exited}"
        );
    }
    down_and_check(&f, &links_before);
    f.assert_clean();
}
