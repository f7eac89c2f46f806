//! The v2 backend against a temporary directory laid out like cgroup2 (this host's cgroup2 has
//! no controllers, so it cannot be exercised for real here): every write is asserted.

use std::sync::Arc;
use std::time::Duration;

use rustix::process::Signal;

use super::test_support::{FakeCgroup2, DEVICE_FILTER};
use super::*;

const MIB: i64 = 1 << 20;
const ID: &str = "0123456789abcdef";

fn setup(
    controllers: &str,
    enabled: &str,
) -> (tempfile::TempDir, Arc<FakeCgroup2>, Box<dyn CgroupManager>) {
    let tmp = tempfile::tempdir().unwrap();
    let fake = Arc::new(FakeCgroup2::new(tmp.path(), controllers, enabled));
    let options = CgroupOptions {
        timeout: Duration::from_millis(100),
        ..CgroupOptions::default()
    };
    let mgr = manager_with_fs(&Layout::unified_at(tmp.path()), &options, fake.clone()).unwrap();
    (tmp, fake, mgr)
}

fn w(path: &str, value: &str) -> (String, String) {
    (path.to_string(), value.to_string())
}

fn full_resources() -> Resources {
    Resources {
        memory_limit: Some(64 * MIB),
        memory_reservation: Some(32 * MIB),
        memory_swap: Some(96 * MIB),
        memory_swappiness: None,
        cpu_shares: Some(512),
        cpu_quota: Some(150_000),
        cpu_period: Some(100_000),
        cpuset_cpus: Some("0-1".into()),
        cpuset_mems: Some("0".into()),
        pids_limit: Some(100),
        blkio_weight: Some(500),
        blkio_weight_device: vec![("8:0".into(), 300)],
        blkio_throttle_read_bps: vec![("8:0".into(), 1_048_576)],
        blkio_throttle_write_bps: vec![("8:0".into(), 2_097_152)],
        blkio_throttle_read_iops: vec![],
        blkio_throttle_write_iops: vec![("8:16".into(), 100)],
        device_rules: vec![],
        oom_kill_disable: false,
        cpu_rt_runtime: None,
        cpu_rt_period: None,
    }
}

#[test]
fn create_writes_exactly_what_the_kernel_expects() {
    let (tmp, fake, mgr) = setup("cpuset cpu io memory hugetlb pids rdma misc", "memory pids");
    assert_eq!(mgr.kind(), LayoutKind::Unified);
    let (cg, warnings) = mgr.create("proj", ID, &full_resources()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let leaf = format!("compose/proj/{ID}");
    let l = |f: &str| format!("{leaf}/{f}");
    assert_eq!(
        fake.writes(),
        vec![
            // Only what the root does not delegate yet, in one write.
            w("cgroup.subtree_control", "+cpuset +cpu +io"),
            w(
                "compose/cgroup.subtree_control",
                "+cpuset +cpu +io +memory +pids"
            ),
            w(
                "compose/proj/cgroup.subtree_control",
                "+cpuset +cpu +io +memory +pids"
            ),
            w(&l("memory.max"), "67108864"),
            w(&l("memory.low"), "33554432"),
            w(&l("memory.swap.max"), "33554432"),
            w(&l("cpu.weight"), "59"),
            w(&l("cpu.max"), "150000 100000"),
            w(&l("cpuset.cpus"), "0-1"),
            w(&l("cpuset.mems"), "0"),
            w(&l("pids.max"), "100"),
            w(&l("io.weight"), "default 4950"),
            w(&l("io.weight"), "8:0 2930"),
            w(&l("io.max"), "8:0 rbps=1048576 wbps=2097152"),
            w(&l("io.max"), "8:16 wiops=100"),
            // The eBPF device program: Docker's 12 default device rules.
            w(&l(DEVICE_FILTER), "allow 12 rules"),
        ]
    );
    // The kernel-side state: controllers delegated down to the leaf.
    let read = |p: &str| std::fs::read_to_string(tmp.path().join(p)).unwrap();
    assert_eq!(
        read("cgroup.subtree_control").trim(),
        "memory pids cpuset cpu io"
    );
    assert_eq!(
        read(&l("cgroup.controllers")).trim(),
        "cpuset cpu io memory pids"
    );
    assert_eq!(read(&l("cpu.max")), "150000 100000");

    // A second container of the same project delegates nothing again.
    fake.clear();
    let (other, _) = mgr.create("proj", "other", &Resources::default()).unwrap();
    assert_eq!(
        fake.writes(),
        vec![w(
            &format!("compose/proj/other/{DEVICE_FILTER}"),
            "allow 12 rules"
        )]
    );

    // cgroup.procs: one pid per write.
    fake.clear();
    cg.add_pid(1234).unwrap();
    cg.add_pid(5678).unwrap();
    assert_eq!(
        fake.writes(),
        vec![w(&l("cgroup.procs"), "1234"), w(&l("cgroup.procs"), "5678")]
    );
    assert_eq!(cg.pids().unwrap(), vec![1234, 5678]);
    assert!(cg.add_pid(0).is_err());

    // Stats from the files the kernel keeps.
    std::fs::write(
        tmp.path().join(l("cpu.stat")),
        "usage_usec 1500\nuser_usec 1000\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join(l("memory.current")), "4096000\n").unwrap();
    std::fs::write(
        tmp.path().join(l("memory.stat")),
        "anon 100\ninactive_file 2048\nactive_file 7\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join(l("pids.current")), "2\n").unwrap();
    std::fs::write(
        tmp.path().join(l("io.stat")),
        "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=5 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n",
    )
    .unwrap();
    assert_eq!(
        cg.stats().unwrap(),
        CgroupStats {
            cpu_usage_ns: 1_500_000,
            memory_usage: 4_096_000,
            memory_limit: Some(64 * MIB as u64),
            memory_inactive_file: 2048,
            pids_current: 2,
            pids_limit: Some(100),
            io_read_bytes: 15,
            io_write_bytes: 20,
        }
    );

    // Freeze / thaw through cgroup.freeze, confirmed by cgroup.events.
    fake.clear();
    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());
    assert_eq!(
        fake.writes(),
        vec![w(&l("cgroup.freeze"), "1"), w(&l("cgroup.freeze"), "0")]
    );

    // OOM kills from memory.events.
    assert_eq!(cg.oom_kills().unwrap(), 0);
    std::fs::write(
        tmp.path().join(l("memory.events")),
        "low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n",
    )
    .unwrap();
    assert_eq!(cg.oom_kills().unwrap(), 2);
    assert!(cg.oom_killed().unwrap());

    // Kill through cgroup.kill, then removal of the leaf; the project parent stays while
    // another container uses it, and goes with the last one.
    fake.clear();
    cg.kill_all(Signal::KILL).unwrap();
    assert_eq!(fake.writes(), vec![w(&l("cgroup.kill"), "1")]);
    cg.remove().unwrap();
    assert!(!tmp.path().join(&leaf).exists());
    assert!(tmp.path().join("compose/proj").exists());
    assert!(matches!(
        mgr.open("proj", ID),
        Err(CgroupError::NotFound { .. })
    ));
    let reopened = mgr.open("proj", "other").unwrap();
    assert_eq!(
        reopened.paths(),
        vec![(String::new(), tmp.path().join("compose/proj/other"))]
    );
    drop(other);
    reopened.remove().unwrap();
    assert!(!tmp.path().join("compose/proj").exists());
    assert!(tmp.path().join("compose").exists());
    // Removing again is fine.
    reopened.remove().unwrap();
}

#[test]
fn unlimited_values_and_defaults() {
    let (_tmp, fake, mgr) = setup("cpuset cpu io memory pids", "cpuset cpu io memory pids");
    let r = Resources {
        memory_limit: Some(-1),
        cpu_quota: Some(-1),
        pids_limit: Some(-1),
        ..Resources::default()
    };
    let (cg, warnings) = mgr.create("p", ID, &r).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let l = |f: &str| format!("compose/p/{ID}/{f}");
    assert_eq!(
        fake.writes(),
        vec![
            w(
                "compose/cgroup.subtree_control",
                "+cpuset +cpu +io +memory +pids"
            ),
            w(
                "compose/p/cgroup.subtree_control",
                "+cpuset +cpu +io +memory +pids"
            ),
            w(&l("memory.max"), "max"),
            w(&l("memory.swap.max"), "max"),
            w(&l("cpu.max"), "max 100000"),
            w(&l("pids.max"), "max"),
            w(&l(DEVICE_FILTER), "allow 12 rules"),
        ]
    );
    // Update: quota alone uses Docker's period; memory+swap equal to memory is no swap.
    fake.clear();
    let r = Resources {
        memory_limit: Some(32 * MIB),
        memory_swap: Some(32 * MIB),
        cpu_quota: Some(50_000),
        ..Resources::default()
    };
    assert!(cg.update(&r).unwrap().is_empty());
    assert_eq!(
        fake.writes(),
        vec![
            w(&l("memory.max"), "33554432"),
            w(&l("memory.swap.max"), "0"),
            w(&l("cpu.max"), "50000 100000"),
            // Each update replaces the device program.
            w(&l(DEVICE_FILTER), "allow 12 rules"),
        ]
    );
    // Bad values are errors, not warnings.
    let bad = Resources {
        memory_limit: Some(64 * MIB),
        memory_swap: Some(32 * MIB),
        ..Resources::default()
    };
    assert!(matches!(cg.update(&bad), Err(CgroupError::Invalid { .. })));
    cg.remove().unwrap();
}

#[test]
fn missing_controllers_and_features_warn() {
    // No io controller on this host, and no swap accounting.
    let (tmp, fake, mgr) = setup("cpu memory pids", "");
    let mut r = full_resources();
    r.cpuset_cpus = None;
    r.cpuset_mems = None;
    r.memory_swappiness = Some(10);
    // /dev/fuse on top of the defaults.
    r.device_rules = vec!["c 10:229 rwm".into()];
    let (cg, warnings) = mgr.create("p", ID, &r).unwrap();
    let leaf = tmp.path().join(format!("compose/p/{ID}"));
    assert!(!leaf.join("io.max").exists());
    let joined = warnings.join("\n");
    for needle in [
        "cgroup v2 controllers not available: cpuset, io",
        "no per-cgroup swappiness",
        "io.weight is missing",
        "io.max is missing",
    ] {
        assert!(joined.contains(needle), "{needle:?} not in {joined}");
    }
    // Device rules are enforced on v2 too (eBPF), so no warning about them.
    assert!(!joined.contains("device cgroup rules"), "{joined}");
    let filter = (
        format!("compose/p/{ID}/{DEVICE_FILTER}"),
        "allow 13 rules".to_string(),
    );
    assert!(fake.writes().contains(&filter), "{:?}", fake.writes());
    assert!(fake
        .writes()
        .contains(&w("cgroup.subtree_control", "+cpu +memory +pids")));

    // A kernel without swap accounting has no memory.swap.max.
    std::fs::remove_file(leaf.join("memory.swap.max")).unwrap();
    let only_swap = Resources {
        memory_limit: Some(64 * MIB),
        memory_swap: Some(128 * MIB),
        ..Resources::default()
    };
    let warnings = cg.update(&only_swap).unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("memory.swap.max is missing")),
        "{warnings:?}"
    );
    // Privileged: `a *:* rwm` allows every device.
    fake.clear();
    let privileged = Resources {
        device_rules: vec!["a *:* rwm".into()],
        ..Resources::default()
    };
    assert!(cg.update(&privileged).unwrap().is_empty());
    assert_eq!(
        fake.writes(),
        vec![w(
            &format!("compose/p/{ID}/{DEVICE_FILTER}"),
            "allow all devices"
        )]
    );
    // An invalid device rule is an error, and no program is attached.
    fake.clear();
    let bad = Resources {
        device_rules: vec!["x 1:1 rwm".into()],
        ..Resources::default()
    };
    assert!(matches!(cg.update(&bad), Err(CgroupError::Invalid { .. })));
    assert!(fake.writes().is_empty());
    cg.remove().unwrap();
}

#[test]
fn failed_create_leaves_nothing_and_names_are_checked() {
    let (tmp, _fake, mgr) = setup("cpuset cpu io memory pids", "");
    let bad = Resources {
        memory_limit: Some(64 * MIB),
        memory_swap: Some(MIB),
        ..Resources::default()
    };
    assert!(mgr.create("p", ID, &bad).is_err());
    assert!(!tmp.path().join("compose/p").exists());
    for (project, id) in [("..", ID), ("p", "a/b"), ("", ID), ("p", "")] {
        assert!(
            matches!(
                mgr.create(project, id, &Resources::default()),
                Err(CgroupError::Invalid { .. })
            ),
            "{project:?} {id:?}"
        );
    }
    let missing_device = Resources {
        blkio_throttle_read_bps: vec![("/nonexistent/device".into(), 1)],
        ..Resources::default()
    };
    assert!(matches!(
        mgr.create("p", ID, &missing_device),
        Err(CgroupError::Device { .. })
    ));
    assert!(!tmp.path().join("compose/p").exists());
}

#[test]
fn stuck_freeze_times_out_and_thaws() {
    let tmp = tempfile::tempdir().unwrap();
    let mut fake = FakeCgroup2::new(tmp.path(), "cpu memory pids", "");
    fake.freeze_works = false;
    let fake = Arc::new(fake);
    let options = CgroupOptions {
        timeout: Duration::from_millis(30),
        ..CgroupOptions::default()
    };
    let mgr = manager_with_fs(&Layout::unified_at(tmp.path()), &options, fake.clone()).unwrap();
    let (cg, _) = mgr.create("p", ID, &Resources::default()).unwrap();
    fake.clear();
    assert!(matches!(cg.freeze(), Err(CgroupError::Timeout { .. })));
    let l = format!("compose/p/{ID}/cgroup.freeze");
    assert_eq!(fake.writes(), vec![w(&l, "1"), w(&l, "0")]);
    cg.remove().unwrap();
}

#[test]
fn busy_leaf_removal_is_bounded() {
    let (tmp, _fake, mgr) = setup("memory pids", "");
    let (cg, _) = mgr.create("p", ID, &Resources::default()).unwrap();
    cg.add_pid(4242).unwrap();
    let start = std::time::Instant::now();
    assert!(matches!(cg.remove(), Err(CgroupError::Busy { .. })));
    assert!(start.elapsed() < Duration::from_secs(2));
    // Once the task is gone, removal succeeds.
    std::fs::write(tmp.path().join(format!("compose/p/{ID}/cgroup.procs")), "").unwrap();
    cg.remove().unwrap();
    assert!(!tmp.path().join("compose/p").exists());
}

#[test]
fn detected_unified_layout_picks_v2() {
    let tmp = tempfile::tempdir().unwrap();
    let info = format!(
        "25 20 0:22 / {} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
        tmp.path().display()
    );
    let layout = Layout::from_mountinfo(&info, "0::/user.slice\n").unwrap();
    let fake = Arc::new(FakeCgroup2::new(tmp.path(), "memory", ""));
    let mgr = manager_with_fs(&layout, &CgroupOptions::default(), fake).unwrap();
    assert_eq!(mgr.kind(), LayoutKind::Unified);
    let (cg, _) = mgr
        .create(
            "p",
            ID,
            &Resources {
                memory_limit: Some(MIB),
                ..Resources::default()
            },
        )
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(tmp.path().join(format!("compose/p/{ID}/memory.max"))).unwrap(),
        "1048576"
    );
    cg.remove().unwrap();
}

#[test]
fn v2_warns_about_oom_kill_disable_and_refuses_a_real_time_budget() {
    let (_tmp, _fake, mgr) = setup("cpu memory pids", "");
    let r = Resources {
        oom_kill_disable: true,
        ..Resources::default()
    };
    let (cg, warnings) = mgr.create("p", ID, &r).unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("oom_kill_disable discarded")),
        "{warnings:?}"
    );
    cg.remove().unwrap();
    let r = Resources {
        cpu_rt_runtime: Some(10_000),
        ..Resources::default()
    };
    let e = mgr.create("p", ID, &r).unwrap_err();
    assert!(e.to_string().contains("cpu_rt_runtime"), "{e}");
}

#[test]
fn a_process_is_cloned_into_the_leaf_and_joins_no_v1_hierarchy() {
    let (tmp, _fake, mgr) = setup("cpu memory pids", "cpu memory pids");
    let (cg, _) = mgr.create("proj", ID, &Resources::default()).unwrap();
    assert_eq!(
        cg.birthplace(),
        Birthplace {
            cgroup2: Some(tmp.path().join(format!("compose/proj/{ID}"))),
            v1_tasks: Vec::new(),
        }
    );
}

#[test]
fn a_failed_create_whose_clean_up_fails_reports_both() {
    let tmp = tempfile::tempdir().unwrap();
    let mut fake = FakeCgroup2::new(tmp.path(), "cpuset cpu io memory pids", "");
    fake.rmdir_fails = true;
    let mgr = manager_with_fs(
        &Layout::unified_at(tmp.path()),
        &CgroupOptions::default(),
        Arc::new(fake),
    )
    .unwrap();
    let bad = Resources {
        memory_limit: Some(64 * MIB),
        memory_swap: Some(MIB),
        ..Resources::default()
    };
    let Err(e) = mgr.create("p", ID, &bad) else {
        panic!("a swap limit under the memory limit must fail");
    };
    let CgroupError::CleanupFailed { error, cleanup } = &e else {
        panic!("the clean-up's failure was dropped: {e}");
    };
    assert!(!matches!(**error, CgroupError::CleanupFailed { .. }), "{e}");
    assert!(
        matches!(&**cleanup, CgroupError::Remove { path, .. } if path.ends_with(ID)),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("; and removing the half-made cgroup again: removing cgroup "),
        "{e}"
    );
}
