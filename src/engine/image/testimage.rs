//! Test images made without a registry: a minimal root filesystem around Debian's
//! busybox-static (`/bin/busybox` plus applet symlinks, `/etc/passwd` with `root` and `app`
//! (1000), `/etc/group`, `/tmp`), written as an OCI image-layout tar or a docker-archive tar,
//! with plain, gzip or zstd layers, optionally as two layers where the second one deletes a file
//! (whiteout) and replaces a directory's content (opaque directory).
//!
//! Always compiled: the tests use it, and so do the examples that need an image offline. The
//! output is deterministic (fixed times, sorted entries): the same options give the same image id.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::archive::host_arch;
use super::layer::Compression;
use super::reference::Reference;
use super::store::{
    ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME, MEDIA_TYPE_CONFIG, MEDIA_TYPE_INDEX,
    MEDIA_TYPE_MANIFEST,
};
use crate::engine::fsutil::sha256_digest;

/// Where Debian's busybox-static installs the binary.
pub const BUSYBOX: &str = "/bin/busybox";
/// Applets linked in /bin.
pub const APPLETS: &[&str] = &[
    "sh", "true", "false", "sleep", "cat", "echo", "id", "ls", "ps", "mount", "hostname", "env",
    "nc", "httpd", "wget", "touch", "mkdir", "rm", "yes", "head", "dd", "grep", "stat", "kill",
    "top", "nslookup", "ping", "ip", "sed", "wc", "seq", "timeout", "date", "tr", "cut",
];
/// In the first layer, deleted by the second one (a `.wh.` whiteout).
pub const LAYER2_REMOVED: &str = "etc/removed-in-layer2";
/// Added by the second layer.
pub const LAYER2_ADDED: &str = "etc/added-in-layer2";
/// A directory the second layer makes opaque: `old` (layer 1) is hidden, `new` (layer 2) shown.
pub const OPAQUE_DIR: &str = "opt/data";
/// Time of every entry and of the config's `created`: 2024-01-01T00:00:00Z.
pub const CREATED: &str = "2024-01-01T00:00:00Z";
const MTIME: u64 = 1_704_067_200;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
app:x:1000:1000:app:/home/app:/bin/sh\n\
nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\n\
wheel:x:10:root,app\n\
users:x:100:app\n\
app:x:1000:\n\
audio:x:29:app\n\
nogroup:x:65534:\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`).
    Oci,
    /// `docker save` before Docker 25 (`manifest.json`, `repositories`, `<id>/layer.tar`).
    Docker,
}

/// What to build. `Default` is `busybox:latest`, one plain layer, `Cmd ["sh"]`.
#[derive(Debug, Clone)]
pub struct TestImage {
    pub name: String,
    pub compression: Compression,
    pub two_layers: bool,
    pub env: Vec<String>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub exposed_ports: Vec<String>,
    pub volumes: Vec<String>,
    pub stop_signal: Option<String>,
    /// Docker's `Healthcheck` object (`{"Test": ["CMD", …], "Interval": ns, …}`).
    pub healthcheck: Option<Value>,
    /// Uncompressed layer tars stacked on the generated ones, as they are (tests craft
    /// hostile layers with it).
    pub extra_layers: Vec<Vec<u8>>,
}

impl Default for TestImage {
    fn default() -> Self {
        TestImage {
            name: "busybox:latest".into(),
            compression: Compression::None,
            two_layers: false,
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            cmd: Some(vec!["sh".into()]),
            entrypoint: None,
            working_dir: None,
            user: None,
            labels: BTreeMap::new(),
            exposed_ports: Vec::new(),
            volumes: Vec::new(),
            stop_signal: None,
            healthcheck: None,
            extra_layers: Vec::new(),
        }
    }
}

fn other(msg: String) -> io::Error {
    io::Error::other(msg)
}

/// A tar under construction with fixed times.
struct TarWriter(tar::Builder<Vec<u8>>);

impl TarWriter {
    fn new() -> Self {
        TarWriter(tar::Builder::new(Vec::new()))
    }

    fn header(kind: tar::EntryType, mode: u32, uid: u64, size: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(uid);
        h.set_mtime(MTIME);
        h.set_size(size);
        h
    }

    fn dir(&mut self, path: &str, mode: u32, uid: u64) -> io::Result<()> {
        let mut h = Self::header(tar::EntryType::Directory, mode, uid, 0);
        self.0.append_data(&mut h, path, io::empty())
    }

    fn file(&mut self, path: &str, mode: u32, data: &[u8]) -> io::Result<()> {
        let mut h = Self::header(tar::EntryType::Regular, mode, 0, data.len() as u64);
        self.0.append_data(&mut h, path, data)
    }

    fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0, 0);
        self.0.append_link(&mut h, path, target)
    }

    fn finish(self) -> io::Result<Vec<u8>> {
        self.0.into_inner()
    }
}

fn compress(data: &[u8], compression: Compression) -> io::Result<Vec<u8>> {
    match compression {
        Compression::None => Ok(data.to_vec()),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(data)?;
            enc.finish()
        }
        Compression::Zstd => zstd::encode_all(data, 3),
    }
}

/// Each layer: (uncompressed tar, blob as stored).
struct Built {
    layers: Vec<(Vec<u8>, Vec<u8>)>,
    config: Vec<u8>,
    reference: Reference,
}

impl TestImage {
    fn base_layer(&self) -> io::Result<Vec<u8>> {
        let busybox = std::fs::read(BUSYBOX).map_err(|e| {
            other(format!(
                "reading {BUSYBOX} (install Debian's busybox-static): {e}"
            ))
        })?;
        let mut t = TarWriter::new();
        for (dir, mode, uid) in [
            ("bin", 0o755, 0),
            ("dev", 0o755, 0),
            ("etc", 0o755, 0),
            ("home", 0o755, 0),
            ("home/app", 0o755, 1000),
            ("opt", 0o755, 0),
            ("proc", 0o555, 0),
            ("root", 0o700, 0),
            ("sys", 0o555, 0),
            ("tmp", 0o1777, 0),
            ("usr", 0o755, 0),
            ("usr/bin", 0o755, 0),
            ("var", 0o755, 0),
        ] {
            t.dir(dir, mode, uid)?;
        }
        t.file("bin/busybox", 0o755, &busybox)?;
        for applet in APPLETS {
            t.symlink(&format!("bin/{applet}"), "busybox")?;
        }
        t.file("etc/group", 0o644, GROUP.as_bytes())?;
        t.file("etc/passwd", 0o644, PASSWD.as_bytes())?;
        if self.two_layers {
            t.file(LAYER2_REMOVED, 0o644, b"deleted by layer 2\n")?;
            t.dir(OPAQUE_DIR, 0o755, 0)?;
            t.file(&format!("{OPAQUE_DIR}/old"), 0o644, b"old\n")?;
        }
        t.finish()
    }

    fn second_layer(&self) -> io::Result<Vec<u8>> {
        let mut t = TarWriter::new();
        t.dir("etc", 0o755, 0)?;
        t.file(LAYER2_ADDED, 0o644, b"added by layer 2\n")?;
        let (dir, name) = LAYER2_REMOVED
            .rsplit_once('/')
            .ok_or_else(|| other("bad constant".into()))?;
        t.file(&format!("{dir}/.wh.{name}"), 0o644, b"")?;
        t.dir("opt", 0o755, 0)?;
        t.dir(OPAQUE_DIR, 0o755, 0)?;
        t.file(&format!("{OPAQUE_DIR}/.wh..wh..opq"), 0o644, b"")?;
        t.file(&format!("{OPAQUE_DIR}/new"), 0o644, b"new\n")?;
        t.finish()
    }

    fn build(&self) -> io::Result<Built> {
        let reference = Reference::parse(&self.name)
            .map_err(|e| other(format!("test image name {:?}: {e}", self.name)))?;
        let mut tars = vec![self.base_layer()?];
        if self.two_layers {
            tars.push(self.second_layer()?);
        }
        tars.extend(self.extra_layers.iter().cloned());
        let mut layers = Vec::new();
        for t in tars {
            let blob = compress(&t, self.compression)?;
            layers.push((t, blob));
        }
        let mut config = serde_json::Map::new();
        config.insert("Env".into(), json!(self.env));
        config.insert("Cmd".into(), json!(self.cmd));
        config.insert("Entrypoint".into(), json!(self.entrypoint));
        if let Some(w) = &self.working_dir {
            config.insert("WorkingDir".into(), json!(w));
        }
        if let Some(u) = &self.user {
            config.insert("User".into(), json!(u));
        }
        if !self.labels.is_empty() {
            config.insert("Labels".into(), json!(self.labels));
        }
        let set = |items: &[String]| {
            Value::Object(items.iter().map(|p| (p.clone(), json!({}))).collect())
        };
        if !self.exposed_ports.is_empty() {
            config.insert("ExposedPorts".into(), set(&self.exposed_ports));
        }
        if !self.volumes.is_empty() {
            config.insert("Volumes".into(), set(&self.volumes));
        }
        if let Some(s) = &self.stop_signal {
            config.insert("StopSignal".into(), json!(s));
        }
        if let Some(h) = &self.healthcheck {
            config.insert("Healthcheck".into(), h.clone());
        }
        let diff_ids: Vec<String> = layers.iter().map(|(t, _)| sha256_digest(t)).collect();
        let history: Vec<Value> = layers
            .iter()
            .map(|_| json!({ "created": CREATED, "created_by": "compose testimage" }))
            .collect();
        let config = json!({
            "architecture": host_arch(),
            "os": "linux",
            "created": CREATED,
            "config": Value::Object(config),
            "rootfs": { "type": "layers", "diff_ids": diff_ids },
            "history": history,
        });
        let config = serde_json::to_vec(&config).map_err(|e| other(e.to_string()))?;
        Ok(Built {
            layers,
            config,
            reference,
        })
    }

    /// The archive's bytes.
    pub fn archive(&self, format: ArchiveFormat) -> io::Result<Vec<u8>> {
        let built = self.build()?;
        let mut out = tar::Builder::new(Vec::new());
        let mut add = |path: &str, data: &[u8]| {
            let mut h = TarWriter::header(tar::EntryType::Regular, 0o644, 0, data.len() as u64);
            out.append_data(&mut h, path, data)
        };
        let config_digest = sha256_digest(&built.config);
        match format {
            ArchiveFormat::Oci => {
                let layers: Vec<Value> = built
                    .layers
                    .iter()
                    .map(|(_, blob)| {
                        json!({
                            "mediaType": self.compression.media_type(),
                            "digest": sha256_digest(blob),
                            "size": blob.len(),
                        })
                    })
                    .collect();
                let manifest = json!({
                    "schemaVersion": 2,
                    "mediaType": MEDIA_TYPE_MANIFEST,
                    "config": {
                        "mediaType": MEDIA_TYPE_CONFIG,
                        "digest": config_digest,
                        "size": built.config.len(),
                    },
                    "layers": layers,
                });
                let manifest = serde_json::to_vec(&manifest).map_err(|e| other(e.to_string()))?;
                let mut annotations = serde_json::Map::new();
                annotations.insert(
                    ANNOTATION_CONTAINERD_NAME.into(),
                    json!(built.reference.to_string()),
                );
                if let Some(tag) = built.reference.tag() {
                    annotations.insert(ANNOTATION_REF_NAME.into(), json!(tag));
                }
                let index = json!({
                    "schemaVersion": 2,
                    "mediaType": MEDIA_TYPE_INDEX,
                    "manifests": [{
                        "mediaType": MEDIA_TYPE_MANIFEST,
                        "digest": sha256_digest(&manifest),
                        "size": manifest.len(),
                        "annotations": annotations,
                    }],
                });
                add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
                for (_, blob) in &built.layers {
                    add(&format!("blobs/sha256/{}", &sha256_digest(blob)[7..]), blob)?;
                }
                add(
                    &format!("blobs/sha256/{}", &config_digest[7..]),
                    &built.config,
                )?;
                add(
                    &format!("blobs/sha256/{}", &sha256_digest(&manifest)[7..]),
                    &manifest,
                )?;
                let index = serde_json::to_vec(&index).map_err(|e| other(e.to_string()))?;
                add("index.json", &index)?;
            }
            ArchiveFormat::Docker => {
                let config_name = format!("{}.json", &config_digest[7..]);
                add(&config_name, &built.config)?;
                let mut layer_paths = Vec::new();
                for (_, blob) in &built.layers {
                    let id = &sha256_digest(blob)[7..];
                    add(&format!("{id}/VERSION"), b"1.0")?;
                    add(
                        &format!("{id}/json"),
                        format!(r#"{{"id":"{id}"}}"#).as_bytes(),
                    )?;
                    add(&format!("{id}/layer.tar"), blob)?;
                    layer_paths.push(format!("{id}/layer.tar"));
                }
                let manifest = json!([{
                    "Config": config_name,
                    "RepoTags": [built.reference.familiar()],
                    "Layers": layer_paths,
                }]);
                let top = layer_paths
                    .last()
                    .and_then(|p| p.split('/').next())
                    .unwrap_or_default()
                    .to_string();
                let mut tags = serde_json::Map::new();
                if let Some(tag) = built.reference.tag() {
                    tags.insert(tag.to_string(), json!(top));
                }
                let repositories = json!({ built.reference.familiar_name(): tags });
                add(
                    "manifest.json",
                    &serde_json::to_vec(&manifest).map_err(|e| other(e.to_string()))?,
                )?;
                add(
                    "repositories",
                    &serde_json::to_vec(&repositories).map_err(|e| other(e.to_string()))?,
                )?;
            }
        }
        out.into_inner()
    }

    /// Writes the archive into `dir` under a name made of the options; returns its path.
    pub fn write(&self, dir: &Path, format: ArchiveFormat) -> io::Result<PathBuf> {
        let name: String = self
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = dir.join(format!(
            "{name}-{}-{}{}.tar",
            match format {
                ArchiveFormat::Oci => "oci",
                ArchiveFormat::Docker => "docker",
            },
            match self.compression {
                Compression::None => "plain",
                Compression::Gzip => "gzip",
                Compression::Zstd => "zstd",
            },
            if self.two_layers { "-2layers" } else { "" }
        ));
        std::fs::write(&path, self.archive(format)?)?;
        Ok(path)
    }

    /// Writes both formats into `dir`: (OCI layout, docker archive).
    pub fn write_both(&self, dir: &Path) -> io::Result<(PathBuf, PathBuf)> {
        Ok((
            self.write(dir, ArchiveFormat::Oci)?,
            self.write(dir, ArchiveFormat::Docker)?,
        ))
    }

    /// The image id this image will have once loaded (its config digest).
    pub fn id(&self) -> io::Result<String> {
        Ok(sha256_digest(&self.build()?.config))
    }
}
