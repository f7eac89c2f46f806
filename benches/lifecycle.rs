//! Stack lifecycle: `up -d` then `down -t 0` of stacks of 5, 20 and 50 `sleep` services, for our
//! release binary and, where they are installed and working, Docker Compose v2 (`docker compose`)
//! and podman-compose, all on the same file and image; plus the resident memory each container
//! costs on the host side while the 20-service stack runs (our `compose-monitor` processes;
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

#[path = "support/stacks.rs"]
mod stacks;

use std::path::{Path, PathBuf};
use std::time::Duration;

use stacks::{
    busybox_archive, can_run, io_err, isolate_network, median, numeric_args, process_memory,
    remove_cgroup_parent, stack, timed, tools_with_image, BenchError, Tool, IMAGE,
};

/// Where the containers' cgroups go (`COMPOSE_CGROUP_PARENT`).
const CGROUP_PARENT: &str = "compose-bench-lifecycle";
/// The size whose per-container memory is measured.
const MEMORY_SIZE: usize = 20;

fn fmt(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{:.0} ms", d.as_secs_f64() * 1e3)
    }
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
        ("COMPOSE_CGROUP_PARENT", Path::new(CGROUP_PARENT)),
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
                mem = Some(process_memory(|pid, a| (tool.per_container)(pid, a, root)));
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
    if !can_run() {
        return;
    }
    let nums = numeric_args();
    let runs = nums.first().copied().unwrap_or(5);
    let sizes = if nums.len() > 1 {
        nums[1..].to_vec()
    } else {
        vec![5, 20, 50]
    };

    isolate_network();

    let tmp = tempfile::Builder::new()
        .prefix("compose-bench-lifecycle-")
        .tempdir()
        .expect("temp dir");
    let root: PathBuf = tmp.path().join("state");
    let archive = busybox_archive(tmp.path(), Some(IMAGE));
    let archive_s = archive.to_str().expect("utf-8 temp path");

    let tools = tools_with_image(&root, tmp.path(), archive_s);

    println!("up -d / down -t 0 of N `sleep` services, median of {runs} runs:");
    for tool in &tools {
        if let Err(e) = bench_tool(tool, tmp.path(), &root, &sizes, runs) {
            println!("  {:<16} failed: {e}", tool.label);
        }
    }
    remove_cgroup_parent(CGROUP_PARENT);
}
