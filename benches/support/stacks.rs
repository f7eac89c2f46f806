//! What the benchmarks share: the stand-in host (a network namespace of the benchmark's own),
//! the busybox image they load, timing and medians, and — for the stack benchmarks (`lifecycle`,
//! `scale`) — the compose implementations they pair, the stack they bring up and how much
//! memory each container's host-side process costs. One copy, so every benchmark measures and
//! reports the same way.
//!
//! Included by each benchmark with `#[path = "support/stacks.rs"] mod stacks;`.
#![allow(dead_code)] // each benchmark uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use compose::engine::image::testimage::{ArchiveFormat, TestImage};
use compose::engine::network::link::Netlink;

/// A tag of our own, so loading the image into Docker or Podman never replaces a user's `busybox`.
pub const IMAGE: &str = "compose-bench-busybox:latest";

/// Whether the benchmark can run here: it needs root (namespaces, cgroups) and /bin/busybox
/// (what the test image runs); says why not when it cannot.
pub fn can_run() -> bool {
    let ok = rustix::process::geteuid().is_root() && Path::new("/bin/busybox").exists();
    if !ok {
        eprintln!("skipped: needs root and /bin/busybox");
    }
    ok
}

/// The positive numbers among the benchmark's arguments, in order (cargo bench adds flags of
/// its own, such as `--bench`, which are passed over).
pub fn numeric_args() -> Vec<usize> {
    std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .filter(|&n| n > 0)
        .collect()
}

/// Moves this process (still single-threaded) and its future children into a network namespace
/// of their own with loopback up: the stand-in host, so bridges, veths and nftables rules never
/// touch the real one. Returns the netlink handle for any further set-up of that namespace.
pub fn isolate_network() -> Netlink {
    // SAFETY: unsharing the network namespace of a single-threaded process.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }
        .expect("unshare the network namespace");
    let mut nl = Netlink::new().expect("netlink");
    let lo = nl.link_index("lo").expect("lo").expect("lo");
    nl.set_up(lo).expect("lo up");
    nl
}

/// Writes the test busybox image as an OCI archive `dir/busybox.tar`, named `name` (`None`: the
/// image's default name, `busybox:latest`); returns its path.
pub fn busybox_archive(dir: &Path, name: Option<&str>) -> PathBuf {
    let mut image = TestImage::default();
    if let Some(name) = name {
        image.name = name.into();
    }
    let archive = dir.join("busybox.tar");
    std::fs::write(&archive, image.archive(ArchiveFormat::Oci).expect("image"))
        .expect("write image");
    archive
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

/// Why a run could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{tool} {args}: {source}")]
    Spawn {
        tool: String,
        args: String,
        source: std::io::Error,
    },
    #[error("{tool} {args} exited with {status}: {stderr}")]
    Failed {
        tool: String,
        args: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

pub fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
    let context = context.into();
    move |source| BenchError::Io { context, source }
}

/// One compose implementation: its command prefix (`compose`, `docker compose`,
/// `podman-compose`) and how to recognise its per-container host process.
pub struct Tool {
    pub label: &'static str,
    pub argv: Vec<String>,
    /// Host-side processes that exist once per container (matched on /proc/PID/cmdline).
    pub per_container: fn(&str, &[String], &Path) -> bool,
}

/// Runs `argv[0] argv[1..] args` in `dir` with `envs`; returns how long it took.
pub fn timed(
    argv: &[String],
    dir: &Path,
    args: &[&str],
    envs: &[(&str, &Path)],
) -> Result<Duration, BenchError> {
    let (prog, pre) = argv.split_first().ok_or_else(|| BenchError::Io {
        context: "empty command".into(),
        source: std::io::Error::other("no program"),
    })?;
    let mut cmd = Command::new(prog);
    cmd.args(pre)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let t = Instant::now();
    let out = cmd.output().map_err(|source| BenchError::Spawn {
        tool: argv.join(" "),
        args: args.join(" "),
        source,
    })?;
    let took = t.elapsed();
    if !out.status.success() {
        return Err(BenchError::Failed {
            tool: argv.join(" "),
            args: args.join(" "),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(took)
}

/// Whether `argv` runs and exits 0 (output discarded).
pub fn works(argv: &[&str]) -> bool {
    let Some((prog, args)) = argv.split_first() else {
        return false;
    };
    Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Our own binary, as a [`Tool`], whose per-container process is its monitor.
fn ours() -> Tool {
    Tool {
        label: "compose",
        argv: vec![env!("CARGO_BIN_EXE_compose").into()],
        per_container: is_our_monitor,
    }
}

/// The tools to pair, each with the image at `archive` loaded: ours (into state root `root`,
/// run from `work`; failing that, the benchmark stops), then Docker Compose and podman-compose
/// where installed and working; each one left out is reported as skipped (nothing is installed
/// or started).
pub fn tools_with_image(root: &Path, work: &Path, archive: &str) -> Vec<Tool> {
    let ours = ours();
    timed(
        &ours.argv,
        work,
        &["image", "load", "-q", "-i", archive],
        &[("COMPOSE_ROOT", root)],
    )
    .expect("load the image");
    let mut tools = vec![ours];
    if !works(&["docker", "compose", "version"]) {
        println!("docker compose: skipped: not installed");
    } else if !works(&["docker", "info"]) {
        println!("docker compose: skipped: docker not running");
    } else if !works(&["docker", "load", "-q", "-i", archive]) {
        println!("docker compose: skipped: `docker load` of the image failed");
    } else {
        tools.push(Tool {
            label: "docker compose",
            argv: vec!["docker".into(), "compose".into()],
            per_container: is_shim,
        });
    }
    if !works(&["podman-compose", "version"]) {
        println!("podman-compose: skipped: not installed");
    } else if !works(&["podman", "load", "-q", "-i", archive]) {
        println!("podman-compose: skipped: `podman load` of the image failed");
    } else {
        tools.push(Tool {
            label: "podman-compose",
            argv: vec!["podman-compose".into()],
            per_container: is_conmon,
        });
    }
    tools
}

/// A stack of `n` `sleep` services on [`IMAGE`]. No `stop_signal` and no `init`: `sleep` as
/// PID 1 ignores SIGTERM, so `down -t 0` kills at once, with every tool alike.
pub fn stack(n: usize) -> String {
    let mut s = String::from("services:\n");
    for i in 0..n {
        s.push_str(&format!(
            "  s{i}:\n    image: {IMAGE}\n    command: [sleep, '100000']\n"
        ));
    }
    s
}

fn cmdline(pid: &str) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A `kB` field of a /proc file (`VmRSS:` of status, `Pss:` of smaps_rollup).
fn kb_field(path: &str, field: &str) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Count, summed VmRSS and summed Pss (kB) of the processes whose command line matches.
pub fn process_memory(matches: impl Fn(&str, &[String]) -> bool) -> (u64, u64, u64) {
    let mut out = (0, 0, 0);
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || !matches(&pid, &cmdline(&pid)) {
            continue;
        }
        let rss = kb_field(&format!("/proc/{pid}/status"), "VmRSS:");
        let pss = kb_field(&format!("/proc/{pid}/smaps_rollup"), "Pss:");
        if let (Some(rss), Some(pss)) = (rss, pss) {
            out.0 += 1;
            out.1 += rss;
            out.2 += pss;
        }
    }
    out
}

/// Our monitors (`compose-monitor NAME`) serving our state root, which is in their initial
/// environment (others may run their own).
pub fn is_our_monitor(pid: &str, argv: &[String], root: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    if argv.first().map(String::as_str) != Some(compose::engine::supervisor::MONITOR_ARG0) {
        return false;
    }
    let key = format!("{}=", compose::engine::supervisor::MONITOR_ROOT_ENV);
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter_map(|v| v.strip_prefix(key.as_bytes()))
        .any(|r| Path::new(std::ffi::OsStr::from_bytes(r)) == root)
}

pub fn is_shim(_: &str, argv: &[String], _: &Path) -> bool {
    argv.first().is_some_and(|a| a.contains("containerd-shim"))
}

pub fn is_conmon(_: &str, argv: &[String], _: &Path) -> bool {
    argv.first().is_some_and(|a| a.ends_with("conmon"))
}

/// `down` leaves the (empty) cgroup parent in place, as it would `compose`'s default one; the
/// benchmark's own is removed from every hierarchy, best effort (a parent some process still
/// holds stays, and says so).
pub fn remove_cgroup_parent(name: &str) {
    let base = Path::new("/sys/fs/cgroup");
    let mut dirs = vec![base.join(name)];
    dirs.extend(
        std::fs::read_dir(base)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join(name)),
    );
    for d in dirs.iter().filter(|d| d.is_dir()) {
        if let Err(e) = std::fs::remove_dir(d) {
            eprintln!("warning: removing {}: {e}", d.display());
        }
    }
}
