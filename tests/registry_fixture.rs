//! Proves the registry fixture (tests/support/registry.rs) that the pull and push tests stand
//! on: each variant starts and leaves nothing behind, skopeo (containers/image, not our code)
//! can push to it and read back the digests, the auth variant refuses wrong and missing
//! credentials, a blob corrupted on the registry's disk is served corrupted, the multi-platform
//! archive becomes an index on the registry, and a mirror serves its upstream's images.
//! Skipped (with a reason) where docker-registry, skopeo, openssl or htpasswd are missing.

mod support {
    #[path = "multiplatform.rs"]
    pub mod multiplatform;
    #[path = "registry.rs"]
    pub mod registry;
}

use std::net::SocketAddr;
use std::path::Path;

use compose::engine::fsutil::sha256_digest;
use compose::engine::image::layer::Compression;
use compose::engine::image::testimage::{ArchiveFormat, TestImage};
use serde_json::Value;
use support::multiplatform::{write_multi_platform, PLATFORM_LABEL};
use support::registry::{http_get_raw, output_text, v2_status, Registry};

fn temp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("compose-regtest-")
        .tempdir()
        .expect("temp dir")
}

/// A gzip busybox image as an OCI archive in `dir`, and its manifest digest (gzip layers: skopeo
/// pushes them unchanged, so the registry must serve this very digest).
fn gzip_image(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let image = TestImage {
        name: name.into(),
        compression: Compression::Gzip,
        ..TestImage::default()
    };
    let path = image.write(dir, ArchiveFormat::Oci).expect("write image");
    let files = tar::Archive::new(std::fs::File::open(&path).expect("open archive"))
        .entries()
        .expect("entries")
        .map(|e| {
            use std::io::Read;
            let mut e = e.expect("entry");
            let name = e.path().expect("path").to_string_lossy().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).expect("read entry");
            (name, data)
        })
        .collect::<std::collections::BTreeMap<_, _>>();
    let index: Value = serde_json::from_slice(&files["index.json"]).expect("index.json");
    let digest = index["manifests"][0]["digest"]
        .as_str()
        .expect("manifest digest")
        .to_string();
    (path, digest)
}

fn addr(r: &Registry) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], r.port()))
}

/// Drops `r` and checks its process is reaped and its directory removed.
fn drop_and_check_gone(r: Registry) {
    let pid = r.pid();
    let dir = r.dir().to_path_buf();
    assert!(pid != 0);
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert!(dir.exists());
    drop(r);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "registry process {pid} still there after drop"
    );
    assert!(!dir.exists(), "{} still there after drop", dir.display());
}

#[test]
fn plain_registry_answers_then_is_gone_after_drop() {
    require_registry!();
    let r = Registry::plain();
    assert_eq!(v2_status(addr(&r)), Some(200), "{}", r.log());
    assert!(r.url().starts_with("http://127.0.0.1:"));
    drop_and_check_gone(r);
}

#[test]
fn auth_tls_registry_verifies_with_its_ca_then_is_gone_after_drop() {
    require_registry!();
    let r = Registry::auth_tls();
    assert_eq!(
        std::fs::read(r.cert_dir().join("ca.crt")).expect("certs.d/HOST/ca.crt"),
        std::fs::read(r.ca_cert_path()).expect("ca.crt"),
        "certs.d is laid out as Docker's"
    );
    assert_eq!(r.cert_dir(), r.certs_d().join(r.host()));
    // openssl, not our code, checks the chain and that the certificate is for IP 127.0.0.1.
    let o = std::process::Command::new("openssl")
        .args(["s_client", "-connect", &r.host(), "-verify_return_error"])
        .args(["-verify_ip", "127.0.0.1", "-CAfile"])
        .arg(r.ca_cert_path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run openssl s_client");
    assert!(o.status.success(), "TLS check: {}", output_text(&o));
    // Over TLS only: a plain-HTTP request gets no HTTP answer.
    assert_ne!(v2_status(addr(&r)), Some(200));
    drop_and_check_gone(r);
}

#[test]
fn registry_is_gone_when_the_test_panics() {
    require_registry!();
    let seen = std::sync::Mutex::new(None);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let r = Registry::tls();
        *seen.lock().expect("lock") = Some((r.pid(), r.dir().to_path_buf()));
        panic!("a failing test");
    }));
    assert!(result.is_err());
    let (pid, dir) = seen.lock().expect("lock").take().expect("registry started");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} left"
    );
    assert!(!dir.exists(), "{} left", dir.display());
}

#[test]
fn skopeo_pushes_to_plain_registry_and_inspect_shows_the_digest() {
    require_registry!();
    let tmp = temp();
    let r = Registry::plain();
    let (archive, digest) = gzip_image(tmp.path(), "busybox:latest");
    r.push_oci_archive(&archive, "test/busybox:1");
    assert_eq!(r.manifest_digest("test/busybox:1"), digest);
    assert_eq!(
        r.inspect("test/busybox:1")["Digest"],
        Value::from(digest.clone())
    );
    // By digest too; and the manifest's blobs are where blob_data_path says.
    let raw = r.inspect_raw(&format!("test/busybox@{digest}"));
    let manifest: Value = serde_json::from_slice(&raw).expect("manifest JSON");
    let layer = manifest["layers"][0]["digest"].as_str().expect("layer");
    let on_disk = std::fs::read(r.blob_data_path(layer)).expect("blob on the registry's disk");
    assert_eq!(sha256_digest(&on_disk), layer);
}

#[test]
fn skopeo_pushes_over_tls_with_the_fixtures_credentials() {
    require_registry!();
    let tmp = temp();
    let r = Registry::auth_tls();
    let (archive, digest) = gzip_image(tmp.path(), "busybox:latest");
    r.push_oci_archive(&archive, "app/busybox:tls");
    assert_eq!(r.manifest_digest("app/busybox:tls"), digest);
}

#[test]
fn auth_registry_refuses_wrong_and_missing_credentials() {
    require_registry!();
    let tmp = temp();
    let r = Registry::auth_tls();
    let (archive, _) = gzip_image(tmp.path(), "busybox:latest");
    let wrong = r.try_push_oci_archive_as(&archive, "app/x:1", Some((r.user(), "not-it")));
    assert!(!wrong.status.success(), "wrong password accepted");
    let err = String::from_utf8_lossy(&wrong.stderr).to_lowercase();
    assert!(
        err.contains("unauthorized") || err.contains("401"),
        "{}",
        output_text(&wrong)
    );
    let anonymous = r.try_push_oci_archive_as(&archive, "app/x:1", None);
    assert!(!anonymous.status.success(), "anonymous push accepted");
    // With the right ones the same push works, and reads need them as well.
    r.push_oci_archive(&archive, "app/x:1");
    assert!(!r.try_inspect_as("app/x:1", true, None).status.success());
    let o = r.try_inspect_as("app/x:1", true, Some((r.user(), r.password())));
    assert!(o.status.success(), "{}", output_text(&o));
}

#[test]
fn corrupted_blob_on_disk_is_served_corrupted_and_skopeo_refuses_it() {
    require_registry!();
    let tmp = temp();
    let r = Registry::plain();
    let (archive, digest) = gzip_image(tmp.path(), "busybox:latest");
    r.push_oci_archive(&archive, "test/corrupt:1");
    let manifest: Value =
        serde_json::from_slice(&r.inspect_raw(&format!("test/corrupt@{digest}"))).expect("json");
    let layer = manifest["layers"][0]["digest"].as_str().expect("layer");
    let path = r.blob_data_path(layer);
    let mut data = std::fs::read(&path).expect("blob");
    // Same length, one byte changed in the middle: only a digest check can notice.
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    std::fs::write(&path, &data).expect("corrupt blob");

    let (status, body) =
        http_get_raw(addr(&r), &format!("/v2/test/corrupt/blobs/{layer}")).expect("GET blob");
    assert_eq!(status, 200);
    assert_eq!(body, data, "the registry serves the bytes on its disk");
    assert_ne!(sha256_digest(&body), layer);

    let out = tmp.path().join("copy");
    let o = r.try_copy_to_oci_dir("test/corrupt:1", &out);
    assert!(!o.status.success(), "skopeo accepted a corrupted blob");
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .to_lowercase()
            .contains("digest"),
        "{}",
        output_text(&o)
    );
}

#[test]
fn multi_platform_archive_is_an_index_on_the_registry() {
    require_registry!();
    let tmp = temp();
    let r = Registry::plain();
    let (archive, mp) =
        write_multi_platform(tmp.path(), "multi:1", &["linux/amd64", "linux/arm64/v8"])
            .expect("multi-platform archive");
    r.push_oci_archive(&archive, "test/multi:1");
    assert_eq!(r.manifest_digest("test/multi:1"), mp.index_digest);
    let index: Value = serde_json::from_slice(&r.inspect_raw("test/multi:1")).expect("index");
    let platforms: Vec<String> = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|m| {
            let p = &m["platform"];
            let mut s = format!("{}/{}", p["os"].as_str().unwrap_or("?"), p["architecture"]);
            if let Some(v) = p["variant"].as_str() {
                s += &format!("/{v}");
            }
            s.replace('"', "")
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8"]);
    for image in &mp.images {
        let raw = r.inspect_raw(&format!("test/multi@{}", image.manifest_digest));
        let manifest: Value = serde_json::from_slice(&raw).expect("manifest");
        assert_eq!(
            manifest["config"]["digest"],
            Value::from(image.config_digest.clone())
        );
        let config: Value = serde_json::from_slice(
            &std::fs::read(r.blob_data_path(&image.config_digest)).expect("config blob"),
        )
        .expect("config");
        assert_eq!(
            config["config"]["Labels"][PLATFORM_LABEL],
            Value::from(image.platform.clone())
        );
        // Each platform has a layer of its own on top of the shared busybox one.
        assert_eq!(manifest["layers"].as_array().map(Vec::len), Some(2));
    }
    let (a, b) = (&mp.images[0], &mp.images[1]);
    assert_ne!(a.config_digest, b.config_digest);
}

#[test]
fn mirror_serves_its_upstreams_images_and_caches_them() {
    require_registry!();
    let tmp = temp();
    for upstream in [Registry::plain(), Registry::tls()] {
        let (archive, digest) = gzip_image(tmp.path(), "busybox:latest");
        upstream.push_oci_archive(&archive, "library/busybox:latest");
        let mirror = Registry::mirror_of(&upstream);
        assert!(
            mirror.as_upstream().ca_cert.is_none(),
            "the mirror itself serves plain HTTP"
        );
        let o = mirror.try_inspect_as("library/busybox:latest", true, None);
        assert!(
            o.status.success(),
            "mirror of {}: {}\nmirror log:\n{}\nupstream log:\n{}",
            upstream.url(),
            output_text(&o),
            mirror.log(),
            upstream.log()
        );
        assert_eq!(sha256_digest(&o.stdout), digest);
        let out = tmp.path().join(format!("copy-{}", upstream.port()));
        let o = mirror.try_copy_to_oci_dir("library/busybox:latest", &out);
        assert!(o.status.success(), "{}\n{}", output_text(&o), mirror.log());
        let manifest: Value =
            serde_json::from_slice(&upstream.inspect_raw(&format!("library/busybox@{digest}")))
                .expect("manifest");
        let layer = manifest["layers"][0]["digest"].as_str().expect("layer");
        // The mirror's wait for its cache write is asynchronous: give it a moment.
        let cached = (0..100).any(|_| {
            let p = mirror.blob_data_path(layer);
            if p.exists() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            false
        });
        assert!(cached, "the mirror did not keep {layer}");
    }
}
