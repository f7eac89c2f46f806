//! Store tests: loading both archive formats with every compression, layering, resolve, list,
//! inspect, remove, save round trips, corrupt archives and concurrent writers.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::layer::Compression;
use super::testimage::{ArchiveFormat, TestImage, LAYER2_ADDED, LAYER2_REMOVED, OPAQUE_DIR};
use super::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("compose-test-images-")
        .tempdir()
        .unwrap()
}

fn store(dir: &Path) -> ImageStore {
    ImageStore::open(dir.join("images")).unwrap()
}

fn image(compression: Compression, two_layers: bool) -> TestImage {
    TestImage {
        compression,
        two_layers,
        ..TestImage::default()
    }
}

fn count(dir: &Path) -> usize {
    fs::read_dir(dir).unwrap().count()
}

#[test]
fn loads_every_format_and_compression() {
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        for format in [ArchiveFormat::Oci, ArchiveFormat::Docker] {
            let t = tmp();
            let s = store(t.path());
            let img = image(compression, false);
            let data = img.archive(format).unwrap();
            let loaded = s.load_archive(&data[..]).unwrap();
            assert_eq!(loaded.len(), 1, "{compression:?} {format:?}");
            assert_eq!(loaded[0].id, img.id().unwrap());
            assert_eq!(loaded[0].names[0].familiar(), "busybox:latest");
            let resolved = s.resolve("busybox").unwrap();
            assert_eq!(resolved.id, loaded[0].id);
            assert_eq!(resolved.repo_tags, vec!["busybox:latest"]);
            assert_eq!(resolved.layer_dirs.len(), 1);
            let top = &resolved.layer_dirs[0];
            assert!(top.join("bin/busybox").is_file());
            assert_eq!(
                fs::read_link(top.join("bin/sh")).unwrap(),
                Path::new("busybox")
            );
            assert!(fs::read_to_string(top.join("etc/passwd"))
                .unwrap()
                .contains("app:x:1000:1000"));
            assert_eq!(
                fs::metadata(top.join("tmp")).unwrap().mode() & 0o7777,
                0o1777
            );
            let cfg = resolved.config.config().as_ref().unwrap();
            assert_eq!(cfg.cmd().as_ref().unwrap(), &vec!["sh".to_string()]);
            // Nothing left in tmp, no stray blobs: manifest, config, one layer.
            assert_eq!(count(&s.root().join("tmp")), 0);
            assert_eq!(count(&s.root().join("blobs/sha256")), 3, "{format:?}");
            // Short directory names, as overlayfs' lowerdir limit needs.
            assert_eq!(top.file_name().unwrap().len(), 12);
        }
    }
}

#[test]
fn two_layers_with_whiteouts() {
    let t = tmp();
    let s = store(t.path());
    let img = image(Compression::Gzip, true);
    s.load_archive(&img.archive(ArchiveFormat::Oci).unwrap()[..])
        .unwrap();
    let resolved = s.resolve("busybox:latest").unwrap();
    assert_eq!(resolved.layer_dirs.len(), 2);
    let (top, base) = (&resolved.layer_dirs[0], &resolved.layer_dirs[1]);
    assert!(base.join(LAYER2_REMOVED).is_file());
    assert!(top.join(LAYER2_ADDED).is_file());
    let wh = fs::symlink_metadata(top.join(LAYER2_REMOVED)).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    let opts = layer::UnpackOptions::default();
    let mut buf = [0u8; 2];
    let n = rustix::fs::getxattr(top.join(OPAQUE_DIR), opts.opaque_xattr, &mut buf[..]).unwrap();
    assert_eq!(&buf[..n], b"y");
    assert!(top.join(OPAQUE_DIR).join("new").is_file());
    assert!(base.join(OPAQUE_DIR).join("old").is_file());
}

#[test]
fn layers_are_shared_and_formats_agree() {
    let t = tmp();
    let s = store(t.path());
    let plain = image(Compression::None, false);
    let a = s
        .load_archive(&plain.archive(ArchiveFormat::Docker).unwrap()[..])
        .unwrap();
    let b = s
        .load_archive(&plain.archive(ArchiveFormat::Oci).unwrap()[..])
        .unwrap();
    assert_eq!(a[0].id, b[0].id);
    // Another image on the same layer, compressed differently: layers are keyed by diff id,
    // so it is unpacked once.
    let other = TestImage {
        name: "app:1".into(),
        cmd: Some(vec!["echo".into(), "hi".into()]),
        ..image(Compression::Zstd, false)
    };
    s.load_archive(&other.archive(ArchiveFormat::Oci).unwrap()[..])
        .unwrap();
    let layer_dirs = fs::read_dir(s.root().join("layers"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count();
    assert_eq!(layer_dirs, 1);
    assert_ne!(s.resolve("app:1").unwrap().id, a[0].id);
    assert_eq!(
        s.resolve("app:1").unwrap().layer_dirs[0],
        s.resolve("busybox").unwrap().layer_dirs[0]
    );
}

#[test]
fn resolve_by_id_prefix_and_digest() {
    let t = tmp();
    let s = store(t.path());
    let loaded = s
        .load_archive(&TestImage::default().archive(ArchiveFormat::Oci).unwrap()[..])
        .unwrap();
    let id = &loaded[0].id;
    let hex = &id[7..];
    for input in [id.as_str(), hex, &hex[..12], &hex[..4]] {
        assert_eq!(&s.resolve(input).unwrap().id, id, "{input}");
    }
    let inspect = s.inspect("busybox").unwrap();
    let digest = inspect["RepoDigests"][0].as_str().unwrap().to_string();
    assert!(digest.starts_with("busybox@sha256:"), "{digest}");
    assert_eq!(&s.resolve(&digest).unwrap().id, id);
    assert!(matches!(s.resolve("nope"), Err(ImageError::NotFound(_))));
    assert!(matches!(s.resolve("Bad:Ref"), Err(ImageError::NotFound(_))));
}

#[test]
fn list_inspect_and_healthcheck() {
    let t = tmp();
    let s = store(t.path());
    let img = TestImage {
        name: "ghcr.io/a/b:v1".into(),
        entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
        working_dir: Some("/tmp".into()),
        user: Some("app".into()),
        labels: [("k".to_string(), "v".to_string())].into(),
        exposed_ports: vec!["80/tcp".into()],
        volumes: vec!["/data".into()],
        stop_signal: Some("SIGINT".into()),
        healthcheck: Some(
            serde_json::json!({"Test": ["CMD", "true"], "Interval": 1_000_000_000u64, "Retries": 3}),
        ),
        ..TestImage::default()
    };
    s.load_archive(&img.archive(ArchiveFormat::Docker).unwrap()[..])
        .unwrap();
    let list = s.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].repo_tags[0].familiar(), "ghcr.io/a/b:v1");
    assert_eq!(list[0].created.as_deref(), Some(testimage::CREATED));
    assert!(list[0].size > 100_000, "{}", list[0].size);
    let i = s.inspect("ghcr.io/a/b:v1").unwrap();
    assert_eq!(i["RepoTags"], serde_json::json!(["ghcr.io/a/b:v1"]));
    assert_eq!(i["Os"], "linux");
    assert_eq!(i["Architecture"], host_arch());
    assert_eq!(
        i["Config"]["Entrypoint"],
        serde_json::json!(["/bin/sh", "-c"])
    );
    assert_eq!(i["Config"]["WorkingDir"], "/tmp");
    assert_eq!(i["Config"]["User"], "app");
    assert_eq!(
        i["Config"]["ExposedPorts"],
        serde_json::json!({"80/tcp": {}})
    );
    assert_eq!(i["Config"]["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(i["Config"]["Labels"]["k"], "v");
    assert_eq!(i["Config"]["StopSignal"], "SIGINT");
    assert_eq!(i["Config"]["Healthcheck"]["Retries"], 3);
    assert_eq!(i["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    let r = s.resolve("ghcr.io/a/b:v1").unwrap();
    let h = r.healthcheck.unwrap();
    assert_eq!(h.test, vec!["CMD", "true"]);
    assert_eq!(h.interval, Some(1_000_000_000));
    assert_eq!(h.retries, Some(3));
}

#[test]
fn remove_untags_then_deletes() {
    let t = tmp();
    let s = store(t.path());
    let loaded = s
        .load_archive(
            &image(Compression::Gzip, true)
                .archive(ArchiveFormat::Oci)
                .unwrap()[..],
        )
        .unwrap();
    let id = loaded[0].id.clone();
    s.tag("busybox", "mine:2").unwrap();
    // By id with two names: refused without force.
    assert!(matches!(s.remove(&id, false), Err(ImageError::Conflict(_))));
    let ev = s.remove("mine:2", false).unwrap();
    assert_eq!(ev, vec![RemoveEvent::Untagged("mine:2".into())]);
    assert!(s.resolve(&id).is_ok());
    let ev = s.remove("busybox", false).unwrap();
    assert_eq!(ev[0], RemoveEvent::Untagged("busybox:latest".into()));
    assert_eq!(ev[1], RemoveEvent::Deleted(id.clone()));
    assert_eq!(ev.len(), 4, "{ev:?}"); // image + 2 layers
    assert!(matches!(s.resolve(&id), Err(ImageError::NotFound(_))));
    assert_eq!(count(&s.root().join("layers")), 0);
    assert_eq!(count(&s.root().join("blobs/sha256")), 0);
    assert_eq!(count(&s.root().join("images")), 0);
    // Force by id removes all names.
    s.load_archive(&TestImage::default().archive(ArchiveFormat::Oci).unwrap()[..])
        .unwrap();
    s.tag("busybox", "x").unwrap();
    let ev = s
        .remove(&TestImage::default().id().unwrap()[7..19], true)
        .unwrap();
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, RemoveEvent::Untagged(_)))
            .count(),
        2
    );
    assert!(s.list().unwrap().is_empty());
}

/// Every file under `dir` with its size and mtime: what a dry run must leave as it was.
fn files(dir: &Path) -> Vec<(std::path::PathBuf, u64, i64, i64)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let m = e.metadata().unwrap();
            out.push((e.path(), m.len(), m.mtime(), m.mtime_nsec()));
            if m.is_dir() {
                todo.push(e.path());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn check_remove_answers_as_remove_and_changes_nothing() {
    let t = tmp();
    let s = store(t.path());
    let loaded = s
        .load_archive(&TestImage::default().archive(ArchiveFormat::Oci).unwrap()[..])
        .unwrap();
    let id = loaded[0].id.clone();
    s.tag("busybox", "mine:2").unwrap();
    let before = files(s.root());
    assert!(matches!(
        s.check_remove(&id, false),
        Err(ImageError::Conflict(_))
    ));
    assert!(matches!(
        s.check_remove("nosuch:1", false),
        Err(ImageError::NotFound(_))
    ));
    assert_eq!(
        s.check_remove("mine:2", false).unwrap(),
        [RemoveEvent::Untagged("mine:2".into())]
    );
    let forced = s.check_remove(&id, true).unwrap();
    assert_eq!(forced.len(), 3, "{forced:?}");
    assert_eq!(forced[2], RemoveEvent::Deleted(id.clone()));
    assert_eq!(files(s.root()), before);
    // The real removal says the same (then the layers it freed).
    let real = s.remove(&id, true).unwrap();
    assert_eq!(real[..3], forced[..]);
}

#[test]
fn prunable_names_what_prune_removes_and_changes_nothing() {
    let t = tmp();
    let s = store(t.path());
    s.load_archive(&TestImage::default().archive(ArchiveFormat::Oci).unwrap()[..])
        .unwrap();
    let newer = TestImage {
        cmd: Some(vec!["true".into()]),
        ..TestImage::default()
    };
    s.load_archive(&newer.archive(ArchiveFormat::Oci).unwrap()[..])
        .unwrap();
    let before = files(s.root());
    let none = std::collections::BTreeSet::new();
    let dangling = s.prunable(false, &none).unwrap();
    assert_eq!(dangling, [(TestImage::default().id().unwrap(), vec![])]);
    let all = s.prunable(true, &none).unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(files(s.root()), before);
    let report = s.prune(false, &none).unwrap();
    assert!(report
        .events
        .contains(&RemoveEvent::Deleted(dangling[0].0.clone())));
}

#[test]
fn retagging_leaves_a_dangling_image() {
    let t = tmp();
    let s = store(t.path());
    s.load_archive(&TestImage::default().archive(ArchiveFormat::Oci).unwrap()[..])
        .unwrap();
    let newer = TestImage {
        cmd: Some(vec!["true".into()]),
        ..TestImage::default()
    };
    s.load_archive(&newer.archive(ArchiveFormat::Oci).unwrap()[..])
        .unwrap();
    let list = s.list().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|i| i.repo_tags.is_empty()).count(), 1);
    assert_eq!(s.resolve("busybox").unwrap().id, newer.id().unwrap());
}

#[test]
fn save_and_load_round_trip() {
    let t = tmp();
    let s = store(t.path());
    let img = image(Compression::Zstd, true);
    s.load_archive(&img.archive(ArchiveFormat::Docker).unwrap()[..])
        .unwrap();
    s.tag("busybox", "localhost:5000/bb:2").unwrap();
    let mut out = Vec::new();
    s.save(&["busybox".into(), "localhost:5000/bb:2".into()], &mut out)
        .unwrap();
    let mut again = Vec::new();
    s.save(
        &["busybox".into(), "localhost:5000/bb:2".into()],
        &mut again,
    )
    .unwrap();
    assert_eq!(out, again, "save is deterministic");
    let t2 = tmp();
    let s2 = store(t2.path());
    let loaded = s2.load_archive(&out[..]).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].id, img.id().unwrap());
    let mut names: Vec<String> = loaded[0].names.iter().map(|n| n.familiar()).collect();
    names.sort();
    assert_eq!(names, vec!["busybox:latest", "localhost:5000/bb:2"]);
    let r = s2.resolve("localhost:5000/bb:2").unwrap();
    assert_eq!(r.layer_dirs.len(), 2);
    assert!(r.layer_dirs[0].join(LAYER2_ADDED).is_file());
    // Docker's manifest.json is there too, pointing at the blobs.
    let mut archive = tar::Archive::new(&out[..]);
    let mut found = false;
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap() == Path::new("manifest.json") {
            let v: serde_json::Value = serde_json::from_reader(&mut e).unwrap();
            assert_eq!(v[0]["Layers"].as_array().unwrap().len(), 2);
            found = true;
        }
    }
    assert!(found);
    // Saved by id: no names.
    let mut by_id = Vec::new();
    s.save(&[img.id().unwrap()], &mut by_id).unwrap();
    let t3 = tmp();
    let loaded = store(t3.path()).load_archive(&by_id[..]).unwrap();
    assert!(loaded[0].names.is_empty());
}

#[test]
fn corrupt_archives_leave_nothing() {
    let img = image(Compression::Gzip, false);
    let good = img.archive(ArchiveFormat::Oci).unwrap();
    // Flip one byte inside the layer blob's data (the first file after oci-layout).
    let mut bad = good.clone();
    let pos = 512 * 3 + 100;
    bad[pos] ^= 0xff;
    let t = tmp();
    let s = store(t.path());
    let err = s.load_archive(&bad[..]).unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    assert_eq!(count(&s.root().join("blobs/sha256")), 0);
    assert_eq!(count(&s.root().join("tmp")), 0);
    assert!(s.list().unwrap().is_empty());
    // Not an image archive at all.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(1);
    h.set_mode(0o644);
    b.append_data(&mut h, "hello", &b"x"[..]).unwrap();
    let err = s.load_archive(&b.into_inner().unwrap()[..]).unwrap_err();
    assert!(err.to_string().contains("index.json"), "{err}");
    assert_eq!(count(&s.root().join("blobs/sha256")), 0);
    // Layer tar whose uncompressed digest does not match the config's diff id.
    let t2 = tmp();
    let s2 = store(t2.path());
    let docker = image(Compression::None, false)
        .archive(ArchiveFormat::Docker)
        .unwrap();
    let mut archive = tar::Archive::new(&docker[..]);
    let mut rebuilt = tar::Builder::new(Vec::new());
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        if path.ends_with("layer.tar") {
            let last = data.len() - 1024 - 10;
            data[last] ^= 1; // inside the last file's content
        }
        let mut h = e.header().clone();
        rebuilt.append_data(&mut h, &path, &data[..]).unwrap();
    }
    let err = s2
        .load_archive(&rebuilt.into_inner().unwrap()[..])
        .unwrap_err();
    assert!(
        matches!(
            err,
            ImageError::DigestMismatch { .. } | ImageError::Layer { .. }
        ),
        "{err}"
    );
    assert_eq!(count(&s2.root().join("layers")), 0);
    assert_eq!(count(&s2.root().join("blobs/sha256")), 0);
}

#[test]
fn refuses_layer_escapes_through_the_store() {
    // A docker archive whose layer tries `../`: refused, error names the entry, nothing
    // written next to the store.
    let t = tmp();
    let s = store(t.path());
    let mut layer = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..13].copy_from_slice(b"../../../pwnd");
    h.set_size(1);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    layer.append(&h, &b"x"[..]).unwrap();
    let layer = layer.into_inner().unwrap();
    let diff_id = crate::engine::fsutil::sha256_digest(&layer);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": host_arch(), "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }))
    .unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |p: &str, d: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, p, d).unwrap();
    };
    add("c.json", &config);
    add("l/layer.tar", &layer);
    add(
        "manifest.json",
        br#"[{"Config":"c.json","RepoTags":["evil:1"],"Layers":["l/layer.tar"]}]"#,
    );
    let err = s.load_archive(&b.into_inner().unwrap()[..]).unwrap_err();
    assert!(err.to_string().contains("../../../pwnd"), "{err}");
    let mut top: Vec<_> = fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    top.sort();
    assert_eq!(top, vec!["images"]);
    assert_eq!(count(&s.root().join("layers")), 0);
    assert!(s.list().unwrap().is_empty());
}

#[test]
fn concurrent_loads_do_not_corrupt() {
    let t = tmp();
    let root = t.path().join("images");
    let a = image(Compression::Gzip, true)
        .archive(ArchiveFormat::Oci)
        .unwrap();
    let b = TestImage {
        name: "other:1".into(),
        ..image(Compression::Zstd, true)
    }
    .archive(ArchiveFormat::Docker)
    .unwrap();
    let handles: Vec<_> = [a, b]
        .into_iter()
        .cycle()
        .take(4)
        .map(|data| {
            let root = root.clone();
            std::thread::spawn(move || {
                ImageStore::open(root)
                    .unwrap()
                    .load_archive(&data[..])
                    .unwrap()
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let s = ImageStore::open(root).unwrap();
    // Same config under two names: one image, two tags.
    let list = s.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].repo_tags.len(), 2);
    assert!(s.resolve("busybox").is_ok() && s.resolve("other:1").is_ok());
    assert_eq!(count(&s.root().join("layers")), 4); // 2 dirs + 2 markers
    assert_eq!(count(&s.root().join("tmp")), 0);
}

/// Unmounts on drop, so a failing assertion leaves no mount behind.
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = rustix::mount::unmount(&self.0, rustix::mount::UnmountFlags::DETACH);
    }
}

#[test]
#[ignore = "needs root"]
fn overlayfs_applies_whiteouts_and_opaque_dirs() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipping overlayfs_applies_whiteouts_and_opaque_dirs: needs root to mount");
        return;
    }
    let t = tmp();
    let s = store(t.path());
    s.load_archive(
        &image(Compression::Zstd, true)
            .archive(ArchiveFormat::Docker)
            .unwrap()[..],
    )
    .unwrap();
    let img = s.resolve("busybox").unwrap();
    let merged = t.path().join("merged");
    fs::create_dir(&merged).unwrap();
    let lower: Vec<String> = img
        .layer_dirs
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let data = std::ffi::CString::new(format!("lowerdir={}", lower.join(":"))).unwrap();
    rustix::mount::mount(
        "overlay",
        &merged,
        "overlay",
        rustix::mount::MountFlags::RDONLY,
        Some(data.as_c_str()),
    )
    .unwrap();
    let _guard = Unmount(merged.clone());
    assert!(merged.join("bin/busybox").is_file());
    assert!(merged.join(LAYER2_ADDED).is_file());
    assert!(!merged.join(LAYER2_REMOVED).exists(), "whiteout ignored");
    assert!(merged.join(OPAQUE_DIR).join("new").is_file());
    assert!(
        !merged.join(OPAQUE_DIR).join("old").exists(),
        "opaque dir ignored"
    );
    let passwd = fs::read_to_string(merged.join("etc/passwd")).unwrap();
    assert!(passwd.starts_with("root:x:0:0:"));
}

#[test]
fn a_diff_id_that_is_not_hex_cannot_name_a_directory_outside_the_store() {
    // The first 12 characters of a diff id name the layer's directory; a hostile config
    // (from an archive or a registry) with `sha256:../../sentry…` would point it at a sibling
    // of the store, which a left-over check then removes. It must be refused before any path
    // is built from it.
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("a/b");
    std::fs::create_dir_all(base.join("sentry")).unwrap();
    std::fs::write(base.join("sentry/keep"), b"x").unwrap();
    let store = ImageStore::open(base.join("store")).unwrap();
    let hostile = format!("sha256:../../sentry{}", "a".repeat(52));
    assert_eq!(hostile.len(), 71);
    assert!(store.existing_layer(&hostile).is_err());
    assert!(store.ensure_layer(&hostile, "sha256:00").is_err());
    assert!(
        base.join("sentry/keep").exists(),
        "a directory outside the store was removed"
    );
}

#[test]
fn a_failed_step_tells_what_it_could_not_remove_and_gone_is_fine() {
    use super::store::leftover;
    let gone = leftover(
        Path::new("/s/tmp/blob-1"),
        Err(std::io::Error::from_raw_os_error(libc::ENOENT)),
    );
    assert!(gone.is_none(), "already gone is not a leftover");
    assert!(leftover(Path::new("/s/tmp/blob-1"), Ok(())).is_none());
    let left = leftover(
        Path::new("/s/tmp/layer-1"),
        Err(std::io::Error::from_raw_os_error(libc::EBUSY)),
    );
    let e = ImageError::Corrupt("bad".into()).with_leftovers(left);
    assert!(
        matches!(&e, ImageError::Undo { left, .. } if left[0].0 == Path::new("/s/tmp/layer-1")),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .starts_with("store is corrupt: bad; and removing /s/tmp/layer-1 again: "),
        "{e}"
    );
    let unchanged = ImageError::Corrupt("bad".into()).with_leftovers(None);
    assert!(matches!(unchanged, ImageError::Corrupt(_)), "{unchanged:?}");
}
