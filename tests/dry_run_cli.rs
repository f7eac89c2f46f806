//! `--dry-run` of the commands that need no root: `logout` (which would rewrite Docker's
//! `config.json`) and `kube generate -o DIR` (which would write files) print what they would do
//! and write nothing. The commands over containers, images and networks are tested as root in
//! tests/dry_run.rs.

mod support {
    #[path = "cli.rs"]
    pub mod cli;
}

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use support::cli::{Compose, Project};

/// A file's bytes and modification time.
fn stamp(path: &Path) -> (Vec<u8>, i64, i64) {
    let m = std::fs::metadata(path).expect("metadata");
    (
        std::fs::read(path).expect("read"),
        m.mtime(),
        m.mtime_nsec(),
    )
}

#[test]
fn logout_says_what_it_would_remove_and_keeps_the_config() {
    let p = Project::with_compose("services:\n  web:\n    image: busybox\n");
    let config = p.write(
        "docker/config.json",
        r#"{"auths": {"localhost:5999": {"auth": "dXNlcjpwYXNz"}}}"#,
    );
    let docker = config.parent().expect("dir").to_str().expect("utf-8");
    let before = stamp(&config);
    for args in [
        &["--dry-run", "logout", "localhost:5999"][..],
        &["logout", "localhost:5999", "--dry-run"][..],
    ] {
        let out = Compose::new(&p.dir)
            .env("DOCKER_CONFIG", docker)
            .args(args)
            .run();
        assert_eq!(
            out.ok(),
            "DRY-RUN MODE - Removing login credentials for localhost:5999\n",
            "{args:?}"
        );
        assert_eq!(stamp(&config), before, "{args:?} changed config.json");
    }
    // The real one removes it: the dry run said what it does.
    let out = Compose::new(&p.dir)
        .env("DOCKER_CONFIG", docker)
        .args(&["logout", "localhost:5999"])
        .run();
    assert_eq!(out.ok(), "Removing login credentials for localhost:5999\n");
    assert_ne!(stamp(&config), before);
}

#[test]
fn kube_generate_into_a_directory_lists_its_files_and_writes_none() {
    let p = Project::with_compose("services:\n  web:\n    image: busybox\n");
    let out_dir = p.dir.join("k8s");
    let out = Compose::new(&p.dir)
        .args(&["--dry-run", "kube", "generate", "-o", "k8s"])
        .run();
    let text = out.ok();
    assert!(!out_dir.exists(), "kube generate --dry-run wrote {text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(!lines.is_empty());
    for l in &lines {
        assert!(l.starts_with("DRY-RUN MODE - Writing k8s/"), "{text}");
    }
    // The same files as the real run writes.
    Compose::new(&p.dir)
        .args(&["kube", "generate", "-o", "k8s"])
        .run()
        .ok();
    for l in &lines {
        let rel = l.trim_start_matches("DRY-RUN MODE - Writing ");
        assert!(
            p.dir.join(rel).is_file(),
            "{rel} not written by the real run"
        );
    }
}
