//! Scale: one project of 200 `sleep` containers on one machine — the time of `up -d`, `ps` and
//! `down -t 0` with that many, and what each container costs the host while they run: its
//! monitor's resident memory (VmRSS, and Pss, which shares the binary's pages out fairly) and
//! the memory its cgroup is charged (the container's processes and the kernel's memory for them).
//!
//! Run as root: `cargo bench --bench scale -- [CONTAINERS] [RUNS]` (defaults: 200 containers, 3
//! runs). Needs /bin/busybox. Like `lifecycle`, the benchmark moves itself into a network
//! namespace of its own (loopback only) first, so the project network's bridge, its 200 veths
//! and its nftables rules never touch the real host. Docker Compose and podman-compose are
//! paired where installed and working (same file and image); otherwise they are reported as
//! skipped — nothing is installed or started.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use compose::engine::image::testimage::{ArchiveFormat, TestImage};

/// A tag of our own, so loading the image into Docker or Podman never replaces a user's `busybox`.
const IMAGE: &str = "compose-bench-busybox:latest";
/// Where the containers' cgroups go (`COMPOSE_CGROUP_PARENT`): its memory charge is theirs.
const CGROUP_PARENT: &str = "compose-bench-scale";
const PROJECT: &str = "scale-bench";

/// Why a run could not be measured.
#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("{command}: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("{command} exited with {status}: {stderr}")]
    Failed {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
}

/// One compose implementation: its command prefix and how to recognise its per-container
/// host process (our monitor, Docker's shim, Podman's conmon) on /proc/PID/cmdline.
struct Tool {
    label: &'static str,
    argv: Vec<String>,
    per_container: fn(&[String], &Path) -> bool,
}

/// Runs `argv args` in `dir` with `envs`; returns how long it took.
fn timed(
    argv: &[String],
    dir: &Path,
    args: &[&str],
    envs: &[(&str, &Path)],
) -> Result<Duration, BenchError> {
    let command = format!("{} {}", argv.join(" "), args.join(" "));
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
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
        command: command.clone(),
        source,
    })?;
    let took = t.elapsed();
    if !out.status.success() {
        return Err(BenchError::Failed {
            command,
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(took)
}

/// Whether `argv` runs and exits 0 (output discarded).
fn works(argv: &[&str]) -> bool {
    Command::new(argv[0])
        .args(&argv[1..])
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

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
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
fn per_container_memory(matches: impl Fn(&[String]) -> bool) -> (u64, u64, u64) {
    let mut out = (0, 0, 0);
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
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

/// Bytes charged to the cgroup parent, which holds every container's cgroup: the `memory` v1
/// hierarchy's `memory.usage_in_bytes` (hierarchical), or cgroup v2's `memory.current`.
fn cgroup_memory(parent: &str) -> Option<u64> {
    [
        format!("/sys/fs/cgroup/memory/{parent}/memory.usage_in_bytes"),
        format!("/sys/fs/cgroup/{parent}/memory.current"),
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .and_then(|s| s.trim().parse().ok())
}

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
    dir: &Path,
    root: &Path,
    n: usize,
    runs: usize,
) -> Result<(), BenchError> {
    let envs: Vec<(&str, &Path)> = vec![
        ("COMPOSE_ROOT", root),
        ("COMPOSE_CGROUP_PARENT", Path::new(CGROUP_PARENT)),
    ];
    let p = ["-p", PROJECT];
    let (mut ups, mut pss, mut downs) = (Vec::new(), Vec::new(), Vec::new());
    let mut memory = None;
    for _ in 0..runs {
        let up = timed(&tool.argv, dir, &[&p[..], &["up", "-d"]].concat(), &envs);
        if up.is_ok() {
            // Settled: every monitor has gone idle once and given its start-up pages back.
            std::thread::sleep(Duration::from_secs(2));
            if memory.is_none() {
                let (count, rss, pss) = per_container_memory(|a| (tool.per_container)(a, root));
                memory = Some((count, rss, pss, cgroup_memory(CGROUP_PARENT)));
            }
            for _ in 0..3 {
                pss.push(timed(
                    &tool.argv,
                    dir,
                    &[&p[..], &["ps", "-a"]].concat(),
                    &envs,
                )?);
            }
        }
        // Always take the stack down, even after a failed `up`.
        let down = timed(
            &tool.argv,
            dir,
            &[&p[..], &["down", "-t", "0"]].concat(),
            &envs,
        );
        ups.push(up?);
        downs.push(down?);
    }
    let (u, s, d) = (median(ups), median(pss), median(downs));
    println!(
        "  {:<16} {n} containers: up -d {} ({:.1} ms each), ps {}, down -t 0 {} ({:.1} ms each)",
        tool.label,
        ms(u),
        u.as_secs_f64() * 1e3 / n as f64,
        ms(s),
        ms(d),
        d.as_secs_f64() * 1e3 / n as f64,
    );
    if let Some((count, rss, pss, charged)) = memory {
        if count > 0 {
            println!(
                "  {:<16} per container while {n} run: {count} host processes, VmRSS {:.0} KiB, Pss {:.0} KiB each",
                tool.label,
                rss as f64 / count as f64,
                pss as f64 / count as f64
            );
        }
        match charged {
            Some(bytes) => println!(
                "  {:<16} cgroup memory charged ({CGROUP_PARENT}): {:.1} MiB, {:.0} KiB per container",
                tool.label,
                bytes as f64 / (1 << 20) as f64,
                bytes as f64 / 1024.0 / n as f64
            ),
            None => println!("  {:<16} cgroup memory: not readable", tool.label),
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
    let n = nums.first().copied().unwrap_or(200);
    let runs = nums.get(1).copied().unwrap_or(3);

    // The stand-in host: this process (still single-threaded) and its children.
    // SAFETY: unsharing the network namespace of a single-threaded process.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }
        .expect("unshare the network namespace");
    let mut nl = compose::engine::network::link::Netlink::new().expect("netlink");
    let lo = nl.link_index("lo").expect("lo").expect("lo");
    nl.set_up(lo).expect("lo up");

    let tmp = tempfile::Builder::new()
        .prefix("compose-bench-scale-")
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
    let dir = tmp.path().join("project");
    std::fs::create_dir_all(&dir).expect("project dir");
    std::fs::write(dir.join("compose.yaml"), stack(n)).expect("compose.yaml");

    let ours = Tool {
        label: "compose",
        argv: vec![env!("CARGO_BIN_EXE_compose").into()],
        per_container: is_our_monitor,
    };
    timed(
        &ours.argv,
        tmp.path(),
        &["image", "load", "-q", "-i", archive_s],
        &[("COMPOSE_ROOT", root.as_path())],
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

    println!("{n} `sleep` containers in one project, median of {runs} runs (ps: of 3 per run):");
    for tool in &tools {
        if let Err(e) = bench_tool(tool, &dir, &root, n, runs) {
            println!("  {:<16} failed: {e}", tool.label);
        }
    }
    remove_cgroup_parent(CGROUP_PARENT);
}

/// `down` leaves the (empty) cgroup parent in place, as it would `compose`'s default one; the
/// benchmark's own is removed from every hierarchy, best effort (a parent some process still
/// holds stays, and says so).
fn remove_cgroup_parent(name: &str) {
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
