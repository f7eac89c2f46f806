//! End-to-end tests of the image store features Docker users expect: `image ls --digests`,
//! `--no-trunc`, `image save` / `image load` round trips in both archive formats, and
//! `image prune` (the engine part needs root: it creates a container).

mod support {
    #[path = "cli.rs"]
    pub mod cli;
    #[path = "engine.rs"]
    pub mod engine;
}

use std::io::Read;
use std::path::{Path, PathBuf};

use compose::engine::image::testimage::{ArchiveFormat, TestImage};
use support::cli::{Compose, Output};
use support::engine::{ok, Fixture};

/// `compose --root ROOT ARGS` in `dir`.
fn run(dir: &Path, root: &Path, args: &[&str]) -> Output {
    Compose::new(dir)
        .args(&["--root", root.to_str().expect("utf-8 root")])
        .args(args)
        .run()
}

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("compose-test-image-store-")
        .tempdir()
        .expect("temp dir")
}

fn load(dir: &Path, root: &Path, img: &TestImage, format: ArchiveFormat) -> String {
    let path = img.write(dir, format).expect("write test image");
    run(
        dir,
        root,
        &["image", "load", "-i", path.to_str().expect("utf-8")],
    )
    .ok();
    img.id().expect("image id")
}

/// The columns of a table row (separated by 3+ spaces).
fn cells(line: &str) -> Vec<&str> {
    line.split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Adds the name `repository@digest` for the image `id`, as a pull records it.
fn record_pulled_digest(root: &Path, repository: &str, digest: &str, id: &str) {
    let tags_path = root.join("images/tags.json");
    let mut tags: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&tags_path).expect("tags.json")).expect("json");
    tags.insert(
        format!("{repository}@{digest}"),
        serde_json::Value::String(id.to_string()),
    );
    std::fs::write(&tags_path, serde_json::to_vec(&tags).expect("json")).expect("tags.json");
}

/// Docker's `image ls --digests`: a DIGEST column after TAG, the registry's digest for a name a
/// pull recorded (`name@sha256:…` in tags.json, written here as a pull writes it), `<none>`
/// for a loaded image; `--no-trunc` shows the full id; `--format json` carries the digest
/// when `--digests` is given (as Docker's formatter does) and `<none>` otherwise.
#[test]
fn image_ls_digests_and_no_trunc_like_docker() {
    let t = tmp();
    let root = t.path().join("root");
    let id = load(t.path(), &root, &TestImage::default(), ArchiveFormat::Oci);
    let other = TestImage {
        name: "ghcr.io/o/app:1".into(),
        labels: [("x".to_string(), "y".to_string())].into(),
        ..TestImage::default()
    };
    let other_id = load(t.path(), &root, &other, ArchiveFormat::Docker);
    let digest = format!("sha256:{}", "d".repeat(64));
    record_pulled_digest(&root, "ghcr.io/o/app", &digest, &other_id);

    let out = run(t.path(), &root, &["image", "ls", "--digests"]);
    let text = out.ok();
    let mut lines = text.lines();
    let header = cells(lines.next().expect("header"));
    assert_eq!(
        header,
        ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"]
    );
    let mut rows: Vec<Vec<&str>> = lines.map(cells).collect();
    rows.sort();
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(rows[0][..4], ["busybox", "latest", "<none>", &id[7..19]]);
    assert_eq!(
        rows[1][..4],
        ["ghcr.io/o/app", "1", digest.as_str(), &other_id[7..19]]
    );

    // Without --digests: no column, and the digest-only name adds no row.
    let text = run(t.path(), &root, &["image", "ls"]).ok().to_string();
    assert!(!text.contains("DIGEST"), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");

    let text = run(t.path(), &root, &["image", "ls", "--no-trunc", "-q"])
        .ok()
        .to_string();
    let mut ids: Vec<&str> = text.lines().collect();
    ids.sort();
    let mut want = vec![id.as_str(), other_id.as_str()];
    want.sort();
    assert_eq!(ids, want);

    let json_rows = |args: &[&str]| -> Vec<serde_json::Value> {
        run(t.path(), &root, args)
            .ok()
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    };
    let rows = json_rows(&["image", "ls", "--format", "json", "--digests", "--no-trunc"]);
    let app = rows
        .iter()
        .find(|r| r["Repository"] == "ghcr.io/o/app")
        .expect("app row");
    assert_eq!(app["Digest"], digest.as_str());
    assert_eq!(app["ID"], other_id.as_str());
    let rows = json_rows(&["image", "ls", "--format", "json"]);
    assert!(rows.iter().all(|r| r["Digest"] == "<none>"), "{rows:?}");
}

/// Rewrites the tar at `src` into `dst` without the entries `drop` names.
fn filter_tar(src: &Path, dst: &Path, drop: &[&str]) {
    let mut input = tar::Archive::new(std::fs::File::open(src).expect("open archive"));
    let mut out = tar::Builder::new(std::fs::File::create(dst).expect("create archive"));
    for entry in input.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        if drop.contains(&path.as_str()) {
            continue;
        }
        let mut header = entry.header().clone();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read entry");
        header.set_cksum();
        out.append(&header, &data[..]).expect("append");
    }
    out.finish().expect("finish");
}

/// `image save` writes an OCI layout that is also a docker archive (Docker ≥ 25 does the same):
/// each half alone loads back into a fresh store with the same image id, names and manifest
/// digest, for images first loaded from either format, several images in one archive.
#[test]
fn save_then_load_round_trips_in_both_formats() {
    let t = tmp();
    let root = t.path().join("root");
    let a = TestImage {
        name: "a.example/x/app:v1".into(),
        two_layers: true,
        ..TestImage::default()
    };
    let b = TestImage {
        name: "busybox:1".into(),
        labels: [("b".to_string(), "yes".to_string())].into(),
        ..TestImage::default()
    };
    let a_id = load(t.path(), &root, &a, ArchiveFormat::Docker);
    let b_id = load(t.path(), &root, &b, ArchiveFormat::Oci);
    let inspect = |root: &Path, name: &str| -> serde_json::Value {
        let out = run(t.path(), root, &["image", "inspect", name]);
        let v: serde_json::Value = serde_json::from_str(out.ok()).expect("inspect json");
        v[0].clone()
    };
    let before_a = inspect(&root, "a.example/x/app:v1");
    let before_b = inspect(&root, "busybox:1");

    let saved = t.path().join("saved.tar");
    run(
        t.path(),
        &root,
        &[
            "image",
            "save",
            "-o",
            saved.to_str().expect("utf-8"),
            "a.example/x/app:v1",
            "busybox:1",
        ],
    )
    .ok();
    let docker_only = t.path().join("docker-only.tar");
    filter_tar(&saved, &docker_only, &["index.json", "oci-layout"]);
    let oci_only = t.path().join("oci-only.tar");
    filter_tar(&saved, &oci_only, &["manifest.json"]);

    for (i, archive) in [&saved, &docker_only, &oci_only].iter().enumerate() {
        let root2: PathBuf = t.path().join(format!("root-{i}"));
        let out = run(
            t.path(),
            &root2,
            &["image", "load", "-i", archive.to_str().expect("utf-8")],
        );
        let mut loaded: Vec<&str> = out.ok().lines().collect();
        loaded.sort();
        assert_eq!(
            loaded,
            [
                "Loaded image: a.example/x/app:v1",
                "Loaded image: busybox:1"
            ],
            "{archive:?}"
        );
        for (name, id, before) in [
            ("a.example/x/app:v1", &a_id, &before_a),
            ("busybox:1", &b_id, &before_b),
        ] {
            let after = inspect(&root2, name);
            assert_eq!(after["Id"], id.as_str(), "{archive:?}");
            for key in ["RepoTags", "RepoDigests", "RootFS", "Config", "Size"] {
                assert_eq!(after[key], before[key], "{key} of {name} from {archive:?}");
            }
        }
    }
}

const PROJECT: &str = "\
services:
  web:
    image: busybox
    command: [sleep, \"1000\"]
    network_mode: none
";

/// Docker's `image prune`: the prompt (a "no" removes nothing), dangling images only without
/// `-a`, every unused image with `-a`, and never an image a container uses, even a stopped
/// (created) one; "Deleted Images:" then "Total reclaimed space:".
#[test]
#[ignore = "needs root"]
fn image_prune_never_removes_an_image_a_container_uses() {
    require_engine!();
    let mut f = Fixture::new(PROJECT);
    ok(&f, &["create"]);
    let busybox_id = TestImage::default().id().expect("id");
    // `compose images`: Docker Compose's table (no digest column); the digest of a pulled
    // image in `--format json` only (an addition of ours).
    let entries: serde_json::Value =
        serde_json::from_str(&ok(&f, &["images", "--format", "json"])).expect("json");
    assert!(entries[0].get("Digest").is_none(), "{entries}");
    let digest = format!("sha256:{}", "c".repeat(64));
    record_pulled_digest(&f.root, "docker.io/library/busybox", &digest, &busybox_id);
    let entries: serde_json::Value =
        serde_json::from_str(&ok(&f, &["images", "--format", "json"])).expect("json");
    assert_eq!(entries[0]["Digest"], digest.as_str(), "{entries}");
    assert_eq!(entries[0]["ID"], busybox_id.as_str(), "{entries}");
    let table = ok(&f, &["images"]);
    assert!(
        !table.contains("DIGEST") && !table.contains(&digest),
        "{table}"
    );
    // A dangling image: `spare:1` loaded twice with different content.
    let spare_old = TestImage {
        name: "spare:1".into(),
        labels: [("v".to_string(), "old".to_string())].into(),
        two_layers: true,
        ..TestImage::default()
    };
    let spare_new = TestImage {
        labels: [("v".to_string(), "new".to_string())].into(),
        two_layers: false,
        ..spare_old.clone()
    };
    let load_into = |img: &TestImage| {
        let path = img
            .write(f.dir.path(), ArchiveFormat::Oci)
            .expect("write image");
        ok(&f, &["image", "load", "-i", path.to_str().expect("utf-8")]);
        img.id().expect("id")
    };
    let old_id = load_into(&spare_old);
    let new_id = load_into(&spare_new);
    // The container's image loses its name: still in use, so never pruned.
    ok(&f, &["image", "tag", "busybox", "keep:1"]);
    ok(&f, &["image", "rm", "busybox"]);

    let ids = |f: &Fixture| -> Vec<String> {
        let mut v: Vec<String> = ok(f, &["image", "ls", "-q", "--no-trunc"])
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let all_three = {
        let mut v = vec![busybox_id.clone(), old_id.clone(), new_id.clone()];
        v.sort();
        v
    };
    assert_eq!(ids(&f), all_three);

    // "n" on the prompt: nothing removed.
    let out = f
        .command(&["image", "prune"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().expect("stdin").write_all(b"n\n")?;
            c.wait_with_output()
        })
        .expect("run prune");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "),
        "{text}"
    );
    assert_eq!(ids(&f), all_three);

    // Dangling only: the old `spare:1`, not the container's unnamed image.
    let text = ok(&f, &["image", "prune", "-f"]);
    assert!(
        text.starts_with(&format!("Deleted Images:\ndeleted: {old_id}\n")),
        "{text}"
    );
    assert!(text.contains("\nTotal reclaimed space: "), "{text}");
    assert!(!text.contains(&busybox_id), "{text}");
    let mut want = vec![busybox_id.clone(), new_id.clone()];
    want.sort();
    assert_eq!(ids(&f), want);

    // -a: every image no container uses; `keep:1` names the container's image and stays.
    let text = ok(&f, &["image", "prune", "-a", "--force"]);
    assert!(
        text.starts_with(&format!(
            "Deleted Images:\nuntagged: spare:1\ndeleted: {new_id}\n"
        )),
        "{text}"
    );
    assert_eq!(ids(&f), vec![busybox_id.clone()]);
    let text = ok(&f, &["image", "prune", "-a", "-f"]);
    assert_eq!(text, "Total reclaimed space: 0B\n");

    // The container still starts from its image.
    ok(&f, &["start"]);
    ok(&f, &["down", "-t", "0"]);
    // No container left: now it goes.
    let text = ok(&f, &["image", "prune", "-a", "-f"]);
    assert!(
        text.contains("untagged: keep:1\n") && text.contains(&format!("deleted: {busybox_id}\n")),
        "{text}"
    );
    assert!(ids(&f).is_empty());
    f.assert_clean();
}
