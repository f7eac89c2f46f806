//! Container start: `compose run --rm -T SERVICE true` against the bare floor
//! (`unshare --pid --fork --mount --uts --ipc --net chroot ROOTFS /bin/true`) and `crun run` of an
//! OCI bundle of the same rootfs (when crun is installed; on hybrid-cgroup hosts crun runs in its
//! own mount namespace with /sys/fs/cgroup/unified unmounted, as it needs there).
//!
//! Each is timed RUNS times in a row, then all again in turn, 50 ms apart (see
//! `time_interleaved`: a fairer figure for a single start).
//!
//! Run as root: `cargo bench --bench run_container -- [RUNS]` (default 30). Needs /bin/busybox.
//! Runs in a network namespace of its own (loopback only) as the stand-in host.

#[path = "support/stacks.rs"]
mod stacks;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stacks::{busybox_archive, can_run, isolate_network, median};

/// How long one run of `c` takes (`None` when it fails).
fn once(mut c: Command) -> Option<Duration> {
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let t = Instant::now();
    let out = c.output().ok()?;
    let took = t.elapsed();
    if !out.status.success() {
        eprintln!("failed: {:?}: {}", c, String::from_utf8_lossy(&out.stderr));
        return None;
    }
    Some(took)
}

fn time(runs: usize, mut cmd: impl FnMut() -> Command) -> Option<Duration> {
    let times: Option<Vec<Duration>> = (0..runs).map(|_| once(cmd())).collect();
    times.map(median)
}

/// Each command once in turn, `runs` rounds, 50 ms apart: back-to-back runs of one command
/// flatter whatever the kernel keeps warm between them (a cgroup migration right after another
/// skips the RCU grace period the first one waited for; a network namespace's deletion, which
/// the kernel finishes after the process that made it has gone, lands on the next run instead),
/// and a user rarely starts containers 5 ms apart. The medians, in the order given.
fn time_interleaved(
    runs: usize,
    cmds: &mut [&mut dyn FnMut() -> Command],
) -> Vec<Option<Duration>> {
    let mut times: Vec<Option<Vec<Duration>>> = vec![Some(Vec::new()); cmds.len()];
    for _ in 0..runs {
        for (cmd, t) in cmds.iter_mut().zip(times.iter_mut()) {
            std::thread::sleep(Duration::from_millis(50));
            if let Some(v) = t {
                match once(cmd()) {
                    Some(d) => v.push(d),
                    None => *t = None,
                }
            }
        }
    }
    times.into_iter().map(|t| t.map(median)).collect()
}

fn ms(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
        .unwrap_or_else(|| "n/a".into())
}

fn main() {
    if !can_run() {
        return;
    }
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(30);
    // `run` puts the container on the project network (a bridge and nftables rules, which no
    // `down` removes here): a network namespace of the benchmark's own is the stand-in host, so
    // nothing is left on the real one. The floor and crun get it too, alike.
    isolate_network();
    let tmp = tempfile::Builder::new()
        .prefix("compose-bench-")
        .tempdir()
        .expect("temp dir");
    let root = tmp.path().join("state");
    let project = tmp.path().join("bench");
    std::fs::create_dir_all(&project).expect("project dir");
    std::fs::write(
        project.join("compose.yaml"),
        "services:\n  app:\n    image: busybox\n  bare:\n    image: busybox\n    network_mode: none\n",
    )
    .expect("compose.yaml");
    let archive = busybox_archive(tmp.path(), None);
    let bin = env!("CARGO_BIN_EXE_compose");
    let cgroup_parent = format!("compose-bench-{}", std::process::id());
    let compose = |args: &[&str]| {
        let mut c = Command::new(bin);
        c.current_dir(&project)
            .env("COMPOSE_ROOT", &root)
            .env("COMPOSE_CGROUP_PARENT", &cgroup_parent)
            .args(args);
        c
    };
    let out = compose(&[
        "image",
        "load",
        "-q",
        "-i",
        archive.to_str().expect("utf-8"),
    ])
    .output()
    .expect("load");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The same rootfs, unpacked, for the floor and for crun.
    let rootfs = tmp.path().join("bundle/rootfs");
    std::fs::create_dir_all(&rootfs).expect("rootfs");
    let layers = root.join("images/layers");
    let layer = std::fs::read_dir(&layers)
        .expect("layers")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("one layer");
    let st = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", layer.display()))
        .arg(&rootfs)
        .status()
        .expect("cp");
    assert!(st.success());

    let mut net_cmd = || compose(&["run", "--rm", "-T", "app", "true"]);
    // Without a network: the same work as crun's (which gets no network either).
    let mut bare_cmd = || compose(&["run", "--rm", "-T", "bare", "true"]);
    let ours = time(runs, &mut net_cmd);
    let bare = time(runs, &mut bare_cmd);
    let floor = time(runs, || {
        let mut c = Command::new("unshare");
        c.args([
            "--pid", "--fork", "--mount", "--uts", "--ipc", "--net", "chroot",
        ])
        .arg(&rootfs)
        .arg("/bin/true");
        c
    });
    let has_crun = Command::new("crun").arg("--version").output().is_ok();
    let mut n = 0;
    let mut crun_cmd = || {
        n += 1;
        crun_run(tmp.path(), n)
    };
    if has_crun {
        let bundle = tmp.path().join("bundle");
        let st = Command::new("crun")
            .current_dir(&bundle)
            .arg("spec")
            .status()
            .expect("crun spec");
        assert!(st.success());
        let cfg_path = bundle.join("config.json");
        let mut cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&cfg_path).expect("config.json"))
                .expect("json");
        cfg["process"]["args"] = serde_json::json!(["/bin/true"]);
        cfg["process"]["terminal"] = serde_json::json!(false);
        cfg["root"]["readonly"] = serde_json::json!(false);
        std::fs::write(&cfg_path, serde_json::to_vec(&cfg).expect("json")).expect("write");
    }
    let crun = if has_crun {
        time(runs, &mut crun_cmd)
    } else {
        None
    };
    let interleaved = if has_crun {
        time_interleaved(runs, &mut [&mut net_cmd, &mut bare_cmd, &mut crun_cmd])
    } else {
        time_interleaved(runs, &mut [&mut net_cmd, &mut bare_cmd])
    };
    for c in [
        "memory", "cpu", "pids", "cpuacct", "cpuset", "blkio", "devices", "freezer", "systemd",
        "unified",
    ] {
        let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(c).join(&cgroup_parent));
    }
    let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(&cgroup_parent));
    println!(
        "container start, median of {runs}: compose run --rm true {} (network_mode: none {}); unshare+chroot floor {}; crun run {}",
        ms(ours),
        ms(bare),
        ms(floor),
        ms(crun)
    );
    println!(
        "interleaved (each in turn, 50 ms apart), median of {runs}: compose run --rm true {} (network_mode: none {}); crun run {}",
        ms(interleaved[0]),
        ms(interleaved[1]),
        ms(interleaved.get(2).copied().flatten())
    );
}

/// `crun run` of the bundle under `tmp` (its `n`th container), in a mount namespace of its own
/// where /sys/fs/cgroup/unified is unmounted on hybrid hosts, as crun needs there.
fn crun_run(tmp: &Path, n: usize) -> Command {
    let bundle = tmp.join("bundle");
    let id = format!("compose-bench-{}-{n}", std::process::id());
    let umount = if Path::new("/sys/fs/cgroup/unified").exists() {
        "umount /sys/fs/cgroup/unified 2>/dev/null; "
    } else {
        ""
    };
    let mut c = Command::new("unshare");
    c.args(["--mount", "sh", "-c"]).arg(format!(
        "{umount}exec crun run -b {} {id}",
        bundle.display()
    ));
    c
}
