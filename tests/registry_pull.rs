//! Pulling from a real registry (Debian's docker-registry on 127.0.0.1, filled by skopeo, not by
//! our own push): by tag and by digest, the platform an index offers, a corrupted blob refused
//! with nothing stored, and every layer fetched once. Skipped (with a reason) where the
//! registry or skopeo is missing.

mod support {
    #[path = "multiplatform.rs"]
    pub mod multiplatform;
    #[path = "registry.rs"]
    pub mod registry;
}

use std::path::Path;
use std::sync::{Arc, Mutex};

use compose::engine::image::layer::Compression;
use compose::engine::image::testimage::{ArchiveFormat, TestImage};
use compose::engine::image::ImageStore;
use compose::engine::registry::{
    pull_images, DockerConfig, PullEvent, PullOptions, PullProgress, PullRequest, Pulled,
    RegistryConfig, RegistryError,
};
use support::multiplatform::write_multi_platform;
use support::registry::{files_under, Registry};

fn temp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("compose-pulltest-")
        .tempdir()
        .expect("temp dir")
}

/// Every progress event, as `image event`.
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, PullEvent)>>);

impl PullProgress for Recorder {
    fn event(&self, image: &str, event: PullEvent) {
        self.0
            .lock()
            .expect("recorder")
            .push((image.to_string(), event));
    }
}

impl Recorder {
    fn count(&self, f: impl Fn(&PullEvent) -> bool) -> usize {
        self.0
            .lock()
            .expect("recorder")
            .iter()
            .filter(|(_, e)| f(e))
            .count()
    }
}

fn opts(progress: Arc<Recorder>) -> PullOptions {
    PullOptions {
        config: RegistryConfig::default(),
        credentials: DockerConfig::default(),
        progress,
    }
}

fn pull(
    store: &ImageStore,
    refs: &[(&str, Option<&str>)],
    rec: &Arc<Recorder>,
) -> Vec<Result<Pulled, RegistryError>> {
    let requests: Vec<PullRequest> = refs
        .iter()
        .map(|(r, p)| PullRequest {
            reference: r.to_string(),
            platform: p.map(str::to_string),
        })
        .collect();
    pull_images(store, &requests, &opts(rec.clone()))
}

/// A two-layer gzip image pushed as `repo:tag`; its image id.
fn push_image(r: &Registry, dir: &Path, name: &str, reference: &str) -> String {
    let image = TestImage {
        name: name.into(),
        compression: Compression::Gzip,
        two_layers: true,
        ..TestImage::default()
    };
    let archive = image.write(dir, ArchiveFormat::Oci).expect("archive");
    r.push_oci_archive(&archive, reference);
    image.id().expect("id")
}

#[test]
fn pull_by_tag_then_by_digest_gives_the_same_image_and_records_the_digest() {
    require_registry!();
    let tmp = temp();
    let r = Registry::plain();
    let id = push_image(&r, tmp.path(), "busybox:latest", "test/busybox:1");
    let digest = r.manifest_digest("test/busybox:1");
    let store = ImageStore::open(tmp.path().join("store")).expect("store");
    let rec = Arc::new(Recorder::default());

    let by_tag = format!("{}/test/busybox:1", r.host());
    let got = pull(&store, &[(&by_tag, None)], &rec)
        .remove(0)
        .expect("pull by tag");
    assert_eq!(got.id, id);
    assert_eq!(
        got.digest, digest,
        "the digest is the registry's (skopeo's) for the tag"
    );
    assert_eq!(rec.count(|e| matches!(e, PullEvent::LayerDone { .. })), 2);
    let inspect = store.inspect(&by_tag).expect("inspect");
    assert_eq!(
        inspect["RepoDigests"][0],
        format!("{}/test/busybox@{digest}", r.host()),
        "Docker's RepoDigests: name@digest of what was pulled"
    );
    // The image runs from what was stored: its layers are unpacked.
    let image = store.resolve(&by_tag).expect("resolve");
    assert!(image
        .layer_dirs
        .iter()
        .any(|d| d.join("bin/busybox").exists()));

    // Again by digest, into a fresh store; then into the same store: nothing fetched twice.
    let store2 = ImageStore::open(tmp.path().join("store2")).expect("store");
    let by_digest = format!("{}/test/busybox@{digest}", r.host());
    let got2 = pull(&store2, &[(&by_digest, None)], &rec)
        .remove(0)
        .expect("pull by digest");
    assert_eq!(got2.id, id);
    let rec2 = Arc::new(Recorder::default());
    pull(&store, &[(&by_digest, None), (&by_tag, None)], &rec2)
        .into_iter()
        .for_each(|r| assert_eq!(r.expect("again").id, id));
    assert_eq!(
        rec2.count(|e| matches!(e, PullEvent::LayerDownloading { .. })),
        0,
        "layers in the store are not fetched again"
    );
    assert_eq!(
        rec2.count(|e| matches!(e, PullEvent::LayerExists { .. })),
        4
    );
}

#[test]
fn shared_layers_of_two_images_are_fetched_once() {
    require_registry!();
    let tmp = temp();
    let r = Registry::plain();
    let id = push_image(&r, tmp.path(), "busybox:latest", "test/a:1");
    r.push_oci_archive(
        &TestImage {
            name: "busybox:latest".into(),
            compression: Compression::Gzip,
            two_layers: true,
            ..TestImage::default()
        }
        .write(tmp.path(), ArchiveFormat::Oci)
        .expect("archive"),
        "test/b:1",
    );
    let store = ImageStore::open(tmp.path().join("store")).expect("store");
    let rec = Arc::new(Recorder::default());
    let a = format!("{}/test/a:1", r.host());
    let b = format!("{}/test/b:1", r.host());
    for got in pull(&store, &[(&a, None), (&b, None)], &rec) {
        assert_eq!(got.expect("pull").id, id);
    }
    let log = r.log();
    let blob_gets = log
        .lines()
        .filter(|l| l.contains("GET /v2/") && l.contains("/blobs/sha256:"))
        .count();
    // Two layers and the config: each image needs all three, the registry is asked once each
    // for the layers (the config is read by both resolutions before either is stored).
    assert!(
        blob_gets <= 4,
        "{blob_gets} blob GETs for two images sharing every blob:\n{log}"
    );
    assert_eq!(
        rec.count(|e| matches!(e, PullEvent::LayerVerifying { .. })),
        4,
        "2 layers × 2 users"
    );
}

#[test]
fn an_index_gives_this_machines_platform_or_the_one_asked_for() {
    require_registry!();
    let tmp = temp();
    let r = Registry::plain();
    let (archive, mp) =
        write_multi_platform(tmp.path(), "multi:1", &["linux/amd64", "linux/arm64/v8"])
            .expect("multi-platform archive");
    r.push_oci_archive(&archive, "test/multi:1");
    let reference = format!("{}/test/multi:1", r.host());
    let id_of = |p: &str| {
        mp.images
            .iter()
            .find(|i| i.platform == p)
            .expect("platform in archive")
            .config_digest
            .clone()
    };
    let rec = Arc::new(Recorder::default());
    let store = ImageStore::open(tmp.path().join("store")).expect("store");
    let host = pull(&store, &[(&reference, None)], &rec)
        .remove(0)
        .expect("default platform");
    if std::env::consts::ARCH == "x86_64" {
        assert_eq!(host.id, id_of("linux/amd64"));
    }
    assert_eq!(host.digest, mp.index_digest, "RepoDigests names the index");
    let arm = pull(&store, &[(&reference, Some("linux/arm64"))], &rec)
        .remove(0)
        .expect("arm64");
    assert_eq!(arm.id, id_of("linux/arm64/v8"));
    let err = pull(&store, &[(&reference, Some("linux/s390x"))], &rec)
        .remove(0)
        .expect_err("no such platform");
    let msg = err.to_string();
    assert!(
        msg.contains("no manifest for linux/s390x")
            && msg.contains("linux/amd64")
            && msg.contains("linux/arm64"),
        "{msg}"
    );
}

#[test]
fn a_corrupted_blob_is_refused_and_nothing_is_stored() {
    require_registry!();
    let tmp = temp();
    let r = Registry::plain();
    push_image(&r, tmp.path(), "busybox:latest", "test/corrupt:1");
    let manifest: serde_json::Value =
        serde_json::from_slice(&r.inspect_raw("test/corrupt:1")).expect("manifest");
    let layer = manifest["layers"][1]["digest"].as_str().expect("layer");
    let path = r.blob_data_path(layer);
    let mut data = std::fs::read(&path).expect("blob");
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    std::fs::write(&path, &data).expect("corrupt");

    let store_dir = tmp.path().join("store");
    let store = ImageStore::open(&store_dir).expect("store");
    let rec = Arc::new(Recorder::default());
    let reference = format!("{}/test/corrupt:1", r.host());
    let err = pull(&store, &[(&reference, None)], &rec)
        .remove(0)
        .expect_err("corrupted blob accepted");
    let msg = err.to_string();
    assert!(
        msg.contains("digest mismatch") && msg.contains(layer),
        "{msg}"
    );
    assert!(
        store.list().expect("list").is_empty(),
        "an image was recorded"
    );
    // Nothing at all: not the corrupted blob, not the good layer, config or manifest, not a
    // staging file.
    let left: Vec<String> = files_under(&store_dir)
        .into_iter()
        .filter(|f| !f.ends_with("/lock") && !f.ends_with("/tags.json"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn missing_tags_and_unreachable_registries_are_one_clear_line() {
    require_registry!();
    let tmp = temp();
    let r = Registry::plain();
    let store = ImageStore::open(tmp.path().join("store")).expect("store");
    let rec = Arc::new(Recorder::default());
    let missing = format!("{}/test/nothing:1", r.host());
    let msg = pull(&store, &[(&missing, None)], &rec)
        .remove(0)
        .expect_err("missing")
        .to_string();
    assert!(
        msg.contains("not found") && msg.contains(&r.host()),
        "{msg}"
    );
    // A port nothing listens on (the registry's own, once it is gone).
    let host = r.host();
    drop(r);
    let gone = format!("{host}/test/x:1");
    let msg = pull(&store, &[(&gone, None)], &rec)
        .remove(0)
        .expect_err("unreachable")
        .to_string();
    assert!(msg.contains("unreachable") && msg.contains(&host), "{msg}");
    assert!(!msg.contains('\n'), "one line: {msg}");
}

/// A `registries.yaml` in `dir` with these contents; the config read from it alone.
fn registry_config(dir: &Path, yaml: &str) -> RegistryConfig {
    let path = dir.join("registries.yaml");
    std::fs::write(&path, yaml).expect("write registries.yaml");
    RegistryConfig::load_from(&[path]).expect("load registries.yaml")
}

fn pull_with(
    store: &ImageStore,
    reference: &str,
    config: RegistryConfig,
    credentials: DockerConfig,
) -> Result<Pulled, RegistryError> {
    pull_images(
        store,
        &[PullRequest {
            reference: reference.to_string(),
            platform: None,
        }],
        &PullOptions {
            config,
            credentials,
            progress: Arc::new(Recorder::default()),
        },
    )
    .remove(0)
}

#[test]
fn credentials_from_config_json_or_a_helper_reach_an_auth_tls_registry() {
    require_registry!();
    let tmp = temp();
    let r = Registry::auth_tls();
    let id = push_image(&r, tmp.path(), "busybox:latest", "test/private:1");
    let reference = format!("{}/test/private:1", r.host());
    let config = || registry_config(tmp.path(), &format!("certs_d: {}\n", r.certs_d().display()));
    let store = ImageStore::open(tmp.path().join("store")).expect("store");

    // No credentials, then wrong ones: one line that says to log in; nothing stored.
    let anon = pull_with(&store, &reference, config(), DockerConfig::default())
        .expect_err("anonymous pull of a private image");
    let msg = anon.to_string();
    assert!(
        msg.contains("unauthorized") && msg.contains("compose login"),
        "{msg}"
    );
    let wrong_dir = tmp.path().join("wrong");
    std::fs::create_dir(&wrong_dir).expect("dir");
    let wrong = serde_json::json!({"auths": {r.host(): {"auth": "Y29tcG9zZS10ZXN0Ondyb25n"}}});
    std::fs::write(wrong_dir.join("config.json"), wrong.to_string()).expect("config.json");
    let creds = DockerConfig::load_from(&wrong_dir.join("config.json")).expect("load");
    let msg = pull_with(&store, &reference, config(), creds)
        .expect_err("wrong password")
        .to_string();
    assert!(msg.contains("unauthorized"), "{msg}");
    assert!(!msg.contains("wrong"), "the secret is printed: {msg}");
    assert!(store.list().expect("list").is_empty());

    // Docker's config.json.
    let good_dir = tmp.path().join("good");
    std::fs::create_dir(&good_dir).expect("dir");
    std::fs::write(
        good_dir.join("config.json"),
        r.docker_config_json().to_string(),
    )
    .expect("config.json");
    let creds = DockerConfig::load_from(&good_dir.join("config.json")).expect("load");
    assert_eq!(
        pull_with(&store, &reference, config(), creds)
            .expect("pull with config.json")
            .id,
        id
    );

    // A `docker-credential-*` helper (credsStore), as Docker runs it.
    let helper_dir = tmp.path().join("helpers");
    std::fs::create_dir(&helper_dir).expect("dir");
    let helper = helper_dir.join("docker-credential-pulltest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"{}\",\"Secret\":\"{}\"}}' \"$server\"\n",
            r.user(),
            r.password()
        ),
    )
    .expect("helper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let store_cfg = tmp.path().join("helper-config.json");
    std::fs::write(&store_cfg, r#"{"credsStore":"pulltest"}"#).expect("config.json");
    let creds = DockerConfig::load_from(&store_cfg)
        .expect("load")
        .with_helper_dir(&helper_dir);
    let store2 = ImageStore::open(tmp.path().join("store2")).expect("store");
    assert_eq!(
        pull_with(&store2, &reference, config(), creds)
            .expect("pull with a credential helper")
            .id,
        id
    );
}

#[test]
fn a_mirror_serves_a_docker_hub_name() {
    require_registry!();
    let tmp = temp();
    let upstream = Registry::plain();
    let id = push_image(
        &upstream,
        tmp.path(),
        "busybox:latest",
        "library/busybox:mirrortest",
    );
    let mirror = Registry::mirror_of(&upstream);
    let config = registry_config(
        tmp.path(),
        &format!("mirrors:\n  docker.io:\n    - {}\n", mirror.host()),
    );
    let store = ImageStore::open(tmp.path().join("store")).expect("store");
    // `busybox:mirrortest` is docker.io/library/busybox: Docker Hub itself is never asked
    // (there is no network here), the mirror answers.
    let got = pull_with(
        &store,
        "busybox:mirrortest",
        config,
        DockerConfig::default(),
    )
    .expect("pull through the mirror");
    assert_eq!(got.id, id);
    assert!(
        mirror
            .log()
            .contains("/v2/library/busybox/manifests/mirrortest"),
        "the mirror was not asked:\n{}",
        mirror.log()
    );
    let image = store
        .resolve("busybox:mirrortest")
        .expect("stored under the Hub name");
    assert_eq!(image.id, id);
}
