//! The host's device nodes, for a `privileged` container: Docker gives such a container every
//! device under the host's /dev (runc's `HostDevices`), each made in the container's own /dev
//! with the host's type, numbers, mode and owner.
//!
//! What the engine makes itself is left out: the `pts`, `shm` and `mqueue` mounts, the `fd`
//! links, `ptmx` (a link to the container's own devpts) and `console`, as runc leaves them out.
//! Read at creation (not at each start): a device plugged in later needs a new container.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::engine::spec::DeviceSpec;

/// Directories of /dev whose content the engine provides or that hold no devices of the host.
const SKIPPED_DIRS: [&str; 7] = ["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];

/// Entries directly under /dev that the container gets from the engine instead.
const SKIPPED_FILES: [&str; 2] = ["console", "ptmx"];

/// Every character and block device under `dev` (the host's `/dev`), as it would appear under
/// /dev in the container; symbolic links are not followed.
pub fn host_devices(dev: &Path) -> std::io::Result<Vec<DeviceSpec>> {
    let mut out = Vec::new();
    walk(dev, "/dev", true, &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, inside: &str, top: bool, out: &mut Vec<DeviceSpec>) -> std::io::Result<()> {
    let mut entries = std::fs::read_dir(dir)?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        // `DirEntry::metadata` does not follow a symbolic link.
        let meta = match e.metadata() {
            Ok(m) => m,
            // Gone since the listing (a device unplugged): nothing to give.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err),
        };
        let ft = meta.file_type();
        let path = format!("{inside}/{name}");
        if ft.is_dir() {
            if !(top && SKIPPED_DIRS.contains(&name)) {
                walk(&e.path(), &path, false, out)?;
            }
            continue;
        }
        if top && SKIPPED_FILES.contains(&name) {
            continue;
        }
        let kind = if ft.is_char_device() {
            'c'
        } else if ft.is_block_device() {
            'b'
        } else {
            continue;
        };
        out.push(DeviceSpec {
            path,
            kind,
            major: rustix::fs::major(meta.rdev()) as u64,
            minor: rustix::fs::minor(meta.rdev()) as u64,
            file_mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            permissions: "rwm".to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_of_a_dev_tree_but_not_what_the_engine_makes() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for sub in ["pts", "shm", "net", "disk"] {
            std::fs::create_dir(d.join(sub)).unwrap();
        }
        std::fs::write(d.join("regular"), "").unwrap();
        std::os::unix::fs::symlink("/dev/null", d.join("disk/link")).unwrap();
        let mknod = |p: &str, major, minor| {
            rustix::fs::mknodat(
                rustix::fs::CWD,
                d.join(p),
                rustix::fs::FileType::CharacterDevice,
                rustix::fs::Mode::from_raw_mode(0o600),
                rustix::fs::makedev(major, minor),
            )
        };
        // Making device nodes needs root (CAP_MKNOD); without it there is nothing to list.
        if mknod("kmsg", 1, 11).is_err() {
            return;
        }
        for (p, major, minor) in [("net/tun", 10, 200), ("pts/0", 136, 0), ("ptmx", 5, 2)] {
            mknod(p, major, minor).unwrap();
        }
        mknod("console", 5, 1).unwrap();
        let got: Vec<(String, char, u64, u64, u32)> = host_devices(d)
            .unwrap()
            .into_iter()
            .map(|s| (s.path, s.kind, s.major, s.minor, s.file_mode))
            .collect();
        assert_eq!(
            got,
            vec![
                ("/dev/kmsg".to_string(), 'c', 1, 11, 0o600),
                ("/dev/net/tun".to_string(), 'c', 10, 200, 0o600),
            ]
        );
    }
}
