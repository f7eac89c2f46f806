//! `compose` run by a user who is not root (issue 17, "Not root"): every command that needs root
//! says so in one line on stderr, prints nothing on stdout and exits 1, before it touches the
//! state root; the commands that need no root (config, version, kube, help, logout) still work.
//!
//! As root the binary is run as `nobody` (65534) through util-linux's `setpriv`; without root it
//! is run as is, since the test's user is then already unprivileged.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const NOBODY: u32 = 65534;

/// A project directory the unprivileged user can read, and the way to run the binary as them.
struct Unprivileged {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    /// `setpriv` and its arguments when we are root; empty when already unprivileged.
    wrapper: Vec<String>,
}

impl Unprivileged {
    /// `None` (after saying why) when this machine cannot run the binary unprivileged.
    fn new() -> Option<Self> {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("app");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::write(
            dir.join("compose.yaml"),
            "services:\n  web:\n    image: busybox\n    command: [sleep, '60']\n",
        )
        .expect("write compose.yaml");
        let root = rustix::process::geteuid().is_root();
        let mut wrapper = Vec::new();
        if root {
            if Command::new("setpriv").arg("--version").output().is_err() {
                eprintln!("skipping: running as root and util-linux's setpriv is missing");
                return None;
            }
            wrapper = [
                "setpriv",
                &format!("--reuid={NOBODY}"),
                &format!("--regid={NOBODY}"),
                "--clear-groups",
            ]
            .map(String::from)
            .to_vec();
            for p in [tmp.path(), dir.as_path()] {
                std::os::unix::fs::chown(p, Some(NOBODY), Some(NOBODY)).expect("chown");
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
            }
            std::os::unix::fs::chown(dir.join("compose.yaml"), Some(NOBODY), Some(NOBODY))
                .expect("chown");
        }
        let me = Unprivileged {
            _tmp: tmp,
            dir,
            wrapper,
        };
        let reach = me.command(&[]).arg("--version").output().expect("run");
        if !reach.status.success() {
            eprintln!(
                "skipping: the unprivileged user cannot run {} (a directory above it is closed \
                 to them)",
                env!("CARGO_BIN_EXE_compose")
            );
            return None;
        }
        Some(me)
    }

    /// The binary with `args`, as the unprivileged user, in the project directory, with only
    /// `HOME` (the project directory) and `PATH` set: `COMPOSE_ROOT` is unset, so the state root
    /// is the default `/var/lib/compose`.
    fn command(&self, args: &[&str]) -> Command {
        let bin = env!("CARGO_BIN_EXE_compose");
        let mut cmd = match self.wrapper.split_first() {
            Some((prog, rest)) => {
                let mut c = Command::new(prog);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.args(args)
            .current_dir(&self.dir)
            .env_clear()
            .env("HOME", &self.dir)
            .stdin(Stdio::null());
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.command(args).output().expect("run compose");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

#[test]
fn commands_that_need_root_say_so_in_one_line_and_touch_nothing() {
    let Some(u) = Unprivileged::new() else {
        return;
    };
    let default_root = Path::new("/var/lib/compose");
    let existed = default_root.exists();
    for args in [
        &["ps"][..],
        &["ps", "-a"],
        &["ls"],
        &["up", "-d"],
        &["up", "--dry-run"],
        &["down"],
        &["run", "--rm", "web", "true"],
        &["exec", "web", "true"],
        &["logs"],
        &["images"],
        &["image", "ls"],
        &["pull"],
        &["info"],
        &["network", "ls"],
        &["--root", "/", "image", "ls"],
    ] {
        let (code, stdout, stderr) = u.run(args);
        assert_eq!(code, 1, "{args:?}: stdout {stdout:?} stderr {stderr:?}");
        // `ps` in particular must not print an (empty) table that hides root's containers.
        assert_eq!(stdout, "", "{args:?}: nothing on stdout");
        assert!(
            stderr.ends_with('\n') && stderr.lines().count() == 1,
            "{args:?}: stderr is not one line: {stderr:?}"
        );
        assert!(
            stderr.starts_with("compose needs root") && stderr.contains("sudo"),
            "{args:?}: {stderr:?}"
        );
        assert!(
            !stderr.contains("os error"),
            "{args:?}: raw OS error: {stderr:?}"
        );
    }
    assert_eq!(
        default_root.exists(),
        existed,
        "a refused command created or removed {}",
        default_root.display()
    );
}

#[test]
fn commands_that_need_no_root_still_work() {
    let Some(u) = Unprivileged::new() else {
        return;
    };
    for (args, expect) in [
        (&["config", "--services"][..], "web\n"),
        (
            &["version", "--short"],
            concat!(env!("CARGO_PKG_VERSION"), "\n"),
        ),
    ] {
        let (code, stdout, stderr) = u.run(args);
        assert_eq!((code, stdout.as_str()), (0, expect), "{args:?}: {stderr}");
    }
    for args in [
        &["--help"][..],
        &["ps", "--help"],
        &["kube", "generate"],
        &["logout"],
    ] {
        let (code, stdout, stderr) = u.run(args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(!stdout.is_empty(), "{args:?}: no output");
    }
}

#[test]
fn image_commands_work_on_a_state_root_of_ones_own() {
    let Some(u) = Unprivileged::new() else {
        return;
    };
    // A root that does not exist yet, in a directory the user owns: theirs to make.
    let (code, stdout, stderr) = u.run(&["--root", "state", "image", "ls", "-q"]);
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");
    assert!(u.dir.join("state").is_dir(), "the state root was not made");
    // Containers still need root, whoever owns the state root.
    let (code, stdout, stderr) = u.run(&["--root", "state", "up", "-d"]);
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert!(stderr.starts_with("compose needs root"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
