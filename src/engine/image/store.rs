//! The on-disk image store, in the directory the caller gives (`<--root>/images`, laid out as
//! [`ImageDir`] says).
//!
//! Layer directory names are short because overlayfs' `lowerdir=` option is limited to a page.
//! Writers serialize on the lock; readers take none: every file they read is replaced
//! atomically, so they see the old or the new state.
//!
//! This file holds the store's types and its records and tags; each operation over
//! [`ImageStore`] has a file of its own beside it: `lookup` (find, resolve), `list`, `inspect`,
//! `tag`, `remove` (with the garbage collection), `prune`, `blobs`, `unpacked` (layers),
//! `ingest` (loading), `pulls`, `digests`, `commit` (the layers and images a build makes).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use oci_spec::image::ImageConfiguration;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use super::layer::LayerError;
use super::reference::{Reference, ReferenceError};
use crate::engine::fsutil::{self, StoreLock};
use crate::engine::root::ImageDir;

/// OCI media types the store writes.
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Annotation containerd (and Docker ≥ 25) use for the full image name in an OCI layout.
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
/// OCI's own name annotation (Docker writes the tag there).
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(Debug, Error)]
pub enum ImageError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error("No such image: {0}")]
    NotFound(String),
    #[error("{0:?} matches more than one image id; use more characters")]
    Ambiguous(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid image archive: {0}")]
    InvalidArchive(String),
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("layer {diff_id}: {source}")]
    Layer {
        diff_id: String,
        #[source]
        source: LayerError,
    },
    #[error("{what}: invalid JSON: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("store is corrupt: {0}")]
    Corrupt(String),
    /// A directory given to become a layer cannot be one (see [`ImageStore::add_layer`]).
    #[error("layer directory {}: {reason}", dir.display())]
    LayerDir { dir: PathBuf, reason: &'static str },
    #[error("packing {} into a layer: {source}", dir.display())]
    Pack {
        dir: PathBuf,
        #[source]
        source: super::pack::PackError,
    },
    /// An image config or name a build gave that cannot make an image.
    #[error("new image: {0}")]
    NewImage(String),
    /// A step failed, and removing what it had left (a staged file, a half-unpacked layer)
    /// failed too: every failure is told, so what is left in the store is explained.
    #[error("{error}{}", left.iter().map(|(p, e)| format!("; and removing {} again: {e}", p.display())).collect::<String>())]
    Undo {
        error: Box<ImageError>,
        left: Vec<(PathBuf, io::Error)>,
    },
}

impl ImageError {
    /// This error, with what could not be removed after it (none: itself, unchanged).
    pub(crate) fn with_leftovers(
        self,
        left: impl IntoIterator<Item = (PathBuf, io::Error)>,
    ) -> ImageError {
        let left: Vec<_> = left.into_iter().collect();
        if left.is_empty() {
            self
        } else {
            ImageError::Undo {
                error: Box::new(self),
                left,
            }
        }
    }
}

/// What a removal of `path` left behind: nothing when it went or was already gone.
pub(crate) fn leftover(path: &Path, removed: io::Result<()>) -> Option<(PathBuf, io::Error)> {
    match removed {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Some((path.to_path_buf(), e)),
        _ => None,
    }
}

/// A removal where already gone is fine.
pub(crate) fn gone_is_fine(removed: io::Result<()>) -> io::Result<()> {
    match removed {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

pub(crate) fn io_ctx(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> ImageError {
    let path = path.to_path_buf();
    move |source| ImageError::Io { op, path, source }
}

/// A content descriptor as the store records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    pub media_type: String,
    /// `sha256:<hex>`
    pub digest: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRef {
    /// sha256 of the uncompressed tar (`rootfs.diff_ids`).
    pub diff_id: String,
    /// The blob as loaded (possibly compressed); kept so `save` can write it back.
    pub blob: BlobRef,
    /// Directory name under `layers/`.
    pub dir: String,
}

/// What `images/<hex>.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// `sha256:<config digest hex>`, Docker's image id.
    pub id: String,
    pub manifest: BlobRef,
    pub config: BlobRef,
    /// Bottom layer first, as in the manifest.
    pub layers: Vec<LayerRef>,
    /// Sum of the unpacked layers' file sizes.
    pub size: u64,
    /// When the image was loaded (RFC 3339), Docker's `Metadata.LastTagTime` for us.
    pub loaded_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct LayerMarker {
    pub(super) diff_id: String,
    pub(super) size: u64,
}

/// An image loaded by [`ImageStore::load_archive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    pub id: String,
    /// Names given to it by the archive (may be empty: loaded untagged).
    pub names: Vec<Reference>,
}

/// One image for `image ls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    pub id: String,
    pub repo_tags: Vec<Reference>,
    /// The config's `created`, as written there.
    pub created: Option<String>,
    pub size: u64,
}

/// A `HEALTHCHECK` recorded in the image config (Docker extension); durations in nanoseconds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageHealthcheck {
    pub test: Vec<String>,
    pub interval: Option<u64>,
    pub timeout: Option<u64>,
    pub start_period: Option<u64>,
    pub start_interval: Option<u64>,
    pub retries: Option<u32>,
}

/// What the runtime needs from an image.
#[derive(Debug, Clone)]
pub struct Image {
    /// `sha256:<hex>`
    pub id: String,
    /// Familiar names (`busybox:latest`).
    pub repo_tags: Vec<String>,
    pub config: ImageConfiguration,
    pub healthcheck: Option<ImageHealthcheck>,
    /// Unpacked layers, topmost first (overlayfs `lowerdir` order); a layer that occurs twice
    /// is listed once, at its topmost position (the lower copy adds nothing).
    pub layer_dirs: Vec<PathBuf>,
    pub size: u64,
}

/// Outcome of [`ImageStore::remove`], in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveEvent {
    /// A familiar reference was removed.
    Untagged(String),
    /// An image id or a layer's diff id was deleted.
    Deleted(String),
}

#[derive(Debug, Clone)]
pub struct ImageStore {
    dir: ImageDir,
}

pub(super) type Tags = BTreeMap<String, String>;

pub(super) fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

impl ImageStore {
    /// Opens (creating when missing) the store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<ImageStore, ImageError> {
        let store = ImageStore {
            dir: ImageDir::new(root),
        };
        for dir in [
            store.dir.path().to_path_buf(),
            store.dir.records(),
            store.dir.blobs(),
            store.dir.layers(),
            store.dir.tmp(),
        ] {
            crate::engine::root::private_dir(&dir).map_err(io_ctx("creating", &dir))?;
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Where the store's files lie.
    pub(crate) fn dir(&self) -> &ImageDir {
        &self.dir
    }

    pub(crate) fn blob_path(&self, digest: &str) -> PathBuf {
        self.dir.blob(hex_of(digest))
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.dir.tmp()
    }

    pub(crate) fn record_path(&self, id: &str) -> PathBuf {
        self.dir.record(hex_of(id))
    }

    /// Takes the writers' lock and empties `tmp/` (left-overs of writers that died: nobody
    /// else can be using it while we hold the lock).
    pub(crate) fn lock(&self) -> Result<StoreLock, ImageError> {
        let path = self.dir.lock();
        let lock = StoreLock::exclusive(&path).map_err(io_ctx("locking", &path))?;
        let tmp = self.tmp_dir();
        if let Ok(entries) = fs::read_dir(&tmp) {
            for e in entries.flatten() {
                let p = e.path();
                let _ = if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    fs::remove_dir_all(&p)
                } else {
                    fs::remove_file(&p)
                };
            }
        }
        Ok(lock)
    }

    pub(crate) fn read_tags(&self) -> Result<Tags, ImageError> {
        let path = self.dir.tags();
        match fs::read(&path) {
            Ok(data) => serde_json::from_slice(&data).map_err(|source| ImageError::Json {
                what: path.display().to_string(),
                source,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Tags::new()),
            Err(e) => Err(io_ctx("reading", &path)(e)),
        }
    }

    pub(crate) fn write_tags(&self, tags: &Tags) -> Result<(), ImageError> {
        let path = self.dir.tags();
        let data = serde_json::to_vec_pretty(tags).map_err(|source| ImageError::Json {
            what: path.display().to_string(),
            source,
        })?;
        fsutil::write_atomic(&path, &data).map_err(io_ctx("writing", &path))
    }

    pub(crate) fn read_record(&self, id: &str) -> Result<ImageRecord, ImageError> {
        let path = self.record_path(id);
        let data = fs::read(&path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                ImageError::NotFound(id.to_string())
            } else {
                io_ctx("reading", &path)(e)
            }
        })?;
        serde_json::from_slice(&data).map_err(|source| ImageError::Json {
            what: path.display().to_string(),
            source,
        })
    }

    pub(crate) fn write_record(&self, record: &ImageRecord) -> Result<(), ImageError> {
        let path = self.record_path(&record.id);
        let data = serde_json::to_vec_pretty(record).map_err(|source| ImageError::Json {
            what: path.display().to_string(),
            source,
        })?;
        fsutil::write_atomic(&path, &data).map_err(io_ctx("writing", &path))
    }

    /// Every image record in the store.
    pub(crate) fn records(&self) -> Result<Vec<ImageRecord>, ImageError> {
        let dir = self.dir.records();
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_ctx("listing", &dir))? {
            let entry = entry.map_err(io_ctx("listing", &dir))?;
            let name = entry.file_name();
            let Some(hex) = name.to_str().and_then(ImageDir::json_stem) else {
                continue;
            };
            if hex.len() != 64 {
                continue;
            }
            match self.read_record(hex) {
                Ok(r) => out.push(r),
                // Removed by a concurrent writer between listing and reading.
                Err(ImageError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    pub(super) fn raw_config(&self, record: &ImageRecord) -> Result<Value, ImageError> {
        let data = self.read_blob(&record.config.digest)?;
        serde_json::from_slice(&data).map_err(|source| ImageError::Json {
            what: format!("image config {}", record.config.digest),
            source,
        })
    }

    /// Records a loaded image and its names. Call with the lock held.
    pub(crate) fn commit(
        &self,
        record: &ImageRecord,
        names: &[Reference],
        tags: &mut Tags,
    ) -> Result<(), ImageError> {
        let blob_dir = self.dir.blobs();
        fsutil::fsync_dir(&blob_dir).map_err(io_ctx("syncing", &blob_dir))?;
        let ldir = self.dir.layers();
        fsutil::fsync_dir(&ldir).map_err(io_ctx("syncing", &ldir))?;
        let existing = self.read_record(&record.id).ok();
        match existing {
            // Keep the first load time and record; the content is the same by construction.
            Some(old) if old.layers == record.layers => {}
            _ => self.write_record(record)?,
        }
        for n in names {
            tags.insert(n.to_string(), record.id.clone());
        }
        Ok(())
    }
}
