//! End-to-end tests of one Dockerfile `RUN` step on the engine ([`compose::build::run`]): real
//! containers of the busybox test image (root; skipped with a reason otherwise). Each checks
//! what the step's upper dir holds afterwards, and the fixture's check that nothing is left
//! (no mount, cgroup, process or container state), plus the step's own directory gone.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use compose::build::run::{run_step, RunStep, RunStepError, StepMount, StepNetwork};
use compose::engine::image::ImageStore;
use support::engine::Fixture;

const YAML: &str = "services:\n  a:\n    image: busybox\n";

/// A fixture with the busybox image, its layers, and the engine's init set up.
fn fixture() -> (Fixture, Vec<PathBuf>) {
    compose::engine::runtime::process::set_init_executable(env!("CARGO_BIN_EXE_compose"));
    let f = Fixture::new(YAML);
    let store = ImageStore::open(f.root.join("images")).expect("image store");
    let image = store.resolve("busybox:latest").expect("busybox");
    (f, image.layer_dirs)
}

fn step<'a>(f: &'a Fixture, layers: &'a [PathBuf], script: &str) -> RunStep<'a> {
    RunStep {
        build: "web",
        layers,
        args: vec!["/bin/sh".into(), "-c".into(), script.into()],
        env: Vec::new(),
        cwd: "/".into(),
        user: None,
        network: StepNetwork::None,
        extra_hosts: &[],
        mounts: Vec::new(),
        shm_size: None,
        privileged: false,
        ulimits: &[],
        cgroup_parent: &f.cgroup_parent,
    }
}

/// Runs `step` in the fixture's stand-in host with a fresh upper dir; (result, output, upper).
fn run(f: &Fixture, step: &RunStep) -> (Result<i32, RunStepError>, String, PathBuf) {
    let upper = f.root.join(format!("upper-{}", rand_suffix()));
    std::fs::create_dir_all(&upper).expect("upper");
    let mut out = Vec::new();
    let result = f.in_host(|| run_step(&f.root, step, &upper, &mut |b| out.extend_from_slice(b)));
    let runs = f.root.join("build/runs");
    let left: Vec<_> = std::fs::read_dir(&runs)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "step directories left: {left:?}");
    (result, String::from_utf8_lossy(&out).into_owned(), upper)
}

fn rand_suffix() -> String {
    compose::engine::state::new_id().expect("id")[..12].to_string()
}

/// Every path in `upper`, relative, sorted.
fn listing(upper: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(upper, upper, &mut out);
    out.sort();
    out
}

#[test]
#[ignore = "needs root"]
fn a_failing_run_returns_its_code_with_its_output_and_its_changes() {
    require_engine!();
    let (mut f, layers) = fixture();
    let s = step(
        &f,
        &layers,
        "echo out; echo err >&2; echo new > /new; rm /etc/group; mkdir -p /made/deep; exit 3",
    );
    let (result, out, upper) = run(&f, &s);
    assert_eq!(result.expect("ran"), 3);
    assert_eq!(out, "out\nerr\n");
    assert_eq!(std::fs::read_to_string(upper.join("new")).unwrap(), "new\n");
    let wh = std::fs::symlink_metadata(upper.join("etc/group")).expect("whiteout");
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0, "{wh:?}");
    // Only the command's changes: no /etc/hosts or /etc/resolv.conf, no mount point.
    assert_eq!(
        listing(&upper),
        ["etc", "etc/group", "made", "made/deep", "new"]
    );
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn env_workdir_user_hostname_and_hosts_are_the_steps() {
    require_engine!();
    let (mut f, layers) = fixture();
    let hosts = [("db.example".to_string(), "10.1.2.3".to_string())];
    let mut s = step(
        &f,
        &layers,
        "id -u; id -g; pwd; echo $FOO; hostname; grep db.example /etc/hosts; touch /tmp/mine",
    );
    s.env = vec!["FOO=bar".into()];
    s.cwd = "/work/dir".into();
    s.user = Some("app".into());
    s.extra_hosts = &hosts;
    let (result, out, upper) = run(&f, &s);
    assert_eq!(result.expect("ran"), 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..5],
        ["1000", "1000", "/work/dir", "bar", "buildkitsandbox"]
    );
    assert!(lines[5].starts_with("10.1.2.3") && lines[5].contains("db.example"));
    // The working directory is made as Docker makes it, and kept.
    assert_eq!(listing(&upper), ["tmp", "tmp/mine", "work", "work/dir"]);

    s.user = Some("nosuchuser".into());
    let (result, _, _) = run(&f, &s);
    let e = result.expect_err("no such user");
    assert!(e.to_string().starts_with("web: RUN: user"), "{e}");
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn a_set_up_failure_is_an_error_naming_the_build_and_leaves_nothing() {
    require_engine!();
    let (mut f, layers) = fixture();
    let mut s = step(&f, &layers, "true");
    s.args = vec!["/no/such/command".into()];
    let (result, _, upper) = run(&f, &s);
    let e = result.expect_err("no command");
    assert!(e.to_string().starts_with("web: RUN:"), "{e}");
    assert_eq!(listing(&upper), Vec::<String>::new());
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn every_mount_kind_works_and_leaves_no_trace_in_the_layer() {
    require_engine!();
    let (mut f, layers) = fixture();
    let t = f.dir.path().to_path_buf();
    let ctx = t.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("in"), "context\n").unwrap();
    let secret = t.join("secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let cache = t.join("cache");
    let mut s = step(
        &f,
        &layers,
        "cat /ctx/in; cat /rw/in; echo w > /rw/in; cat /from/passwd | head -1; \
         cat /run/secrets/id; stat -c '%a %u' /run/secrets/id; echo c > /cache/c; \
         echo t > /scratch/t; grep -q '/scratch tmpfs' /proc/mounts && echo tmpfs; \
         echo x > /ctx/in || echo read-only",
    );
    s.mounts = vec![
        StepMount::Bind {
            source: ctx.clone(),
            target: "/ctx".into(),
            read_write: false,
        },
        StepMount::Bind {
            source: ctx.clone(),
            target: "/rw".into(),
            read_write: true,
        },
        StepMount::Layers {
            layers: layers.clone(),
            source: "/etc".into(),
            target: "/from".into(),
            read_write: false,
        },
        StepMount::Cache {
            dir: cache.clone(),
            target: "/cache".into(),
        },
        StepMount::Secret {
            file: secret,
            target: "/run/secrets/id".into(),
            mode: 0o400,
            uid: 1000,
            gid: 1000,
        },
        StepMount::Tmpfs {
            target: "/scratch".into(),
            size: Some(1 << 20),
        },
    ];
    let (result, out, upper) = run(&f, &s);
    assert_eq!(result.expect("ran"), 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..3],
        ["context", "context", "root:x:0:0:root:/root:/bin/sh"]
    );
    assert_eq!(lines[3..6], ["s3cret", "400 1000", "tmpfs"]);
    assert!(
        lines[6].contains("Read-only") || lines[6] == "read-only",
        "{out}"
    );
    // The writable bind's writes are thrown away; the cache's are kept.
    assert_eq!(
        std::fs::read_to_string(ctx.join("in")).unwrap(),
        "context\n"
    );
    assert_eq!(std::fs::read_to_string(cache.join("c")).unwrap(), "c\n");
    // No mount point, no secret, no copied-up parent in the layer.
    assert_eq!(listing(&upper), Vec::<String>::new());
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn a_scratch_stage_runs_on_an_empty_lower_and_keeps_only_what_the_command_wrote() {
    require_engine!();
    let (mut f, _) = fixture();
    let mut s = step(&f, &[], "");
    s.args = vec![
        "/bin/busybox".into(),
        "sh".into(),
        "-c".into(),
        "/bin/busybox echo hi > /out; /bin/busybox cat /proc/net/dev".into(),
    ];
    s.mounts = vec![StepMount::Bind {
        source: PathBuf::from("/bin/busybox"),
        target: "/bin/busybox".into(),
        read_write: false,
    }];
    let (result, out, upper) = run(&f, &s);
    assert_eq!(result.expect("ran"), 0, "{out}");
    // `network: none`: loopback only.
    let links: Vec<&str> = out
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(links, ["lo"], "{out}");
    assert_eq!(listing(&upper), ["out"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn the_host_network_is_the_callers() {
    require_engine!();
    let (mut f, layers) = fixture();
    let listener = f.in_host(|| std::net::TcpListener::bind("127.0.0.1:0").expect("listen"));
    let port = listener.local_addr().unwrap().port();
    let script = format!("echo hello | nc 127.0.0.1 {port} && echo sent");
    let mut s = step(&f, &layers, &script);
    s.network = StepNetwork::Host;
    let accept = std::thread::spawn(move || {
        use std::io::BufRead;
        let (c, _) = listener.accept().expect("accept");
        let mut got = String::new();
        std::io::BufReader::new(c)
            .read_line(&mut got)
            .expect("read");
        got
    });
    let (result, out, _) = run(&f, &s);
    assert_eq!(result.expect("ran"), 0, "{out}");
    assert_eq!(accept.join().unwrap(), "hello\n");

    // Its own namespace: nothing listens there.
    s.network = StepNetwork::None;
    let (result, out, _) = run(&f, &s);
    assert_ne!(result.expect("ran"), 0, "{out}");
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn a_step_joins_an_engine_network_and_gives_its_address_back() {
    require_engine!();
    use compose::engine::network::manager::{NetworkDef, Networks};
    use support::engine::wait_for;
    let (mut f, layers) = fixture();
    let name = format!("{}_default", f.project);
    let (gateway, listener) = f.in_host(|| {
        let nets = Networks::open(&f.root).expect("networks");
        let info = nets.ensure(&NetworkDef::bridge(&name)).expect("network");
        let listener = std::net::TcpListener::bind("0.0.0.0:0").expect("listen");
        (info.addrs.subnets[0].gateway, listener)
    });
    let links_before = f.host_links();
    let port = listener.local_addr().unwrap().port();
    let script = format!(
        "grep nameserver /etc/resolv.conf; ip -o -4 addr show eth0 | wc -l; \
         echo hello | nc {gateway} {port} && echo sent"
    );
    let mut s = step(&f, &layers, &script);
    s.network = StepNetwork::Bridge(name.clone());
    let accept = std::thread::spawn(move || {
        use std::io::BufRead;
        let (c, _) = listener.accept().expect("accept");
        let mut got = String::new();
        std::io::BufReader::new(c)
            .read_line(&mut got)
            .expect("read");
        got
    });
    let (result, out, upper) = run(&f, &s);
    assert_eq!(result.expect("ran"), 0, "{out}");
    assert_eq!(accept.join().unwrap(), "hello\n");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["nameserver 127.0.0.11", "1"], "{out}");
    assert_eq!(listing(&upper), Vec::<String>::new());

    // Its address is free again, its veth gone with its namespace.
    let allocations = f.in_host(|| {
        let nets = Networks::open(&f.root).expect("networks");
        nets.get(&name)
            .expect("get")
            .expect("exists")
            .addrs
            .allocations
    });
    assert!(allocations.is_empty(), "{allocations:?}");
    let gone = wait_for(5, || (f.host_links() == links_before).then_some(()));
    assert!(gone.is_some(), "{:?} != {links_before:?}", f.host_links());

    // A network that does not exist is a set-up error naming the build and the network.
    s.network = StepNetwork::Bridge("nosuch_default".into());
    let (result, _, _) = run(&f, &s);
    let e = result.expect_err("no network");
    assert!(e.to_string().contains("nosuch_default"), "{e}");

    f.in_host(|| {
        let nets = Networks::open(&f.root).expect("networks");
        nets.remove(&name).expect("remove network");
    });
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn a_caller_that_panics_on_output_ends_the_step_and_leaves_nothing() {
    require_engine!();
    let (mut f, layers) = fixture();
    let s = step(&f, &layers, "echo first; sleep 30; touch /late");
    let upper = f.root.join("upper-panic");
    std::fs::create_dir_all(&upper).expect("upper");
    let started = std::time::Instant::now();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        f.in_host(|| {
            run_step(&f.root, &s, &upper, &mut |_| panic!("the caller fails")).expect("not reached")
        })
    }));
    assert!(caught.is_err(), "the panic goes on");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(listing(&upper), Vec::<String>::new());
    assert!(std::fs::read_dir(f.root.join("build/runs"))
        .unwrap()
        .next()
        .is_none());
    f.assert_clean();
}
