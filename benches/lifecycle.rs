//! Stack lifecycle: `up -d` then `down -t 0` of stacks of 5, 20 and 50 `sleep` services, for our
//! release binary and, where they are installed and working, Docker Compose v2 (`docker compose`)
//! and podman-compose, all on the same file and image; plus the resident memory each container
//! costs on the host side while the 20-service stack runs (our `compose __monitor` processes;
//! Docker's `containerd-shim` and Podman's `conmon` where those run).
//!
//! Run as root: `cargo bench --bench lifecycle -- [RUNS] [SIZES...]` (defaults: 5 runs; 5 20 50).
//! Needs /bin/busybox. The benchmark moves itself into a network namespace of its own (loopback
//! only) before anything starts, so our bridges, veths and nftables rules never touch the real
//! host; Docker's containers live in dockerd's namespace, as they always do. Nothing is
//! installed or started: a tool that is absent or whose daemon is not running is reported as
//! skipped.
//!
//! The services have no `stop_signal` and no `init`: `sleep` as PID 1 ignores SIGTERM, so
//! `down -t 0` kills at once, with every tool alike.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use compose::engine::image::testimage::{ArchiveFormat, TestImage};

/// A tag of our own, so loading the image into Docker or Podman never replaces a user's `busybox`.
const IMAGE: &str = "compose-bench-busybox:latest";
/// Where the containers' cgroups go (`COMPOSE_CGROUP_PARENT`).
const CGROUP_PARENT: &str = "compose-bench-lifecycle";
/// The size whose per-container memory is measured.
const MEMORY_SIZE: usize = 20;

/// Why a run could not be measured.
#[derive(Debug, thiserror::Error)]
enum BenchError {
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

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
    let context = context.into();
    move |source| BenchError::Io { context, source }
}

/// One compose implementation, as a command prefix (`compose`, `docker compose`, `podman-compose`).
struct Tool {
    label: &'static str,
    argv: Vec<String>,
    /// Host-side processes that exist once per container (matched on /proc/PID/cmdline).
    per_container: fn(&[String], &Path) -> bool,
}

/// Runs `argv[0] argv[1..] args` in `dir`; returns how long it took.
fn timed(
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

/// Whether `argv args` runs and exits 0 (output discarded).
fn works(argv: &[&str]) -> bool {
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

fn stack(n: usize) -> String {
    let mut s = String::from("services:\n");
    for i in 0..n {
        s.push_str(&format!(
            "  s{i}:\n    image: {IMAGE}\n    command: [sleep, '100000']\n"
        ));
    }
    s
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn fmt(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{:.0} ms", d.as_secs_f64() * 1e3)
    }
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
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Count, summed VmRSS and summed Pss (kB) of the processes whose command line matches.
fn memory(matches: impl Fn(&[String]) -> bool) -> (u64, u64, u64) {
    let mut out = (0, 0, 0);
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || !matches(&cmdline(&pid)) {
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

/// Our monitors: `compose __monitor ROOT ID` with our state root (others may run their own).
fn is_our_monitor(argv: &[String], root: &Path) -> bool {
    argv.get(1).is_some_and(|a| a == "__monitor")
        && argv.get(2).is_some_and(|r| Path::new(r) == root)
}

fn is_shim(argv: &[String], _: &Path) -> bool {
    argv.first().is_some_and(|a| a.contains("containerd-shim"))
}

fn is_conmon(argv: &[String], _: &Path) -> bool {
    argv.first().is_some_and(|a| a.ends_with("conmon"))
}

fn bench_tool(
    tool: &Tool,
    work: &Path,
    root: &Path,
    sizes: &[usize],
    runs: usize,
) -> Result<(), BenchError> {
    let envs: Vec<(&str, &Path)> = vec![
        ("COMPOSE_ROOT", root),
        (
            "COMPOSE_CGROUP_PARENT",
            Path::new("compose-bench-lifecycle"),
        ),
    ];
    for &n in sizes {
        let dir = work.join(format!("{}-{n}", tool.label.replace(' ', "-")));
        std::fs::create_dir_all(&dir).map_err(io_err(format!("mkdir {}", dir.display())))?;
        std::fs::write(dir.join("compose.yaml"), stack(n)).map_err(io_err("compose.yaml"))?;
        let project = format!("lifecycle-bench-{n}");
        let p = ["-p", project.as_str()];
        let (mut ups, mut downs, mut mem) = (Vec::new(), Vec::new(), None);
        for _ in 0..runs {
            let up = timed(&tool.argv, &dir, &[&p[..], &["up", "-d"]].concat(), &envs);
            if n == MEMORY_SIZE && mem.is_none() {
                // Measured once the stack has settled (the same pause for every tool).
                std::thread::sleep(Duration::from_secs(1));
                mem = Some(memory(|a| (tool.per_container)(a, root)));
            }
            // Always take the stack down, even after a failed `up`.
            let down = timed(
                &tool.argv,
                &dir,
                &[&p[..], &["down", "-t", "0"]].concat(),
                &envs,
            );
            ups.push(up?);
            downs.push(down?);
        }
        let (u, d) = (median(ups), median(downs));
        println!(
            "  {:<16} {n:>3} services  up -d {:>8} ({:>5.1} ms each)  down -t 0 {:>8}  both {:>8}",
            tool.label,
            fmt(u),
            u.as_secs_f64() * 1e3 / n as f64,
            fmt(d),
            fmt(u + d)
        );
        if let Some((count, rss, pss)) = mem {
            if count > 0 {
                println!(
                    "  {:<16} per-container process while {n} run: {count} processes, VmRSS {:.0} KiB each, Pss {:.0} KiB each",
                    tool.label,
                    rss as f64 / count as f64,
                    pss as f64 / count as f64
                );
            } else {
                println!(
                    "  {:<16} no per-container host process found while {n} run",
                    tool.label
                );
            }
        }
    }
    Ok(())
}

fn main() {
    if !rustix::process::geteuid().is_root() || !Path::new("/bin/busybox").exists() {
        eprintln!("skipped: needs root and /bin/busybox");
        return;
    }
    let nums: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .filter(|&n| n > 0)
        .collect();
    let runs = nums.first().copied().unwrap_or(5);
    let sizes = if nums.len() > 1 {
        nums[1..].to_vec()
    } else {
        vec![5, 20, 50]
    };

    // The stand-in host: this process (still single-threaded) and its children.
    // SAFETY: unsharing the network namespace of a single-threaded process.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }
        .expect("unshare the network namespace");
    let mut nl = compose::engine::network::link::Netlink::new().expect("netlink");
    let lo = nl.link_index("lo").expect("lo").expect("lo");
    nl.set_up(lo).expect("lo up");

    let tmp = tempfile::Builder::new()
        .prefix("compose-bench-lifecycle-")
        .tempdir()
        .expect("temp dir");
    let root: PathBuf = tmp.path().join("state");
    let archive = tmp.path().join("busybox.tar");
    let image = TestImage {
        name: IMAGE.into(),
        ..TestImage::default()
    };
    std::fs::write(&archive, image.archive(ArchiveFormat::Oci).expect("image"))
        .expect("write image");
    let archive_s = archive.to_str().expect("utf-8 temp path");

    let ours = Tool {
        label: "compose",
        argv: vec![env!("CARGO_BIN_EXE_compose").into()],
        per_container: is_our_monitor,
    };
    let envs = [("COMPOSE_ROOT", root.as_path())];
    timed(
        &ours.argv,
        tmp.path(),
        &["image", "load", "-q", "-i", archive_s],
        &envs,
    )
    .expect("load the image");

    let mut tools = vec![ours];
    if !works(&["docker", "compose", "version"]) {
        println!("docker compose: skipped: not installed");
    } else if !works(&["docker", "info"]) {
        println!("docker compose: skipped: docker not running");
    } else if !works(&["docker", "load", "-q", "-i", archive_s]) {
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
    } else if !works(&["podman", "load", "-q", "-i", archive_s]) {
        println!("podman-compose: skipped: `podman load` of the image failed");
    } else {
        tools.push(Tool {
            label: "podman-compose",
            argv: vec!["podman-compose".into()],
            per_container: is_conmon,
        });
    }

    println!("up -d / down -t 0 of N `sleep` services, median of {runs} runs:");
    for tool in &tools {
        if let Err(e) = bench_tool(tool, tmp.path(), &root, &sizes, runs) {
            println!("  {:<16} failed: {e}", tool.label);
        }
    }
    remove_cgroup_parent(CGROUP_PARENT);
}

/// `down` leaves the (empty) cgroup parent in place, as it would `compose`'s default one; the
/// benchmark's own is removed from every hierarchy, best effort.
fn remove_cgroup_parent(name: &str) {
    let Ok(dir) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(name));
    for e in dir.flatten() {
        let _ = std::fs::remove_dir(e.path().join(name));
    }
}
