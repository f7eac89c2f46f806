//! `compose image push` and `compose push` against a real registry (the fixture's Debian
//! `docker-registry` on 127.0.0.1), cross-checked with skopeo: the digest the registry serves
//! is the store's manifest digest, a second push sends no blob (our progress lines say "Layer
//! already exists" and the registry's log shows no upload), a blob in another repository of the
//! same registry is mounted, and `compose push` pushes services' images (as Docker Compose's
//! flags say). Skipped (with a reason) where the registry programs are missing.

mod support {
    #[path = "cli.rs"]
    pub mod cli;
    #[path = "registry.rs"]
    pub mod registry;
}

use std::path::Path;

use compose::engine::image::layer::Compression;
use compose::engine::image::testimage::{ArchiveFormat, TestImage};
use support::cli::{Compose, Output};
use support::registry::Registry;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("compose-test-push-")
            .tempdir()
            .expect("temp dir");
        for sub in ["docker", "config", "project"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("dirs");
        }
        Env { dir }
    }

    fn root(&self) -> std::path::PathBuf {
        self.dir.path().join("root")
    }

    /// `compose --root ROOT ARGS` in the project folder, with Docker's and our configuration
    /// pointed at empty folders of the test's own.
    fn compose(&self, args: &[&str]) -> Output {
        let p = |s: &str| self.dir.path().join(s).to_string_lossy().into_owned();
        Compose::new(&self.dir.path().join("project"))
            .env("DOCKER_CONFIG", &p("docker"))
            .env("XDG_CONFIG_HOME", &p("config"))
            .args(&["--root", &p("root")])
            .args(args)
            .run()
    }

    fn load(&self, img: &TestImage) {
        let path = img
            .write(self.dir.path(), ArchiveFormat::Oci)
            .expect("write image");
        self.compose(&["image", "load", "-i", path.to_str().expect("utf-8")])
            .ok();
    }

    /// The store's manifest digest of `name` (its `RepoDigests` entry as `image inspect` has it).
    fn manifest_digest(&self, name: &str) -> String {
        let v: serde_json::Value =
            serde_json::from_str(self.compose(&["image", "inspect", name]).ok()).expect("json");
        let entry = v[0]["RepoDigests"][0]
            .as_str()
            .expect("a RepoDigests entry");
        entry.rsplit_once('@').expect("name@digest").1.to_string()
    }
}

fn image() -> TestImage {
    TestImage {
        name: "app:1".into(),
        compression: Compression::Gzip,
        two_layers: true,
        ..TestImage::default()
    }
}

struct NoPullProgress;

impl compose::engine::registry::PullProgress for NoPullProgress {
    fn event(&self, _: &str, _: compose::engine::registry::PullEvent) {}
}

/// Lines of `out` ending with `suffix`.
fn count(out: &str, suffix: &str) -> usize {
    out.lines().filter(|l| l.ends_with(suffix)).count()
}

/// Upload requests in the registry's log (they are `POST/PATCH/PUT …/blobs/uploads/…`).
fn uploads(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("/blobs/uploads/"))
        .count()
}

/// Docker's `push`: every blob then the manifest, whose digest skopeo reads back equal to the
/// store's; pushing again sends nothing; another repository gets the blobs mounted; `-q`
/// prints the reference; the store then knows the image by its registry digest.
#[test]
fn image_push_round_trip_keeps_the_digest_and_skips_what_the_registry_has() {
    require_registry!();
    let reg = Registry::plain();
    let env = Env::new();
    env.load(&image());
    let name = format!("{}/team/app:1", reg.host());
    env.compose(&["image", "tag", "app:1", &name]).ok();
    let digest = env.manifest_digest(&name);

    let out = env.compose(&["image", "push", &name]);
    let text = out.ok();
    assert!(
        text.starts_with(&format!(
            "The push refers to repository [{}/team/app]\n",
            reg.host()
        )),
        "{text}"
    );
    // Two layers and the config.
    assert_eq!(count(text, ": Pushed"), 3, "{text}\n{}", reg.log());
    let size = std::fs::metadata(
        env.root()
            .join("images/blobs/sha256")
            .join(&digest["sha256:".len()..]),
    )
    .expect("stored manifest")
    .len();
    assert!(
        text.ends_with(&format!("1: digest: {digest} size: {size}\n")),
        "{text}"
    );
    // Cross-check with skopeo: the registry serves our manifest, byte for byte.
    assert_eq!(reg.manifest_digest("team/app:1"), digest);
    assert_eq!(reg.inspect("team/app:1")["Digest"], digest.as_str());
    let pulled = env.dir.path().join("pulled");
    let o = reg.try_copy_to_oci_dir("team/app:1", &pulled);
    assert!(o.status.success(), "{}", support::registry::output_text(&o));
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pulled.join("index.json")).expect("index.json"))
            .expect("json");
    assert_eq!(index["manifests"][0]["digest"], digest.as_str());
    // And with our own pull, into a fresh store: the same digest and image id.
    let fresh = compose::engine::image::ImageStore::open(env.dir.path().join("fresh"))
        .expect("fresh store");
    let pulled = compose::engine::registry::pull_images(
        &fresh,
        &[compose::engine::registry::PullRequest {
            reference: name.clone(),
            platform: None,
        }],
        &compose::engine::registry::PullOptions {
            config: Default::default(),
            credentials: Default::default(),
            progress: std::sync::Arc::new(NoPullProgress),
        },
    );
    let pulled = pulled
        .into_iter()
        .next()
        .expect("one result")
        .expect("pull back");
    assert_eq!(pulled.digest, digest);
    assert_eq!(pulled.id, image().id().expect("id"));

    // Again: every blob is already there, and nothing is uploaded (the registry's log agrees).
    let before = uploads(&reg.log());
    assert!(before > 0, "the registry logs uploads:\n{}", reg.log());
    let text = env.compose(&["image", "push", &name]).ok().to_string();
    assert_eq!(count(&text, ": Layer already exists"), 3, "{text}");
    assert_eq!(count(&text, ": Pushed"), 0, "{text}");
    assert_eq!(
        uploads(&reg.log()),
        before,
        "second push uploaded:\n{}",
        reg.log()
    );

    // Another repository of the same registry: mounted from the first, not uploaded.
    let other = format!("{}/team/other:2", reg.host());
    env.compose(&["image", "tag", "app:1", &other]).ok();
    let text = env.compose(&["image", "push", &other]).ok().to_string();
    assert_eq!(count(&text, ": Mounted from team/app"), 3, "{text}");
    assert_eq!(reg.manifest_digest("team/other:2"), digest);

    // -q: only the reference.
    let text = env
        .compose(&["image", "push", "-q", &other])
        .ok()
        .to_string();
    assert_eq!(text, format!("{other}\n"));

    // The store names the image by its registry digest now (`image ls --digests`).
    let rows = env
        .compose(&["image", "ls", "--digests", "--format", "json"])
        .ok()
        .to_string();
    assert!(
        rows.lines()
            .any(|l| l.contains(&format!("\"Digest\":\"{digest}\""))
                && l.contains(&format!("\"Repository\":\"{}/team/app\"", reg.host()))),
        "{rows}"
    );
}

/// Docker's errors for what cannot be pushed: a name the store lacks, a digest reference.
#[test]
fn image_push_refuses_missing_images_and_digest_references() {
    let env = Env::new();
    env.load(&image());
    let err = env
        .compose(&["image", "push", "127.0.0.1:9/app:2"])
        .fails(1)
        .to_string();
    assert!(
        err.contains("An image does not exist locally with the tag: 127.0.0.1:9/app:2"),
        "{err}"
    );
    let by_digest = format!("127.0.0.1:9/app@sha256:{}", "a".repeat(64));
    let err = env
        .compose(&["image", "push", &by_digest])
        .fails(1)
        .to_string();
    assert!(err.contains("cannot push a digest reference"), "{err}");
}

fn write_project(dir: &Path, host: &str) {
    std::fs::write(
        dir.join("project/compose.yaml"),
        format!(
            "services:\n  web:\n    image: {host}/stack/web:1\n  db:\n    image: {host}/stack/missing:1\n"
        ),
    )
    .expect("compose.yaml");
}

/// Docker Compose's `push`: a failure fails the command unless `--ignore-push-failures`, which
/// pushes what it can and warns; `--quiet` prints nothing; a SERVICE argument narrows it.
#[test]
fn compose_push_services_with_ignore_failures_and_quiet() {
    require_registry!();
    let reg = Registry::plain();
    let env = Env::new();
    env.load(&image());
    let web = format!("{}/stack/web:1", reg.host());
    env.compose(&["image", "tag", "app:1", &web]).ok();
    write_project(env.dir.path(), &reg.host());

    let out = env.compose(&["push"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "An image does not exist locally with the tag: {}/stack/missing:1",
            reg.host()
        )),
        "{}",
        out.stderr
    );

    let out = env.compose(&["push", "--ignore-push-failures"]);
    let _ = out.ok_with_warnings();
    assert!(out.stderr.contains("stack/missing:1"), "{}", out.stderr);
    assert_eq!(
        reg.manifest_digest("stack/web:1"),
        env.manifest_digest(&web)
    );

    let out = env.compose(&["push", "--quiet", "web"]);
    assert_eq!(out.ok(), "");
    let out = env.compose(&["--progress", "plain", "push", "web"]);
    let _ = out.ok_with_warnings();
    assert!(
        out.stderr.contains(&format!("Pushing {web}: "))
            && out.stderr.contains("Layer already exists"),
        "{}",
        out.stderr
    );
}
