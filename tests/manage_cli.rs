//! End-to-end tests of `compose create|start|stop|kill|rm|pause|unpause|top|stats|cp|wait|
//! images|ls` over containers of a real project (root; skipped with a reason otherwise). The CLI
//! runs inside a network namespace the fixture creates; the fixture asserts that no mount,
//! cgroup, monitor or container state is left behind, even when a test fails.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use support::engine::Fixture;

const PROJECT: &str = "\
services:
  web:
    image: busybox
    command: [sleep, \"1000\"]
    restart: always
    stop_grace_period: 1s
";

/// (exit code, stdout, stderr) of `compose ARGS`.
fn compose(f: &Fixture, args: &[&str]) -> (i32, String, String) {
    let out = f.compose(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[track_caller]
fn ok(f: &Fixture, args: &[&str]) -> String {
    let (code, out, err) = compose(f, args);
    assert_eq!(code, 0, "{args:?}\nstdout:\n{out}\nstderr:\n{err}");
    out
}

/// `ps -a --format json`, one object per container.
fn ps(f: &Fixture) -> Vec<serde_json::Value> {
    ok(f, &["ps", "-a", "--format", "json"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("ps json"))
        .collect()
}

fn record(f: &Fixture) -> compose::engine::state::ContainerRecord {
    compose::engine::state::list(&f.root, Some(&f.project))
        .expect("state")
        .into_iter()
        .next()
        .expect("a container")
        .record
}

#[test]
#[ignore = "needs root"]
fn create_start_stop_kill_rm() {
    require_engine!();
    let mut f = Fixture::with_netns(PROJECT);

    ok(&f, &["create"]);
    let created = ps(&f);
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["State"], "created", "{created:?}");
    let id = created[0]["ID"].as_str().expect("id").to_string();

    ok(&f, &["start"]);
    assert_eq!(ps(&f)[0]["State"], "running");
    assert_eq!(ok(&f, &["exec", "-T", "web", "echo", "up"]), "up\n");

    // stop keeps the container; start runs the same one again.
    let (code, _, err) = compose(&f, &["stop", "-t", "0"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Stopped"), "{err}");
    let stopped = ps(&f);
    assert_eq!(stopped[0]["State"], "exited", "{stopped:?}");
    assert_eq!(stopped[0]["ID"], id.as_str());
    ok(&f, &["start", "web"]);
    let started = ps(&f);
    assert_eq!(started[0]["State"], "running", "{started:?}");
    assert_eq!(started[0]["ID"], id.as_str());
    assert_eq!(ok(&f, &["exec", "-T", "web", "echo", "again"]), "again\n");

    // An unknown service is refused.
    let (code, _, err) = compose(&f, &["stop", "nosuch"]);
    assert_ne!(code, 0);
    assert!(err.contains("no such service: nosuch"), "{err}");

    // kill -s KILL: exit 137, and (as with Docker) no restart despite `restart: always`.
    let (code, _, err) = compose(&f, &["kill", "-s", "KILL", "web"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Killed"), "{err}");
    let killed = ps(&f);
    assert_eq!(killed[0]["State"], "exited", "{killed:?}");
    assert_eq!(killed[0]["ExitCode"], 137, "{killed:?}");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(ps(&f)[0]["State"], "exited", "restarted after kill");
    let (code, _, err) = compose(&f, &["kill"]);
    assert_eq!((code, err.trim()), (0, "no container to kill"));

    // rm leaves a running container alone without --stop...
    ok(&f, &["start"]);
    let (code, out, err) = compose(&f, &["rm", "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("No stopped containers"), "{out}{err}");
    assert_eq!(ps(&f)[0]["State"], "running");
    // ...asks before removing a stopped one (no answer is no)...
    ok(&f, &["stop", "-t", "0"]);
    let out = ok(&f, &["rm"]);
    assert!(
        out.contains("Going to remove") && out.contains("Are you sure? [yN]"),
        "{out}"
    );
    assert_eq!(ps(&f).len(), 1);
    // ...and removes it when told yes.
    let mut child = f
        .command(&["rm", "-v"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rm");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"y\n")
        .expect("answer");
    let out = child.wait_with_output().expect("rm");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Removed"));
    assert!(ps(&f).is_empty());

    // rm --stop stops a running one first.
    ok(&f, &["up", "-d"]);
    let (code, out, err) = compose(&f, &["rm", "--force", "-s"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Going to remove"), "{out}");
    assert!(err.contains("Stopped") && err.contains("Removed"), "{err}");
    assert!(ps(&f).is_empty());

    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn pause_top_stats_images_ls() {
    require_engine!();
    let mut f = Fixture::with_netns(PROJECT);
    ok(&f, &["up", "-d"]);

    let (code, _, err) = compose(&f, &["pause"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Paused"), "{err}");
    let rec = record(&f);
    assert!(compose::stack::ops::is_paused(&rec), "frozen after pause");
    let ls = ok(&f, &["ls", "--format", "json"]);
    assert!(ls.contains(&f.project) && ls.contains("paused(1)"), "{ls}");
    ok(&f, &["unpause"]);
    assert!(
        !compose::stack::ops::is_paused(&rec),
        "thawed after unpause"
    );
    assert_eq!(ok(&f, &["exec", "-T", "web", "echo", "thawed"]), "thawed\n");

    let top = ok(&f, &["top"]);
    let mut lines = top.lines();
    let head = lines.next().expect("header");
    assert!(
        head.starts_with("SERVICE") && head.contains("PID") && head.ends_with("CMD"),
        "{top}"
    );
    assert!(
        lines.any(|l| l.starts_with("web ") && l.ends_with("sleep 1000")),
        "{top}"
    );

    let stats = ok(&f, &["stats", "--no-stream", "--format", "json"]);
    let entries: Vec<serde_json::Value> = stats
        .lines()
        .map(|l| serde_json::from_str(l).expect("stats json"))
        .collect();
    assert_eq!(entries.len(), 1, "{stats}");
    let e = &entries[0];
    assert_eq!(e["Name"], format!("{}-web-1", f.project).as_str());
    let mem = e["MemUsage"].as_str().expect("MemUsage");
    assert!(!mem.starts_with("0B"), "memory in use: {mem}");
    assert!(mem.contains(" / "), "{mem}");
    assert_eq!(e["PIDs"], "1");
    let table = ok(&f, &["stats", "--no-stream"]);
    assert!(table.starts_with("CONTAINER ID"), "{table}");

    let images = ok(&f, &["images"]);
    let mut rows = images.lines();
    assert!(rows.next().expect("header").starts_with("CONTAINER"));
    let row = rows.next().expect("a row");
    assert!(
        row.starts_with(&format!("{}-web-1", f.project)) && row.contains("busybox"),
        "{images}"
    );

    let ls = ok(&f, &["ls"]);
    assert!(
        ls.lines()
            .any(|l| l.starts_with(&f.project) && l.contains("running(1)")),
        "{ls}"
    );
    // A paused container stops (thawed to take the signal), without waiting out a timeout.
    ok(&f, &["pause"]);
    let t = std::time::Instant::now();
    ok(&f, &["stop", "-t", "0"]);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(!compose::stack::ops::is_paused(&rec));
    assert_eq!(ps(&f)[0]["State"], "exited");
    assert!(!ok(&f, &["ls"]).contains(&f.project));
    assert!(ok(&f, &["ls", "-a"]).contains("exited(1)"));

    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn cp_both_ways_stays_inside_the_container() {
    require_engine!();
    let mut f = Fixture::with_netns(PROJECT);
    ok(&f, &["up", "-d"]);

    // A host directory with a secret that links inside the container point at.
    let host = f.dir.path().join("hostside");
    std::fs::create_dir_all(&host).expect("mkdir");
    std::fs::write(host.join("secret"), "HOST SECRET").expect("write");
    let hostp = host.to_str().expect("utf-8").to_string();
    let script = format!(
        "mkdir -p /tmp/d/sub && echo inside > /tmp/d/sub/f && \
         ln -s /../../../..{hostp} /tmp/esc && ln -s ../../../..{hostp}/secret /tmp/esclink"
    );
    ok(&f, &["exec", "-T", "web", "sh", "-c", &script]);

    // Out of the container: a tree, then a single file into an existing directory.
    let out = f.dir.path().join("out");
    ok(&f, &["cp", "web:/tmp/d", out.to_str().expect("utf-8")]);
    assert_eq!(
        std::fs::read_to_string(out.join("sub/f")).expect("copied"),
        "inside\n"
    );
    ok(
        &f,
        &["cp", "web:/tmp/d/sub/f", out.to_str().expect("utf-8")],
    );
    assert_eq!(
        std::fs::read_to_string(out.join("f")).expect("copied"),
        "inside\n"
    );

    // Into the container.
    let local = f.dir.path().join("local");
    std::fs::create_dir_all(&local).expect("mkdir");
    std::fs::write(local.join("x"), "from host").expect("write");
    ok(&f, &["cp", local.to_str().expect("utf-8"), "web:/tmp/in"]);
    assert_eq!(
        ok(&f, &["exec", "-T", "web", "cat", "/tmp/in/x"]),
        "from host"
    );

    // Escapes: a link in the middle of the path resolves inside the container (where the
    // host's directory does not exist), in both directions.
    let leak = f.dir.path().join("leak");
    let (code, _, err) = compose(
        &f,
        &["cp", "web:/tmp/esc/secret", leak.to_str().expect("utf-8")],
    );
    assert_ne!(code, 0, "copied through an escaping link");
    assert!(err.contains("Could not find the file"), "{err}");
    assert!(!leak.exists());
    let (code, _, _) = compose(
        &f,
        &[
            "cp",
            "-L",
            "web:/tmp/esclink",
            leak.to_str().expect("utf-8"),
        ],
    );
    assert_ne!(code, 0, "followed an escaping link");
    assert!(!leak.exists());
    // Without -L the link itself is copied, never the host file's content.
    ok(
        &f,
        &["cp", "web:/tmp/esclink", leak.to_str().expect("utf-8")],
    );
    assert!(std::fs::symlink_metadata(&leak)
        .expect("link")
        .file_type()
        .is_symlink());
    let (code, _, _) = compose(
        &f,
        &[
            "cp",
            local.join("x").to_str().expect("utf-8"),
            "web:/tmp/esc/planted",
        ],
    );
    assert_ne!(code, 0, "wrote through an escaping link");
    assert!(!host.join("planted").exists(), "wrote on the host");
    assert_eq!(
        std::fs::read_to_string(host.join("secret")).expect("secret"),
        "HOST SECRET"
    );

    let (code, _, err) = compose(&f, &["cp", "web:/nonexistent", "/tmp/x"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("Could not find the file /nonexistent"),
        "{err}"
    );

    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn wait_returns_the_exit_code() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "\
services:
  job:
    image: busybox
    command: [sh, -c, 'sleep 0.5; exit 4']
",
    );
    ok(&f, &["up", "-d"]);
    let (code, out, err) = compose(&f, &["wait", "job"]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(out.contains("exited with status code 4"), "{out}");
    // Nothing running any more.
    let (code, _, err) = compose(&f, &["wait", "job"]);
    assert_ne!(code, 0);
    assert!(err.contains("no containers for project"), "{err}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// Runs `compose ARGS` for at most `limit`: (exit code, stdout, stderr), or a panic (after
/// killing it) when it hangs.
fn compose_within(f: &Fixture, args: &[&str], limit: Duration) -> (i32, String, String) {
    let mut child = f
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn compose");
    let start = std::time::Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            // Not waited for: a process stuck in a frozen cgroup does not die until thawed.
            let _ = child.kill();
            panic!("compose {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// As Docker: `exec` in a paused container fails at once (it hung, unkillable, until
/// `unpause`: its helper joined the frozen cgroup), `pause` of a paused and `unpause` of a
/// running container fail with Docker's messages, and `cp` (which joins nothing) still works.
#[test]
#[ignore = "needs root"]
fn exec_on_a_paused_container_fails_at_once_and_pause_twice_fails_as_docker() {
    require_engine!();
    let mut f = Fixture::with_netns(PROJECT);
    ok(&f, &["up", "-d"]);
    let id = record(&f).id;
    let limit = Duration::from_secs(10);

    let (code, _, err) = compose_within(&f, &["unpause"], limit);
    assert_ne!(code, 0, "unpause of a running container: {err}");
    assert!(
        err.contains(&format!("Container {id} is not paused")),
        "{err}"
    );
    ok(&f, &["pause"]);
    let (code, _, err) = compose_within(&f, &["pause"], limit);
    assert_ne!(code, 0, "pause of a paused container: {err}");
    assert!(
        err.contains(&format!("Container {id} is already paused")),
        "{err}"
    );

    let (code, out, err) = compose_within(&f, &["exec", "-T", "web", "echo", "hi"], limit);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(&format!(
            "Error response from daemon: Container {id} is paused, unpause the container before exec"
        )),
        "{err}"
    );

    let out = f.dir.path().join("passwd-copy");
    let (code, _, err) = compose_within(
        &f,
        &["cp", "web:/etc/passwd", out.to_str().expect("utf-8")],
        limit,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.exists());

    ok(&f, &["unpause"]);
    assert_eq!(ok(&f, &["exec", "-T", "web", "echo", "hi"]), "hi\n");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// Issue 11 item 10: `ps` counts how long a container has been up (the `Z` of the recorded
/// time was dropped, so it was always "Less than a second"), as Docker Compose's `ps` does.
#[test]
#[ignore = "needs root"]
fn ps_status_says_how_long_a_container_has_been_up() {
    require_engine!();
    let mut f = Fixture::with_netns(PROJECT);
    ok(&f, &["up", "-d"]);
    std::thread::sleep(Duration::from_millis(2200));
    let out = ok(&f, &["ps"]);
    assert!(
        out.contains("Up 2 seconds") || out.contains("Up 3 seconds"),
        "{out}"
    );
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// Waits until the project's only container has exited (0).
fn wait_exited(f: &Fixture) {
    let start = std::time::Instant::now();
    loop {
        let ps = ps(f);
        if ps.len() == 1 && ps[0]["State"] == "exited" {
            assert_eq!(ps[0]["ExitCode"], 0, "{ps:?}");
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{ps:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// As Docker: `cp` works with an exited container, both ways (copying test reports out of a
/// finished container is a common CI step); its filesystem is mounted where nothing on the
/// host sees it, and its symlinks still resolve inside it.
#[test]
#[ignore = "needs root"]
fn cp_works_with_an_exited_container_both_ways() {
    require_engine!();
    let host = tempfile::tempdir().expect("temp dir");
    std::fs::write(host.path().join("secret"), "HOST SECRET").expect("write");
    let hostp = host.path().to_str().expect("utf-8").to_string();
    let mut f = Fixture::with_netns(&format!(
        "services:
  job:
    image: busybox
    command: [sh, -c, 'cat /in.txt 2>/dev/null; mkdir -p /reports && echo passed > /reports/junit.xml && ln -sfn /../../..{hostp} /esc']
"
    ));
    ok(&f, &["up", "-d"]);
    wait_exited(&f);

    let out = f.dir.path().join("out");
    let outp = out.to_str().expect("utf-8");
    ok(&f, &["cp", "job:/reports", outp]);
    assert_eq!(
        std::fs::read_to_string(out.join("junit.xml")).expect("copied out"),
        "passed\n"
    );
    // A link the container planted leads nowhere outside it.
    let (code, _, err) = compose(&f, &["cp", "job:/esc/secret", outp]);
    assert_ne!(code, 0, "{err}");
    assert!(!out.join("secret").exists());

    // In: the container finds the file when it starts again.
    let input = f.dir.path().join("in.txt");
    std::fs::write(&input, "copied in\n").expect("write");
    ok(&f, &["cp", input.to_str().expect("utf-8"), "job:/in.txt"]);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(!mounts.contains(&record(&f).id), "{mounts}");
    ok(&f, &["start", "job"]);
    let start = std::time::Instant::now();
    while !ok(&f, &["logs", "--no-log-prefix", "job"]).contains("copied in\n") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the copied file not seen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_exited(&f);
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// Issue 11 item 10: `logs`, `restart` and `ps` refuse a service the project does not have,
/// like every other command, with Docker Compose's exit code 1 (not 0, not 15: the file is
/// fine).
#[test]
#[ignore = "needs root"]
fn unknown_services_fail_every_command_with_docker_compose_exit_code() {
    require_engine!();
    let mut f = Fixture::with_netns(PROJECT);
    for args in [
        &["logs", "nosuch"][..],
        &["restart", "nosuch"],
        &["ps", "nosuch"],
        &["stop", "nosuch"],
        &["up", "-d", "nosuch"],
    ] {
        let (code, _, err) = compose(&f, args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains("no such service: nosuch"), "{args:?}: {err}");
    }
    // A file that does not load is still 15, a missing one 14.
    std::fs::write(f.project_dir.join("compose.yaml"), "services: [").unwrap();
    assert_eq!(compose(&f, &["ps"]).0, 15);
    std::fs::remove_file(f.project_dir.join("compose.yaml")).unwrap();
    let out = f
        .command(&["ps"])
        .env_remove("COMPOSE_PROJECT_NAME")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(14));
    f.assert_clean();
}

/// Issue 11 item 10: a stopped container publishes nothing, so `ps` shows no ports and `port`
/// finds none, as with Docker Compose.
#[test]
#[ignore = "needs root"]
fn stopped_containers_report_no_ports() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "\
services:
  web:
    image: busybox
    command: [sleep, \"1000\"]
    ports: [\"127.0.0.1:18931:80\"]
",
    );
    ok(&f, &["up", "-d"]);
    assert!(ok(&f, &["ps"]).contains("127.0.0.1:18931->80/tcp"));
    assert_eq!(ok(&f, &["port", "web", "80"]).trim(), "127.0.0.1:18931");
    ok(&f, &["stop", "-t", "0"]);
    let out = ok(&f, &["ps", "-a"]);
    assert!(out.contains("Exited") && !out.contains("18931"), "{out}");
    let (code, out, err) = compose(&f, &["port", "web", "80"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("no port 80/tcp"), "{err}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// Issue 11 item 10: `ls` without `-a` counts running containers only, as Docker Compose's
/// (which looks at running containers only); `-a` counts the stopped ones too.
#[test]
#[ignore = "needs root"]
fn ls_without_all_counts_running_containers_only() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "\
services:
  web:
    image: busybox
    command: [sleep, \"1000\"]
  job:
    image: busybox
    command: [\"true\"]
",
    );
    ok(&f, &["up", "-d"]);
    let _ = compose(&f, &["wait", "job"]);
    let line = |out: &str| {
        out.lines()
            .find(|l| l.starts_with(&f.project))
            .unwrap_or_default()
            .to_string()
    };
    let out = ok(&f, &["ls"]);
    let mine = line(&out);
    assert!(
        mine.contains("running(1)") && !mine.contains("exited"),
        "{out}"
    );
    let out = ok(&f, &["ls", "-a"]);
    let mine = line(&out);
    assert!(
        mine.contains("running(1)") && mine.contains("exited(1)"),
        "{out}"
    );
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// `compose ARGS` with `input` on its standard input: (exit code, stdout, stderr).
fn compose_with_input(f: &Fixture, args: &[&str], input: &[u8]) -> (i32, Vec<u8>, String) {
    let mut child = f
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn compose");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input)
        .expect("write stdin");
    let out = child.wait_with_output().expect("output");
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// As `docker cp`: `cp SERVICE:PATH -` writes a tar archive of PATH (named after its last
/// component, links kept as links) and `cp - SERVICE:DIR` unpacks one into DIR; an entry
/// that climbs out with `..` is refused.
#[test]
#[ignore = "needs root"]
fn cp_streams_tar_archives_both_ways_as_docker() {
    require_engine!();
    let mut f = Fixture::with_netns(PROJECT);
    ok(&f, &["up", "-d"]);
    ok(
        &f,
        &[
            "exec",
            "-T",
            "web",
            "sh",
            "-c",
            "mkdir -p /tmp/d/sub && echo inside > /tmp/d/sub/f && ln -s f /tmp/d/sub/l",
        ],
    );
    let (code, out, err) = compose_with_input(&f, &["cp", "web:/tmp/d", "-"], b"");
    assert_eq!(code, 0, "{err}");
    let mut archive = tar::Archive::new(out.as_slice());
    let mut seen = Vec::new();
    for e in archive.entries().expect("a tar archive") {
        let mut e = e.expect("entry");
        let path = e.path().expect("path").display().to_string();
        let mut body = String::new();
        std::io::Read::read_to_string(&mut e, &mut body).expect("body");
        let link = e
            .link_name()
            .expect("link")
            .map(|l| l.display().to_string());
        seen.push((path, e.header().entry_type(), body, link));
    }
    let paths: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(paths, ["d/", "d/sub/", "d/sub/f", "d/sub/l"], "{seen:?}");
    assert_eq!(seen[2].2, "inside\n");
    assert!(seen[3].1.is_symlink() && seen[3].3.as_deref() == Some("f"));

    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    b.append_data(&mut h, "x/", std::io::empty()).expect("dir");
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o640);
    h.set_size(6);
    b.append_data(&mut h, "x/y.txt", &b"hello\n"[..])
        .expect("file");
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "x/ln", "/etc/passwd").expect("link");
    let tarball = b.into_inner().expect("tar");
    let (code, _, err) = compose_with_input(&f, &["cp", "-", "web:/tmp"], &tarball);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        ok(
            &f,
            &[
                "exec",
                "-T",
                "web",
                "sh",
                "-c",
                "cat /tmp/x/y.txt; stat -c %a /tmp/x/y.txt; readlink /tmp/x/ln"
            ]
        ),
        "hello\n640\n/etc/passwd\n"
    );

    // `..` climbing out of the destination is refused, before anything is written.
    let mut raw = tar::Header::new_old();
    raw.as_old_mut().name[..13].copy_from_slice(b"../escape.txt");
    raw.set_mode(0o644);
    raw.set_size(3);
    raw.set_cksum();
    let mut evil = raw.as_bytes().to_vec();
    evil.extend_from_slice(b"bad");
    evil.resize(512 * 2, 0);
    evil.resize(512 * 4, 0);
    let (code, _, err) = compose_with_input(&f, &["cp", "-", "web:/tmp/x"], &evil);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("leads out of the destination"), "{err}");
    let (code, _, _) = compose(&f, &["exec", "-T", "web", "test", "-e", "/tmp/escape.txt"]);
    assert_ne!(code, 0, "nothing written above the destination");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// Issue 11 item 10: `ls` fills CONFIG FILES from the containers'
/// `com.docker.compose.project.config_files` label, as Docker Compose's does.
#[test]
#[ignore = "needs root"]
fn ls_shows_the_config_files() {
    require_engine!();
    let mut f = Fixture::with_netns(PROJECT);
    ok(&f, &["up", "-d"]);
    let file = f.project_dir.join("compose.yaml");
    let out = ok(&f, &["ls"]);
    let mine = out
        .lines()
        .find(|l| l.starts_with(&f.project))
        .unwrap_or_default();
    assert!(mine.ends_with(&file.display().to_string()), "{out}");
    let v: serde_json::Value = serde_json::from_str(&ok(&f, &["ls", "--format", "json"])).unwrap();
    let entry = v
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["Name"] == f.project.as_str())
        .cloned()
        .unwrap_or_default();
    assert_eq!(entry["ConfigFiles"], file.display().to_string(), "{v}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// As Docker: `cp` from an exited container reads what its volumes and binds hold at their
/// destinations, not the image's directory beneath them (test reports written to a volume are
/// the common case), and a copy into a read-only mount fails as in the running container.
#[test]
#[ignore = "needs root"]
fn cp_with_an_exited_container_sees_its_volumes_and_binds() {
    require_engine!();
    let host = tempfile::tempdir().expect("temp dir");
    std::fs::write(host.path().join("config.txt"), "from the host\n").expect("write");
    let hostp = host.path().to_str().expect("utf-8").to_string();
    let mut f = Fixture::with_netns(&format!(
        "services:
  job:
    image: busybox
    command: [sh, -c, 'echo passed > /reports/junit.xml; mkdir -p /reports/deep && echo deep > /reports/deep/x']
    volumes:
      - reports:/reports
      - {hostp}:/etc/app:ro
volumes:
  reports: {{}}
"
    ));
    ok(&f, &["up", "-d"]);
    wait_exited(&f);

    let out = f.dir.path().join("out");
    let outp = out.to_str().expect("utf-8");
    ok(&f, &["cp", "job:/reports", outp]);
    assert_eq!(
        std::fs::read_to_string(out.join("junit.xml")).expect("copied out of the volume"),
        "passed\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("deep/x")).expect("nested"),
        "deep\n"
    );
    let one = f.dir.path().join("one.xml");
    ok(
        &f,
        &[
            "cp",
            "job:/reports/deep/../junit.xml",
            one.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read_to_string(&one).unwrap(), "passed\n");
    let cfg = f.dir.path().join("cfg");
    ok(
        &f,
        &["cp", "job:/etc/app/config.txt", cfg.to_str().unwrap()],
    );
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "from the host\n");

    // In: into the volume; never into the read-only bind (nor its host directory).
    let input = f.dir.path().join("in.txt");
    std::fs::write(&input, "in\n").expect("write");
    ok(&f, &["cp", input.to_str().unwrap(), "job:/reports/in.txt"]);
    let (code, _, err) = compose(&f, &["cp", input.to_str().unwrap(), "job:/etc/app/in.txt"]);
    assert_ne!(code, 0, "a read-only bind took a file: {err}");
    assert!(!host.path().join("in.txt").exists());
    ok(&f, &["down", "-t", "0"]);
    let data = f
        .root
        .join("volumes")
        .join(format!("{}_reports", f.project))
        .join("_data");
    assert_eq!(
        std::fs::read_to_string(data.join("in.txt")).expect("in the volume"),
        "in\n"
    );
    ok(&f, &["down", "-v"]);
    f.assert_clean();
}

/// `wait` on a container whose PID 1 has just exited, but whose monitor has not yet written how
/// it ended, waits for that record and reports the exit code (it used to find nothing "running"
/// and return at once, so an `ls` right after still saw the container running). The monitor is
/// held with SIGSTOP so the window that was a race under load is held open deterministically.
#[test]
#[ignore = "needs root"]
fn wait_sees_a_container_that_exited_before_its_monitor_recorded_it() {
    require_engine!();
    let mut f = Fixture::with_netns(
        "\
services:
  job:
    image: busybox
    command: [sh, -c, \"sleep 1; exit 3\"]
",
    );
    ok(&f, &["up", "-d"]);
    let id = ps(&f)[0]["ID"].as_str().expect("ID").to_string();
    let dir = std::fs::read_dir(f.root.join("containers"))
        .expect("containers")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&id))
        })
        .expect("container directory");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state.json")).expect("state"))
            .expect("state json");
    let monitor = state["monitor_pid"].as_i64().expect("monitor pid") as i32;
    let pid = state["pid"].as_i64().expect("pid") as i32;
    let stop = |sig: &str| {
        let s = std::process::Command::new("kill")
            .args([sig, &monitor.to_string()])
            .status()
            .expect("kill");
        assert!(s.success());
    };
    stop("-STOP");
    // PID 1 exits and stays a zombie: the stopped monitor can neither reap nor record it.
    let zombie = support::engine::wait_for(10, || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 1..];
        (rest.split_whitespace().next() == Some("Z")).then_some(())
    });
    if zombie.is_none() {
        stop("-CONT");
        panic!("the job did not exit");
    }
    let waiter = f
        .command(&["wait", "job"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wait");
    std::thread::sleep(Duration::from_millis(500));
    stop("-CONT");
    let out = waiter.wait_with_output().expect("wait");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("exited with status code 3"), "{text}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}
