//! Reading the host's device nodes, for the planner, which makes no system calls: the stack
//! reads what a service's `devices:` entries name (and all of /dev for a privileged service)
//! with [`gather`] and hands the result to the planner, which decides what the container gets.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// A character or block device node as the host has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostNode {
    /// The host path: `source` itself, or beneath it when `source` is a directory.
    pub path: PathBuf,
    pub block: bool,
    pub major: u64,
    pub minor: u64,
    /// The whole `st_mode` (the planner keeps the permission bits it passes on).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// What a `devices:` source turned out to be (symlinks followed, as `stat` does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSource {
    Node(HostNode),
    /// Exists but is neither a device nor a directory.
    NotADevice,
    /// A directory: every device beneath it, in name order.
    Dir(Vec<HostNode>),
}

/// A device path that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("device {path}: {source}")]
pub struct ReadError {
    /// The path being read when it failed (the source, or a directory beneath it).
    pub path: String,
    #[source]
    pub source: io::Error,
}

/// The host's devices a set of services asks about, read before planning.
#[derive(Debug, Default)]
pub struct DeviceFacts {
    /// By `devices:` source, as written.
    pub sources: BTreeMap<String, Result<DeviceSource, ReadError>>,
    /// Every device under /dev, when a privileged service asked (`None` otherwise).
    pub dev: Option<Result<Vec<HostNode>, ReadError>>,
}

/// Reads each of `sources` and, with `whole_dev`, the host's /dev.
pub fn gather<'a>(sources: impl IntoIterator<Item = &'a str>, whole_dev: bool) -> DeviceFacts {
    DeviceFacts {
        sources: sources
            .into_iter()
            .map(|s| (s.to_string(), read_source(Path::new(s))))
            .collect(),
        dev: whole_dev.then(|| {
            let mut out = Vec::new();
            walk(Path::new("/dev"), true, &mut out).map(|()| out)
        }),
    }
}

fn node(path: PathBuf, meta: &std::fs::Metadata) -> Option<HostNode> {
    let ft = meta.file_type();
    if !ft.is_char_device() && !ft.is_block_device() {
        return None;
    }
    Some(HostNode {
        path,
        block: ft.is_block_device(),
        major: rustix::fs::major(meta.rdev()) as u64,
        minor: rustix::fs::minor(meta.rdev()) as u64,
        mode: meta.mode(),
        uid: meta.uid(),
        gid: meta.gid(),
    })
}

fn read_source(path: &Path) -> Result<DeviceSource, ReadError> {
    let meta = std::fs::metadata(path).map_err(|source| ReadError {
        path: path.display().to_string(),
        source,
    })?;
    if meta.is_dir() {
        let mut out = Vec::new();
        walk(path, false, &mut out)?;
        return Ok(DeviceSource::Dir(out));
    }
    Ok(node(path.to_path_buf(), &meta).map_or(DeviceSource::NotADevice, DeviceSource::Node))
}

/// Every device beneath `dir`, in name order, without following symbolic links. With
/// `skip_gone`, an entry removed since the listing (a device unplugged) is left out rather
/// than failing the walk.
fn walk(dir: &Path, skip_gone: bool, out: &mut Vec<HostNode>) -> Result<(), ReadError> {
    let fail = |source| ReadError {
        path: dir.display().to_string(),
        source,
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(fail)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(fail)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        // `DirEntry::metadata` does not follow a symbolic link.
        let meta = match e.metadata() {
            Ok(m) => m,
            Err(err) if skip_gone && err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(fail(err)),
        };
        if meta.is_dir() {
            walk(&e.path(), skip_gone, out)?;
        } else if let Some(n) = node(e.path(), &meta) {
            out.push(n);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_a_file_a_directory_and_a_missing_path_are_told_apart() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let file = tmp.path().join("file");
        std::fs::write(&file, "").expect("file");
        let missing = tmp.path().join("missing");
        let paths = [
            "/dev/null",
            file.to_str().expect("utf-8"),
            missing.to_str().expect("utf-8"),
            tmp.path().to_str().expect("utf-8"),
        ];
        let facts = gather(paths, false);
        assert!(facts.dev.is_none());
        match &facts.sources["/dev/null"] {
            Ok(DeviceSource::Node(n)) => {
                assert_eq!((n.block, n.major, n.minor), (false, 1, 3));
                assert_eq!(n.path, Path::new("/dev/null"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            facts.sources[paths[1]],
            Ok(DeviceSource::NotADevice)
        ));
        let err = facts.sources[paths[2]].as_ref().expect_err("missing");
        assert_eq!(err.source.kind(), io::ErrorKind::NotFound);
        assert_eq!(err.path, paths[2]);
        assert!(matches!(&facts.sources[paths[3]], Ok(DeviceSource::Dir(d)) if d.is_empty()));
    }
}
