//! End-to-end: an image a build stores (`ImageStore::add_layer` over a staged directory, then
//! `add_image` on top of a loaded base) runs like a pulled one: its layer over its base's, its
//! whiteouts hiding the base's files (root; skipped with a reason otherwise).

mod support {
    #[path = "engine.rs"]
    pub mod engine;
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
