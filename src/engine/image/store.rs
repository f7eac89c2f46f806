//! The on-disk image store, in the directory the caller gives (`<--root>/images`, laid out as
//! [`ImageDir`] says).
//!
//! Layer directory names are short because overlayfs' `lowerdir=` option is limited to a page.
//! Writers serialize on the lock; readers take none: every file they read is replaced
//! atomically, so they see the old or the new state.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use oci_spec::image::ImageConfiguration;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use thiserror::Error;

use super::layer::{self, LayerError, UnpackOptions};
use super::reference::{Reference, ReferenceError};
use crate::engine::fsutil::{self, HashingReader, StoreLock};
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
struct LayerMarker {
    diff_id: String,
    size: u64,
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

type Tags = BTreeMap<String, String>;

fn hex_of(digest: &str) -> &str {
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

    pub(crate) fn read_blob(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let path = self.blob_path(digest);
        fs::read(&path).map_err(io_ctx("reading blob", &path))
    }

    fn raw_config(&self, record: &ImageRecord) -> Result<Value, ImageError> {
        let data = self.read_blob(&record.config.digest)?;
        serde_json::from_slice(&data).map_err(|source| ImageError::Json {
            what: format!("image config {}", record.config.digest),
            source,
        })
    }

    /// Finds the image `input` names: a reference (`busybox`, `busybox:1`, `x@sha256:…`),
    /// else a full id (`sha256:<hex>`) or an id prefix, like Docker.
    pub(crate) fn find(&self, input: &str, tags: &Tags) -> Result<ImageRecord, ImageError> {
        if let Ok(r) = Reference::parse(input) {
            if let Some(digest) = r.digest() {
                if let Some(id) = tags.get(&r.to_string()) {
                    return self.read_record(id);
                }
                for rec in self.records()? {
                    if rec.manifest.digest == digest || rec.id == digest {
                        return Ok(rec);
                    }
                }
            } else if let Some(id) = tags.get(&r.to_string()) {
                return self.read_record(id);
            }
        }
        let hex = input.strip_prefix("sha256:").unwrap_or(input);
        if !hex.is_empty()
            && hex.len() <= 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            let dir = self.dir.records();
            let mut found = Vec::new();
            for entry in fs::read_dir(&dir)
                .map_err(io_ctx("listing", &dir))?
                .flatten()
            {
                if let Some(h) = entry.file_name().to_str().and_then(ImageDir::json_stem) {
                    if h.len() == 64 && h.starts_with(hex) {
                        found.push(h.to_string());
                    }
                }
            }
            match found.len() {
                0 => {}
                1 => return self.read_record(&found[0]),
                _ => return Err(ImageError::Ambiguous(input.to_string())),
            }
        }
        Err(ImageError::NotFound(input.to_string()))
    }

    fn tags_of(tags: &Tags, id: &str) -> Vec<Reference> {
        tags.iter()
            .filter(|(_, v)| v.as_str() == id)
            .filter_map(|(k, _)| Reference::parse(k).ok())
            .collect()
    }

    /// Resolves a reference or id to what the runtime needs.
    pub fn resolve(&self, input: &str) -> Result<Image, ImageError> {
        let tags = self.read_tags()?;
        let record = self.find(input, &tags)?;
        let data = self.read_blob(&record.config.digest)?;
        let config: ImageConfiguration =
            serde_json::from_slice(&data).map_err(|source| ImageError::Json {
                what: format!("image config {}", record.config.digest),
                source,
            })?;
        let raw: Value = serde_json::from_slice(&data).map_err(|source| ImageError::Json {
            what: format!("image config {}", record.config.digest),
            source,
        })?;
        let healthcheck = raw
            .pointer("/config/Healthcheck")
            .filter(|v| !v.is_null())
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let mut seen = BTreeSet::new();
        let mut layer_dirs = Vec::new();
        for layer in record.layers.iter().rev() {
            if seen.insert(layer.dir.clone()) {
                let dir = self.dir.layer(&layer.dir);
                if !dir.is_dir() {
                    return Err(ImageError::Corrupt(format!(
                        "layer {} of image {} is missing ({})",
                        layer.diff_id,
                        record.id,
                        dir.display()
                    )));
                }
                layer_dirs.push(dir);
            }
        }
        Ok(Image {
            repo_tags: Self::tags_of(&tags, &record.id)
                .iter()
                .map(Reference::familiar)
                .collect(),
            id: record.id,
            config,
            healthcheck,
            layer_dirs,
            size: record.size,
        })
    }

    /// All images, newest first (by the config's `created`).
    pub fn list(&self) -> Result<Vec<ImageSummary>, ImageError> {
        let tags = self.read_tags()?;
        let mut out = Vec::new();
        for record in self.records()? {
            let created = self
                .raw_config(&record)
                .ok()
                .and_then(|c| c.get("created").and_then(Value::as_str).map(str::to_string));
            out.push(ImageSummary {
                repo_tags: Self::tags_of(&tags, &record.id),
                id: record.id,
                created,
                size: record.size,
            });
        }
        out.sort_by(|a, b| {
            let ta = a.created.as_deref().and_then(fsutil::parse_rfc3339);
            let tb = b.created.as_deref().and_then(fsutil::parse_rfc3339);
            tb.cmp(&ta).then_with(|| a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// Docker's `image inspect` object for one image.
    pub fn inspect(&self, input: &str) -> Result<Value, ImageError> {
        let tags = self.read_tags()?;
        let record = self.find(input, &tags)?;
        let raw = self.raw_config(&record)?;
        let names = Self::tags_of(&tags, &record.id);
        let repo_tags: Vec<String> = names
            .iter()
            .filter(|r| r.tag().is_some() && r.digest().is_none())
            .map(Reference::familiar)
            .collect();
        let mut repo_digests: Vec<String> = Vec::new();
        for r in &names {
            let d = match r.digest() {
                Some(_) => r.familiar(),
                None => match r.with_digest(&record.manifest.digest) {
                    Ok(d) => d.familiar(),
                    Err(_) => continue,
                },
            };
            if !repo_digests.contains(&d) {
                repo_digests.push(d);
            }
        }
        let empty = Value::Object(Default::default());
        let cfg = raw.get("config").unwrap_or(&empty);
        let field = |k: &str| cfg.get(k).cloned().unwrap_or(Value::Null);
        let mut config = serde_json::Map::new();
        config.insert("User".into(), cfg.get("User").cloned().unwrap_or(json!("")));
        if let Some(p) = cfg.get("ExposedPorts").filter(|v| !v.is_null()) {
            config.insert("ExposedPorts".into(), p.clone());
        }
        config.insert("Env".into(), field("Env"));
        config.insert("Cmd".into(), field("Cmd"));
        if let Some(h) = cfg.get("Healthcheck").filter(|v| !v.is_null()) {
            config.insert("Healthcheck".into(), h.clone());
        }
        config.insert("Volumes".into(), field("Volumes"));
        config.insert(
            "WorkingDir".into(),
            cfg.get("WorkingDir").cloned().unwrap_or(json!("")),
        );
        config.insert("Entrypoint".into(), field("Entrypoint"));
        config.insert("OnBuild".into(), field("OnBuild"));
        config.insert("Labels".into(), field("Labels"));
        if let Some(s) = cfg.get("StopSignal").filter(|v| !v.is_null()) {
            config.insert("StopSignal".into(), s.clone());
        }
        let str_field = |k: &str| raw.get(k).cloned().unwrap_or(json!(""));
        let mut out = serde_json::Map::new();
        out.insert("Id".into(), json!(record.id));
        out.insert("RepoTags".into(), json!(repo_tags));
        out.insert("RepoDigests".into(), json!(repo_digests));
        out.insert("Parent".into(), json!(""));
        out.insert("Comment".into(), str_field("comment"));
        out.insert("Created".into(), str_field("created"));
        out.insert("DockerVersion".into(), str_field("docker_version"));
        out.insert("Author".into(), str_field("author"));
        out.insert("Config".into(), Value::Object(config));
        out.insert("Architecture".into(), str_field("architecture"));
        if let Some(v) = raw.get("variant") {
            out.insert("Variant".into(), v.clone());
        }
        out.insert("Os".into(), str_field("os"));
        out.insert("Size".into(), json!(record.size));
        out.insert(
            "RootFS".into(),
            json!({
                "Type": raw.pointer("/rootfs/type").cloned().unwrap_or(json!("layers")),
                "Layers": record.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
            }),
        );
        out.insert(
            "Metadata".into(),
            json!({ "LastTagTime": record.loaded_at }),
        );
        Ok(Value::Object(out))
    }

    /// Adds the name `target` to the image `source` names.
    pub fn tag(&self, source: &str, target: &str) -> Result<(), ImageError> {
        let target = Reference::parse(target)?;
        let _lock = self.lock()?;
        let mut tags = self.read_tags()?;
        let record = self.find(source, &tags)?;
        tags.insert(target.to_string(), record.id);
        self.write_tags(&tags)
    }

    /// Removes a name, or an image with all its names (`force` is needed when an id names an
    /// image with several names), like `docker image rm`. Layers and blobs no other image uses
    /// are deleted. Whether a container still uses the image is the caller's to check.
    pub fn remove(&self, input: &str, force: bool) -> Result<Vec<RemoveEvent>, ImageError> {
        let _lock = self.lock()?;
        let mut tags = self.read_tags()?;
        let record = self.find(input, &tags)?;
        let names = Self::tags_of(&tags, &record.id);
        let mut events = Vec::new();
        // By name (not by id or digest): untag only, unless it was the last name.
        let by_name = Reference::parse(input)
            .ok()
            .filter(|r| r.digest().is_none() && tags.contains_key(&r.to_string()));
        if let Some(r) = by_name {
            tags.remove(&r.to_string());
            events.push(RemoveEvent::Untagged(r.familiar()));
            if names.len() > 1 {
                self.write_tags(&tags)?;
                return Ok(events);
            }
        } else {
            if names.len() > 1 && !force {
                return Err(ImageError::Conflict(format!(
                    "unable to delete {} (must be forced) - image is referenced in multiple \
                     repositories",
                    &hex_of(&record.id)[..12]
                )));
            }
            for r in &names {
                tags.remove(&r.to_string());
                events.push(RemoveEvent::Untagged(r.familiar()));
            }
        }
        self.write_tags(&tags)?;
        let path = self.record_path(&record.id);
        fs::remove_file(&path).map_err(io_ctx("removing", &path))?;
        events.push(RemoveEvent::Deleted(record.id.clone()));
        for diff_id in self.collect_garbage(None)? {
            events.push(RemoveEvent::Deleted(diff_id));
        }
        Ok(events)
    }

    /// Deletes the layers and blobs no image record refers to; returns the diff ids of the
    /// deleted layers. With `only_blobs`, only those blobs are considered (after a load, the
    /// staged files the archive carried but no image uses). Call with the lock held.
    pub(crate) fn collect_garbage(
        &self,
        only_blobs: Option<&BTreeSet<String>>,
    ) -> Result<Vec<String>, ImageError> {
        let records = self.records()?;
        let mut blobs = BTreeSet::new();
        let mut layers = BTreeSet::new();
        for r in &records {
            blobs.insert(hex_of(&r.manifest.digest).to_string());
            blobs.insert(hex_of(&r.config.digest).to_string());
            for l in &r.layers {
                blobs.insert(hex_of(&l.blob.digest).to_string());
                layers.insert(l.dir.clone());
            }
        }
        let blob_dir = self.dir.blobs();
        let candidates: Vec<String> = match only_blobs {
            Some(set) => set.iter().map(|d| hex_of(d).to_string()).collect(),
            None => fs::read_dir(&blob_dir)
                .map_err(io_ctx("listing", &blob_dir))?
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect(),
        };
        for hex in candidates {
            if !blobs.contains(&hex) {
                let p = blob_dir.join(&hex);
                match fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_ctx("removing", &p)(e)),
                }
            }
        }
        let mut deleted = Vec::new();
        if only_blobs.is_some() {
            return Ok(deleted);
        }
        let ldir = self.dir.layers();
        for entry in fs::read_dir(&ldir)
            .map_err(io_ctx("listing", &ldir))?
            .flatten()
        {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if ImageDir::json_stem(&name).is_some() || layers.contains(&name) {
                continue;
            }
            let marker = self.dir.layer_marker(&name);
            if let Ok(data) = fs::read(&marker) {
                if let Ok(m) = serde_json::from_slice::<LayerMarker>(&data) {
                    deleted.push(m.diff_id);
                }
            }
            // Marker first: a crash in between leaves an incomplete dir, which the next load
            // redoes, never a marker without its dir.
            let _ = fs::remove_file(&marker);
            let p = entry.path();
            fs::remove_dir_all(&p).map_err(io_ctx("removing", &p))?;
        }
        Ok(deleted)
    }

    /// The directory name and size of the layer `diff_id` when it is unpacked and complete.
    /// Call with the lock held (an incomplete left-over is removed).
    pub(crate) fn existing_layer(
        &self,
        diff_id: &str,
    ) -> Result<Option<(String, u64)>, ImageError> {
        // Its first 12 hex digits name a directory: anything but `sha256:<64 lowercase hex>`
        // (`sha256:../../x…` from a hostile config) is refused before a path is built from it.
        if super::reference::validate_digest(diff_id).is_err() {
            return Err(ImageError::InvalidArchive(format!(
                "unsupported diff id {diff_id:?}"
            )));
        }
        let hex = hex_of(diff_id);
        let name = hex[..12].to_string();
        let marker = self.dir.layer_marker(&name);
        let dir = self.dir.layer(&name);
        if let Ok(data) = fs::read(&marker) {
            let m: LayerMarker =
                serde_json::from_slice(&data).map_err(|source| ImageError::Json {
                    what: marker.display().to_string(),
                    source,
                })?;
            if m.diff_id != diff_id {
                return Err(ImageError::Corrupt(format!(
                    "layers {} and {diff_id} share the directory {name}",
                    m.diff_id
                )));
            }
            if dir.is_dir() {
                return Ok(Some((name, m.size)));
            }
            let _ = fs::remove_file(&marker);
        }
        if dir.exists() {
            // Unpacked by a writer that died before writing the marker.
            fs::remove_dir_all(&dir).map_err(io_ctx("removing", &dir))?;
        }
        Ok(None)
    }

    /// Makes sure the layer `diff_id` is unpacked (from the blob `blob`); returns its
    /// directory name and size. Call with the lock held.
    pub(crate) fn ensure_layer(
        &self,
        diff_id: &str,
        blob: &str,
    ) -> Result<(String, u64), ImageError> {
        if let Some(found) = self.existing_layer(diff_id)? {
            return Ok(found);
        }
        let tmp = self.tmp_dir().join(fsutil::unique_name("layer-"));
        fs::create_dir(&tmp).map_err(io_ctx("creating", &tmp))?;
        let size = match self.unpack_blob(diff_id, blob, &tmp) {
            Ok(size) => size,
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        self.install_layer(&tmp, diff_id, size)
    }

    /// Moves a fully unpacked layer from `tmp` into place and marks it complete.
    pub(crate) fn install_layer(
        &self,
        tmp: &Path,
        diff_id: &str,
        size: u64,
    ) -> Result<(String, u64), ImageError> {
        if super::reference::validate_digest(diff_id).is_err() {
            return Err(ImageError::InvalidArchive(format!(
                "unsupported diff id {diff_id:?}"
            )));
        }
        let name = hex_of(diff_id)[..12].to_string();
        let marker = self.dir.layer_marker(&name);
        let dir = self.dir.layer(&name);
        // One syncfs makes the whole tree durable before the marker says it is complete.
        let f = File::open(tmp).map_err(io_ctx("opening", tmp))?;
        rustix::fs::syncfs(&f).map_err(|e| io_ctx("syncing", tmp)(e.into()))?;
        fs::rename(tmp, &dir).map_err(io_ctx("renaming into place", &dir))?;
        let data = serde_json::to_vec(&LayerMarker {
            diff_id: diff_id.to_string(),
            size,
        })
        .map_err(|source| ImageError::Json {
            what: marker.display().to_string(),
            source,
        })?;
        fsutil::write_atomic(&marker, &data).map_err(io_ctx("writing", &marker))?;
        Ok((name, size))
    }

    fn unpack_blob(&self, diff_id: &str, blob: &str, dest: &Path) -> Result<u64, ImageError> {
        let path = self.blob_path(blob);
        let file = File::open(&path).map_err(io_ctx("opening layer blob", &path))?;
        let layer_err = |source| ImageError::Layer {
            diff_id: diff_id.to_string(),
            source,
        };
        let reader =
            layer::decompress(BufReader::with_capacity(256 * 1024, file)).map_err(layer_err)?;
        let mut hashing = HashingReader::new(reader);
        let stats =
            layer::unpack(&mut hashing, dest, &UnpackOptions::default()).map_err(layer_err)?;
        let (actual, _) = hashing
            .finish()
            .map_err(|e| layer_err(LayerError::Tar(e)))?;
        if actual != diff_id {
            return Err(ImageError::DigestMismatch {
                what: format!("uncompressed layer {blob}"),
                expected: diff_id.to_string(),
                actual,
            });
        }
        Ok(stats.size)
    }

    /// Writes `data` as a blob (when not already there); returns its digest.
    pub(crate) fn put_blob(&self, data: &[u8]) -> Result<String, ImageError> {
        let digest = fsutil::sha256_digest(data);
        let path = self.blob_path(&digest);
        if !path.exists() {
            fsutil::write_atomic(&path, data).map_err(io_ctx("writing", &path))?;
        }
        Ok(digest)
    }

    /// Streams `reader` into the blob store, verifying `expected` when given; returns the
    /// digest, size, and whether the blob is new. The data is fsynced before the rename.
    pub(crate) fn stream_blob<R: Read>(
        &self,
        reader: R,
        expected: Option<&str>,
        what: &str,
    ) -> Result<(String, u64, bool), ImageError> {
        let tmp = self.tmp_dir().join(fsutil::unique_name("blob-"));
        let result = (|| {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(crate::engine::root::PRIVATE_FILE)
                .open(&tmp)
                .map_err(io_ctx("creating", &tmp))?;
            let mut hashing = HashingReader::new(reader);
            io::copy(&mut hashing, &mut file).map_err(io_ctx("writing", &tmp))?;
            let (digest, size) = hashing.finish().map_err(io_ctx("writing", &tmp))?;
            if let Some(expected) = expected {
                if expected != digest {
                    return Err(ImageError::DigestMismatch {
                        what: what.to_string(),
                        expected: expected.to_string(),
                        actual: digest,
                    });
                }
            }
            file.flush().map_err(io_ctx("writing", &tmp))?;
            file.sync_all().map_err(io_ctx("syncing", &tmp))?;
            let dest = self.blob_path(&digest);
            if dest.exists() {
                let _ = fs::remove_file(&tmp);
                return Ok((digest, size, false));
            }
            fs::rename(&tmp, &dest).map_err(io_ctx("renaming into place", &dest))?;
            Ok((digest, size, true))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
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
