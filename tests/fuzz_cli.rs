//! Inputs the fuzzers (fuzz/) found crashing, fed to the real binary: whatever they hold, the
//! answer is an error message and an exit status, never a panic (exit 101).
//!
//! `tests/fixtures/fuzz/compose_load/*` are in the `compose_load` target's format (`.env`,
//! `compose.yaml`, `compose.override.yaml`, `other.yaml`, separated by NUL bytes) and go
//! through `compose config`; `tests/fixtures/fuzz/image_load/*` are archives for
//! `compose image load`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const FILES: [&str; 4] = [
    ".env",
    "compose.yaml",
    "compose.override.yaml",
    "other.yaml",
];

fn fixtures(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target);
    let mut out: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no fixtures in {}", dir.display());
    out
}

#[track_caller]
fn assert_no_panic(input: &Path, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(101),
        "{} made compose panic:\n{stderr}",
        input.display()
    );
    assert!(out.status.code().is_some(), "{}: killed", input.display());
    assert!(
        !stderr.contains("panicked"),
        "{}: {stderr}",
        input.display()
    );
}

fn compose(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_compose"))
        .args(args)
        .current_dir(dir)
        .env_remove("COMPOSE_ROOT")
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROJECT_NAME")
        .stdin(Stdio::null())
        .output()
        .expect("running compose")
}

#[test]
fn config_of_fuzz_findings_never_panics() {
    for input in fixtures("compose_load") {
        let tmp = tempfile::tempdir().unwrap();
        let data = fs::read(&input).unwrap();
        let parts: Vec<&[u8]> = data.splitn(FILES.len(), |b| *b == 0).collect();
        for (name, part) in FILES.iter().zip(&parts) {
            fs::write(tmp.path().join(name), part).unwrap();
        }
        let mut args = vec!["-p", "fuzz", "-f", "compose.yaml"];
        if parts.len() > 2 {
            args.extend(["-f", "compose.override.yaml"]);
        }
        args.push("config");
        assert_no_panic(&input, &compose(&args, tmp.path()));
    }
}

#[test]
fn image_load_of_fuzz_findings_never_panics() {
    for input in fixtures("image_load") {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let args = [
            "--root",
            root.to_str().unwrap(),
            "image",
            "load",
            "-i",
            input.to_str().unwrap(),
        ];
        let out = compose(&args, tmp.path());
        assert_no_panic(&input, &out);
    }
}
