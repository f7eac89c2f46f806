//! Soak: `up -d` / `down -t 0` cycles of a five-service stack (published ports, a network of its
//! own beside the default one, a named volume, dependencies), checking every 100 cycles and at
//! the end that nothing accumulates — in the monitors (descriptors, memory), on the stand-in
//! host (links, nftables rules), under the state root (IPAM allocations, files, the events
//! log's size), in the cgroup parent, the mount table and this test process's own descriptors. A leak of one item per cycle
//! is invisible in any single test and fatal to a long-lived machine.
//!
//! `COMPOSE_SOAK_CYCLES` sets the count (default [`CI_CYCLES`], which fits the CI budget of
//! 60 s); `COMPOSE_SOAK_CYCLES=1000` is the full run BENCHMARKS.md records. Root only, like every
//! engine test, in a network namespace of its own.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
    #[path = "procfs.rs"]
    pub mod procfs;
}

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::engine::{http_get, ok, wait_for, Fixture};
use support::procfs::{self, ProcFigures};

/// The bounded count CI runs: under 60 s with the debug build on a busy 2-core machine.
const CI_CYCLES: usize = 20;
/// A check every this many cycles (and after the last).
const CHECK_EVERY: usize = 100;
/// How far the monitors' summed resident memory may be above the first cycle's: pages of the
/// shared binary a wake-up faults back in come and go with timing; a leak only grows.
const RSS_TOLERANCE_KB: u64 = 1024;
/// The same for their private (anonymous) memory, which is where a leak would show.
const ANON_TOLERANCE_KB: u64 = 256;

const STACK: &str = "services:
  db:
    image: busybox
    command: [sh, -c, 'date > /data/last-start; exec sleep 100000']
    volumes: ['data:/data']
    networks: [default, back]
  api:
    image: busybox
    command: [sh, -c, 'echo api > /tmp/index.html; exec httpd -f -p 80 -h /tmp']
    ports: ['18081:80']
    networks: [default, back]
    depends_on: [db]
  web:
    image: busybox
    command: [sh, -c, 'echo web > /tmp/index.html; exec httpd -f -p 80 -h /tmp']
    ports: ['18080:80', '18443:443']
    depends_on: [api]
  worker:
    image: busybox
    command: [sleep, '100000']
    networks: [back]
    depends_on:
      db:
        condition: service_started
  cache:
    image: busybox
    command: [sleep, '100000']
    ports: ['16379:6379/tcp', '16380:6380/udp']
networks:
  back: {}
volumes:
  data: {}
";

/// What is counted after a cycle's `down`: none of it may grow.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Leftovers {
    monitors: usize,
    links: Vec<String>,
    rules: Vec<String>,
    networks_recorded: usize,
    allocations: usize,
    cgroups: usize,
    mounts: usize,
    root_entries: Vec<String>,
    own_fds: usize,
}

fn leftovers(f: &Fixture) -> Leftovers {
    let (networks_recorded, allocations) = procfs::ipam_allocations(&f.root);
    Leftovers {
        monitors: f.monitors_left().len(),
        links: f.host_links(),
        rules: f.host_rules().1,
        networks_recorded,
        allocations,
        cgroups: procfs::cgroup_dirs(&f.cgroup_parent),
        mounts: procfs::mounts_naming(f.dir.path()),
        root_entries: procfs::entries_under(&f.root, &["images"]),
        own_fds: procfs::own_fds(),
    }
}

/// The project's monitors' figures summed, once each has had a second to settle (a monitor
/// gives its start-up pages back when it first waits with nothing to do).
fn monitors(f: &Fixture) -> (usize, ProcFigures) {
    std::thread::sleep(Duration::from_millis(1500));
    let pids = f.monitors_left();
    let figures: Vec<ProcFigures> = pids.iter().filter_map(|&p| ProcFigures::of(p)).collect();
    assert_eq!(figures.len(), 5, "five monitors: {pids:?}");
    (figures.len(), ProcFigures::sum(figures))
}

fn cycles() -> usize {
    std::env::var("COMPOSE_SOAK_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(CI_CYCLES)
}

#[test]
#[ignore = "needs root"]
fn up_down_cycles_accumulate_nothing() {
    require_engine!();
    let total = cycles();
    let mut f = Fixture::with_netns(STACK);
    let web: SocketAddr = "127.0.0.1:18080".parse().expect("addr");
    let started = Instant::now();
    let mut mon0: Option<ProcFigures> = None;
    let mut left0: Option<Leftovers> = None;
    println!(
        "{:>6} {:>8} {:>10} {:>10} {:>8} {:>6} {:>6} {:>5} {:>8} {:>6} {:>6} {:>8} {:>7} {:>9}",
        "cycle",
        "elapsed",
        "mon-rss",
        "mon-anon",
        "mon-fds",
        "links",
        "rules",
        "nets",
        "allocs",
        "cgrps",
        "mounts",
        "root-ent",
        "own-fds",
        "events"
    );
    for cycle in 1..=total {
        ok(&f, &["up", "-d"]);
        let check = cycle <= 2 || cycle % CHECK_EVERY == 0 || cycle == total;
        let mon = if check {
            // The published port answers through the kernel's DNAT, every checked cycle.
            let got = f.in_host(|| wait_for(5, || http_get(web)));
            assert_eq!(got.as_deref(), Some("web"), "cycle {cycle}: {web}");
            Some(monitors(&f))
        } else {
            None
        };
        ok(&f, &["down", "-t", "0"]);
        let Some((_, mon)) = mon else {
            continue;
        };
        let left = leftovers(&f);
        let events_kb =
            std::fs::metadata(f.root.join("events.jsonl")).map_or(0, |m| m.len()) / 1024;
        println!(
            "{cycle:>6} {:>7.0}s {:>7} kB {:>7} kB {:>8} {:>6} {:>6} {:>5} {:>8} {:>6} {:>6} {:>8} {:>7} {:>6} kB",
            started.elapsed().as_secs_f64(),
            mon.rss_kb,
            mon.anon_kb,
            mon.fds,
            left.links.len(),
            left.rules.len(),
            left.networks_recorded,
            left.allocations,
            left.cgroups,
            left.mounts,
            left.root_entries.len(),
            left.own_fds,
            events_kb
        );
        assert_eq!(left.monitors, 0, "cycle {cycle}: monitors outlived down");
        assert_eq!(
            left.allocations, 0,
            "cycle {cycle}: addresses still allocated"
        );
        assert_eq!(left.mounts, 0, "cycle {cycle}: mounts left");
        // The one file that grows with every cycle is kept to its bound (trimmed past it).
        assert!(
            events_kb * 1024 <= compose::engine::events::MAX_SIZE,
            "cycle {cycle}: events.jsonl holds {events_kb} kB"
        );
        // The monitors are compared with cycle 1's; what is left after `down` with cycle 2's,
        // as the second mount of the volume marks it once as holding data (`prefilled`).
        let Some(first) = mon0 else {
            mon0 = Some(mon);
            continue;
        };
        assert_eq!(
            mon.fds, first.fds,
            "cycle {cycle}: the monitors' descriptors"
        );
        assert!(
            mon.rss_kb <= first.rss_kb + RSS_TOLERANCE_KB,
            "cycle {cycle}: monitors' VmRSS {} kB against {} kB in cycle 1",
            mon.rss_kb,
            first.rss_kb
        );
        assert!(
            mon.anon_kb <= first.anon_kb + ANON_TOLERANCE_KB,
            "cycle {cycle}: monitors' RssAnon {} kB against {} kB in cycle 1",
            mon.anon_kb,
            first.anon_kb
        );
        let Some(second) = &left0 else {
            left0 = Some(left);
            continue;
        };
        assert_eq!(&left, second, "cycle {cycle} against cycle 2");
    }
    println!(
        "{total} cycles in {:.1} s ({:.0} ms a cycle)",
        started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64() * 1e3 / total as f64
    );
    ok(&f, &["down", "-v", "-t", "0"]);
    f.assert_clean();
}
