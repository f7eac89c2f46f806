//! Image archives in and out of the store: `load` reads an OCI image-layout tar or a
//! docker-archive tar (the two formats `docker save` has written), `save` writes an OCI layout
//! that also carries Docker's `manifest.json`, like Docker ≥ 25 does.
//!
//! Loading streams the archive once (it may be stdin): every file goes straight into the blob
//! store under its sha256, verified against its name when the name is `blobs/sha256/<hex>`;
//! archive paths are only ever used as keys, never as filesystem paths. The small index files
//! are kept in memory. Then manifests and configs are read from the store, layers unpacked, and
//! the image records and tags committed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufReader, Read, Write};

use oci_spec::image::ImageConfiguration;
use serde::Deserialize;
use serde_json::{json, Value};

use super::layer::Compression;
use super::reference::Reference;
use super::store::{
    io_ctx, BlobRef, ImageError, ImageRecord, ImageStore, LayerRef, LoadedImage,
    ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME, MEDIA_TYPE_CONFIG, MEDIA_TYPE_INDEX,
    MEDIA_TYPE_MANIFEST,
};
use crate::engine::fsutil;

/// Index files read into memory rather than stored as blobs.
const SMALL_FILES: [&str; 4] = ["index.json", "manifest.json", "oci-layout", "repositories"];
const SMALL_MAX: u64 = 16 << 20;

fn invalid(msg: impl Into<String>) -> ImageError {
    ImageError::InvalidArchive(msg.into())
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, data: &[u8]) -> Result<T, ImageError> {
    serde_json::from_slice(data).map_err(|source| ImageError::Json {
        what: what.to_string(),
        source,
    })
}

/// Normalizes an archive path (`./a//b/` -> `a/b`); `None` for paths that leave the archive.
fn clean(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// The archive's files, as blobs in the store.
#[derive(Default)]
struct Staged {
    /// Archive path -> (digest, size).
    files: BTreeMap<String, (String, u64)>,
    /// Archive path -> target path (symlinks and hard links, used by old docker archives to
    /// share a layer between images).
    links: BTreeMap<String, String>,
    small: BTreeMap<String, Vec<u8>>,
    /// Blobs this load created (garbage-collected when no image ends up using them).
    created: BTreeSet<String>,
}

impl Staged {
    fn lookup(&self, path: &str) -> Option<&(String, u64)> {
        let mut p = clean(path)?;
        for _ in 0..16 {
            if let Some(f) = self.files.get(&p) {
                return Some(f);
            }
            p = self.links.get(&p)?.clone();
        }
        None
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Manifest {
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

/// GOARCH of this machine.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn is_index_type(media_type: &str) -> bool {
    media_type == MEDIA_TYPE_INDEX
        || media_type == "application/vnd.docker.distribution.manifest.list.v2+json"
}

/// One image to import: its manifest (stored or synthesized) and names.
struct Candidate {
    manifest_digest: String,
    manifest_size: u64,
    manifest_media_type: String,
    names: Vec<Reference>,
}

impl ImageStore {
    /// Imports every image of an OCI image-layout tar or a docker-archive tar.
    pub fn load_archive<R: Read>(&self, reader: R) -> Result<Vec<LoadedImage>, ImageError> {
        let _lock = self.lock()?;
        tracing::debug!("image store: loading an archive");
        let mut staged = Staged::default();
        let result = self.stage(reader, &mut staged).and_then(|()| {
            crate::engine::fault::point("image.load.after-blobs");
            let candidates = if staged.small.contains_key("index.json") {
                self.oci_candidates(&staged)?
            } else if staged.small.contains_key("manifest.json") {
                self.docker_candidates(&mut staged)?
            } else {
                return Err(invalid(
                    "neither index.json (OCI image layout) nor manifest.json (docker archive) \
                     found",
                ));
            };
            if candidates.is_empty() {
                return Err(invalid("the archive holds no image"));
            }
            let mut tags = self.read_tags()?;
            let mut loaded = Vec::new();
            for c in candidates {
                let record = self.import(&c)?;
                crate::engine::fault::point("image.load.after-import");
                self.commit(&record, &c.names, &mut tags)?;
                crate::engine::fault::point("image.load.after-commit");
                loaded.push(LoadedImage {
                    id: record.id,
                    names: c.names,
                });
            }
            self.write_tags(&tags)?;
            crate::engine::fault::point("image.load.after-tags");
            Ok(loaded)
        });
        // Blobs the archive carried that no image uses (legacy v1 json files, other
        // platforms, or everything when the load failed).
        let _ = self.collect_garbage(Some(&staged.created));
        result
    }

    fn stage<R: Read>(&self, reader: R, staged: &mut Staged) -> Result<(), ImageError> {
        let mut archive = tar::Archive::new(reader);
        let tar_err = |e: io::Error| invalid(format!("reading the tar stream: {e}"));
        for entry in archive.entries().map_err(tar_err)? {
            let mut entry = entry.map_err(tar_err)?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let Some(path) = clean(&raw) else {
                return Err(invalid(format!("entry {raw:?} leaves the archive")));
            };
            let kind = entry.header().entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                let joined = if kind.is_symlink() && !target.starts_with('/') {
                    match path.rsplit_once('/') {
                        Some((dir, _)) => format!("{dir}/{target}"),
                        None => target,
                    }
                } else {
                    target
                };
                if let Some(t) = clean(&joined) {
                    staged.links.insert(path, t);
                }
                continue;
            }
            if !kind.is_file() && kind != tar::EntryType::Continuous {
                continue;
            }
            if SMALL_FILES.contains(&path.as_str()) && entry.size() <= SMALL_MAX {
                let mut data = Vec::new();
                entry
                    .read_to_end(&mut data)
                    .map_err(|e| invalid(format!("reading {path}: {e}")))?;
                staged.small.insert(path, data);
                continue;
            }
            let expected = path
                .strip_prefix("blobs/sha256/")
                .filter(|h| h.len() == 64 && !h.contains('/'))
                .map(|h| format!("sha256:{h}"));
            let (digest, size, created) =
                self.stream_blob(&mut entry, expected.as_deref(), &path)?;
            if created {
                staged.created.insert(digest.clone());
            }
            staged.files.insert(path, (digest, size));
        }
        Ok(())
    }

    /// The blob a descriptor names, from the archive or already in the store.
    fn check_blob(&self, d: &Descriptor, what: &str) -> Result<(), ImageError> {
        super::reference::validate_digest(&d.digest)
            .map_err(|_| invalid(format!("{what}: unsupported digest {:?}", d.digest)))?;
        // Everything the archive carried is in the store by now; a blob the archive lacks
        // may still be there from an earlier load.
        let path = self.blob_path(&d.digest);
        if !path.exists() {
            return Err(invalid(format!("{what} {} is missing", d.digest)));
        }
        let size = std::fs::metadata(&path)
            .map_err(io_ctx("stat", &path))?
            .len();
        if size != d.size {
            return Err(invalid(format!(
                "{what} {}: size {} in the descriptor, {size} in the archive",
                d.digest, d.size
            )));
        }
        Ok(())
    }

    fn oci_candidates(&self, staged: &Staged) -> Result<Vec<Candidate>, ImageError> {
        let index: Index = parse_json("index.json", &staged.small["index.json"])?;
        let mut manifests: Vec<&Descriptor> = index.manifests.iter().collect();
        // A flat multi-platform index: keep this machine's platform when it is there.
        let host = |d: &&Descriptor| {
            d.platform
                .as_ref()
                .is_none_or(|p| p.os == "linux" && p.architecture == host_arch())
        };
        if manifests.iter().any(|d| d.platform.is_some()) && manifests.iter().any(host) {
            manifests.retain(host);
        }
        let mut out: Vec<Candidate> = Vec::new();
        for d in manifests {
            let mut names = Vec::new();
            if let Some(n) = d.annotations.get(ANNOTATION_CONTAINERD_NAME) {
                names.push(Reference::parse(n)?);
            } else if let Some(n) = d.annotations.get(ANNOTATION_REF_NAME) {
                // OCI allows a bare tag here; only a full name can name the image.
                if n.contains(['/', ':', '@']) {
                    if let Ok(r) = Reference::parse(n) {
                        names.push(r);
                    }
                }
            }
            let (digest, size, media_type) = self.pick_manifest(d, 0)?;
            match out.iter_mut().find(|c| c.manifest_digest == digest) {
                Some(c) => {
                    for n in names {
                        if !c.names.contains(&n) {
                            c.names.push(n);
                        }
                    }
                }
                None => out.push(Candidate {
                    manifest_digest: digest,
                    manifest_size: size,
                    manifest_media_type: media_type,
                    names,
                }),
            }
        }
        Ok(out)
    }

    /// Follows nested indexes down to the manifest for this platform.
    fn pick_manifest(
        &self,
        d: &Descriptor,
        depth: usize,
    ) -> Result<(String, u64, String), ImageError> {
        if depth > 4 {
            return Err(invalid("image indexes nested too deeply"));
        }
        self.check_blob(d, "manifest")?;
        if !is_index_type(&d.media_type) {
            let media_type = if d.media_type.is_empty() {
                MEDIA_TYPE_MANIFEST.to_string()
            } else {
                d.media_type.clone()
            };
            return Ok((d.digest.clone(), d.size, media_type));
        }
        let index: Index = parse_json(&d.digest, &self.read_blob(&d.digest)?)?;
        let usable = |m: &&Descriptor| {
            m.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == host_arch())
                && self.check_blob(m, "manifest").is_ok()
        };
        let chosen = index.manifests.iter().find(usable).ok_or_else(|| {
            invalid(format!(
                "index {} has no manifest for linux/{} in the archive",
                d.digest,
                host_arch()
            ))
        })?;
        self.pick_manifest(chosen, depth + 1)
    }

    fn docker_candidates(&self, staged: &mut Staged) -> Result<Vec<Candidate>, ImageError> {
        let entries: Vec<DockerManifestEntry> =
            parse_json("manifest.json", &staged.small["manifest.json"])?;
        let mut out = Vec::new();
        for e in entries {
            let (config_digest, config_size) = staged
                .lookup(&e.config)
                .cloned()
                .ok_or_else(|| invalid(format!("config {:?} is missing", e.config)))?;
            let mut layers = Vec::new();
            for l in &e.layers {
                let (digest, size) = staged
                    .lookup(l)
                    .cloned()
                    .ok_or_else(|| invalid(format!("layer {l:?} is missing")))?;
                let path = self.blob_path(&digest);
                let mut head = [0u8; 8];
                let n = File::open(&path)
                    .and_then(|mut f| f.read(&mut head))
                    .map_err(io_ctx("reading", &path))?;
                let compression =
                    Compression::detect(&head[..n]).map_err(|source| ImageError::Layer {
                        diff_id: l.clone(),
                        source,
                    })?;
                layers.push(json!({
                    "mediaType": compression.media_type(),
                    "digest": digest,
                    "size": size,
                }));
            }
            // Synthesize the OCI manifest Docker would have: `save` writes it back out.
            let manifest = json!({
                "schemaVersion": 2,
                "mediaType": MEDIA_TYPE_MANIFEST,
                "config": {
                    "mediaType": MEDIA_TYPE_CONFIG,
                    "digest": config_digest,
                    "size": config_size,
                },
                "layers": layers,
            });
            let data = serde_json::to_vec(&manifest).map_err(|source| ImageError::Json {
                what: "synthesized manifest".into(),
                source,
            })?;
            let existed = self.blob_path(&fsutil::sha256_digest(&data)).exists();
            let digest = self.put_blob(&data)?;
            if !existed {
                staged.created.insert(digest.clone());
            }
            let mut names = Vec::new();
            for t in e.repo_tags.unwrap_or_default() {
                names.push(Reference::parse(&t)?);
            }
            out.push(Candidate {
                manifest_digest: digest,
                manifest_size: data.len() as u64,
                manifest_media_type: MEDIA_TYPE_MANIFEST.into(),
                names,
            });
        }
        Ok(out)
    }

    fn import(&self, c: &Candidate) -> Result<ImageRecord, ImageError> {
        let manifest: Manifest =
            parse_json(&c.manifest_digest, &self.read_blob(&c.manifest_digest)?)?;
        self.check_blob(&manifest.config, "config")?;
        let config_data = self.read_blob(&manifest.config.digest)?;
        let config: ImageConfiguration = parse_json(&manifest.config.digest, &config_data)?;
        let diff_ids = config.rootfs().diff_ids();
        if diff_ids.len() != manifest.layers.len() {
            return Err(invalid(format!(
                "image {}: {} layers in the manifest but {} diff ids in the config",
                manifest.config.digest,
                manifest.layers.len(),
                diff_ids.len()
            )));
        }
        let mut layers = Vec::new();
        let mut size = 0;
        for (d, diff_id) in manifest.layers.iter().zip(diff_ids) {
            self.check_blob(d, "layer")?;
            let (dir, layer_size) = self.ensure_layer(diff_id, &d.digest)?;
            size += layer_size;
            layers.push(LayerRef {
                diff_id: diff_id.clone(),
                blob: BlobRef {
                    media_type: d.media_type.clone(),
                    digest: d.digest.clone(),
                    size: d.size,
                },
                dir,
            });
        }
        Ok(ImageRecord {
            id: manifest.config.digest.clone(),
            manifest: BlobRef {
                media_type: c.manifest_media_type.clone(),
                digest: c.manifest_digest.clone(),
                size: c.manifest_size,
            },
            config: BlobRef {
                media_type: if manifest.config.media_type.is_empty() {
                    MEDIA_TYPE_CONFIG.into()
                } else {
                    manifest.config.media_type.clone()
                },
                digest: manifest.config.digest.clone(),
                size: manifest.config.size,
            },
            layers,
            size,
            loaded_at: fsutil::format_rfc3339(fsutil::now_secs()),
        })
    }

    /// Writes the named images as an OCI image-layout tar with Docker's `manifest.json` too.
    /// An image named by a reference is saved with that name; one named by id, without names
    /// (as Docker does).
    pub fn save<W: Write>(&self, inputs: &[String], writer: W) -> Result<(), ImageError> {
        let tags = self.read_tags()?;
        // (record, names), one per image, in the order first named.
        let mut images: Vec<(ImageRecord, Vec<Reference>)> = Vec::new();
        for input in inputs {
            let record = self.find(input, &tags)?;
            let name = Reference::parse(input)
                .ok()
                .filter(|r| tags.get(&r.to_string()) == Some(&record.id));
            match images.iter_mut().find(|(r, _)| r.id == record.id) {
                Some((_, names)) => names.extend(name.filter(|n| !names.contains(n))),
                None => images.push((record, name.into_iter().collect())),
            }
        }
        let mut tar = tar::Builder::new(writer);
        let werr = |e: io::Error| ImageError::Io {
            op: "writing the archive",
            path: "-".into(),
            source: e,
        };
        let header = |path: &str, size: u64, dir: bool| {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(if dir {
                tar::EntryType::Directory
            } else {
                tar::EntryType::Regular
            });
            h.set_mode(if dir { 0o755 } else { 0o644 });
            h.set_size(size);
            h.set_mtime(0);
            h.set_uid(0);
            h.set_gid(0);
            let _ = h.set_path(path);
            h.set_cksum();
            h
        };
        tar.append(&header("blobs/", 0, true), io::empty())
            .map_err(werr)?;
        tar.append(&header("blobs/sha256/", 0, true), io::empty())
            .map_err(werr)?;
        let mut written = BTreeSet::new();
        let mut index_entries = Vec::new();
        let mut docker_manifest = Vec::new();
        for (record, names) in &images {
            let mut blobs = vec![&record.config, &record.manifest];
            blobs.extend(record.layers.iter().map(|l| &l.blob));
            for b in blobs {
                if !written.insert(b.digest.clone()) {
                    continue;
                }
                let path = self.blob_path(&b.digest);
                let f = File::open(&path).map_err(io_ctx("opening blob", &path))?;
                let size = f.metadata().map_err(io_ctx("stat", &path))?.len();
                let name = format!("blobs/sha256/{}", &b.digest[7..]);
                tar.append(&header(&name, size, false), BufReader::new(f))
                    .map_err(werr)?;
            }
            let descriptor = |annotations: Option<Value>| {
                let mut d = json!({
                    "mediaType": record.manifest.media_type,
                    "digest": record.manifest.digest,
                    "size": record.manifest.size,
                });
                if let Some(a) = annotations {
                    d["annotations"] = a;
                }
                d
            };
            if names.is_empty() {
                index_entries.push(descriptor(None));
            }
            for n in names {
                let mut a = serde_json::Map::new();
                a.insert(ANNOTATION_CONTAINERD_NAME.into(), json!(n.to_string()));
                if let Some(tag) = n.tag() {
                    a.insert(ANNOTATION_REF_NAME.into(), json!(tag));
                }
                index_entries.push(descriptor(Some(Value::Object(a))));
            }
            docker_manifest.push(json!({
                "Config": format!("blobs/sha256/{}", &record.config.digest[7..]),
                "RepoTags": if names.is_empty() {
                    Value::Null
                } else {
                    json!(names.iter().filter(|n| n.tag().is_some()).map(Reference::familiar).collect::<Vec<_>>())
                },
                "Layers": record.layers.iter().map(|l| format!("blobs/sha256/{}", &l.blob.digest[7..])).collect::<Vec<_>>(),
            }));
        }
        let index = json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_INDEX,
            "manifests": index_entries,
        });
        let small: [(&str, Value); 3] = [
            ("index.json", index),
            ("manifest.json", Value::Array(docker_manifest)),
            ("oci-layout", json!({ "imageLayoutVersion": "1.0.0" })),
        ];
        for (name, value) in small {
            let data = serde_json::to_vec(&value).map_err(|source| ImageError::Json {
                what: name.into(),
                source,
            })?;
            tar.append(&header(name, data.len() as u64, false), &data[..])
                .map_err(werr)?;
        }
        tar.into_inner().map_err(werr)?.flush().map_err(werr)?;
        Ok(())
    }
}
