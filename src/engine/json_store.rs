//! JSON records on disk: read (absent is `None`), written atomically (a reader sees the old
//! record or the new one, never half of one), removed durably, and changed under an exclusive
//! lock. IPAM (`network/ipam/store.rs`), network definitions (`network/manager/`) and container
//! records (`state.rs`) all keep their records this way; this is the one implementation.
//!
//! Errors name the step and the path; each store maps them into its own error type (see
//! [`StoreError`]), so messages stay those of the store.
//!
//! Torn records: every record is written whole and durably (see [`Durability`]), so after a
//! power cut it holds the old content or the new. One that is not JSON nevertheless (a disk
//! that lied about its cache, an administrator's editor, a full disk under an older release)
//! is [`StoreError::Corrupt`]: never trusted. Each store decides what such a record means for
//! it (see the `state`, `network::ipam` and `network::manager` module docs) and says so with
//! [`warn_torn`], once per record and process.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::engine::fsutil::{self, Durability, StoreLock};

/// A failed read, write, removal or lock.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file system refused `step` (`reading`, `writing`, `removing`, `syncing`, `locking`).
    #[error("{step} {}: {source}", path.display())]
    Io {
        step: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The record is not the JSON it should be (or could not be serialized).
    #[error("{}: {source}", path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

fn io_err(step: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { step, path, source }
}

/// How a record is laid out: pretty for records people read, compact for hot ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Pretty,
    Compact,
}

/// The record at `path`, or `None` when there is none.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreError> {
    match fs::read(path) {
        Ok(data) => serde_json::from_slice(&data)
            .map(Some)
            .map_err(|source| StoreError::Corrupt {
                path: path.to_path_buf(),
                source,
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("reading", path)(e)),
    }
}

/// Replaces the record at `path` atomically (and durably).
pub fn write<T: Serialize>(path: &Path, value: &T, layout: Layout) -> Result<(), StoreError> {
    write_as(path, value, layout, Durability::Durable)
}

/// [`write`] with the syncs `durability` asks for (see [`Durability`]): atomic for readers
/// whatever it is.
pub fn write_as<T: Serialize>(
    path: &Path,
    value: &T,
    layout: Layout,
    durability: Durability,
) -> Result<(), StoreError> {
    let data = match layout {
        Layout::Pretty => serde_json::to_vec_pretty(value),
        Layout::Compact => serde_json::to_vec(value),
    }
    .map_err(|source| StoreError::Corrupt {
        path: path.to_path_buf(),
        source,
    })?;
    fsutil::write_atomic_as(path, &data, durability).map_err(io_err("writing", path))
}

/// Takes the exclusive lock `path` (created if missing), held until the guard is dropped.
pub fn lock(path: &Path) -> Result<StoreLock, StoreError> {
    StoreLock::exclusive(path).map_err(io_err("locking", path))
}

/// Says on standard error, once per `path` in this process, that the record there is torn
/// and what is done about it (`action`). Stores read the same record many times in one
/// command; the user needs to hear it once.
pub fn warn_torn(path: &Path, source: &serde_json::Error, action: &str) {
    if first_report(path) {
        eprintln!("WARN[0000] {} is torn ({source}): {action}", path.display());
    }
}

/// Whether `path` is reported for the first time in this process.
fn first_report(path: &Path) -> bool {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static REPORTED: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    let set = REPORTED.get_or_init(|| Mutex::new(HashSet::new()));
    match set.lock() {
        Ok(mut s) => s.insert(path.to_path_buf()),
        // A thread panicked while holding it: saying it twice is better than never.
        Err(p) => p.into_inner().insert(path.to_path_buf()),
    }
}

/// A directory of records, one `<name>.json` each, changed under `<dir>/.lock`.
#[derive(Debug, Clone)]
pub struct JsonStore {
    dir: PathBuf,
}

impl JsonStore {
    pub fn new(dir: &Path) -> JsonStore {
        JsonStore {
            dir: dir.to_path_buf(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the record `name` lives.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// The store's exclusive lock: read-modify-write sequences hold it; plain reads need not
    /// (records are replaced atomically).
    pub fn lock(&self) -> Result<StoreLock, StoreError> {
        lock(&self.dir.join(".lock"))
    }

    pub fn read<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, StoreError> {
        read(&self.path(name))
    }

    pub fn write<T: Serialize>(&self, name: &str, value: &T) -> Result<(), StoreError> {
        write(&self.path(name), value, Layout::Pretty)
    }

    /// Removes the record `name` durably (the directory is synced); false when there was none.
    pub fn remove(&self, name: &str) -> Result<bool, StoreError> {
        let path = self.path(name);
        match fs::remove_file(&path) {
            Ok(()) => {
                fsutil::fsync_dir(&self.dir).map_err(io_err("syncing", &self.dir))?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err("removing", &path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_vanish_and_report_corruption() {
        let tmp = tempfile::tempdir().unwrap();
        let store = JsonStore::new(tmp.path());
        assert_eq!(store.read::<Vec<u32>>("a").unwrap(), None);
        let _lock = store.lock().unwrap();
        store.write("a", &vec![1u32, 2]).unwrap();
        assert_eq!(store.read::<Vec<u32>>("a").unwrap(), Some(vec![1, 2]));
        assert!(fs::read_to_string(store.path("a")).unwrap().contains('\n'));
        write(&store.path("b"), &vec![3u32], Layout::Compact).unwrap();
        assert_eq!(fs::read_to_string(store.path("b")).unwrap(), "[3]");
        assert!(store.remove("a").unwrap());
        assert!(!store.remove("a").unwrap());
        assert_eq!(store.read::<Vec<u32>>("a").unwrap(), None);
        fs::write(store.path("c"), "{").unwrap();
        let e = store.read::<Vec<u32>>("c").unwrap_err();
        assert!(matches!(&e, StoreError::Corrupt { path, .. } if *path == store.path("c")));
        fs::write(store.path("d"), "").unwrap();
        let e = store.read::<Vec<u32>>("d").unwrap_err();
        assert!(matches!(&e, StoreError::Corrupt { path, .. } if *path == store.path("d")));
    }

    #[test]
    fn a_torn_record_is_reported_once_per_process() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a.json");
        assert!(first_report(&a));
        assert!(!first_report(&a));
        assert!(first_report(&tmp.path().join("b.json")));
    }
}
