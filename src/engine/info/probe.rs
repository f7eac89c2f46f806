//! The real host behind [`HostProbe`]: `/proc`, `/sys`, cheap system calls that change nothing,
//! and the cgroup layout the engine itself uses ([`Layout::detect`]).

use std::path::Path;

use super::{CgroupFacts, CgroupVersion, HostProbe};
use crate::engine::cgroups::{Layout, LayoutKind};

/// This host, as this process sees it.
#[derive(Debug, Default)]
pub struct Host;

/// A system call that answers `ENOSYS` when the kernel lacks it and something else (`EBADF`,
/// `EINVAL`, `EFAULT`) when it has it: called with arguments it refuses, it does nothing.
fn syscall_exists(nr: libc::c_long, args: [libc::c_long; 5]) -> bool {
    // SAFETY: every probe passes an invalid descriptor, a null pointer with size 0 or flags the
    // kernel rejects, so the call fails before touching memory or state.
    let ret = unsafe { libc::syscall(nr, args[0], args[1], args[2], args[3], args[4]) };
    ret == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOSYS)
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

impl HostProbe for Host {
    fn kernel(&self) -> Option<String> {
        let uname = rustix::system::uname();
        Some(uname.release().to_string_lossy().into_owned())
    }

    fn cgroups(&self) -> Option<CgroupFacts> {
        let layout = Layout::detect().ok()?;
        if layout.v1.is_empty() && layout.unified.is_none() {
            return None;
        }
        let version = match layout.kind {
            LayoutKind::Unified => CgroupVersion::V2,
            LayoutKind::Legacy => CgroupVersion::V1,
            LayoutKind::Hybrid => CgroupVersion::Hybrid,
        };
        let mut controllers: Vec<String> = match (version, &layout.unified) {
            (CgroupVersion::V2, Some(u)) => {
                std::fs::read_to_string(u.mount_point.join("cgroup.controllers"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect()
            }
            _ => layout
                .v1
                .iter()
                .flat_map(|h| h.controllers.iter().cloned())
                .collect(),
        };
        controllers.sort();
        controllers.dedup();
        Some(CgroupFacts {
            version,
            controllers,
        })
    }

    fn overlay(&self) -> Option<Vec<String>> {
        let listed = read("/proc/filesystems")?
            .lines()
            .any(|l| l.split_whitespace().last() == Some("overlay"));
        if !listed {
            return None;
        }
        let dir = Path::new("/sys/module/overlay/parameters");
        let mut options: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let value = std::fs::read_to_string(e.path()).ok()?;
                        Some(format!("{name}={}", value.trim()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        options.sort();
        Some(options)
    }

    fn mount_setattr(&self) -> bool {
        // mount_setattr(-1, NULL, 0, NULL, 0): EBADF (or EINVAL) where it exists.
        syscall_exists(libc::SYS_mount_setattr, [-1, 0, 0, 0, 0])
    }

    fn user_namespaces(&self) -> bool {
        read("/proc/sys/user/max_user_namespaces")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0)
    }

    fn seccomp(&self) -> bool {
        read("/proc/sys/kernel/seccomp/actions_avail").is_some_and(|a| a.contains("errno"))
    }

    fn nftables(&self) -> bool {
        crate::engine::network::nft::Nft::new()
            .and_then(|mut nft| nft.table_exists())
            .is_ok()
    }

    fn clone3(&self) -> bool {
        // clone3(NULL, 0): EINVAL (size below the first version) where it exists.
        syscall_exists(libc::SYS_clone3, [0, 0, 0, 0, 0])
    }

    fn pidfd(&self) -> bool {
        rustix::process::pidfd_open(
            rustix::process::getpid(),
            rustix::process::PidfdFlags::empty(),
        )
        .is_ok()
    }

    fn criu(&self) -> Option<String> {
        let out = std::process::Command::new("criu")
            .arg("--version")
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .find_map(|l| l.strip_prefix("Version:"))
            .map(|v| v.trim().to_string())
    }
}
