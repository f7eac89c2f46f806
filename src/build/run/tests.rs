//! Unit tests of the step's parts that need no root: the traces, the step directory's
//! bookkeeping (with a recording fake of the host mounts), the spec and the output pump.
//! `tests/build_run.rs` runs real steps.

use std::cell::RefCell;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::mounts;
use super::spec::{self, HostFacts};
use super::traces::{Lowers, Origin};
use super::workdir::{HostMounts, StepDir};
use super::{RunStep, StepMount, StepNetwork};
use crate::engine::runtime::process::Child;
use crate::engine::spec::{MountKind, NetworkMode, UserSpec};

fn step<'a>(layers: &'a [PathBuf]) -> RunStep<'a> {
    RunStep {
        build: "web",
        layers,
        args: vec!["/bin/sh".into(), "-c".into(), "true".into()],
        env: vec!["FOO=bar".into()],
        cwd: "/".into(),
        user: None,
        network: StepNetwork::None,
        extra_hosts: &[],
        mounts: Vec::new(),
        shm_size: None,
        privileged: false,
        ulimits: &[],
        cgroup_parent: "compose",
    }
}

fn mkdir(p: &Path) {
    std::fs::create_dir_all(p).unwrap();
}

fn paths(made: &super::traces::Made) -> Vec<(&str, bool)> {
    made.paths
        .iter()
        .map(|(p, o)| (p.as_str(), *o == Origin::Made))
        .collect()
}

#[test]
fn the_runtime_makes_what_the_layers_lack_and_copies_up_their_parents() {
    let t = tempfile::tempdir().unwrap();
    let (top, bottom) = (t.path().join("top"), t.path().join("bottom"));
    mkdir(&bottom.join("run"));
    mkdir(&bottom.join("etc"));
    std::fs::write(bottom.join("etc/hosts"), "").unwrap();
    mkdir(&top.join("var"));
    // `/var/run` is a link to `/run` (absolute: resolved inside the rootfs).
    std::os::unix::fs::symlink("/run", top.join("var/run")).unwrap();
    let layers = [top, bottom];
    let lowers = Lowers::new(&layers);
    let made = lowers.made_for(&[
        "/var/run/secrets/id".into(),
        "/etc/hosts".into(),
        "/proc".into(),
    ]);
    assert_eq!(
        paths(&made),
        [
            ("run", false),
            ("run/secrets", true),
            ("run/secrets/id", true),
            ("proc", true)
        ]
    );
}

#[test]
fn whiteouts_and_opaque_directories_hide_what_lies_below() {
    let t = tempfile::tempdir().unwrap();
    let (top, bottom) = (t.path().join("top"), t.path().join("bottom"));
    mkdir(&bottom.join("gone/sub"));
    mkdir(&bottom.join("opq/sub"));
    mkdir(&top.join("opq"));
    std::fs::write(top.join(".wh.gone"), "").unwrap();
    std::fs::write(top.join("opq/.wh..wh..opq"), "").unwrap();
    let layers = [top, bottom];
    let made = Lowers::new(&layers).made_for(&["/gone/sub".into(), "/opq/sub".into()]);
    assert_eq!(
        paths(&made),
        [
            ("gone", true),
            ("gone/sub", true),
            ("opq", false),
            ("opq/sub", true)
        ]
    );
}

#[test]
fn only_what_is_still_the_runtimes_is_removed_from_the_upper_dir() {
    let t = tempfile::tempdir().unwrap();
    let lower = t.path().join("lower");
    mkdir(&lower.join("run"));
    mkdir(&lower.join("tmp"));
    let layers = [lower.clone()];
    let made = Lowers::new(&layers).made_for(&[
        "/run/secrets/id".into(),
        "/tmp/cache/x".into(),
        "/mnt".into(),
    ]);
    let upper = t.path().join("upper");
    // What the runtime made, untouched.
    mkdir(&upper.join("run/secrets"));
    std::fs::write(upper.join("run/secrets/id"), "").unwrap();
    // A parent the command wrote into, and a copied-up directory whose mode it changed.
    mkdir(&upper.join("tmp/cache/x"));
    std::fs::write(upper.join("tmp/cache/kept"), "mine").unwrap();
    mkdir(&upper.join("mnt"));
    let mode = std::fs::metadata(lower.join("run")).unwrap().mode();
    std::fs::set_permissions(upper.join("run"), PermissionsExt::from_mode(mode)).unwrap();
    assert!(made.remove_from(&upper).is_empty());
    assert!(!upper.join("run").exists(), "the copy-up of /run stays");
    assert!(!upper.join("mnt").exists());
    assert!(!upper.join("tmp/cache/x").exists());
    assert!(upper.join("tmp/cache/kept").exists());

    // A copied-up directory whose mode the command changed is the command's change.
    mkdir(&upper.join("run"));
    std::fs::set_permissions(upper.join("run"), PermissionsExt::from_mode(0o700)).unwrap();
    assert!(made.remove_from(&upper).is_empty());
    assert!(upper.join("run").exists());
}

/// The attack: the step turns a parent of a mount point into a link to a host directory that
/// holds an empty file and an empty directory of the same names. Removing the traces must not
/// follow it.
#[test]
fn removing_traces_never_follows_a_link_the_step_made() {
    let t = tempfile::tempdir().unwrap();
    let lower = t.path().join("lower");
    mkdir(&lower);
    let layers = [lower.clone()];
    let made = Lowers::new(&layers).made_for(&["/run/secrets/id".into(), "/mnt/d/x".into()]);
    let host = t.path().join("host");
    mkdir(&host.join("secrets"));
    std::fs::write(host.join("secrets/id"), "").unwrap();
    mkdir(&host.join("d/x"));
    let upper = t.path().join("upper");
    mkdir(&upper);
    std::os::unix::fs::symlink(&host, upper.join("run")).unwrap();
    std::os::unix::fs::symlink(&host, upper.join("mnt")).unwrap();
    made.remove_from(&upper);
    assert!(host.join("secrets/id").exists(), "a host file was removed");
    assert!(host.join("d/x").exists(), "a host directory was removed");
    assert!(
        upper.join("run").symlink_metadata().is_ok(),
        "the step's own link stays"
    );
}

/// Records the host mounts; fails the unmounts of `failing`.
#[derive(Clone, Default)]
struct Recording {
    calls: Rc<RefCell<Vec<String>>>,
    failing: Option<PathBuf>,
}

impl HostMounts for Recording {
    fn overlay(&self, lowers: &[PathBuf], _: &Path, _: &Path, target: &Path) -> io::Result<()> {
        self.calls
            .borrow_mut()
            .push(format!("overlay {} at {}", lowers.len(), target.display()));
        // What a layer could hold: a link out of it.
        std::os::unix::fs::symlink("/etc", target.join("escape")).unwrap();
        std::fs::write(target.join("file"), "content").unwrap();
        Ok(())
    }
    fn unmount(&self, target: &Path) -> io::Result<()> {
        self.calls
            .borrow_mut()
            .push(format!("unmount {}", target.display()));
        match &self.failing {
            Some(f) if f == target => Err(io::Error::other("busy")),
            _ => Ok(()),
        }
    }
}

#[test]
fn a_step_dir_unmounts_in_reverse_and_removes_itself_but_not_the_upper_dir() {
    let t = tempfile::tempdir().unwrap();
    let (dir, upper) = (t.path().join("run/abc"), t.path().join("upper"));
    mkdir(&upper);
    let rec = Recording::default();
    let mut d = StepDir::create(rec.clone(), &dir, &upper, true).unwrap();
    assert!(d.empty_lower().is_dir());
    assert_eq!(std::fs::read_link(dir.join("upper")).unwrap(), upper);
    let a = d.overlay(&[]).unwrap();
    let b = d
        .overlay(&[PathBuf::from("/l1"), PathBuf::from("/l2")])
        .unwrap();
    assert!(d.remove().is_empty());
    assert_eq!(
        *rec.calls.borrow(),
        [
            format!("overlay 1 at {}", a.display()),
            format!("overlay 2 at {}", b.display()),
            format!("unmount {}", b.display()),
            format!("unmount {}", a.display()),
        ]
    );
    assert!(!dir.exists());
    assert!(upper.is_dir());
}

#[test]
fn a_mount_that_stays_keeps_the_dir_and_is_reported_and_drop_cleans_up_too() {
    let t = tempfile::tempdir().unwrap();
    let (dir, upper) = (t.path().join("abc"), t.path().join("upper"));
    let mut rec = Recording::default();
    let mut d = StepDir::create(rec.clone(), &dir, &upper, false).unwrap();
    let a = d.overlay(&[]).unwrap();
    drop(d);
    assert_eq!(
        rec.calls.borrow().last(),
        Some(&format!("unmount {}", a.display()))
    );
    assert!(!dir.exists());

    rec.failing = Some(dir.join("mounts/1/merged"));
    let mut d = StepDir::create(rec.clone(), &dir, &upper, false).unwrap();
    d.overlay(&[]).unwrap();
    let problems = d.remove();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("busy"));
    assert!(dir.exists(), "nothing removed beneath a mount that stays");
}

#[test]
fn mounts_become_binds_copies_overlays_and_tmpfs() {
    let t = tempfile::tempdir().unwrap();
    let (dir, upper) = (t.path().join("abc"), t.path().join("upper"));
    let secret = t.path().join("secret");
    std::fs::write(&secret, "s3cret").unwrap();
    let ctx = t.path().join("ctx");
    mkdir(&ctx);
    let rec = Recording::default();
    let mut d = StepDir::create(rec.clone(), &dir, &upper, false).unwrap();
    let layers = [];
    let mut s = step(&layers);
    let (uid, gid) = (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
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
            layers: vec![PathBuf::from("/l")],
            source: "/file".into(),
            target: "/from".into(),
            read_write: false,
        },
        StepMount::Secret {
            file: secret,
            target: "/run/secrets/id".into(),
            mode: 0o400,
            uid,
            gid,
        },
        StepMount::Tmpfs {
            target: "/scratch".into(),
            size: Some(1 << 20),
        },
    ];
    let fail = super::error::Fail::new("web");
    let m = mounts::prepare(&s, &mut d, &fail).unwrap();
    let source = |i: usize| match &m[i].kind {
        MountKind::Bind { source, .. } => source.clone(),
        k => panic!("{k:?}"),
    };
    assert_eq!((source(0), m[0].read_only), (ctx, true));
    assert_eq!(source(1), dir.join("mounts/1/merged"));
    assert!(!m[1].read_only);
    assert_eq!(source(2), dir.join("mounts/2/merged/file"));
    assert!(m[2].read_only);
    let copy = source(3);
    assert!(copy.starts_with(&dir) && m[3].read_only);
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), "s3cret");
    assert_eq!(std::fs::metadata(&copy).unwrap().mode() & 0o7777, 0o400);
    assert!(matches!(
        m[4].kind,
        MountKind::Tmpfs {
            size: Some(1048576),
            ..
        }
    ));
    assert_eq!(rec.calls.borrow().len(), 2);
    assert_eq!(
        mounts::targets(&s),
        [
            "/proc",
            "/sys",
            "/dev",
            "/ctx",
            "/rw",
            "/from",
            "/run/secrets/id",
            "/scratch"
        ]
        .into_iter()
        .chain(["/etc/hosts", "/etc/resolv.conf"])
        .collect::<Vec<_>>()
    );

    // A source is looked up inside the layers: a link in them does not lead out.
    s.mounts = vec![StepMount::Layers {
        layers: Vec::new(),
        source: "/escape/passwd".into(),
        target: "/from".into(),
        read_write: false,
    }];
    let e = mounts::prepare(&s, &mut d, &fail).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("web: RUN: opening /escape/passwd"),
        "{e}"
    );
    assert!(d.remove().is_empty());
}

fn host() -> HostFacts {
    HostFacts {
        last_cap: 40,
        kernel: (6, 1),
        resolv_conf: "nameserver 127.0.0.53\nsearch lan\n".into(),
        devices: Vec::new(),
    }
}

#[test]
fn a_step_runs_as_buildkit_runs_one_with_dockers_default_security() {
    let layers = [PathBuf::from("/l")];
    let s = step(&layers);
    let user = UserSpec {
        uid: 1000,
        gid: 1000,
        additional_gids: Vec::new(),
        home: Some("/home/app".into()),
    };
    let spec = spec::container_spec(
        &s,
        "0123456789abcdef",
        layers.to_vec(),
        user,
        Vec::new(),
        &host(),
    )
    .unwrap();
    assert_eq!(spec.hostname, "buildkitsandbox");
    assert_eq!(spec.network, NetworkMode::Loopback);
    assert_eq!(spec.process.env[0], spec::DEFAULT_PATH);
    assert_eq!(spec.process.env[1..], ["FOO=bar", "HOME=/home/app"]);
    assert!(spec
        .process
        .capabilities
        .bounding
        .contains(&"CHOWN".to_string()));
    assert!(!spec
        .process
        .capabilities
        .bounding
        .contains(&"SYS_ADMIN".to_string()));
    assert!(spec.seccomp.is_some());
    assert!(spec.masked_paths.contains(&"/proc/kcore".to_string()));
    assert!(!spec.process.stdin_open && !spec.process.terminal);
    assert_eq!(spec.shm_size, 64 << 20);
    // Not on the host's network: its loopback resolvers are of no use.
    assert_eq!(
        spec::resolv_conf(&spec, &StepNetwork::None, &host().resolv_conf),
        "nameserver 8.8.8.8\nnameserver 8.8.4.4\nsearch lan\n"
    );
    assert_eq!(
        spec::resolv_conf(&spec, &StepNetwork::Host, &host().resolv_conf),
        host().resolv_conf
    );
    // On an engine network: the embedded resolver, in its own namespace.
    let bridge = StepNetwork::Bridge("p_default".into());
    let conf = spec::resolv_conf(&spec, &bridge, &host().resolv_conf);
    assert!(conf.starts_with("nameserver 127.0.0.11\n"), "{conf}");
    let mut s = step(&layers);
    s.network = bridge;
    let spec = spec::container_spec(
        &s,
        "id",
        layers.to_vec(),
        UserSpec::default(),
        Vec::new(),
        &host(),
    )
    .unwrap();
    assert_eq!(spec.network, NetworkMode::Loopback);

    let mut s = step(&layers);
    s.privileged = true;
    s.network = StepNetwork::Host;
    s.env = vec!["PATH=/bin".into(), "HOME=/x".into()];
    let spec = spec::container_spec(
        &s,
        "id",
        layers.to_vec(),
        UserSpec::default(),
        Vec::new(),
        &host(),
    )
    .unwrap();
    assert!(spec
        .process
        .capabilities
        .bounding
        .contains(&"SYS_ADMIN".to_string()));
    assert!(spec.seccomp.is_none() && spec.masked_paths.is_empty());
    assert_eq!(spec.resources.device_rules, ["a *:* rwm"]);
    assert_eq!(spec.network, NetworkMode::Host);
    assert_eq!(spec.process.env, ["PATH=/bin", "HOME=/x"]);

    s.cwd = "relative".into();
    let e = spec::container_spec(
        &s,
        "id",
        Vec::new(),
        UserSpec::default(),
        Vec::new(),
        &host(),
    );
    assert!(e.unwrap_err().contains("not an absolute path"));
}

#[test]
fn the_record_of_a_step_belongs_to_no_project() {
    let layers = [PathBuf::from("/l")];
    let spec = spec::container_spec(
        &step(&layers),
        "abc",
        layers.to_vec(),
        UserSpec::default(),
        Vec::new(),
        &host(),
    )
    .unwrap();
    let layout = crate::engine::cgroups::Layout::unified_at(Path::new("/sys/fs/cgroup"));
    let rec = spec::record(
        spec,
        "compose-test",
        Path::new("/nonexistent-root"),
        &layout,
    );
    assert_eq!(rec.project, "");
    assert_eq!(rec.cgroup_parent, "compose-test");
    assert!(rec.cgroup_project.starts_with("build-"));
    assert!(rec.endpoints.is_empty() && rec.auto_remove);
}

/// A child of this test (not a container) whose output goes to a pipe.
fn child_writing(script: &str) -> (Child, std::os::fd::OwnedFd, std::process::Child) {
    use std::os::fd::{AsFd, OwnedFd};
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let w2: OwnedFd = w.as_fd().try_clone_to_owned().unwrap();
    let c = std::process::Command::new("/bin/sh")
        .args(["-c", script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(w))
        .stderr(std::process::Stdio::from(w2))
        .spawn()
        .unwrap();
    let pid = rustix::process::Pid::from_raw(c.id() as i32).unwrap();
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).unwrap();
    (Child { pid, pidfd }, r, c)
}

#[test]
fn output_is_delivered_as_it_comes_stdout_and_stderr_merged() {
    let (child, pipe, mut c) = child_writing("echo out; echo err >&2; echo again");
    let mut got = Vec::new();
    let mut chunks = 0;
    super::output::deliver(&pipe, &child, None, &mut |b: &[u8]| {
        chunks += 1;
        got.extend_from_slice(b);
        true
    })
    .unwrap();
    c.wait().unwrap();
    assert_eq!(String::from_utf8_lossy(&got), "out\nerr\nagain\n");
    assert!(chunks >= 1);
}

#[test]
fn a_process_left_in_the_background_does_not_hold_the_step() {
    let started = std::time::Instant::now();
    let (child, pipe, mut c) = child_writing("sleep 5 & echo $!; echo done");
    let mut got = Vec::new();
    super::output::deliver(&pipe, &child, None, &mut |b: &[u8]| {
        got.extend_from_slice(b);
        true
    })
    .unwrap();
    c.wait().unwrap();
    let text = String::from_utf8_lossy(&got).into_owned();
    assert!(text.ends_with("done\n"), "{text:?}");
    if let Some(pid) = text.lines().next().and_then(|p| p.parse::<i32>().ok()) {
        // SAFETY: signalling the test's own grandchild.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
}

#[test]
fn a_caller_that_takes_no_more_output_ends_the_delivery() {
    let (child, pipe, mut c) = child_writing("echo one; sleep 5; echo two");
    let started = std::time::Instant::now();
    let mut calls = 0;
    let e = super::output::deliver(&pipe, &child, None, &mut |_: &[u8]| {
        calls += 1;
        false
    })
    .unwrap_err();
    assert!(e.to_string().contains("stopped taking"), "{e}");
    assert_eq!(calls, 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    c.kill().unwrap();
    c.wait().unwrap();
}
