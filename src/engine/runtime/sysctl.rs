//! A container's namespaced sysctls, written by `compose __init` after the pivot, where /proc is
//! the container's own proc mount (its /proc/sys shows the container's namespaces), and before
//! /proc/sys is made read-only (runc's order: written earlier, nothing had a namespace of its
//! own; written later, every write fails with EROFS).
//!
//! Which keys are allowed is decided when the container is planned (see
//! `planner::container::sysctl_refusal`); here each key is checked again to be a plain dotted
//! name and written through a descriptor resolved beneath /proc/sys, which must be a real
//! procfs: a key or a mount can never redirect the write elsewhere.

use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};

use super::error::{InitError, Step};

/// The path below /proc/sys of `key` (`net.ipv4.ip_forward` -> `net/ipv4/ip_forward`), if it is
/// a plain dotted name.
pub fn relative_path(key: &str) -> Option<String> {
    if key
        .split('.')
        .any(|c| c.is_empty() || c.contains(['/', '\0']))
    {
        return None;
    }
    Some(key.replace('.', "/"))
}

/// Writes `sysctls` in order. `own_netns`: whether the container's network namespace is its
/// own; `net.*` keys are refused otherwise (joining a container that uses the host's network
/// must not change the host's).
pub fn apply(sysctls: &[(String, String)], own_netns: bool) -> Result<(), InitError> {
    if sysctls.is_empty() {
        return Ok(());
    }
    let base = Path::new("/proc/sys");
    let dir = rustix::fs::openat2(
        rustix::fs::CWD,
        base,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::NO_SYMLINKS,
    )
    .map_err(|e| InitError::sys(Step::Sysctl, Some(base), e))?;
    let fs = rustix::fs::fstatfs(&dir).map_err(|e| InitError::sys(Step::Sysctl, Some(base), e))?;
    if fs.f_type != rustix::fs::PROC_SUPER_MAGIC {
        return Err(InitError::msg(
            Step::Sysctl,
            Some(base),
            "not the container's proc filesystem (is a volume mounted over /proc?)",
        ));
    }
    for (key, value) in sysctls {
        let Some(rel) = relative_path(key) else {
            return Err(InitError::msg(
                Step::Sysctl,
                None,
                format!("invalid sysctl name {key:?}"),
            ));
        };
        let path = PathBuf::from(base).join(&rel);
        if !own_netns && key.starts_with("net.") {
            return Err(InitError::msg(
                Step::Sysctl,
                Some(&path),
                format!("sysctl {key:?} would change the host's network namespace"),
            ));
        }
        let fd = rustix::fs::openat2(
            &dir,
            rel.as_str(),
            OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| InitError::sys(Step::Sysctl, Some(&path), e))?;
        rustix::io::write(&fd, value.as_bytes())
            .map_err(|e| InitError::sys(Step::Sysctl, Some(&path), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_paths_below_proc_sys_only_when_plain() {
        assert_eq!(
            relative_path("net.ipv4.ip_forward").as_deref(),
            Some("net/ipv4/ip_forward")
        );
        assert_eq!(
            relative_path("kernel.shmmax").as_deref(),
            Some("kernel/shmmax")
        );
        for bad in [
            "",
            "net..x",
            ".net",
            "net.",
            "net/../kernel",
            "net.a/b",
            "a\0b",
        ] {
            assert_eq!(relative_path(bad), None, "{bad:?}");
        }
    }
}
