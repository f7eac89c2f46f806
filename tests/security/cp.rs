//! `compose cp` racing a container that swaps what it copies into (CVE-2018-15664 class). See
//! the list in `tests/security.rs`.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::require_engine;
use crate::support::{self, engine::ok, engine::Fixture};

/// The racer: in a loop, renames away whatever `cp` made at `/target/dir` and puts a symlink
/// there to `SENTINEL`, a path that exists only on the host. Followed on the host side, the
/// link leads to the host file.
const RACER: &str = "services:
  racer:
    image: busybox
    stop_signal: KILL
    command:
      - sh
      - -c
      - 'mkdir -p /target && cd /target && while :; do rm -rf old; mv dir old; ln -s SENTINEL dir; done 2>/dev/null'
";

fn mode_of(p: &std::path::Path) -> u32 {
    std::fs::symlink_metadata(p)
        .expect("stat")
        .permissions()
        .mode()
        & 0o7777
}

/// The attack: a container swaps the directory `compose cp` is filling for a symlink to a
/// host file, hoping that the mode set at the end of the copy follows the link on the host
/// (`chmod` by name) and makes the host file world-writable. Repeated `cp` of a directory
/// into the container (up to 200 times or 10 s) must never change the host file.
#[test]
#[ignore = "needs root"]
fn cp_into_a_container_racing_a_symlink_swap_never_chmods_a_host_file() {
    require_engine!();
    let mut f = Fixture::new(RACER);
    let sentinel = f.dir.path().join("sentinel");
    std::fs::write(&sentinel, "host file").expect("write");
    std::fs::set_permissions(&sentinel, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::write(
        f.project_dir.join("compose.yaml"),
        RACER.replace("SENTINEL", sentinel.to_str().expect("utf-8")),
    )
    .expect("compose.yaml");
    // A directory with a mode no host file here has, and enough entries that copying it
    // leaves the racer time to swap.
    let payload = f.dir.path().join("payload/dir");
    std::fs::create_dir_all(&payload).expect("mkdir");
    for i in 0..100 {
        std::fs::write(payload.join(format!("f{i}")), "x").expect("write");
    }
    std::fs::set_permissions(&payload, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    ok(&f, &["up", "-d"]);

    let start = Instant::now();
    let (mut copies, mut failures) = (0, 0);
    while copies < 200 && start.elapsed() < Duration::from_secs(10) {
        // A copy may fail when the racer wins a step: that is fine, following the link is not.
        let out = f.compose(&["cp", payload.to_str().expect("utf-8"), "racer:/target"]);
        copies += 1;
        if !out.status.success() {
            failures += 1;
        }
        assert_eq!(
            (
                mode_of(&sentinel),
                std::fs::read_to_string(&sentinel).expect("read")
            ),
            (0o600, "host file".to_string()),
            "cp changed the host file through the container's symlink after {copies} copies"
        );
    }
    eprintln!("{copies} copies, {failures} cut short by the racer");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}
