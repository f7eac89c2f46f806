//! A multi-platform image as an OCI archive: an image index (nested under the layout's
//! `index.json`, as `docker buildx` and skopeo write one) with one manifest per platform. Every
//! platform's image is a `TestImage` (busybox, gzip layers) plus a layer of its own holding
//! [`PLATFORM_FILE`], and a config of its own with the platform's `os`/`architecture`/`variant`
//! and the label [`PLATFORM_LABEL`]: a test tells which one a client picked from the label
//! (`image inspect`) or the file (inside a container). The busybox layer is shared, as base
//! layers of real multi-platform images are not, so a client's per-blob dedupe is exercised too.
//!
//! Layers are gzip-compressed so a push with skopeo keeps every digest (it would compress
//! plain layers on the way and change them).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use compose::engine::fsutil::sha256_digest;
use compose::engine::image::layer::Compression;
use compose::engine::image::testimage::{ArchiveFormat, TestImage};
use compose::engine::image::Reference;
use serde_json::{json, Value};

/// Label on each platform's config: the platform it was made for (`linux/arm64/v8`).
pub const PLATFORM_LABEL: &str = "org.compose.test.platform";
/// File in each platform's own layer: the platform it was made for, and a newline.
pub const PLATFORM_FILE: &str = "etc/platform";

const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// One platform's image in the index.
#[derive(Debug, Clone)]
pub struct PlatformImage {
    /// As given: `os/arch[/variant]`.
    pub platform: String,
    pub manifest_digest: String,
    /// The config digest: the image id a client stores it under.
    pub config_digest: String,
}

#[derive(Debug, Clone)]
pub struct MultiPlatform {
    /// The OCI archive (tar of an OCI image layout).
    pub archive: Vec<u8>,
    /// The digest of the index: what a registry serves for the tag.
    pub index_digest: String,
    pub images: Vec<PlatformImage>,
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// The entries of a tar, by path.
fn untar(data: &[u8]) -> io::Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut a = tar::Archive::new(data);
    for e in a.entries()? {
        let mut e = e?;
        let path = e.path()?.to_string_lossy().into_owned();
        let mut buf = Vec::new();
        e.read_to_end(&mut buf)?;
        out.insert(path, buf);
    }
    Ok(out)
}

fn json_of(files: &BTreeMap<String, Vec<u8>>, path: &str) -> io::Result<Value> {
    let data = files
        .get(path)
        .ok_or_else(|| bad(format!("test image archive has no {path}")))?;
    serde_json::from_slice(data).map_err(|e| bad(format!("{path}: {e}")))
}

fn blob_path(digest: &str) -> String {
    format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))
}

fn to_vec(v: &Value) -> io::Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| bad(e.to_string()))
}

/// An uncompressed layer tar with `etc/` and [`PLATFORM_FILE`] saying `platform`.
fn platform_layer(platform: &str) -> io::Result<Vec<u8>> {
    let mut t = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_mtime(1_704_067_200);
    h.set_size(0);
    t.append_data(&mut h, "etc", io::empty())?;
    let body = format!("{platform}\n");
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_mtime(1_704_067_200);
    h.set_size(body.len() as u64);
    t.append_data(&mut h, PLATFORM_FILE, body.as_bytes())?;
    t.into_inner()
}

/// Builds an index named `name` (`repo:tag`) holding one image per entry of `platforms`
/// (`linux/amd64`, `linux/arm64/v8`, …), in that order.
pub fn multi_platform_archive(name: &str, platforms: &[&str]) -> io::Result<MultiPlatform> {
    let reference =
        Reference::parse(name).map_err(|e| bad(format!("test image name {name:?}: {e}")))?;
    let mut blobs: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut descriptors = Vec::new();
    let mut images = Vec::new();
    for platform in platforms {
        let mut parts = platform.split('/');
        let (os, arch, variant) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(os), Some(arch), variant, None) if !os.is_empty() && !arch.is_empty() => {
                (os, arch, variant)
            }
            _ => {
                return Err(bad(format!(
                    "platform {platform:?}: expected os/arch[/variant]"
                )))
            }
        };
        let mut image = TestImage {
            name: name.to_string(),
            compression: Compression::Gzip,
            extra_layers: vec![platform_layer(platform)?],
            ..TestImage::default()
        };
        image
            .labels
            .insert(PLATFORM_LABEL.to_string(), platform.to_string());
        let files = untar(&image.archive(ArchiveFormat::Oci)?)?;
        let layout_index = json_of(&files, "index.json")?;
        let manifest_digest = layout_index["manifests"][0]["digest"]
            .as_str()
            .ok_or_else(|| bad("test image index.json without a manifest".into()))?
            .to_string();
        let mut manifest = json_of(&files, &blob_path(&manifest_digest))?;
        let config_digest = manifest["config"]["digest"]
            .as_str()
            .ok_or_else(|| bad("test image manifest without a config".into()))?
            .to_string();
        let mut config = json_of(&files, &blob_path(&config_digest))?;
        config["os"] = json!(os);
        config["architecture"] = json!(arch);
        if let Some(v) = variant {
            config["variant"] = json!(v);
        }
        let config = to_vec(&config)?;
        let config_digest = sha256_digest(&config);
        manifest["config"]["digest"] = json!(config_digest);
        manifest["config"]["size"] = json!(config.len());
        let layers = manifest["layers"]
            .as_array()
            .ok_or_else(|| bad("test image manifest without layers".into()))?;
        for l in layers {
            let d = l["digest"]
                .as_str()
                .ok_or_else(|| bad("layer without a digest".into()))?;
            let data = files
                .get(&blob_path(d))
                .ok_or_else(|| bad(format!("test image archive lacks layer {d}")))?;
            blobs.insert(d.to_string(), data.clone());
        }
        let manifest = to_vec(&manifest)?;
        let manifest_digest = sha256_digest(&manifest);
        let mut plat = json!({ "os": os, "architecture": arch });
        if let Some(v) = variant {
            plat["variant"] = json!(v);
        }
        descriptors.push(json!({
            "mediaType": MEDIA_TYPE_MANIFEST,
            "digest": manifest_digest,
            "size": manifest.len(),
            "platform": plat,
        }));
        blobs.insert(config_digest.clone(), config);
        blobs.insert(manifest_digest.clone(), manifest);
        images.push(PlatformImage {
            platform: platform.to_string(),
            manifest_digest,
            config_digest,
        });
    }
    let index = to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_INDEX,
        "manifests": descriptors,
    }))?;
    let index_digest = sha256_digest(&index);
    blobs.insert(index_digest.clone(), index.clone());
    let mut annotations = json!({ "io.containerd.image.name": reference.to_string() });
    if let Some(tag) = reference.tag() {
        annotations["org.opencontainers.image.ref.name"] = json!(tag);
    }
    let layout_index = to_vec(&json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": MEDIA_TYPE_INDEX,
            "digest": index_digest,
            "size": index.len(),
            "annotations": annotations,
        }],
    }))?;

    let mut out = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_mtime(1_704_067_200);
        h.set_size(data.len() as u64);
        out.append_data(&mut h, path, data)
    };
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    for (digest, data) in &blobs {
        add(&blob_path(digest), data)?;
    }
    add("index.json", &layout_index)?;
    Ok(MultiPlatform {
        archive: out.into_inner()?,
        index_digest,
        images,
    })
}

/// [`multi_platform_archive`] written to `dir/multiplatform.tar`; its path with what it holds.
pub fn write_multi_platform(
    dir: &Path,
    name: &str,
    platforms: &[&str],
) -> io::Result<(PathBuf, MultiPlatform)> {
    let mp = multi_platform_archive(name, platforms)?;
    let path = dir.join("multiplatform.tar");
    std::fs::write(&path, &mp.archive)?;
    Ok((path, mp))
}
