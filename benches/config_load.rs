//! `compose config -q` on a generated 500-service stack: the whole load pipeline (parse,
//! interpolate, merge, type, normalize, validate) as a user runs it, process start included.
//!
//! Run: `cargo bench --bench config_load` (optionally `-- SERVICES RUNS`). Prints the median and
//! minimum wall time of the release binary and of the in-process load.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use compose::model::environment::Environment;
use compose::model::load::{load, LoadOptions};

/// A stack like real ones: anchors, interpolation, ports, volumes, healthchecks, depends_on chains.
fn generate(services: usize) -> String {
    let mut s = String::from(
        "name: bench\nx-base: &base\n  restart: unless-stopped\n  environment:\n    TZ: UTC\n    LEVEL: ${LEVEL:-info}\n  labels:\n    team: bench\n",
    );
    s.push_str("services:\n");
    for i in 0..services {
        let _ = write!(
            s,
            "  svc{i}:\n    <<: *base\n    image: busybox:${{TAG:-latest}}\n    command: [\"sleep\", \"infinity\"]\n    ports:\n      - \"{}:80\"\n    volumes:\n      - data{}:/data\n      - ./conf/{i}:/etc/app:ro\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 10s\n      timeout: 2s\n    mem_limit: 64m\n    networks: [front, back]\n",
            10000 + i,
            i % 10,
        );
        if i > 0 {
            let _ = write!(
                s,
                "    depends_on:\n      svc{}:\n        condition: service_started\n",
                i - 1
            );
        }
    }
    s.push_str("networks:\n  front: {}\n  back:\n    internal: true\nvolumes:\n");
    for i in 0..10 {
        let _ = writeln!(s, "  data{i}: {{}}");
    }
    s
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let services: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(500);
    let runs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(30);

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("compose.yaml");
    std::fs::write(&file, generate(services)).expect("write stack");
    let bin = Path::new(env!("CARGO_BIN_EXE_compose"));

    let mut wall = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let out = Command::new(bin)
            .args(["config", "-q", "-f"])
            .arg(&file)
            .output()
            .expect("run compose");
        wall.push(t.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let mut inproc = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut opts = LoadOptions::new(dir.path(), Environment::default());
        opts.files = vec![file.clone()];
        let t = Instant::now();
        let p = load(&opts).expect("load");
        inproc.push(t.elapsed());
        assert_eq!(p.project.services.len(), services);
    }

    println!(
        "compose config -q, {services} services, {runs} runs: median {:.1} ms, min {:.1} ms (process); in-process load median {:.1} ms, min {:.1} ms",
        median(wall.clone()).as_secs_f64() * 1e3,
        wall.iter().min().expect("runs").as_secs_f64() * 1e3,
        median(inproc.clone()).as_secs_f64() * 1e3,
        inproc.iter().min().expect("runs").as_secs_f64() * 1e3,
    );
}
