use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use serde_json::json;

use super::*;
use crate::engine::image::layer::{self, Compression, UnpackOptions};
use crate::engine::image::testimage::{ArchiveFormat, TestImage};
use crate::engine::image::RemoveEvent;

/// A store and a staging place beside it, on the same filesystem.
struct Fixture {
    _t: tempfile::TempDir,
    store: ImageStore,
    stage: PathBuf,
}

fn fixture() -> Fixture {
    let t = tempfile::Builder::new()
        .prefix("compose-test-commit-")
        .tempdir()
        .unwrap();
    let store = ImageStore::open(t.path().join("images")).unwrap();
    let stage = t.path().join("stage");
    fs::create_dir(&stage).unwrap();
    Fixture {
        _t: t,
        store,
        stage,
    }
}

impl Fixture {
    /// A staged step directory holding `files`.
    fn step(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = self.stage.join(name);
        fs::create_dir(&dir).unwrap();
        for (rel, content) in files {
            let p = dir.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, content).unwrap();
        }
        dir
    }

    fn layer(&self, name: &str, files: &[(&str, &str)]) -> LayerRef {
        let dir = self.step(name, files);
        self.store.add_layer(&dir, &PackOptions::default()).unwrap()
    }
}

fn config(cmd: &str) -> Value {
    json!({
        "architecture": crate::engine::image::host_arch(),
        "os": "linux",
        "created": "2024-02-03T04:05:06Z",
        "config": { "Cmd": [cmd], "Env": ["PATH=/bin"], "WorkingDir": "/app" },
        "history": [{ "created_by": "COPY . /app" }],
    })
}

fn name(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

#[test]
fn add_layer_moves_the_directory_in_and_stores_the_blob() {
    let f = fixture();
    let dir = f.step("s1", &[("app/main.sh", "echo hi\n"), ("etc/motd", "hello")]);
    let l = f.store.add_layer(&dir, &PackOptions::default()).unwrap();
    assert!(!dir.exists(), "the step directory was moved, not copied");
    let ldir = f.store.layer_dir(&l);
    assert_eq!(ldir, f.store.root().join("layers").join(&l.dir));
    assert_eq!(fs::read(ldir.join("app/main.sh")).unwrap(), b"echo hi\n");
    assert_eq!(l.dir, &l.diff_id[7..19]);
    // The blob is in the store under its digest, and is the layer.
    let blob = fs::read(f.store.blob_path(&l.blob.digest)).unwrap();
    assert_eq!(fsutil::sha256_digest(&blob), l.blob.digest);
    assert_eq!(blob.len() as u64, l.blob.size);
    assert_eq!(l.blob.media_type, Compression::Gzip.media_type());
    let back = tempfile::tempdir().unwrap();
    let tar = layer::decompress(&blob[..]).unwrap();
    layer::unpack(tar, back.path(), &UnpackOptions::default()).unwrap();
    assert_eq!(fs::read(back.path().join("etc/motd")).unwrap(), b"hello");
    // Complete, with its marker, as a loaded layer is.
    let _lock = f.store.lock().unwrap();
    assert_eq!(
        f.store.existing_layer(&l.diff_id).unwrap(),
        Some((l.dir.clone(), 13))
    );
    assert_eq!(fs::read_dir(f.store.tmp_dir()).unwrap().count(), 0);
}

#[test]
fn the_same_content_twice_is_one_layer() {
    let f = fixture();
    let a = f.layer("a", &[("x", "same")]);
    let dir = f.step("b", &[("x", "same")]);
    let b = f.store.add_layer(&dir, &PackOptions::default()).unwrap();
    assert_eq!(a, b);
    assert!(!dir.exists(), "the duplicate was removed");
    assert_eq!(fs::read(f.store.layer_dir(&a).join("x")).unwrap(), b"same");
}

#[test]
fn add_layer_refuses_what_cannot_become_a_layer() {
    let f = fixture();
    let refused = |dir: &Path| match f.store.add_layer(dir, &PackOptions::default()) {
        Err(ImageError::LayerDir { dir: d, .. }) => assert_eq!(d, dir),
        other => panic!("{}: {other:?}", dir.display()),
    };
    let file = f.stage.join("file");
    fs::write(&file, "x").unwrap();
    refused(&file);
    let real = f.step("real", &[("x", "y")]);
    let link = f.stage.join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    refused(&link);
    let in_tmp = f.store.tmp_dir().join("step");
    fs::create_dir(&in_tmp).unwrap();
    refused(&in_tmp);
    let l = f.layer("l", &[("y", "z")]);
    refused(&f.store.layer_dir(&l));
    assert!(real.join("x").is_file(), "nothing was moved");
    // Another filesystem (when the machine has one at hand): moved, not copied, so refused.
    let shm = Path::new("/dev/shm");
    if fs::metadata(shm).is_ok_and(|m| m.dev() != fs::metadata(&f.stage).unwrap().dev()) {
        let other = tempfile::tempdir_in(shm).unwrap();
        refused(other.path());
    }
}

/// A container's output: owned by others, with modes that shut everyone but root out.
#[test]
#[ignore = "needs root"]
fn add_layer_takes_a_tree_with_any_owner_and_mode() {
    assert!(rustix::process::geteuid().is_root(), "run as root");
    let f = fixture();
    let dir = f.step("s", &[("locked/secret", "s3cret"), ("top", "t")]);
    std::os::unix::fs::lchown(dir.join("locked/secret"), Some(1234), Some(1234)).unwrap();
    std::os::unix::fs::lchown(dir.join("locked"), Some(1234), Some(1234)).unwrap();
    for (rel, mode) in [("locked/secret", 0), ("locked", 0), ("top", 0), ("", 0)] {
        fs::set_permissions(dir.join(rel), fs::Permissions::from_mode(mode)).unwrap();
    }
    let l = f.store.add_layer(&dir, &PackOptions::default()).unwrap();
    let ldir = f.store.layer_dir(&l);
    let md = fs::metadata(ldir.join("locked/secret")).unwrap();
    assert_eq!((md.uid(), md.mode() & 0o7777), (1234, 0));
    assert_eq!(fs::read(ldir.join("locked/secret")).unwrap(), b"s3cret");
    // Removing a duplicate of it works too.
    let dup = f.step("dup", &[("locked/secret", "s3cret"), ("top", "t")]);
    std::os::unix::fs::lchown(dup.join("locked/secret"), Some(1234), Some(1234)).unwrap();
    std::os::unix::fs::lchown(dup.join("locked"), Some(1234), Some(1234)).unwrap();
    for (rel, mode) in [("locked/secret", 0), ("locked", 0), ("top", 0), ("", 0)] {
        fs::set_permissions(dup.join(rel), fs::Permissions::from_mode(mode)).unwrap();
    }
    assert_eq!(f.store.add_layer(&dup, &PackOptions::default()).unwrap(), l);
    assert!(!dup.exists());
}

#[test]
fn add_image_makes_a_resolvable_listed_image() {
    let f = fixture();
    let base = f.layer("base", &[("bin/tool", "v1")]);
    let top = f.layer("top", &[("app/main.sh", "echo hi")]);
    let layers = vec![base.clone(), top.clone()];
    let id = f
        .store
        .add_image(config("/app/main.sh"), &layers, &[name("app:1")])
        .unwrap();
    // The id is the digest of the config as stored, keys sorted, rootfs set from the layers.
    let record = f.store.read_record(&id).unwrap();
    let data = f.store.read_blob(&record.config.digest).unwrap();
    assert_eq!(fsutil::sha256_digest(&data), id);
    let text = String::from_utf8(data.clone()).unwrap();
    let keys = [
        "\"architecture\"",
        "\"config\"",
        "\"created\"",
        "\"history\"",
        "\"os\"",
        "\"rootfs\"",
    ];
    let at: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "sorted keys: {text}");
    let raw: Value = serde_json::from_slice(&data).unwrap();
    assert_eq!(
        raw["rootfs"],
        json!({"type": "layers", "diff_ids": [base.diff_id, top.diff_id]})
    );
    // The manifest names the config and the layer blobs.
    let manifest: Value =
        serde_json::from_slice(&f.store.read_blob(&record.manifest.digest).unwrap()).unwrap();
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(manifest["mediaType"], MEDIA_TYPE_MANIFEST);
    assert_eq!(manifest["config"]["digest"], json!(id));
    assert_eq!(manifest["config"]["mediaType"], MEDIA_TYPE_CONFIG);
    assert_eq!(manifest["layers"][1]["digest"], json!(top.blob.digest));
    assert_eq!(manifest["layers"][1]["size"], json!(top.blob.size));
    // Resolvable by name and id, layers topmost first, ready to be lower dirs.
    for input in ["app:1", id.as_str(), &id[7..19]] {
        let image = f.store.resolve(input).unwrap();
        assert_eq!(image.id, id);
        assert_eq!(
            image.layer_dirs,
            vec![f.store.layer_dir(&top), f.store.layer_dir(&base)]
        );
        assert_eq!(image.repo_tags, ["app:1"]);
        assert_eq!(image.size, 2 + 7);
        assert_eq!(
            image
                .config
                .config()
                .as_ref()
                .unwrap()
                .working_dir()
                .as_deref(),
            Some("/app")
        );
    }
    assert_eq!(f.store.layers_of("app:1").unwrap(), layers);
    let listed = f.store.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].repo_tags, [name("app:1")]);
    assert_eq!(listed[0].created.as_deref(), Some("2024-02-03T04:05:06Z"));
    // What push reads (registry/push.rs `local_image`, `push_blob`): the record through the
    // name's tag, and every blob it names, whole, at `blob_path`.
    let tags = f.store.read_tags().unwrap();
    assert_eq!(tags.get(&name("app:1").to_string()), Some(&id));
    for b in [&record.manifest, &record.config, &base.blob, &top.blob] {
        assert!(f.store.has_blob(&b.digest, b.size), "{}", b.digest);
    }
}

#[test]
fn the_same_image_twice_has_one_id_and_a_name_moves_to_the_newer_image() {
    let f = fixture();
    let l = f.layer("l", &[("a", "1")]);
    let first = f
        .store
        .add_image(config("/a"), std::slice::from_ref(&l), &[name("app:1")])
        .unwrap();
    // Same content, keys in another order: same id.
    let mut reordered = serde_json::Map::new();
    for (k, v) in config("/a").as_object().unwrap().iter().rev() {
        reordered.insert(k.clone(), v.clone());
    }
    let again = f
        .store
        .add_image(
            Value::Object(reordered),
            std::slice::from_ref(&l),
            &[name("app:1"), name("app:extra")],
        )
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(f.store.records().unwrap().len(), 1);
    assert_eq!(f.store.resolve("app:extra").unwrap().id, first);
    // A rebuild with another config takes the names; the old image stays, nameless, listed
    // (`<none>` in `images`), and dangling: what `image prune` without -a takes.
    let second = f
        .store
        .add_image(
            config("/b"),
            std::slice::from_ref(&l),
            &[name("app:1"), name("app:extra")],
        )
        .unwrap();
    assert_ne!(second, first);
    assert_eq!(f.store.resolve("app:1").unwrap().id, second);
    assert_eq!(f.store.resolve("app:extra").unwrap().id, second);
    let listed = f.store.list().unwrap();
    assert_eq!(listed.len(), 2);
    let old = listed.iter().find(|s| s.id == first).unwrap();
    assert!(old.repo_tags.is_empty());
    let report = f.store.prune(false, &BTreeSet::new()).unwrap();
    assert_eq!(report.events, [RemoveEvent::Deleted(first.clone())]);
    // The shared layer stays for the image that has the name.
    assert!(f.store.resolve("app:1").unwrap().layer_dirs[0]
        .join("a")
        .is_file());
}

#[test]
fn add_image_refuses_a_bad_config_unknown_layers_and_digest_names() {
    let f = fixture();
    let l = f.layer("l", &[("a", "1")]);
    assert!(matches!(
        f.store.add_image(json!([1]), std::slice::from_ref(&l), &[]),
        Err(ImageError::NewImage(_))
    ));
    assert!(matches!(
        f.store
            .add_image(json!({"os": "linux"}), std::slice::from_ref(&l), &[]),
        Err(ImageError::Json { .. })
    ));
    let by_digest = format!("app@sha256:{}", "a".repeat(64));
    assert!(matches!(
        f.store
            .add_image(config("/a"), std::slice::from_ref(&l), &[name(&by_digest)]),
        Err(ImageError::NewImage(_))
    ));
    let mut unknown = l.clone();
    unknown.diff_id = format!("sha256:{}", "b".repeat(64));
    assert!(matches!(
        f.store.add_image(config("/a"), &[unknown], &[]),
        Err(ImageError::NotFound(_))
    ));
    let mut no_blob = l.clone();
    no_blob.blob.digest = format!("sha256:{}", "c".repeat(64));
    assert!(matches!(
        f.store.add_image(config("/a"), &[no_blob], &[]),
        Err(ImageError::NotFound(_))
    ));
    assert!(f.store.records().unwrap().is_empty());
}

/// `image save` of a built image loads into another store as the same image.
#[test]
fn a_built_image_saves_and_loads_elsewhere_as_the_same_image() {
    let f = fixture();
    let l = f.layer("l", &[("etc/built", "yes")]);
    let id = f
        .store
        .add_image(config("/a"), &[l], &[name("built:1")])
        .unwrap();
    let mut archive = Vec::new();
    f.store
        .save(&["built:1".to_string()], &mut archive)
        .unwrap();
    let other = fixture();
    let loaded = other.store.load_archive(&archive[..]).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].id, id);
    assert_eq!(loaded[0].names, [name("built:1")]);
    let image = other.store.resolve("built:1").unwrap();
    assert_eq!(
        fs::read(image.layer_dirs[0].join("etc/built")).unwrap(),
        b"yes"
    );
    assert_eq!(
        other.store.read_record(&id).unwrap().manifest,
        f.store.read_record(&id).unwrap().manifest
    );
}

/// A built image on top of a loaded one: `rmi` removes what only it used, and leaves the
/// base image whole.
#[test]
fn rmi_of_a_built_image_removes_its_own_layers_only() {
    let f = fixture();
    let data = TestImage::default().archive(ArchiveFormat::Oci).unwrap();
    let base_id = f.store.load_archive(&data[..]).unwrap()[0].id.clone();
    let mut layers = f.store.layers_of(&base_id).unwrap();
    let own = f.layer("own", &[("etc/own", "mine")]);
    layers.push(own.clone());
    let id = f
        .store
        .add_image(config("/bin/sh"), &layers, &[name("mine:1")])
        .unwrap();
    let image = f.store.resolve("mine:1").unwrap();
    assert!(image.layer_dirs[1].join("bin/busybox").exists());
    let events = f.store.remove("mine:1", false).unwrap();
    assert_eq!(
        events,
        [
            RemoveEvent::Untagged("mine:1".into()),
            RemoveEvent::Deleted(id),
            RemoveEvent::Deleted(own.diff_id.clone())
        ]
    );
    assert!(!f.store.layer_dir(&own).exists());
    assert!(!f.store.blob_path(&own.blob.digest).exists());
    let base = f.store.resolve(&base_id).unwrap();
    assert!(base.layer_dirs.iter().all(|d| d.is_dir()));
}
