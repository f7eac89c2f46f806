//! Other local users reading or executing what lies under `--root`. See the list in
//! `tests/security.rs`.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::require_engine;
use crate::support::{self, engine::ok, engine::Fixture};

/// `app` prints a secret to its log, has one in its environment, and plants setuid-root
/// copies of busybox in its volume and in its own filesystem (its upper directory);
/// `reader` runs as a non-root user on the same volume.
const STACK: &str = "services:
  app:
    image: busybox
    stop_signal: KILL
    environment:
      API_TOKEN: env-secret-5f1e
    volumes:
      - data:/data
    command:
      - sh
      - -c
      - 'echo log-secret-9a7c; cp /bin/busybox /data/sh; chmod 4755 /data/sh; cp /bin/busybox /suid; chmod 4755 /suid; touch /data/ready; exec sleep 1000'
  reader:
    image: busybox
    user: '1000'
    volumes:
      - data:/data
volumes:
  data: {}
";

/// The unprivileged user the attacks run as.
const NOBODY: u32 = 65534;

fn nobody(cmd: &mut Command) -> &mut Command {
    // std clears the supplementary groups when it changes the uid as root.
    cmd.uid(NOBODY)
        .gid(NOBODY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
}

/// `cat PATH` as nobody: its output, or why it failed.
fn read_as_nobody(path: &Path) -> Result<String, String> {
    let out = nobody(Command::new("/bin/busybox").arg("cat").arg(path))
        .output()
        .expect("run cat");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Executes PATH as nobody; whether the kernel let it run. (Busybox's `sh` gives up a setuid
/// by itself; a binary that does not would run with euid 0: reaching it is the attack.)
fn exec_as_nobody(path: &Path) -> io::Result<()> {
    let mut cmd = Command::new(path);
    nobody(cmd.arg0("sh").args(["-c", "id"]))
        .output()
        .map(|_| ())
}

fn mode_of(p: &Path) -> u32 {
    std::fs::symlink_metadata(p)
        .expect("stat")
        .permissions()
        .mode()
        & 0o7777
}

struct Planted {
    container: PathBuf,
    volume_bin: PathBuf,
    upper_bin: PathBuf,
    layer_bin: PathBuf,
}

/// Starts `app`, waits for its plants, and puts a setuid-root busybox in the image's unpacked
/// layer too (what loading an image that ships one leaves there).
fn start(f: &Fixture) -> Planted {
    // Only the state root's own modes may stand in the way: the test's temp dir is 0700.
    std::fs::set_permissions(f.dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    ok(f, &["up", "-d", "app"]);
    let app = compose::engine::state::list(&f.root, Some(&f.project))
        .expect("state")
        .into_iter()
        .find(|o| o.record.service == "app")
        .expect("app's record");
    let container = compose::engine::root::StateRoot::new(&f.root).container(&app.record.id);
    let data = f
        .root
        .join("volumes")
        .join(format!("{}_data", f.project))
        .join("_data");
    let start = Instant::now();
    while !data.join("ready").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "app never planted its files"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The monitor copies the container's output to its log as it comes: under load it may not
    // have written the first line yet when the container's marker file appears.
    let log = compose::engine::state::log_path(&container);
    while !std::fs::read_to_string(&log).is_ok_and(|t| t.contains("log-secret-9a7c")) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the monitor never logged app's output"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let layers = f.root.join("images/layers");
    let layer = std::fs::read_dir(&layers)
        .expect("layers")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("an unpacked layer");
    let layer_bin = layer.join("bin/suid");
    std::fs::copy("/bin/busybox", &layer_bin).expect("copy");
    std::fs::set_permissions(&layer_bin, std::fs::Permissions::from_mode(0o4755)).expect("chmod");
    let planted = Planted {
        container: container.clone(),
        volume_bin: data.join("sh"),
        upper_bin: container.join("upper/suid"),
        layer_bin,
    };
    for bin in [&planted.volume_bin, &planted.upper_bin] {
        assert_eq!(mode_of(bin), 0o4755, "{} is not setuid", bin.display());
    }
    planted
}

/// Asserts that nobody reads none of the container's secrets and runs none of the planted
/// setuid binaries.
fn assert_closed(p: &Planted) {
    for (file, secret) in [
        ("container.json", "env-secret-5f1e"),
        ("container.log", "log-secret-9a7c"),
    ] {
        let path = p.container.join(file);
        // The monitor writes the log after the container wrote its output: the planted
        // files may be there before the line is.
        let start = Instant::now();
        while !std::fs::read_to_string(&path)
            .expect("read as root")
            .contains(secret)
        {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{file} lacks the secret"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        match read_as_nobody(&path) {
            Ok(text) => panic!("an unprivileged user read {file}: {text}"),
            Err(e) => assert!(e.contains("Permission denied"), "{file}: {e}"),
        }
    }
    for bin in [&p.volume_bin, &p.upper_bin, &p.layer_bin] {
        match exec_as_nobody(bin) {
            Ok(()) => panic!("an unprivileged user ran {}", bin.display()),
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}"),
        }
    }
}

/// The attack: an unprivileged local user reads a running container's environment secret
/// from `container.json` and its output from `container.log`, and executes setuid-root
/// binaries a container planted in its volume and its upper directory, and one an image
/// shipped in its unpacked layer (euid 0 on the host). All must fail with EACCES. A
/// container's own non-root user must still read its `/etc` files and its volume.
#[test]
#[ignore = "needs root"]
fn an_unprivileged_user_reads_no_container_secret_and_runs_no_planted_setuid_binary() {
    require_engine!();
    let mut f = Fixture::new(STACK);
    let planted = start(&f);
    assert_closed(&planted);

    let (code, out, err) = f.run(
        "reader",
        &[
            "sh",
            "-c",
            "cat /etc/hosts /etc/resolv.conf /etc/hostname >/dev/null && ls /data && id -u",
        ],
    );
    assert_eq!(code, 0, "a non-root container user lost access: {out}{err}");
    assert!(out.contains("ready") && out.ends_with("1000\n"), "{out}");

    ok(&f, &["down", "-t", "0", "-v"]);
    f.assert_clean();
}

/// The same attack on a root made before the state root was closed (directories 0755, files
/// 0644): the first command that opens it must close it, and tighten the files already
/// written, without taking from a container what it needs.
#[test]
#[ignore = "needs root"]
fn an_unprivileged_user_reads_nothing_from_an_old_root_once_a_command_has_opened_it() {
    require_engine!();
    let mut f = Fixture::new(STACK);
    let planted = start(&f);
    let root = &f.root;
    let volume = root.join("volumes").join(format!("{}_data", f.project));
    // Back to the modes of the old layout.
    let _ = std::fs::remove_file(root.join("layout-version"));
    let dirs = [
        root.clone(),
        root.join("containers"),
        root.join("images"),
        root.join("images/layers"),
        root.join("volumes"),
        planted.container.clone(),
        volume.clone(),
    ];
    let files = [
        planted.container.join("container.json"),
        planted.container.join("container.log"),
        planted.container.join("state.json"),
        root.join("events.jsonl"),
    ];
    for (paths, mode) in [(&dirs[..], 0o755), (&files[..], 0o644)] {
        for p in paths {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
    }
    ok(&f, &["ps"]);
    assert_closed(&planted);
    for d in &dirs {
        assert_eq!(mode_of(d), 0o700, "{}", d.display());
    }
    for file in &files {
        assert_eq!(mode_of(file), 0o600, "{}", file.display());
    }
    // What the container sees keeps its modes.
    assert_eq!(mode_of(&volume.join("_data")), 0o755);
    assert_eq!(mode_of(&planted.container.join("hosts")), 0o644);
    assert_eq!(mode_of(&planted.container.join("upper")), 0o755);

    ok(&f, &["down", "-t", "0", "-v"]);
    f.assert_clean();
}
