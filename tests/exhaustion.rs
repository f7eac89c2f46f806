//! Issue 16, resource exhaustion: a full disk (a small tmpfs under the state root, filled to the
//! last few bytes and freed again) during `image load`, `pull`, `build`, a container's own writes
//! and its log writes; a container at its pids limit; commands run with almost no file
//! descriptors. Each fails with one clear error naming what it could not do (never a panic),
//! leaves the store as it was (no half image listed, nothing staged left), keeps the other
//! containers running, and succeeds again once the resource is back.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
    #[path = "multiplatform.rs"]
    pub mod multiplatform;
    #[path = "registry.rs"]
    pub mod registry;
}

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use compose::engine::image::layer::Compression;
use compose::engine::image::testimage::{ArchiveFormat, TestImage};
use compose::engine::image::ImageStore;
use compose::engine::registry::{
    pull_images, DockerConfig, PullEvent, PullOptions, PullProgress, PullRequest, RegistryConfig,
};
use support::engine::{ok, text, wait_for, Fixture};
use support::registry::{files_under, Registry};

const ENOSPC: &str = "No space left on device";

/// A tmpfs mounted over a directory for one test, keeping what the directory held; unmounted
/// on drop, even when the test failed.
struct Disk {
    at: PathBuf,
    filler: PathBuf,
}

impl Disk {
    /// Mounts a tmpfs of `size` (as `mount -o size=` reads it) at `at`, copying in what `at`
    /// held.
    fn over(at: &Path, size: &str) -> Disk {
        let saved = at.with_extension("before-tmpfs");
        let had = at.exists();
        if had {
            std::fs::rename(at, &saved).expect("move the directory aside");
        }
        std::fs::create_dir_all(at).expect("mount point");
        let disk = Disk {
            at: at.to_path_buf(),
            filler: at.join("filler"),
        };
        let data = std::ffi::CString::new(format!("size={size},mode=0755")).expect("options");
        rustix::mount::mount(
            "tmpfs",
            at,
            "tmpfs",
            rustix::mount::MountFlags::empty(),
            &*data,
        )
        .expect("mount tmpfs");
        if had {
            let cp = std::process::Command::new("cp")
                .arg("-a")
                .arg(format!("{}/.", saved.display()))
                .arg(at)
                .status()
                .expect("cp");
            assert!(cp.success(), "copying the state root onto the tmpfs");
            std::fs::remove_dir_all(&saved).expect("remove the copy");
        }
        disk
    }

    /// Takes all the free space but `left` bytes.
    fn fill_leaving(&self, left: u64) {
        let st = rustix::fs::statvfs(&self.at).expect("statvfs");
        let free = st.f_bavail * st.f_frsize;
        let want = free.saturating_sub(left);
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.filler)
            .expect("filler");
        let have = f.metadata().expect("filler size").len();
        if want > 0 {
            rustix::fs::fallocate(&f, rustix::fs::FallocateFlags::empty(), have, want)
                .expect("fill the disk");
        }
    }

    /// Gives the space back.
    fn free(&self) {
        std::fs::remove_file(&self.filler).expect("remove the filler");
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        if let Err(e) = rustix::mount::unmount(&self.at, rustix::mount::UnmountFlags::DETACH) {
            eprintln!("unmounting the tmpfs at {}: {e}", self.at.display());
        }
    }
}

/// An error with its causes, as the CLI prints it.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Files staged in the store's `tmp/` (what a failed write must not leave).
fn staged(store: &Path) -> Vec<String> {
    files_under(&store.join("tmp"))
}

/// A load or pull that ran out of room: its error says so and names the store's path, and it
/// left nothing behind (no image listed, nothing staged).
fn assert_stopped_cleanly(err: &dyn std::error::Error, store: &ImageStore, disk: &Disk) {
    let msg = chain(err);
    assert!(msg.contains(ENOSPC), "{msg}");
    assert!(msg.contains(&disk.at.display().to_string()), "{msg}");
    assert!(
        store.list().expect("list").is_empty(),
        "a half image is listed"
    );
    assert!(staged(&disk.at).is_empty(), "{:?}", staged(&disk.at));
}

#[test]
#[ignore = "needs root"]
fn image_load_on_a_full_disk_names_the_path_stores_nothing_and_succeeds_once_freed() {
    require_engine!();
    let tmp = tempfile::tempdir().expect("tempdir");
    let disk = Disk::over(&tmp.path().join("store"), "16m");
    let image = TestImage {
        two_layers: true,
        ..TestImage::default()
    };
    let archive = image.archive(ArchiveFormat::Oci).expect("archive");
    let store = ImageStore::open(&disk.at).expect("store");
    // Room for part of the image only: the load fails in the middle of it.
    disk.fill_leaving(archive.len() as u64 / 2);
    let err = store
        .load_archive(&archive[..])
        .expect_err("a load on a full disk succeeded");
    assert_stopped_cleanly(&err, &store, &disk);

    disk.free();
    let loaded = store.load_archive(&archive[..]).expect("load once freed");
    assert_eq!(loaded.len(), 1);
    let resolved = store.resolve("busybox:latest").expect("resolve");
    assert!(resolved.layer_dirs.iter().all(|d| d.is_dir()));
    assert_eq!(store.list().expect("list").len(), 1);
}

struct Quiet;

impl PullProgress for Quiet {
    fn event(&self, _image: &str, _event: PullEvent) {}
}

#[test]
#[ignore = "needs root"]
fn pull_on_a_full_disk_names_the_path_stores_nothing_and_succeeds_once_freed() {
    require_engine!();
    require_registry!();
    let tmp = tempfile::tempdir().expect("tempdir");
    let r = Registry::plain();
    let image = TestImage {
        compression: Compression::Gzip,
        two_layers: true,
        ..TestImage::default()
    };
    let archive = image
        .write(tmp.path(), ArchiveFormat::Oci)
        .expect("archive");
    r.push_oci_archive(&archive, "test/full:1");
    let disk = Disk::over(&tmp.path().join("store"), "16m");
    let store = ImageStore::open(&disk.at).expect("store");
    let requests = [PullRequest {
        reference: format!("{}/test/full:1", r.host()),
        platform: None,
    }];
    let options = PullOptions {
        config: RegistryConfig::default(),
        credentials: DockerConfig::default(),
        progress: Arc::new(Quiet),
    };
    disk.fill_leaving(256 * 1024);
    let err = pull_images(&store, &requests, &options)
        .remove(0)
        .expect_err("a pull on a full disk succeeded");
    assert_stopped_cleanly(&err, &store, &disk);

    disk.free();
    let pulled = pull_images(&store, &requests, &options)
        .remove(0)
        .expect("pull once freed");
    assert_eq!(pulled.id, image.id().expect("id"));
    let resolved = store.resolve(&requests[0].reference).expect("resolve");
    assert!(resolved
        .layer_dirs
        .iter()
        .any(|d| d.join("bin/busybox").exists()));
}

/// A failed command's standard error, checked to be an error and not a panic.
fn failure(o: &Output) -> String {
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "succeeded: {}", text(o));
    assert_ne!(o.status.code(), Some(101), "panicked: {}", text(o));
    assert!(!stderr.contains("panicked"), "panicked: {}", text(o));
    stderr
}

#[test]
#[ignore = "needs root"]
fn build_on_a_full_disk_names_the_path_lists_no_image_and_succeeds_once_freed() {
    require_engine!();
    let mut f = Fixture::new("services:\n  web:\n    build:\n      context: ./app\n");
    let app = f.project_dir.join("app");
    std::fs::create_dir_all(&app).expect("app dir");
    std::fs::write(
        app.join("Dockerfile"),
        "FROM busybox\nCOPY big /big\nRUN cat /big > /copy\n",
    )
    .expect("Dockerfile");
    std::fs::copy("/bin/busybox", app.join("big")).expect("context file");
    let disk = Disk::over(&f.root, "64m");
    disk.fill_leaving(256 * 1024);
    let o = f.compose(&["build", "--progress", "plain"]);
    let stderr = failure(&o);
    assert!(stderr.contains(ENOSPC), "{}", text(&o));
    assert!(
        stderr.contains(&f.root.display().to_string()),
        "{}",
        text(&o)
    );
    let images = ok(&f, &["image", "ls"]);
    let name = format!("{}-web", f.project);
    assert!(!images.contains(&name), "{images}");
    assert!(staged(&f.root.join("images")).is_empty());

    disk.free();
    ok(&f, &["build", "--progress", "plain"]);
    assert!(ok(&f, &["image", "ls"]).contains(&name));
    ok(&f, &["down"]);
    drop(disk);
    f.assert_clean();
}

/// The `tick N` counter a ticking service has logged last.
fn last_tick(f: &Fixture, service: &str) -> Option<u64> {
    let o = f.compose(&["logs", service]);
    assert!(o.status.success(), "logs: {}", text(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            l.rsplit_once("tick ")
                .and_then(|(_, n)| n.trim().parse().ok())
        })
        .next_back()
}

/// Every `container.log` of the root, each line a whole json-file entry.
fn assert_whole_log_lines(root: &Path) {
    for c in std::fs::read_dir(root.join("containers"))
        .expect("containers")
        .flatten()
    {
        let log = c.path().join("container.log");
        let body = std::fs::read_to_string(&log).unwrap_or_default();
        for line in body.lines() {
            let v: Result<serde_json::Value, _> = serde_json::from_str(line);
            assert!(v.is_ok(), "{}: torn line {line:?}", log.display());
        }
    }
}

/// Whether `service`'s container runs, as `ps` says.
fn running(f: &Fixture, service: &str) -> bool {
    ok(f, &["ps", "--status", "running", "--services"])
        .lines()
        .any(|l| l == service)
}

/// A service logging `tick N` 20 times a second, each line padded to about 300 bytes so that
/// a full disk is felt within a second (a tmpfs page holds the first few lines).
const TICKER: &str = "  ticker:\n    image: busybox\n    environment:\n      PAD: \
                      '________________________________________________________________________\
                      ________________________________________________________________________\
                      ________________________________________________________________________'\n    \
                      command: [sh, -c, 'i=0; while true; do i=$$((i+1)); echo \"$$PAD tick $$i\"; \
                      sleep 0.05; done']\n";

/// `compose exec -T SERVICE dd` writing 512 KiB into the container's own file system.
fn dd(f: &Fixture, service: &str) -> Output {
    f.compose(&[
        "exec",
        "-T",
        service,
        "dd",
        "if=/dev/zero",
        "of=/data",
        "bs=64k",
        "count=8",
    ])
}

#[test]
#[ignore = "needs root"]
fn a_full_disk_fails_a_containers_writes_and_loses_log_lines_once_without_stopping_it() {
    require_engine!();
    let yaml =
        format!("services:\n{TICKER}  writer:\n    image: busybox\n    command: [sleep, '1000']\n");
    let mut f = Fixture::new(&yaml);
    let disk = Disk::over(&f.root, "64m");
    ok(&f, &["up", "-d"]);
    wait_for(10, || last_tick(&f, "ticker").filter(|n| *n > 3)).expect("ticking");

    disk.fill_leaving(0);
    std::thread::sleep(Duration::from_secs(2));
    // Both keep running and `ps` still answers, on a full disk; the container's own write
    // fails as the disk is full (the upper directory of its root is on it).
    assert!(running(&f, "ticker") && running(&f, "writer"));
    let o = dd(&f, "writer");
    let out = failure(&o);
    assert!(out.contains(ENOSPC), "{}", text(&o));
    assert!(running(&f, "writer"));
    let during = last_tick(&f, "ticker").expect("ticks");

    disk.free();
    // Logging resumes, the same monitor and container; the write succeeds.
    wait_for(10, || last_tick(&f, "ticker").filter(|n| *n > during + 30))
        .expect("logging never resumed");
    let o = dd(&f, "writer");
    assert!(o.status.success(), "{}", text(&o));
    assert!(running(&f, "ticker") && running(&f, "writer"));
    assert_whole_log_lines(&f.root);
    // The loss was told to `compose events` (once when it starts, if the events file could take
    // it, and once when logging resumed), naming the log file and why.
    let events = std::fs::read_to_string(compose::engine::events::path(&f.root)).expect("events");
    let lost: Vec<&str> = events
        .lines()
        .filter(|l| l.contains("container.log") && l.contains("lost"))
        .collect();
    let resumed = lost
        .iter()
        .filter(|l| l.contains("logging resumed"))
        .count();
    assert_eq!(resumed, 1, "{events}");
    assert!(lost.len() <= 2, "{lost:?}");
    assert!(lost.iter().all(|l| l.contains(ENOSPC)), "{lost:?}");

    ok(&f, &["down"]);
    drop(disk);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn a_container_at_its_pids_limit_is_refused_an_exec_and_the_others_run_on() {
    require_engine!();
    // Four processes: the shell (then its last sleep) and three sleeps, its whole limit.
    let yaml = format!(
        "services:\n{TICKER}  full:\n    image: busybox\n    pids_limit: 4\n    command: [sh, -c, \
         'sleep 1000 & sleep 1000 & sleep 1000 & echo spawned; exec sleep 1000']\n"
    );
    let mut f = Fixture::new(&yaml);
    ok(&f, &["up", "-d"]);
    let spawned = wait_for(10, || {
        ok(&f, &["logs", "full"]).contains("spawned").then_some(())
    });
    assert!(spawned.is_some(), "{}", ok(&f, &["logs", "full"]));
    let o = f.compose(&["exec", "-T", "full", "true"]);
    let stderr = failure(&o);
    assert!(
        stderr.contains("Resource temporarily unavailable"),
        "{}",
        text(&o)
    );
    let before = last_tick(&f, "ticker").expect("ticks");
    assert!(wait_for(5, || last_tick(&f, "ticker").filter(|n| *n > before + 5)).is_some());
    assert!(running(&f, "ticker") && running(&f, "full"));
    ok(&f, &["down"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn commands_out_of_file_descriptors_fail_clearly_and_other_containers_run_on() {
    require_engine!();
    let yaml =
        format!("services:\n{TICKER}  other:\n    image: busybox\n    command: [sleep, '1000']\n");
    let mut f = Fixture::new(&yaml);
    ok(&f, &["up", "-d", "ticker"]);
    // Below 4 the dynamic loader itself fails, before any of our code runs.
    for limit in [4u64, 8, 16, 32] {
        for args in [&["up", "-d"][..], &["ps"], &["stop", "other"]] {
            let mut c = f.command(args);
            // SAFETY: setrlimit is async-signal-safe.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut c, move || {
                    let l = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &l) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let o = c.output().expect("run compose");
            if !o.status.success() {
                let stderr = failure(&o);
                assert!(
                    stderr.contains("Too many open files"),
                    "nofile {limit}, {args:?}: {}",
                    text(&o)
                );
            }
        }
    }
    let before = last_tick(&f, "ticker").expect("ticks");
    assert!(wait_for(5, || last_tick(&f, "ticker").filter(|n| *n > before + 5)).is_some());
    ok(&f, &["up", "-d"]);
    assert!(running(&f, "ticker") && running(&f, "other"));
    ok(&f, &["down"]);
    f.assert_clean();
}
