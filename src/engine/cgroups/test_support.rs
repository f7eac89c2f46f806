//! Test helpers: unique names, removing a test's real cgroups, a block device for the I/O
//! limits, and a filesystem that behaves like cgroup2 (the kernel's side of
//! mkdir, rmdir, subtree_control, cgroup.procs and cgroup.freeze) over a temporary directory,
//! recording every write the backend makes.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustix::process::{Pid, Signal};

use super::v2_devices::{DeviceFilter, DeviceFilterError};
use super::{CgroupFs, RealFs};

pub fn unique_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "compose-test-{:x}-{nanos:x}-{n}",
        rustix::process::getpid().as_raw_nonzero()
    )
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Set to `1` (by `.ci/vm-tests`, in the cgroup v2 VM) to make a cgroup2 test that would skip
/// fail instead, so that a run on the kernel meant to exercise it cannot pass vacuously.
pub const REQUIRE_CGROUP2: &str = "COMPOSE_REQUIRE_CGROUP2";

/// Skips a cgroup2 test with `reason` printed, or fails it when [`REQUIRE_CGROUP2`] is `1`.
pub fn skip_cgroup2_test(test: &str, reason: &str) {
    if std::env::var_os(REQUIRE_CGROUP2).is_some_and(|v| v == "1") {
        panic!("{test} cannot run ({reason}) but {REQUIRE_CGROUP2}=1 requires it");
    }
    println!("skipping {test}: {reason}");
}

/// Removes a test's cgroup directory and everything below it, bottom-up, even after a test that
/// failed half-way: `empty` first readies each directory (thaws it, writes `cgroup.kill`), then
/// whatever is still in its `cgroup.procs` is killed until the kernel lets the directory go (it
/// reaps asynchronously) or 5 s pass. A directory that stays is reported, never left silently.
pub fn remove_cgroup_tree(dir: &Path, empty: &dyn Fn(&Path)) {
    if !dir.is_dir() {
        return;
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&e.path(), empty);
            }
        }
    }
    empty(dir);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        kill_members(dir);
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if dir.exists() {
        eprintln!("cleanup: could not remove {}", dir.display());
    }
}

/// SIGKILLs the processes in `dir`'s `cgroup.procs` (only ones the test put there); one that
/// is already gone is no error.
fn kill_members(dir: &Path) {
    let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
        return;
    };
    for pid in procs.split_whitespace().filter_map(|p| p.parse().ok()) {
        let Some(pid) = Pid::from_raw(pid) else {
            continue;
        };
        match rustix::process::kill_process(pid, Signal::KILL) {
            Ok(()) | Err(rustix::io::Errno::SRCH) => {}
            Err(e) => eprintln!(
                "cleanup: killing {} in {}: {e}",
                pid.as_raw_nonzero(),
                dir.display()
            ),
        }
    }
}

/// A block device of this host as (`MAJ:MIN`, its path under /dev if there is one), for the
/// blkio/io limits (the cgroup v2 VM loads `brd` for one).
pub fn some_block_device() -> Option<(String, Option<String>)> {
    let partitions = std::fs::read_to_string("/proc/partitions").ok()?;
    partitions.lines().skip(2).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [maj, min, _, name] = f[..] else {
            return None;
        };
        let dev = format!("/dev/{name}");
        let path = Path::new(&dev).exists().then_some(dev);
        Some((format!("{maj}:{min}"), path))
    })
}

/// Interface files the kernel creates in every non-root cgroup2 directory, and per controller.
const CORE_FILES: &[(&str, &str)] = &[
    ("cgroup.procs", ""),
    ("cgroup.subtree_control", ""),
    ("cgroup.events", "populated 0\nfrozen 0\n"),
    ("cgroup.freeze", "0\n"),
    ("cgroup.kill", ""),
];

fn controller_files(controller: &str) -> &'static [(&'static str, &'static str)] {
    match controller {
        "cpu" => &[
            ("cpu.weight", "100\n"),
            ("cpu.max", "max 100000\n"),
            ("cpu.stat", "usage_usec 0\n"),
        ],
        "cpuset" => &[("cpuset.cpus", "\n"), ("cpuset.mems", "\n")],
        "io" => &[
            ("io.weight", "default 100\n"),
            ("io.max", ""),
            ("io.stat", ""),
        ],
        "memory" => &[
            ("memory.max", "max\n"),
            ("memory.low", "0\n"),
            ("memory.swap.max", "max\n"),
            ("memory.current", "0\n"),
            ("memory.stat", "anon 0\ninactive_file 0\n"),
            ("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"),
        ],
        "pids" => &[("pids.max", "max\n"), ("pids.current", "0\n")],
        _ => &[],
    }
}

/// A cgroup2 imitation over a directory. `freeze_works: false` makes `cgroup.freeze` writes
/// never reach the frozen state (a stuck freeze); `rmdir_fails: true` makes every `rmdir`
/// answer `EACCES` (a clean-up that cannot be done).
#[derive(Debug)]
pub struct FakeCgroup2 {
    pub root: PathBuf,
    pub freeze_works: bool,
    pub rmdir_fails: bool,
    writes: Mutex<Vec<(String, String)>>,
}

impl FakeCgroup2 {
    /// Lays out a root cgroup offering `controllers`, with `enabled` already delegated.
    pub fn new(root: &Path, controllers: &str, enabled: &str) -> FakeCgroup2 {
        std::fs::write(root.join("cgroup.controllers"), format!("{controllers}\n")).unwrap();
        std::fs::write(root.join("cgroup.subtree_control"), format!("{enabled}\n")).unwrap();
        std::fs::write(root.join("cgroup.procs"), "1\n").unwrap();
        FakeCgroup2 {
            root: root.to_path_buf(),
            freeze_works: true,
            rmdir_fails: false,
            writes: Mutex::new(Vec::new()),
        }
    }

    /// Writes so far, as (path relative to the root, value).
    pub fn writes(&self) -> Vec<(String, String)> {
        self.writes.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.writes.lock().unwrap().clear();
    }

    fn rel(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
    }
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

impl CgroupFs for FakeCgroup2 {
    fn read(&self, path: &Path) -> io::Result<String> {
        RealFs.read(path)
    }

    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        self.writes
            .lock()
            .unwrap()
            .push((self.rel(path), value.to_string()));
        if !path.is_file() {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        let dir = path.parent().unwrap_or(Path::new("/"));
        match path.file_name().and_then(|n| n.to_str()) {
            Some("cgroup.subtree_control") => {
                let available = words(&std::fs::read_to_string(dir.join("cgroup.controllers"))?);
                let mut enabled = words(&std::fs::read_to_string(path)?);
                for token in value.split_whitespace() {
                    let (on, name) = match token.split_at(1) {
                        ("+", n) => (true, n),
                        ("-", n) => (false, n),
                        _ => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
                    };
                    if !available.iter().any(|a| a == name) {
                        return Err(io::Error::from_raw_os_error(libc::ENOENT));
                    }
                    enabled.retain(|e| e != name);
                    if on {
                        enabled.push(name.to_string());
                    }
                }
                std::fs::write(path, format!("{}\n", enabled.join(" ")))
            }
            Some("cgroup.procs") => {
                // One pid per write, appended to the membership.
                let pid: i32 = value
                    .trim()
                    .parse()
                    .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
                let mut procs = std::fs::read_to_string(path)?;
                procs.push_str(&format!("{pid}\n"));
                std::fs::write(path, procs)
            }
            Some("cgroup.freeze") => {
                std::fs::write(path, value)?;
                if self.freeze_works {
                    let frozen = value.trim() == "1";
                    std::fs::write(
                        dir.join("cgroup.events"),
                        format!("populated 1\nfrozen {}\n", u8::from(frozen)),
                    )?;
                }
                Ok(())
            }
            Some("cgroup.kill") => {
                // Every member dies at once.
                std::fs::write(dir.join("cgroup.procs"), "")?;
                std::fs::write(dir.join("cgroup.events"), "populated 0\nfrozen 0\n")
            }
            _ => RealFs.write(path, value),
        }
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)?;
        let parent = path.parent().unwrap_or(Path::new("/"));
        let delegated = std::fs::read_to_string(parent.join("cgroup.subtree_control"))?;
        std::fs::write(path.join("cgroup.controllers"), &delegated)?;
        for (name, content) in CORE_FILES {
            std::fs::write(path.join(name), content)?;
        }
        for c in delegated.split_whitespace() {
            for (name, content) in controller_files(c) {
                std::fs::write(path.join(name), content)?;
            }
        }
        Ok(())
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        if self.rmdir_fails {
            return Err(io::Error::from_raw_os_error(libc::EACCES));
        }
        let mut files = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                return Err(io::Error::from_raw_os_error(libc::EBUSY));
            }
            files.push(entry.path());
        }
        if !std::fs::read_to_string(path.join("cgroup.procs"))?
            .trim()
            .is_empty()
        {
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        }
        for f in files {
            std::fs::remove_file(f)?;
        }
        std::fs::remove_dir(path)
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    /// Records `(<dir>/<device filter>, "allow N rules")` among the writes: a real program
    /// needs a real cgroup2 directory (tests_v2_devices_real.rs covers that).
    fn set_device_filter(
        &self,
        dir: &Path,
        filter: &DeviceFilter,
    ) -> Result<(), DeviceFilterError> {
        self.writes
            .lock()
            .unwrap()
            .push((self.rel(&dir.join(DEVICE_FILTER)), filter.describe()));
        if !dir.join("cgroup.procs").is_file() {
            return Err(DeviceFilterError::Sys {
                step: "opening the cgroup directory",
                source: io::Error::from_raw_os_error(libc::ENOENT),
            });
        }
        Ok(())
    }
}

/// The pseudo file name under which [`FakeCgroup2`] records device programs.
pub const DEVICE_FILTER: &str = "<device filter>";
