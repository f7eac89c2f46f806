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
#[path = "support/stacks.rs"]
mod stacks;

use std::path::{Path, PathBuf};
use std::time::Duration;

use stacks::{
    busybox_archive, can_run, isolate_network, median, ms, numeric_args, process_memory,
    remove_cgroup_parent, stack, timed, tools_with_image, BenchError, Tool, IMAGE,
};

/// Where the containers' cgroups go (`COMPOSE_CGROUP_PARENT`): its memory charge is theirs.
const CGROUP_PARENT: &str = "compose-bench-scale";
const PROJECT: &str = "scale-bench";

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
                let (count, rss, pss) = process_memory(|pid, a| (tool.per_container)(pid, a, root));
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
    if !can_run() {
        return;
    }
    let nums = numeric_args();
    let n = nums.first().copied().unwrap_or(200);
    let runs = nums.get(1).copied().unwrap_or(3);

    isolate_network();

    let tmp = tempfile::Builder::new()
        .prefix("compose-bench-scale-")
        .tempdir()
        .expect("temp dir");
    let root: PathBuf = tmp.path().join("state");
    let archive = busybox_archive(tmp.path(), Some(IMAGE));
    let archive_s = archive.to_str().expect("utf-8 temp path");
    let dir = tmp.path().join("project");
    std::fs::create_dir_all(&dir).expect("project dir");
    std::fs::write(dir.join("compose.yaml"), stack(n)).expect("compose.yaml");

    let tools = tools_with_image(&root, tmp.path(), archive_s);

    println!("{n} `sleep` containers in one project, median of {runs} runs (ps: of 3 per run):");
    for tool in &tools {
        if let Err(e) = bench_tool(tool, &dir, &root, n, runs) {
            println!("  {:<16} failed: {e}", tool.label);
        }
    }
    remove_cgroup_parent(CGROUP_PARENT);
}
