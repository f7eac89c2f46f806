//! Control groups: one cgroup per container under a per-project parent
//! (`<parent>/<project group>/<container id>`, `compose/…` by default; the group is the project
//! name and a hash of the state root, [`project_group`]), behind one trait with a v1 and a v2
//! backend chosen from the host's layout.
//!
//! Usage: [`Layout::detect`] once per process, [`manager`] once, then per container
//! [`CgroupManager::create`] (or [`CgroupManager::open`] from a later command), and on the
//! returned [`ContainerCgroup`]: `add_pid`, `stats`, `freeze`/`thaw`, `oom_kills`, `kill_all`,
//! `remove`. Everything is synchronous and costs a handful of small file operations.
//!
//! Device access (Docker's default devices plus `device_rules`) is enforced by the `devices`
//! controller on v1 and by an eBPF device program attached to the container's cgroup on v2
//! ([`v2_devices`]).
//!
//! Limits the kernel of the host cannot apply (a controller not mounted, no swap accounting, no
//! blkio weight without BFQ) are discarded with a warning, as Docker does; values that are wrong
//! in themselves are errors.

pub mod convert;
mod fs;
pub mod layout;
mod rt;
mod v1;
mod v2;
pub mod v2_devices;

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::process::{Pid, PidfdFlags, Signal};

pub use fs::{CgroupFs, RealFs};
pub use layout::{CgroupMount, Hierarchy, Layout, LayoutKind};
pub use v1::V1Manager;
pub use v2::V2Manager;

use crate::engine::spec::Resources;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("writing {value:?} to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        source: io::Error,
    },
    #[error("creating cgroup {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error("removing cgroup {path}: {source}")]
    Remove { path: PathBuf, source: io::Error },
    #[error("cgroup {path} still has processes after waiting {waited:?}")]
    Busy { path: PathBuf, waited: Duration },
    #[error("{path} did not become {want:?} within {waited:?} (last read {last:?})")]
    Timeout {
        path: PathBuf,
        want: String,
        last: String,
        waited: Duration,
    },
    #[error("parsing {path}: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("no usable cgroup hierarchy: {0}")]
    NoHierarchy(String),
    #[error("cgroup {path} does not exist")]
    NotFound { path: PathBuf },
    #[error("{what} is not supported here: {path} is missing")]
    Unsupported { what: &'static str, path: PathBuf },
    #[error("sending signal {signal} to pid {pid}: {source}")]
    Signal {
        pid: i32,
        signal: i32,
        source: io::Error,
    },
    #[error("block device {device:?}: {reason}")]
    Device { device: String, reason: String },
    #[error("device filter (eBPF) on {path}: {source}")]
    DeviceFilter {
        path: PathBuf,
        source: v2_devices::DeviceFilterError,
    },
    /// A create failed, and removing what it had made failed too: both are told, so the
    /// cgroup left behind is explained.
    #[error("{error}; and removing the half-made cgroup again: {cleanup}")]
    CleanupFailed {
        error: Box<CgroupError>,
        cleanup: Box<CgroupError>,
    },
}

pub type Result<T> = std::result::Result<T, CgroupError>;

impl CgroupError {
    /// This error, with the failure of the clean-up that followed it attached (none dropped);
    /// itself unchanged when the clean-up worked.
    fn with_cleanup(self, cleanup: Result<()>) -> CgroupError {
        match cleanup {
            Ok(()) => self,
            Err(c) => CgroupError::CleanupFailed {
                error: Box::new(self),
                cleanup: Box::new(c),
            },
        }
    }
}

/// Where the per-project parents live in each hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Anchor {
    /// The top of each mounted hierarchy, as Docker's cgroupfs driver does (`/docker/<id>`): the
    /// same place for every command, whichever cgroup it runs in.
    #[default]
    Root,
    /// This process's own cgroup in each hierarchy (tests; v1 only in practice, since a v2 cgroup
    /// that holds processes cannot delegate controllers to children).
    Own,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupOptions {
    pub anchor: Anchor,
    /// Relative path of the parent of all projects under the anchor.
    pub parent: String,
    /// Bound on waits: a freeze to complete, a cgroup's last task to exit before `rmdir`.
    pub timeout: Duration,
}

impl Default for CgroupOptions {
    fn default() -> Self {
        CgroupOptions {
            anchor: Anchor::Root,
            parent: "compose".to_string(),
            timeout: Duration::from_secs(3),
        }
    }
}

/// Usage figures for `stats`. Figures a host does not provide are 0 / `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CgroupStats {
    /// CPU time used by all tasks, in nanoseconds.
    pub cpu_usage_ns: u64,
    /// Memory charged, page cache included.
    pub memory_usage: u64,
    /// `None` when unlimited.
    pub memory_limit: Option<u64>,
    /// Inactive file cache, which `docker stats` subtracts from the usage it shows.
    pub memory_inactive_file: u64,
    pub pids_current: u64,
    /// `None` when unlimited.
    pub pids_limit: Option<u64>,
    pub io_read_bytes: u64,
    pub io_write_bytes: u64,
}

/// Creates and finds container cgroups; one per process, built by [`manager`].
pub trait CgroupManager: Send + Sync + Debug {
    fn kind(&self) -> LayoutKind;

    /// Creates `<parent>/<project>/<container_id>` (parents as needed; `project` is the
    /// project's group, see [`project_group`]), applies `resources` and
    /// returns the cgroup with warnings about limits this host cannot apply. On error nothing of
    /// the container's cgroup is left.
    fn create(
        &self,
        project: &str,
        container_id: &str,
        resources: &Resources,
    ) -> Result<(Box<dyn ContainerCgroup>, Vec<String>)>;

    /// The existing cgroup of a container ([`CgroupError::NotFound`] when there is none).
    fn open(&self, project: &str, container_id: &str) -> Result<Box<dyn ContainerCgroup>>;
}

/// How a new process enters a container's cgroup without being moved there by another process.
///
/// Moving another process in (writing its pid to `cgroup.procs`) takes the kernel's
/// `cgroup_threadgroup_rwsem` for writing, which first waits for an RCU grace period: about
/// 10 ms on these machines, the largest single cost of starting a container (crun pays it too).
/// A process born with `clone3(CLONE_INTO_CGROUP)` is in its cgroup2 cgroup from the start, and
/// a single-threaded process that writes `0` to a v1 hierarchy's `tasks` moves only itself,
/// which needs no such lock; neither waits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Birthplace {
    /// The cgroup2 directory the process is cloned into (cgroup2 hosts, and the
    /// controller-less cgroup2 hierarchy of hybrid hosts).
    pub cgroup2: Option<PathBuf>,
    /// The v1 hierarchies' `tasks` files the process writes `0` to before anything else.
    pub v1_tasks: Vec<PathBuf>,
}

/// One container's cgroup.
pub trait ContainerCgroup: Send + Sync + Debug {
    /// Applies `resources` again (`compose up` with changed limits); returns warnings.
    fn update(&self, resources: &Resources) -> Result<Vec<String>>;
    /// Moves a process (all its threads) into the cgroup.
    fn add_pid(&self, pid: i32) -> Result<()>;
    /// Where a new process can be put at its birth instead of being moved in afterwards with
    /// [`ContainerCgroup::add_pid`] (see [`Birthplace`]).
    fn birthplace(&self) -> Birthplace;
    /// Processes in the cgroup, sorted.
    fn pids(&self) -> Result<Vec<i32>>;
    fn stats(&self) -> Result<CgroupStats>;
    /// Freezes every task, returning once the kernel reports the cgroup frozen.
    fn freeze(&self) -> Result<()>;
    fn thaw(&self) -> Result<()>;
    fn is_frozen(&self) -> Result<bool>;
    /// How many tasks the OOM killer killed in this cgroup.
    fn oom_kills(&self) -> Result<u64>;
    fn oom_killed(&self) -> Result<bool> {
        Ok(self.oom_kills()? > 0)
    }
    /// Signals every process (SIGKILL atomically through `cgroup.kill` where the kernel has it).
    fn kill_all(&self, signal: Signal) -> Result<()>;
    /// Removes the cgroup and its project parent if that is now empty, waiting (bounded) for
    /// exiting tasks to leave. Removing a cgroup that is already gone is not an error.
    fn remove(&self) -> Result<()>;
    /// The cgroup's directories: (v1 controllers joined by `,`, or `""` for cgroup2; path).
    fn paths(&self) -> Vec<(String, PathBuf)>;
}

/// The backend for `layout`.
pub fn manager(layout: &Layout, options: &CgroupOptions) -> Result<Box<dyn CgroupManager>> {
    manager_with_fs(layout, options, Arc::new(RealFs))
}

/// [`manager`] over another filesystem implementation (tests).
pub fn manager_with_fs(
    layout: &Layout,
    options: &CgroupOptions,
    fs: Arc<dyn CgroupFs>,
) -> Result<Box<dyn CgroupManager>> {
    let parent = parent_path(&options.parent)?;
    let ctx = Arc::new(Ctx {
        fs,
        timeout: options.timeout,
    });
    Ok(match layout.kind {
        LayoutKind::Unified => Box::new(V2Manager::new(layout, options.anchor, parent, ctx)?),
        LayoutKind::Legacy | LayoutKind::Hybrid => {
            Box::new(V1Manager::new(layout, options.anchor, parent, ctx)?)
        }
    })
}

/// What both backends share: the filesystem and the bound on waits.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub fs: Arc<dyn CgroupFs>,
    pub timeout: Duration,
}

impl Ctx {
    pub fn read(&self, path: &Path) -> Result<String> {
        self.fs.read(path).map_err(|source| CgroupError::Read {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads a file that may legitimately be missing (a controller or feature the host lacks).
    pub fn read_opt(&self, path: &Path) -> Result<Option<String>> {
        match self.fs.read(path) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(CgroupError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    pub fn write(&self, path: &Path, value: &str) -> Result<()> {
        tracing::trace!(path = %path.display(), value, "cgroup write");
        self.fs
            .write(path, value)
            .map_err(|source| CgroupError::Write {
                path: path.to_path_buf(),
                value: value.to_string(),
                source,
            })
    }

    /// Writes an optional interface file: `Ok(false)` when the kernel lacks it.
    pub fn write_opt(&self, path: &Path, value: &str) -> Result<bool> {
        match self.fs.write(path, value) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(CgroupError::Write {
                path: path.to_path_buf(),
                value: value.to_string(),
                source,
            }),
        }
    }

    /// Writes an optional file, or records `warning` when the host lacks it.
    pub fn write_or_warn(
        &self,
        path: &Path,
        value: &str,
        warnings: &mut Vec<String>,
        warning: impl FnOnce() -> String,
    ) -> Result<()> {
        if !self.write_opt(path, value)? {
            warnings.push(warning());
        }
        Ok(())
    }

    /// Creates `anchor/<components>` level by level; returns every level below the anchor.
    /// A level removed concurrently (another command removing an empty project parent) is
    /// created again.
    pub fn mkdir_chain(&self, anchor: &Path, components: &[&str]) -> Result<Vec<PathBuf>> {
        self.mkdir_chain_with(anchor, components, |_| Ok(()))
    }

    /// [`Ctx::mkdir_chain`], calling `each(level)` right after each level exists and before
    /// its child is made (v2 delegates controllers to a level before creating below it).
    pub fn mkdir_chain_with(
        &self,
        anchor: &Path,
        components: &[&str],
        mut each: impl FnMut(&Path) -> Result<()>,
    ) -> Result<Vec<PathBuf>> {
        tracing::debug!(anchor = %anchor.display(), ?components, "creating cgroup");
        'attempt: for _ in 0..5 {
            let mut levels = Vec::with_capacity(components.len());
            let mut dir = anchor.to_path_buf();
            for c in components {
                dir.push(c);
                match self.fs.mkdir(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound && !levels.is_empty() => {
                        continue 'attempt;
                    }
                    Err(source) => return Err(CgroupError::Create { path: dir, source }),
                }
                each(&dir)?;
                levels.push(dir.clone());
            }
            return Ok(levels);
        }
        Err(CgroupError::Create {
            path: components
                .iter()
                .fold(anchor.to_path_buf(), |p, c| p.join(c)),
            source: io::Error::other("its parent kept disappearing"),
        })
    }

    /// `rmdir` a leaf, retrying while its last tasks exit (EBUSY) up to the timeout.
    pub fn rmdir_leaf(&self, path: &Path) -> Result<()> {
        tracing::debug!(path = %path.display(), "removing cgroup");
        let start = Instant::now();
        let mut backoff = Backoff::new();
        loop {
            match self.fs.rmdir(path) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    if start.elapsed() >= self.timeout {
                        return Err(CgroupError::Busy {
                            path: path.to_path_buf(),
                            waited: start.elapsed(),
                        });
                    }
                    backoff.sleep();
                }
                Err(source) => {
                    return Err(CgroupError::Remove {
                        path: path.to_path_buf(),
                        source,
                    })
                }
            }
        }
    }

    /// `rmdir` a parent if it is empty; busy or already gone is fine (other containers).
    pub fn rmdir_parent(&self, path: &Path) -> Result<()> {
        match self.fs.rmdir(path) {
            Ok(()) => Ok(()),
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || matches!(e.raw_os_error(), Some(libc::EBUSY | libc::ENOTEMPTY)) =>
            {
                Ok(())
            }
            Err(source) => Err(CgroupError::Remove {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Writes a pid to `cgroup.procs` (one pid per write: the kernel reads one). EINVAL can mean
    /// the task is still being created: retry briefly, as runc does.
    pub fn add_pid(&self, dir: &Path, pid: i32) -> Result<()> {
        tracing::debug!(cgroup = %dir.display(), pid, "moving a process into its cgroup");
        if pid <= 0 {
            return Err(convert::invalid("pid", pid, "must be positive"));
        }
        let path = dir.join("cgroup.procs");
        let value = pid.to_string();
        let mut backoff = Backoff::new();
        let mut attempts = 0;
        loop {
            match self.fs.write(&path, &value) {
                Ok(()) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) && attempts < 5 => {
                    attempts += 1;
                    backoff.sleep();
                }
                Err(source) => {
                    return Err(CgroupError::Write {
                        path,
                        value,
                        source,
                    })
                }
            }
        }
    }

    pub fn read_pids(&self, procs: &Path) -> Result<Vec<i32>> {
        let text = self.read(procs)?;
        let mut pids = BTreeSet::new();
        for word in text.split_whitespace() {
            let pid = word.parse::<i32>().map_err(|_| CgroupError::Parse {
                path: procs.to_path_buf(),
                detail: format!("not a pid: {word:?}"),
            })?;
            pids.insert(pid);
        }
        Ok(pids.into_iter().collect())
    }

    /// Polls `path` until `done(content)` holds, up to the timeout; `retry` runs before each
    /// new poll (re-requesting a v1 freeze).
    pub fn wait_for(
        &self,
        path: &Path,
        want: &str,
        done: impl Fn(&str) -> bool,
        mut retry: impl FnMut() -> Result<()>,
    ) -> Result<()> {
        let start = Instant::now();
        let mut backoff = Backoff::new();
        loop {
            let text = self.read(path)?;
            if done(&text) {
                return Ok(());
            }
            if start.elapsed() >= self.timeout {
                return Err(CgroupError::Timeout {
                    path: path.to_path_buf(),
                    want: want.to_string(),
                    last: text.trim().to_string(),
                    waited: start.elapsed(),
                });
            }
            backoff.sleep();
            retry()?;
        }
    }

    /// Signals every pid listed in `procs`, without ever hitting a recycled pid: each pid is
    /// pinned with a pidfd, the list is read again, and only pidfds whose pid is still listed
    /// (so still the member it was) are signalled. Repeats while new members show up.
    pub fn signal_members(&self, procs: &Path, signal: Signal) -> Result<()> {
        let mut signalled = BTreeSet::new();
        for _round in 0..16 {
            let pids = self.read_pids(procs)?;
            let fresh: Vec<i32> = pids
                .into_iter()
                .filter(|p| !signalled.contains(p))
                .collect();
            if fresh.is_empty() {
                return Ok(());
            }
            let mut pinned = Vec::with_capacity(fresh.len());
            for pid in fresh {
                let Some(p) = Pid::from_raw(pid) else {
                    continue;
                };
                match rustix::process::pidfd_open(p, PidfdFlags::empty()) {
                    Ok(fd) => pinned.push((pid, fd)),
                    Err(rustix::io::Errno::SRCH) => {}
                    Err(e) => {
                        return Err(CgroupError::Signal {
                            pid,
                            signal: signal.as_raw(),
                            source: e.into(),
                        })
                    }
                }
            }
            let still: BTreeSet<i32> = self.read_pids(procs)?.into_iter().collect();
            for (pid, fd) in pinned {
                if !still.contains(&pid) {
                    continue;
                }
                match rustix::process::pidfd_send_signal(&fd, signal) {
                    Ok(()) | Err(rustix::io::Errno::SRCH) => {}
                    Err(e) => {
                        return Err(CgroupError::Signal {
                            pid,
                            signal: signal.as_raw(),
                            source: e.into(),
                        })
                    }
                }
                signalled.insert(pid);
            }
        }
        Ok(())
    }
}

/// Sleeps 50 µs, doubling up to 10 ms: fast for the common quick case, cheap when it is slow.
pub(crate) struct Backoff(Duration);

impl Backoff {
    pub fn new() -> Self {
        Backoff(Duration::from_micros(50))
    }

    pub fn sleep(&mut self) {
        std::thread::sleep(self.0);
        self.0 = (self.0 * 2).min(Duration::from_millis(10));
    }
}

/// The directory of a project's container cgroups under the parent: the project name and 8 hex
/// digits of a hash of the canonical state root. Cgroups are host-wide while projects live in a
/// state root: two roots running a project of the same name get a directory each, so nothing
/// done to one project's cgroups (its last container's `rmdir` of the directory, a future
/// project-wide limit) reaches the other's.
pub fn project_group(canonical_root: &Path, project: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(canonical_root.as_os_str().as_encoded_bytes());
    h.update([0u8]);
    h.update(project.as_bytes());
    let tag: String = h.finalize()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{project}-{tag}")
}

/// A project name or container id used as one directory name.
pub(crate) fn check_name(what: &'static str, name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "is empty"
    } else if name == "." || name == ".." {
        "is . or .."
    } else if name.contains(['/', '\0', '\n']) {
        "contains '/', NUL or a newline"
    } else if name.len() > 200 {
        "is longer than 200 bytes"
    } else {
        return Ok(());
    };
    Err(convert::invalid(what, name, reason))
}

fn parent_path(parent: &str) -> Result<Vec<String>> {
    let parts: Vec<String> = parent
        .split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if parts.is_empty() {
        return Err(convert::invalid(
            "cgroup parent",
            parent,
            "must name at least one directory",
        ));
    }
    for p in &parts {
        check_name("cgroup parent", p)?;
    }
    Ok(parts)
}

/// `key value` lines (memory.stat, cpu.stat, memory.events, memory.oom_control).
pub(crate) fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// A number file; `max` (v2) and v1's "unlimited" values (≥ 2^62) read as `None`.
pub(crate) fn limit_value(text: &str) -> Option<u64> {
    let t = text.trim();
    if t == "max" {
        return None;
    }
    t.parse::<u64>().ok().filter(|v| *v < (1 << 62))
}

/// `MAJ:MIN` of a block device given as `MAJ:MIN` or a path (Compose's `blkio_config` uses
/// paths like `/dev/sda`).
pub(crate) fn block_device(device: &str) -> Result<(u32, u32)> {
    if let Some(n) = convert::parse_device_number(device) {
        return Ok(n);
    }
    let st = rustix::fs::stat(device).map_err(|e| CgroupError::Device {
        device: device.to_string(),
        reason: io::Error::from(e).to_string(),
    })?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::BlockDevice {
        return Err(CgroupError::Device {
            device: device.to_string(),
            reason: "not a block device".to_string(),
        });
    }
    Ok((rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev)))
}

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests_v1_real;
#[cfg(test)]
mod tests_v2_devices_real;
#[cfg(test)]
mod tests_v2_fake;
#[cfg(test)]
mod tests_v2_real;

#[cfg(test)]
mod project_group_tests {
    use super::*;

    #[test]
    fn a_project_gets_a_directory_per_state_root() {
        let a = project_group(Path::new("/var/lib/compose"), "shop");
        assert_eq!(a, project_group(Path::new("/var/lib/compose"), "shop"));
        assert_ne!(a, project_group(Path::new("/srv/ci/root"), "shop"));
        assert!(
            a.starts_with("shop-") && a.len() == "shop-".len() + 8,
            "{a}"
        );
        assert!(check_name("project", &a).is_ok());
    }
}
