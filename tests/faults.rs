//! Crash consistency: for every fault point of the engine (`compose::engine::fault::POINTS`),
//! the command that reaches it is killed there (SIGKILL, as `kill -9` would: no clean-up of
//! any kind), then the next `up -d` must converge (every service running as specified, one
//! monitor each, its published port answering) and `down -v` must leave no mount, link,
//! nftables rule, cgroup, address allocation, process or state entry. For `image load`, the
//! next load must succeed and `image rm` must leave the store as it was.
//!
//! One fixture per group of scenarios (its own state root and stand-in host namespace), reused
//! for each point of the group: the groups run in parallel.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};

use compose::engine::fault::{FAULT_ENV, FAULT_LOG_ENV, POINTS};
use compose::engine::image::testimage::{ArchiveFormat, TestImage};
use compose::engine::network::manager::Networks;
use support::engine::{http_get, text, wait_for, Fixture};

/// A named volume, a network of its own, a published port and a dependency.
const STACK: &str = "services:
  db:
    image: busybox
    command: [sh, -c, 'echo db > /data/ready; exec sleep 1000']
    stop_signal: KILL
    volumes: [data:/data, /scratch]
    networks: [back]
  web:
    image: busybox
    command: [sh, -c, 'echo web > /tmp/index.html; exec httpd -f -p 80 -h /tmp']
    stop_signal: KILL
    ports: ['18080:80']
    depends_on: [db]
    networks: [back, front]
volumes:
  data: {}
networks:
  back: {}
  front: {}
";

/// Skips the calling test where the binary has no fault points (a release build).
macro_rules! require_points {
    () => {
        if !cfg!(debug_assertions) {
            eprintln!("skipped: fault points exist in debug builds only");
            return;
        }
    };
}

/// What a scenario does before, and with, the faulted command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// `up -d` from nothing.
    Up,
    /// `down -v` of a running stack.
    Down,
    /// `run --rm -T db true` from nothing (the command creates networks and volume too).
    Run,
    /// `restart` of a running stack.
    Restart,
    /// `image load` of an image the store does not have.
    Load,
}

/// The scenario that reaches `point`, and whether the point is in a container's monitor (its
/// process is not the command's, so only the fault log proves it was reached).
fn scenario(point: &str) -> (Scenario, bool) {
    let group = point.split('.').next().unwrap_or_default();
    match group {
        "monitor" => (Scenario::Up, true),
        "network" if point.starts_with("network.connect.") => (Scenario::Up, true),
        "network" if point.starts_with("network.remove.") => (Scenario::Down, false),
        "network" | "up" => (Scenario::Up, false),
        "down" | "container" => (Scenario::Down, false),
        "run" => (Scenario::Run, false),
        "restart" => (Scenario::Restart, false),
        "image" => (Scenario::Load, false),
        _ => panic!("fault point {point} has no scenario: add one to tests/faults.rs"),
    }
}

fn points_of(s: Scenario) -> Vec<&'static str> {
    POINTS
        .iter()
        .copied()
        .filter(|p| scenario(p).0 == s)
        .collect()
}

/// A fixture whose stack is [`STACK`], with a log file the fault points write to.
struct Crash {
    f: Fixture,
    log: PathBuf,
}

impl Crash {
    fn new() -> Crash {
        let f = Fixture::new(STACK);
        let log = f.dir.path().join("faults.log");
        Crash { f, log }
    }

    fn ok(&self, args: &[&str]) -> Result<(), String> {
        let o = self.f.compose(args);
        match o.status.success() {
            true => Ok(()),
            false => Err(format!("compose {args:?}: {}", text(&o))),
        }
    }

    /// Runs `args` with the fault armed at `point`; checks the point was reached (and, for a
    /// point in the command itself, that the command died of SIGKILL there).
    fn faulted(&self, point: &str, args: &[&str]) -> Result<(), String> {
        let _ = std::fs::remove_file(&self.log);
        let o = self
            .f
            .command(args)
            .env(FAULT_ENV, point)
            .env(FAULT_LOG_ENV, &self.log)
            .output()
            .map_err(|e| format!("spawn: {e}"))?;
        let in_monitor = scenario(point).1;
        if !in_monitor && o.status.signal() != Some(libc::SIGKILL) {
            return Err(format!(
                "compose {args:?} did not die at {point}: {}",
                text(&o)
            ));
        }
        // A monitor writes its line before it dies, which may be after the command returned.
        let reached = wait_for(5, || {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            log.lines().any(|l| l == point).then_some(())
        });
        if reached.is_none() {
            return Err(format!(
                "{point} was never reached by {args:?}: {}",
                text(&o)
            ));
        }
        Ok(())
    }

    /// `up -d` converges: one running container per service, each with its monitor, the
    /// volume's content written by db, web answering on its published port.
    fn converges(&self) -> Result<(), String> {
        self.ok(&["up", "-d"])?;
        let all = compose::engine::state::list(&self.f.root, Some(&self.f.project))
            .map_err(|e| format!("state: {e}"))?;
        // One-off containers of a `run` killed before it could remove its own stay until
        // `down`, stopped, as Docker's do.
        let all: Vec<_> = all.into_iter().filter(|o| !o.record.one_off).collect();
        let mut services = Vec::new();
        for o in &all {
            if o.state.live_pid().is_none() || o.state.live_monitor().is_none() {
                return Err(format!(
                    "{} is not running under a monitor: {:?}",
                    o.record.name, o.state
                ));
            }
            services.push(o.record.service.clone());
        }
        services.sort();
        if services != ["db", "web"] {
            return Err(format!("containers after up: {services:?}"));
        }
        // Each address a container uses is allocated to it: a later container cannot be
        // handed the same one.
        let ns = self.f.netns.as_ref().expect("a stand-in host").as_fd();
        let nets = Networks::open_in(&self.f.root, ns).map_err(|e| format!("networks: {e}"))?;
        for o in &all {
            for ep in &o.record.endpoints {
                let info = nets
                    .get(&ep.network)
                    .map_err(|e| format!("network {}: {e}", ep.network))?
                    .ok_or_else(|| format!("network {} is gone", ep.network))?;
                let mut held = info
                    .addrs
                    .allocations
                    .get(&o.record.id)
                    .cloned()
                    .unwrap_or_default();
                let mut used: Vec<IpAddr> = ep.addresses.iter().map(|a| a.0).collect();
                held.sort();
                used.sort();
                if held != used {
                    return Err(format!(
                        "{} uses {used:?} on {} but holds {held:?}",
                        o.record.name, ep.network
                    ));
                }
            }
        }
        let monitors = self.f.monitors_left().len();
        if monitors != 2 {
            return Err(format!("{monitors} monitors for 2 containers"));
        }
        let addr: SocketAddr = "127.0.0.1:18080".parse().expect("address");
        let got = self.f.in_host(|| wait_for(5, || http_get(addr)));
        if got.as_deref() != Some("web") {
            return Err(format!("web's published port answered {got:?}"));
        }
        let ready = wait_for(5, || {
            let o = self.f.compose(&["exec", "-T", "web", "true"]);
            o.status.success().then_some(())
        });
        if ready.is_none() {
            return Err("exec in web fails".into());
        }
        Ok(())
    }

    /// `down -v` leaves nothing.
    fn down_clean(&self) -> Result<(), String> {
        let down = self.ok(&["down", "-v"]);
        let leaks = self.f.leaks();
        match (down, leaks.is_empty()) {
            (Ok(()), true) => Ok(()),
            (down, _) => Err(format!(
                "after down -v ({down:?}), left behind:\n{}",
                leaks.join("\n")
            )),
        }
    }

    /// One point of a stack scenario, from a clean state back to one.
    fn stack_point(&self, s: Scenario, point: &str) -> Result<(), String> {
        match s {
            Scenario::Up => self.faulted(point, &["up", "-d"])?,
            Scenario::Run => self.faulted(point, &["run", "--rm", "-T", "db", "true"])?,
            Scenario::Down => {
                self.converges()?;
                self.faulted(point, &["down", "-v"])?;
            }
            Scenario::Restart => {
                self.converges()?;
                self.faulted(point, &["restart"])?;
            }
            Scenario::Load => unreachable!("not a stack scenario"),
        }
        self.converges()?;
        self.down_clean()
    }
}

/// Runs every point of `s`, each from a clean state; fails with every point that did not
/// converge or leaked (not only the first).
fn run_stack_points(s: Scenario) {
    let mut c = Crash::new();
    let mut failed = Vec::new();
    for point in points_of(s) {
        let t = std::time::Instant::now();
        if let Err(e) = c.stack_point(s, point) {
            failed.push(format!("== {point}: {e}"));
            // Whatever it left goes, so the next point starts clean.
            let _ = c.f.compose(&["down", "-v"]);
            let _ = c.f.leaks();
        }
        eprintln!("{point}: {:?}", t.elapsed());
    }
    c.f.assert_clean();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn every_point_has_a_scenario() {
    let covered: usize = [
        Scenario::Up,
        Scenario::Down,
        Scenario::Run,
        Scenario::Restart,
        Scenario::Load,
    ]
    .into_iter()
    .map(|s| points_of(s).len())
    .sum();
    assert_eq!(covered, POINTS.len());
    for s in [
        Scenario::Up,
        Scenario::Down,
        Scenario::Run,
        Scenario::Restart,
    ] {
        assert!(!points_of(s).is_empty(), "{s:?} has no point");
    }
}

#[test]
#[ignore = "needs root"]
fn up_killed_at_any_point_converges_and_leaves_nothing_after_down() {
    require_engine!();
    require_points!();
    run_stack_points(Scenario::Up);
}

#[test]
#[ignore = "needs root"]
fn down_killed_at_any_point_converges_and_leaves_nothing_after_down() {
    require_engine!();
    require_points!();
    run_stack_points(Scenario::Down);
}

#[test]
#[ignore = "needs root"]
fn run_and_restart_killed_at_any_point_converge_and_leave_nothing_after_down() {
    require_engine!();
    require_points!();
    run_stack_points(Scenario::Run);
    run_stack_points(Scenario::Restart);
}

/// The image store's files (blobs, records, layers, staging) and its tags.
fn store_snapshot(root: &Path) -> (BTreeSet<String>, String) {
    let images = root.join("images");
    let mut files = BTreeSet::new();
    for top in std::fs::read_dir(&images).into_iter().flatten().flatten() {
        let name = top.file_name().to_string_lossy().into_owned();
        if !top.path().is_dir() {
            continue;
        }
        for e in walk_two(&top.path()) {
            files.insert(format!("{name}/{e}"));
        }
    }
    let tags = std::fs::read_to_string(images.join("tags.json")).unwrap_or_default();
    (files, tags)
}

/// Names one and two levels under `dir` (not inside unpacked layers).
fn walk_two(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_dir() && !dir.ends_with("layers") {
            for inner in std::fs::read_dir(e.path()).into_iter().flatten().flatten() {
                out.push(format!("{name}/{}", inner.file_name().to_string_lossy()));
            }
        }
        out.push(name);
    }
    out
}

#[test]
#[ignore = "needs root"]
fn image_load_killed_at_any_point_is_repaired_by_the_next_load_and_rm_leaves_nothing() {
    require_engine!();
    require_points!();
    let mut c = Crash::new();
    let other = TestImage {
        name: "faults/other:1".into(),
        two_layers: true,
        env: vec!["FAULTS=1".into()],
        ..TestImage::default()
    };
    let archive = other
        .write(c.f.dir.path(), ArchiveFormat::Oci)
        .expect("image archive");
    let archive = archive.to_str().expect("utf-8").to_string();
    let before = store_snapshot(&c.f.root);
    let mut failed = Vec::new();
    for point in points_of(Scenario::Load) {
        let steps = || -> Result<(), String> {
            c.faulted(point, &["image", "load", "-q", "-i", &archive])?;
            c.ok(&["image", "load", "-q", "-i", &archive])?;
            c.ok(&["image", "inspect", "faults/other:1"])?;
            c.ok(&["image", "rm", "faults/other:1"])?;
            let after = store_snapshot(&c.f.root);
            if after != before {
                return Err(format!("store before: {before:?}\nafter: {after:?}"));
            }
            Ok(())
        };
        if let Err(e) = steps() {
            failed.push(format!("== {point}: {e}"));
            let _ = c.f.compose(&["image", "rm", "-f", "faults/other:1"]);
        }
    }
    c.f.assert_clean();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
