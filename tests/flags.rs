//! End-to-end tests of the flags issue 17 added or made real, each doing what Docker Compose's
//! does (cmd/compose/*.go): `run --cap-add/--cap-drop/-l`, `restart --no-deps`, `kill
//! --remove-orphans`, `up --attach-dependencies` and `events --since/--until` (root; skipped
//! with a reason otherwise).

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use support::engine::{ok, text, Fixture};

/// The effective capability set of the command `compose run` runs, as a bit mask.
fn cap_eff(f: &Fixture, extra: &[&str]) -> u64 {
    let mut args = vec!["run", "--rm", "-T"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["app", "sh", "-c", "grep CapEff /proc/self/status"]);
    let o = f.compose(&args);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let hex = out
        .split_whitespace()
        .last()
        .unwrap_or_else(|| panic!("no CapEff in {out:?}"));
    u64::from_str_radix(hex, 16).unwrap_or_else(|e| panic!("{hex}: {e}"))
}

/// Docker Compose's `run --cap-add/--cap-drop` change the one-off container's capabilities
/// (an added one is no longer dropped), and `-l` adds a label to it.
#[test]
#[ignore = "needs root"]
fn run_cap_add_cap_drop_and_label_reach_the_one_off_container() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  app:\n    image: busybox\n    command: sleep 300\n    cap_drop: [NET_ADMIN]\n",
    );
    const CHOWN: u64 = 1 << 0;
    const NET_ADMIN: u64 = 1 << 12;
    let plain = cap_eff(&f, &[]);
    assert!(plain & CHOWN != 0 && plain & NET_ADMIN == 0, "{plain:x}");
    let changed = cap_eff(&f, &["--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN"]);
    assert!(
        changed & CHOWN == 0 && changed & NET_ADMIN != 0,
        "{changed:x}"
    );

    let id = ok(
        &f,
        &[
            "run",
            "-d",
            "-l",
            "flags.test=label-value",
            "app",
            "sleep",
            "30",
        ],
    );
    let o = f.compose(&["inspect", id.trim()]);
    assert!(o.status.success(), "{}", text(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("inspect json");
    assert_eq!(
        json[0]["Config"]["Labels"]["flags.test"], "label-value",
        "{json:#}"
    );
    let o = f.compose(&["run", "--rm", "-T", "-l", "no-value", "app", "true"]);
    assert!(!o.status.success(), "a label without = accepted");
    assert!(text(&o).contains("KEY=VALUE"), "{}", text(&o));
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

fn started(f: &Fixture, service: &str) -> String {
    let o = f.compose(&["exec", "-T", service, "cut", "-d ", "-f22", "/proc/1/stat"]);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Docker Compose's `restart --no-deps`: a dependent with `depends_on.<svc>.restart: true`
/// is left alone (without the flag it is restarted too: tests/namespaces.rs).
#[test]
#[ignore = "needs root"]
fn restart_no_deps_leaves_dependents_alone() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  api:
    image: busybox
    command: sleep 300
    depends_on:
      db: {condition: service_started, restart: true}
  db:
    image: busybox
    command: sleep 300
",
    );
    ok(&f, &["up", "-d"]);
    let (api, db) = (started(&f, "api"), started(&f, "db"));
    // Clock ticks are 10 ms: a restart must be seen as a later start.
    std::thread::sleep(std::time::Duration::from_millis(50));
    ok(&f, &["restart", "--no-deps", "-t", "0", "db"]);
    assert_ne!(started(&f, "db"), db, "db not restarted");
    assert_eq!(started(&f, "api"), api, "api restarted despite --no-deps");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

fn running(f: &Fixture) -> String {
    ok(f, &["ps", "--services"])
}

/// Docker Compose's `kill`: a service the Compose file no longer has is left running, unless
/// `--remove-orphans` asks for it too.
#[test]
#[ignore = "needs root"]
fn kill_spares_orphans_unless_remove_orphans() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  web:\n    image: busybox\n    command: sleep 300\n  gone:\n    image: busybox\n    command: sleep 300\n",
    );
    ok(&f, &["up", "-d"]);
    std::fs::write(
        f.project_dir.join("compose.yaml"),
        "services:\n  web:\n    image: busybox\n    command: sleep 300\n",
    )
    .expect("rewrite compose.yaml");
    ok(&f, &["kill"]);
    assert_eq!(running(&f), "gone\n", "the orphan was killed");
    ok(&f, &["kill", "--remove-orphans"]);
    assert_eq!(running(&f), "", "the orphan still runs");
    ok(&f, &["down", "-t", "0", "--remove-orphans"]);
    f.assert_clean();
}

const WITH_DEPENDENCY: &str = "services:
  web:
    image: busybox
    command: [sh, -c, 'sleep 1; echo web-says-hi']
    depends_on: [db]
  db:
    image: busybox
    command: [sh, -c, 'echo db-says-hi; sleep 2']
";

/// Docker Compose's `up SERVICE` shows only SERVICE's output; `--attach-dependencies` its
/// dependencies' too.
#[test]
#[ignore = "needs root"]
fn up_attach_dependencies_shows_the_dependencies_output() {
    require_engine!();
    let mut f = Fixture::new(WITH_DEPENDENCY);
    let o = f.compose(&["up", "web"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("web-says-hi"), "{}", text(&o));
    assert!(!out.contains("db-says-hi"), "{}", text(&o));
    ok(&f, &["down", "-t", "0"]);
    let o = f.compose(&["up", "--attach-dependencies", "web"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("web-says-hi"), "{}", text(&o));
    assert!(out.contains("db-says-hi"), "{}", text(&o));
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// Docker Compose's `events --since … --until …`: the recorded events in that window, then
/// the command ends.
#[test]
#[ignore = "needs root"]
fn events_since_until_replays_the_window_and_ends() {
    require_engine!();
    let mut f = Fixture::new("services:\n  web:\n    image: busybox\n    command: sleep 300\n");
    ok(&f, &["up", "-d"]);
    let o = f.compose(&["events", "--json", "--since", "1h", "--until", "0s"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.lines().any(|l| l.contains("\"start\"")),
        "no start event: {}",
        text(&o)
    );
    // A window that ended before the project existed holds nothing.
    let o = f.compose(&["events", "--json", "--since", "3h", "--until", "2h"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "", "{}", text(&o));
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}
