//! A monitor's memory and descriptors stay flat over a long life: a container printing a million
//! log lines, and a day of healthchecks (2,880 probes, one every 30 s) compressed into minutes
//! (CI runs a quarter of the day: [`CI_PROBES`]).
//! A monitor lives as long as its container — months on a server — so anything it keeps per
//! line or per probe is a leak that only shows there. Root only, like every engine test.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
    #[path = "procfs.rs"]
    pub mod procfs;
}

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

use compose::engine::root::StateRoot;
use compose::engine::state::{self, Observed};
use support::engine::{ok, Fixture};
use support::procfs::ProcFigures;

/// How much a monitor's private memory may grow between samples: the allocator's arenas move
/// by a page or a few; a leak of even a few bytes a line is megabytes over a million lines.
const ANON_TOLERANCE_KB: u64 = 128;
/// How much its resident memory may: code pages of the shared binary fault back in with work
/// and are given back at its next idle moment, so a busy monitor holds more for a while.
const RSS_TOLERANCE_KB: u64 = 512;

fn container(f: &Fixture, service: &str) -> Observed {
    state::list(&f.root, Some(&f.project))
        .expect("list containers")
        .into_iter()
        .find(|o| o.record.service == service)
        .unwrap_or_else(|| panic!("no container of service {service}"))
}

fn monitor_pid(f: &Fixture, service: &str) -> i32 {
    container(f, service)
        .state
        .monitor_pid
        .expect("a running container has a monitor")
}

fn figures(pid: i32) -> ProcFigures {
    ProcFigures::of(pid).unwrap_or_else(|| panic!("monitor {pid} has gone"))
}

/// The last few kB of `path` (a log of megabytes is not read whole every 50 ms).
fn tail(path: &Path) -> String {
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    if file
        .seek(SeekFrom::Start(len.saturating_sub(4096)))
        .is_err()
    {
        return String::new();
    }
    let mut buf = Vec::new();
    if file.read_to_end(&mut buf).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Asserts that every sample is within the tolerances of the first and holds no more than
/// `fd_slack` descriptors more than it did.
fn assert_flat(what: &str, samples: &[(String, ProcFigures)], fd_slack: usize) {
    let (_, base) = &samples[0];
    for (at, s) in samples {
        println!(
            "{what}: {at:<28} VmRSS {:>6} kB  RssAnon {:>6} kB  fds {:>3}",
            s.rss_kb, s.anon_kb, s.fds
        );
    }
    for (at, s) in &samples[1..] {
        let figures = [
            (
                "descriptors",
                s.fds as u64,
                base.fds as u64,
                fd_slack as u64,
            ),
            ("RssAnon kB", s.anon_kb, base.anon_kb, ANON_TOLERANCE_KB),
            ("VmRSS kB", s.rss_kb, base.rss_kb, RSS_TOLERANCE_KB),
        ];
        for (figure, now, then, slack) in figures {
            assert!(
                now <= then + slack,
                "{what}: {figure} {now} at {at} against {then} at {}",
                samples[0].0
            );
        }
    }
}

#[test]
#[ignore = "needs root"]
fn a_million_log_lines_after_a_warm_up_leave_the_monitor_as_it_was() {
    require_engine!();
    // A warm-up chunk (the first lines and the first rotation fault the monitor's logging code
    // in, once), then four chunks of 250,000 lines, each followed by a marker and a pause in
    // which the monitor goes idle; the log is rotated (10 MB, 2 files) so the test's disk use
    // stays bounded.
    let mut f = Fixture::with_netns(
        "services:
  chatty:
    image: busybox
    command: [sh, -c, 'for i in 0 1 2 3 4; do seq 250000; echo mark $$i; sleep 1; done; exec sleep 100000']
    logging:
      driver: json-file
      options:
        max-size: 10m
        max-file: '2'
",
    );
    let started = Instant::now();
    ok(&f, &["up", "-d"]);
    let c = container(&f, "chatty");
    let log = StateRoot::new(&f.root).container(&c.record.id);
    let log = state::log_path(&log);
    let pid = monitor_pid(&f, "chatty");
    let mut samples = Vec::new();
    for mark in 0..=4 {
        let want = format!("mark {mark}\\n");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !tail(&log).contains(&want) {
            assert!(Instant::now() < deadline, "no `mark {mark}` in the log");
            std::thread::sleep(Duration::from_millis(50));
        }
        // The monitor is idle again (the container sleeps 1 s after each marker).
        std::thread::sleep(Duration::from_millis(500));
        samples.push((
            format!("after {} lines", (mark + 1) * 250_000),
            figures(pid),
        ));
    }
    // The last chunk arrived whole and in order.
    let end = tail(&log);
    assert!(
        end.contains("\"log\":\"250000\\n\""),
        "the last line before the marker: {end}"
    );
    println!(
        "1,250,000 log lines (250,000 of them a warm-up) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_flat("log lines", &samples, 0);
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// A day of probes at Docker's default 30 s interval.
const DAY: u64 = 24 * 60 * 60 / 30;
/// What CI runs: six hours' worth. Each probe is a process started in the container's
/// namespaces, about 20 ms with the debug build on a quiet 2-core machine and 80 ms on a busy
/// one, so the whole day does not fit CI's minute; `COMPOSE_MONITOR_PROBES=2880` runs it.
const CI_PROBES: u64 = DAY / 4;

fn probe_count() -> u64 {
    std::env::var("COMPOSE_MONITOR_PROBES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n >= 20)
        .unwrap_or(CI_PROBES)
}

/// The probes run so far, to ten: each prints its number divided by ten, and the monitor keeps
/// the last probe's output as the health log.
fn probes(f: &Fixture) -> u64 {
    container(f, "probed")
        .state
        .health_log
        .as_deref()
        .and_then(|l| l.trim().parse::<u64>().ok())
        .map_or(0, |tens| tens * 10)
}

#[test]
#[ignore = "needs root"]
fn a_day_of_healthchecks_leaves_the_monitor_as_it_was() {
    require_engine!();
    let total = probe_count();
    // Every probe counts itself in a file of the container's and prints the count in tens (so
    // its output, which the monitor records, changes every tenth probe, as a real probe's
    // seldom changes); one in ten fails, so the health goes between healthy and unhealthy
    // (events, state writes) too.
    let mut f = Fixture::with_netns(
        "services:
  probed:
    image: busybox
    command: [sleep, '100000']
    healthcheck:
      test: [CMD-SHELL, 'n=$$(( $$(cat /tmp/n 2>/dev/null || echo 0) + 1 )); echo $$n > /tmp/n; echo $$((n / 10)); [ $$((n % 10)) != 0 ]']
      interval: 1ms
      timeout: 5s
      retries: 1
",
    );
    let started = Instant::now();
    ok(&f, &["up", "-d"]);
    let pid = monitor_pid(&f, "probed");
    let mut samples = Vec::new();
    for at in [total / 20, total / 2, total] {
        let deadline = Instant::now() + Duration::from_secs(300);
        while probes(&f) < at {
            assert!(
                Instant::now() < deadline,
                "{} probes of {at} in 300 s",
                probes(&f)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // A probe in flight holds descriptors of its own; of a few quick looks the one with the
        // fewest shows what the monitor keeps (a leak raises that one too).
        let sample = (0..10)
            .map(|_| {
                std::thread::sleep(Duration::from_millis(2));
                figures(pid)
            })
            .min_by_key(|s| s.fds)
            .expect("ten samples");
        samples.push((format!("after {} probes", probes(&f)), sample));
    }
    println!(
        "{total} healthchecks in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Sampled while probes run: one in flight holds its output pipe, its pidfd and the
    // descriptors of its start (six in all), so a sample may catch them or not; a leak of one a
    // probe would be hundreds.
    assert_flat("healthchecks", &samples, 6);
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}
