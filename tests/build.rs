//! End-to-end tests of Dockerfile builds on our engine (issue 14): `compose build` of real
//! Dockerfiles, the images run with `compose run`, inspected and saved. Root (RUN steps are
//! containers); the fixture checks that no container, mount or cgroup is left behind. Base
//! images are the fixture's busybox or `scratch`: nothing is pulled.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use std::io::Read;

use support::engine::{ok, text, Fixture};

/// A fixture whose project builds service `app` from `dockerfile` in the project folder.
fn project(compose_extra: &str, dockerfile: &str) -> Fixture {
    let f = Fixture::new(&format!(
        "services:\n  app:\n    build:\n      context: .\n{compose_extra}"
    ));
    std::fs::write(f.project_dir.join("Dockerfile"), dockerfile).expect("Dockerfile");
    f
}

fn write(f: &Fixture, rel: &str, content: &str) {
    let p = f.project_dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("dirs");
    std::fs::write(p, content).expect("write");
}

/// `compose --progress plain build ARGS`; the output (progress is on standard error).
fn build(f: &Fixture, args: &[&str]) -> String {
    let mut all = vec!["--progress", "plain", "build"];
    all.extend_from_slice(args);
    let o = f.compose(&all);
    assert!(o.status.success(), "build: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// The image's `image inspect` object.
fn inspect(f: &Fixture, image: &str) -> serde_json::Value {
    let out = ok(f, &["image", "inspect", image]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("inspect json");
    v[0].clone()
}

fn run(f: &Fixture, cmd: &[&str]) -> String {
    let mut args = vec!["run", "--rm", "-T", "app"];
    args.extend_from_slice(cmd);
    ok(f, &args)
}

fn image_name(f: &Fixture) -> String {
    format!("{}-app", f.project)
}

#[test]
#[ignore = "needs root"]
fn a_scratch_final_stage_copies_what_a_run_of_an_earlier_stage_made() {
    require_engine!();
    let mut f = project(
        "",
        "FROM busybox AS build\n\
         RUN mkdir /out && echo built > /out/file && cp /bin/busybox /out/busybox\n\
         FROM busybox AS unused\nRUN exit 1\n\
         FROM scratch\n\
         COPY --from=build /out/busybox /bin/busybox\n\
         COPY --from=build /out/file /file\n\
         CMD [\"/bin/busybox\", \"cat\", \"/file\"]\n",
    );
    build(&f, &["app"]);
    // The stage nothing needs (it would fail) was skipped.
    assert_eq!(run(&f, &[]), "built\n");
    let img = inspect(&f, &image_name(&f));
    assert_eq!(
        img["Config"]["Cmd"],
        serde_json::json!(["/bin/busybox", "cat", "/file"])
    );
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn args_env_heredocs_and_the_image_config() {
    require_engine!();
    let mut f = project(
        "      args:\n        GREETING: hi\n      labels:\n        com.example.from: compose\n",
        "ARG BASE=busybox\nFROM ${BASE}\nARG GREETING=hello\nENV WHO=world\n\
         RUN <<EOF\necho \"$GREETING $WHO\" > /greeting\nEOF\n\
         COPY <<EOF /heredoc.txt\nfrom a heredoc\nEOF\n\
         WORKDIR /app\nUSER 1000:1000\nEXPOSE 8080/tcp 53/udp\nVOLUME /data\n\
         LABEL com.example.team=core\nSTOPSIGNAL SIGINT\n\
         HEALTHCHECK --interval=5s --retries=2 CMD true\n\
         ENTRYPOINT [\"/bin/sh\", \"-c\"]\nCMD [\"cat /greeting /heredoc.txt; pwd; id -u\"]\n",
    );
    build(&f, &[]);
    assert_eq!(
        run(&f, &[]),
        "hi world\nfrom a heredoc\n/app\n1000\n",
        "build arg over the ARG default, ENV, heredocs, WORKDIR, USER"
    );
    let c = inspect(&f, &image_name(&f))["Config"].clone();
    // What Docker's builder records for the same Dockerfile.
    let env = c["Env"].as_array().expect("Env");
    assert!(env.contains(&serde_json::json!("WHO=world")), "{env:?}");
    assert!(env.iter().any(|e| e.as_str().unwrap().starts_with("PATH=")));
    assert!(
        !env.contains(&serde_json::json!("GREETING=hi")),
        "ARGs stay out"
    );
    assert_eq!(c["WorkingDir"], "/app");
    assert_eq!(c["User"], "1000:1000");
    assert_eq!(
        c["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}, "53/udp": {}})
    );
    assert_eq!(c["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(c["Labels"]["com.example.team"], "core");
    assert_eq!(c["Labels"]["com.example.from"], "compose");
    assert_eq!(c["StopSignal"], "SIGINT");
    assert_eq!(
        c["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000u64, "Retries": 2})
    );
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn dockerignore_exceptions_chown_and_chmod() {
    require_engine!();
    let mut f = project(
        "",
        "FROM busybox\nCOPY --chown=1000:1000 --chmod=0640 . /ctx/\nCOPY --chown=app a.txt /owned\n",
    );
    write(&f, ".dockerignore", "*.key\nlogs\n!logs/keep.log\n");
    write(&f, "a.txt", "a\n");
    write(&f, "secret.key", "k\n");
    write(&f, "logs/x.log", "x\n");
    write(&f, "logs/keep.log", "keep\n");
    build(&f, &[]);
    let out = run(
        &f,
        &[
            "sh",
            "-c",
            "ls -a /ctx /ctx/logs; stat -c '%u:%g %a' /ctx/a.txt /owned",
        ],
    );
    assert!(!out.contains("secret.key"), "{out}");
    assert!(out.contains("keep.log") && !out.contains("x.log"), "{out}");
    assert!(out.contains("1000:1000 640"), "{out}");
    // `app` is uid 1000, gid 1000 in the busybox image's /etc/passwd.
    assert!(out.ends_with("1000:1000 644\n"), "{out}");
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn a_deletion_in_a_later_run_hides_the_file_in_the_final_image() {
    require_engine!();
    let mut f = project(
        "",
        "FROM busybox\nRUN echo x > /f && mkdir -p /d && touch /d/a\n\
         RUN rm /f /etc/group && rm -rf /d && mkdir /d && touch /d/b\n",
    );
    build(&f, &[]);
    let out = run(
        &f,
        &["sh", "-c", "test ! -e /f && test ! -e /etc/group && ls /d"],
    );
    assert_eq!(out, "b\n", "whiteouts and an opaque directory");
    f.assert_clean();
}

/// The steps a plain-progress build ran (not CACHED), by their text.
fn ran_steps(out: &str) -> Vec<String> {
    let mut names = std::collections::BTreeMap::new();
    let mut ran = Vec::new();
    for line in out.lines() {
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let (n, what) = rest.split_once(' ').unwrap_or((rest, ""));
        if what.starts_with('[') {
            if let Some((_, text)) = what.split_once("] ") {
                names.insert(n.to_string(), text.to_string());
            }
        } else if what.starts_with("DONE") {
            if let Some(t) = names.get(n) {
                if !t.starts_with("FROM") {
                    ran.push(t.clone());
                }
            }
        }
    }
    ran
}

#[test]
#[ignore = "needs root"]
fn an_unchanged_rebuild_is_cached_and_a_changed_file_rebuilds_from_its_copy() {
    require_engine!();
    let mut f = project(
        "",
        "FROM busybox\nCOPY a.txt /a\nRUN cat /a > /b\nCOPY b.txt /c\nRUN cat /b /c\n",
    );
    write(&f, "a.txt", "a\n");
    write(&f, "b.txt", "b\n");
    let first = build(&f, &[]);
    assert_eq!(ran_steps(&first).len(), 4, "{first}");
    let id = inspect(&f, &image_name(&f))["Id"].clone();

    // In a later second than the first build: the image is dated by its cached steps, not by
    // when the rebuild ran, so it stays the same image.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = build(&f, &[]);
    assert!(ran_steps(&second).is_empty(), "{second}");
    assert_eq!(second.matches("CACHED").count(), 4, "{second}");
    assert_eq!(inspect(&f, &image_name(&f))["Id"], id, "same image");

    // A new mtime with the same content changes nothing; new content reruns from its COPY.
    write(&f, "a.txt", "a\n");
    assert!(ran_steps(&build(&f, &[])).is_empty());
    write(&f, "b.txt", "B\n");
    let third = build(&f, &[]);
    assert_eq!(
        ran_steps(&third),
        vec!["COPY b.txt /c", "RUN cat /b /c"],
        "{third}"
    );
    let no_cache = build(&f, &["--no-cache"]);
    assert_eq!(ran_steps(&no_cache).len(), 4, "{no_cache}");

    // Without -a, prune keeps the steps whose layers the image uses; -a empties the cache.
    ok(&f, &["builder", "prune", "-f"]);
    assert!(ran_steps(&build(&f, &[])).is_empty());
    ok(&f, &["builder", "prune", "-a", "-f"]);
    assert_eq!(ran_steps(&build(&f, &[])).len(), 4);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn a_failing_run_reports_its_step_and_exit_code_and_leaves_nothing() {
    require_engine!();
    let mut f = project(
        "",
        "FROM busybox\nRUN echo ok\nRUN echo last words; exit 7\nRUN echo never\n",
    );
    let o = f.compose(&["--progress", "plain", "build"]);
    assert!(!o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("[app 3/4] RUN echo last words; exit 7"),
        "{err}"
    );
    assert!(err.contains("exit code: 7"), "{err}");
    assert!(err.contains("last words"), "{err}");
    assert!(!err.contains("never\n"), "{err}");
    // No image was made.
    assert!(!f
        .compose(&["image", "inspect", &image_name(&f)])
        .status
        .success());
    f.assert_clean();
    let work = f.root.join("build/work");
    let left: Vec<_> = std::fs::read_dir(&work)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "work directories left: {left:?}");
}

/// Every byte of every layer of `image`, uncompressed, from `image save` (not its config,
/// whose history spells each RUN's command).
fn saved_layers(f: &Fixture, image: &str) -> Vec<u8> {
    let tar = f.dir.path().join("saved.tar");
    ok(
        f,
        &["image", "save", "-o", tar.to_str().expect("utf-8"), image],
    );
    let mut all = Vec::new();
    let mut archive = tar::Archive::new(std::fs::File::open(&tar).expect("saved"));
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read");
        if data.starts_with(&[0x1f, 0x8b]) {
            let mut plain = Vec::new();
            flate2::read::MultiGzDecoder::new(&data[..])
                .read_to_end(&mut plain)
                .expect("gunzip");
            all.extend(plain);
        } else if data.get(257..262) == Some(b"ustar") {
            all.extend(data);
        }
    }
    all
}

#[test]
#[ignore = "needs root"]
fn a_build_secret_is_there_for_its_run_only_and_in_no_layer() {
    require_engine!();
    let mut f = project(
        "      secrets:\n        - tok\nsecrets:\n  tok:\n    file: ./tok.txt\n",
        // The command never spells the value: the image's history records it.
        "FROM busybox\n\
         RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /used\n",
    );
    write(&f, "tok.txt", "s3cr3t-value");
    build(&f, &[]);
    let out = run(&f, &["sh", "-c", "cat /used; ls /run/secrets 2>&1 || true"]);
    assert_eq!(out.lines().next(), Some("12"), "the RUN read it: {out}");
    let layers = saved_layers(&f, &image_name(&f));
    let hay = String::from_utf8_lossy(&layers);
    assert!(hay.contains("used"), "the RUN's layer is there");
    assert!(!hay.contains("s3cr3t-value"), "the secret is in a layer");
    assert!(
        !hay.contains("run/secrets/tok"),
        "the secret's path is in a layer"
    );
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn source_date_epoch_makes_no_cache_builds_byte_identical() {
    require_engine!();
    // Every file the steps make gets a new mtime each time: the clamp makes them equal.
    let mut f = project(
        "",
        "FROM busybox\nCOPY a.txt /a\nRUN echo fixed > /out && mkdir -p /made/deeper\n",
    );
    write(&f, "a.txt", "a\n");
    let id = |f: &Fixture| {
        let o = f
            .command(&["--progress", "plain", "build", "--no-cache"])
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .expect("build");
        assert!(o.status.success(), "{}", text(&o));
        let img = inspect(f, &image_name(f));
        assert_eq!(img["Created"], "2023-11-14T22:13:20Z");
        img["Id"].clone()
    };
    let first = id(&f);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    write(&f, "a.txt", "a\n");
    assert_eq!(id(&f), first, "same inputs, same digest");
    f.assert_clean();
}
