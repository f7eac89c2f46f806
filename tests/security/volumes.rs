//! See the list in `tests/security.rs`.
//!
//! Volumes are written by containers, so everything in them is hostile: the engine must never
//! follow a symbolic link a container planted there when it fills a volume from the image
//! (item 1 of issue 9) or when it resolves a volume `subpath` (item 2). The sentinels these tests
//! guard live in each test's temporary directory, never in the host's real files.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::require_engine;
use crate::support::{self, engine::text, engine::Fixture};

/// `compose ARGS` must succeed.
fn ok(f: &Fixture, args: &[&str]) {
    let o = f.compose(args);
    assert!(o.status.success(), "compose {args:?}: {}", text(&o));
}

/// The host directory holding a named volume's data.
fn volume_data(f: &Fixture, key: &str) -> PathBuf {
    f.root
        .join("volumes")
        .join(format!("{}_{key}", f.project))
        .join("_data")
}

/// Waits (at most 20 s) until `what` holds.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn is_symlink(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

/// A host file the attack aims at: content and mode to compare after each step.
struct Sentinel {
    path: PathBuf,
}

const SECRET: &str = "host secret\n";

impl Sentinel {
    fn new(path: PathBuf) -> Sentinel {
        std::fs::write(&path, SECRET).expect("sentinel");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        Sentinel { path }
    }

    fn assert_untouched(&self, after: &str) {
        let content = std::fs::read_to_string(&self.path).expect("read sentinel");
        assert_eq!(
            content,
            SECRET,
            "after {after}: the host file {} was overwritten through the volume",
            self.path.display()
        );
        let mode = std::fs::metadata(&self.path)
            .expect("stat")
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(
            mode,
            0o600,
            "after {after}: the mode of the host file {} was changed through the volume",
            self.path.display()
        );
    }
}

/// Attack: a container replaces a file of its pre-filled volume (`/etc/passwd`) with a symlink
/// to a host file; the engine used to fill the volume again on every start, as root on host
/// paths, writing the image's file through the symlink and setting its mode. The host file must
/// keep its content and mode across `restart`, `stop` + `start` and a recreating `up`.
#[test]
#[ignore = "needs root"]
fn prefill_attack_symlink_planted_in_volume_does_not_reach_host_file_on_restart() {
    require_engine!();
    let mut f = Fixture::new("services: {}\n");
    let sentinel = Sentinel::new(f.dir.path().join("sentinel"));
    let yaml = format!(
        "services:
  app:
    image: busybox
    stop_signal: KILL
    command: [sh, -c, 'rm -f /etc/passwd; ln -s {} /etc/passwd; exec sleep 1000']
    volumes: [etc:/etc]
volumes:
  etc: {{}}
",
        sentinel.path.display()
    );
    std::fs::write(f.project_dir.join("compose.yaml"), yaml).unwrap();
    let planted = volume_data(&f, "etc").join("passwd");
    ok(&f, &["up", "-d"]);
    wait_for("the container planted its symlink", || is_symlink(&planted));

    let restarted = f.compose(&["restart", "-t", "0"]);
    sentinel.assert_untouched("restart");
    assert!(restarted.status.success(), "restart: {}", text(&restarted));
    wait_for("the container planted its symlink again", || {
        is_symlink(&planted)
    });

    ok(&f, &["stop", "-t", "0"]);
    let started = f.compose(&["start"]);
    sentinel.assert_untouched("stop and start");
    assert!(started.status.success(), "start: {}", text(&started));

    let up = f.compose(&["up", "-d", "--force-recreate"]);
    sentinel.assert_untouched("up --force-recreate");
    assert!(up.status.success(), "up: {}", text(&up));

    let (code, _, err) = f.run("app", &["true"]);
    sentinel.assert_untouched("run");
    assert_eq!(code, 0, "{err}");

    ok(&f, &["down", "-t", "0", "-v"]);
    f.assert_clean();
}

/// Attack (same class, nothing planted): the volume is filled once, on its first mount, and
/// never again, whichever container mounts it next: a file the containers deleted stays deleted
/// after a restart, a start, a recreate, a `run`, and for a second service sharing the volume.
#[test]
#[ignore = "needs root"]
fn prefill_attack_deleted_file_is_not_recreated_by_a_later_start() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  app:
    image: busybox
    stop_signal: KILL
    command: [sleep, '1000']
    volumes: [etc:/etc]
  other:
    image: busybox
    stop_signal: KILL
    command: [sleep, '1000']
    volumes: [etc:/etc]
    profiles: [later]
volumes:
  etc: {}
",
    );
    let data = volume_data(&f, "etc");
    ok(&f, &["up", "-d"]);
    assert!(data.join("group").is_file(), "the volume was not filled");
    std::fs::remove_file(data.join("group")).unwrap();

    let check = |after: &str| {
        assert!(
            !data.join("group").exists(),
            "after {after}: the deleted file was copied into the volume again"
        );
    };
    ok(&f, &["restart", "-t", "0"]);
    check("restart");
    ok(&f, &["stop", "-t", "0"]);
    ok(&f, &["start"]);
    check("stop and start");
    ok(&f, &["up", "-d", "--force-recreate"]);
    check("up --force-recreate");
    let (code, _, err) = f.run("app", &["true"]);
    assert_eq!(code, 0, "{err}");
    check("run");
    ok(&f, &["--profile", "later", "up", "-d", "other"]);
    check("a second service mounting the volume");

    ok(&f, &["--profile", "later", "down", "-t", "0", "-v"]);
    f.assert_clean();
}

/// Ordinary use broken by the same re-copy: a volume on the image's /bin (busybox: one binary
/// and applet symlinks) failed every later start with "File exists".
#[test]
#[ignore = "needs root"]
fn a_volume_prefilled_with_symlinks_can_be_restarted_and_started_again() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  app:
    image: busybox
    stop_signal: KILL
    command: [sleep, '1000']
    volumes: [bin:/bin]
volumes:
  bin: {}
",
    );
    ok(&f, &["up", "-d"]);
    assert!(is_symlink(&volume_data(&f, "bin").join("sh")));
    ok(&f, &["restart", "-t", "0"]);
    ok(&f, &["stop", "-t", "0"]);
    ok(&f, &["start"]);
    ok(&f, &["up", "-d", "--force-recreate"]);
    let (code, out, err) = f.run("app", &["sh", "-c", "echo works"]);
    assert_eq!((code, out.as_str()), (0, "works\n"), "{err}");
    ok(&f, &["down", "-t", "0", "-v"]);
    f.assert_clean();
}

/// Attack: one container plants symlinks in a shared volume (`sub` -> a host directory,
/// `deep` -> enough `..` to reach the host's `/`); another mounts the volume with a `subpath`
/// through them, or binds the volume's directory by its host path. The engine used to bind the
/// host path the symlink points to. Each must fail with a clear error or stay inside the volume:
/// in no case may the container see or write the host directory.
#[test]
#[ignore = "needs root"]
fn subpath_attack_symlink_in_shared_volume_does_not_redirect_the_mount() {
    require_engine!();
    let mut f = Fixture::new("services: {}\n");
    let host_dir = f.dir.path().join("hostdir");
    std::fs::create_dir(&host_dir).unwrap();
    let sentinel = Sentinel::new(host_dir.join("sentinel"));
    let host_rel = host_dir.strip_prefix("/").unwrap().display().to_string();
    let data = volume_data(&f, "shared");
    let yaml = format!(
        "services:
  planter:
    image: busybox
    volumes: [shared:/v]
  absolute:
    image: busybox
    volumes:
      - {{type: volume, source: shared, target: /mnt, volume: {{subpath: sub}}}}
  nested:
    image: busybox
    volumes:
      - {{type: volume, source: shared, target: /mnt, volume: {{subpath: 'sub/inner'}}}}
  relative:
    image: busybox
    volumes:
      - {{type: volume, source: shared, target: /mnt, volume: {{subpath: 'deep/{host_rel}'}}}}
  bind:
    image: busybox
    volumes:
      - {data}/sub:/mnt
volumes:
  shared: {{}}
",
        data = data.display()
    );
    std::fs::write(f.project_dir.join("compose.yaml"), yaml).unwrap();
    let dots = "../".repeat(32);
    let plant = format!(
        "ln -s {} /v/sub && ln -s {dots} /v/deep && mkdir /v/real",
        host_dir.display()
    );
    let (code, _, err) = f.run("planter", &["sh", "-c", &plant]);
    assert_eq!(code, 0, "{err}");
    assert!(is_symlink(&data.join("sub")) && is_symlink(&data.join("deep")));

    for service in ["absolute", "nested", "relative", "bind"] {
        let (code, out, err) = f.run(
            service,
            &[
                "sh",
                "-c",
                "ls /mnt; cat /mnt/sentinel; echo pwned > /mnt/written",
            ],
        );
        assert!(
            !out.contains("host secret") && !out.contains("sentinel"),
            "{service}: the container saw the host directory through the volume: {out}"
        );
        assert!(
            !host_dir.join("written").exists(),
            "{service}: the container wrote into the host directory through the volume"
        );
        sentinel.assert_untouched(service);
        assert_ne!(
            code, 0,
            "{service}: started although its subpath crosses a symlink"
        );
        assert!(
            err.contains("symbolic link") || err.contains("outside the volume"),
            "{service}: the error does not say why: {err}"
        );
    }
    // The symlinks were not replaced or followed while resolving.
    assert!(is_symlink(&data.join("sub")) && !host_dir.join("inner").exists());

    ok(&f, &["down", "-v"]);
    f.assert_clean();
}

/// The ordinary use the fix keeps: a relative subpath (missing parts created inside the volume,
/// as Docker Compose users expect) mounts that directory of the volume and nothing more.
#[test]
#[ignore = "needs root"]
fn a_relative_subpath_is_created_and_mounted_inside_the_volume() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  app:
    image: busybox
    volumes:
      - {type: volume, source: shared, target: /mnt, volume: {subpath: a/b}}
  whole:
    image: busybox
    volumes: [shared:/v]
volumes:
  shared: {}
",
    );
    let (code, out, err) = f.run("app", &["sh", "-c", "ls -A /mnt; echo hi > /mnt/f"]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let data = volume_data(&f, "shared");
    assert_eq!(std::fs::read_to_string(data.join("a/b/f")).unwrap(), "hi\n");
    let (code, out, err) = f.run("whole", &["cat", "/v/a/b/f"]);
    assert_eq!((code, out.as_str()), (0, "hi\n"), "{err}");
    // A second use finds the directory it made.
    let (code, out, err) = f.run("app", &["cat", "/mnt/f"]);
    assert_eq!((code, out.as_str()), (0, "hi\n"), "{err}");
    ok(&f, &["down", "-v"]);
    f.assert_clean();
}

/// `nocopy` (short `:nocopy` or `volume: {nocopy: true}`) keeps a new volume empty, as Docker
/// does; the same volume without it is filled on its first mount.
#[test]
#[ignore = "needs root"]
fn a_nocopy_volume_is_not_filled_from_the_image() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  app:
    image: busybox
    volumes: ['empty:/etc:nocopy', {type: volume, source: long, target: /bin, volume: {nocopy: true}}]
  filled:
    image: busybox
    volumes: [filled:/etc]
volumes:
  empty: {}
  long: {}
  filled: {}
",
    );
    let (code, out, err) = f.run("app", &["/bin/busybox", "true"]);
    assert_ne!(
        code, 0,
        "the image's /bin was copied into a nocopy volume: {out}"
    );
    assert!(err.contains("busybox"), "{err}");
    for key in ["empty", "long"] {
        let names: Vec<_> = std::fs::read_dir(volume_data(&f, key))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            !names.iter().any(|n| n == "passwd" || n == "sh"),
            "{key}: filled despite nocopy: {names:?}"
        );
    }
    let (code, _, err) = f.run("filled", &["true"]);
    assert_eq!(code, 0, "{err}");
    assert!(volume_data(&f, "filled").join("passwd").is_file());
    ok(&f, &["down", "-v"]);
    f.assert_clean();
}

/// Attack: a volume the container writes, mounted over its /proc (runc CVE-2019-16884 /
/// CVE-2019-19921 class): the set-up's masking, sysctls and descriptor paths, and the
/// container's tools, would then read container-written files as the kernel's. Refused before
/// anything starts, as runc refuses it; `up` creates nothing.
#[test]
#[ignore = "needs root"]
fn a_volume_over_proc_is_refused_before_anything_starts() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  app:
    image: busybox
    volumes: ['fake:/proc/sys']
volumes:
  fake: {}
",
    );
    let (code, _, err) = f.run("app", &["true"]);
    assert_ne!(code, 0, "a volume over /proc/sys was mounted");
    assert!(err.contains("over the container's /proc"), "{err}");
    let o = f.compose(&["up", "-d"]);
    assert!(!o.status.success(), "{}", text(&o));
    let ps = f.compose(&["ps", "-a", "-q"]);
    assert_eq!(
        String::from_utf8_lossy(&ps.stdout).trim(),
        "",
        "{}",
        text(&ps)
    );
    f.assert_clean();
}
