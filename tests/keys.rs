//! End-to-end tests of service keys whose effect differed from Docker's (issue 12, item 8):
//! each observes the effect from inside the container, or in the cgroup files under the
//! test's own cgroup parent, over real containers (root; skipped with a reason otherwise).

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use std::path::PathBuf;

use support::engine::{ok_all as ok, Fixture};

/// The project's single container's id.
fn only_id(f: &Fixture) -> String {
    let all = compose::engine::state::list(&f.root, Some(&f.project)).expect("state");
    assert_eq!(all.len(), 1, "one container expected");
    all[0].record.id.clone()
}

/// The container's directory in the v1 hierarchy of `controller`, under the test's parent
/// (`None` on a host without that v1 hierarchy).
fn v1_dir(f: &Fixture, parent: &str, controller: &str) -> Option<PathBuf> {
    let base = PathBuf::from("/sys/fs/cgroup").join(controller);
    if !base.join("tasks").exists() {
        return None;
    }
    Some(base.join(parent).join(group(f)).join(only_id(f)))
}

/// The project's cgroup directory name (the project and a tag of the state root).
fn group(f: &Fixture) -> String {
    let all = compose::engine::state::list(&f.root, Some(&f.project)).expect("state");
    all[0].record.cgroup_group().to_string()
}

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

#[test]
#[ignore = "needs root"]
fn mem_limit_without_memswap_limit_allows_as_much_swap_like_docker() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  web:
    image: busybox
    command: [sleep, '1000']
    stop_signal: KILL
    mem_limit: 32m
",
    );
    ok(&f, &["up", "-d"]);
    let mib = 1u64 << 20;
    match v1_dir(&f, &f.cgroup_parent, "memory") {
        Some(dir) => {
            assert_eq!(
                read(dir.join("memory.limit_in_bytes")),
                (32 * mib).to_string()
            );
            if dir.join("memory.memsw.limit_in_bytes").exists() {
                // memory + swap = 2 x the limit, as Docker sets it.
                assert_eq!(
                    read(dir.join("memory.memsw.limit_in_bytes")),
                    (64 * mib).to_string()
                );
            }
        }
        None => {
            let dir = PathBuf::from("/sys/fs/cgroup")
                .join(&f.cgroup_parent)
                .join(&f.project)
                .join(only_id(&f));
            if dir.join("memory.swap.max").exists() {
                assert_eq!(read(dir.join("memory.swap.max")), (32 * mib).to_string());
            }
        }
    }
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn user_with_group_add_keeps_the_primary_group_among_the_groups_like_docker() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  web:
    image: busybox
    user: '1000:1000'
    group_add: [wheel]
",
    );
    let (code, out, err) = f.run("web", &["grep", "^Groups:", "/proc/self/status"]);
    assert_eq!(code, 0, "{err}");
    let mut groups: Vec<&str> = out.split_whitespace().skip(1).collect();
    groups.sort_unstable();
    assert_eq!(groups, ["10", "1000"], "{out}");
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn expose_is_shown_in_ps_ports_like_docker() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  web:
    image: busybox
    command: [sleep, '1000']
    stop_signal: KILL
    expose: ['8080', '53/udp']
    ports: ['127.0.0.1::80']
",
    );
    ok(&f, &["up", "-d"]);
    let ps = ok(&f, &["ps"]);
    let line = ps
        .lines()
        .find(|l| l.contains("-web-1"))
        .expect("web in ps");
    assert!(line.contains("8080/tcp"), "{ps}");
    assert!(line.contains("53/udp"), "{ps}");
    assert!(line.contains("->80/tcp"), "{ps}");
    let json = ok(&f, &["ps", "--format", "json"]);
    assert!(json.contains("\"TargetPort\":8080"), "{json}");
    // A stopped container shows none, as Docker.
    ok(&f, &["stop"]);
    let ps = ok(&f, &["ps", "-a"]);
    assert!(!ps.contains("8080/tcp"), "{ps}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn cgroup_parent_puts_the_container_under_that_parent_like_docker() {
    require_engine!();
    let mut f = Fixture::new("");
    // A parent of the test's own, beneath the fixture's, so the fixture's check covers it.
    let parent = format!("{}/custom-parent", f.cgroup_parent);
    std::fs::write(
        f.project_dir.join("compose.yaml"),
        format!(
            "services:
  web:
    image: busybox
    command: [sleep, '1000']
    stop_signal: KILL
    cgroup_parent: {parent}
"
        ),
    )
    .expect("write compose.yaml");
    ok(&f, &["up", "-d"]);
    let all = compose::engine::state::list(&f.root, Some(&f.project)).expect("state");
    let pid = all[0].state.live_pid().expect("running");
    // The container's PID 1 lives in the cgroup under the service's parent.
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    let want = format!("/{parent}/{}/{}", group(&f), only_id(&f));
    assert!(
        cgroup.lines().any(|l| l.ends_with(&want)),
        "{want} not in\n{cgroup}"
    );
    ok(&f, &["down", "-t", "0"]);
    // The container's and the project's cgroups are gone; the named parent stays, as the
    // default parent does (and as Docker leaves a cgroup_parent): the test removes its own.
    let hierarchies = std::fs::read_dir("/sys/fs/cgroup").expect("cgroup mounts");
    let unified = std::path::Path::new("/sys/fs/cgroup").to_path_buf();
    for base in hierarchies.flatten().map(|e| e.path()).chain([unified]) {
        let dir = base.join(&parent);
        if dir.exists() {
            assert!(!dir.join(&f.project).exists(), "{} left", dir.display());
            std::fs::remove_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
    }
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn oom_kill_disable_is_applied_on_cgroup_v1() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  web:
    image: busybox
    command: [sleep, '1000']
    stop_signal: KILL
    mem_limit: 64m
    oom_kill_disable: true
",
    );
    let o = f.compose(&["up", "-d"]);
    let out = support::engine::text(&o);
    match v1_dir(&f, &f.cgroup_parent, "memory") {
        Some(dir) => {
            assert!(o.status.success(), "{out}");
            let control = read(dir.join("memory.oom_control"));
            assert!(control.contains("oom_kill_disable 1"), "{control}");
        }
        // cgroup v2 has no such switch: said in one line, naming the key.
        None => assert!(out.contains("oom_kill_disable discarded"), "{out}"),
    }
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn cpu_rt_runtime_and_period_are_applied_on_cgroup_v1() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  web:
    image: busybox
    command: [sleep, '1000']
    stop_signal: KILL
    cpu_rt_runtime: 10ms
    cpu_rt_period: 500000
",
    );
    let o = f.compose(&["up", "-d"]);
    let out = support::engine::text(&o);
    match v1_dir(&f, &f.cgroup_parent, "cpu")
        .filter(|_| std::path::Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists())
    {
        Some(dir) => {
            assert!(o.status.success(), "{out}");
            assert_eq!(read(dir.join("cpu.rt_period_us")), "500000");
            assert_eq!(read(dir.join("cpu.rt_runtime_us")), "10000");
        }
        // Without real-time group scheduling: a clear error naming the keys.
        None => assert!(
            !o.status.success() && out.contains("cpu_rt_runtime"),
            "{out}"
        ),
    }
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn a_cpu_rt_runtime_beyond_the_hosts_budget_is_a_clear_error() {
    require_engine!();
    if !std::path::Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists() {
        eprintln!("skipped: no real-time group scheduling on this host");
        return;
    }
    let mut f = Fixture::new(
        "services:
  web:
    image: busybox
    command: [sleep, '1000']
    cpu_rt_runtime: 999999
",
    );
    let o = f.compose(&["up", "-d"]);
    let out = support::engine::text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("cpu_rt_runtime") && out.contains("used up"),
        "{out}"
    );
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}
