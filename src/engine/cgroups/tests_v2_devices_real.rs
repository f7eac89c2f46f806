//! The eBPF device filter for real (root and a mounted cgroup2 needed; skipped with the reason
//! printed otherwise). On hybrid hosts the controller-less cgroup2 (/sys/fs/cgroup/unified)
//! still runs device programs. Each test works in its own `compose-test-<unique>` cgroup at the
//! top of the cgroup2 hierarchy, removed by a guard even when the test fails; a forked child is
//! moved into it and reports what it could open.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::pipe::{pipe_with, PipeFlags};

use super::convert::DeviceRule;
use super::test_support::{is_root, remove_cgroup_tree, skip_cgroup2_test, unique_name};
use super::v2_devices::{self, DeviceFilter};
use super::*;

/// What the child tries, in order; the sixth probe is `mknod` of a `c 1:5` node.
const PROBES: [(&CStr, libc::c_int); 5] = [
    (c"/dev/null", libc::O_RDONLY),
    (c"/dev/null", libc::O_WRONLY),
    (c"/dev/zero", libc::O_RDONLY),
    (c"/dev/zero", libc::O_WRONLY),
    (c"/dev/kmsg", libc::O_RDONLY),
];
const NULL_R: usize = 0;
const NULL_W: usize = 1;
const ZERO_R: usize = 2;
const ZERO_W: usize = 3;
const KMSG_R: usize = 4;
const MKNOD: usize = 5;
const EPERM: u8 = libc::EPERM as u8;

/// Errno per probe; 0 when it succeeded.
type Report = [u8; 6];

/// Removes the test's cgroup tree bottom-up, killing what the test left in it.
struct Guard(PathBuf);

impl Drop for Guard {
    fn drop(&mut self) {
        remove_cgroup_tree(&self.0, &|_| {});
    }
}

/// The cgroup2 mount point, or `None` (reason printed) to skip.
fn cgroup2(test: &str) -> Option<PathBuf> {
    if !is_root() {
        skip_cgroup2_test(test, "needs root");
        return None;
    }
    match Layout::detect() {
        Ok(Layout {
            unified: Some(h), ..
        }) => Some(h.mount_point),
        Ok(_) => {
            skip_cgroup2_test(test, "no cgroup2 hierarchy is mounted");
            None
        }
        Err(e) => {
            skip_cgroup2_test(test, &e.to_string());
            None
        }
    }
}

/// A fresh cgroup `compose-test-<unique>` at the top of the cgroup2 hierarchy.
fn test_cgroup(test: &str) -> Option<Guard> {
    let mount = cgroup2(test)?;
    let dir = mount.join(unique_name());
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    Some(Guard(dir))
}

fn errno() -> u8 {
    // SAFETY: reads this thread's errno; async-signal-safe.
    unsafe { *libc::__errno_location() as u8 }
}

/// The forked child: waits for the go byte (sent once it is in the cgroup), runs the probes
/// and writes the report. Only async-signal-safe calls: the test binary has other threads.
///
/// # Safety
/// Call only in a freshly forked child; `node` must point to a NUL-terminated path.
unsafe fn child(go: RawFd, report: RawFd, node: *const libc::c_char, dev: libc::dev_t) -> ! {
    let mut byte = 0u8;
    if libc::read(go, (&mut byte as *mut u8).cast(), 1) != 1 {
        libc::_exit(1);
    }
    let mut out: Report = [0; 6];
    for (i, (path, flags)) in PROBES.iter().enumerate() {
        let fd = libc::open(path.as_ptr(), flags | libc::O_CLOEXEC);
        out[i] = if fd >= 0 {
            libc::close(fd);
            0
        } else {
            errno()
        };
    }
    out[MKNOD] = if libc::mknod(node, libc::S_IFCHR | 0o600, dev) == 0 {
        0
    } else {
        errno()
    };
    let n = libc::write(report, out.as_ptr().cast(), out.len());
    libc::_exit(if n == out.len() as isize { 0 } else { 2 });
}

/// Forks a child, lets `join` put it into a cgroup, and returns what the child could do there.
fn probe(join: impl FnOnce(i32) -> Result<()>) -> Report {
    let tmp = tempfile::tempdir().unwrap();
    let node = CString::new(tmp.path().join("zero").as_os_str().as_bytes()).unwrap();
    let dev = libc::makedev(1, 5);
    let (go_r, go_w) = pipe_with(PipeFlags::CLOEXEC).unwrap();
    let (rep_r, rep_w) = pipe_with(PipeFlags::CLOEXEC).unwrap();
    // SAFETY: the child runs only async-signal-safe code (`child`) and never returns.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: freshly forked; `node` lives in the copied address space.
        unsafe { child(go_r.as_raw_fd(), rep_w.as_raw_fd(), node.as_ptr(), dev) }
    }
    assert!(pid > 0, "fork: {}", std::io::Error::last_os_error());
    drop(go_r);
    drop(rep_w);
    let joined = join(pid);
    if joined.is_ok() {
        rustix::io::write(&go_w, &[1]).unwrap();
    }
    // Without the go byte the child reads EOF and exits.
    drop(go_w);
    let mut out: Report = [0; 6];
    let mut got = 0;
    while got < out.len() {
        match rustix::io::read(&rep_r, &mut out[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => panic!("reading the report: {e}"),
        }
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    joined.unwrap();
    assert_eq!(got, out.len(), "child exited with status {status:#x}");
    out
}

/// Moves a pid into a cgroup2 directory directly.
fn join_dir(dir: &Path) -> impl FnOnce(i32) -> Result<()> + '_ {
    move |pid| {
        RealFs
            .write(&dir.join("cgroup.procs"), &pid.to_string())
            .map_err(|source| CgroupError::Write {
                path: dir.join("cgroup.procs"),
                value: pid.to_string(),
                source,
            })
    }
}

/// What the child can do with no device program of ours: the reference for "allowed".
fn baseline() -> Report {
    let b = probe(|_| Ok(()));
    assert_eq!(
        &b[..KMSG_R],
        &[0, 0, 0, 0],
        "/dev/null and /dev/zero must open here"
    );
    assert_eq!(b[MKNOD], 0, "mknod must work in a temporary directory");
    b
}

fn filter(rules: &[&str]) -> DeviceFilter {
    let rules: Vec<DeviceRule> = rules
        .iter()
        .map(|r| DeviceRule::parse(r).unwrap())
        .collect();
    DeviceFilter::from_rules(&rules).unwrap()
}

/// `base` with the probes at `denied` failing with EPERM.
fn expect(base: Report, denied: &[usize]) -> Report {
    let mut want = base;
    for &i in denied {
        want[i] = EPERM;
    }
    want
}

#[test]
#[ignore = "needs root"]
fn program_allows_only_listed_devices() {
    let Some(cg) = test_cgroup("program_allows_only_listed_devices") else {
        return;
    };
    let base = baseline();
    assert!(v2_devices::attached(&cg.0).unwrap().is_empty());

    // /dev/null only: /dev/zero, /dev/kmsg and mknod are refused.
    v2_devices::install(&cg.0, &filter(&["c 1:3 rwm"])).unwrap();
    let first = v2_devices::attached(&cg.0).unwrap();
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(
        probe(join_dir(&cg.0)),
        expect(base, &[ZERO_R, ZERO_W, KMSG_R, MKNOD])
    );

    // Replacing it: /dev/zero for reading only, and mknod of any char device.
    v2_devices::install(&cg.0, &filter(&["c 1:3 rwm", "c 1:5 r", "c *:* m"])).unwrap();
    let second = v2_devices::attached(&cg.0).unwrap();
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(first, second);
    assert_eq!(probe(join_dir(&cg.0)), expect(base, &[ZERO_W, KMSG_R]));

    // Cost on the container start path: build + load + replace of Docker's default set.
    let start = Instant::now();
    const N: u32 = 20;
    for _ in 0..N {
        let f = DeviceFilter::for_resources(&Resources::default()).unwrap();
        v2_devices::install(&cg.0, &f).unwrap();
    }
    let each = start.elapsed() / N;
    println!("device filter build + install: {each:?} each");
    assert!(each < Duration::from_millis(50), "{each:?}");
    assert_eq!(v2_devices::attached(&cg.0).unwrap().len(), 1);
}

#[test]
#[ignore = "needs root"]
fn allow_all_and_deny_all() {
    let Some(cg) = test_cgroup("allow_all_and_deny_all") else {
        return;
    };
    let base = baseline();
    v2_devices::install(&cg.0, &filter(&["a *:* rwm"])).unwrap();
    assert_eq!(probe(join_dir(&cg.0)), base);
    v2_devices::install(&cg.0, &filter(&[])).unwrap();
    assert_eq!(v2_devices::attached(&cg.0).unwrap().len(), 1);
    assert_eq!(
        probe(join_dir(&cg.0)),
        expect(base, &[NULL_R, NULL_W, ZERO_R, ZERO_W, KMSG_R, MKNOD])
    );
}

#[test]
#[ignore = "needs root"]
fn v2_manager_attaches_on_create_and_update() {
    let Some(mount) = cgroup2("v2_manager_attaches_on_create_and_update") else {
        return;
    };
    let parent = unique_name();
    let guard = Guard(mount.join(&parent));
    let options = CgroupOptions {
        parent: parent.clone(),
        ..CgroupOptions::default()
    };
    let mgr = manager(&Layout::unified_at(&mount), &options).unwrap();
    let base = baseline();

    // Docker's defaults: null, zero and mknod of anything; not /dev/kmsg.
    let (cg, _warnings) = mgr.create("p", "c1", &Resources::default()).unwrap();
    let leaf = guard.0.join("p/c1");
    assert_eq!(v2_devices::attached(&leaf).unwrap().len(), 1);
    assert_eq!(probe(|pid| cg.add_pid(pid)), expect(base, &[KMSG_R]));

    // `device_cgroup_rules: ["c 1:11 r"]` (kmsg) through update replaces the program.
    let more = Resources {
        device_rules: vec!["c 1:11 r".into()],
        ..Resources::default()
    };
    assert!(cg.update(&more).unwrap().is_empty());
    assert_eq!(v2_devices::attached(&leaf).unwrap().len(), 1);
    assert_eq!(probe(|pid| cg.add_pid(pid)), base);

    // Privileged: everything.
    let privileged = Resources {
        device_rules: vec!["a *:* rwm".into()],
        ..Resources::default()
    };
    cg.update(&privileged).unwrap();
    assert_eq!(probe(|pid| cg.add_pid(pid)), base);

    // Attaching to a cgroup that does not exist says where and which step.
    let gone = mount.join(unique_name());
    let err = RealFs
        .set_device_filter(&gone, &filter(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("opening the cgroup directory"), "{err}");

    cg.remove().unwrap();
    assert!(!leaf.exists());
}
