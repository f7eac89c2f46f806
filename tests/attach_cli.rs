//! End-to-end tests of attached `up` (log streaming, exits, abort flags, Ctrl-C) and `logs`
//! (follow, tail, since/until, prefixes, timestamps) over real containers (root; skipped with a
//! reason otherwise). Each test runs the CLI in a network namespace of its own and ends with
//! `down -t 0` and the fixture's check that nothing is left behind.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::engine::{ok, text, Fixture};

/// Runs `compose ARGS` to its end, at most `limit`; the output, or a panic naming what it
/// printed so far when it runs longer (after killing it).
fn run_within(f: &Fixture, args: &[&str], limit: Duration) -> std::process::Output {
    let mut child = f
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn compose");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let o = child.wait_with_output().expect("output");
            panic!("compose {args:?} ran over {limit:?}: {}", text(&o));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Lines of the child's standard output as they come, with when they came.
fn stdout_lines(child: &mut Child) -> mpsc::Receiver<(Instant, String)> {
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    rx
}

/// The `State` of each container in `ps -a --format json`, by service.
fn states(f: &Fixture) -> Vec<(String, String, i64)> {
    ok(f, &["ps", "-a", "--format", "json"])
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("ps json");
            (
                v["Service"].as_str().unwrap_or_default().to_string(),
                v["State"].as_str().unwrap_or_default().to_string(),
                v["ExitCode"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

#[test]
#[ignore = "needs root"]
fn attached_up_prints_prefixed_output_and_exit_and_returns_zero() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  one:
    image: busybox
    command: [sh, -c, 'echo hello; echo oops >&2; exit 3']
",
    );
    let o = run_within(&f, &["up"], Duration::from_secs(30));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(out.contains("Attaching to one-1\n"), "{}", text(&o));
    assert!(out.contains("one-1  | hello\n"), "{}", text(&o));
    // As Docker Compose: a container's standard error is printed on standard output too.
    assert!(
        out.contains("one-1  | oops\n"),
        "stderr lines on stdout: {}",
        text(&o)
    );
    assert!(out.contains("one-1 exited with code 3\n"), "{}", text(&o));
    // The exit comes after the output that preceded it.
    assert!(out.find("hello").unwrap_or(usize::MAX) < out.find("exited").unwrap_or(0));
    assert!(!out.contains('\x1b'), "no colors when not a terminal");
    // Exited, not removed.
    assert_eq!(states(&f), [("one".to_string(), "exited".to_string(), 3)]);
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn exit_code_from_returns_that_services_code_and_stops_the_rest() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  one:
    image: busybox
    command: [sh, -c, 'sleep 0.3; echo done; exit 3']
  two:
    image: busybox
    command: [sh, -c, 'echo waiting; exec sleep 3600']
    init: true
",
    );
    let start = Instant::now();
    let o = run_within(
        &f,
        &["up", "--exit-code-from", "one"],
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "two was stopped gracefully"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("one-1  | done\n"), "{}", text(&o));
    assert!(out.contains("one-1 exited with code 3\n"), "{}", text(&o));
    assert!(out.contains("two-1 exited with code"), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Aborting on container exit..."),
        "{}",
        text(&o)
    );
    for (service, state, _) in states(&f) {
        assert_eq!(state, "exited", "{service} stopped, not removed");
    }
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn abort_on_container_exit_returns_the_first_exit_code() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  quick:
    image: busybox
    command: [sh, -c, 'sleep 0.3; exit 5']
  slow:
    image: busybox
    command: [sleep, '3600']
    stop_signal: KILL
",
    );
    let o = run_within(
        &f,
        &["up", "--abort-on-container-exit"],
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("quick-1 exited with code 5\n"), "{}", text(&o));
    assert!(
        out.contains("slow-1 exited with code 137\n"),
        "{}",
        text(&o)
    );

    // --abort-on-container-failure ignores a clean exit and aborts on the failing one.
    std::fs::write(
        f.project_dir.join("compose.yaml"),
        "services:
  fine:
    image: busybox
    command: [sh, -c, 'exit 0']
  bad:
    image: busybox
    command: [sh, -c, 'sleep 0.5; exit 7']
  slow:
    image: busybox
    command: [sleep, '3600']
    stop_signal: KILL
",
    )
    .expect("compose.yaml");
    let o = run_within(
        &f,
        &["up", "--abort-on-container-failure", "--remove-orphans"],
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("fine-1 exited with code 0\n"), "{}", text(&o));
    assert!(out.contains("bad-1 exited with code 7\n"), "{}", text(&o));
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn sigint_stops_an_attached_up_gracefully_and_keeps_the_containers() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  sleeper:
    image: busybox
    command: [sh, -c, 'echo started; exec sleep 3600']
    init: true
    stop_grace_period: 30s
",
    );
    let mut child = f
        .command(&["up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn up");
    let lines = stdout_lines(&mut child);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains("| started")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok((_, l)) => seen.push(l),
            Err(_) => {
                let _ = child.kill();
                panic!("no output from the attached up: {seen:?}");
            }
        }
    }
    let sent = Instant::now();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if sent.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("up did not stop after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Well within the 30 s grace period: the container's init passed SIGTERM on.
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "stopped in {:?}",
        sent.elapsed()
    );
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("stderr");
    // Interrupted: 128 + SIGINT, as Docker Compose.
    assert_eq!(status.code(), Some(130), "stderr: {err}");
    assert!(
        err.contains("Gracefully Stopping... press Ctrl+C again to force"),
        "{err}"
    );
    // The rest of the output, until the pipe closes.
    let mut rest = Vec::new();
    while let Ok((_, l)) = lines.recv_timeout(Duration::from_secs(5)) {
        rest.push(l);
    }
    assert!(
        rest.iter()
            .any(|l| l.starts_with("sleeper-1 exited with code")),
        "{seen:?} {rest:?}"
    );
    let st = states(&f);
    assert_eq!(st.len(), 1, "{st:?}");
    assert_eq!(st[0].1, "exited", "{st:?}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn logs_follow_shows_lines_as_they_come() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  ticker:
    image: busybox
    command: [sh, -c, 'i=0; while true; do echo tick $$i; i=$$((i+1)); sleep 0.1; done']
    stop_signal: KILL
",
    );
    ok(&f, &["up", "-d"]);
    let mut child = f
        .command(&["logs", "-f", "ticker"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn logs -f");
    let lines = stdout_lines(&mut child);
    let start = Instant::now();
    let mut got = Vec::new();
    while start.elapsed() < Duration::from_millis(1200) {
        if let Ok(x) = lines.recv_timeout(Duration::from_millis(50)) {
            got.push(x);
        }
    }
    let still_running = child.try_wait().expect("wait").is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(still_running, "logs -f ended while the container runs");
    assert!(got.len() >= 6, "{got:?}");
    for (_, l) in &got {
        assert!(l.starts_with("ticker-1  | tick "), "{l:?}");
    }
    // New lines kept arriving during the second half, not all at once at the start.
    let late = got
        .iter()
        .filter(|(t, _)| t.duration_since(start) > Duration::from_millis(600))
        .count();
    assert!(late >= 2, "{got:?}");
    let numbers: Vec<u64> = got
        .iter()
        .filter_map(|(_, l)| l.rsplit(' ').next()?.parse().ok())
        .collect();
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn logs_follow_ends_when_the_containers_have_exited() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  brief:
    image: busybox
    command: [sh, -c, 'echo first; sleep 1; echo last']
",
    );
    ok(&f, &["up", "-d"]);
    let o = run_within(
        &f,
        &["logs", "-f", "--no-log-prefix"],
        Duration::from_secs(20),
    );
    assert!(o.status.success(), "{}", text(&o));
    // Docker Compose's exit line ends the container's output.
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "first\nlast\nbrief-1 exited with code 0\n"
    );
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn logs_tail_since_until_prefix_and_timestamps() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  one:
    image: busybox
    command: [sh, -c, 'for i in 1 2 3 4 5; do echo line$$i; sleep 0.05; done']
  second:
    image: busybox
    command: [sh, -c, 'sleep 0.6; echo later']
",
    );
    ok(&f, &["up", "-d"]);
    // Both done: their logs are complete.
    let deadline = Instant::now() + Duration::from_secs(20);
    while states(&f).iter().any(|(_, s, _)| s != "exited") {
        assert!(Instant::now() < deadline, "containers did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Merged in time order, prefixes padded to the longest name plus one.
    assert_eq!(
        ok(&f, &["logs"]),
        "one-1     | line1\none-1     | line2\none-1     | line3\none-1     | line4\n\
         one-1     | line5\nsecond-1  | later\n"
    );
    assert_eq!(
        ok(&f, &["logs", "--tail", "2", "one"]),
        "one-1  | line4\none-1  | line5\n"
    );
    assert_eq!(
        ok(&f, &["logs", "--no-log-prefix", "--index", "1", "one"]),
        "line1\nline2\nline3\nline4\nline5\n"
    );
    assert_eq!(
        ok(&f, &["logs", "-n", "all", "second"]),
        "second-1  | later\n"
    );

    let stamped = ok(&f, &["logs", "-t", "--no-log-prefix", "one"]);
    let times: Vec<&str> = stamped
        .lines()
        .map(|l| l.split_once(' ').expect("time, then text").0)
        .collect();
    assert_eq!(times.len(), 5, "{stamped}");
    for t in &times {
        assert!(
            t.len() == 30 && t.ends_with('Z') && t.as_bytes()[10] == b'T',
            "RFC 3339 with nanoseconds: {t}"
        );
    }
    let prefixed = ok(&f, &["logs", "-t", "--tail", "1", "one"]);
    assert_eq!(prefixed, format!("one-1  | {} line5\n", times[4]));

    // --since from the third line on; --until up to the second.
    assert_eq!(
        ok(&f, &["logs", "--no-log-prefix", "--since", times[2], "one"]),
        "line3\nline4\nline5\n"
    );
    assert_eq!(
        ok(&f, &["logs", "--no-log-prefix", "--until", times[1], "one"]),
        "line1\nline2\n"
    );
    // Relative: everything is younger than an hour.
    assert_eq!(
        ok(&f, &["logs", "--since", "1h", "--tail", "1", "second"]),
        "second-1  | later\n"
    );
    assert_eq!(ok(&f, &["logs", "--until", "1h", "one"]), "");
    let bad = f.compose(&["logs", "--since", "yesterday-ish"]);
    assert!(!bad.status.success(), "{}", text(&bad));

    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn a_second_sigint_kills_at_once() {
    require_engine!();
    // `sleep` as PID 1 ignores SIGTERM: only the second Ctrl-C ends it before the grace period.
    let mut f = Fixture::with_netns(
        "services:
  stubborn:
    image: busybox
    command: [sh, -c, 'echo started; exec sleep 3600']
    stop_grace_period: 60s
",
    );
    let mut child = f
        .command(&["up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn up");
    let lines = stdout_lines(&mut child);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((_, l)) if l.contains("| started") => break,
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                panic!("no output from the attached up");
            }
        }
    }
    let sent = Instant::now();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().expect("wait").is_none(),
        "still stopping gracefully"
    );
    // SAFETY: as above.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if sent.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("up did not end after the second SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "killed in {:?}",
        sent.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    assert_eq!(
        states(&f),
        [("stubborn".to_string(), "exited".to_string(), 137)]
    );
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// Waits (at most 20 s) until `service`'s container runs.
fn wait_running(f: &Fixture, service: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let up = compose::engine::state::list(&f.root, Some(&f.project))
            .expect("state")
            .iter()
            .any(|o| o.record.service == service && o.state.live_pid().is_some());
        if up {
            return;
        }
        if Instant::now() > deadline || child.try_wait().expect("wait").is_some() {
            let _ = child.kill();
            panic!("{service} did not start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `child` at most `limit`; its status, or a panic naming `what` (after killing it).
fn wait_within(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends SIGINT to `child` once `service` runs; its exit status, stderr and how long it took
/// to end after the signal (it is killed, and the test fails, past `limit`).
fn interrupt_when_running(
    f: &Fixture,
    args: &[&str],
    service: &str,
    limit: Duration,
) -> (Option<i32>, String, Duration) {
    let mut child = f
        .command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn up");
    wait_running(f, service, &mut child);
    // Well into the wait for the healthcheck.
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    while child.try_wait().expect("wait").is_none() {
        if sent.elapsed() > limit {
            let _ = child.kill();
            let o = child.wait_with_output().expect("output");
            panic!("compose {args:?} did not end after SIGINT: {}", text(&o));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = sent.elapsed();
    let o = child.wait_with_output().expect("output");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        took,
    )
}

/// Ctrl-C while `up` waits for a healthcheck acts at once: `up -d --wait` stops waiting and
/// leaves the started container for the next command; attached `up` stops what it started
/// ("Gracefully Stopping...") and exits 130, as Docker Compose does.
#[test]
#[ignore = "needs root"]
fn sigint_ends_an_up_waiting_for_a_healthcheck_at_once_and_exits_130_as_docker_compose() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  gate:
    image: busybox
    command: [sleep, '3600']
    init: true
    healthcheck:
      test: [CMD, 'false']
      interval: 1h
  behind:
    image: busybox
    command: [sleep, '3600']
    init: true
    depends_on:
      gate: {condition: service_healthy}
",
    );
    let limit = Duration::from_secs(10);
    let (code, err, took) = interrupt_when_running(&f, &["up", "-d", "--wait"], "gate", limit);
    assert_eq!(code, Some(130), "{err}");
    assert!(took < Duration::from_secs(1), "{took:?} {err}");
    // Left as it was: the next command takes over.
    assert_eq!(states(&f), [("gate".to_string(), "running".to_string(), 0)]);
    let (code, err, took) = interrupt_when_running(&f, &["up"], "gate", limit);
    assert_eq!(code, Some(130), "{err}");
    assert!(
        err.contains("Gracefully Stopping... press Ctrl+C again to force"),
        "{err}"
    );
    assert!(took < Duration::from_secs(5), "{took:?} {err}");
    let st = states(&f);
    assert_eq!(st.len(), 1, "behind never started: {st:?}");
    assert_eq!(st[0].1, "exited", "{st:?}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// `--exit-code-from tests` does not abort when the one-shot `setup`, awaited with
/// `service_completed_successfully`, exits 0 (Docker Compose v2.26 does, and stops `db` under
/// `tests`): `db` is stopped only once `tests` has finished, and `up` returns its code.
#[test]
#[ignore = "needs root"]
fn exit_code_from_ignores_a_one_shot_dependency_that_completed_better_than_docker_compose() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  setup:
    image: busybox
    command: [sh, -c, 'exit 0']
  db:
    image: busybox
    command: [sh, -c, 'trap \"touch /shared/db-stopped; exit 0\" TERM; while true; do sleep 0.05; done']
    volumes: [./shared:/shared]
  tests:
    image: busybox
    command: [sh, -c, 'sleep 2; test -e /shared/db-stopped && exit 1; exit 7']
    volumes: [./shared:/shared]
    depends_on:
      setup: {condition: service_completed_successfully}
      db: {condition: service_started}
",
    );
    let shared = f.project_dir.join("shared");
    std::fs::create_dir_all(&shared).expect("shared dir");
    let o = run_within(
        &f,
        &["up", "--exit-code-from", "tests"],
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    // The abort that `tests`' exit caused stopped `db` afterwards.
    assert!(shared.join("db-stopped").exists(), "{}", text(&o));
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// Docker Compose's `logs`: a container's standard error goes to standard output (so `logs |
/// grep` and `logs > file` keep every line), a `\r` in a line is kept, and `logs -f` ends
/// each container with `<name> exited with code N`.
#[test]
#[ignore = "needs root"]
fn logs_prints_stderr_on_stdout_keeps_cr_and_follow_ends_with_the_exit_as_docker_compose() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  mixed:
    image: busybox
    command: [sh, -c, 'echo out; echo err >&2; printf \"50%%\\r100%%\\n\"; sleep 1.5; exit 4']
",
    );
    ok(&f, &["up", "-d"]);
    let o = run_within(
        &f,
        &["logs", "-f", "--no-log-prefix"],
        Duration::from_secs(20),
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("out\n"), "{}", text(&o));
    assert!(out.contains("err\n"), "stderr on stdout: {}", text(&o));
    assert!(out.contains("50%\r100%\n"), "\\r kept: {:?}", out);
    assert!(
        out.ends_with("mixed-1 exited with code 4\n"),
        "exit line last: {out:?}"
    );
    assert!(o.stderr.is_empty(), "{}", text(&o));
    // Without -f: the same lines, no exit line.
    let o = run_within(&f, &["logs", "--no-log-prefix"], Duration::from_secs(20));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("err\n") && !out.contains("exited"), "{out:?}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// A script's background `logs -f` (started by a non-interactive shell, which ignores SIGINT
/// for it) stops on `kill -INT`, as Docker Compose's does.
#[test]
#[ignore = "needs root"]
fn a_background_logs_follow_stops_on_sigint_as_docker_compose() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  ticker:
    image: busybox
    command: [sh, -c, 'while true; do echo tick; sleep 0.1; done']
    stop_signal: KILL
",
    );
    ok(&f, &["up", "-d"]);
    let mut cmd = f.command(&["logs", "-f"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    use std::os::unix::process::CommandExt;
    // SAFETY: only signal(2) between fork and exec, as a shell does for a background job.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn logs -f");
    let lines = stdout_lines(&mut child);
    if lines.recv_timeout(Duration::from_secs(10)).is_err() {
        let _ = child.kill();
        panic!("no output from logs -f");
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_within(&mut child, Duration::from_secs(3), "logs -f after SIGINT");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// The resident memory of process `pid` in KiB (`VmRSS`).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A service writing as fast as it can (`yes`) and a reader slower than it: the attached `up`
/// follows with backpressure in bounded memory (it grew to gigabytes, and took 100 s to exit
/// after Ctrl-C, reading the whole log at each poll) and exits within a second or two of
/// Ctrl-C, as Docker Compose does.
#[test]
#[ignore = "needs root"]
fn attached_up_follows_a_fast_writer_in_bounded_memory_and_stops_at_once() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  hog:
    image: busybox
    command: [yes]
    stop_signal: KILL
    logging:
      driver: json-file
      options:
        max-size: 20m
        max-file: '2'
",
    );
    let mut child = f
        .command(&["up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn up");
    let mut out = child.stdout.take().expect("piped stdout");
    // A slow reader: 4 KiB every 5 ms, until the pipe closes.
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        let mut total = 0usize;
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n;
            std::thread::sleep(Duration::from_millis(5));
        }
        total
    });
    let mut peak = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(250));
        if child.try_wait().expect("wait").is_some() {
            panic!("up ended on its own");
        }
        peak = peak.max(rss_kib(child.id()));
    }
    let sent = Instant::now();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_within(&mut child, Duration::from_secs(20), "up after SIGINT");
    let took = sent.elapsed();
    let total = reader.join().expect("reader");
    assert!(total > 100_000, "the reader got {total} bytes");
    assert!(peak < 50 * 1024, "resident memory reached {peak} KiB");
    assert!(took < Duration::from_secs(2), "stopped in {took:?}");
    assert!(status.code().is_some(), "{status:?}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}
