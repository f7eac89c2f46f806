//! What the spec builder is given: the service and its image, where its volumes live, the
//! host's facts (read by the stack, the planner makes no system calls), and `compose run`'s
//! overrides.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use oci_spec::image::ImageConfiguration;

use crate::engine::runtime::host_devices::DeviceFacts;
use crate::engine::runtime::host_files::HostFiles;
use crate::engine::runtime::user::RootfsFiles;
use crate::engine::spec::MountSpec;
use crate::model::types::service::ServiceConfig;

/// What `compose run` overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OneOffOverrides {
    /// `COMMAND...`; `None` when none was given.
    pub command: Option<Vec<String>>,
    /// `--entrypoint`, split into words; `Some([])` for `--entrypoint ""` (clears the image's).
    pub entrypoint: Option<Vec<String>>,
    /// `-e KEY=VALUE`, already resolved by the caller; `KEY` alone unsets KEY.
    pub env: Vec<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-v`, short syntax, with absolute host paths.
    pub volumes: Vec<String>,
    /// `-t`/`-T` (`None`: the service's `tty`).
    pub tty: Option<bool>,
    /// `-i` (`None`: the service's `stdin_open`), which Docker Compose's `run` applies over the
    /// service's; it matters to `run -d`, whose standard input then stays open.
    pub stdin_open: Option<bool>,
}

/// Facts about the host the spec is built for, read by the stack (the planner makes no system
/// calls).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// `/proc/sys/kernel/cap_last_cap`.
    pub last_cap: u8,
    /// The running kernel's (major, minor), for seccomp rules with `minKernel`.
    pub kernel: (u32, u32),
    /// The host's name (`uname`), which a container on the host's network takes.
    pub hostname: String,
}

/// Everything [`super::build_container_spec`] needs.
pub struct ContainerInput<'a> {
    pub project: &'a str,
    pub service_name: &'a str,
    pub service: &'a ServiceConfig,
    pub image: &'a ImageConfiguration,
    /// Unpacked image layers, topmost first.
    pub layers: &'a [PathBuf],
    /// The image's files (for /etc/passwd and /etc/group).
    pub rootfs_files: &'a dyn RootfsFiles,
    /// 64 hex characters.
    pub container_id: &'a str,
    pub container_name: &'a str,
    /// The replica number (`<project>-<service>-<n>`).
    pub number: u32,
    /// `<root>/volumes`.
    pub volumes_dir: &'a Path,
    /// The anonymous volumes of the container this one replaces, by destination (without a
    /// trailing `/`): mounted again at the same destinations, as Docker hands them over, so a
    /// recreated service keeps its data. Empty for a new container and with `up -V`.
    pub inherited_volumes: &'a IndexMap<String, PathBuf>,
    /// Actual names of the project's volumes by their key in the Compose file (top-level
    /// `volumes.<key>.name`, external volumes); a key missing here is `<project>_<key>`.
    pub volume_names: &'a IndexMap<String, String>,
    pub one_off: Option<&'a OneOffOverrides>,
    pub host: &'a HostInfo,
    /// The host's device nodes at [`super::device_paths`].
    pub devices: &'a DeviceFacts,
    /// The host files at [`super::bind_sources`] (a bind's source must exist unless it may be
    /// created).
    pub host_files: &'a HostFiles,
    /// The host's address as seen from the container (its first network's gateway), for
    /// `extra_hosts: name:host-gateway`; `None` while the container has no network.
    pub host_gateway: Option<std::net::IpAddr>,
    /// For `network_mode: service:X` / `container:X`: the id of the container whose network
    /// namespace this one joins.
    pub join_container: Option<&'a str>,
    /// Read-only binds of the service's secrets and configs ([`crate::planner::secrets::mounts`]).
    pub file_mounts: &'a [MountSpec],
    /// The mounts repeated from the containers that `volumes_from` names
    /// ([`crate::planner::volumes_from::repeated`]); the service's own mount at a destination wins.
    pub volumes_from: &'a [MountSpec],
}
