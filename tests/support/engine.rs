//! The shared fixture of engine tests: an isolated state root, project name and cgroup parent,
//! a loaded busybox image, and a check — run on drop, even when the test failed — that nothing is
//! left behind: no mount naming the state root, no cgroup under the test's parent, no container
//! state directory. What it finds it removes before failing the test, so one failure never leaks
//! into the next run.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use compose::engine::image::testimage::{ArchiveFormat, TestImage};

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub project_dir: PathBuf,
    pub project: String,
    pub cgroup_parent: String,
    /// The stand-in host's network namespace, when the test has one: every command runs in it,
    /// so bridges, veths and nftables rules are made there, never on the real host.
    pub netns: Option<std::os::fd::OwnedFd>,
    checked: bool,
}

/// A command's exit status and output, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `compose ARGS`, which must succeed; its standard output.
pub fn ok(f: &Fixture, args: &[&str]) -> String {
    let o = f.compose(args);
    assert!(o.status.success(), "compose {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Like [`ok`], with standard error (the progress lines) after standard output.
pub fn ok_all(f: &Fixture, args: &[&str]) -> String {
    let o = f.compose(args);
    assert!(o.status.success(), "compose {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// Calls `f` every 50 ms until it gives a value or `secs` have passed.
pub fn wait_for<T>(secs: u64, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if std::time::Instant::now() > end {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The body of an HTTP/1.0 `GET /` to `addr`, trimmed; `None` when nothing answers in 2 s.
pub fn http_get(addr: std::net::SocketAddr) -> Option<String> {
    use std::io::{Read, Write};
    let timeout = std::time::Duration::from_secs(2);
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split("\r\n\r\n").nth(1).map(|b| b.trim().to_string())
}

/// The state root served by process `pid` when it is a container's monitor (`argv[0]` is
/// `compose-monitor`, the root is in its initial environment, which /proc keeps as it was
/// started even after the monitor clears the variable).
pub fn monitor_root(pid: i32) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    if cmd.split(|b| *b == 0).next() != Some(compose::engine::supervisor::MONITOR_ARG0.as_bytes()) {
        return None;
    }
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let key = format!("{}=", compose::engine::supervisor::MONITOR_ROOT_ENV);
    env.split(|b| *b == 0)
        .find_map(|v| v.strip_prefix(key.as_bytes()))
        .map(|r| PathBuf::from(std::ffi::OsStr::from_bytes(r)))
}

/// Why an engine test cannot run here, if it cannot.
pub fn skip_reason() -> Option<&'static str> {
    if !rustix::process::geteuid().is_root() {
        return Some("engine tests need root (namespaces, mounts, cgroups)");
    }
    if !Path::new("/bin/busybox").exists() {
        return Some("engine tests need /bin/busybox (Debian package busybox-static)");
    }
    None
}

/// Skips the calling test (returns from it) with a printed reason when it cannot run here.
#[macro_export]
macro_rules! require_engine {
    () => {
        if let Some(reason) = support::engine::skip_reason() {
            eprintln!("skipped: {reason}");
            return;
        }
    };
}

fn unique() -> String {
    let mut buf = [0u8; 6];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("random bytes");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

impl Fixture {
    /// A fresh root with `busybox:latest` loaded, a project folder holding `compose_yaml`, and a
    /// network namespace of the test's own as the host (loopback up, nothing else): every
    /// command runs in it, so the networks containers get never touch the real host.
    pub fn new(compose_yaml: &str) -> Fixture {
        Fixture::add_netns(Fixture::bare(compose_yaml))
    }

    fn bare(compose_yaml: &str) -> Fixture {
        Fixture::bare_named(compose_yaml, None)
    }

    /// A second fixture with its own state root, folder and cgroup parent but this one's
    /// project name, compose file and stand-in host: the same project run from two state roots.
    pub fn twin(&self) -> Fixture {
        let yaml = std::fs::read_to_string(self.project_dir.join("compose.yaml")).expect("yaml");
        let mut t = Fixture::bare_named(&yaml, Some(&self.project));
        t.netns = self
            .netns
            .as_ref()
            .map(|ns| ns.try_clone().expect("duplicate the namespace fd"));
        t
    }

    fn bare_named(compose_yaml: &str, project: Option<&str>) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("compose-test-")
            .tempdir()
            .expect("temp dir");
        let id = unique();
        let root = dir.path().join("state");
        let project = project.map_or_else(|| format!("ctest{id}"), str::to_string);
        let project_dir = dir.path().join(&project);
        std::fs::create_dir_all(&project_dir).expect("project dir");
        std::fs::write(project_dir.join("compose.yaml"), compose_yaml).expect("compose.yaml");
        let f = Fixture {
            dir,
            root,
            project_dir,
            project,
            cgroup_parent: format!("compose-test-{id}"),
            netns: None,
            checked: false,
        };
        let archive = f.dir.path().join("busybox.tar");
        std::fs::write(
            &archive,
            TestImage::default()
                .archive(ArchiveFormat::Oci)
                .expect("busybox image"),
        )
        .expect("write image");
        let out = f.compose(&[
            "image",
            "load",
            "-q",
            "-i",
            archive.to_str().expect("utf-8"),
        ]);
        assert!(
            out.status.success(),
            "image load: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        f
    }

    /// The same as [`Fixture::new`] (every fixture has its stand-in host namespace).
    pub fn with_netns(compose_yaml: &str) -> Fixture {
        Fixture::new(compose_yaml)
    }

    fn add_netns(mut f: Fixture) -> Fixture {
        use compose::engine::network::link::{create_netns, Netlink};
        use std::os::fd::AsFd;
        let ns = create_netns().expect("network namespace");
        let mut nl = Netlink::new_in(ns.as_fd()).expect("netlink in the namespace");
        let lo = nl.link_index("lo").expect("lo").expect("lo exists");
        nl.set_up(lo).expect("lo up");
        f.netns = Some(ns);
        f
    }

    /// Runs `f` inside the stand-in host's network namespace (sockets made there stay there).
    pub fn in_host<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        use std::os::fd::AsFd;
        let ns = self
            .netns
            .as_ref()
            .expect("a fixture with a network namespace");
        compose::engine::network::link::in_netns(ns.as_fd(), f).expect("enter the namespace")
    }

    /// The volume directories under the state root, sorted.
    pub fn volume_dirs(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.root.join("volumes"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// The stand-in host's interfaces, by name.
    pub fn host_links(&self) -> Vec<String> {
        use compose::engine::network::link::Netlink;
        use std::os::fd::AsFd;
        let ns = self
            .netns
            .as_ref()
            .expect("a fixture with a network namespace");
        let mut nl = Netlink::new_in(ns.as_fd()).expect("netlink");
        let mut names: Vec<String> = nl
            .links()
            .expect("links")
            .into_iter()
            .map(|l| l.name)
            .collect();
        names.sort();
        names
    }

    /// The stand-in host's nftables rules (table, chain, tag), and whether our table exists.
    pub fn host_rules(&self) -> (bool, Vec<String>) {
        use compose::engine::network::nft::Nft;
        use std::os::fd::AsFd;
        let ns = self
            .netns
            .as_ref()
            .expect("a fixture with a network namespace");
        let mut nft = Nft::new_in(ns.as_fd()).expect("nftables");
        let exists = nft.table_exists().expect("table");
        let rules = if exists {
            nft.list_rules()
                .expect("rules")
                .into_iter()
                .map(|r| format!("{} {} {:?}", r.table, r.chain, r.tag))
                .collect()
        } else {
            Vec::new()
        };
        (exists, rules)
    }

    /// `compose` with this fixture's root, project and cgroup parent, in the project folder.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_at(Path::new(env!("CARGO_BIN_EXE_compose")), args)
    }

    /// [`Fixture::command`] run from the `compose` binary at `exe` (a copy the test made).
    pub fn command_at(&self, exe: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(exe);
        if let Some(ns) = &self.netns {
            use std::os::fd::AsRawFd;
            use std::os::unix::process::CommandExt;
            let fd = ns.as_raw_fd();
            // SAFETY: setns is async-signal-safe; the descriptor stays open in the parent.
            unsafe {
                c.pre_exec(move || {
                    if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        c.current_dir(&self.project_dir)
            .env("COMPOSE_ROOT", &self.root)
            .env("COMPOSE_CGROUP_PARENT", &self.cgroup_parent)
            .env("COMPOSE_PROJECT_NAME", &self.project)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    pub fn compose(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run compose")
    }

    /// `compose run --rm -T SERVICE COMMAND...`; returns (exit code, stdout, stderr).
    pub fn run(&self, service: &str, cmd: &[&str]) -> (i32, String, String) {
        let mut args = vec!["run", "--rm", "-T", service];
        args.extend_from_slice(cmd);
        let out = self.compose(&args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The cgroup directories under this test's parent, in every hierarchy.
    fn cgroups_left(&self) -> Vec<PathBuf> {
        let mut left = Vec::new();
        if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
            for e in entries.flatten() {
                let p = e.path().join(&self.cgroup_parent);
                if p.exists() {
                    left.push(p);
                }
            }
        }
        let unified = Path::new("/sys/fs/cgroup").join(&self.cgroup_parent);
        if unified.exists() && !left.contains(&unified) {
            left.push(unified);
        }
        left
    }

    fn mounts_left(&self) -> Vec<String> {
        let root = self.dir.path().to_string_lossy().into_owned();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&root))
            .map(String::from)
            .collect()
    }

    /// Container monitors (`compose-monitor <name>`, serving this root: the root is in their
    /// environment) still running.
    pub fn monitors_left(&self) -> Vec<i32> {
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if monitor_root(pid).as_deref() == Some(self.root.as_path()) {
                out.push(pid);
            }
        }
        out
    }

    /// Names still published for service discovery.
    fn dns_left(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for net in std::fs::read_dir(self.root.join("dns"))
            .into_iter()
            .flatten()
            .flatten()
        {
            for e in std::fs::read_dir(net.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                out.push(e.path());
            }
        }
        out
    }

    fn containers_left(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.root.join("containers"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }

    /// Asserts that nothing is left behind (also done on drop).
    pub fn assert_clean(&mut self) {
        self.checked = true;
        let problems = self.cleanup();
        assert!(problems.is_empty(), "left behind:\n{}", problems.join("\n"));
    }

    /// Everything a finished `down -v` must have taken away, said and removed: what the drop
    /// check looks for (mounts, cgroups and their processes, monitors, names, container state),
    /// plus the stand-in host's links other than `lo`, our nftables table, network and address
    /// records, and volumes (removed too). For tests that check many times over one fixture.
    pub fn leaks(&self) -> Vec<String> {
        let mut problems = self.cleanup();
        let links: Vec<String> = self
            .host_links()
            .into_iter()
            .filter(|l| l != "lo")
            .collect();
        if !links.is_empty() {
            problems.push(format!("links: {links:?}"));
        }
        let (table, rules) = self.host_rules();
        if table {
            problems.push(format!("nftables table, rules: {rules:?}"));
        }
        let records = self.network_records();
        if !records.is_empty() {
            problems.push(format!("network or address records: {records:?}"));
        }
        let volumes = self.volume_dirs();
        if !volumes.is_empty() {
            problems.push(format!("volumes: {volumes:?}"));
            for v in &volumes {
                let _ = std::fs::remove_dir_all(self.root.join("volumes").join(v));
            }
        }
        problems
    }

    /// The files under the state root's `networks/` (network and address records), lock files
    /// aside.
    pub fn network_records(&self) -> Vec<String> {
        let dir = self.root.join("networks");
        let mut out: Vec<String> = walk(&dir)
            .iter()
            .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| {
                e.path()
                    .strip_prefix(&dir)
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            })
            .filter(|p| !p.ends_with(".lock") && !p.ends_with("lock"))
            .collect();
        out.sort();
        out
    }

    /// Removes whatever is left and says what it was.
    fn cleanup(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for pid in self.monitors_left() {
            problems.push(format!("monitor process {pid}"));
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        for p in self.dns_left() {
            problems.push(format!("published name: {}", p.display()));
        }
        for m in self.mounts_left() {
            problems.push(format!("mount: {m}"));
            if let Some(point) = m.split(' ').nth(4) {
                let _ = rustix::mount::unmount(point, rustix::mount::UnmountFlags::DETACH);
            }
        }
        for cg in self.cgroups_left() {
            // Deepest first; kill what still runs in them.
            let mut dirs: Vec<PathBuf> = walk(&cg);
            dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
            let mut had_content = false;
            for d in &dirs {
                if d != &cg {
                    had_content = true;
                }
                // A frozen (paused) process cannot act on SIGKILL until thawed.
                let _ = std::fs::write(d.join("freezer.state"), "THAWED");
                let _ = std::fs::write(d.join("cgroup.freeze"), "0");
                if let Ok(procs) = std::fs::read_to_string(d.join("cgroup.procs")) {
                    for pid in procs
                        .split_whitespace()
                        .filter_map(|p| p.parse::<i32>().ok())
                    {
                        had_content = true;
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                    }
                }
            }
            // Killed processes leave their cgroups only once they have exited: retry for a
            // while, or a failed test leaves its cgroups behind.
            for _ in 0..100 {
                std::thread::sleep(std::time::Duration::from_millis(20));
                for d in &dirs {
                    let _ = std::fs::remove_dir(d);
                }
                if dirs.iter().all(|d| !d.exists()) {
                    break;
                }
            }
            if had_content {
                problems.push(format!("cgroup: {}", cg.display()));
            }
        }
        for c in self.containers_left() {
            problems.push(format!("container state: {}", c.display()));
        }
        problems
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.extend(walk(&e.path()));
            }
        }
    }
    out
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let problems = self.cleanup();
        if !self.checked && !std::thread::panicking() {
            assert!(problems.is_empty(), "left behind:\n{}", problems.join("\n"));
        }
    }
}
