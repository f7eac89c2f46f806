//! End-to-end tests of `compose run` over real containers (root; skipped with a reason otherwise).
//! Each test has its own state root, project and cgroup parent, and its fixture asserts that no
//! mount, cgroup or container state is left behind, even when the test fails.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use support::engine::Fixture;

const BASIC: &str = "services:\n  app:\n    image: busybox\n";

#[test]
#[ignore = "needs root"]
fn exit_codes_propagate() {
    require_engine!();
    let mut f = Fixture::new(BASIC);
    for (cmd, want) in [
        ("exit 0", 0),
        ("exit 1", 1),
        ("exit 42", 42),
        ("true", 0),
        ("false", 1),
    ] {
        let (code, _, err) = f.run("app", &["sh", "-c", cmd]);
        assert_eq!(code, want, "{cmd}: {err}");
    }
    // PID 1 cannot be killed from inside its namespace (not even by SIGKILL), as with Docker.
    let (code, _, err) = f.run("app", &["sh", "-c", "kill -9 1; exit 5"]);
    assert_eq!(code, 5, "{err}");
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn signals_to_the_cli_reach_the_container_and_death_is_128_plus_signal() {
    require_engine!();
    let mut f = Fixture::new("services:\n  app:\n    image: busybox\n    init: true\n");
    let stop = |svc: &str, sig: i32| -> i32 {
        let mut child = f
            .command(&[
                "run",
                "--rm",
                "-T",
                svc,
                "sh",
                "-c",
                "echo ready; exec sleep 30",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn compose");
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("ready line");
        assert_eq!(line, "ready\n");
        unsafe { libc::kill(child.id() as i32, sig) };
        let t = std::time::Instant::now();
        let status = child.wait().expect("wait");
        assert!(
            t.elapsed() < std::time::Duration::from_secs(10),
            "the signal did not stop it"
        );
        status.code().unwrap_or(-1)
    };
    // With init: true, SIGTERM reaches sleep, which dies of it: 128 + 15.
    assert_eq!(stop("app", libc::SIGTERM), 143);
    // Any signal the CLI can catch is passed on, not only SIGTERM.
    assert_eq!(stop("app", libc::SIGUSR1), 128 + libc::SIGUSR1);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn the_command_is_pid_1_with_its_own_hostname_and_proc() {
    require_engine!();
    let mut f = Fixture::new("services:\n  app:\n    image: busybox\n    hostname: inside\n");
    let (code, out, err) = f.run(
        "app",
        &[
            "sh",
            "-c",
            "echo pid=$$; hostname; ps -o pid,comm | wc -l; cat /proc/1/cmdline | tr '\\0' ' '",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "pid=1");
    assert_eq!(lines[1], "inside");
    // Only the container's processes are visible: header + sh + ps (+ wc, cat may show).
    let count: usize = lines[2].trim().parse().expect("a count");
    assert!(count <= 5, "the host's processes are visible: {count}");
    assert!(lines[3].starts_with("sh -c"), "{out}");
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn writes_land_in_the_upper_dir_only_and_read_only_refuses_them() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  app:\n    image: busybox\n  ro:\n    image: busybox\n    read_only: true\n    tmpfs: [/scratch]\n",
    );
    // Without --rm the container's state stays: its upper dir holds the file, the image does not.
    let out = f.compose(&["run", "-T", "app", "sh", "-c", "echo data > /created.txt"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let containers: Vec<_> = std::fs::read_dir(f.root.join("containers"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(containers.len(), 1);
    let upper = containers[0].path().join("upper/created.txt");
    assert_eq!(std::fs::read_to_string(&upper).unwrap(), "data\n");
    let layers = f.root.join("images/layers");
    let in_layers = std::process::Command::new("find")
        .arg(&layers)
        .args(["-name", "created.txt"])
        .output()
        .unwrap();
    assert!(
        in_layers.stdout.is_empty(),
        "the image layer was written to"
    );
    std::fs::remove_dir_all(containers[0].path()).unwrap();

    let (code, out, err) = f.run(
        "ro",
        &[
            "sh",
            "-c",
            "touch /x 2>&1; echo rc=$?; touch /scratch/y && echo tmpfs-ok",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.contains("rc=1"), "{out}");
    assert!(out.contains("tmpfs-ok"), "{out}");
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn memory_limit_oom_kill_is_reported() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  app:\n    image: busybox\n    mem_limit: 16m\n    memswap_limit: 16m\n",
    );
    // dd holds one 64 MiB block in memory.
    let (code, _, err) = f.run(
        "app",
        &["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
    );
    assert_eq!(code, 137, "{err}");
    assert!(err.contains("out of memory"), "{err}");
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn pids_limit_stops_a_fork_bomb() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  app:\n    image: busybox\n    pids_limit: 20\n  free:\n    image: busybox\n",
    );
    let bomb = "i=0; while [ $i -lt 60 ]; do sleep 5 & i=$((i+1)); done; echo all-started";
    // Without a limit, 60 processes start.
    let (code, out, err) = f.run("free", &["sh", "-c", bomb]);
    assert_eq!((code, out.as_str()), (0, "all-started\n"), "{err}");
    // With pids_limit 20, fork fails and the shell gives up.
    let (code, out, err) = f.run("app", &["sh", "-c", bomb]);
    assert_ne!(code, 0, "{out}");
    assert!(!out.contains("all-started"), "{out}");
    assert!(err.contains("can't fork"), "{err}");
    f.assert_clean();
}

/// Docker's default capability set, as /proc/<pid>/status prints it.
const DOCKER_CAPEFF: &str = "00000000a80425fb";

#[test]
#[ignore = "needs root"]
fn capabilities_are_dockers_and_cap_add_drop_change_them() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  app:\n    image: busybox\n  less:\n    image: busybox\n    cap_drop: [NET_RAW, chown]\n  more:\n    image: busybox\n    cap_add: [SYS_ADMIN]\n",
    );
    let cap = |svc: &str| {
        let (code, out, err) = f.run(svc, &["sh", "-c", "grep CapEff /proc/self/status"]);
        assert_eq!(code, 0, "{err}");
        out.trim().trim_start_matches("CapEff:").trim().to_string()
    };
    assert_eq!(cap("app"), DOCKER_CAPEFF);
    // NET_RAW is bit 13, CHOWN bit 0.
    assert_eq!(
        u64::from_str_radix(&cap("less"), 16).unwrap(),
        0xa80425fb & !(1 << 13) & !1
    );
    // SYS_ADMIN is bit 21.
    assert_eq!(
        u64::from_str_radix(&cap("more"), 16).unwrap(),
        0xa80425fb | (1 << 21)
    );
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn default_seccomp_blocks_and_unconfined_allows() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  app:\n    image: busybox\n  free:\n    image: busybox\n    security_opt: [seccomp=unconfined]\n",
    );
    // Creating a user namespace needs no capability, but Docker's profile forbids it.
    let (code, out, _) = f.run(
        "app",
        &[
            "sh",
            "-c",
            "/bin/busybox unshare -U true 2>&1; echo rc=$?; grep '^Seccomp:' /proc/self/status",
        ],
    );
    assert_eq!(code, 0);
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    let (code, out, _) = f.run(
        "free",
        &[
            "sh",
            "-c",
            "/bin/busybox unshare -U true; echo rc=$?; grep '^Seccomp:' /proc/self/status",
        ],
    );
    assert_eq!(code, 0);
    assert!(out.contains("rc=0"), "{out}");
    assert!(out.contains("Seccomp:\t0"), "{out}");
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn masked_paths_are_unreadable_and_proc_sys_is_read_only() {
    require_engine!();
    let mut f = Fixture::new(BASIC);
    let (code, out, err) = f.run(
        "app",
        &["sh", "-c", "cat /proc/timer_list /proc/keys | wc -c; ls /sys/firmware | wc -l; (echo 1 > /proc/sys/kernel/domainname) 2>&1; echo rc=$?"],
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].trim(),
        "0",
        "/proc/timer_list or /proc/keys readable: {out}"
    );
    assert_eq!(lines[1].trim(), "0", "/sys/firmware visible: {out}");
    assert!(out.contains("Read-only file system"), "{out}");
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn user_is_resolved_from_the_image() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  num:\n    image: busybox\n    user: \"1000:1000\"\n  name:\n    image: busybox\n    user: app\n",
    );
    let (code, out, err) = f.run("num", &["id"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("uid=1000"), "{out}");
    assert!(out.contains("gid=1000"), "{out}");
    let (code, out, err) = f.run(
        "name",
        &[
            "sh",
            "-c",
            "id -u; echo $HOME; grep CapEff /proc/self/status",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1000");
    assert!(
        lines[2].ends_with("0000000000000000"),
        "a non-root user keeps no effective capability: {out}"
    );
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn command_not_found_is_127_with_a_clear_message() {
    require_engine!();
    let mut f = Fixture::new(BASIC);
    let (code, _, err) = f.run("app", &["no-such-command"]);
    assert_eq!(code, 127);
    assert!(err.contains("no-such-command"), "{err}");
    assert!(err.contains("executable file not found"), "{err}");
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn volumes_binds_and_environment() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  app:\n    image: busybox\n    environment:\n      GREETING: hello\n    volumes:\n      - ./data:/data\n      - cache:/cache\nvolumes:\n  cache: {}\n",
    );
    std::fs::create_dir_all(f.project_dir.join("data")).unwrap();
    std::fs::write(f.project_dir.join("data/in.txt"), "from host\n").unwrap();
    let (code, out, err) = f.run(
        "app",
        &["sh", "-c", "cat /data/in.txt; echo $GREETING $EXTRA; echo out > /data/out.txt; echo kept > /cache/k"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "from host\nhello\n");
    assert_eq!(
        std::fs::read_to_string(f.project_dir.join("data/out.txt")).unwrap(),
        "out\n"
    );
    let out = f.compose(&[
        "run",
        "--rm",
        "-T",
        "-e",
        "EXTRA=x",
        "app",
        "sh",
        "-c",
        "cat /cache/k; echo $EXTRA",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "kept\nx\n");
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn the_host_binary_cannot_be_reached_from_the_container() {
    require_engine!();
    // With init: true our set-up process stays PID 1, running the compose binary. The container
    // must not be able to write it through /proc/1/exe (CVE-2019-5736): with Docker's default
    // capabilities it cannot even open it (the process is not dumpable); with every capability
    // (CAP_SYS_PTRACE included) it can read it, but the binary sits on a read-only mount.
    let mut f = Fixture::new(
        "services:\n  app:\n    image: busybox\n    init: true\n  all:\n    image: busybox\n    init: true\n    cap_add: [ALL]\n",
    );
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_compose"));
    let before = std::fs::read(bin).unwrap();
    let probe = "echo x >> /proc/1/exe 2>/dev/null; echo write=$?; head -c 4 /proc/1/exe >/dev/null 2>&1; echo read=$?";
    let (code, out, err) = f.run("app", &["sh", "-c", probe]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "write=1\nread=1\n");
    let (code, out, err) = f.run("all", &["sh", "-c", probe]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("write=1\n"),
        "the binary was writable: {out}"
    );
    assert_eq!(
        std::fs::read(bin).unwrap(),
        before,
        "the host binary changed"
    );
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn a_new_named_volume_is_filled_from_the_image() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  app:\n    image: busybox\n    volumes:\n      - etc:/etc\nvolumes:\n  etc: {}\n",
    );
    let (code, out, err) = f.run(
        "app",
        &["sh", "-c", "head -1 /etc/passwd; echo added > /etc/added"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("root:"), "{out}");
    let volume = f.root.join(format!("volumes/{}_etc/_data", f.project));
    assert!(
        volume.join("passwd").is_file(),
        "not copied up: {}",
        volume.display()
    );
    // Second use: the volume keeps what the container wrote and is not filled again.
    std::fs::remove_file(volume.join("passwd")).unwrap();
    let (code, out, err) = f.run(
        "app",
        &["sh", "-c", "cat /etc/added; ls /etc/passwd 2>&1; true"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("added\n"), "{out}");
    assert!(out.contains("No such file"), "{out}");
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn the_cgroup_filesystem_shows_the_containers_own_limits() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  app:\n    image: busybox\n    mem_limit: 24m\n    pids_limit: 33\n",
    );
    let v1 = std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists();
    let probe = if v1 {
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; touch /sys/fs/cgroup/x 2>&1; true"
    } else {
        "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; touch /sys/fs/cgroup/x 2>&1; true"
    };
    let (code, out, err) = f.run("app", &["sh", "-c", probe]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], (24u64 << 20).to_string(), "{out}");
    assert_eq!(lines[1], "33", "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn a_terminal_on_stdin_gives_the_container_a_tty() {
    require_engine!();
    let mut f = Fixture::new(BASIC);
    use rustix::pty::OpenptFlags;
    use std::os::fd::AsFd;
    let master =
        rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .unwrap();
    rustix::pty::grantpt(&master).unwrap();
    rustix::pty::unlockpt(&master).unwrap();
    let name = rustix::pty::ptsname(&master, Vec::new()).unwrap();
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().unwrap())
        .unwrap();
    let mut child = f
        .command(&[
            "run",
            "--rm",
            "app",
            "sh",
            "-c",
            "test -t 0 && test -t 1 && echo is-a-tty; tty; exit 7",
        ])
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    let status = child.wait().unwrap();
    // Everything the container wrote is waiting on the master side.
    rustix::fs::fcntl_setfl(master.as_fd(), rustix::fs::OFlags::NONBLOCK).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = rustix::io::read(&master, &mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    let out = String::from_utf8_lossy(&out);
    assert_eq!(status.code(), Some(7), "{out}");
    assert!(out.contains("is-a-tty"), "{out}");
    assert!(
        out.contains("/dev/pts/0") || out.contains("/dev/console"),
        "{out}"
    );
    f.assert_clean();
}

/// Polls `cond` for up to 20 s.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < until {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

#[test]
#[ignore = "needs root"]
fn detached_run_outlives_the_cli_and_records_logs_and_exit() {
    require_engine!();
    let mut f = Fixture::new(BASIC);
    let t = std::time::Instant::now();
    let out = f.compose(&[
        "run",
        "-d",
        "app",
        "sh",
        "-c",
        "echo hello; echo oops >&2; sleep 4; exit 3",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        t.elapsed() < std::time::Duration::from_secs(3),
        "run -d waited for the container"
    );
    // Docker Compose prints the detached one-off's full ID (as `docker start` does).
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    let dir = f.root.join("containers").join(&id);
    let record = std::fs::read_to_string(dir.join("container.json")).unwrap();
    assert!(
        record.contains(&format!("\"{}-app-run-", f.project)),
        "{record}"
    );
    let state = || std::fs::read_to_string(dir.join("state.json")).unwrap_or_default();
    assert!(state().contains("\"running\""), "{}", state());
    assert!(eventually(|| state().contains("\"exited\"")), "{}", state());
    let s: serde_json::Value = serde_json::from_str(&state()).unwrap();
    assert_eq!(s["exit_code"], 3);
    let log = std::fs::read_to_string(dir.join("container.log")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    let stdout = lines.iter().find(|l| l["stream"] == "stdout").unwrap();
    assert_eq!(stdout["log"], "hello\n");
    assert!(stdout["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        lines.iter().find(|l| l["stream"] == "stderr").unwrap()["log"],
        "oops\n"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn detached_run_with_rm_leaves_nothing_once_done() {
    require_engine!();
    let mut f = Fixture::new(BASIC);
    let out = f.compose(&["run", "-d", "--rm", "app", "sh", "-c", "sleep 0.3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let containers = f.root.join("containers");
    assert!(eventually(|| std::fs::read_dir(&containers)
        .map(|d| d.count() == 0)
        .unwrap_or(true)));
    // The monitor removes the cgroup just before the state: give it the moment it needs.
    std::thread::sleep(std::time::Duration::from_millis(50));
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn dns_settings_and_extra_hosts_reach_the_container() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  app:\n    image: busybox\n    hostname: web\n    dns: [192.0.2.53]\n    dns_search: [svc.example]\n    extra_hosts: ['db:10.0.0.5']\n",
    );
    let (code, out, err) = f.run(
        "app",
        &[
            "sh",
            "-c",
            "cat /etc/resolv.conf; grep -E 'db|web' /etc/hosts; hostname",
        ],
    );
    assert_eq!(code, 0, "{err}");
    // On the project network the container asks the embedded resolver, which forwards names
    // that are not the project's to `dns:`; its own name maps to its network address.
    let (ip, _) = out
        .lines()
        .find(|l| l.ends_with("\tweb"))
        .and_then(|l| l.split_once('\t'))
        .expect("own name in /etc/hosts");
    assert!(
        ip.parse::<std::net::Ipv4Addr>().is_ok() && ip != "127.0.1.1",
        "{out}"
    );
    assert_eq!(
        out,
        format!(
            "nameserver 127.0.0.11\nsearch svc.example\noptions ndots:0\n10.0.0.5\tdb\n{ip}\tweb\nweb\n"
        )
    );
    // Without a network (network_mode: none) the resolvers are written as they are.
    std::fs::write(
        f.project_dir.join("compose.yaml"),
        "services:\n  app:\n    image: busybox\n    hostname: web\n    network_mode: none\n    dns: [192.0.2.53]\n    dns_search: [svc.example]\n    extra_hosts: ['db:10.0.0.5']\n",
    )
    .expect("write");
    let (code, out, err) = f.run(
        "app",
        &[
            "sh",
            "-c",
            "cat /etc/resolv.conf; grep -E 'db|web' /etc/hosts",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "nameserver 192.0.2.53\nsearch svc.example\n10.0.0.5\tdb\n127.0.1.1\tweb\n"
    );
    f.assert_clean();
}

/// As Docker Compose's `run`: the service's dependencies are brought up first, honouring their
/// conditions (a healthy `db`, a one-shot `init` that completed), unless `--no-deps`.
#[test]
#[ignore = "needs root"]
fn run_starts_dependencies_and_waits_for_their_conditions_like_docker_compose() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  db:
    image: busybox
    command: [sh, -c, 'echo stored > /tmp/index.html; httpd -p 80 -h /tmp; sleep 0.5; touch /tmp/ready; exec sleep 1000']
    stop_signal: KILL
    healthcheck:
      test: [CMD-SHELL, test -f /tmp/ready]
      interval: 100ms
      start_interval: 100ms
      start_period: 5s
  init:
    image: busybox
    command: [sh, -c, 'sleep 0.2']
  app:
    image: busybox
    depends_on:
      db: {condition: service_healthy}
      init: {condition: service_completed_successfully}
",
    );
    let services = |f: &Fixture| -> Vec<String> {
        let mut s: Vec<String> = compose::engine::state::list(&f.root, Some(&f.project))
            .expect("state")
            .into_iter()
            .filter(|o| !o.record.one_off)
            .map(|o| o.record.service)
            .collect();
        s.sort();
        s
    };
    // --no-deps: nothing else is started.
    let out = f.compose(&[
        "run",
        "--rm",
        "--no-deps",
        "-T",
        "app",
        "sh",
        "-c",
        "exit 3",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        support::engine::text(&out)
    );
    assert_eq!(services(&f), Vec::<String>::new());

    // Without it: db is healthy and init has completed when the command runs.
    let (code, stdout, stderr) = f.run(
        "app",
        &["sh", "-c", "timeout 3 wget -qO- http://db/ && echo reached"],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("stored") && stdout.contains("reached"),
        "{stdout}\n{stderr}"
    );
    assert!(stderr.contains("Healthy"), "{stderr}");
    assert_eq!(services(&f), ["db", "init"]);
    let ps = support::engine::ok(&f, &["ps", "-a", "--format", "json"]);
    let state_of = |svc: &str| {
        ps.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["Service"] == svc)
            .unwrap_or_else(|| panic!("{svc} in {ps}"))
    };
    assert_eq!(state_of("db")["Health"], "healthy", "{ps}");
    assert_eq!(state_of("init")["ExitCode"], 0, "{ps}");
    support::engine::ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// A `run --rm` container's record is written without syncing its name and its run state
/// without any sync (they are removed when the command ends). After a crash of the machine
/// the container's directory may hold no record and a torn state: every command must still
/// work and `down` must remove what is left. The crash is played by killing the monitor and
/// the container, removing their cgroups (a reboot's doing) and leaving the files as a crash
/// may leave them.
#[test]
#[ignore = "needs root"]
fn a_run_rm_container_cut_short_by_a_crash_is_reconciled_by_down() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  app:\n    image: busybox\n    network_mode: none\n    command: [sleep, \"1000\"]\n",
    );
    support::engine::ok(&f, &["run", "-d", "--rm", "app"]);
    let dir = std::fs::read_dir(f.root.join("containers"))
        .expect("containers")
        .flatten()
        .map(|e| e.path())
        .next()
        .expect("the container's directory");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("state.json")).expect("state"))
            .expect("state json");
    for key in ["monitor_pid", "pid"] {
        let pid = state[key].as_i64().expect("pid") as i32;
        // SAFETY: plain kill(2) of a process this test started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    // What a reboot does to the cgroups (deepest first, once the processes are gone).
    let gone = support::engine::wait_for(10, || {
        let mut dirs = Vec::new();
        for h in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let top = h.path().join(&f.cgroup_parent);
            let mut stack = vec![top];
            while let Some(d) = stack.pop() {
                if d.is_dir() {
                    for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                        if e.path().is_dir() {
                            stack.push(e.path());
                        }
                    }
                    dirs.push(d);
                }
            }
        }
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        dirs.iter()
            .all(|d| std::fs::remove_dir(d).is_ok())
            .then_some(())
    });
    assert!(gone.is_some(), "the cgroups could not be removed");
    std::fs::remove_file(dir.join("container.json")).expect("remove the record");
    std::fs::write(dir.join("state.json"), b"{\"sta").expect("tear the state");
    let out = f.compose(&["ps", "-a"]);
    assert!(out.status.success(), "{}", support::engine::text(&out));
    assert!(
        !support::engine::text(&out).contains("app-run"),
        "{}",
        support::engine::text(&out)
    );
    support::engine::ok(&f, &["down"]);
    assert!(!dir.exists(), "down left {}", dir.display());
    f.assert_clean();
}

/// The set-up process is born in its cgroups (cgroup2 through `CLONE_INTO_CGROUP`, the v1
/// hierarchies by moving itself) rather than moved there by its parent, which waits for an RCU
/// grace period: for the foreground `run` and for a container under its monitor, PID 1 is in
/// the container's cgroup in every hierarchy the container has one in.
#[test]
#[ignore = "needs root"]
fn a_container_is_born_in_each_of_its_cgroups() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  app:\n    image: busybox\n    command: [sleep, '1000']\n    stop_signal: KILL\n",
    );
    let in_own_cgroups = |f: &Fixture| {
        let c = support::engine::wait_for(10, || {
            let all = compose::engine::state::list(&f.root, Some(&f.project)).ok()?;
            let c = all.into_iter().next()?;
            c.state.live_pid()?;
            Some(c)
        })
        .expect("a running container");
        let pid = c.state.live_pid().expect("pid");
        let mine = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
        let mut checked = 0;
        for line in mine.lines() {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next(), parts.next().unwrap_or(""), parts.next());
            let ours = controllers.is_empty()
                || controllers.split(',').any(|c| {
                    [
                        "cpuset", "cpu", "cpuacct", "memory", "pids", "blkio", "devices", "freezer",
                    ]
                    .contains(&c)
                });
            if ours {
                assert!(
                    path.is_some_and(|p| p.ends_with(&format!("/{}", c.record.id))),
                    "{line} is not the container's cgroup:\n{mine}"
                );
                checked += 1;
            }
        }
        assert!(checked > 0, "no hierarchy checked:\n{mine}");
        pid
    };
    let mut cli = f
        .command(&[
            "run",
            "--rm",
            "-T",
            "app",
            "sh",
            "-c",
            "trap 'exit 7' TERM; sleep 30 & wait",
        ])
        .spawn()
        .expect("spawn run");
    let pid = in_own_cgroups(&f);
    // PID 1 without a handler never sees SIGTERM (the kernel drops it): sent before the shell
    // set its trap, the run would end by itself after 30 s with 0 (seen under load).
    let trapped = support::engine::wait_for(10, || {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let caught = status.lines().find_map(|l| l.strip_prefix("SigCgt:"))?;
        let mask = u64::from_str_radix(caught.trim(), 16).ok()?;
        (mask & (1 << (libc::SIGTERM - 1)) != 0).then_some(())
    });
    assert!(trapped.is_some(), "the shell never set its TERM trap");
    // SAFETY: kill(2) of the CLI this test started; it passes SIGTERM on to the container.
    unsafe { libc::kill(cli.id() as i32, libc::SIGTERM) };
    let st = cli.wait().expect("wait");
    assert_eq!(st.code(), Some(7), "{st:?}");

    support::engine::ok(&f, &["up", "-d"]);
    in_own_cgroups(&f);
    support::engine::ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// `run --rm` on a network leaves the container's veth pair to the kernel, which deletes it
/// with the container's network namespace (deleting it ourselves waits for RCU grace periods):
/// it must still go, which it would not if anything of ours held that namespace.
#[test]
#[ignore = "needs root"]
fn run_rm_on_a_network_leaves_no_veth_behind() {
    require_engine!();
    let mut f = Fixture::with_netns(BASIC);
    let before = f.host_links();
    for _ in 0..3 {
        let (code, _, err) = f.run("app", &["true"]);
        assert_eq!(code, 0, "{err}");
    }
    // The project's bridge stays (as Docker Compose leaves its network after `run --rm`).
    let settled = support::engine::wait_for(5, || {
        let now = f.host_links();
        (now.len() == before.len() + 1).then_some(now)
    });
    assert!(
        settled.is_some(),
        "veths left: {:?} (before: {before:?})",
        f.host_links()
    );
    support::engine::ok(&f, &["down"]);
    f.assert_clean();
}
