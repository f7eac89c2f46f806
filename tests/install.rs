//! The README's install step (issue 17, "First run"): `make install` into a temporary prefix,
//! with the binary this test run built (`COMPOSE_BIN`, so no release build happens here), then
//! the installed binary runs and the completions and manual pages are where bash, zsh, fish and
//! man look for them under that prefix; `make uninstall` removes them all again.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `make ARGS` in the repository; `None` (after saying why) when `make` is missing.
fn make(args: &[&str]) -> Option<std::process::Output> {
    match Command::new("make")
        .arg("-C")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .arg("--no-print-directory")
        .args(args)
        .arg(format!("COMPOSE_BIN={}", env!("CARGO_BIN_EXE_compose")))
        .output()
    {
        Ok(out) => Some(out),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("skipping: `make` is not installed (Debian: apt-get install make)");
            None
        }
        Err(e) => panic!("running make: {e}"),
    }
}

#[track_caller]
fn ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "make failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What `make install` puts under a prefix, relative to it.
const INSTALLED: [&str; 6] = [
    "bin/compose",
    "share/bash-completion/completions/compose",
    "share/zsh/site-functions/_compose",
    "share/fish/vendor_completions.d/compose.fish",
    "share/man/man1/compose.1",
    "share/man/man1/compose-up.1",
];

/// Every regular file under `dir`, relative to it, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.push(path.strip_prefix(base).expect("under base").to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn make_install_into_a_prefix_then_uninstall() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let prefix = tmp.path().join("usr-local");
    let prefix_arg = format!("PREFIX={}", prefix.display());
    let Some(out) = make(&["install", &prefix_arg]) else {
        return;
    };
    ok(&out);
    for rel in INSTALLED {
        let meta = std::fs::metadata(prefix.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(meta.len() > 0, "{rel} is empty");
    }

    // The installed binary runs, and is the one built.
    let version = Command::new(prefix.join("bin/compose"))
        .arg("version")
        .output()
        .expect("run the installed compose");
    assert!(version.status.success(), "{version:?}");
    assert_eq!(
        String::from_utf8_lossy(&version.stdout),
        concat!("compose version ", env!("CARGO_PKG_VERSION"), "\n")
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = |rel: &str| {
        std::fs::metadata(prefix.join(rel))
            .expect("installed")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("bin/compose"), 0o755);
    assert_eq!(mode("share/man/man1/compose.1"), 0o644);

    // Each shell's script is that shell's: what each one loads from these places.
    let read = |rel: &str| std::fs::read_to_string(prefix.join(rel)).expect(rel);
    assert!(
        read("share/bash-completion/completions/compose").contains("complete -F"),
        "not a bash completion"
    );
    assert!(
        read("share/zsh/site-functions/_compose").starts_with("#compdef compose"),
        "not a zsh completion"
    );
    assert!(
        read("share/fish/vendor_completions.d/compose.fish").contains("complete -c compose"),
        "not a fish completion"
    );
    // One page per command, as `man compose-up` looks it up.
    let up = read("share/man/man1/compose-up.1");
    assert!(up.contains(".TH") && up.contains("compose\\-up"), "{up}");

    // Uninstall leaves the prefix with no file at all.
    ok(&make(&["uninstall", &prefix_arg]).expect("make ran once"));
    assert_eq!(files(&prefix), Vec::<PathBuf>::new());
}

#[test]
fn destdir_stages_under_the_prefix_for_packaging() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let stage = tmp.path().join("stage");
    let destdir = format!("DESTDIR={}", stage.display());
    let Some(out) = make(&["install", &destdir, "PREFIX=/usr"]) else {
        return;
    };
    ok(&out);
    for rel in INSTALLED {
        assert!(stage.join("usr").join(rel).is_file(), "{rel} not staged");
    }
    // Nothing outside the staging directory's prefix.
    assert!(files(&stage).iter().all(|p| p.starts_with("usr")));
    ok(&make(&["uninstall", &destdir, "PREFIX=/usr"]).expect("make ran once"));
    assert_eq!(files(&stage), Vec::<PathBuf>::new());
}

#[test]
fn a_missing_binary_is_one_clear_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Ok(out) = Command::new("make")
        .arg("-C")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .arg("--no-print-directory")
        .arg("install")
        .arg(format!("PREFIX={}", tmp.path().display()))
        .arg("COMPOSE_BIN=/nonexistent/compose")
        .output()
    else {
        eprintln!("skipping: `make` is not installed");
        return;
    };
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("COMPOSE_BIN=/nonexistent/compose is not an executable file"),
        "{err}"
    );
    assert_eq!(files(tmp.path()), Vec::<PathBuf>::new());
}
