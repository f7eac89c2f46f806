//! A stack's life on a cgroup v2 only host, end to end through the CLI: limits from the Compose
//! file in the kernel's files, an OOM-killed container reported as Docker reports it (exit 137,
//! `OOMKilled`), pause as a frozen cgroup, and `down` leaving nothing. Our CI machine is cgroup
//! v1: `.ci/vm-tests` runs these in a VM booted with `cgroup_no_v1=all` and sets
//! `COMPOSE_REQUIRE_CGROUP2=1`, which turns a skip into a failure; elsewhere they skip with the
//! reason printed.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::engine::{ok, text, wait_for, Fixture};

/// Why a cgroup v2 test cannot run here, if it cannot; a failure when it is required to run.
fn skip_reason(test: &str) -> Option<String> {
    let reason = support::engine::skip_reason()
        .map(str::to_string)
        .or_else(|| {
            let v2_only = Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
                && !Path::new("/sys/fs/cgroup/memory").exists();
            (!v2_only).then(|| "this host is not cgroup v2 only".to_string())
        })?;
    if std::env::var_os("COMPOSE_REQUIRE_CGROUP2").is_some_and(|v| v == "1") {
        panic!("{test} cannot run ({reason}) but COMPOSE_REQUIRE_CGROUP2=1 requires it");
    }
    Some(reason)
}

macro_rules! require_cgroup2 {
    ($test:expr) => {
        if let Some(reason) = skip_reason($test) {
            eprintln!("skipped {}: {reason}", $test);
            return;
        }
    };
}

/// The cgroup directory of `service`'s first container: the one named by its id under the
/// fixture's cgroup parent.
fn cgroup_of(f: &Fixture, service: &str) -> PathBuf {
    let name = format!("{}-{service}-1", f.project);
    let id = compose::engine::state::list(&f.root, Some(&f.project))
        .expect("state")
        .into_iter()
        .find(|o| o.record.name == name)
        .unwrap_or_else(|| panic!("no container {name}"))
        .record
        .id;
    let parent = Path::new("/sys/fs/cgroup").join(&f.cgroup_parent);
    std::fs::read_dir(&parent)
        .unwrap_or_else(|e| panic!("{}: {e}", parent.display()))
        .flatten()
        .map(|project| project.path().join(&id))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| panic!("no cgroup for {name} under {}", parent.display()))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

fn inspect(f: &Fixture, name: &str) -> Value {
    let o = f.compose(&["inspect", name]);
    assert!(o.status.success(), "inspect {name}: {}", text(&o));
    let mut v: Vec<Value> = serde_json::from_slice(&o.stdout).expect("inspect json");
    assert_eq!(v.len(), 1, "{v:?}");
    v.remove(0)
}

const STACK: &str = "services:
  app:
    image: busybox
    command: [sleep, '1000']
    stop_signal: KILL
    mem_limit: 64m
    memswap_limit: 96m
    mem_reservation: 32m
    cpus: 0.5
    cpu_shares: 512
    cpuset: '0'
    pids_limit: 40
  hog:
    image: busybox
    command: [dd, if=/dev/zero, of=/dev/null, bs=64M, count=1]
    mem_limit: 16m
    memswap_limit: 16m
";

#[test]
#[ignore = "needs root"]
fn a_stack_runs_limited_oom_is_reported_pause_freezes_and_down_cleans_up() {
    require_cgroup2!("a_stack_runs_limited_oom_is_reported_pause_freezes_and_down_cleans_up");
    let mut f = Fixture::new(STACK);
    ok(&f, &["up", "-d"]);

    // The Compose file's limits, as the kernel holds them.
    let app = cgroup_of(&f, "app");
    assert_eq!(read(&app.join("memory.max")), "67108864");
    assert_eq!(read(&app.join("memory.swap.max")), "33554432");
    assert_eq!(read(&app.join("memory.low")), "33554432");
    assert_eq!(read(&app.join("cpu.max")), "50000 100000");
    assert_eq!(read(&app.join("cpuset.cpus")), "0");
    assert_eq!(read(&app.join("pids.max")), "40");
    assert_ne!(
        read(&app.join("cpu.weight")),
        "100",
        "cpu_shares not applied"
    );
    // The container's process is in it (born there), and nothing else is.
    let procs = read(&app.join("cgroup.procs"));
    assert_eq!(procs.lines().count(), 1, "{procs}");

    // The hog runs into its limit: exit 137 and OOMKilled, as `docker inspect` shows it.
    let hog = format!("{}-hog-1", f.project);
    let state = wait_for(60, || {
        let v = inspect(&f, &hog);
        (v["State"]["Status"] == "exited").then(|| v["State"].clone())
    })
    .unwrap_or_else(|| panic!("{hog} never exited"));
    assert_eq!(state["ExitCode"], 137, "{state}");
    assert_eq!(state["OOMKilled"], true, "{state}");

    // `run` reports the same for a one-off container, and keeps it in its state.
    let o = f.compose(&["run", "-T", "hog"]);
    assert_eq!(o.status.code(), Some(137), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("(OOM)"),
        "{}",
        text(&o)
    );
    let one_off = compose::engine::state::list(&f.root, Some(&f.project))
        .expect("state")
        .into_iter()
        .find(|o| o.record.one_off)
        .expect("the one-off container")
        .record
        .name;
    let state = &inspect(&f, &one_off)["State"];
    assert_eq!(state["ExitCode"], 137, "{state}");
    assert_eq!(state["OOMKilled"], true, "{state}");

    // Pause is a frozen cgroup; unpause thaws it.
    ok(&f, &["pause", "app"]);
    assert!(read(&app.join("cgroup.events")).contains("frozen 1"));
    ok(&f, &["unpause", "app"]);
    assert!(read(&app.join("cgroup.events")).contains("frozen 0"));

    // Stats come from the v2 files.
    let stats = ok(&f, &["stats", "--no-stream", "--format", "json", "app"]);
    let e: Value = serde_json::from_str(stats.lines().next().expect("a line")).expect("json");
    assert_eq!(e["PIDs"], "1", "{e}");
    let mem = e["MemUsage"].as_str().expect("MemUsage");
    assert!(mem.ends_with("/ 64MiB"), "{mem}");

    ok(&f, &["down", "-t", "0"]);
    assert!(!app.exists(), "{} left", app.display());
    f.assert_clean();
}

/// The VM run sets `COMPOSE_EXPECT_KERNEL` to the release it boots (6.1): this proves the tests
/// above ran on that kernel, older than the hosts', and not on the host by mistake.
#[test]
fn the_kernel_is_the_one_the_run_expects() {
    let Some(want) = std::env::var_os("COMPOSE_EXPECT_KERNEL") else {
        eprintln!("no COMPOSE_EXPECT_KERNEL: any kernel will do");
        return;
    };
    let uname = rustix::system::uname();
    let release = uname.release().to_string_lossy();
    let want = want.to_string_lossy();
    assert!(
        release.starts_with(want.as_ref()),
        "running on {release}, expected {want}"
    );
}
