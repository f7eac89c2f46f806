//! Diagnostics: `--log-level` and `COMPOSE_LOG` (stderr only, never stdout), `compose info`,
//! and a monitor's `monitor.log` (root; in the fixture's own network namespace).

mod support {
    #[path = "cli.rs"]
    pub mod cli;
    #[path = "engine.rs"]
    pub mod engine;
}

use std::os::unix::fs::PermissionsExt;

use support::cli::{Compose, Project};
use support::engine::Fixture;

const YAML: &str = "services:\n  web:\n    image: busybox\n";

fn project() -> Project {
    let p = Project::new("diagproj");
    std::fs::write(p.dir.join("compose.yaml"), YAML).expect("compose.yaml");
    p
}

#[test]
fn default_level_prints_nothing_new() {
    let p = project();
    let out = Compose::new(&p.dir).args(&["config", "--services"]).run();
    assert_eq!(out.ok(), "web\n");
}

#[test]
fn debug_goes_to_stderr_in_the_command_span_and_stdout_stays_clean() {
    let p = project();
    let out = Compose::new(&p.dir)
        .args(&["--log-level", "debug", "config", "--services"])
        .run();
    assert_eq!(out.ok_with_warnings(), "web\n");
    assert!(
        out.stderr
            .contains("command{name=\"config\" project=\"diagproj\"}"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("DEBUG"), "{}", out.stderr);
}

#[test]
fn the_flag_is_global_and_its_values_are_checked() {
    let p = project();
    let before = Compose::new(&p.dir)
        .args(&["--log-level", "debug", "config", "--services"])
        .run();
    assert_eq!(before.ok_with_warnings(), "web\n");
    assert!(before.stderr.contains("DEBUG"), "{}", before.stderr);
    // Global options go before the command, as with Docker Compose's.
    let after = Compose::new(&p.dir)
        .args(&["config", "--services", "--log-level", "debug"])
        .run();
    let err = after.fails(2);
    assert!(err.contains("--log-level"), "{err}");
    let bad = Compose::new(&p.dir)
        .args(&["--log-level", "loud", "config"])
        .run();
    let err = bad.fails(2);
    assert!(err.contains("invalid value 'loud'"), "{err}");
    assert!(err.contains("error, warn, info, debug, trace"), "{err}");
}

#[test]
fn compose_log_sets_the_level_and_may_be_directives() {
    let p = project();
    let level = Compose::new(&p.dir)
        .env("COMPOSE_LOG", "debug")
        .args(&["config", "--services"])
        .run();
    assert_eq!(level.ok_with_warnings(), "web\n");
    assert!(
        level.stderr.contains("command starting"),
        "{}",
        level.stderr
    );
    // A directive for another target leaves this one at warn.
    let other = Compose::new(&p.dir)
        .env("COMPOSE_LOG", "compose::engine::network=trace")
        .args(&["config", "--services"])
        .run();
    assert_eq!(other.ok(), "web\n");
    let this = Compose::new(&p.dir)
        .env("COMPOSE_LOG", "compose=debug")
        .args(&["config", "--services"])
        .run();
    assert!(this.stderr.contains("command starting"), "{}", this.stderr);
}

#[test]
fn the_flag_wins_over_compose_log() {
    let p = project();
    let out = Compose::new(&p.dir)
        .env("COMPOSE_LOG", "trace")
        .args(&["--log-level", "warn", "config", "--services"])
        .run();
    assert_eq!(out.ok(), "web\n");
}

#[test]
fn a_bad_compose_log_is_an_error_naming_it() {
    let p = project();
    let out = Compose::new(&p.dir)
        .env("COMPOSE_LOG", "compose=loud")
        .args(&["config", "--services"])
        .run();
    let err = out.fails(1);
    assert!(err.contains("invalid COMPOSE_LOG `compose=loud`"), "{err}");
}

/// `compose info` in the fixture's namespace, before and after a container runs.
#[test]
#[ignore = "needs root"]
fn info_text_and_json() {
    require_engine!();
    let mut f = Fixture::new("services:\n  web:\n    image: busybox\n    command: [sleep, '1000']\n    stop_grace_period: 1s\n");
    let out = f.compose(&["info"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for label in [
        "Version:",
        "Kernel Version:",
        "Cgroup Version:",
        "Cgroup Controllers:",
        "Overlayfs:",
        "Idmapped Mounts:",
        "User Namespaces:",
        "Seccomp:",
        "Nftables:",
        "CRIU:",
        "State Root:",
        "Containers:",
        "Images:             1",
    ] {
        assert!(text.contains(label), "{label} missing from:\n{text}");
    }
    let up = f.compose(&["up", "-d"]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let out = f.compose(&["info", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    for key in [
        "version",
        "kernel",
        "cgroup",
        "overlay",
        "idmapped_mounts",
        "user_namespaces",
        "seccomp",
        "nftables",
        "clone3",
        "pidfd",
        "criu",
        "state_root",
        "projects",
        "containers",
        "running",
        "images",
        "volumes",
        "networks",
        "missing",
    ] {
        assert!(v.get(key).is_some(), "{key} missing from {v}");
    }
    assert_eq!(v["containers"], 1, "{v}");
    assert_eq!(v["running"], 1, "{v}");
    assert_eq!(v["projects"], 1, "{v}");
    assert_eq!(v["images"], 1, "{v}");
    assert_eq!(v["networks"], 1, "{v}");
    assert!(
        v["cgroup"]["controllers"]
            .as_array()
            .is_some_and(|c| !c.is_empty()),
        "{v}"
    );
    let down = f.compose(&["down", "-t", "0"]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    f.assert_clean();
}

/// A monitor logs at the CLI's level to monitor.log (0600) in the container's directory, which
/// goes with the container.
#[test]
#[ignore = "needs root"]
fn monitor_log_is_written_private_and_removed_with_the_container() {
    require_engine!();
    let mut f = Fixture::new("services:\n  web:\n    image: busybox\n    command: [sleep, '1000']\n    stop_grace_period: 1s\n");
    let up = f.compose(&["--log-level", "debug", "up", "-d"]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(
        up.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&up.stdout)
    );
    let stderr = String::from_utf8_lossy(&up.stderr);
    assert!(stderr.contains("command{name=\"up\""), "{stderr}");
    let containers = f.root.join("containers");
    let dir = std::fs::read_dir(&containers)
        .expect("containers")
        .flatten()
        .next()
        .expect("a container")
        .path();
    let log = dir.join("monitor.log");
    let text = std::fs::read_to_string(&log).expect("monitor.log");
    assert!(text.contains("container{name="), "{text}");
    assert!(text.contains("container started"), "{text}");
    assert!(text.contains("creating cgroup"), "{text}");
    let meta = std::fs::metadata(&log).expect("stat");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(meta.len() <= compose::engine::logging::MONITOR_LOG_CAP);
    let down = f.compose(&["down", "-t", "0"]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(!log.exists(), "monitor.log outlived its container");
    f.assert_clean();
}
