//! What this host gives the engine (`compose info`): the kernel, cgroups, overlayfs, the system
//! calls and subsystems containers rely on, and for each one missing, what it disables.
//!
//! Detection is behind [`HostProbe`] (the real host in [`probe`], a recording fake in tests) so
//! the feature -> "disables" mapping ([`missing`]) is checked without a particular kernel: the
//! CI machine is cgroup v1, most users' are v2, and an answer that is wrong on one of them would
//! send people after the wrong cause.

mod counts;
mod probe;
#[cfg(test)]
mod probe_fake;
#[cfg(test)]
mod tests;

use serde::Serialize;

pub use counts::{count, Counts, CountsError};
pub use probe::Host;

/// The cgroup layout in words: `v2` (unified), `v1`, or `hybrid` (v1 controllers and an empty v2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupVersion {
    V1,
    V2,
    Hybrid,
}

impl CgroupVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupVersion::V1 => "1",
            CgroupVersion::V2 => "2",
            CgroupVersion::Hybrid => "1 (hybrid)",
        }
    }
}

/// The cgroup hierarchy containers are placed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupFacts {
    pub version: CgroupVersion,
    /// Controllers available to containers (v2: the root's `cgroup.controllers`; v1: the
    /// mounted hierarchies'), sorted.
    pub controllers: Vec<String>,
}

/// The questions asked of the host; each answers for this process's view of it.
pub trait HostProbe {
    /// The running kernel's release (`uname -r`).
    fn kernel(&self) -> Option<String>;
    /// The cgroup layout, or `None` when no hierarchy is mounted.
    fn cgroups(&self) -> Option<CgroupFacts>;
    /// overlayfs' module options (`name=value`), or `None` when the kernel has no overlayfs.
    fn overlay(&self) -> Option<Vec<String>>;
    /// Whether `mount_setattr(2)` exists (Linux 5.12): idmapped and detached read-only mounts.
    fn mount_setattr(&self) -> bool;
    /// Whether unprivileged-or-not user namespaces can be made (`max_user_namespaces` > 0).
    fn user_namespaces(&self) -> bool;
    /// Whether the kernel filters system calls (seccomp filter mode).
    fn seccomp(&self) -> bool;
    /// Whether nf_tables answers on netlink.
    fn nftables(&self) -> bool;
    /// Whether `clone3(2)` exists (Linux 5.3).
    fn clone3(&self) -> bool;
    /// Whether `pidfd_open(2)` works (Linux 5.3).
    fn pidfd(&self) -> bool;
    /// `criu --version`'s version, or `None` when CRIU is not installed.
    fn criu(&self) -> Option<String>;
}

/// A feature the host lacks and what that disables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    pub feature: String,
    pub disables: String,
}

/// Everything `compose info` says about the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostInfo {
    pub kernel: Option<String>,
    pub cgroup: Option<CgroupFacts>,
    pub overlay: Option<Vec<String>>,
    pub idmapped_mounts: bool,
    pub user_namespaces: bool,
    pub seccomp: bool,
    pub nftables: bool,
    pub clone3: bool,
    pub pidfd: bool,
    pub criu: Option<String>,
    pub missing: Vec<Missing>,
}

/// Controllers containers' limits use, and which Compose keys go without each one. v1 names
/// `blkio` what v2 names `io`; `freezer` and `devices` are v1 controllers (v2 has them built in:
/// `cgroup.freeze`, BPF device programs).
const CONTROLLERS: &[(&str, &str, &str)] = &[
    (
        "memory",
        "memory",
        "mem_limit, mem_reservation, memswap_limit, OOM reporting, memory in stats",
    ),
    ("cpu", "cpu", "cpus, cpu_shares, cpu_quota, cpu_period"),
    ("cpuset", "cpuset", "cpuset"),
    ("pids", "pids", "pids_limit"),
    ("io", "blkio", "blkio_config"),
    ("hugetlb", "hugetlb", "hugetlb limits"),
    ("", "freezer", "pause, unpause"),
    (
        "",
        "devices",
        "device rules (containers get every device node they see)",
    ),
];

/// Asks `probe` everything once and works out what is missing.
pub fn gather(probe: &dyn HostProbe) -> HostInfo {
    let mut info = HostInfo {
        kernel: probe.kernel(),
        cgroup: probe.cgroups(),
        overlay: probe.overlay(),
        idmapped_mounts: probe.mount_setattr(),
        user_namespaces: probe.user_namespaces(),
        seccomp: probe.seccomp(),
        nftables: probe.nftables(),
        clone3: probe.clone3(),
        pidfd: probe.pidfd(),
        criu: probe.criu(),
        missing: Vec::new(),
    };
    info.missing = missing(&info);
    info
}

/// Each missing feature with what it disables, in the order `compose info` lists them.
pub fn missing(info: &HostInfo) -> Vec<Missing> {
    let mut out = Vec::new();
    let mut add = |feature: &str, disables: &str| {
        out.push(Missing {
            feature: feature.to_string(),
            disables: disables.to_string(),
        })
    };
    if !info.clone3 {
        add(
            "clone3",
            "every container start (Linux 5.3 or later is needed)",
        );
    }
    if info.overlay.is_none() {
        add(
            "overlayfs",
            "every container and build (each root file system is an overlay)",
        );
    }
    match &info.cgroup {
        None => add(
            "cgroups",
            "every container start (no cgroup hierarchy is mounted)",
        ),
        Some(cg) => {
            for (v2, v1, disables) in CONTROLLERS {
                let name = if cg.version == CgroupVersion::V2 {
                    v2
                } else {
                    v1
                };
                if !name.is_empty() && !cg.controllers.iter().any(|c| c == name) {
                    add(&format!("cgroup controller {name}"), disables);
                }
            }
        }
    }
    if !info.nftables {
        add(
            "nftables",
            "project networks' isolation and masquerading, published ports",
        );
    }
    if !info.seccomp {
        add(
            "seccomp",
            "containers with a seccomp profile, the default one included, do not start",
        );
    }
    if !info.pidfd {
        add("pidfd", "exec and healthchecks (they enter containers through a pidfd); stop and kill fall back to PIDs");
    }
    if !info.idmapped_mounts {
        add("mount_setattr (idmapped mounts)", "the read-only bind of compose's own binary into each start: it is copied instead (slower starts)");
    }
    if !info.user_namespaces {
        add(
            "user namespaces",
            "nothing compose uses yet (containers share the host's user namespace)",
        );
    }
    if info.criu.is_none() {
        add(
            "criu",
            "nothing compose uses yet (checkpoint and restore are not implemented)",
        );
    }
    out
}
