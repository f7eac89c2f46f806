//! Output that scripts parse (issue 17), end to end over a real stack (root; skipped with a
//! reason otherwise): `ps --format json` and a `table` template against golden files under
//! tests/golden/ (volatile values masked), and the listing flags whose expectations come from
//! Docker Compose (cmd/compose/ps.go, list.go, images.go, pkg/compose/port.go, run.go).
//! Set UPDATE_GOLDEN=1 to rewrite the golden files.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use support::engine::{ok, wait_for, Fixture};

const STACK: &str = "\
services:
  web:
    image: busybox
    command: [sh, -c, 'echo serving && exec sleep 1000']
    stop_signal: KILL
    ports: ['127.0.0.1:18934:80']
    expose: ['9000']
    labels:
      com.example.role: front
    volumes: [data:/data, ./site:/site:ro]
    depends_on: [job]
  job:
    image: busybox
    command: [sh, -c, 'exit 3']
volumes:
  data: {}
";

/// Replaces what changes from run to run (IDs, times, paths, the random project name, hashes)
/// with placeholders, so that the rest can be compared byte for byte.
fn mask(f: &Fixture, text: &str) -> String {
    let dir = f.project_dir.display().to_string();
    let mut s = text.replace(&dir, "<DIR>").replace(&f.project, "<PROJECT>");
    s = s.replace(env!("CARGO_PKG_VERSION"), "<VERSION>");
    let patterns = [
        (r#""ID":"[0-9a-f]{12}""#, r#""ID":"<ID>""#),
        (r#""CreatedAt":"[^"]*""#, r#""CreatedAt":"<CREATED>""#),
        (r#""RunningFor":"[^"]*""#, r#""RunningFor":"<RUNNING_FOR>""#),
        (r"config-hash=[0-9a-f]+", "config-hash=<HASH>"),
        (r"sha256:[0-9a-f]{64}", "sha256:<DIGEST>"),
        (r"Up [A-Za-z0-9 ]+?( \(|\x22|\s*$)", "Up <DURATION>$1"),
        (r"\) [A-Za-z0-9 ]+ ago", ") <DURATION> ago"),
        // Mount names cut at 15 characters keep a part of the random project or temp path.
        (r"ctest[0-9a-f]{0,12}…", "<PROJECT>…"),
        (r"(^|[ ,\x22])/[^,\x22\s]*…", "$1<PATH>…"),
    ];
    for (re, with) in patterns {
        s = regex::Regex::new(re)
            .expect("pattern")
            .replace_all(&s, with)
            .into_owned();
    }
    s
}

fn golden(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("golden dir");
        std::fs::write(&path, actual).expect("write golden");
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(actual, expected, "{} differs", path.display());
}

#[test]
#[ignore = "needs root"]
fn ps_json_and_templates_match_docker_compose_s_output() {
    require_engine!();
    let mut f = Fixture::new(STACK);
    std::fs::create_dir_all(f.project_dir.join("site")).expect("site");
    ok(&f, &["up", "-d"]);
    // `job` exits 3 at once; wait until ps says so.
    wait_for(10, || {
        ok(&f, &["ps", "-a", "--format", "{{.Service}} {{.State}}"])
            .contains("job exited")
            .then_some(())
    })
    .expect("job never exited");

    // Docker Compose v2.21+: one JSON object per line, sorted by name.
    let json = ok(&f, &["ps", "-a", "--format", "json"]);
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("one object per line");
        assert_eq!(v["ID"].as_str().map(str::len), Some(12), "{line}");
    }
    golden("ps_format_json.jsonl", &mask(&f, &json));

    let table = ok(
        &f,
        &[
            "ps",
            "-a",
            "--format",
            r"table {{.Name}}\t{{.State}}\t{{.ExitCode}}\t{{.Ports}}\t{{.Mounts}}",
        ],
    );
    golden("ps_format_table_template.txt", &mask(&f, &table));

    // -q: full IDs (Docker Compose prints ctr.ID as it is); --no-trunc: full IDs in templates.
    let ids = ok(&f, &["ps", "-a", "-q"]);
    assert!(ids.lines().all(|l| l.len() == 64), "{ids}");
    let full = ok(
        &f,
        &["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}"],
    );
    assert!(
        full.contains(" \"sh -c 'echo serving && exec sleep 1000'\""),
        "{full}"
    );
    assert_eq!(
        full.lines()
            .map(|l| l.split(' ').next().map(str::len))
            .collect::<Vec<_>>(),
        [Some(64), Some(64)]
    );

    // An unknown field: Docker's message, exit 1, nothing on standard output.
    let o = f.compose(&["ps", "--format", "{{.Nope}}"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("can't evaluate field Nope"), "{err}");
    assert!(o.stdout.is_empty());

    // `images -q`: full IDs without `sha256:`, each once (Docker Compose's images.go).
    let images = ok(&f, &["images", "-q"]);
    assert_eq!(images.lines().count(), 1, "{images}");
    assert!(
        images.lines().all(|l| l.len() == 64 && !l.contains(':')),
        "{images}"
    );
    let t = ok(
        &f,
        &[
            "images",
            "--format",
            "{{.ContainerName}} {{.Repository}}:{{.Tag}}",
        ],
    );
    assert_eq!(
        t,
        format!(
            "{p}-job-1 busybox:latest\n{p}-web-1 busybox:latest\n",
            p = f.project
        )
    );

    // `ls --filter name=`: exact or regular expression (cmd/compose/list.go).
    let p = f.project.clone();
    assert_eq!(
        ok(&f, &["ls", "-a", "-q", "--filter", &format!("name={p}")]),
        format!("{p}\n")
    );
    assert_eq!(
        ok(&f, &["ls", "-a", "-q", "--filter", "name=^ctest[0-9a-f]+$"])
            .lines()
            .filter(|l| *l == p)
            .count(),
        1
    );
    assert_eq!(
        ok(&f, &["ls", "-a", "-q", "--filter", "name=^no-such$"]),
        ""
    );
    assert_eq!(
        ok(
            &f,
            &[
                "ls",
                "-a",
                "--filter",
                &format!("name={p}"),
                "--format",
                "{{.Name}}"
            ]
        ),
        format!("{p}\n")
    );

    // `port`: Docker Compose's error lists the container's ports.
    let o = f.compose(&["port", "web", "81"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "no port 81/tcp for container {p}-web-1: 80/tcp, 9000/tcp"
        )),
        "{err}"
    );

    // `stats -a` lists the stopped container too, with zero figures.
    let stats = ok(
        &f,
        &[
            "stats",
            "-a",
            "--no-stream",
            "--format",
            "{{.Name}} {{.MemUsage}}",
        ],
    );
    assert!(stats.contains(&format!("{p}-job-1 0B / 0B")), "{stats}");
    assert!(stats.contains(&format!("{p}-web-1 ")), "{stats}");
    let stats = ok(&f, &["stats", "--no-stream", "--format", "{{.Name}}"]);
    assert_eq!(stats, format!("{p}-web-1\n"));

    // `run -d` prints the full ID; `ps` without -a leaves the one-off out, as Docker Compose.
    let id = ok(&f, &["run", "-d", "--no-deps", "job", "sleep", "1000"]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    assert!(!ok(&f, &["ps", "-q"]).contains(id));
    assert!(ok(&f, &["ps", "-a", "-q"]).contains(id));

    // `--orphans=false` keeps to the services the file declares.
    std::fs::write(
        f.project_dir.join("compose.yaml"),
        STACK.replace("    depends_on: [job]\n", "").replace(
            "  job:\n    image: busybox\n    command: [sh, -c, 'exit 3']\n",
            "",
        ),
    )
    .expect("rewrite compose.yaml");
    let services = ok(&f, &["ps", "-a", "--services"]);
    assert_eq!(services, "job\nweb\n", "orphans are listed by default");
    let services = ok(&f, &["ps", "-a", "--orphans=false", "--services"]);
    assert_eq!(services, "web\n");

    ok(&f, &["down", "-v", "-t", "0", "--remove-orphans"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn health_shows_in_status_as_docker_words_it() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  db:\n    image: busybox\n    command: [sleep, '1000']\n    stop_signal: KILL\n    healthcheck:\n      test: [CMD, 'true']\n      interval: 1s\n",
    );
    ok(&f, &["up", "-d"]);
    // Docker: `Up 3 seconds (health: starting)`, then `Up 5 seconds (healthy)`; Health the
    // bare word.
    let first = ok(&f, &["ps", "--format", "{{.Status}}|{{.Health}}"]);
    assert!(
        first.contains("(health: starting)|starting") || first.contains("(healthy)|healthy"),
        "{first}"
    );
    wait_for(15, || {
        ok(&f, &["ps", "--format", "{{.Status}}|{{.Health}}"])
            .contains("(healthy)|healthy")
            .then_some(())
    })
    .expect("never healthy");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}
