//! End-to-end tests of `compose image load|ls|inspect|save|rm|tag`: the real binary with its
//! own `--root` in a temporary directory, fed archives made by `engine::image::testimage`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use compose::engine::image::layer::Compression;
use compose::engine::image::testimage::{ArchiveFormat, TestImage, LAYER2_ADDED};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        &self.stdout
    }
}

fn compose(root: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_compose"));
    cmd.arg("--root").arg(root).args(args);
    cmd.env_remove("COMPOSE_ROOT");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("running compose");
    if let Some(data) = stdin {
        let mut s = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = s.write_all(&data);
        });
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("compose-test-image-cli-")
        .tempdir()
        .unwrap()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("invalid JSON ({e}):\n{text}"))
}

#[test]
fn load_both_formats_gzip_and_zstd() {
    let t = tmp();
    let root = t.path().join("root");
    let cases = [
        ("oci-gz:1", ArchiveFormat::Oci, Compression::Gzip),
        ("oci-zst:1", ArchiveFormat::Oci, Compression::Zstd),
        ("docker-gz:1", ArchiveFormat::Docker, Compression::Gzip),
        ("docker-zst:1", ArchiveFormat::Docker, Compression::Zstd),
        ("docker-plain:1", ArchiveFormat::Docker, Compression::None),
    ];
    for (i, (name, format, compression)) in cases.iter().enumerate() {
        let img = TestImage {
            name: name.to_string(),
            compression: *compression,
            two_layers: true,
            // Distinct images, so each load creates one.
            env: vec![format!("N={i}")],
            ..TestImage::default()
        };
        let path = img.write(t.path(), *format).unwrap();
        let out = compose(
            &root,
            &["image", "load", "-i", path.to_str().unwrap()],
            None,
        );
        assert_eq!(out.ok(), format!("Loaded image: {name}\n"));
    }
    let ls = compose(&root, &["image", "ls", "--format", "json"], None);
    let rows: Vec<serde_json::Value> = ls.ok().lines().map(json).collect();
    assert_eq!(rows.len(), cases.len());
    for (name, _, _) in cases {
        let (repo, tag) = name.split_once(':').unwrap();
        assert!(
            rows.iter()
                .any(|r| r["Repository"] == repo && r["Tag"] == tag),
            "{name} missing from {rows:?}"
        );
    }
    // The second layer's file is in every image's top layer dir.
    let layers = root.join("images/layers");
    let count = std::fs::read_dir(&layers)
        .unwrap()
        .filter(|e| {
            let p = e.as_ref().unwrap().path();
            p.is_dir() && p.join(LAYER2_ADDED).exists()
        })
        .count();
    assert_eq!(count, 1, "the second layer is shared by all five images");
}

#[test]
fn load_from_stdin_ls_inspect_save_rm() {
    let t = tmp();
    let root = t.path().join("root");
    let img = TestImage {
        labels: [("org.example".to_string(), "yes".to_string())].into(),
        exposed_ports: vec!["8080/tcp".into()],
        ..TestImage::default()
    };
    let id = img.id().unwrap();
    let data = img.archive(ArchiveFormat::Oci).unwrap();
    let out = compose(&root, &["image", "load"], Some(&data));
    assert_eq!(out.ok(), "Loaded image: busybox:latest\n");
    let out = compose(&root, &["image", "load", "-q"], Some(&data));
    assert_eq!(out.ok(), "Loaded image: busybox:latest\n");

    // Table.
    let out = compose(&root, &["image", "ls"], None);
    let text = out.ok();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("REPOSITORY   TAG       IMAGE ID       CREATED"),
        "{header}"
    );
    assert!(header.ends_with("SIZE"));
    let row: Vec<&str> = lines
        .next()
        .unwrap()
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(row[0], "busybox");
    assert_eq!(row[1], "latest");
    assert_eq!(row[2], &id[7..19]);
    assert!(row[3].ends_with(" ago"), "{row:?}");
    assert!(row[4].ends_with("MB") || row[4].ends_with("kB"), "{row:?}");
    assert!(lines.next().is_none());
    let out = compose(&root, &["image", "ls", "-q"], None);
    assert_eq!(out.ok(), format!("{}\n", &id[7..19]));

    // Inspect.
    let out = compose(&root, &["image", "inspect", "busybox"], None);
    let v = json(out.ok());
    assert!(
        out.stdout.starts_with("[\n    {\n        \"Id\""),
        "{}",
        out.stdout
    );
    assert_eq!(v[0]["Id"], id);
    assert_eq!(v[0]["RepoTags"], serde_json::json!(["busybox:latest"]));
    assert_eq!(v[0]["Os"], "linux");
    assert_eq!(v[0]["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(v[0]["Config"]["Labels"]["org.example"], "yes");
    assert_eq!(
        v[0]["Config"]["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}})
    );
    assert_eq!(v[0]["RootFS"]["Type"], "layers");
    let out = compose(&root, &["image", "inspect", "busybox", "nope"], None);
    assert_eq!(out.code, 1);
    assert_eq!(json(&out.stdout).as_array().unwrap().len(), 1);
    assert!(out.stderr.contains("No such image: nope"), "{}", out.stderr);

    // Tag, save to a file, load into a fresh root.
    compose(
        &root,
        &["image", "tag", "busybox", "localhost:5000/bb:v2"],
        None,
    )
    .ok();
    let saved = t.path().join("saved.tar");
    let out = compose(
        &root,
        &[
            "image",
            "save",
            "-o",
            saved.to_str().unwrap(),
            "busybox",
            "localhost:5000/bb:v2",
        ],
        None,
    );
    assert_eq!(out.ok(), "");
    let root2 = t.path().join("root2");
    let out = compose(
        &root2,
        &["image", "load", "-i", saved.to_str().unwrap()],
        None,
    );
    let mut loaded: Vec<&str> = out.ok().lines().collect();
    loaded.sort();
    assert_eq!(
        loaded,
        vec![
            "Loaded image: busybox:latest",
            "Loaded image: localhost:5000/bb:v2"
        ]
    );
    let v = json(compose(&root2, &["image", "inspect", "localhost:5000/bb:v2"], None).ok());
    assert_eq!(v[0]["Id"], id);
    // To stdout too.
    let out = Command::new(env!("CARGO_BIN_EXE_compose"))
        .arg("--root")
        .arg(&root)
        .args(["image", "save", "busybox"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    let root3 = t.path().join("root3");
    let out = compose(&root3, &["image", "load"], Some(&out.stdout));
    assert_eq!(out.ok(), "Loaded image: busybox:latest\n");

    // Remove: by id with two names needs --force; by name untags; the last name deletes.
    let out = compose(&root, &["image", "rm", &id[7..19]], None);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("must be forced"), "{}", out.stderr);
    let out = compose(&root, &["image", "rm", "localhost:5000/bb:v2"], None);
    assert_eq!(out.ok(), "Untagged: localhost:5000/bb:v2\n");
    let out = compose(&root, &["image", "rm", "busybox", "nope"], None);
    assert_eq!(out.code, 1);
    assert!(out
        .stdout
        .starts_with(&format!("Untagged: busybox:latest\nDeleted: {id}\n")));
    assert!(out.stderr.contains("No such image: nope"));
    let out = compose(&root, &["image", "ls", "-q"], None);
    assert_eq!(out.ok(), "");
    let leftovers: Vec<_> = std::fs::read_dir(root.join("images/layers"))
        .unwrap()
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // --force by id removes every name.
    compose(&root2, &["image", "rm", "--force", &id], None).ok();
    assert_eq!(compose(&root2, &["image", "ls", "-q"], None).ok(), "");
}

#[test]
fn load_refuses_bad_input() {
    let t = tmp();
    let root = t.path().join("root");
    let out = compose(
        &root,
        &["image", "load"],
        Some(b"not a tar at all, just text"),
    );
    assert_eq!(out.code, 1);
    assert!(!out.stderr.is_empty());
    let out = compose(&root, &["image", "inspect", "Bad:Name"], None);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("No such image"), "{}", out.stderr);
}

#[test]
#[ignore = "needs root"]
fn ownership_and_special_files_need_root() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipping ownership_and_special_files_need_root: not root");
        return;
    }
    let t = tmp();
    let root = t.path().join("root");
    let path = TestImage {
        two_layers: true,
        ..TestImage::default()
    }
    .write(t.path(), ArchiveFormat::Oci)
    .unwrap();
    compose(
        &root,
        &["image", "load", "-i", path.to_str().unwrap()],
        None,
    )
    .ok();
    use std::os::unix::fs::MetadataExt;
    let layers = root.join("images/layers");
    let mut found = false;
    for e in std::fs::read_dir(&layers).unwrap() {
        let p = e.unwrap().path();
        if p.join("home/app").is_dir() {
            let m = std::fs::metadata(p.join("home/app")).unwrap();
            assert_eq!((m.uid(), m.gid()), (1000, 1000));
            found = true;
        }
    }
    assert!(found);
}
