//! End-to-end: an image a build stores (`ImageStore::add_layer` over a staged directory, then
//! `add_image` on top of a loaded base) runs like a pulled one: its layer over its base's, its
//! whiteouts hiding the base's files (root; skipped with a reason otherwise), and pushes like
//! one: the registry serves the store's manifest (skipped where the registry programs are
//! missing).

mod support {
    #[path = "cli.rs"]
    pub mod cli;
    #[path = "engine.rs"]
    pub mod engine;
    #[path = "registry.rs"]
    pub mod registry;
}

use std::fs;

use compose::engine::image::{host_arch, ImageStore, PackOptions, Reference};
use rustix::fs::{self as rfs, FileType, Mode};
use support::engine::Fixture;

#[test]
#[ignore = "needs root"]
fn a_built_image_runs_its_layer_over_its_base() {
    require_engine!();
    let f = Fixture::new("services:\n  app:\n    image: built:1\n");
    let store = ImageStore::open(f.root.join("images")).expect("store");
    let mut layers = store.layers_of("busybox").expect("the base image's layers");
    // A step's output, staged under the root (the store's filesystem): a new file, and a
    // whiteout of a base file as overlayfs leaves one.
    let stage = f.root.join("build-stage");
    fs::create_dir_all(stage.join("etc")).expect("stage");
    fs::write(stage.join("etc/built"), "from a build\n").expect("file");
    rfs::mknodat(
        rfs::CWD,
        stage.join("etc/group"),
        FileType::CharacterDevice,
        Mode::empty(),
        rfs::makedev(0, 0),
    )
    .expect("whiteout");
    let layer = store
        .add_layer(&stage, &PackOptions::default())
        .expect("add_layer");
    assert!(!stage.exists());
    layers.push(layer);
    let config = serde_json::json!({
        "architecture": host_arch(),
        "os": "linux",
        "config": { "Env": ["PATH=/bin"], "Cmd": ["cat", "/etc/built"] },
    });
    let id = store
        .add_image(
            config,
            &layers,
            &[Reference::parse("built:1").expect("name")],
        )
        .expect("add_image");
    let (code, out, err) = f.run(
        "app",
        &[
            "sh",
            "-c",
            "cat /etc/built; test -e /etc/group || echo group hidden",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "from a build\ngroup hidden\n");
    let images = support::engine::ok(&f, &["image", "ls", "--no-trunc"]);
    assert!(images.contains(&id), "{images}");
}

/// `image push` finds every blob of a built image: the registry then serves the manifest the
/// store wrote, and the layer comes back whole.
#[test]
fn a_built_image_pushes_byte_for_byte() {
    require_registry!();
    let reg = support::registry::Registry::plain();
    let t = tempfile::Builder::new()
        .prefix("compose-test-commit-push-")
        .tempdir()
        .expect("temp dir");
    let root = t.path().join("root");
    fs::create_dir_all(t.path().join("project")).expect("project");
    for sub in ["docker", "config"] {
        fs::create_dir_all(t.path().join(sub)).expect("config dirs");
    }
    let store = ImageStore::open(root.join("images")).expect("store");
    let stage = root.join("build-stage");
    fs::create_dir_all(stage.join("app")).expect("stage");
    fs::write(stage.join("app/main.sh"), "echo built\n").expect("file");
    let layer = store
        .add_layer(&stage, &PackOptions::default())
        .expect("add_layer");
    let name = format!("{}/built/app:1", reg.host());
    let config = serde_json::json!({
        "architecture": host_arch(),
        "os": "linux",
        "config": { "Cmd": ["/app/main.sh"] },
    });
    let id = store
        .add_image(config, &[layer], &[Reference::parse(&name).expect("name")])
        .expect("add_image");
    let p = |s: &str| t.path().join(s).to_string_lossy().into_owned();
    support::cli::Compose::new(&t.path().join("project"))
        .env("DOCKER_CONFIG", &p("docker"))
        .env("XDG_CONFIG_HOME", &p("config"))
        .args(&["--root", &p("root"), "image", "push", &name])
        .run()
        .ok();
    let record = fs::read(
        root.join("images/images")
            .join(format!("{}.json", &id[7..])),
    )
    .expect("record");
    let record: serde_json::Value = serde_json::from_slice(&record).expect("json");
    assert_eq!(
        reg.manifest_digest("built/app:1"),
        record["manifest"]["digest"].as_str().expect("digest")
    );
    assert_eq!(
        reg.inspect("built/app:1")["Digest"],
        record["manifest"]["digest"]
    );
}
