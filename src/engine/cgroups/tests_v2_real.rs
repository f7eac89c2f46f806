//! The v2 backend for real, on a cgroup v2 only host (root needed). Our CI machine is cgroup
//! v1, so `.ci/vm-tests` runs these in a VM booted with `cgroup_no_v1=all`, with
//! `COMPOSE_REQUIRE_CGROUP2=1` turning a skip into a failure; elsewhere they skip with the reason
//! printed. Each test works under its own parent `compose-test-<unique>` at the top of the
//! hierarchy (where the manager puts projects by default), removed by a guard even when the
//! test fails.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use rustix::process::Signal;

use super::test_support::{
    is_root, remove_cgroup_tree, skip_cgroup2_test, some_block_device, unique_name,
};
use super::*;

const MIB: i64 = 1 << 20;

/// Removes the test parent bottom-up: thaws, kills what the test left in it, removes.
struct Guard(PathBuf);

impl Drop for Guard {
    fn drop(&mut self) {
        remove_cgroup_tree(&self.0, &kill_all);
    }
}

/// Kills everything in a cgroup2 directory and below at once (`cgroup.kill`, which also works
/// on a frozen one).
fn kill_all(dir: &Path) {
    if let Err(e) = std::fs::write(dir.join("cgroup.kill"), "1") {
        eprintln!("cleanup: cgroup.kill in {}: {e}", dir.display());
    }
}

struct Setup {
    mgr: Box<dyn CgroupManager>,
    /// The test's parent directory (under the hierarchy's root).
    parent: PathBuf,
    mount: PathBuf,
    _guard: Guard,
}

/// A manager over this host's cgroup2 hierarchy with the test's own parent, or `None` (the
/// reason printed; a failure under `COMPOSE_REQUIRE_CGROUP2=1`) when this host is not
/// cgroup v2 only.
fn setup(test: &str) -> Option<Setup> {
    if !is_root() {
        skip_cgroup2_test(test, "needs root");
        return None;
    }
    let layout = match Layout::detect() {
        Ok(l) => l,
        Err(e) => {
            skip_cgroup2_test(test, &e.to_string());
            return None;
        }
    };
    if layout.kind != LayoutKind::Unified {
        skip_cgroup2_test(test, "this host is not cgroup v2 only");
        return None;
    }
    let mount = layout.unified.as_ref()?.mount_point.clone();
    let controllers = read(&mount.join("cgroup.controllers"));
    for c in ["cpuset", "cpu", "io", "memory", "pids"] {
        if !controllers.split_whitespace().any(|x| x == c) {
            skip_cgroup2_test(test, &format!("the {c} controller is not available"));
            return None;
        }
    }
    let name = unique_name();
    let parent = mount.join(&name);
    let options = CgroupOptions {
        parent: name,
        ..CgroupOptions::default()
    };
    let mgr = manager(&layout, &options).expect("manager");
    Some(Setup {
        mgr,
        _guard: Guard(parent.clone()),
        parent,
        mount,
    })
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

fn leaf(cg: &dyn ContainerCgroup) -> PathBuf {
    let paths = cg.paths();
    assert_eq!(paths.len(), 1, "{paths:?}");
    assert_eq!(paths[0].0, "");
    paths[0].1.clone()
}

/// A busybox shell that waits for a line on its standard input, then runs `script`; moved into
/// `cg` before it gets the line, so that everything the script does is charged there.
fn start_in(cg: &dyn ContainerCgroup, script: &str) -> Child {
    let mut child = Command::new("/bin/busybox")
        .args(["sh", "-c", &format!("read x; {script}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn busybox sh");
    cg.add_pid(child.id() as i32).expect("add_pid");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"go\n")
        .expect("write go");
    child
}

fn first_line(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read a line");
    line.trim().to_string()
}

fn keyed_in(path: &Path, key: &str) -> u64 {
    keyed(&read(path), key).unwrap_or_else(|| panic!("no {key} in {}", path.display()))
}

#[test]
#[ignore = "needs root"]
fn v2_limits_reach_the_kernel_and_update_changes_them() {
    let Some(s) = setup("v2_limits_reach_the_kernel_and_update_changes_them") else {
        return;
    };
    let block = some_block_device().map(|(numbers, _)| numbers);
    let mut r = Resources {
        memory_limit: Some(64 * MIB),
        memory_reservation: Some(32 * MIB),
        memory_swap: Some(96 * MIB),
        cpu_shares: Some(512),
        cpu_quota: Some(50_000),
        cpu_period: Some(100_000),
        cpuset_cpus: Some("0".into()),
        cpuset_mems: Some("0".into()),
        pids_limit: Some(50),
        ..Resources::default()
    };
    if let Some(dev) = &block {
        r.blkio_throttle_read_bps = vec![(dev.clone(), 1_048_576)];
        r.blkio_throttle_write_iops = vec![(dev.clone(), 100)];
    }
    let (cg, warnings) = s.mgr.create("proj", "c0ffee", &r).expect("create");
    println!("warnings: {warnings:?}");
    assert!(warnings.is_empty(), "{warnings:?}");
    let dir = leaf(cg.as_ref());
    assert_eq!(dir, s.parent.join("proj/c0ffee"));
    assert_eq!(read(&dir.join("memory.max")), "67108864");
    assert_eq!(read(&dir.join("memory.low")), "33554432");
    // Compose's memswap_limit counts memory and swap together; v2's swap.max is swap alone.
    assert_eq!(read(&dir.join("memory.swap.max")), "33554432");
    let weight = convert::cpu_shares_to_weight(512);
    assert_eq!(read(&dir.join("cpu.weight")), weight.to_string());
    assert_eq!(read(&dir.join("cpu.max")), "50000 100000");
    assert_eq!(read(&dir.join("cpuset.cpus")), "0");
    assert_eq!(read(&dir.join("cpuset.mems")), "0");
    assert_eq!(read(&dir.join("pids.max")), "50");
    match &block {
        Some(dev) => {
            let io = read(&dir.join("io.max"));
            let line = io.lines().find(|l| l.starts_with(&format!("{dev} ")));
            let line = line.unwrap_or_else(|| panic!("no {dev} in io.max: {io:?}"));
            assert!(line.contains("rbps=1048576"), "{line}");
            assert!(line.contains("wiops=100"), "{line}");
        }
        None => skip_cgroup2_test("the io.max part", "no block device here"),
    }

    // `up` with changed limits: the same cgroup, new values; unlimited is "max" again.
    let changed = Resources {
        memory_limit: Some(128 * MIB),
        memory_swap: Some(-1),
        cpu_quota: Some(-1),
        pids_limit: Some(-1),
        ..Resources::default()
    };
    let reopened = s.mgr.open("proj", "c0ffee").expect("open");
    assert!(reopened.update(&changed).expect("update").is_empty());
    assert_eq!(read(&dir.join("memory.max")), "134217728");
    assert_eq!(read(&dir.join("memory.swap.max")), "max");
    assert_eq!(read(&dir.join("cpu.max")), "max 100000");
    assert_eq!(read(&dir.join("pids.max")), "max");

    // Values the kernel refuses are errors naming the file, not warnings.
    let bad = Resources {
        cpuset_cpus: Some("4095".into()),
        ..Resources::default()
    };
    let err = cg
        .update(&bad)
        .expect_err("a cpu this machine lacks")
        .to_string();
    assert!(err.contains("cpuset.cpus"), "{err}");
    cg.remove().expect("remove");
}

#[test]
#[ignore = "needs root"]
fn v2_controllers_are_delegated_top_down_and_parents_removed_last() {
    let Some(s) = setup("v2_controllers_are_delegated_top_down_and_parents_removed_last") else {
        return;
    };
    let (a, _) = s.mgr.create("proj", "a", &Resources::default()).expect("a");
    let (b, _) = s.mgr.create("proj", "b", &Resources::default()).expect("b");
    let wanted = ["cpuset", "cpu", "io", "memory", "pids"];
    let project = s.parent.join("proj");
    // Every level above a container delegates what the container needs: processes live only
    // in leaves, controllers flow down through subtree_control.
    for dir in [&s.mount, &s.parent, &project] {
        let enabled = read(&dir.join("cgroup.subtree_control"));
        for c in wanted {
            assert!(
                enabled.split_whitespace().any(|e| e == c),
                "{c} not delegated by {}: {enabled:?}",
                dir.display()
            );
        }
        if dir != &s.mount {
            assert_eq!(read(&dir.join("cgroup.procs")), "", "{}", dir.display());
        }
    }
    for cg in [&a, &b] {
        let controllers = read(&leaf(cg.as_ref()).join("cgroup.controllers"));
        for c in wanted {
            assert!(
                controllers.split_whitespace().any(|e| e == c),
                "{controllers:?}"
            );
        }
        // A new process is born in the leaf (clone3 CLONE_INTO_CGROUP), not moved there.
        assert_eq!(cg.birthplace().cgroup2, Some(leaf(cg.as_ref())));
    }
    // The project's cgroup stays while it has a container, and goes with the last one.
    a.remove().expect("remove a");
    assert!(project.exists());
    b.remove().expect("remove b");
    assert!(!project.exists(), "{} left", project.display());
    // Removing again is not an error.
    b.remove().expect("remove b again");
}

#[test]
#[ignore = "needs root"]
fn v2_stats_freeze_kill_and_remove_a_running_process() {
    let Some(s) = setup("v2_stats_freeze_kill_and_remove_a_running_process") else {
        return;
    };
    let r = Resources {
        memory_limit: Some(64 * MIB),
        pids_limit: Some(50),
        ..Resources::default()
    };
    let (cg, _) = s.mgr.create("proj", "c1", &r).expect("create");
    let cg = cg.as_ref();
    // It works a little once inside (CPU time and memory charged here), then sleeps.
    let mut child = start_in(
        cg,
        "i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; echo done; exec /bin/busybox sleep 1000",
    );
    assert_eq!(first_line(&mut child), "done");
    let pid = child.id() as i32;
    assert_eq!(cg.pids().expect("pids"), vec![pid]);
    let membership = read(Path::new(&format!("/proc/{pid}/cgroup")));
    assert!(membership.ends_with("/proj/c1"), "{membership}");

    let stats = cg.stats().expect("stats");
    println!("stats: {stats:?}");
    assert_eq!(stats.pids_current, 1);
    assert_eq!(stats.pids_limit, Some(50));
    assert_eq!(stats.memory_limit, Some(64 * MIB as u64));
    assert!(stats.cpu_usage_ns > 0, "{stats:?}");
    assert!(stats.memory_usage > 0, "{stats:?}");

    // Freeze (pause) and thaw (unpause), as the kernel reports them.
    cg.freeze().expect("freeze");
    assert!(cg.is_frozen().expect("is_frozen"));
    assert_eq!(keyed_in(&leaf(cg).join("cgroup.events"), "frozen"), 1);
    cg.thaw().expect("thaw");
    assert!(!cg.is_frozen().expect("is_frozen"));
    assert_eq!(keyed_in(&leaf(cg).join("cgroup.events"), "frozen"), 0);

    // Killing a frozen cgroup works too (cgroup.kill), and remove waits for the exit.
    cg.freeze().expect("freeze again");
    cg.kill_all(Signal::KILL).expect("kill_all");
    cg.remove().expect("remove right after the kill");
    let status = child.wait().expect("wait");
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(!leaf(cg).exists());
    assert!(matches!(
        s.mgr.open("proj", "c1"),
        Err(CgroupError::NotFound { .. })
    ));
}

#[test]
#[ignore = "needs root"]
fn v2_pids_limit_refuses_forks_beyond_it() {
    let Some(s) = setup("v2_pids_limit_refuses_forks_beyond_it") else {
        return;
    };
    let r = Resources {
        pids_limit: Some(3),
        ..Resources::default()
    };
    let (cg, _) = s.mgr.create("proj", "forks", &r).expect("create");
    let cg = cg.as_ref();
    // The shell and two sleeps fit; the third fork fails, which ends the shell (ash gives up on
    // a command it cannot fork), leaving the two sleeps.
    let mut child = start_in(
        cg,
        "echo started; exec >/dev/null; /bin/busybox sleep 1000 & /bin/busybox sleep 1000 & \
         /bin/busybox sleep 1000 & exit 0",
    );
    assert_eq!(first_line(&mut child), "started");
    // The sleeps hold no pipe of ours: the shell's exit is what ends the wait.
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the third fork worked: {status:?}");
    let stats = cg.stats().expect("stats");
    assert_eq!(stats.pids_limit, Some(3));
    assert_eq!(stats.pids_current, 2, "{stats:?}");
    assert!(keyed_in(&leaf(cg).join("pids.events"), "max") >= 1);
    cg.kill_all(Signal::KILL).expect("kill_all");
    cg.remove().expect("remove");
}

#[test]
#[ignore = "needs root"]
fn v2_oom_kill_is_counted_and_reported() {
    let Some(s) = setup("v2_oom_kill_is_counted_and_reported") else {
        return;
    };
    let r = Resources {
        memory_limit: Some(16 * MIB),
        // No swap to escape to: the OOM killer has to act.
        memory_swap: Some(16 * MIB),
        ..Resources::default()
    };
    let (cg, _) = s.mgr.create("proj", "oom", &r).expect("create");
    let cg = cg.as_ref();
    assert!(!cg.oom_killed().expect("oom_killed before"));
    // dd fills a 64 MiB buffer from /dev/zero: four times the limit.
    let mut child = start_in(
        cg,
        "exec /bin/busybox dd if=/dev/zero of=/dev/null bs=64M count=1",
    );
    let status = child.wait().expect("wait");
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    assert!(cg.oom_kills().expect("oom_kills") >= 1);
    assert!(cg.oom_killed().expect("oom_killed"));
    cg.remove().expect("remove");
}
