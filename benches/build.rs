//! Image builds (issue 14): a 10-step Dockerfile — a COPY of a source tree of a few thousand
//! files and several RUNs — built by our release binary with `compose build`: cold (cache
//! emptied by `builder prune` first), unchanged rebuild (everything from the cache: the target
//! is 100 ms for the whole command), and rebuild after one source file changed (the COPY and
//! what follows run again). Debian's `docker build` of the same Dockerfile and context is timed
//! in the same run where a Docker daemon answers; otherwise it is reported as skipped.
//!
//! Run as root: `cargo bench --bench build -- [RUNS] [FILES]` (defaults: 5 runs, 3000 files).
//! Needs /bin/busybox. The benchmark moves itself into a network namespace of its own (loopback
//! only) before anything starts.

#[path = "support/stacks.rs"]
mod stacks;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stacks::{
    busybox_archive, can_run, isolate_network, median, numeric_args, remove_cgroup_parent, IMAGE,
};

const CGROUP_PARENT: &str = "compose-bench-build";

const DOCKERFILE: &str = "FROM compose-bench-busybox\n\
ENV APP=/src\n\
WORKDIR /src\n\
COPY src/ /src/\n\
RUN find /src -type f | wc -l > /count\n\
RUN cat /count\n\
COPY extra.txt /extra.txt\n\
RUN echo built > /built\n\
RUN ls / > /listing\n\
CMD [\"cat\", \"/built\"]\n";

/// Runs `argv` in `dir` with `envs`; how long it took, or why it failed.
fn timed(argv: &[&str], dir: &Path, envs: &[(&str, &str)]) -> Result<Duration, String> {
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let out = cmd.output().map_err(|e| format!("{argv:?}: {e}"))?;
    let took = start.elapsed();
    if !out.status.success() {
        return Err(format!(
            "{argv:?} exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(took)
}

fn fmt(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// The context: `files` small files in 50 directories, and one file changed between rebuilds.
fn context(dir: &Path, files: usize) {
    for i in 0..files {
        let sub = dir.join(format!("src/pkg{:02}", i % 50));
        std::fs::create_dir_all(&sub).expect("mkdir");
        std::fs::write(
            sub.join(format!("file{i:05}.rs")),
            format!("// file {i}\npub fn f{i}() -> u32 {{ {i} }}\n"),
        )
        .expect("write");
    }
    std::fs::write(dir.join("extra.txt"), "extra\n").expect("write");
    std::fs::write(dir.join("Dockerfile"), DOCKERFILE).expect("write");
    std::fs::write(
        dir.join("compose.yaml"),
        "services:\n  app:\n    build: .\n",
    )
    .expect("write");
}

/// One tool's three figures.
struct Figures {
    cold: Duration,
    unchanged: Duration,
    one_file: Duration,
}

fn bench(
    build: &dyn Fn() -> Result<Duration, String>,
    empty_cache: &dyn Fn() -> Result<Duration, String>,
    dir: &Path,
    runs: usize,
) -> Result<Figures, String> {
    let (mut cold, mut unchanged, mut one_file) = (Vec::new(), Vec::new(), Vec::new());
    let changed = dir.join("src/pkg07/file00007.rs");
    for run in 0..runs {
        empty_cache()?;
        cold.push(build()?);
        unchanged.push(build()?);
        std::fs::write(&changed, format!("// changed {run}\n")).map_err(|e| e.to_string())?;
        one_file.push(build()?);
    }
    Ok(Figures {
        cold: median(cold),
        unchanged: median(unchanged),
        one_file: median(one_file),
    })
}

fn print(label: &str, f: &Figures) {
    println!(
        "  {label:<14} cold {:>10}  unchanged {:>9}  one file changed {:>9}",
        fmt(f.cold),
        fmt(f.unchanged),
        fmt(f.one_file)
    );
}

fn main() {
    if !can_run() {
        return;
    }
    let nums = numeric_args();
    let runs = nums.first().copied().unwrap_or(5);
    let files = nums.get(1).copied().unwrap_or(3000);

    let docker_up = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());

    isolate_network();

    let tmp = tempfile::Builder::new()
        .prefix("compose-bench-build-")
        .tempdir()
        .expect("temp dir");
    let root: PathBuf = tmp.path().join("state");
    let root_s = root.to_str().expect("utf-8").to_string();
    let archive = busybox_archive(tmp.path(), Some(IMAGE));
    let dir = tmp.path().join("project");
    context(&dir, files);
    let ours = env!("CARGO_BIN_EXE_compose");
    let envs = [
        ("COMPOSE_ROOT", root_s.as_str()),
        ("COMPOSE_CGROUP_PARENT", CGROUP_PARENT),
    ];
    timed(
        &[
            ours,
            "image",
            "load",
            "-q",
            "-i",
            archive.to_str().expect("utf-8"),
        ],
        &dir,
        &envs,
    )
    .expect("image load");

    println!("build of a 10-step Dockerfile, COPY of {files} files, median of {runs}:");
    let result = bench(
        &|| timed(&[ours, "build", "-q"], &dir, &envs),
        &|| timed(&[ours, "builder", "prune", "-a", "-f"], &dir, &envs),
        &dir,
        runs,
    );
    match result {
        Ok(f) => print("compose", &f),
        Err(e) => println!("  compose        failed: {e}"),
    }
    if docker_up {
        let tag = "compose-bench-build:latest";
        let load = Command::new("docker")
            .args(["load", "-q", "-i", archive.to_str().expect("utf-8")])
            .status();
        if load.is_ok_and(|s| s.success()) {
            let result = bench(
                &|| timed(&["docker", "build", "-q", "-t", tag, "."], &dir, &[]),
                &|| timed(&["docker", "builder", "prune", "-af"], &dir, &[]),
                &dir,
                runs,
            );
            match result {
                Ok(f) => print("docker build", &f),
                Err(e) => println!("  docker build   failed: {e}"),
            }
        }
    } else {
        println!("  docker build   skipped: no Docker daemon answers here");
    }
    let _ = timed(&[ours, "builder", "prune", "-a", "-f"], &dir, &envs);
    remove_cgroup_parent(CGROUP_PARENT);
}
