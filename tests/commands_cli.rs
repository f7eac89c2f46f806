//! End-to-end tests of the commands issue 17 adds: `completion`, `man`, `watch` (no root), and
//! over a real project (root; skipped with a reason otherwise) `scale`, `export`, `commit`,
//! `volumes` and `volume ls|inspect|create|rm|prune`. The engine tests run the CLI inside a
//! network namespace the fixture creates; the fixture fails the test if a mount, cgroup,
//! monitor or container state is left behind.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use std::path::Path;
use std::process::Command;

use support::engine::{ok, Fixture};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_compose")
}

/// (exit code, stdout, stderr) of `compose ARGS` outside any project.
fn plain(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .env("COMPOSE_ROOT", "/nonexistent-compose-root")
        .output()
        .expect("run compose");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bash_completion_is_valid_bash_and_completes_commands() {
    let (code, script, err) = plain(&["completion", "bash"]);
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("compose.bash");
    std::fs::write(&path, &script).expect("write");
    let check = Command::new("bash")
        .arg("-n")
        .arg(&path)
        .status()
        .expect("bash -n");
    assert!(check.success(), "bash -n refused the script");
    // Completing `compose vol` offers the two volume commands.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(compose vol); COMP_CWORD=1; _compose compose vol compose; \
             echo \"${{COMPREPLY[@]}}\"",
            path.display()
        ))
        .output()
        .expect("bash");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "volume volumes"
    );
    for shell in ["zsh", "fish"] {
        let (code, script, err) = plain(&["completion", shell]);
        assert_eq!(code, 0, "{err}");
        assert!(script.contains("compose"), "{shell}");
    }
    let (code, _, _) = plain(&["completion", "tcsh"]);
    assert_eq!(code, 2, "clap's usage error for an unknown shell");
}

#[test]
fn man_writes_a_page_per_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("man1");
    let (code, _, err) = plain(&["man", "--output", out.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{err}");
    for page in [
        "compose.1",
        "compose-up.1",
        "compose-scale.1",
        "compose-volume-ls.1",
        "compose-completion.1",
    ] {
        let text = std::fs::read_to_string(out.join(page)).expect(page);
        assert!(text.contains(".TH"), "{page}");
    }
    // Rendered by man(1) where it is installed.
    if let Ok(r) = Command::new("man")
        .arg("-l")
        .arg(out.join("compose-volume-ls.1"))
        .env("MANPAGER", "cat")
        .output()
    {
        if r.status.success() {
            assert!(String::from_utf8_lossy(&r.stdout).contains("List volumes"));
        }
    }
}

#[test]
fn watch_says_it_is_not_supported_and_what_to_do() {
    let (code, out, err) = plain(&["watch"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("watch is not supported yet"), "{err}");
    assert!(err.contains("compose up -d --build"), "{err}");
}

/// (exit code, stdout, stderr) of `compose ARGS` in the fixture.
fn compose(f: &Fixture, args: &[&str]) -> (i32, String, String) {
    let out = f.compose(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn states(f: &Fixture, service: &str) -> Vec<String> {
    ok(f, &["ps", "-a", "--format", "json", service])
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("ps json");
            v["State"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

const SCALE: &str = "\
services:
  web:
    image: busybox
    command: [sleep, \"1000\"]
    stop_grace_period: 1s
    depends_on: [db]
  db:
    image: busybox
    command: [sleep, \"1000\"]
    stop_grace_period: 1s
";

#[test]
#[ignore = "needs root"]
fn scale_adds_and_removes_replicas() {
    require_engine!();
    let mut f = Fixture::new(SCALE);
    // --dry-run changes nothing.
    let (code, _, err) = compose(&f, &["scale", "--dry-run", "web=2"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("DRY-RUN MODE"), "{err}");
    assert!(states(&f, "web").is_empty());
    // --no-deps: db is not started.
    ok(&f, &["scale", "--no-deps", "web=3"]);
    assert_eq!(states(&f, "web"), ["running"; 3]);
    assert!(states(&f, "db").is_empty());
    ok(&f, &["scale", "web=1"]);
    assert_eq!(states(&f, "web"), ["running"]);
    // Without it, dependencies come up too.
    ok(&f, &["scale", "web=2"]);
    assert_eq!(states(&f, "db"), ["running"]);
    let (code, _, err) = compose(&f, &["scale", "nosuch=2"]);
    assert_eq!(code, 1);
    assert!(err.contains("no such service: nosuch"), "{err}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

const FILES: &str = "\
services:
  web:
    image: busybox
    command: [sh, -c, 'echo hello > /made; ln -s / /escape; rm /bin/true; exec sleep 1000']
    stop_grace_period: 1s
    volumes: [data:/data]
volumes:
  data:
";

/// The entry names of a tar archive.
fn tar_names(data: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(data);
    a.entries()
        .expect("tar")
        .map(|e| {
            let e = e.expect("entry");
            e.path().expect("path").display().to_string()
        })
        .collect()
}

fn wait_made(f: &Fixture) {
    let mut last = String::new();
    let made = support::engine::wait_for(10, || {
        let (code, out, err) = compose(f, &["exec", "-T", "web", "sh", "-c", "test -e /made"]);
        last = format!("{code} {out}{err}");
        (code == 0).then_some(())
    });
    assert!(
        made.is_some(),
        "the command did not run: {last}\n{}",
        ok(f, &["logs"])
    );
}

#[test]
#[ignore = "needs root"]
fn export_writes_the_container_filesystem_without_its_mounts() {
    require_engine!();
    let mut f = Fixture::new(FILES);
    ok(&f, &["up", "-d"]);
    wait_made(&f);
    ok(
        &f,
        &["exec", "-T", "web", "sh", "-c", "echo v > /data/in-volume"],
    );
    let out = f.compose(&["export", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names = tar_names(&out.stdout);
    assert!(names.iter().any(|n| n == "made"), "{names:?}");
    assert!(names.iter().any(|n| n == "bin/busybox"), "{names:?}");
    assert!(
        names.iter().any(|n| n == "escape"),
        "the link itself: {names:?}"
    );
    // Mounts are left out: the volume's file, /proc's content.
    assert!(
        names.iter().any(|n| n == "data/" || n == "data"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("data/in-volume")),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.starts_with("proc/1")), "{names:?}");
    // No entry leads out of the container through the link.
    assert!(!names.iter().any(|n| n.starts_with("escape/")), "{names:?}");

    // Stopped: read from its layers, into a file with -o.
    ok(&f, &["stop", "-t", "0"]);
    let file = f.project_dir.join("web.tar");
    ok(&f, &["export", "-o", "web.tar", "web"]);
    let names = tar_names(&std::fs::read(&file).expect("archive"));
    assert!(names.iter().any(|n| n == "made"), "{names:?}");
    assert!(
        !names.iter().any(|n| n == "bin/true"),
        "removed in the container: {names:?}"
    );
    let (code, _, err) = compose(&f, &["export", "--index", "2", "web"]);
    assert_eq!(code, 1, "{err}");
    ok(&f, &["down", "-v", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn commit_makes_an_image_that_runs_with_the_change() {
    require_engine!();
    let mut f = Fixture::new(FILES);
    ok(&f, &["up", "-d"]);
    wait_made(&f);
    let tag = format!("committed-{}:v1", f.project);
    // --dry-run makes no image.
    let (code, _, err) = compose(&f, &["commit", "--dry-run", "web", &tag]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("DRY-RUN MODE"), "{err}");
    assert!(!ok(&f, &["image", "ls"]).contains(&format!("committed-{}", f.project)));

    let (code, _, err) = compose(
        &f,
        &[
            "commit",
            "-a",
            "tester",
            "-m",
            "made",
            "-c",
            "ENV COMMITTED=yes",
            "-c",
            "CMD [\"cat\", \"/made\"]",
            "web",
            &tag,
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Committed as sha256:"), "{err}");
    let inspect = ok(&f, &["image", "inspect", &tag]);
    let v: serde_json::Value = serde_json::from_str(&inspect).expect("inspect json");
    let img = &v[0];
    assert_eq!(
        img["Config"]["Cmd"],
        serde_json::json!(["cat", "/made"]),
        "{img}"
    );
    assert!(
        img["Config"]["Env"].to_string().contains("COMMITTED=yes"),
        "{img}"
    );
    assert_eq!(img["Author"], "tester", "{img}");

    // A project running the new image sees the container's changes.
    let yaml = format!("services:\n  probe:\n    image: {tag}\n");
    std::fs::write(f.project_dir.join("compose.yaml"), yaml).expect("yaml");
    let (code, out, err) = f.run("probe", &[]);
    assert_eq!((code, out.as_str()), (0, "hello\n"), "{err}");
    let (code, out, err) = f.run("probe", &["sh", "-c", "test -e /bin/true || echo gone"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "gone\n"),
        "the whiteout is kept: {err}"
    );
    std::fs::write(f.project_dir.join("compose.yaml"), FILES).expect("yaml");
    ok(&f, &["down", "-v", "-t", "0"]);
    ok(&f, &["image", "rm", &tag]);
    f.assert_clean();
}

fn volume_names(out: &str) -> Vec<&str> {
    out.lines().collect()
}

#[test]
#[ignore = "needs root"]
fn volume_commands_as_docker_volume() {
    require_engine!();
    let mut f = Fixture::new(FILES);
    let data = format!("{}_data", f.project);
    ok(&f, &["up", "-d"]);
    assert_eq!(volume_names(&ok(&f, &["volumes", "-q"])), [data.as_str()]);
    let table = ok(&f, &["volumes"]);
    assert!(table.starts_with("DRIVER"), "{table}");
    assert!(
        table.contains("VOLUME NAME") && table.contains(&data),
        "{table}"
    );
    let json_line = ok(
        &f,
        &[
            "volume",
            "ls",
            "--format",
            "json",
            "-f",
            &format!("name={data}"),
        ],
    );
    let v: serde_json::Value = serde_json::from_str(json_line.trim()).expect("json");
    assert_eq!(
        (v["Name"].as_str(), v["Driver"].as_str()),
        (Some(data.as_str()), Some("local"))
    );

    // A volume in use is refused removal, -f or not (Docker's wording).
    let (code, _, err) = compose(&f, &["volume", "rm", "-f", &data]);
    assert_eq!(code, 1);
    assert!(err.contains("volume is in use"), "{err}");

    // create with labels, inspect, filters, the template.
    let mine = format!("{}-extra", f.project);
    assert_eq!(
        ok(&f, &["volume", "create", "--label", "k=v", &mine]).trim(),
        mine
    );
    let inspect: serde_json::Value =
        serde_json::from_str(&ok(&f, &["volume", "inspect", &mine])).expect("inspect");
    assert_eq!(inspect[0]["Labels"], serde_json::json!({"k": "v"}));
    let mountpoint = ok(&f, &["volume", "inspect", "-f", "{{.Mountpoint}}", &mine]);
    assert!(Path::new(mountpoint.trim()).is_dir(), "{mountpoint}");
    let found = ok(&f, &["volume", "ls", "-q", "--filter", "label=k=v"]);
    assert_eq!(volume_names(&found), [mine.as_str()]);
    let dangling = ok(&f, &["volume", "ls", "-q", "--filter", "dangling=true"]);
    assert!(
        dangling.contains(&mine) && !dangling.contains(&data),
        "{dangling}"
    );
    let (code, _, err) = compose(&f, &["volume", "create", "--opt", "type=tmpfs", "x1"]);
    assert_eq!(code, 1, "refused, not ignored: {err}");
    let (code, _, err) = compose(&f, &["volume", "inspect", "nosuch"]);
    assert_eq!(code, 1);
    assert!(err.contains("no such volume"), "{err}");

    // --dry-run removes nothing.
    let out = ok(&f, &["volume", "rm", "--dry-run", &mine]);
    assert!(out.starts_with("DRY-RUN MODE - "), "{out}");
    let out = ok(&f, &["volume", "prune", "-a", "--dry-run"]);
    assert!(out.contains(&mine), "{out}");
    assert!(ok(&f, &["volume", "ls", "-q"]).contains(&mine));
    let out = ok(&f, &["volume", "create", "--dry-run", "dry-one"]);
    assert!(out.starts_with("DRY-RUN MODE - "), "{out}");
    assert!(!ok(&f, &["volume", "ls", "-q"]).contains("dry-one"));

    // prune without -a keeps named volumes; with -a -f removes the unused one only.
    let out = ok(&f, &["volume", "prune", "-f"]);
    assert!(!out.contains(&mine), "{out}");
    let out = ok(&f, &["volume", "prune", "-a", "-f"]);
    assert!(
        out.contains("Deleted Volumes:") && out.contains(&mine),
        "{out}"
    );
    assert!(!out.contains(&data), "{out}");
    let left = ok(&f, &["volume", "ls", "-q"]);
    assert_eq!(volume_names(&left), [data.as_str()]);

    // Once its container is gone the project's volume may go.
    ok(&f, &["down", "-t", "0"]);
    assert_eq!(ok(&f, &["volume", "rm", &data]).trim(), data);
    assert!(ok(&f, &["volume", "ls", "-q"]).trim().is_empty());
    f.assert_clean();
}
