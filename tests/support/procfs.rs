//! Figures read from /proc and the file system for the soak and memory tests: what a process
//! holds (resident memory, descriptors) and what a state root, a cgroup parent and the mount
//! table hold, so a test can compare them over time and say what grew.

#![allow(dead_code)]

use std::path::Path;

/// What one process holds, from /proc/PID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProcFigures {
    /// `VmRSS` of /proc/PID/status, kB: every resident page it maps, shared code included.
    pub rss_kb: u64,
    /// `RssAnon`, kB: its private heap and stack, where a leak shows.
    pub anon_kb: u64,
    /// Open descriptors (entries of /proc/PID/fd).
    pub fds: usize,
}

impl ProcFigures {
    /// The figures of `pid`; `None` once it has gone.
    pub fn of(pid: i32) -> Option<ProcFigures> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
        };
        Some(ProcFigures {
            rss_kb: field("VmRSS:")?,
            anon_kb: field("RssAnon:")?,
            fds: std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count(),
        })
    }

    /// The sum over several processes.
    pub fn sum(all: impl IntoIterator<Item = ProcFigures>) -> ProcFigures {
        all.into_iter()
            .fold(ProcFigures::default(), |a, b| ProcFigures {
                rss_kb: a.rss_kb + b.rss_kb,
                anon_kb: a.anon_kb + b.anon_kb,
                fds: a.fds + b.fds,
            })
    }
}

/// This process's open descriptors.
pub fn own_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Files, directories and links under `dir`, recursively, as paths relative to it and sorted,
/// leaving out the top-level entries named in `skip` (the image store, which only grows when
/// images are added).
pub fn entries_under(dir: &Path, skip: &[&str]) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, skip: &[&str], out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if skip.iter().any(|s| e.file_name() == *s) {
                continue;
            }
            let path = e.path();
            let rel = path.strip_prefix(base).unwrap_or(&path);
            out.push(rel.to_string_lossy().into_owned());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(base, &path, &[], out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, skip, &mut out);
    out.sort();
    out
}

/// Directories named `parent` or below it, in every cgroup hierarchy.
pub fn cgroup_dirs(parent: &str) -> usize {
    fn count(dir: &Path) -> usize {
        1 + std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| count(&e.path()))
            .sum::<usize>()
    }
    let base = Path::new("/sys/fs/cgroup");
    let mut dirs: Vec<std::path::PathBuf> = std::fs::read_dir(base)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join(parent))
        .collect();
    dirs.push(base.join(parent));
    dirs.sort();
    dirs.dedup();
    dirs.iter().filter(|d| d.is_dir()).map(|d| count(d)).sum()
}

/// Lines of this process's mount table that name `path`.
pub fn mounts_naming(path: &Path) -> usize {
    let p = path.to_string_lossy();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(p.as_ref()))
        .count()
}

/// Container addresses allocated on the networks recorded under `root`/networks (the IPAM
/// records: one JSON file per network, its `allocations` by container id).
pub fn ipam_allocations(root: &Path) -> (usize, usize) {
    let mut networks = 0;
    let mut allocations = 0;
    for e in std::fs::read_dir(root.join("networks"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(net) = serde_json::from_str::<compose::engine::network::ipam::NetworkAddrs>(&text)
        else {
            continue;
        };
        networks += 1;
        allocations += net.allocations.len();
    }
    (networks, allocations)
}
