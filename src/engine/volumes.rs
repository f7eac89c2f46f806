//! The volume store as `docker volume` sees it: every directory `<root>/volumes/<name>` with
//! its data in `_data`, named volumes (made by `up` or `volume create`) and anonymous ones
//! (`<container id>-<n>`, see [`crate::engine::anon_volumes`]) alike.
//!
//! A volume has no record of its own unless `volume create` made it: then `volume.json` beside
//! `_data` keeps its labels and creation time (Docker's volume metadata). One without it (made
//! by `up`, or by an older release) is shown with no labels, created when its directory was.
//! Which containers use a volume is read from their records (their mounts), so a volume in use
//! is refused removal, as Docker refuses it, whatever state the container is in.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::json_store::{self, Layout, StoreError};
use crate::engine::root::StateRoot;
use crate::engine::spec::{MountKind, VOLUME_DATA};
use crate::engine::state::{self, StateError};

/// The record `volume create` writes beside a volume's data.
const META: &str = "volume.json";

/// Docker's label on anonymous volumes (`docker volume prune` without `-a` removes only those).
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// Docker's wording, which scripts match.
    #[error("get {0}: no such volume")]
    NotFound(String),
    #[error("volume name {0:?} is invalid: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName(String),
    /// Docker's wording for a volume a container mounts.
    #[error("remove {name}: volume is in use - [{}]", containers.join(", "))]
    InUse {
        name: String,
        containers: Vec<String>,
    },
    #[error("{step} {}: {source}", path.display())]
    Io {
        step: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    State(#[from] StateError),
}

fn io_err<'a>(step: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> VolumeError + 'a {
    move |source| VolumeError::Io {
        step,
        path: path.to_path_buf(),
        source,
    }
}

/// What `volume create` records.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Meta {
    created_at: i64,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// A volume as `docker volume inspect` shows it (the driver is always `local`, the scope
/// `local`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub name: String,
    /// Where its data lies on the host.
    pub mountpoint: PathBuf,
    /// Seconds since the epoch.
    pub created_at: i64,
    pub labels: BTreeMap<String, String>,
    /// Named after a container (`<64 hex>-<n>`): made for a mount without a name.
    pub anonymous: bool,
}

/// Docker's rule for volume names (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`), which also keeps a name
/// from leading out of the volumes directory.
pub fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.len() >= 2
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// `<64 hex>-<digits>`: the name the engine gives an anonymous volume.
fn is_anonymous_name(name: &str) -> bool {
    name.split_once('-').is_some_and(|(id, n)| {
        id.len() == 64
            && id.bytes().all(|b| b.is_ascii_hexdigit())
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
    })
}

fn read(root: &Path, name: &str) -> Result<Option<Volume>, VolumeError> {
    let dir = StateRoot::new(root).volume(name);
    let data = dir.join(VOLUME_DATA);
    let md = match std::fs::symlink_metadata(&data) {
        Ok(md) if md.is_dir() => md,
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("reading", &data)(e)),
    };
    let meta: Option<Meta> = json_store::read(&dir.join(META))?;
    let anonymous = is_anonymous_name(name);
    let (created_at, mut labels) = match meta {
        Some(m) => (m.created_at, m.labels),
        None => (md.ctime(), BTreeMap::new()),
    };
    if anonymous {
        labels.insert(ANONYMOUS_LABEL.to_string(), String::new());
    }
    Ok(Some(Volume {
        name: name.to_string(),
        mountpoint: data,
        created_at,
        labels,
        anonymous,
    }))
}

/// Every volume, by name.
pub fn list(root: &Path) -> Result<Vec<Volume>, VolumeError> {
    let dir = StateRoot::new(root).volumes();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("reading", &dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err("reading", &dir))?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if let Some(v) = read(root, &name)? {
            out.push(v);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The volume `name`.
pub fn get(root: &Path, name: &str) -> Result<Volume, VolumeError> {
    if !valid_name(name) {
        return Err(VolumeError::NotFound(name.to_string()));
    }
    read(root, name)?.ok_or_else(|| VolumeError::NotFound(name.to_string()))
}

/// Makes volume `name` with `labels`, as `docker volume create` does: an existing one is
/// left as it is and returned (Docker's answer too).
pub fn create(
    root: &Path,
    name: &str,
    labels: BTreeMap<String, String>,
) -> Result<Volume, VolumeError> {
    if !valid_name(name) {
        return Err(VolumeError::InvalidName(name.to_string()));
    }
    if let Some(v) = read(root, name)? {
        return Ok(v);
    }
    let layout = StateRoot::new(root);
    let dir = layout.volume(name);
    let data = dir.join(VOLUME_DATA);
    crate::engine::root::create_volume_dir(&layout.volumes(), &data)
        .map_err(io_err("creating", &data))?;
    let meta = Meta {
        created_at: crate::engine::fsutil::now_secs(),
        labels,
    };
    json_store::write(&dir.join(META), &meta, Layout::Pretty)?;
    get(root, name)
}

/// A fresh name for an unnamed `volume create` (64 hex digits, as Docker's).
pub fn random_name() -> String {
    let seed = format!(
        "{}-{}-{:?}",
        std::process::id(),
        crate::engine::timestamp::now_rfc3339_nanos(),
        std::thread::current().id()
    );
    crate::engine::fsutil::hex(&<sha2::Sha256 as sha2::Digest>::digest(seed.as_bytes()))
}

/// Volume name -> the names of the containers (any state) that mount it.
pub fn users(root: &Path) -> Result<BTreeMap<String, BTreeSet<String>>, VolumeError> {
    let volumes = StateRoot::new(root).volumes();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for o in state::list(root, None)? {
        for m in &o.record.spec.mounts {
            let path = match &m.kind {
                MountKind::Volume { volume, .. } => volume.as_path(),
                // Records from before volumes had a mount kind of their own bound the data.
                MountKind::Bind { source, .. } => match source.parent() {
                    Some(p) if source.ends_with(VOLUME_DATA) => p,
                    _ => continue,
                },
                MountKind::Tmpfs { .. } => continue,
            };
            if path.parent() != Some(volumes.as_path()) {
                continue;
            }
            if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                out.entry(name.to_string())
                    .or_default()
                    .insert(o.record.name.clone());
            }
        }
    }
    Ok(out)
}

/// Removes volume `name` and its data; refused while a container mounts it (`force` does not
/// change that, as with Docker: it only lets a missing volume pass).
pub fn remove(root: &Path, name: &str, force: bool) -> Result<(), VolumeError> {
    let v = match get(root, name) {
        Ok(v) => v,
        Err(VolumeError::NotFound(_)) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    if let Some(users) = users(root)?.remove(&v.name) {
        return Err(VolumeError::InUse {
            name: v.name,
            containers: users.into_iter().collect(),
        });
    }
    let dir = StateRoot::new(root).volume(&v.name);
    std::fs::remove_dir_all(&dir).map_err(io_err("removing", &dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_rule() {
        for ok in ["ab", "p_data", "a.b-c", "0x"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "a", "../x", "_a", "a/b", ".x", "a b"] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(is_anonymous_name(&format!("{}-1", "a".repeat(64))));
        assert!(!is_anonymous_name("p_data-1"));
    }

    #[test]
    fn create_list_inspect_remove() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        assert!(list(root).expect("list").is_empty());
        let labels = BTreeMap::from([("a".to_string(), "1".to_string())]);
        let v = create(root, "data", labels.clone()).expect("create");
        assert_eq!(v.labels, labels);
        assert!(v.mountpoint.ends_with("volumes/data/_data"));
        assert!(v.mountpoint.is_dir());
        // Creating again returns the existing one, labels unchanged.
        let again = create(root, "data", BTreeMap::new()).expect("again");
        assert_eq!(again.labels, labels);
        // One made by `up` (no record) is listed too, without labels.
        let anon = format!("{}-1", "b".repeat(64));
        std::fs::create_dir_all(root.join("volumes").join(&anon).join(VOLUME_DATA)).expect("mk");
        let all = list(root).expect("list");
        assert_eq!(all.len(), 2);
        assert!(all.iter().any(|v| v.name == anon && v.anonymous));
        assert!(matches!(
            create(root, "../x", BTreeMap::new()),
            Err(VolumeError::InvalidName(_))
        ));
        remove(root, "data", false).expect("remove");
        assert!(matches!(get(root, "data"), Err(VolumeError::NotFound(_))));
        assert!(remove(root, "data", false).is_err());
        remove(root, "data", true).expect("force ignores a missing one");
        assert_eq!(
            VolumeError::NotFound("x".into()).to_string(),
            "get x: no such volume"
        );
    }
}
