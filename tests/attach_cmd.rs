//! End-to-end tests of `attach SERVICE` over real containers (root; skipped with a reason
//! otherwise): output from the moment it attaches, the container's exit code, `--index`,
//! signals forwarded with `--sig-proxy` and not without, and the refusals (stopped container,
//! `stdin_open` without `--no-stdin`, `--detach-keys`, `--dry-run`). Each test runs the CLI in
//! a network namespace of its own and ends with `down -t 0` and the fixture's check that
//! nothing is left behind.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::engine::{ok, text, wait_for, Fixture};

/// A shell loop printing `tick` every 0.2 s until SIGTERM, which it answers with `got TERM`
/// and exit code 42 (a trap, so PID 1 acts on the signal).
const TICKER: &str = "[sh, -c, 'trap \"echo got TERM; exit 42\" TERM; \
                      while :; do echo tick; sleep 0.2; done']";

/// `compose attach ARGS`, running, with its standard output's lines as they come.
fn spawn_attach(f: &Fixture, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut all = vec!["attach"];
    all.extend_from_slice(args);
    let mut cmd = f.command(&all);
    // A shell without job control starts background commands with SIGINT ignored, and an
    // ignored signal stays ignored across exec (as it does for docker's CLI); the test's Ctrl-C
    // must reach attach as a terminal's would, whatever started the test run.
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn attach");
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits (at most 20 s) for a line equal to `want`; the lines seen until then.
fn expect_line(child: &mut Child, lines: &mpsc::Receiver<String>, want: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(l) => {
                let done = l == want;
                seen.push(l);
                if done {
                    return seen;
                }
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("no {want:?} from attach: {seen:?}");
            }
        }
    }
}

/// Waits (at most 20 s) for the child to end; its status and standard error.
fn finish(child: &mut Child) -> (ExitStatus, String) {
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("attach did not end");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    (status, err)
}

/// (service, number, state, exit code) of each container in `ps -a --format json`.
fn states(f: &Fixture) -> Vec<(String, i64, String, i64)> {
    let mut out: Vec<_> = ok(f, &["ps", "-a", "--format", "json"])
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("ps json");
            let name = v["Name"].as_str().unwrap_or_default().to_string();
            (
                v["Service"].as_str().unwrap_or_default().to_string(),
                name.rsplit('-')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(-1),
                v["State"].as_str().unwrap_or_default().to_string(),
                v["ExitCode"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
#[ignore = "needs root"]
fn attach_streams_output_from_now_on_and_returns_the_exit_code() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  job:
    image: busybox
    command: [sh, -c, 'echo before; sleep 2; i=0; while [ $$i -lt 10 ]; do echo out$$i; \
              echo err$$i >&2; i=$$((i+1)); sleep 0.1; done; exit 7']
",
    );
    ok(&f, &["up", "-d"]);
    let logged = wait_for(10, || {
        ok(&f, &["logs", "job"]).contains("before").then_some(())
    });
    assert!(logged.is_some(), "job never printed 'before'");
    let (mut child, lines) = spawn_attach(&f, &["job"]);
    let seen = expect_line(&mut child, &lines, "out9");
    let (status, err) = finish(&mut child);
    // As `docker attach`: the container's exit code is the command's.
    assert_eq!(status.code(), Some(7), "stderr: {err}; stdout {seen:?}");
    // From now on: not what it printed before attaching; unprefixed, as docker attach.
    assert!(!seen.iter().any(|l| l.contains("before")), "{seen:?}");
    assert!(seen.contains(&"out0".to_string()), "{seen:?}");
    // Its standard error on ours.
    assert!(err.contains("err0\n") && err.contains("err9\n"), "{err}");
    assert!(!seen.iter().any(|l| l.starts_with("err")), "{seen:?}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn index_picks_the_replica_and_sig_proxy_forwards_sigterm_to_it() {
    require_engine!();
    let mut f = Fixture::with_netns(&format!(
        "services:
  tick:
    image: busybox
    command: {TICKER}
    deploy:
      replicas: 2
"
    ));
    ok(&f, &["up", "-d"]);
    let (mut child, lines) = spawn_attach(&f, &["--index", "2", "tick"]);
    expect_line(&mut child, &lines, "tick");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let seen = expect_line(&mut child, &lines, "got TERM");
    let (status, err) = finish(&mut child);
    assert_eq!(status.code(), Some(42), "stderr: {err}; stdout {seen:?}");
    // Replica 2 got the signal; replica 1 runs on.
    let st = states(&f);
    assert_eq!(
        st,
        [
            ("tick".to_string(), 1, "running".to_string(), 0),
            ("tick".to_string(), 2, "exited".to_string(), 42),
        ],
        "{st:?}"
    );
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn without_sig_proxy_ctrl_c_detaches_and_leaves_the_container_running() {
    require_engine!();
    let mut f = Fixture::with_netns(&format!(
        "services:
  tick:
    image: busybox
    command: {TICKER}
"
    ));
    ok(&f, &["up", "-d"]);
    let (mut child, lines) = spawn_attach(&f, &["--sig-proxy=false", "tick"]);
    expect_line(&mut child, &lines, "tick");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let (status, err) = finish(&mut child);
    use std::os::unix::process::ExitStatusExt;
    // The command ends by the signal, as docker's CLI does without the proxy.
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?} {err}");
    std::thread::sleep(Duration::from_millis(500));
    let st = states(&f);
    assert_eq!(
        st,
        [("tick".to_string(), 1, "running".to_string(), 0)],
        "{st:?}"
    );
    // Attached again, it follows the container until `stop` ends it (the trap's code).
    let (mut child, lines) = spawn_attach(&f, &["tick"]);
    expect_line(&mut child, &lines, "tick");
    ok(&f, &["stop", "-t", "5", "tick"]);
    let (status, err) = finish(&mut child);
    assert_eq!(status.code(), Some(42), "{err}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn refusals_stopped_missing_stdin_open_detach_keys_and_dry_run() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "services:
  done:
    image: busybox
    command: [true]
  open:
    image: busybox
    stdin_open: true
    command: [sh, -c, 'i=0; while [ $$i -lt 15 ]; do echo tick; sleep 0.2; i=$$((i+1)); done; exit 3']
",
    );
    ok(&f, &["up", "-d"]);
    let exited = wait_for(10, || {
        states(&f)
            .iter()
            .any(|s| s.0 == "done" && s.2 == "exited")
            .then_some(())
    });
    assert!(exited.is_some(), "{:?}", states(&f));

    // Docker's error for a stopped container.
    let o = f.compose(&["attach", "done"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("You cannot attach to a stopped container, start it first"),
        "{}",
        text(&o)
    );
    // Docker Compose's error for a replica that does not exist.
    let o = f.compose(&["attach", "--index", "3", "open"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("service \"open\" is not running container #3"),
        "{}",
        text(&o)
    );
    // stdin_open: standard input cannot be attached yet; said, not ignored.
    let o = f.compose(&["attach", "open"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not supported yet") && err.contains("--no-stdin"),
        "{}",
        text(&o)
    );
    // --detach-keys needs that input: refused rather than ignored.
    let o = f.compose(&["attach", "--no-stdin", "--detach-keys", "ctrl-x", "open"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--detach-keys"),
        "{}",
        text(&o)
    );
    // Docker Compose's dry-run client cannot attach either.
    let o = f.compose(&["--dry-run", "attach", "--no-stdin", "open"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("interactive run is not supported in dry-run mode"),
        "{}",
        text(&o)
    );
    // With --no-stdin its output is attached, up to its exit code.
    let (mut child, lines) = spawn_attach(&f, &["--no-stdin", "open"]);
    expect_line(&mut child, &lines, "tick");
    let (status, err) = finish(&mut child);
    assert_eq!(status.code(), Some(3), "{err}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}
