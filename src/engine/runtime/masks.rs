//! Docker's masked paths (made unreadable) and read-only paths, applied by `compose __init`
//! after the pivot, on top of everything else mounted in the container.
//!
//! Masked files get the null device bound over them, masked directories an empty read-only
//! tmpfs; read-only paths are bound onto themselves and remounted read-only. A user's mount may
//! have replaced anything by then, so every target is opened without following symlinks and
//! mounted through its descriptor, and the null device is the one [`open_null`] opened and
//! checked before any user mount existed.

use std::path::Path;

use rustix::fs::{self, FileType};
use rustix::io::Errno;
use rustix::mount::MountFlags;

use super::error::{InitError, Step};
use super::mounter::Mounter;
use crate::engine::spec::ContainerSpec;

/// The container's /dev/null as [`super::rootfs::mount_system`] made it, opened before any user
/// mount can cover or replace it, and checked to be the null device: masking binds this
/// descriptor.
/// Binding "/dev/null" by path after the user's mounts bound whatever a volume put there (a
/// host file, or a symlink to /proc/sys/kernel/core_pattern in runc's CVE-2025-31133) over the
/// masked paths, writable by the container.
pub fn open_null<M: Mounter>(m: &M, root: &M::Target) -> Result<M::Target, InitError> {
    let path = Path::new("/dev/null");
    let fail = |e| InitError::sys(Step::Devices, Some(path), e);
    let fd = m
        .open_no_follow(root, "/dev/null")
        .map_err(fail)?
        .ok_or_else(|| fail(Errno::NOENT))?;
    let (ftype, rdev) = m.stat(&fd).map_err(fail)?;
    if !is_null_device(ftype, rdev) {
        return Err(InitError::msg(
            Step::Devices,
            Some(path),
            "not the null character device (1:3)",
        ));
    }
    Ok(fd)
}

/// Whether a file of type `ftype` and device number `rdev` is the null device, character 1:3.
fn is_null_device(ftype: FileType, rdev: u64) -> bool {
    ftype == FileType::CharacterDevice && fs::major(rdev) == 1 && fs::minor(rdev) == 3
}

/// The paths a masked-path entry names: itself, or when a component holds `*` (any run of
/// characters, as in `/sys/devices/system/cpu/cpu*/thermal_throttle`, whose CPUs differ from
/// host to host) every existing match, found with `list` (the names in a directory).
fn expand_pattern(pattern: &str, list: &dyn Fn(&Path) -> Vec<String>) -> Vec<String> {
    let comps: Vec<&str> = pattern.split('/').collect();
    let Some(i) = comps.iter().position(|c| c.contains('*')) else {
        return vec![pattern.to_string()];
    };
    let dir = comps[..i].join("/");
    let rest = &comps[i + 1..];
    let mut names = list(Path::new(if dir.is_empty() { "/" } else { &dir }));
    names.sort();
    let mut out = Vec::new();
    for name in names.iter().filter(|n| glob_match(comps[i], n)) {
        let mut next = format!("{dir}/{name}");
        if !rest.is_empty() {
            next.push('/');
            next.push_str(&rest.join("/"));
        }
        out.extend(expand_pattern(&next, list));
    }
    out
}

/// `*`-only globbing of one name (`*` matches any run of characters, `/` never occurs).
fn glob_match(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty(); // no `*` at all
    };
    for p in middle {
        match rest.find(p) {
            Some(at) => rest = &rest[at + p.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// `path` of the container (after the pivot), opened without following any symlink; `None`
/// when it does not exist. A masked or read-only path that is a symlink (one a volume could have
/// put there) is an error rather than something to follow.
fn open_no_follow<M: Mounter>(
    m: &M,
    root: &M::Target,
    path: &str,
    step: Step,
) -> Result<Option<M::Target>, InitError> {
    m.open_no_follow(root, path)
        .map_err(|e| InitError::sys(step, Some(Path::new(path)), e))
}

/// Docker's masked paths (unreadable) and read-only paths, applied after the pivot. Masked
/// files get the container's own null device (`null`, from [`open_null`]) bound over them from
/// its descriptor, masked directories an empty read-only tmpfs; every target is opened without
/// following symlinks and mounted through its descriptor.
pub fn apply<M: Mounter>(m: &M, spec: &ContainerSpec, null: &M::Target) -> Result<(), InitError> {
    let root = m
        .open_root(Path::new("/"))
        .map_err(|e| InitError::sys(Step::MaskedPaths, Some(Path::new("/")), e))?;
    let list = |dir: &Path| m.list_dir(dir);
    for pattern in &spec.masked_paths {
        for p in expand_pattern(pattern, &list) {
            let Some(target) = open_no_follow(m, &root, &p, Step::MaskedPaths)? else {
                continue;
            };
            let fail = |e| InitError::sys(Step::MaskedPaths, Some(Path::new(&p)), e);
            let (ftype, _) = m.stat(&target).map_err(fail)?;
            if ftype == FileType::Directory {
                m.mount("tmpfs", &target, "tmpfs", MountFlags::RDONLY, "size=0")
                    .map_err(fail)?;
            } else {
                m.bind_tree(null, &target).map_err(fail)?;
            }
        }
    }
    for p in &spec.readonly_paths {
        let Some(target) = open_no_follow(m, &root, p, Step::ReadonlyPaths)? else {
            continue;
        };
        let path = Path::new(p);
        let fail = |e| InitError::sys(Step::ReadonlyPaths, Some(path), e);
        let tp = m.source_path(&target);
        m.bind(&tp, &target, true).map_err(fail)?;
        // The remount must reach the new mount, which the old descriptor is beneath.
        let Some(target) = open_no_follow(m, &root, p, Step::ReadonlyPaths)? else {
            return Err(fail(Errno::NOENT));
        };
        m.remount(
            &target,
            MountFlags::BIND
                | MountFlags::RDONLY
                | MountFlags::NOSUID
                | MountFlags::NODEV
                | MountFlags::NOEXEC,
            "",
        )
        .or_else(|_| m.remount(&target, MountFlags::BIND | MountFlags::RDONLY, ""))
        .map_err(fail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn only_the_1_3_character_device_is_null() {
        let st = |p: &Path| {
            let st = fs::stat(p).expect("stat");
            (FileType::from_raw_mode(st.st_mode), st.st_rdev)
        };
        let (ftype, rdev) = st(Path::new("/dev/null"));
        assert!(is_null_device(ftype, rdev));
        let (ftype, rdev) = st(Path::new("/dev/zero"));
        assert!(!is_null_device(ftype, rdev), "1:5");
        let file = tempfile::NamedTempFile::new().expect("temp file");
        let (ftype, rdev) = st(file.path());
        assert!(!is_null_device(ftype, rdev));
        // A block device 1:3 is not the null device either.
        let (_, null) = st(Path::new("/dev/null"));
        assert!(!is_null_device(FileType::BlockDevice, null));
    }

    #[test]
    fn stars_match_any_run_of_characters_in_one_name() {
        for (pat, name, want) in [
            ("cpu*", "cpu0", true),
            ("cpu*", "cpu", true),
            ("cpu*", "cpufreq", true),
            ("cpu*", "xcpu0", false),
            ("*", "anything", true),
            ("a*c", "abc", true),
            ("a*c", "ab", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "acb", false),
            ("ab*ab", "ab", false),
            ("plain", "plain", true),
            ("plain", "plainer", false),
        ] {
            assert_eq!(glob_match(pat, name), want, "{pat} ~ {name}");
        }
    }

    #[test]
    fn a_pattern_expands_to_every_match_and_a_plain_path_to_itself() {
        let tree: BTreeMap<&str, Vec<&str>> = BTreeMap::from([(
            "/sys/devices/system/cpu",
            vec!["cpu1", "cpu0", "cpufreq", "possible", "cpu10"],
        )]);
        let list = |dir: &Path| -> Vec<String> {
            tree.get(dir.to_str().expect("utf-8"))
                .map(|v| v.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default()
        };
        assert_eq!(
            expand_pattern("/sys/devices/system/cpu/cpu*/thermal_throttle", &list),
            [
                "/sys/devices/system/cpu/cpu0/thermal_throttle",
                "/sys/devices/system/cpu/cpu1/thermal_throttle",
                "/sys/devices/system/cpu/cpu10/thermal_throttle",
                "/sys/devices/system/cpu/cpufreq/thermal_throttle",
            ]
        );
        assert_eq!(expand_pattern("/proc/kcore", &list), ["/proc/kcore"]);
        assert!(expand_pattern("/nowhere/x*", &list).is_empty());
    }
}
