//! The host's device nodes, for a `privileged` container: Docker gives such a container every
//! device under the host's /dev (runc's `HostDevices`), each made in the container's own /dev
//! with the host's type, numbers, mode and owner.
//!
//! What the engine makes itself is left out: the `pts`, `shm` and `mqueue` mounts, the `fd`
//! links, `ptmx` (a link to the container's own devpts) and `console`, as runc leaves them out.
//! Read at creation (not at each start): a device plugged in later needs a new container. The
//! stack reads /dev ([`crate::engine::runtime::host_devices::gather`]); this only chooses.

use std::path::{Component, Path};

use crate::engine::runtime::host_devices::HostNode;
use crate::engine::spec::DeviceSpec;

/// Directories of /dev whose content the engine provides or that hold no devices of the host.
const SKIPPED_DIRS: [&str; 7] = ["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];

/// Entries directly under /dev that the container gets from the engine instead.
const SKIPPED_FILES: [&str; 2] = ["console", "ptmx"];

/// The devices of the host's /dev (`nodes`, every device under it as read by the stack) that
/// a privileged container gets, as they appear under /dev in the container.
pub fn host_devices(nodes: &[HostNode]) -> Vec<DeviceSpec> {
    nodes
        .iter()
        .filter_map(|n| {
            let rel = n.path.strip_prefix("/dev").ok()?;
            let names: Vec<&str> = rel
                .components()
                .map(|c| match c {
                    Component::Normal(s) => s.to_str(),
                    _ => None,
                })
                .collect::<Option<_>>()?;
            let skipped = match names.as_slice() {
                [] => true,
                [only] => SKIPPED_FILES.contains(only),
                [top, ..] => SKIPPED_DIRS.contains(top),
            };
            (!skipped).then(|| DeviceSpec {
                path: Path::new("/dev").join(rel).to_string_lossy().into_owned(),
                kind: if n.block { 'b' } else { 'c' },
                major: n.major,
                minor: n.minor,
                file_mode: n.mode & 0o7777,
                uid: n.uid,
                gid: n.gid,
                permissions: "rwm".to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(path: &str, block: bool, major: u64, minor: u64) -> HostNode {
        HostNode {
            path: path.into(),
            block,
            major,
            minor,
            mode: 0o020600,
            uid: 0,
            gid: 6,
        }
    }

    #[test]
    fn devices_of_a_dev_tree_but_not_what_the_engine_makes() {
        let nodes = [
            node("/dev/console", false, 5, 1),
            node("/dev/kmsg", false, 1, 11),
            node("/dev/net/tun", false, 10, 200),
            node("/dev/ptmx", false, 5, 2),
            node("/dev/pts/0", false, 136, 0),
            node("/dev/sda", true, 8, 0),
            node("/dev/shm/x/y", false, 1, 1),
        ];
        let got: Vec<(String, char, u64, u64, u32, u32)> = host_devices(&nodes)
            .into_iter()
            .map(|s| (s.path, s.kind, s.major, s.minor, s.file_mode, s.gid))
            .collect();
        assert_eq!(
            got,
            vec![
                ("/dev/kmsg".to_string(), 'c', 1, 11, 0o600, 6),
                ("/dev/net/tun".to_string(), 'c', 10, 200, 0o600, 6),
                ("/dev/sda".to_string(), 'b', 8, 0, 0o600, 6),
            ]
        );
    }
}
