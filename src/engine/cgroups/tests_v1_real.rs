//! The v1 backend for real on this host (root, v1 controllers mounted; skipped otherwise). Every
//! test works under its own parent `compose-test-<unique>` below this process's own cgroups,
//! removed by a guard even when the test fails.

use std::io::{BufRead, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::Signal;

use super::test_support::{is_root, remove_cgroup_tree, some_block_device, unique_name};
use super::*;

const MIB: i64 = 1 << 20;

/// Removes the test parent from every hierarchy: kills what is left in it (only processes the
/// test put there), thaws, and removes the directories bottom-up.
struct Cleanup {
    dirs: Vec<PathBuf>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for dir in &self.dirs {
            remove_cgroup_tree(dir, &thaw);
        }
    }
}

/// Thaws a frozen v1 cgroup (only the freezer hierarchy has the file), so what is in it can die.
fn thaw(dir: &Path) {
    let state = dir.join("freezer.state");
    if state.exists() {
        if let Err(e) = std::fs::write(&state, "THAWED") {
            eprintln!("cleanup: thawing {}: {e}", dir.display());
        }
    }
}

/// The manager and its cleanup guard, or `None` (with the reason printed) to skip.
fn setup(test: &str) -> Option<(Box<dyn CgroupManager>, Cleanup, Layout)> {
    if !is_root() {
        println!("skipping {test}: needs root");
        return None;
    }
    let layout = match Layout::detect() {
        Ok(l) => l,
        Err(e) => {
            println!("skipping {test}: {e}");
            return None;
        }
    };
    if layout.kind == LayoutKind::Unified {
        println!("skipping {test}: this host has no cgroup v1 controllers");
        return None;
    }
    for c in ["memory", "freezer", "pids", "cpu", "cpuset", "devices"] {
        if layout.v1_hierarchy(c).is_none() {
            println!("skipping {test}: the {c} controller is not mounted");
            return None;
        }
    }
    let parent = unique_name();
    let dirs = layout
        .v1
        .iter()
        .chain(layout.unified.iter())
        .map(|h| h.own_dir().join(&parent))
        .collect();
    let guard = Cleanup { dirs };
    let options = CgroupOptions {
        anchor: Anchor::Own,
        parent,
        timeout: Duration::from_secs(3),
    };
    let mgr = manager(&layout, &options).expect("manager");
    Some((mgr, guard, layout))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

fn dir_of(cg: &dyn ContainerCgroup, controller: &str) -> PathBuf {
    cg.paths()
        .into_iter()
        .find(|(c, _)| c.split(',').any(|c| c == controller))
        .map(|(_, p)| p)
        .unwrap_or_else(|| panic!("no {controller} path"))
}

fn spawn_sleep() -> Child {
    Command::new("/bin/busybox")
        .args(["sleep", "1000"])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn busybox sleep")
}

/// The one-letter state of a process (`S` sleeping, `D` uninterruptible/frozen, …).
fn proc_state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        .unwrap_or('?')
}

#[test]
#[ignore = "needs root"]
fn v1_lifecycle_limits_stats_freeze_kill_remove() {
    let Some((mgr, _guard, layout)) = setup("v1_lifecycle") else {
        return;
    };
    let block = some_block_device();
    let mut r = Resources {
        memory_limit: Some(64 * MIB),
        memory_reservation: Some(32 * MIB),
        memory_swap: Some(128 * MIB),
        memory_swappiness: Some(10),
        cpu_shares: Some(512),
        cpu_quota: Some(150_000),
        cpu_period: Some(100_000),
        cpuset_cpus: Some("0".into()),
        cpuset_mems: Some("0".into()),
        pids_limit: Some(50),
        device_rules: vec!["c 1:11 rw".into()],
        ..Resources::default()
    };
    if let Some((numbers, path)) = &block {
        r.blkio_throttle_read_bps = vec![(numbers.clone(), 1_048_576)];
        r.blkio_throttle_write_iops = vec![(path.clone().unwrap_or(numbers.clone()), 100)];
    }
    let (cg, warnings) = mgr.create("proj", "c0ffee", &r).expect("create");
    println!("warnings: {warnings:?}");
    let cg = cg.as_ref();

    // A new process joins each v1 hierarchy's cgroup through its `tasks`, and is cloned into
    // the cgroup2 one.
    let birth = cg.birthplace();
    let v1: Vec<PathBuf> = cg
        .paths()
        .into_iter()
        .filter(|(c, _)| !c.is_empty())
        .map(|(_, p)| p.join("tasks"))
        .collect();
    assert_eq!(birth.v1_tasks, v1);
    assert!(v1.iter().all(|t| t.exists()), "{v1:?}");
    assert_eq!(
        birth.cgroup2,
        cg.paths()
            .into_iter()
            .find(|(c, _)| c.is_empty())
            .map(|(_, p)| p)
    );

    // Limits read back from the kernel.
    let mem = dir_of(cg, "memory");
    assert!(mem.ends_with("proj/c0ffee"), "{}", mem.display());
    assert_eq!(read(&mem.join("memory.limit_in_bytes")), "67108864");
    assert_eq!(read(&mem.join("memory.soft_limit_in_bytes")), "33554432");
    if mem.join("memory.memsw.limit_in_bytes").exists() {
        assert_eq!(read(&mem.join("memory.memsw.limit_in_bytes")), "134217728");
    }
    assert_eq!(read(&mem.join("memory.swappiness")), "10");
    let cpu = dir_of(cg, "cpu");
    assert_eq!(read(&cpu.join("cpu.shares")), "512");
    assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "150000");
    assert_eq!(read(&cpu.join("cpu.cfs_period_us")), "100000");
    let cpuset = dir_of(cg, "cpuset");
    assert_eq!(read(&cpuset.join("cpuset.cpus")), "0");
    assert_eq!(read(&cpuset.join("cpuset.mems")), "0");
    // The parents got cpus/mems copied down, or no task could join.
    assert!(!read(&cpuset.parent().unwrap().join("cpuset.cpus")).is_empty());
    assert_eq!(read(&dir_of(cg, "pids").join("pids.max")), "50");
    let devices = read(&dir_of(cg, "devices").join("devices.list"));
    for rule in ["c 1:3 rwm", "c 136:* rwm", "c 1:11 rw", "b *:* m"] {
        assert!(
            devices.lines().any(|l| l == rule),
            "{rule} not in {devices}"
        );
    }
    assert!(!devices.contains("a *:* rwm"), "{devices}");
    if let Some((numbers, _)) = &block {
        let blkio = dir_of(cg, "blkio");
        assert_eq!(
            read(&blkio.join("blkio.throttle.read_bps_device")),
            format!("{numbers} 1048576")
        );
        assert_eq!(
            read(&blkio.join("blkio.throttle.write_iops_device")),
            format!("{numbers} 100")
        );
    }
    // Opening it again from another "command" finds the same directories.
    assert_eq!(mgr.open("proj", "c0ffee").unwrap().paths(), cg.paths());

    // A process in it, in every hierarchy. It works a little once inside (so that CPU time
    // and memory are charged to the cgroup), says so, and then sleeps.
    let mut child = Command::new("/bin/busybox")
        .args([
            "sh",
            "-c",
            "read x; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo done; \
             exec /bin/busybox sleep 1000",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    cg.add_pid(pid).expect("add_pid");
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "done\n");
    // Wait for the exec of sleep so that the states below are sleep's.
    let deadline = Instant::now() + Duration::from_secs(3);
    while !std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .ends_with(b"sleep\x001000\x00")
    {
        assert!(Instant::now() < deadline, "the child never ran sleep");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(cg.pids().unwrap(), vec![pid]);
    let membership = read(Path::new(&format!("/proc/{pid}/cgroup")));
    for line in membership.lines().filter(|l| {
        let ctrls = l.split(':').nth(1).unwrap_or("");
        ctrls.split(',').any(|c| c == "memory" || c == "freezer")
    }) {
        assert!(line.ends_with("/proj/c0ffee"), "{line}");
    }
    if layout.kind == LayoutKind::Hybrid {
        assert!(membership
            .lines()
            .any(|l| l.starts_with("0::") && l.ends_with("/proj/c0ffee")));
    }

    let stats = cg.stats().unwrap();
    println!("stats: {stats:?}");
    assert_eq!(stats.pids_current, 1);
    assert_eq!(stats.pids_limit, Some(50));
    assert_eq!(stats.memory_limit, Some(64 * MIB as u64));
    assert!(stats.cpu_usage_ns > 0, "{stats:?}");
    assert!(stats.memory_usage > 0, "{stats:?}");

    // Freeze and thaw.
    cg.freeze().expect("freeze");
    assert!(cg.is_frozen().unwrap());
    assert_eq!(read(&dir_of(cg, "freezer").join("freezer.state")), "FROZEN");
    let frozen_state = proc_state(child.id());
    println!("process state while frozen: {frozen_state}");
    assert_eq!(frozen_state, 'D');
    cg.thaw().expect("thaw");
    assert!(!cg.is_frozen().unwrap());
    assert_eq!(read(&dir_of(cg, "freezer").join("freezer.state")), "THAWED");
    // Just thawed, the task may still be on its way back to sleep ('R' for an instant).
    let until = Instant::now() + std::time::Duration::from_secs(2);
    let mut state = proc_state(child.id());
    while state != 'S' && Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(5));
        state = proc_state(child.id());
    }
    assert_eq!(
        state, 'S',
        "the task did not go back to sleep after the thaw"
    );

    // Kill, and remove at once: the task may still be exiting, removal waits for it.
    let paths = cg.paths();
    let start = Instant::now();
    cg.kill_all(Signal::KILL).expect("kill_all");
    cg.remove().expect("remove right after kill");
    println!("kill_all + remove took {:?}", start.elapsed());
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    for (_, p) in &paths {
        assert!(!p.exists(), "{} left behind", p.display());
        assert!(
            !p.parent().unwrap().exists(),
            "project dir of {} left",
            p.display()
        );
    }
    assert!(matches!(
        mgr.open("proj", "c0ffee"),
        Err(CgroupError::NotFound { .. })
    ));
}

#[test]
#[ignore = "needs root"]
fn v1_signals_every_member_through_pidfds() {
    let Some((mgr, _guard, _)) = setup("v1_signals") else {
        return;
    };
    let (cg, _) = mgr.create("proj", "sig", &Resources::default()).unwrap();
    let mut children = [spawn_sleep(), spawn_sleep()];
    for c in &children {
        cg.add_pid(c.id() as i32).unwrap();
    }
    assert_eq!(cg.pids().unwrap().len(), 2);
    cg.kill_all(Signal::TERM).unwrap();
    for c in &mut children {
        assert_eq!(c.wait().unwrap().signal(), Some(libc::SIGTERM));
    }
    cg.remove().unwrap();
    assert!(cg.paths().iter().all(|(_, p)| !p.exists()));
}

#[test]
#[ignore = "needs root"]
fn v1_oom_kill_is_detected() {
    let Some((mgr, _guard, _)) = setup("v1_oom") else {
        return;
    };
    let r = Resources {
        memory_limit: Some(8 * MIB),
        memory_swap: Some(8 * MIB),
        ..Resources::default()
    };
    let (cg, _) = mgr.create("proj", "oom", &r).unwrap();
    assert!(!cg.oom_killed().unwrap());
    // The shell waits for a line so that it is in the cgroup before it allocates: dd reads
    // 32 MiB of zeros into one buffer, touching every page of it.
    let mut child = Command::new("/bin/busybox")
        .args([
            "sh",
            "-c",
            "read x; exec /bin/busybox dd if=/dev/zero of=/dev/null bs=32M count=1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    cg.add_pid(child.id() as i32).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    assert!(cg.oom_kills().unwrap() >= 1);
    assert!(cg.oom_killed().unwrap());
    cg.remove().unwrap();
}

#[test]
#[ignore = "needs root"]
fn v1_failed_create_leaves_nothing() {
    let Some((mgr, _guard, _)) = setup("v1_failed_create") else {
        return;
    };
    let r = Resources {
        memory_limit: Some(64 * MIB),
        device_rules: vec!["q 1:1 rwm".into()],
        ..Resources::default()
    };
    assert!(matches!(
        mgr.create("proj", "bad", &r),
        Err(CgroupError::Invalid { .. })
    ));
    assert!(matches!(
        mgr.open("proj", "bad"),
        Err(CgroupError::NotFound { .. })
    ));
}

#[test]
#[ignore = "needs root"]
fn v1_sigkill_without_cgroup_kill_freezes_and_signals() {
    let Some((_, guard, layout)) = setup("v1_sigkill_legacy") else {
        return;
    };
    // The same hierarchies without the cgroup2 one: the legacy path (freeze, pidfds, thaw).
    let legacy = Layout {
        kind: LayoutKind::Legacy,
        v1: layout.v1.clone(),
        unified: None,
    };
    let parent = guard.dirs[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let options = CgroupOptions {
        anchor: Anchor::Own,
        parent,
        timeout: Duration::from_secs(3),
    };
    let mgr = manager(&legacy, &options).unwrap();
    let (cg, _) = mgr.create("proj", "legacy", &Resources::default()).unwrap();
    assert!(cg.paths().iter().all(|(c, _)| !c.is_empty()));
    let mut children = [spawn_sleep(), spawn_sleep()];
    for c in &children {
        cg.add_pid(c.id() as i32).unwrap();
    }
    cg.kill_all(Signal::KILL).unwrap();
    cg.remove().unwrap();
    for c in &mut children {
        assert_eq!(c.wait().unwrap().signal(), Some(libc::SIGKILL));
    }
    assert!(cg.paths().iter().all(|(_, p)| !p.exists()));
}

#[test]
#[ignore = "needs root"]
fn v1_create_and_remove_cost() {
    let Some((mgr, _guard, _)) = setup("v1_cost") else {
        return;
    };
    let r = Resources {
        memory_limit: Some(64 * MIB),
        cpu_quota: Some(150_000),
        cpu_period: Some(100_000),
        pids_limit: Some(100),
        ..Resources::default()
    };
    let mut times = Vec::new();
    for i in 0..20 {
        let start = Instant::now();
        let (cg, _) = mgr.create("proj", &format!("c{i}"), &r).unwrap();
        let created = start.elapsed();
        cg.remove().unwrap();
        times.push((created, start.elapsed() - created));
    }
    times.sort();
    println!(
        "v1 create (median of 20): {:?}, remove: {:?}",
        times[10].0, times[10].1
    );
}
