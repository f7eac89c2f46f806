//! End-to-end tests of the lifecycle hooks `post_start` and `pre_stop` (Docker Compose 2.30+)
//! over real containers (root; skipped with a reason otherwise): each observes, from inside the
//! container or from a file the container writes into the test's own folder, that the hook ran
//! in the container with its settings, and when.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use support::engine::{ok_all as ok, text, Fixture};

/// The hook log the container holds, as `exec` sees it.
fn hook_log(f: &Fixture) -> String {
    ok(f, &["exec", "-T", "web", "cat", "/tmp/hooks.log"])
}

#[test]
#[ignore = "needs root"]
fn post_start_runs_in_the_container_with_its_settings_on_each_start_like_docker_compose() {
    require_engine!();
    // Docker Compose runs post_start after each start by a command (up, start, restart) as an
    // exec with the hook's user, working_dir, environment and privileges.
    let mut f = Fixture::new(
        "services:
  web:
    image: busybox
    command: [sleep, '1000']
    stop_signal: KILL
    environment: [SERVICE_VAR=service]
    post_start:
      - command: [sh, -c, 'echo \"$$(id -u):$$(pwd):$$HOOK_VAR:$$SERVICE_VAR\" >> /tmp/hooks.log; echo said-by-the-hook']
        user: '1000'
        working_dir: /home
        environment:
          HOOK_VAR: from-hook
      - command: [sh, -c, 'grep CapEff /proc/self/status >> /tmp/hooks.log']
        privileged: true
      - command: [sh, -c, 'grep CapEff /proc/self/status >> /tmp/hooks.log']
",
    );
    let out = ok(&f, &["up", "-d"]);
    // Its output is shown with Docker Compose's prefix.
    assert!(out.contains("web-1 -> said-by-the-hook"), "{out}");
    let log = hook_log(&f);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert_eq!(lines[0], "1000:/home:from-hook:service", "{log}");
    // Privileged: every capability; not privileged: the container's default set.
    let privileged = lines[1].split_whitespace().last().unwrap_or_default();
    let default = lines[2].split_whitespace().last().unwrap_or_default();
    assert_ne!(privileged, default, "{log}");
    assert!(
        u64::from_str_radix(privileged, 16).unwrap_or(0)
            > u64::from_str_radix(default, 16).unwrap_or(u64::MAX),
        "{log}"
    );

    ok(&f, &["stop"]);
    ok(&f, &["start"]);
    assert_eq!(hook_log(&f).lines().count(), 6, "start did not run it");
    ok(&f, &["restart"]);
    assert_eq!(hook_log(&f).lines().count(), 9, "restart did not run it");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn a_failing_post_start_fails_up_like_docker_compose() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  web:
    image: busybox
    command: [sleep, '1000']
    stop_signal: KILL
    post_start:
      - command: [sh, -c, 'echo broken >&2; exit 3']
",
    );
    let o = f.compose(&["up", "-d"]);
    assert!(!o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    // Docker Compose's message, and the hook's own words.
    assert!(
        err.contains("web hook exited with status 3"),
        "{}",
        text(&o)
    );
    assert!(err.contains("web-1 -> broken"), "{}", text(&o));
    // A command that cannot run fails it too (Docker's 127).
    std::fs::write(
        f.project_dir.join("compose.yaml"),
        "services:
  web:
    image: busybox
    command: [sleep, '1000']
    stop_signal: KILL
    post_start:
      - command: [/no/such/program]
",
    )
    .expect("write compose.yaml");
    let o = f.compose(&["up", "-d"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("web hook exited with status 127"),
        "{}",
        text(&o)
    );
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn pre_stop_runs_before_the_stop_signal_and_a_failing_one_is_warned_about() {
    require_engine!();
    let mut f = Fixture::new("");
    let out_dir = f.dir.path().join("out");
    std::fs::create_dir(&out_dir).expect("out dir");
    let yaml = format!(
        "services:
  web:
    image: busybox
    volumes: ['{out}:/out']
    command: [sh, -c, 'trap \"echo signal >> /out/log; exit 0\" TERM; while true; do sleep 0.05; done']
    pre_stop:
      - command: [sh, -c, 'echo \"pre_stop $$HOOK_VAR\" >> /out/log; echo leaving']
        environment: [HOOK_VAR=set]
      - command: [sh, -c, 'exit 5']
",
        out = out_dir.display()
    );
    std::fs::write(f.project_dir.join("compose.yaml"), yaml).expect("write compose.yaml");
    let log = || std::fs::read_to_string(out_dir.join("log")).unwrap_or_default();

    ok(&f, &["up", "-d"]);
    let out = ok(&f, &["stop"]);
    // The hook ran first, then the stop signal reached the container, which stopped.
    assert_eq!(log(), "pre_stop set\nsignal\n", "{out}");
    assert!(out.contains("web-1 -> leaving"), "{out}");
    assert!(
        out.contains("service web: pre_stop hook") && out.contains("exited with status 5"),
        "{out}"
    );
    let states = compose::engine::state::list(&f.root, Some(&f.project)).expect("state");
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].state.live_pid(), None, "{out}");

    // `down` runs it too; a stopped container's hooks are not run.
    ok(&f, &["up", "-d"]);
    ok(&f, &["down", "-t", "5"]);
    assert_eq!(log(), "pre_stop set\nsignal\n".repeat(2));
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn run_runs_post_start_too_like_docker_compose() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  web:
    image: busybox
    command: [sh, -c, 'for i in $$(seq 100); do test -e /tmp/hooked && exit 0; sleep 0.05; done; exit 9']
    post_start:
      - command: [touch, /tmp/hooked]
  broken:
    image: busybox
    command: [sleep, '1000']
    post_start:
      - command: [sh, -c, 'exit 4']
",
    );
    // The container waits for the file its hook makes: exit 0 only if the hook ran in it.
    let (code, _, err) = f.run("web", &[]);
    assert_eq!(code, 0, "{err}");
    // A failing hook fails the run (its container cannot outlive a foreground run).
    let (code, _, err) = f.run("broken", &[]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("broken hook exited with status 4"), "{err}");
    // Detached: the same failure, the container left running as with `up -d`.
    let o = f.compose(&["run", "-d", "broken"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("broken hook exited with status 4"),
        "{}",
        text(&o)
    );
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn hook_output_keeps_the_json_progress_stream_json() {
    require_engine!();
    let mut f = Fixture::new(
        "services:
  web:
    image: busybox
    command: [sleep, '1000']
    stop_signal: KILL
    post_start:
      - command: [echo, 'said by the hook']
",
    );
    let o = f.compose(&["--progress", "json", "up", "-d"]);
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for line in err.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}\n{err}"));
        if v["text"] == "said by the hook" {
            assert_eq!(v["id"], "web-1", "{line}");
        }
    }
    assert!(err.contains("said by the hook"), "{err}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}
