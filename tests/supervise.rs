//! End-to-end tests of what a container's monitor does while the container lives (root; skipped
//! with a reason otherwise): healthchecks (the service's and the image's), the restart policy,
//! and log rotation. Every test runs the CLI inside a network namespace it creates as a stand-in
//! host, and ends with `down` and the fixture's check that nothing is left behind.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use std::time::{Duration, Instant};

use compose::engine::image::testimage::{ArchiveFormat, TestImage};
use compose::engine::state::{self, Health, Observed, Status};
use support::engine::{ok, Fixture};

/// The container of `service`, as recorded now.
fn container(f: &Fixture, service: &str) -> Observed {
    state::list(&f.root, Some(&f.project))
        .expect("list containers")
        .into_iter()
        .find(|o| o.record.service == service)
        .unwrap_or_else(|| panic!("no container of service {service}"))
}

/// Polls the container of `service` until `want` holds (at most `secs` seconds); returns it.
fn wait_for(f: &Fixture, service: &str, secs: u64, want: impl Fn(&Observed) -> bool) -> Observed {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let c = container(f, service);
        if want(&c) {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "service {service}: condition not met in {secs}s; state: {:?}",
            c.state
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn down(f: &mut Fixture) {
    ok(f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn healthcheck_goes_starting_healthy_unhealthy() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:\n  web:\n    image: busybox\n    command: [sleep, '3600']\n    healthcheck:\n      \
         test: [CMD-SHELL, 'test -f /tmp/ok']\n      interval: 200ms\n      timeout: 1s\n      \
         retries: 2\n      start_period: 60s\n      start_interval: 200ms\n",
    );
    ok(&f, &["up", "-d"]);
    let c = container(&f, "web");
    assert_eq!(
        c.record.healthcheck.as_ref().map(|h| h.test.clone()),
        Some(vec![
            "/bin/sh".into(),
            "-c".into(),
            "test -f /tmp/ok".into()
        ])
    );
    assert_eq!(c.state.status, Status::Running);
    assert_eq!(c.state.health, Some(Health::Starting));
    // Failing probes in the start period leave it starting.
    std::thread::sleep(Duration::from_millis(700));
    let c = container(&f, "web");
    assert_eq!(c.state.health, Some(Health::Starting), "{:?}", c.state);
    assert_eq!(c.state.failing_streak, 0);

    ok(&f, &["exec", "-T", "web", "touch", "/tmp/ok"]);
    let c = wait_for(&f, "web", 10, |c| c.state.health == Some(Health::Healthy));
    assert_eq!(c.state.failing_streak, 0);

    ok(&f, &["exec", "-T", "web", "rm", "/tmp/ok"]);
    let c = wait_for(&f, "web", 10, |c| c.state.health == Some(Health::Unhealthy));
    assert!(c.state.failing_streak >= 2, "{:?}", c.state);
    // Still running: an unhealthy container is not restarted by the engine.
    assert_eq!(c.state.status, Status::Running);
    down(&mut f);
}

#[test]
#[ignore = "needs root"]
fn probe_output_and_timeouts_are_recorded() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:\n  slow:\n    image: busybox\n    command: [sleep, '3600']\n    healthcheck:\n      \
         test: [CMD, sleep, '5']\n      interval: 100ms\n      timeout: 300ms\n      retries: 1\n  \
         talk:\n    image: busybox\n    command: [sleep, '3600']\n    healthcheck:\n      \
         test: 'echo hello from the probe; exit 0'\n      interval: 100ms\n",
    );
    let started = Instant::now();
    ok(&f, &["up", "-d"]);
    let c = wait_for(&f, "slow", 10, |c| {
        c.state.health == Some(Health::Unhealthy)
    });
    assert!(
        c.state
            .health_log
            .as_deref()
            .is_some_and(|l| l.contains("timeout")),
        "{:?}",
        c.state
    );
    // The probe was killed at its timeout, not waited for.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let c = wait_for(&f, "talk", 10, |c| c.state.health == Some(Health::Healthy));
    assert_eq!(
        c.state.health_log.as_deref(),
        Some("hello from the probe\n")
    );
    // No probe is left running past its timeout, nor a zombie of one (PID 1 here, `sleep`,
    // reaps nothing). Probes go on every 100 ms, so the one under way may show: at most that
    // one (a probe left behind would make one more every 400 ms, each living 5 s). That one
    // may be sleeping or still starting (`R`), never a zombie (`Z`).
    let ps = ok(&f, &["exec", "-T", "slow", "ps", "-o", "stat,args"]);
    let others: Vec<&str> = ps
        .lines()
        .skip(1)
        .filter(|l| !l.contains("sleep 3600") && !l.contains("ps -o"))
        .collect();
    assert!(
        others.len() <= 1 && others.iter().all(|l| !l.trim_start().starts_with('Z')),
        "{ps}"
    );
    down(&mut f);
}

#[test]
#[ignore = "needs root"]
fn restart_on_failure_stops_after_its_count() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:\n  retry:\n    image: busybox\n    command: [sh, -c, 'echo run; exit 3']\n    \
         restart: on-failure:2\n  once:\n    image: busybox\n    command: [sh, -c, 'echo run; exit 3']\n    \
         restart: 'no'\n",
    );
    ok(&f, &["up", "-d"]);
    let done = |c: &Observed| c.state.status == Status::Exited && c.state.monitor_pid.is_none();
    let retry = wait_for(&f, "retry", 20, done);
    assert_eq!(retry.state.restart_count, 2, "{:?}", retry.state);
    assert_eq!(retry.state.exit_code, Some(3));
    let once = wait_for(&f, "once", 20, done);
    assert_eq!(once.state.restart_count, 0, "{:?}", once.state);
    assert_eq!(once.state.exit_code, Some(3));
    let runs = |service: &str| {
        ok(&f, &["logs", "--no-log-prefix", service])
            .lines()
            .filter(|l| l.trim_end().ends_with("run"))
            .count()
    };
    assert_eq!(runs("retry"), 3);
    assert_eq!(runs("once"), 1);
    down(&mut f);
}

#[test]
#[ignore = "needs root"]
fn logs_rotate_at_max_size_keeping_max_file() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:\n  chatty:\n    image: busybox\n    command: [sh, -c, 'i=0; while [ $$i -lt 300 ]; \
         do echo \"line $$i of a chatty container\"; i=$$((i+1)); done; echo finished; sleep 3600']\n    \
         logging:\n      driver: json-file\n      options:\n        max-size: 1k\n        \
         max-file: '2'\n",
    );
    ok(&f, &["up", "-d"]);
    let c = container(&f, "chatty");
    assert_eq!(
        (c.record.log_max_size, c.record.log_max_file),
        (Some(1024), Some(2))
    );
    let dir = compose::engine::root::StateRoot::new(&f.root).container(&c.record.id);
    let log = state::log_path(&dir);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("finished")
    {
        assert!(Instant::now() < deadline, "the container never finished");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut logs: Vec<String> = std::fs::read_dir(&dir)
        .expect("container dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("container.log"))
        .collect();
    logs.sort();
    assert_eq!(logs, ["container.log", "container.log.1"]);
    for name in &logs {
        let body = std::fs::read_to_string(dir.join(name)).expect("log file");
        let longest = body.lines().map(|l| l.len() + 1).max().unwrap_or(0);
        assert!(
            body.len() <= 1024 + longest,
            "{name} holds {} bytes",
            body.len()
        );
        // Whole json-file lines only.
        for line in body.lines() {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}: {line:?}: {e}"));
            assert!(v["log"].is_string() && v["time"].is_string(), "{line}");
        }
    }
    let old = std::fs::read_to_string(dir.join("container.log.1")).expect("rotated log");
    assert!(!old.contains("line 0 of"), "the oldest lines were dropped");
    down(&mut f);
}

#[test]
#[ignore = "needs root"]
fn image_healthcheck_applies_unless_the_service_disables_it() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:\n  fromimage:\n    image: hcimage\n    command: [sleep, '3600']\n  \
         disabled:\n    image: hcimage\n    command: [sleep, '3600']\n    \
         healthcheck: {disable: true}\n",
    );
    let image = TestImage {
        name: "hcimage:latest".into(),
        healthcheck: Some(serde_json::json!({
            "Test": ["CMD-SHELL", "test -f /tmp/ok"],
            "Interval": 200_000_000u64,
            "Timeout": 1_000_000_000u64,
            "StartPeriod": 60_000_000_000u64,
            "StartInterval": 200_000_000u64,
            "Retries": 2,
        })),
        ..TestImage::default()
    };
    let archive = f.dir.path().join("hcimage.tar");
    std::fs::write(
        &archive,
        image.archive(ArchiveFormat::Oci).expect("image archive"),
    )
    .expect("write image");
    ok(
        &f,
        &[
            "image",
            "load",
            "-q",
            "-i",
            archive.to_str().expect("utf-8"),
        ],
    );
    ok(&f, &["up", "-d"]);
    let c = container(&f, "fromimage");
    let h = c
        .record
        .healthcheck
        .clone()
        .expect("the image's healthcheck");
    assert_eq!(h.test, ["/bin/sh", "-c", "test -f /tmp/ok"]);
    assert_eq!(
        (
            h.interval_ms,
            h.timeout_ms,
            h.retries,
            h.start_period_ms,
            h.start_interval_ms
        ),
        (200, 1000, 2, 60_000, 200)
    );
    assert_eq!(c.state.health, Some(Health::Starting));
    let d = container(&f, "disabled");
    assert_eq!(d.record.healthcheck, None);
    assert_eq!(d.state.health, None);
    ok(&f, &["exec", "-T", "fromimage", "touch", "/tmp/ok"]);
    wait_for(&f, "fromimage", 10, |c| {
        c.state.health == Some(Health::Healthy)
    });
    down(&mut f);
}

#[test]
#[ignore = "needs root"]
fn logging_driver_none_keeps_no_log_and_the_container_never_blocks() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  quiet:
    image: busybox
    command: [sh, -c, 'seq 1 200000; echo done > /tmp/finished; exec sleep 1000']
    stop_signal: KILL
    logging:
      driver: none
",
    );
    ok(&f, &["up", "-d"]);
    // 1.3 MB of output: more than a pipe holds, so it must be read and dropped.
    let probe = || {
        f.compose(&["exec", "-T", "quiet", "cat", "/tmp/finished"])
            .status
            .success()
    };
    let end = Instant::now() + Duration::from_secs(20);
    while !probe() {
        assert!(Instant::now() < end, "the container blocked on its output");
        std::thread::sleep(Duration::from_millis(100));
    }
    let c = container(&f, "quiet");
    assert!(c.record.log_disabled);
    let log =
        state::log_path(&compose::engine::root::StateRoot::new(&f.root).container(&c.record.id));
    assert!(!log.exists(), "a log was written");
    assert!(ok(&f, &["logs", "quiet"]).trim().is_empty());
    down(&mut f);
}
