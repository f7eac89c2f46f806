//! When each reference was last pulled, for the `daily`/`weekly`/`every_<d>` pull policies.
//!
//! One small JSON file, `pulls.json` under the store root, mapping a normalized reference
//! (`docker.io/library/busybox:latest`) to the Unix time of its last successful pull. It is
//! replaced atomically under the store's writers' lock, so concurrent pulls never lose each
//! other's entries and a crash leaves the old file or the new one, never half of one.
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::store::{io_ctx, ImageError, ImageStore};
use super::Reference;
use crate::engine::fsutil;

/// Far more than any store needs (an entry is ~80 bytes); a bigger file is not ours.
const MAX_FILE: u64 = 4 << 20;

type Pulls = BTreeMap<String, u64>;

impl ImageStore {
    fn pulls_path(&self) -> PathBuf {
        self.dir().pulls()
    }

    fn read_pulls(&self) -> Result<Pulls, ImageError> {
        let path = self.pulls_path();
        let file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Pulls::new()),
            Err(e) => return Err(io_ctx("reading", &path)(e)),
        };
        let mut data = Vec::new();
        file.take(MAX_FILE + 1)
            .read_to_end(&mut data)
            .map_err(io_ctx("reading", &path))?;
        if data.len() as u64 > MAX_FILE {
            return Err(ImageError::Corrupt(format!(
                "{}: larger than {MAX_FILE} bytes",
                path.display()
            )));
        }
        serde_json::from_slice(&data).map_err(|source| ImageError::Json {
            what: path.display().to_string(),
            source,
        })
    }

    /// When `reference` (as the user writes it) was last pulled; `None` if never.
    pub fn last_pulled(&self, reference: &str) -> Result<Option<SystemTime>, ImageError> {
        let key = Reference::parse(reference)?.to_string();
        Ok(self
            .read_pulls()?
            .get(&key)
            .map(|secs| UNIX_EPOCH + Duration::from_secs(*secs)))
    }

    /// Records that `references` were pulled at `at`.
    pub fn record_pulls(&self, references: &[&str], at: SystemTime) -> Result<(), ImageError> {
        let keys = references
            .iter()
            .map(|r| Reference::parse(r).map(|r| r.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let _lock = self.lock()?;
        let mut pulls = self.read_pulls()?;
        for k in keys {
            pulls.insert(k, secs);
        }
        let path = self.pulls_path();
        let data = serde_json::to_vec_pretty(&pulls).map_err(|source| ImageError::Json {
            what: path.display().to_string(),
            source,
        })?;
        fsutil::write_atomic(&path, &data).map_err(io_ctx("writing", &path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_times_are_kept_per_normalized_reference() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ImageStore::open(dir.path()).expect("store");
        assert_eq!(store.last_pulled("busybox").expect("read"), None);
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        store
            .record_pulls(&["busybox", "ghcr.io/o/app:1"], t)
            .expect("record");
        // `busybox` and its normalized spelling are one reference; other tags are not.
        assert_eq!(
            store
                .last_pulled("docker.io/library/busybox:latest")
                .expect("read"),
            Some(t)
        );
        assert_eq!(store.last_pulled("ghcr.io/o/app:1").expect("read"), Some(t));
        assert_eq!(store.last_pulled("ghcr.io/o/app:2").expect("read"), None);
        let later = t + Duration::from_secs(60);
        store.record_pulls(&["busybox"], later).expect("record");
        assert_eq!(store.last_pulled("busybox").expect("read"), Some(later));
        assert_eq!(store.last_pulled("ghcr.io/o/app:1").expect("read"), Some(t));
    }

    #[test]
    fn a_damaged_pull_times_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ImageStore::open(dir.path()).expect("store");
        fs::write(dir.path().join("pulls.json"), b"{not json").expect("write");
        let e = store.last_pulled("busybox").expect_err("bad JSON");
        assert!(e.to_string().contains("pulls.json"), "{e}");
        let e = store
            .record_pulls(&["busybox"], SystemTime::now())
            .expect_err("bad JSON");
        assert!(e.to_string().contains("pulls.json"), "{e}");
        assert!(store.last_pulled("not a ref!").is_err());
    }
}
