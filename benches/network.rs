//! Networking: (1) `up -d` and `down -t 0` of a stack of N `sleep` services on the project
//! network against the same stack with `network_mode: none` — the difference is what the network
//! part costs (bridge, IPAM, veths, DNS publication, nftables); (2) TCP throughput from the host
//! to a container through a published port (kernel DNAT) against the container's address
//! directly.
//!
//! Run as root: `cargo bench --bench network -- [SERVICES] [RUNS] [MIB]` (defaults 20, 5, 1024).
//! Everything runs in a network namespace the benchmark makes for itself (the stand-in host), so
//! the real host's interfaces and rules are never touched.

#[path = "support/stacks.rs"]
mod stacks;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stacks::{busybox_archive, can_run, isolate_network, median, ms};

const HOST_ADDR: &str = "10.200.0.1";

fn compose(root: &Path, dir: &Path, args: &[&str]) -> Duration {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_compose"))
        .current_dir(dir)
        .env("COMPOSE_ROOT", root)
        .env("COMPOSE_CGROUP_PARENT", "compose-bench")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run compose");
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "compose {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn stack(n: usize, networked: bool) -> String {
    let mut s = String::from("services:\n");
    for i in 0..n {
        s.push_str(&format!(
            "  s{i}:\n    image: busybox\n    command: [sleep, '1000']\n    stop_signal: KILL\n"
        ));
        if !networked {
            s.push_str("    network_mode: none\n");
        }
    }
    s
}

/// Sends `mib` MiB to `addr` and returns MiB/s (the sink is `nc -l` in the container).
fn throughput(addr: SocketAddr, mib: usize) -> f64 {
    let buf = vec![0x5au8; 1 << 20];
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut s = loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("connect {addr}: {e}"),
        }
    };
    let t = Instant::now();
    for _ in 0..mib {
        s.write_all(&buf).expect("send");
    }
    s.shutdown(std::net::Shutdown::Write).ok();
    let mut rest = [0u8; 16];
    use std::io::Read;
    let _ = s.read(&mut rest);
    mib as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    if !can_run() {
        return;
    }
    let nums: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = nums.first().copied().unwrap_or(20);
    let runs = nums.get(1).copied().unwrap_or(5);
    let mib = nums.get(2).copied().unwrap_or(1024);

    // The stand-in host: this process (still single-threaded) and its children.
    let mut nl = isolate_network();
    let lo = nl.link_index("lo").expect("lo").expect("lo");
    nl.add_address(lo, HOST_ADDR.parse().expect("addr"), 32)
        .expect("host address");

    let tmp = tempfile::Builder::new()
        .prefix("compose-bench-")
        .tempdir()
        .expect("temp dir");
    let root = tmp.path().join("state");
    let archive = busybox_archive(tmp.path(), None);
    compose(
        &root,
        tmp.path(),
        &[
            "image",
            "load",
            "-q",
            "-i",
            archive.to_str().expect("utf-8"),
        ],
    );

    println!("stack of {n} services, {runs} runs (median):");
    let mut medians = Vec::new();
    for networked in [true, false] {
        let dir = tmp.path().join(if networked { "net" } else { "nonet" });
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("compose.yaml"), stack(n, networked)).expect("compose.yaml");
        let (mut ups, mut downs) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            ups.push(compose(&root, &dir, &["up", "-d"]));
            downs.push(compose(&root, &dir, &["down", "-t", "0"]));
        }
        let (u, d) = (median(ups), median(downs));
        println!(
            "  {:<22} up -d {:>7}  down -t 0 {:>7}",
            if networked {
                "project network"
            } else {
                "network_mode: none"
            },
            ms(u),
            ms(d)
        );
        medians.push((u, d));
    }
    let (net, none) = (medians[0], medians[1]);
    println!(
        "  network part: up {} ({:.1} ms per container), down {}",
        ms(net.0.saturating_sub(none.0)),
        net.0.saturating_sub(none.0).as_secs_f64() * 1e3 / n as f64,
        ms(net.1.saturating_sub(none.1))
    );

    // Throughput.
    let dir = tmp.path().join("tput");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("compose.yaml"),
        "services:\n  sink:\n    image: busybox\n    command: [sh, -c, 'while true; do nc -l -p 5001 > /dev/null; done']\n    stop_signal: KILL\n    ports: ['15001:5001']\n",
    )
    .expect("compose.yaml");
    compose(&root, &dir, &["up", "-d"]);
    let rec = compose::engine::state::list(&root, Some("tput"))
        .expect("state")
        .into_iter()
        .next()
        .expect("the sink container");
    let ip = rec.record.endpoints[0].addresses[0].0;
    let direct: SocketAddr = SocketAddr::new(ip, 5001);
    let paths = [
        ("container address (direct)", direct),
        (
            "published, via 127.0.0.1",
            "127.0.0.1:15001".parse().expect("addr"),
        ),
        (
            "published, via host address",
            format!("{HOST_ADDR}:15001").parse().expect("addr"),
        ),
    ];
    println!("TCP throughput, {mib} MiB per run, best of 3:");
    let mut best = Vec::new();
    for (label, addr) in paths {
        let b = (0..3).map(|_| throughput(addr, mib)).fold(0.0f64, f64::max);
        println!("  {label:<30} {b:>8.0} MiB/s");
        best.push(b);
    }
    println!(
        "  published/direct: {:.0} % (127.0.0.1), {:.0} % (host address)",
        100.0 * best[1] / best[0],
        100.0 * best[2] / best[0]
    );
    compose(&root, &dir, &["down", "-t", "0"]);
    // The containers' cgroups went with them; their parent is ours to remove too.
    stacks::remove_cgroup_parent("compose-bench");
}
