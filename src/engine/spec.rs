//! What the engine needs to create one container, fully resolved: no YAML, no image lookups, no
//! defaults left to guess. The planner builds it from a service and its image's config
//! ([`crate::planner::container`]); the runtime carries it out. It is serializable because the
//! process that sets the container up is a fresh copy of this binary that receives it on a pipe.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A container to create and start.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// 64 hex characters, unique under `--root`.
    pub id: String,
    /// The container's name (`<project>-<service>-<n>`, or `container_name`).
    pub name: String,
    pub hostname: String,
    pub domainname: Option<String>,
    pub rootfs: RootfsSpec,
    /// Mounts on top of the root filesystem, in the order they are made.
    pub mounts: Vec<MountSpec>,
    pub process: ProcessSpec,
    /// Namespaced sysctls (`net.*`, `kernel.shm*`, `kernel.msg*`, `kernel.sem`, `fs.mqueue.*`).
    pub sysctls: Vec<(String, String)>,
    /// Paths made unreadable (bind of /dev/null or an empty read-only tmpfs), as Docker does.
    pub masked_paths: Vec<String>,
    /// Paths remounted read-only.
    pub readonly_paths: Vec<String>,
    /// Device nodes created in the container's /dev (beyond the default set).
    pub devices: Vec<DeviceSpec>,
    /// Size of /dev/shm in bytes (Docker's default is 64 MiB).
    pub shm_size: u64,
    /// Run a small reaping init as PID 1 that starts the process (`init: true`).
    pub init: bool,
    pub network: NetworkMode,
    pub resources: Resources,
    /// Seccomp filter to install last, just before exec; `None` is unconfined.
    pub seccomp: Option<SeccompFilter>,
    /// Give the container every capability and device, no seccomp, writable /sys (`privileged`).
    pub privileged: bool,
    /// Name servers, search domains and resolver options for /etc/resolv.conf (`dns`,
    /// `dns_search`, `dns_opt`); empty: the host's.
    #[serde(default)]
    pub dns: Vec<String>,
    #[serde(default)]
    pub dns_search: Vec<String>,
    #[serde(default)]
    pub dns_options: Vec<String>,
    /// `extra_hosts` as (name, address) lines for /etc/hosts.
    #[serde(default)]
    pub extra_hosts: Vec<(String, String)>,
    /// The PID, IPC, UTS and cgroup namespaces: the container's own, the host's or another
    /// container's (`pid`, `ipc`, `uts`, `cgroup`).
    #[serde(default)]
    pub namespaces: Namespaces,
}

/// Which PID, IPC, UTS and cgroup namespaces a container uses (see
/// [`crate::engine::runtime::namespaces`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Namespaces {
    pub pid: NsMode,
    pub ipc: NsMode,
    pub uts: NsMode,
    pub cgroup: NsMode,
    /// `ipc: none`: no /dev/shm at all.
    pub no_shm: bool,
}

/// One namespace of a container.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum NsMode {
    /// A new namespace of its own.
    #[default]
    Private,
    /// The host's (no new namespace).
    Host,
    /// The namespace of another container (`service:NAME` / `container:NAME`): `container` is
    /// its id; `pid` its PID 1, filled in when this container starts (it changes with each of
    /// the other one's restarts), from the other container's recorded state.
    Join { container: String, pid: Option<i32> },
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RootfsSpec {
    /// Unpacked image layers, topmost first (overlayfs `lowerdir` order).
    pub layers: Vec<PathBuf>,
    /// Mount the root filesystem read-only (`read_only: true`).
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MountKind {
    /// A host path (a bind mount or a named volume's directory).
    Bind {
        source: PathBuf,
        /// `private`, `rprivate`, `shared`, `rshared`, `slave`, `rslave`.
        propagation: Option<String>,
        recursive: bool,
    },
    /// A named or anonymous volume. Containers write into volumes, so whatever lies in one is
    /// hostile: the runtime resolves `subpath` beneath the volume's data directory without
    /// following symbolic links and mounts what it opened, never a host path built from it.
    Volume {
        /// The volume's directory (`<root>/volumes/<name>`): its data is in [`VOLUME_DATA`],
        /// the engine's own files (the pre-fill marker) beside it, out of containers' reach.
        volume: PathBuf,
        /// Relative path inside the volume's data to mount instead of all of it.
        subpath: Option<String>,
        /// Fill the volume from the image's content at the destination on its first mount
        /// (not with `nocopy`, nor with a `subpath`).
        copy: bool,
    },
    Tmpfs {
        size: Option<u64>,
        mode: Option<u32>,
        /// Mount flags (`noexec`, `exec`, `suid`, `noatime`, ...) applied in order over
        /// `nosuid,nodev`, and tmpfs data options (`uid=`, `gid=`, `nr_inodes=`, ...); the
        /// planner puts Docker's `noexec` first (see [`crate::engine::runtime::tmpfs`]).
        #[serde(default)]
        options: Vec<String>,
    },
}

/// The directory inside a volume's directory that holds its data (Docker's layout).
pub const VOLUME_DATA: &str = "_data";

/// When `source` names something inside a volume's data (`<volumes_dir>/<name>/_data/...`, by
/// its text), that volume's directory and the path inside its data. A `..` there is refused: a
/// container may have made the directory before it a symbolic link.
pub fn inside_volume(
    volumes_dir: &Path,
    source: &Path,
) -> Result<Option<(PathBuf, Option<String>)>, String> {
    use std::path::Component;
    let Ok(rest) = source.strip_prefix(volumes_dir) else {
        return Ok(None);
    };
    let mut parts = rest.components();
    let (Some(Component::Normal(name)), Some(Component::Normal(data))) =
        (parts.next(), parts.next())
    else {
        return Ok(None);
    };
    if data != VOLUME_DATA {
        return Ok(None);
    }
    let mut inner = Vec::new();
    for c in parts {
        match c {
            Component::Normal(n) => inner.push(n.to_str().ok_or("the path is not UTF-8")?),
            _ => return Err("a path inside a volume may not contain '..'".into()),
        }
    }
    let subpath = (!inner.is_empty()).then(|| inner.join("/"));
    Ok(Some((volumes_dir.join(name), subpath)))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MountSpec {
    pub kind: MountKind,
    /// Absolute path inside the container.
    pub destination: String,
    pub read_only: bool,
    /// Create a missing bind source as a directory (`bind.create_host_path`); for a volume, the
    /// missing directories of its subpath.
    pub create_source: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// argv; `args[0]` is looked up in PATH of `env` when it has no `/`.
    pub args: Vec<String>,
    /// `KEY=VALUE`, in order.
    pub env: Vec<String>,
    /// Absolute working directory inside the container (created when missing, like Docker).
    pub cwd: String,
    pub user: UserSpec,
    /// Allocate a pseudo-terminal for the process.
    pub terminal: bool,
    /// Keep standard input open (`stdin_open`) instead of giving the process /dev/null.
    #[serde(default)]
    pub stdin_open: bool,
    pub no_new_privileges: bool,
    pub capabilities: Capabilities,
    pub rlimits: Vec<Rlimit>,
    pub oom_score_adj: Option<i32>,
    /// Signal that stops the container (name like `SIGTERM`).
    pub stop_signal: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UserSpec {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// HOME to set when the environment has none (from /etc/passwd, else `/`).
    pub home: Option<String>,
}

/// Capability names as the kernel spells them after `CAP_` (e.g. `NET_BIND_SERVICE`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Capabilities {
    pub bounding: Vec<String>,
    pub effective: Vec<String>,
    pub permitted: Vec<String>,
    pub inheritable: Vec<String>,
    pub ambient: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rlimit {
    /// `RLIMIT_NOFILE` etc.; Compose names (`nofile`) are mapped by the planner.
    pub resource: String,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceSpec {
    /// Path inside the container.
    pub path: String,
    /// `c` (character) or `b` (block).
    pub kind: char,
    pub major: u64,
    pub minor: u64,
    pub file_mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// cgroup device permissions: any of `r`, `w`, `m`.
    pub permissions: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum NetworkMode {
    /// A network namespace of its own with loopback up; the container's project networks, if
    /// any, are attached to it afterwards.
    #[default]
    Loopback,
    /// No network namespace of its own (`network_mode: host`).
    Host,
    /// The network namespace of another container (`network_mode: service:NAME` or
    /// `container:NAME`): `container` is its id; `netns` is the namespace's path
    /// (`/proc/<pid>/ns/net`), filled in when this container starts since the other one's PID
    /// changes with each of its restarts.
    Join {
        container: String,
        netns: Option<PathBuf>,
    },
}

/// cgroup limits; `None` leaves the kernel's default.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Resources {
    pub memory_limit: Option<i64>,
    pub memory_reservation: Option<i64>,
    /// Memory + swap; -1 is unlimited.
    pub memory_swap: Option<i64>,
    pub memory_swappiness: Option<u64>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
    pub blkio_weight_device: Vec<(String, u16)>,
    pub blkio_throttle_read_bps: Vec<(String, u64)>,
    pub blkio_throttle_write_bps: Vec<(String, u64)>,
    pub blkio_throttle_read_iops: Vec<(String, u64)>,
    pub blkio_throttle_write_iops: Vec<(String, u64)>,
    /// Device rules for the devices controller (v1) / eBPF program (v2): `c 1:3 rwm`.
    pub device_rules: Vec<String>,
    /// `oom_kill_disable`: the OOM killer spares the container (v1 `memory.oom_control`).
    #[serde(default)]
    pub oom_kill_disable: bool,
    /// `cpu_rt_runtime` / `cpu_rt_period`, microseconds (v1 `cpu.rt_*`).
    #[serde(default)]
    pub cpu_rt_runtime: Option<i64>,
    #[serde(default)]
    pub cpu_rt_period: Option<u64>,
}

/// A compiled seccomp BPF program (the `sock_filter` instructions), built in the parent so the
/// container's setup process only has to install it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SeccompFilter {
    /// (code, jt, jf, k) per instruction.
    pub instructions: Vec<(u16, u8, u8, u32)>,
}

/// One lifecycle hook, resolved (by [`crate::planner::hooks`]). Recorded with the container,
/// so it sits with the spec rather than with the runner ([`crate::engine::hooks`]): the
/// record ([`crate::engine::state`]) holds it without depending on what runs it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HookSpec {
    /// argv (never empty); `args[0]` is looked up in the container's `PATH`.
    pub args: Vec<String>,
    /// `KEY=VALUE` entries added to the container's environment.
    #[serde(default)]
    pub env: Vec<String>,
    /// `user`; `None`: the container's.
    #[serde(default)]
    pub user: Option<String>,
    /// `working_dir`; `None`: the container's.
    #[serde(default)]
    pub workdir: Option<String>,
    #[serde(default)]
    pub privileged: bool,
}

/// A container's hooks, in the order the file lists them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Hooks {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_start: Vec<HookSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_stop: Vec<HookSpec>,
}

impl Hooks {
    pub fn is_empty(&self) -> bool {
        self.post_start.is_empty() && self.pre_stop.is_empty()
    }
}

/// Transport protocol of a published port: recorded with the container and matched by the
/// nftables rules ([`crate::engine::network::nft`]), so it lives below both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    /// Its IANA protocol number (what an IP header and nftables match on).
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}
