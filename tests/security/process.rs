//! See the list in `tests/security.rs`: the host binary reached from a container
//! (CVE-2019-5736), descriptors leaked into containers (CVE-2024-21626 class), sysctls, and the
//! masking device (CVE-2025-31133).

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::require_engine;
use crate::support::{
    self,
    engine::{ok, text, Fixture},
};

/// A pipe whose buffer is full: a process writing to its write end blocks until the read end is
/// drained.
fn full_pipe() -> (OwnedFd, OwnedFd) {
    use rustix::fs::OFlags;
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
    rustix::fs::fcntl_setfl(&w, OFlags::NONBLOCK).expect("nonblocking");
    let chunk = [b'.'; 4096];
    loop {
        match rustix::io::write(&w, &chunk) {
            Ok(_) => continue,
            Err(rustix::io::Errno::AGAIN) => break,
            Err(e) => panic!("filling a pipe: {e}"),
        }
    }
    // Blocking again for the writer (the flag belongs to the open file, which it shares).
    rustix::fs::fcntl_setfl(&w, OFlags::empty()).expect("blocking");
    (r, w)
}

/// Waits for `child` at most `limit`; kills it (and fails) past that.
fn wait_at_most(child: &mut std::process::Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("compose did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = std::process::Output {
        status: child.wait().expect("wait"),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    use std::io::Read;
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_end(&mut out.stdout);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_end(&mut out.stderr);
    }
    out
}

/// Polls `path` until it holds `line` (or `limit` passes); its content.
fn wait_for_line(path: &Path, line: &str, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        let s = std::fs::read_to_string(path).unwrap_or_default();
        if s.lines().any(|l| l == line) || start.elapsed() > limit {
            return s;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Copies of the shared libraries `exe` needs (from `ldd`), as `host:container:ro` volume
/// entries, so that a busybox container can run it.
fn library_volumes(exe: &Path, into: &Path) -> Vec<String> {
    let out = Command::new("ldd").arg(exe).output().expect("run ldd");
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("not a dynamic executable") || text.contains("statically linked") {
        return Vec::new();
    }
    assert!(out.status.success(), "ldd {}: {text}", exe.display());
    std::fs::create_dir_all(into).expect("library dir");
    let mut vols = Vec::new();
    for line in text.lines() {
        // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` or `/lib64/ld-linux... (0x...)`.
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        let Some(path) = path.filter(|p| p.starts_with('/')) else {
            continue;
        };
        let name = Path::new(path).file_name().expect("library file name");
        let copy = into.join(name);
        std::fs::copy(path, &copy).unwrap_or_else(|e| panic!("copy {path}: {e}"));
        vols.push(format!("{}:{path}:ro", copy.display()));
    }
    vols
}

/// Waits in the container for the process that runs the script `/kit/evil` (an executable other
/// than busybox: whatever binary the script's `#!/proc/self/exe` named), keeps a descriptor on
/// that binary through `/proc/<pid>/exe` and then tries, as runc's proof of concept does, to
/// write to the binary until it is no longer busy (the test lets the process end once the
/// descriptor is held). Every step is logged to /out/result.
const ATTACK: &str = r#"
log() { echo "$*" >> /out/result; }
start=$(date +%s)
pid=
while [ -z "$pid" ]; do
  if [ $(( $(date +%s) - start )) -gt 60 ]; then log "timeout"; break; fi
  for d in /proc/[0-9]*; do
    exe=$(busybox readlink $d/exe 2>/dev/null) || continue
    case "$exe" in ''|/bin/busybox) continue;; esac
    case "$(tr '\0' ' ' < $d/cmdline 2>/dev/null)" in
      *evil*) pid=${d#/proc/}; log "exe $exe"; break;;
    esac
  done
  [ -n "$pid" ] || sleep 0.02
done
if [ -n "$pid" ] && command exec 5< /proc/$pid/exe; then log opened; else log "not opened"; fi
n=0
while [ -n "$pid" ] && [ $n -lt 300 ]; do
  if printf pwned 2>/tmp/err > /proc/self/fd/5; then log written; break; fi
  # Only a busy binary (ETXTBSY) is worth another try.
  grep -qi busy /tmp/err || break
  n=$((n + 1))
  sleep 0.05
done
log "last error: $(cat /tmp/err 2>/dev/null)"
log done
"#;

/// CVE-2019-5736 through `compose exec`: the container holds a script whose interpreter is
/// `#!/proc/self/exe`, and `compose exec` runs it, so the exec'd process runs whatever binary
/// started it; a second process in the container opens that binary through `/proc/<pid>/exe`
/// and writes to it once it is released. The attack is aimed at a copy of `compose` in the
/// test's temp dir, which runs the `exec`: the copy must come out unchanged, and the binary the
/// container saw must not be it.
#[test]
#[ignore = "needs root"]
fn cve_2019_5736_exec_of_a_proc_self_exe_script_cannot_overwrite_the_compose_binary() {
    require_engine!();
    let scratch = tempfile::Builder::new()
        .prefix("compose-test-exe-")
        .tempdir()
        .expect("temp dir");
    let copy = scratch.path().join("compose");
    std::fs::copy(env!("CARGO_BIN_EXE_compose"), &copy).expect("copy the binary");
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let original = std::fs::read(&copy).expect("read the copy");
    let libs = library_volumes(&copy, &scratch.path().join("lib"));

    let mut yaml = String::from(
        "services:\n  app:\n    image: busybox\n    command: [sh, -c, 'sh /kit/attack.sh & exec sleep 1000']\n    volumes:\n      - ./kit:/kit:ro\n      - ./out:/out\n",
    );
    for v in &libs {
        yaml.push_str(&format!("      - {v}\n"));
    }
    let mut f = Fixture::new(&yaml);
    let kit = f.project_dir.join("kit");
    std::fs::create_dir_all(&kit).expect("kit");
    std::fs::create_dir_all(f.project_dir.join("out")).expect("out");
    std::fs::write(kit.join("attack.sh"), ATTACK).expect("attack.sh");
    std::fs::write(kit.join("evil"), "#!/proc/self/exe\n").expect("evil");
    std::fs::set_permissions(kit.join("evil"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod evil");
    ok(&f, &["up", "-d", "app"]);

    // The script runs with a full pipe as its standard error, so the binary it starts blocks
    // on its first message until the attacker holds it; then the pipe is drained.
    let (err_r, err_w) = full_pipe();
    let mut child = f
        .command_at(&copy, &["exec", "-T", "app", "/kit/evil"])
        .stdout(Stdio::piped())
        .stderr(err_w)
        .spawn()
        .expect("spawn compose exec");
    let result_path = f.project_dir.join("out/result");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        let r = std::fs::read_to_string(&result_path).unwrap_or_default();
        if r.lines()
            .any(|l| ["opened", "not opened", "timeout"].contains(&l))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let drain = std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = Vec::new();
        let _ = std::fs::File::from(err_r).read_to_end(&mut buf);
        buf
    });
    let exec_out = wait_at_most(&mut child, Duration::from_secs(60));
    let exec_err = drain.join().expect("drain");
    let result = wait_for_line(&result_path, "done", Duration::from_secs(30));
    ok(&f, &["down", "-t", "0"]);

    let now = std::fs::read(&copy).expect("read the copy");
    assert!(
        now == original,
        "the container overwrote the compose binary ({} bytes now, {} before)\nattack log:\n{result}",
        now.len(),
        original.len()
    );
    assert!(
        result.lines().any(|l| l == "opened"),
        "the attack never reached the exec'd binary, so it proves nothing\nattack log:\n{result}\nexec: {}\n{}",
        text(&exec_out),
        String::from_utf8_lossy(&exec_err[exec_err.len().saturating_sub(2000)..])
    );
    assert!(
        !result.lines().any(|l| l == "written"),
        "the write went through:\n{result}"
    );
    assert!(
        !result.contains(&copy.display().to_string()),
        "/proc/<pid>/exe in the container is the host binary itself:\n{result}"
    );
    f.assert_clean();
}

/// A directory of the host holding a sentinel file, and a descriptor on it the way a shell's
/// `exec 7</dir` leaves one: open, not close-on-exec, at 7 in the CLI.
struct Leak {
    dir: tempfile::TempDir,
    fd: OwnedFd,
}

const SENTINEL: &str = "host-sentinel-3f1c";

impl Leak {
    fn new() -> Leak {
        let dir = tempfile::Builder::new()
            .prefix("compose-test-leak-")
            .tempdir()
            .expect("temp dir");
        std::fs::write(dir.path().join("sentinel"), SENTINEL).expect("sentinel");
        let fd = rustix::fs::open(
            dir.path(),
            rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .expect("open the host directory");
        Leak { dir, fd }
    }

    /// `cmd` started with the descriptor at 7, inheritable.
    fn give_to(&self, cmd: &mut Command) {
        let fd = self.fd.as_raw_fd();
        // SAFETY: dup2 is async-signal-safe; the descriptor stays open in the parent.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(fd, 7) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }

    /// Descriptors of `pid` that lead to the leaked directory.
    fn held_by(&self, pid: i32) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(target) = std::fs::read_link(e.path()) {
                if target == self.dir.path() {
                    out.push(format!("{pid}: fd {}", e.file_name().to_string_lossy()));
                }
            }
        }
        out
    }
}

/// What a container's process reports about descriptor 7: its open descriptors (listed by `ls`,
/// a child, so the list holds none of `ls`'s own), then what the sentinel reads as through
/// /proc/self/fd/7.
const PROBE: &str = "ls /proc/$$/fd; echo end; cat /proc/self/fd/7/sentinel 2>&1; true";

/// The descriptors [`PROBE`] listed.
fn fds_listed(out: &str) -> Vec<&str> {
    out.lines().take_while(|l| *l != "end").collect()
}

/// CVE-2024-21626 class, foreground `run`: the CLI is started with a descriptor on a host
/// directory (`exec 7</dir; compose run ...`); the container's command must not get it, neither
/// as an open descriptor nor as its working directory (`-w /proc/self/fd/7`).
#[test]
#[ignore = "needs root"]
fn leaked_fd_of_the_cli_does_not_reach_a_run_container() {
    require_engine!();
    let mut f = Fixture::new("services:\n  app:\n    image: busybox\n");
    let leak = Leak::new();

    let mut cmd = f.command(&["run", "--rm", "-T", "app", "sh", "-c", PROBE]);
    leak.give_to(&mut cmd);
    let o = cmd.output().expect("run compose");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !out.contains(SENTINEL),
        "read through the leaked fd:\n{}",
        text(&o)
    );
    assert_eq!(fds_listed(&out), ["0", "1", "2"], "{}", text(&o));

    // runc's CVE-2024-21626 itself: the working directory set to the leaked descriptor.
    let mut cmd = f.command(&[
        "run",
        "--rm",
        "-T",
        "-w",
        "/proc/self/fd/7",
        "app",
        "cat",
        "sentinel",
    ]);
    leak.give_to(&mut cmd);
    let o = cmd.output().expect("run compose");
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains(SENTINEL),
        "the working directory was the host's: {}",
        text(&o)
    );
    f.assert_clean();
}

/// CVE-2024-21626 class through the monitor (`up -d`) and `exec`: the CLI that starts the
/// monitor, and the one that runs `exec`, hold a descriptor on a host directory; neither the
/// monitor nor any container process may keep it.
#[test]
#[ignore = "needs root"]
fn leaked_fd_of_the_cli_does_not_reach_the_monitor_or_an_up_or_exec_container() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  app:\n    image: busybox\n    volumes: [./out:/out]\n    command: [sh, -c, 'exec > /out/probe 2>&1; ls /proc/$$$$/fd; echo end; cat /proc/self/fd/7/sentinel; echo done; exec sleep 1000']\n",
    );
    std::fs::create_dir_all(f.project_dir.join("out")).expect("out");
    let leak = Leak::new();

    let mut cmd = f.command(&["up", "-d", "app"]);
    leak.give_to(&mut cmd);
    let o = cmd.output().expect("run compose");
    assert!(o.status.success(), "{}", text(&o));
    let probe = wait_for_line(
        &f.project_dir.join("out/probe"),
        "done",
        Duration::from_secs(20),
    );
    let mon = f.monitors_left();
    assert_eq!(mon.len(), 1, "one monitor");
    let held = leak.held_by(mon[0]);

    let mut cmd = f.command(&["exec", "-T", "app", "sh", "-c", PROBE]);
    leak.give_to(&mut cmd);
    let e = cmd.output().expect("run compose");
    ok(&f, &["down", "-t", "0"]);

    assert!(
        held.is_empty(),
        "the monitor holds the CLI's descriptor: {held:?}"
    );
    assert!(
        !probe.contains(SENTINEL),
        "up -d: read through the leaked fd:\n{probe}"
    );
    assert_eq!(fds_listed(&probe), ["0", "1", "2"], "up -d:\n{probe}");
    let out = String::from_utf8_lossy(&e.stdout);
    assert!(e.status.success(), "{}", text(&e));
    assert!(
        !out.contains(SENTINEL),
        "exec: read through the leaked fd:\n{}",
        text(&e)
    );
    assert_eq!(fds_listed(&out), ["0", "1", "2"], "exec: {}", text(&e));
    f.assert_clean();
}

/// Namespaced sysctls are applied (they failed with EROFS once /proc/sys was made read-only
/// first), and /proc/sys is still read-only for the container afterwards.
#[test]
#[ignore = "needs root"]
fn namespaced_sysctls_are_set_and_proc_sys_stays_read_only() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  app:\n    image: busybox\n    sysctls:\n      net.ipv4.ip_forward: 1\n      kernel.shmmax: 123456789\n      fs.mqueue.msg_max: 20\n",
    );
    let (code, out, err) = f.run(
        "app",
        &[
            "sh",
            "-c",
            "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/sys/fs/mqueue/msg_max; \
             (echo 0 > /proc/sys/net/ipv4/ip_forward) 2>/dev/null && echo writable; true",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "1\n123456789\n20\n", "{err}");
    f.assert_clean();
}

/// A sysctl that is not namespaced would change the host (`vm.swappiness`, `kernel.panic`), and
/// `net.*` with `network_mode: host` would change the host's network: refused before anything
/// starts, with the service and the key named.
#[test]
#[ignore = "needs root"]
fn host_sysctls_are_refused_before_anything_starts() {
    require_engine!();
    let mut f = Fixture::new("services: {}\n");
    for (svc, extra, key) in [
        (
            "swappy",
            "    sysctls: {vm.swappiness: '10'}\n",
            "vm.swappiness",
        ),
        ("panicky", "    sysctls: [kernel.panic=1]\n", "kernel.panic"),
        (
            "hostnet",
            "    network_mode: host\n    sysctls: {net.ipv4.ip_forward: '1'}\n",
            "net.ipv4.ip_forward",
        ),
        (
            "named",
            "    sysctls: {kernel.hostname: x}\n",
            "kernel.hostname",
        ),
        (
            "slashed",
            "    sysctls: {net/ipv4/ip_forward: '1'}\n",
            "net/ipv4/ip_forward",
        ),
    ] {
        let yaml = format!(
            "services:\n  fine:\n    image: busybox\n    command: [sleep, '1000']\n  {svc}:\n    image: busybox\n    command: [sleep, '1000']\n{extra}"
        );
        std::fs::write(f.project_dir.join("compose.yaml"), yaml).expect("compose.yaml");
        let o = f.compose(&["up", "-d"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{key} was accepted: {}", text(&o));
        assert!(
            err.contains(svc) && err.contains(key),
            "{key}: {}",
            text(&o)
        );
        let started = std::fs::read_dir(f.root.join("containers"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(started, 0, "{key}: a container was made: {}", text(&o));
    }
    f.assert_clean();
}

/// `net.*` sysctls of a container that joins the network of one using the host's network
/// (`network_mode: service:X`, X with `network_mode: host`) would change the host's: refused
/// when the container starts, and the (stand-in) host's value is untouched.
#[test]
#[ignore = "needs root"]
fn net_sysctls_through_a_joined_host_network_are_refused() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  h:\n    image: busybox\n    network_mode: host\n    command: [sleep, '1000']\n  j:\n    image: busybox\n    network_mode: service:h\n    command: [sleep, '1000']\n    sysctls: {net.ipv4.tcp_syncookies: '0'}\n",
    );
    let read = || {
        f.in_host(|| {
            std::fs::read_to_string("/proc/sys/net/ipv4/tcp_syncookies").expect("read sysctl")
        })
    };
    let before = read();
    assert_eq!(before.trim(), "1", "the stand-in host's default");
    ok(&f, &["up", "-d", "h"]);
    let o = f.compose(&["up", "-d", "j"]);
    let after = read();
    ok(&f, &["down", "-t", "0"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("net.ipv4.tcp_syncookies"),
        "{}",
        text(&o)
    );
    assert_eq!(after, before, "the host's sysctl changed");
    f.assert_clean();
}

/// CVE-2025-31133: the masking of /proc/kcore, /proc/keys... binds /dev/null over them; a volume
/// that replaces the container's /dev/null (with a host file, or with a symlink to one) must not
/// get that file bound over the masked paths, where the container could read or write it. The
/// container starts with the real null device over them.
#[test]
#[ignore = "needs root"]
fn cve_2025_31133_a_replaced_dev_null_is_never_bound_over_masked_paths() {
    require_engine!();
    let mut f = Fixture::new(
        "services:\n  file:\n    image: busybox\n    volumes: [./kit/sentinel:/dev/null]\n  link:\n    image: busybox\n    volumes: [./fakedev:/dev, ./kit:/kit:ro]\n",
    );
    let kit = f.project_dir.join("kit");
    std::fs::create_dir_all(&kit).expect("kit");
    std::fs::write(kit.join("sentinel"), SENTINEL).expect("sentinel");
    let fakedev = f.project_dir.join("fakedev");
    std::fs::create_dir_all(&fakedev).expect("fakedev");
    std::os::unix::fs::symlink("/kit/sentinel", fakedev.join("null")).expect("symlink");

    let probe = "for p in /proc/kcore /proc/keys /proc/timer_list /proc/interrupts /proc/sched_debug; do \
                 [ -e $p ] && head -c 64 $p 2>&1; echo \" < $p\"; echo pwned 2>/tmp/e > $p; done; true";
    for svc in ["file", "link"] {
        let (code, out, err) = f.run(svc, &["sh", "-c", probe]);
        assert!(
            !out.contains(SENTINEL),
            "{svc}: the volume's file was bound over a masked path (exit {code}):\n{out}\n{err}"
        );
        assert_eq!(
            std::fs::read_to_string(kit.join("sentinel")).expect("sentinel"),
            SENTINEL,
            "{svc}: written through a masked path:\n{out}\n{err}"
        );
        // It starts, with the masked paths masked by the real null device: empty.
        assert_eq!(code, 0, "{svc}:\n{out}\n{err}");
        assert!(
            out.lines().all(|l| l.starts_with(" < ")) && out.lines().count() == 5,
            "{svc}: a masked path has content:\n{out}"
        );
    }
    f.assert_clean();
}

/// Docker 28's masks, the per-CPU `thermal_throttle` directories included (thermal side
/// channel, GHSA-6fw5-f8r9-fgfm): each reads empty in a container.
#[test]
#[ignore = "needs root"]
fn masked_paths_read_empty_including_thermal_throttle() {
    require_engine!();
    let mut f = Fixture::new("services:\n  app:\n    image: busybox\n");
    let host: Vec<PathBuf> = std::fs::read_dir("/sys/devices/system/cpu")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("thermal_throttle"))
        .filter(|p| p.is_dir())
        .collect();
    let mut script = String::from(
        "for p in /proc/kcore /proc/keys /proc/timer_list /proc/interrupts /proc/sched_debug; do \
         [ -e $p ] && head -c 64 $p; done; \
         for d in /proc/acpi /proc/scsi /sys/firmware /sys/devices/virtual/powercap; do ls $d 2>/dev/null; done;",
    );
    for p in &host {
        script.push_str(&format!(" ls {};", p.display()));
    }
    script.push_str(" true");
    let (code, out, err) = f.run("app", &["sh", "-c", &script]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "",
        "masked paths show content ({} thermal_throttle dirs on this host)",
        host.len()
    );
    f.assert_clean();
}
