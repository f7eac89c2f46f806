//! End-to-end tests of `tty: true` and `stdin_open: true` for containers run by their monitor
//! (`up`, `up -d`, `restart`), as Docker Compose runs them (root; skipped with a reason
//! otherwise): the container's PID 1 gets a pseudo-terminal as its controlling terminal, stdio and
//! /dev/console, its output reaches the log as Docker's json-file driver records a terminal's
//! output (stream `stdout`, lines ending in `\r\n`), and `stdin_open` keeps standard input open
//! instead of giving it /dev/null. Each test runs in a network namespace of its own as the
//! stand-in host and ends with `down` and the fixture's check that nothing is left behind.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use std::time::{Duration, Instant};

use compose::engine::state::{self, Observed, Status};
use support::engine::{ok, text, Fixture};

/// The container of `service`, as recorded now.
fn container(f: &Fixture, service: &str) -> Observed {
    state::list(&f.root, Some(&f.project))
        .expect("list containers")
        .into_iter()
        .find(|o| o.record.service == service)
        .unwrap_or_else(|| panic!("no container of service {service}"))
}

/// Polls `f` every 50 ms for at most `secs` seconds until it returns something.
fn wait_for<T>(secs: u64, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The raw json-file log of the container of `service`.
fn raw_log(f: &Fixture, service: &str) -> String {
    let c = container(f, service);
    let dir = compose::engine::root::StateRoot::new(&f.root).container(&c.record.id);
    std::fs::read_to_string(state::log_path(&dir)).unwrap_or_default()
}

/// `logs` of `service` once it shows `want` (at most 10 s); the last output either way.
fn logs_showing(f: &Fixture, service: &str, want: &str) -> String {
    let mut last = String::new();
    wait_for(10, || {
        last = ok(f, &["logs", "--no-log-prefix", service]);
        last.contains(want).then_some(())
    });
    last
}

fn down(f: &mut Fixture) {
    ok(f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// What the tty service reports about its terminal, then it stays up.
const TTY_PROBE: &str = "services:
  term:
    image: busybox
    tty: true
    stop_signal: KILL
    command:
      - sh
      - -c
      - |
        echo name=$(busybox tty)
        test -t 0 && echo stdin-is-a-tty
        test -t 1 && echo stdout-is-a-tty
        test -t 2 && echo stderr-is-a-tty
        echo ctty=$(cut -d' ' -f7 /proc/1/stat)
        echo TERM=$TERM
        echo ready
        exec sleep 1000
";

/// Docker Compose: a `tty: true` service started detached runs with a terminal as its stdio
/// (before: exit 126, "starting the command /dev/console: Inappropriate ioctl for device"),
/// and `logs` shows what it wrote; the json-file log records it as stream stdout with the
/// terminal's `\r\n` line ends, as Docker's does.
#[test]
#[ignore = "needs root"]
fn tty_service_detached_runs_on_a_terminal_and_logs_its_output_like_docker_compose() {
    require_engine!();
    let mut f = Fixture::new(TTY_PROBE);
    let up = f.compose(&["up", "-d"]);
    assert!(up.status.success(), "up -d: {}", text(&up));
    let logs = logs_showing(&f, "term", "ready");
    assert!(logs.contains("ready"), "no output in logs: {logs:?}");
    assert!(
        logs.contains("name=/dev/console") || logs.contains("name=/dev/pts/0"),
        "`tty` names no terminal: {logs:?}"
    );
    for want in [
        "stdin-is-a-tty",
        "stdout-is-a-tty",
        "stderr-is-a-tty",
        "TERM=xterm",
    ] {
        assert!(logs.contains(want), "missing {want}: {logs:?}");
    }
    // /proc/1/stat's tty_nr: 0 when PID 1 has no controlling terminal.
    let ctty = logs
        .lines()
        .find_map(|l| l.trim_end().strip_prefix("ctty="))
        .unwrap_or("");
    assert!(
        !ctty.is_empty() && ctty != "0",
        "PID 1 has no controlling terminal: {logs:?}"
    );
    let raw = raw_log(&f, "term");
    assert!(
        raw.contains(r#""log":"ready\r\n","stream":"stdout""#),
        "the json-file log differs from Docker's for a tty: {raw}"
    );
    assert!(
        !raw.contains(r#""stream":"stderr""#),
        "a terminal has one stream: {raw}"
    );
    assert_eq!(container(&f, "term").state.status, Status::Running);
    down(&mut f);
}

/// The terminal's master side stays with the monitor: the container's PID 1 holds its three
/// standard descriptors, all the terminal, and nothing else of the host.
#[test]
#[ignore = "needs root"]
fn tty_service_holds_only_its_terminal_and_no_master() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  term:\n    image: busybox\n    tty: true\n    stop_signal: KILL\n    \
         command: [sleep, '1000']\n",
    );
    ok(&f, &["up", "-d"]);
    let fds = ok(&f, &["exec", "-T", "term", "ls", "/proc/1/fd"]);
    let fds: Vec<&str> = fds.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2"], "PID 1's descriptors");
    for fd in 0..3 {
        let path = format!("/proc/1/fd/{fd}");
        let target = ok(&f, &["exec", "-T", "term", "busybox", "readlink", &path]);
        let target = target.trim();
        assert!(
            target == "/dev/console" || target.starts_with("/dev/pts/"),
            "fd {fd} of PID 1 is {target:?}, not the terminal"
        );
    }
    // No pty master (/dev/ptmx) anywhere among the container's processes.
    let all = ok(
        &f,
        &[
            "exec",
            "-T",
            "term",
            "sh",
            "-c",
            "for p in /proc/[0-9]*; do ls -l $p/fd/ 2>/dev/null; done",
        ],
    );
    assert!(
        !all.contains("ptmx"),
        "a pty master reached the container: {all}"
    );
    down(&mut f);
}

/// Docker Compose: attached `up` shows a tty service's output and returns when it exits.
#[test]
#[ignore = "needs root"]
fn tty_service_attached_up_shows_its_output_like_docker_compose() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  term:\n    image: busybox\n    tty: true\n    \
         command: [sh, -c, 'test -t 1 && echo attached-on-a-tty']\n",
    );
    let up = f.compose(&["up"]);
    assert!(up.status.success(), "up: {}", text(&up));
    let out = String::from_utf8_lossy(&up.stdout);
    assert!(
        out.contains("attached-on-a-tty"),
        "attached up lacks the output: {}",
        text(&up)
    );
    let c = container(&f, "term");
    assert_eq!(c.state.exit_code, Some(0), "state: {:?}", c.state);
    down(&mut f);
}

/// Docker Compose: `restart` of a tty service starts it again on a (new) terminal.
#[test]
#[ignore = "needs root"]
fn tty_service_restarts_on_a_terminal_like_docker_compose() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  term:\n    image: busybox\n    tty: true\n    stop_signal: KILL\n    \
         command: [sh, -c, 'test -t 0 && echo start-on-tty; exec sleep 1000']\n",
    );
    ok(&f, &["up", "-d"]);
    logs_showing(&f, "term", "start-on-tty");
    let first = container(&f, "term").state.pid;
    ok(&f, &["restart", "-t", "0"]);
    let c = container(&f, "term");
    assert_eq!(c.state.status, Status::Running, "state: {:?}", c.state);
    assert_ne!(c.state.pid, first, "not restarted");
    let again = wait_for(10, || {
        let raw = raw_log(&f, "term");
        (raw.matches("start-on-tty").count() >= 2).then_some(())
    });
    assert!(
        again.is_some(),
        "second start has no terminal: {}",
        raw_log(&f, "term")
    );
    down(&mut f);
}

/// Docker Compose: `stdin_open: true` keeps the container's standard input open (a pipe the
/// engine holds), so `cat` waits for input instead of ending at once on /dev/null's end of
/// file; without it `cat` ends, as with Docker.
#[test]
#[ignore = "needs root"]
fn stdin_open_keeps_standard_input_open_like_docker_compose() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  open:\n    image: busybox\n    stdin_open: true\n    stop_signal: KILL\n    \
         command: [cat]\n  closed:\n    image: busybox\n    command: [cat]\n",
    );
    ok(&f, &["up", "-d"]);
    let ended = wait_for(10, || {
        let c = container(&f, "closed");
        (c.state.status == Status::Exited).then_some(c)
    });
    assert!(ended.is_some(), "cat without stdin_open did not end");
    // Given the same time, the one with stdin_open still waits for input.
    std::thread::sleep(Duration::from_millis(300));
    let c = container(&f, "open");
    assert_eq!(c.state.status, Status::Running, "state: {:?}", c.state);
    let stdin = ok(
        &f,
        &["exec", "-T", "open", "busybox", "readlink", "/proc/1/fd/0"],
    );
    assert!(
        stdin.trim().starts_with("pipe:"),
        "stdin of PID 1 is {stdin:?}, not a pipe"
    );
    down(&mut f);
}

/// `stdin_open` with `tty`: standard input is the terminal, held open by the engine, so a shell
/// waits at its prompt as under Docker instead of exiting.
#[test]
#[ignore = "needs root"]
fn stdin_open_with_tty_keeps_a_shell_waiting_like_docker_compose() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  shell:\n    image: busybox\n    tty: true\n    stdin_open: true\n    \
         stop_signal: KILL\n    command: [sh]\n",
    );
    ok(&f, &["up", "-d"]);
    std::thread::sleep(Duration::from_millis(500));
    let c = container(&f, "shell");
    assert_eq!(c.state.status, Status::Running, "state: {:?}", c.state);
    let stdin = ok(
        &f,
        &["exec", "-T", "shell", "busybox", "readlink", "/proc/1/fd/0"],
    );
    let stdin = stdin.trim();
    assert!(
        stdin == "/dev/console" || stdin.starts_with("/dev/pts/"),
        "stdin of PID 1 is {stdin:?}, not the terminal"
    );
    down(&mut f);
}

/// Docker Compose's `run` keeps standard input open (`-i` is on by default and applies over the
/// service's `stdin_open`): detached, `cat` waits for input instead of ending at once.
#[test]
#[ignore = "needs root"]
fn run_detached_keeps_standard_input_open_like_docker_compose() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  one:\n    image: busybox\n    stop_signal: KILL\n    command: [cat]\n",
    );
    // `run -d` prints the container's full ID, as Docker Compose does.
    let id = ok(&f, &["run", "-d", "one"]);
    let id = id.trim();
    std::thread::sleep(Duration::from_millis(500));
    let c = state::list(&f.root, Some(&f.project))
        .expect("list containers")
        .into_iter()
        .find(|o| o.record.id == id)
        .unwrap_or_else(|| panic!("no container {id}"));
    assert_eq!(c.state.status, Status::Running, "state: {:?}", c.state);
    down(&mut f);
}

/// As with Docker (runc gives a container's stdio to its user): a tty service that runs as
/// another user owns its terminal and can reopen it by name.
#[test]
#[ignore = "needs root"]
fn tty_service_user_owns_its_terminal_like_docker_compose() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  term:\n    image: busybox\n    tty: true\n    user: '1000:1000'\n    \
         stop_signal: KILL\n    command:\n      - sh\n      - -c\n      - |\n        \
         t=$(busybox tty)\n        echo owner=$(stat -L -c %u:%g /proc/self/fd/0)\n        \
         echo reopened > $$t && echo reopen-ok\n        echo ready\n        exec sleep 1000\n",
    );
    ok(&f, &["up", "-d"]);
    let logs = logs_showing(&f, "term", "ready");
    assert!(logs.contains("owner=1000:1000"), "terminal owner: {logs:?}");
    assert!(
        logs.contains("reopened") && logs.contains("reopen-ok"),
        "the user cannot reopen its terminal: {logs:?}"
    );
    down(&mut f);
}
