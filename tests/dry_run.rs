//! `--dry-run` end to end (root; skipped with a reason otherwise): over a running stack, every
//! command that changes state, run with `--dry-run` (before and after the command's name),
//! exits as the real command would (0, or the real command's error on bad input), prints its
//! plan with Docker Compose's `DRY-RUN MODE - ` prefix, and changes nothing observable: the
//! state root (every file's and folder's mtime, size and content), `ps -a`, the stand-in host's
//! links and nftables rules, the test's cgroups (with their processes and freeze state), its
//! mounts and the container monitors.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::engine::{text, Fixture};

const STACK: &str = "services:
  db:
    image: busybox
    command: [sleep, '1000']
    stop_signal: KILL
  web:
    image: busybox
    command: [sleep, '1000']
    stop_signal: KILL
    depends_on: [db]
    volumes: [data:/data]
  job:
    image: busybox
    command: ['true']
volumes:
  data: {}
";

/// Everything a command could change, as comparable text.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    /// Path under the root -> (mtime in ns, size, content for small regular files).
    root: BTreeMap<PathBuf, (i128, u64, Option<Vec<u8>>)>,
    /// `ps -a --format json`, less what moves with time ("Up 3 seconds").
    ps: Vec<String>,
    links: Vec<String>,
    rules: (bool, Vec<String>),
    /// Cgroup directory -> its processes and freeze state.
    cgroups: BTreeMap<PathBuf, (String, String)>,
    mounts: Vec<String>,
    monitors: Vec<i32>,
}

fn tree(dir: &Path, base: &Path, out: &mut BTreeMap<PathBuf, (i128, u64, Option<Vec<u8>>)>) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return;
    };
    let key = dir.strip_prefix(base).unwrap_or(dir).to_path_buf();
    let mtime = meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128;
    let content =
        (meta.is_file() && meta.len() <= 1 << 20).then(|| std::fs::read(dir).unwrap_or_default());
    out.insert(key, (mtime, meta.len(), content));
    if meta.is_dir() {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            tree(&e.path(), base, out);
        }
    }
}

fn cgroups(f: &Fixture) -> BTreeMap<PathBuf, (String, String)> {
    let mut out = BTreeMap::new();
    let mut todo: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join(&f.cgroup_parent))
        .chain([Path::new("/sys/fs/cgroup").join(&f.cgroup_parent)])
        .filter(|p| p.is_dir())
        .collect();
    while let Some(d) = todo.pop() {
        let read = |n: &str| std::fs::read_to_string(d.join(n)).unwrap_or_default();
        let freeze = read("cgroup.freeze") + &read("freezer.state");
        out.insert(d.clone(), (read("cgroup.procs"), freeze));
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(e.path());
            }
        }
    }
    out
}

fn ps(f: &Fixture) -> Vec<String> {
    let o = f.compose(&["ps", "-a", "--format", "json"]);
    assert!(o.status.success(), "ps: {}", text(&o));
    let mut rows: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("ps json");
            format!("{} {} {} {}", v["ID"], v["Name"], v["State"], v["ExitCode"])
        })
        .collect();
    rows.sort();
    rows
}

fn snapshot(f: &Fixture) -> Snapshot {
    let mut root = BTreeMap::new();
    tree(&f.root, &f.root, &mut root);
    let dir = f.dir.path().to_string_lossy().into_owned();
    Snapshot {
        root,
        ps: ps(f),
        links: f.host_links(),
        rules: f.host_rules(),
        cgroups: cgroups(f),
        mounts: std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&dir))
            .map(String::from)
            .collect(),
        monitors: f.monitors_left(),
    }
}

/// What differs between two snapshots, for the failure message.
fn diff(a: &Snapshot, b: &Snapshot) -> String {
    let mut out = Vec::new();
    for (k, v) in &a.root {
        match b.root.get(k) {
            None => out.push(format!("removed {}", k.display())),
            Some(w) if w != v => out.push(format!("changed {}", k.display())),
            _ => {}
        }
    }
    for k in b.root.keys().filter(|k| !a.root.contains_key(*k)) {
        out.push(format!("created {}", k.display()));
    }
    for (what, x, y) in [
        ("ps", format!("{:?}", a.ps), format!("{:?}", b.ps)),
        ("links", format!("{:?}", a.links), format!("{:?}", b.links)),
        ("rules", format!("{:?}", a.rules), format!("{:?}", b.rules)),
        (
            "cgroups",
            format!("{:?}", a.cgroups),
            format!("{:?}", b.cgroups),
        ),
        (
            "mounts",
            format!("{:?}", a.mounts),
            format!("{:?}", b.mounts),
        ),
        (
            "monitors",
            format!("{:?}", a.monitors),
            format!("{:?}", b.monitors),
        ),
    ] {
        if x != y {
            out.push(format!("{what}: {x}\n  -> {y}"));
        }
    }
    out.join("\n")
}

/// Runs `compose ARGS`, checks it exits 0 and prints every one of `expect` (stdout and stderr
/// together), and that nothing changed since `before`.
fn dry(f: &Fixture, before: &Snapshot, args: &[&str], expect: &[String]) -> String {
    let o = f.compose(args);
    let all = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "compose {args:?}: {}", text(&o));
    for e in expect {
        assert!(
            all.contains(e),
            "compose {args:?} does not say {e:?}:\n{all}"
        );
    }
    let after = snapshot(f);
    assert!(
        *before == after,
        "compose {args:?} changed something:\n{}\noutput:\n{all}",
        diff(before, &after)
    );
    all
}

/// The real command's failure and the dry run's are the same, and the dry run changed nothing.
fn same_error(f: &Fixture, before: &Snapshot, real: &[&str], dry_run: &[&str]) {
    let r = f.compose(real);
    let d = f.compose(dry_run);
    assert!(
        !r.status.success(),
        "compose {real:?} should fail: {}",
        text(&r)
    );
    assert_eq!(
        r.status.code(),
        d.status.code(),
        "{}\n{}",
        text(&r),
        text(&d)
    );
    assert_eq!(
        String::from_utf8_lossy(&r.stderr),
        String::from_utf8_lossy(&d.stderr),
        "compose {dry_run:?} does not fail as {real:?}"
    );
    let after = snapshot(f);
    assert!(*before == after, "{dry_run:?}:\n{}", diff(before, &after));
}

#[test]
#[ignore = "needs root"]
fn every_state_changing_command_prints_its_plan_and_changes_nothing() {
    require_engine!();
    let mut f = Fixture::new(STACK);
    let up = f.compose(&["up", "-d"]);
    assert!(up.status.success(), "up: {}", text(&up));
    let p = f.project.clone();
    let (db, web, job) = (
        format!("{p}-db-1"),
        format!("{p}-web-1"),
        format!("{p}-job-1"),
    );
    // `job` exits at once; then nothing moves on its own.
    let settled = support::engine::wait_for(20, || {
        ps(&f)
            .iter()
            .any(|r| r.contains(&job) && r.contains("exited"))
            .then_some(())
    });
    assert!(settled.is_some(), "job did not exit: {:?}", ps(&f));
    std::thread::sleep(Duration::from_millis(500));
    let before = snapshot(&f);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        before == snapshot(&f),
        "the stack is not still: {}",
        diff(&before, &snapshot(&f))
    );

    // Docker Compose's plain progress writer prints its " DRY-RUN MODE - " prefix before the
    // line the real run prints (cmd/display/plain.go).
    let line = |name: &str, action: &str| format!(" DRY-RUN MODE -  Container {name}  {action}");
    let plain = ["--progress", "plain"];
    let with = |args: &[&'static str]| -> Vec<&'static str> {
        plain.iter().copied().chain(args.iter().copied()).collect()
    };

    // Before and after the command's name.
    dry(
        &f,
        &before,
        &with(&["--dry-run", "stop"]),
        &[line(&web, "Stopped"), line(&db, "Stopped")],
    );
    dry(
        &f,
        &before,
        &with(&["stop", "--dry-run", "web"]),
        &[line(&web, "Stopped")],
    );
    dry(
        &f,
        &before,
        &with(&["restart", "web", "--dry-run"]),
        &[line(&web, "Restarting")],
    );
    dry(
        &f,
        &before,
        &with(&["--dry-run", "kill"]),
        &[line(&web, "Killed"), line(&db, "Killed")],
    );
    dry(
        &f,
        &before,
        &with(&["--dry-run", "pause", "web"]),
        &[line(&web, "Paused")],
    );
    dry(
        &f,
        &before,
        &with(&["--dry-run", "start"]),
        &[line(&job, "Started")],
    );
    dry(
        &f,
        &before,
        &with(&["--dry-run", "rm", "--force"]),
        &[line(&job, "Removed")],
    );
    dry(
        &f,
        &before,
        &with(&["--dry-run", "rm", "--force", "-s", "web"]),
        &[line(&web, "Stopped"), line(&web, "Removed")],
    );
    let down = dry(
        &f,
        &before,
        &with(&["--dry-run", "down", "-v", "--rmi", "all"]),
        &[
            line(&web, "Removed"),
            line(&db, "Removed"),
            line(&job, "Removed"),
            format!(" DRY-RUN MODE -  Network {p}_default  Removed"),
            format!(" DRY-RUN MODE -  Volume {p}_data  Removed"),
            " DRY-RUN MODE -  Image busybox  Removed".into(),
        ],
    );
    // Dependents first, as the real `down`.
    let at = |s: &str| down.find(s).unwrap_or(usize::MAX);
    assert!(
        at(&line(&web, "Stopped")) < at(&line(&db, "Stopped")),
        "{down}"
    );
    dry(
        &f,
        &before,
        &with(&["--dry-run", "up", "-d"]),
        &[line(&web, "Running")],
    );
    dry(
        &f,
        &before,
        &with(&["--dry-run", "create", "--force-recreate", "db"]),
        &[line(&db, "Recreated")],
    );
    dry(
        &f,
        &before,
        &with(&["--dry-run", "run", "-d", "web"]),
        &[format!("Container {p}-web-run-")],
    );
    dry(
        &f,
        &before,
        &with(&["run", "--dry-run", "--name", "one", "job"]),
        &[line("one", "Created")],
    );
    let out = dry(
        &f,
        &before,
        &["--dry-run", "exec", "web", "touch", "/made"],
        &[],
    );
    assert!(out.trim().is_empty(), "exec --dry-run printed: {out}");
    std::fs::write(f.project_dir.join("file"), "x").expect("file");
    dry(
        &f,
        &before,
        &with(&["--dry-run", "cp", "file", "web:/file"]),
        &[line(&web, &format!("Copied file to {web}:/file"))],
    );
    dry(&f, &before, &with(&["--dry-run", "pull"]), &[]);
    // The JSON progress marks each event.
    let json = dry(
        &f,
        &before,
        &["--progress", "json", "stop", "--dry-run", "web"],
        &[],
    );
    assert!(
        json.lines()
            .filter(|l| l.starts_with('{'))
            .all(|l| l.contains("\"dry-run\":true")),
        "{json}"
    );

    // Images, networks, the build cache.
    dry(
        &f,
        &before,
        &["--dry-run", "image", "tag", "busybox", "other:1"],
        &["DRY-RUN MODE - Tagged sha256:".into()],
    );
    dry(
        &f,
        &before,
        &["image", "rm", "--dry-run", "busybox"],
        &["DRY-RUN MODE - Untagged: busybox:latest".into()],
    );
    dry(
        &f,
        &before,
        &["--dry-run", "image", "prune", "-a", "-f"],
        &[],
    );
    let archive = f.dir.path().join("busybox.tar");
    dry(
        &f,
        &before,
        &[
            "--dry-run",
            "image",
            "load",
            "-i",
            archive.to_str().expect("utf-8"),
        ],
        &["DRY-RUN MODE - Loaded image: busybox:latest".into()],
    );
    dry(
        &f,
        &before,
        &["--dry-run", "image", "push", "busybox"],
        &["DRY-RUN MODE - The push refers to repository".into()],
    );
    dry(
        &f,
        &before,
        &["--dry-run", "network", "prune", "--force"],
        &[],
    );
    dry(
        &f,
        &before,
        &["--dry-run", "builder", "prune", "-f"],
        &["DRY-RUN MODE - Deleted build cache objects: 0".into()],
    );
    let saved = f.dir.path().join("saved.tar");
    let saved_arg = saved.to_str().expect("utf-8");
    dry(
        &f,
        &before,
        &["--dry-run", "image", "save", "-o", saved_arg, "busybox"],
        &[format!("DRY-RUN MODE - Writing {saved_arg}")],
    );
    assert!(!saved.exists(), "image save --dry-run wrote {saved_arg}");
    let kube = f.dir.path().join("kube-out");
    dry(
        &f,
        &before,
        &[
            "--dry-run",
            "kube",
            "generate",
            "-o",
            kube.to_str().expect("utf-8"),
        ],
        &["DRY-RUN MODE - Writing ".into()],
    );
    assert!(
        !kube.exists(),
        "kube generate --dry-run wrote {}",
        kube.display()
    );

    // Bad input fails as the real command does (which changes nothing either).
    same_error(
        &f,
        &before,
        &["stop", "nosuch"],
        &["--dry-run", "stop", "nosuch"],
    );
    same_error(
        &f,
        &before,
        &["unpause", "web"],
        &["unpause", "--dry-run", "web"],
    );
    same_error(
        &f,
        &before,
        &["start", "nosuch"],
        &["start", "nosuch", "--dry-run"],
    );
    same_error(
        &f,
        &before,
        &["network", "rm", &format!("{p}_default")],
        &["--dry-run", "network", "rm", &format!("{p}_default")],
    );
    same_error(
        &f,
        &before,
        &["image", "rm", "nosuch:1"],
        &["--dry-run", "image", "rm", "nosuch:1"],
    );
    same_error(
        &f,
        &before,
        &["exec", "job", "true"],
        &["--dry-run", "exec", "job", "true"],
    );

    let o = f.compose(&["down", "-v"]);
    assert!(o.status.success(), "down: {}", text(&o));
    f.assert_clean();
}
