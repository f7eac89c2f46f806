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
    Some(base.join(parent).join(&f.project).join(only_id(f)))
}

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

#[test]
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
