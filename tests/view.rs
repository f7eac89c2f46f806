//! End-to-end tests of the terminal view (root; skipped with a reason otherwise): a monitor's
//! process title, and attached `up`'s output on a terminal (Docker Compose's live `[+] Running`
//! view, colored prefixes) and through pipes (plain lines, no escape sequence at all).

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use std::io::Read;
use std::os::fd::OwnedFd;
use std::process::Stdio;

use compose::engine::state;
use support::engine::{ok, text, Fixture};

/// One service that prints a line and exits: an attached `up` ends by itself.
const ONE_SHOT: &str = "services:\n  hello:\n    image: busybox\n    \
                        command: [sh, -c, 'echo hello-from-the-container']\n";

/// Docker Compose's `docker compose up -d` leaves one shim per container; ours is a monitor
/// whose `ps -eo args` reads `compose-monitor <container name>`.
#[test]
#[ignore = "needs root"]
fn a_monitor_shows_its_container_name_as_its_process_title() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  web:\n    image: busybox\n    command: [sleep, '1000']\n    \
         stop_signal: KILL\n",
    );
    ok(&f, &["up", "-d"]);
    let o = state::list(&f.root, Some(&f.project))
        .expect("list containers")
        .into_iter()
        .find(|o| o.record.service == "web")
        .expect("the web container");
    let pid = o.state.monitor_pid.expect("a monitor pid");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("cmdline");
    assert_eq!(
        String::from_utf8_lossy(&cmdline),
        format!("compose-monitor\0{}\0", o.record.name)
    );
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).expect("comm");
    assert_eq!(comm.trim_end(), "compose-monitor");
    // The fixture finds it as this root's monitor (and `down` ends it).
    assert_eq!(f.monitors_left(), vec![pid]);
    // What it serves is not handed to the container.
    let init = o.state.pid.expect("the container's pid");
    let env = std::fs::read(format!("/proc/{init}/environ")).unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&env).contains("COMPOSE_MONITOR_"),
        "the container inherited the monitor's variables"
    );
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// A pseudo-terminal 100 columns wide: (master, slave).
fn pty() -> (OwnedFd, OwnedFd) {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master =
        openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).expect("open a pty");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname(&master, Vec::new()).expect("ptsname");
    let slave: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_string_lossy().as_ref())
        .expect("open the pty's slave")
        .into();
    let ws = rustix::termios::Winsize {
        ws_row: 40,
        ws_col: 100,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(&slave, ws).expect("set the window size");
    (master, slave)
}

/// Docker Compose on a terminal: attached `up` draws the live `[+] Running 2/2` view (one line
/// per resource, the containers `Created`), then `Attaching to`, then the colored logs.
#[test]
#[ignore = "needs root"]
fn attached_up_on_a_terminal_shows_the_live_view_then_colored_logs() {
    require_engine!();
    let mut f = Fixture::new(ONE_SHOT);
    let (master, slave) = pty();
    let mut cmd = f.command(&["up"]);
    cmd.env_remove("NO_COLOR")
        .env_remove("COMPOSE_ANSI")
        .env_remove("COMPOSE_PROGRESS")
        .stdout(Stdio::from(slave.try_clone().expect("dup")))
        .stderr(Stdio::from(slave));
    let mut child = cmd.spawn().expect("start compose up");
    drop(cmd);
    // Read until every writer is gone (EIO on the master).
    let reader = std::thread::spawn(move || {
        let mut file = std::fs::File::from(master);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match file.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    let status = child.wait().expect("wait for compose up");
    let out = reader.join().expect("the reader");
    assert!(status.success(), "up: {status:?}\n{out}");
    // Logs name containers as Docker Compose does, without the project.
    let (name, shown) = (format!("{}-hello-1", f.project), "hello-1");
    for want in [
        "[+] Running 2/2",
        &format!("Network {}_default", f.project),
        &format!("Container {name}"),
        "Created",
        "\u{2714}",
        &format!("Attaching to {shown}"),
        "hello-from-the-container",
    ] {
        assert!(out.contains(want), "no {want:?} in:\n{out:?}");
    }
    // The view ends before the logs: nothing of it comes after `Attaching to`.
    let attach = out.find("Attaching to").unwrap_or(0);
    assert!(!out[attach..].contains("[+] Running"), "{out:?}");
    // The first container's prefix in Docker's first color (cyan).
    assert!(
        out.contains(&format!("\x1b[36m{shown}  | \x1b[0m")),
        "no cyan prefix in:\n{out:?}"
    );
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// Docker Compose through pipes: plain progress lines and plain logs, not one escape sequence;
/// `--ansi always` colors the logs, unless `NO_COLOR` or `--no-color` says otherwise.
#[test]
#[ignore = "needs root"]
fn attached_up_through_pipes_prints_plain_lines_only() {
    require_engine!();
    let mut f = Fixture::new(ONE_SHOT);
    let (name, shown) = (format!("{}-hello-1", f.project), "hello-1");
    let run = |f: &Fixture, args: &[&str], no_color: Option<&str>| {
        let mut cmd = f.command(args);
        cmd.env_remove("NO_COLOR")
            .env_remove("COMPOSE_ANSI")
            .env_remove("COMPOSE_PROGRESS");
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let o = cmd.output().expect("run compose");
        assert!(o.status.success(), "compose {args:?}: {}", text(&o));
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (out, err) = run(&f, &["up"], None);
    assert!(
        !out.contains('\x1b') && !err.contains('\x1b'),
        "{out:?}\n{err:?}"
    );
    assert!(
        err.contains(&format!(" Container {name}  Created")),
        "{err}"
    );
    assert!(
        out.contains(&format!("{shown}  | hello-from-the-container")),
        "{out}"
    );
    // Forced colors reach the logs (as Docker Compose's `--ansi always`)...
    let (out, _) = run(&f, &["--ansi", "always", "up"], None);
    assert!(out.contains("\x1b[36m"), "{out:?}");
    // ...but not with NO_COLOR set to anything, nor with `--no-color`; an empty NO_COLOR is
    // no request (https://no-color.org).
    let (out, err) = run(&f, &["--ansi", "always", "up"], Some("1"));
    assert!(
        !out.contains('\x1b') && !err.contains('\x1b'),
        "{out:?}\n{err:?}"
    );
    let (out, _) = run(&f, &["--ansi", "always", "up", "--no-color"], None);
    assert!(!out.contains('\x1b'), "{out:?}");
    let (out, _) = run(&f, &["--ansi", "always", "up"], Some(""));
    assert!(out.contains("\x1b[36m"), "{out:?}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}
