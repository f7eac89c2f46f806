//! End-to-end tests of the namespaces a container shares with the host or with another container
//! (`pid`, `ipc`, `uts`, `cgroup`, `userns_mode`), of `depends_on.restart`, of the embedded DNS
//! beside a container's own port 53 and of the network keys of issue 12 (root; skipped with a
//! reason otherwise). Each effect is observed from inside the containers. Host namespaces are
//! only looked at, never changed: nothing here signals or writes anything outside the test's
//! containers.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use support::engine::{ok, text, Fixture};

/// `compose exec -T SERVICE sh -c SCRIPT`: (exit code, stdout + stderr).
fn sh(f: &Fixture, service: &str, script: &str) -> (i32, String) {
    let o = f.compose(&["exec", "-T", service, "sh", "-c", script]);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

/// The output of a script that must succeed, trimmed.
fn out(f: &Fixture, service: &str, script: &str) -> String {
    let (code, o) = sh(f, service, script);
    assert_eq!(code, 0, "{service}: {script}: {o}");
    o.trim().to_string()
}

/// This test process's own namespace `kind` (`pid:[4026531836]`).
fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .expect("own namespace")
        .to_string_lossy()
        .into_owned()
}

/// Docker Compose's `pid: service:`, `ipc: service:` (System V and POSIX shared memory both
/// shared), `ipc: none`, and the service they name started first (listed after its dependent).
#[test]
#[ignore = "needs root"]
fn pid_and_ipc_of_another_service_are_shared_and_ipc_none_has_no_shm_as_docker_compose() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  joiner:
    image: busybox
    command: sleep 300
    pid: service:donor
    ipc: service:donor
  donor:
    image: busybox
    command: sleep 300
    ipc: shareable
  lonely:
    image: busybox
    command: sleep 300
    ipc: none
",
    );
    ok(&f, &["up", "-d"]);
    for kind in ["pid", "ipc"] {
        let theirs = out(&f, "donor", &format!("readlink /proc/self/ns/{kind}"));
        let ours = out(&f, "joiner", &format!("readlink /proc/self/ns/{kind}"));
        assert_eq!(theirs, ours, "{kind} namespace not shared");
        let lonely = out(&f, "lonely", &format!("readlink /proc/self/ns/{kind}"));
        assert_ne!(
            theirs, lonely,
            "{kind} namespace shared with an unrelated container"
        );
    }
    // The donor's PID 1 is seen (and is the donor's `sleep`), the joiner's own process too.
    let ps = out(
        &f,
        "joiner",
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /proc | grep -c '^[0-9]'",
    );
    assert!(ps.starts_with("sleep 300"), "{ps}");
    // POSIX shared memory: what one writes in /dev/shm the other reads.
    out(&f, "donor", "echo shared > /dev/shm/token");
    assert_eq!(out(&f, "joiner", "cat /dev/shm/token"), "shared");
    // A one-off container of the service joins them too.
    let (code, stdout, stderr) = f.run(
        "joiner",
        &["sh", "-c", "cat /dev/shm/token; cat /proc/1/cmdline"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.starts_with("shared\nsleep"), "{stdout}");
    // `ipc: none`: no /dev/shm mount at all.
    let mounts = out(&f, "lonely", "grep -c ' /dev/shm ' /proc/mounts || true");
    assert_eq!(mounts, "0", "ipc: none still has /dev/shm");
    assert_eq!(out(&f, "donor", "grep -c ' /dev/shm ' /proc/mounts"), "1");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// Docker Compose's `pid: host`, `ipc: host`, `uts: host`, `cgroup: host` and `userns_mode:
/// host`: the container sees the host's namespaces (only read here).
#[test]
#[ignore = "needs root"]
fn host_pid_ipc_uts_and_cgroup_namespaces_are_the_hosts_as_docker_compose() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  h:
    image: busybox
    command: sleep 300
    pid: host
    ipc: host
    uts: host
    cgroup: host
    userns_mode: host
  p:
    image: busybox
    command: sleep 300
    cgroup: private
",
    );
    ok(&f, &["up", "-d"]);
    for kind in ["pid", "ipc", "uts", "cgroup"] {
        let inside = out(&f, "h", &format!("readlink /proc/self/ns/{kind}"));
        assert_eq!(inside, host_ns(kind), "{kind}: not the host's");
        let private = out(&f, "p", &format!("readlink /proc/self/ns/{kind}"));
        assert_ne!(
            private,
            host_ns(kind),
            "{kind}: a private container got the host's"
        );
    }
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    assert_eq!(out(&f, "h", "hostname"), host);
    // The host's processes are visible: this test's own PID is there.
    let me = std::process::id();
    out(&f, "h", &format!("test -d /proc/{me}"));
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// Forms the engine cannot honour are refused by service and key, and nothing starts.
#[test]
#[ignore = "needs root"]
fn namespace_modes_that_cannot_be_honoured_are_refused_by_key() {
    require_engine!();
    for (body, key) in [
        ("pid: bogus", "pid"),
        ("userns_mode: keep-id", "userns_mode"),
        ("uts: host\n    hostname: named", "uts"),
    ] {
        let mut f = Fixture::new(&format!(
            "services:\n  s:\n    image: busybox\n    command: sleep 300\n    {body}\n"
        ));
        let o = f.compose(&["up", "-d"]);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success(), "{body}: {}", text(&o));
        assert!(err.contains(&format!("service s: {key}")), "{body}: {err}");
        let ps = ok(&f, &["ps", "-a", "-q"]);
        assert!(ps.trim().is_empty(), "{body}: a container was made: {ps}");
        f.assert_clean();
    }
}

/// When the container's PID 1 started (clock ticks since boot): changes with each restart.
fn started(f: &Fixture, service: &str) -> String {
    out(f, service, "cut -d' ' -f22 /proc/1/stat")
}

const RESTART_WITH_DB: &str = "services:
  api:
    image: busybox
    command: sleep 300
    depends_on:
      db: {condition: service_started, restart: true}
  other:
    image: busybox
    command: sleep 300
    depends_on: [db]
  db:
    image: busybox
    command: sleep 300
    environment: {GEN: '1'}
";

/// Docker Compose's `depends_on.<svc>.restart: true`: `compose restart db` restarts `api` too
/// (after `db`), and leaves `other` (a plain dependency) alone.
#[test]
#[ignore = "needs root"]
fn restarting_a_dependency_restarts_its_dependents_with_restart_true_as_docker_compose() {
    require_engine!();
    let mut f = Fixture::new(RESTART_WITH_DB);
    ok(&f, &["up", "-d"]);
    let before: Vec<String> = ["api", "other", "db"]
        .iter()
        .map(|s| started(&f, s))
        .collect();
    // Clock ticks are 10 ms: a restart must be seen as a later start.
    std::thread::sleep(std::time::Duration::from_millis(50));
    let o = f.compose(&["restart", "-t", "0", "db"]);
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let db_at = err.find("db-1").expect("db restarted");
    let api_at = err.find("api-1").expect("api restarted");
    assert!(db_at < api_at, "api restarted before db:\n{err}");
    assert_ne!(started(&f, "db"), before[2], "db not restarted");
    assert_ne!(
        started(&f, "api"),
        before[0],
        "api (restart: true) not restarted"
    );
    assert_eq!(
        started(&f, "other"),
        before[1],
        "other (no restart: true) restarted"
    );
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// Docker Compose's `depends_on.<svc>.restart: true` on `up`: a changed `db` is recreated, and
/// `api` is restarted with it (recreated here), `other` left running.
#[test]
#[ignore = "needs root"]
fn recreating_a_dependency_on_up_restarts_its_dependents_with_restart_true_as_docker_compose() {
    require_engine!();
    let mut f = Fixture::new(RESTART_WITH_DB);
    ok(&f, &["up", "-d"]);
    let before: Vec<String> = ["api", "other"].iter().map(|s| started(&f, s)).collect();
    std::thread::sleep(std::time::Duration::from_millis(50));
    std::fs::write(
        f.project_dir.join("compose.yaml"),
        RESTART_WITH_DB.replace("GEN: '1'", "GEN: '2'"),
    )
    .expect("compose.yaml");
    ok(&f, &["up", "-d"]);
    assert_eq!(out(&f, "db", "echo $GEN"), "2");
    assert_ne!(
        started(&f, "api"),
        before[0],
        "api (restart: true) not restarted"
    );
    assert_eq!(
        started(&f, "other"),
        before[1],
        "other (no restart: true) restarted"
    );
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// The network namespace of `service`'s container (its PID 1's), opened from the test.
fn netns_of(f: &Fixture, service: &str) -> std::os::fd::OwnedFd {
    let list = compose::engine::state::list(&f.root, Some(&f.project)).expect("state");
    let o = list
        .iter()
        .find(|o| o.record.service == service)
        .expect("container");
    let pid = o.state.live_pid().expect("running");
    compose::engine::network::link::open_netns(pid as u32).expect("netns")
}

/// Docker's embedded DNS leaves the container's port 53 free: a DNS server of the container's
/// own binds `0.0.0.0:53` (TCP here by busybox `httpd`, UDP by a socket this test makes in the
/// container's namespace), and `nslookup other 127.0.0.11` is still answered by the resolver.
#[test]
#[ignore = "needs root"]
fn a_container_binds_port_53_itself_and_the_embedded_dns_still_answers_as_docker() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  dns:
    image: busybox
    command: httpd -f -p 53
  other:
    image: busybox
    command: sleep 300
",
    );
    ok(&f, &["up", "-d"]);
    let tcp = out(&f, "dns", "netstat -ltn | grep -c ':53 '");
    assert_eq!(tcp, "1", "the container could not listen on tcp port 53");
    let ns = netns_of(&f, "dns");
    use std::os::fd::AsFd;
    let udp = compose::engine::network::link::in_netns(ns.as_fd(), || {
        std::net::UdpSocket::bind("0.0.0.0:53")
    })
    .expect("enter the container's namespace");
    let udp = udp.expect("udp 0.0.0.0:53 in the container's namespace is taken");
    let other_ip = out(
        &f,
        "other",
        "ip -4 -o addr show eth0 | sed 's/.*inet \\([0-9.]*\\).*/\\1/'",
    );
    let answer = out(&f, "dns", "nslookup other 127.0.0.11");
    assert!(
        answer.contains(&other_ip),
        "other ({other_ip}) not resolved: {answer}"
    );
    drop(udp);
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// `network_mode: bridge` (Docker's daemon-wide bridge) is refused by service and key before
/// anything is created, not "refers to undefined network default".
#[test]
#[ignore = "needs root"]
fn network_mode_bridge_is_a_clear_error_and_nothing_starts() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  a:
    image: busybox
    command: sleep 300
  b:
    image: busybox
    command: sleep 300
    network_mode: bridge
",
    );
    let o = f.compose(&["up", "-d"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        err.contains("service b: network_mode \"bridge\""),
        "no clear error: {err}"
    );
    assert!(!err.contains("undefined network"), "{err}");
    let ps = ok(&f, &["ps", "-a", "-q"]);
    assert!(ps.trim().is_empty(), "a container was made: {ps}");
    f.assert_clean();
}

/// Docker's `networks.<net>.link_local_ips`: the addresses are on the container's interface of
/// that network (with Docker's /16), beside its own address, and not published for discovery.
#[test]
#[ignore = "needs root"]
fn link_local_ips_are_on_the_containers_interface_as_docker() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  a:
    image: busybox
    command: sleep 300
    networks:
      default:
        link_local_ips: [169.254.10.20]
  b:
    image: busybox
    command: sleep 300
",
    );
    ok(&f, &["up", "-d"]);
    let addrs = out(&f, "a", "ip -4 -o addr show eth0");
    assert!(addrs.contains("inet 169.254.10.20/16"), "{addrs}");
    // The project address is still the first, and the only one found by name.
    let first = out(&f, "a", "ip -4 -o addr show eth0 | head -1");
    assert!(!first.contains("169.254"), "{first}");
    let answer = out(&f, "b", "nslookup a 127.0.0.11");
    assert!(!answer.contains("169.254.10.20"), "{answer}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// Docker Compose's `external_links`: a container of another project, on a network both share,
/// is found by its name and by the alias given; one that does not exist is a clear error
/// before anything is created.
#[test]
#[ignore = "needs root"]
fn external_links_resolve_a_container_outside_the_project_as_docker_compose() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  web:
    image: busybox
    command: sleep 300
    external_links: [OTHER-db-1:database]
    networks: [shared]
networks:
  shared: {external: true, name: OTHER-shared}
",
    );
    // The other project: its own name, and the network it makes, both unique to this test.
    let other = format!("{}x", f.project);
    let yaml = std::fs::read_to_string(f.project_dir.join("compose.yaml")).expect("yaml");
    std::fs::write(
        f.project_dir.join("compose.yaml"),
        yaml.replace("OTHER", &other),
    )
    .expect("yaml");
    std::fs::write(
        f.project_dir.join("other.yaml"),
        format!(
            "services:
  db:
    image: busybox
    command: sleep 300
    networks: [shared]
networks:
  shared: {{name: {other}-shared}}
"
        ),
    )
    .expect("other.yaml");
    let other_args = |cmd: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["-p", &other, "-f", "other.yaml"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(cmd.iter().map(|s| s.to_string()));
        v
    };
    // Without the other container: refused, nothing made.
    let o = f.compose(&["up", "-d"]);
    assert!(!o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("service web: external_links") && err.contains("no such container"),
        "{err}"
    );
    let args = other_args(&["up", "-d"]);
    ok(&f, &args.iter().map(String::as_str).collect::<Vec<_>>());
    ok(&f, &["up", "-d"]);
    let db_ip = {
        let args = other_args(&[
            "exec",
            "-T",
            "db",
            "sh",
            "-c",
            "ip -4 -o addr show eth0 | sed 's/.*inet \\([0-9.]*\\).*/\\1/'",
        ]);
        ok(&f, &args.iter().map(String::as_str).collect::<Vec<_>>())
            .trim()
            .to_string()
    };
    for name in ["database", &format!("{other}-db-1")] {
        let answer = out(&f, "web", &format!("nslookup {name} 127.0.0.11"));
        assert!(
            answer.contains(&db_ip),
            "{name} not resolved to {db_ip}: {answer}"
        );
    }
    ok(&f, &["down", "-t", "0"]);
    let args = other_args(&["down", "-t", "0"]);
    ok(&f, &args.iter().map(String::as_str).collect::<Vec<_>>());
    f.assert_clean();
}
