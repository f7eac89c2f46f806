//! Running a command inside a running container (`compose exec`), as runc's `exec` does: a fresh
//! process joins the namespaces and cgroups of the container's PID 1 and then takes the
//! container's process settings (user, capabilities, no_new_privs, seccomp).
//!
//! The joining is done by `compose __exec`, this binary started by [`start`] from the same
//! protected executable as `compose __init` (never the host binary itself: see
//! [`super::process::protected_command`]),
//! because the kernel refuses `setns` into a mount namespace to a multi-threaded process (the
//! caller may be multi-threaded; tests are). Its handshake is the one of `compose __init` (see
//! [`super::process`]): it blocks reading its [`ExecConfig`] from [`CONFIG_FD`] until the parent
//! has put it in the container's cgroups, and reports a failure on the close-on-exec [`ERROR_FD`];
//! end-of-file there without a message means the command was executed.
//!
//! `__exec` enters the namespaces through a pidfd (one `setns`, atomic, and immune to the PID
//! being reused once the start time is checked), then forks: the PID namespace only applies to
//! children. It stays outside the container as the command's parent, forwarding signals to it
//! and exiting with its status (128 + the signal when it was killed); with `detach` it exits as
//! soon as the command runs. It is never visible inside the container (it lives in the host's
//! PID namespace), and it makes itself non-dumpable before anything else so the forked child,
//! which is visible until it executes the command, cannot be used to reach this binary through
//! `/proc/<pid>/exe`.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

use rustix::process::{Pid, Signal};
use rustix::thread::ThreadNameSpaceType;
use serde::{Deserialize, Serialize};

use super::error::{InitError, Step};
use super::process::{Exit, Stdio};
use super::pty::Pty;
use super::user::{self, RootfsFiles};
use super::{caps, security};
use crate::engine::cgroups::Layout;
use crate::engine::spec::ContainerSpec;
use crate::engine::state;

/// The hidden argument that selects this entry point.
pub const EXEC_ARG: &str = "__exec";
/// The same handshake descriptors as `compose __init`: the configuration arrives on
/// `CONFIG_FD`, a failure is reported on the close-on-exec `ERROR_FD`.
pub use super::init::{CONFIG_FD, ERROR_FD};

/// What to run, in which container, and how.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecConfig {
    /// The container's PID 1 on the host, and its start time (clock ticks after boot) so that a
    /// PID reused by another process is never joined.
    pub pid: i32,
    pub pid_start: u64,
    /// The container's spec: the defaults for everything the options below leave unset.
    pub spec: ContainerSpec,
    /// argv; `args[0]` is looked up in the `PATH` of the resulting environment.
    pub args: Vec<String>,
    /// `KEY=VALUE` entries added to (or replacing those of) the container's environment.
    pub env: Vec<String>,
    /// `-u`: resolved against the container's own /etc/passwd and /etc/group; `None`: the
    /// container's user.
    pub user: Option<String>,
    /// `-w`; `None`: the container's working directory.
    pub workdir: Option<String>,
    /// Every capability and no seccomp filter.
    pub privileged: bool,
    /// Standard input is a terminal that becomes the command's controlling terminal.
    pub tty: bool,
    /// Return as soon as the command runs instead of waiting for it.
    pub detach: bool,
}

/// The running `compose __exec` helper, the command's parent.
#[derive(Debug)]
pub struct ExecChild {
    pub child: std::process::Child,
    /// Polled for the helper's exit; signals go through it so a recycled PID is never hit.
    pub pidfd: OwnedFd,
}

impl ExecChild {
    /// Waits for the helper, whose status is the command's.
    pub fn wait(&mut self) -> Result<Exit, InitError> {
        let status = self
            .child
            .wait()
            .map_err(|e| InitError::io(Step::Exec, None, &e))?;
        Ok(match (status.code(), status.signal()) {
            (Some(c), _) => Exit::Code(c),
            (None, Some(s)) => Exit::Signal(s),
            (None, None) => Exit::Code(255),
        })
    }

    /// Sends `sig` to the helper, which passes it on to the command.
    pub fn signal(&self, sig: Signal) -> Result<(), InitError> {
        rustix::process::pidfd_send_signal(self.pidfd.as_fd(), sig)
            .map_err(|e| InitError::sys(Step::Exec, None, e))
    }
}

/// The exit status of a failed exec, as Docker's: 127 when the command cannot be found, 126 for
/// every other failure (`OCI runtime exec failed`).
pub fn exit_code(e: &InitError) -> i32 {
    match (e.step, e.errno) {
        (Step::Exec, Some(libc::ENOENT)) => 127,
        _ => 126,
    }
}

/// `env` with `overrides` applied: an override replaces every entry of the same key, in place
/// of the first one, and new keys are appended in order.
pub fn merge_env(env: &[String], overrides: &[String]) -> Vec<String> {
    let key = |e: &str| e.split_once('=').map_or(e, |(k, _)| k).to_string();
    let mut out: Vec<String> = Vec::with_capacity(env.len() + overrides.len());
    for e in env.iter().chain(overrides) {
        let k = key(e);
        match out.iter().position(|o| key(o) == k) {
            Some(i) => out[i] = e.clone(),
            None => out.push(e.clone()),
        }
    }
    out
}

/// The cgroup directories of a process, from the text of its `/proc/<pid>/cgroup`, in the
/// hierarchies `layout` knows (named v1 hierarchies such as `name=systemd` carry no controller
/// and are left out, as in [`Layout`]). A cgroup the mounts do not show is an error: the process
/// would otherwise escape the container's limits.
pub fn cgroup_dirs(layout: &Layout, proc_cgroup: &str) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let hierarchy = if ctrls.is_empty() {
            layout.unified.as_ref()
        } else {
            let mut ctrls: Vec<&str> = ctrls.split(',').filter(|c| !c.contains('=')).collect();
            if ctrls.is_empty() {
                continue;
            }
            ctrls.sort_unstable();
            layout.v1.iter().find(|h| h.controllers == ctrls)
        };
        let Some(h) = hierarchy else {
            continue;
        };
        match h.dir_of(path) {
            Some(dir) => out.push(dir),
            None => {
                return Err(format!(
                    "cgroup {path} is not visible under {}",
                    h.mount_point.display()
                ))
            }
        }
    }
    Ok(out)
}

/// Starts the command in the container and returns once it runs (or failed to start: that
/// error comes back, with [`exit_code`] giving Docker's status for it).
pub fn start(cfg: &ExecConfig, stdio: &Stdio<'_>) -> Result<ExecChild, InitError> {
    let cgroup_text = std::fs::read_to_string(format!("/proc/{}/cgroup", cfg.pid))
        .map_err(|e| not_running(cfg.pid, &e))?;
    if !state::same_process(Some(cfg.pid), Some(cfg.pid_start)) {
        return Err(not_running(
            cfg.pid,
            &std::io::Error::from_raw_os_error(libc::ESRCH),
        ));
    }
    let layout =
        Layout::detect().map_err(|e| InitError::msg(Step::Cgroups, None, e.to_string()))?;
    let cgroups =
        cgroup_dirs(&layout, &cgroup_text).map_err(|m| InitError::msg(Step::Cgroups, None, m))?;

    let (cfg_r, cfg_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| InitError::sys(Step::Spawn, None, e))?;
    let (err_r, err_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| InitError::sys(Step::Spawn, None, e))?;
    let dup = |fd: std::os::fd::BorrowedFd<'_>| {
        fd.try_clone_to_owned()
            .map_err(|e| InitError::io(Step::Spawn, None, &e))
    };
    // From the protected executable, never the host binary: the helper's forked child is in the
    // container when it executes the command (CVE-2019-5736).
    let (mut cmd, _exe) = super::process::protected_command()?;
    cmd.arg0("compose")
        .arg(EXEC_ARG)
        .env_clear()
        .current_dir("/")
        .stdin(dup(stdio.stdin)?)
        .stdout(dup(stdio.stdout)?)
        .stderr(dup(stdio.stderr)?);
    let (cfg_raw, err_raw) = (cfg_r.as_raw_fd(), err_w.as_raw_fd());
    // SAFETY: the closure runs between fork and exec and makes only async-signal-safe calls.
    unsafe {
        cmd.pre_exec(move || {
            // Move both above the targets first, so neither dup2 overwrites the other's source
            // (just above: a low RLIMIT_NOFILE must not stop an exec).
            let a = libc::fcntl(cfg_raw, libc::F_DUPFD_CLOEXEC, ERROR_FD + 1);
            let b = libc::fcntl(err_raw, libc::F_DUPFD_CLOEXEC, ERROR_FD + 1);
            if a < 0 || b < 0 || libc::dup2(a, CONFIG_FD) < 0 || libc::dup2(b, ERROR_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Its own session: a Ctrl-C on the user's terminal reaches the CLI alone, which
            // passes it on once (through the helper), instead of hitting every process twice.
            libc::setsid();
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| InitError::io(Step::Spawn, None, &e))?;
    drop(cfg_r);
    drop(err_w);
    let pid = Pid::from_raw(child.id() as i32)
        .ok_or_else(|| InitError::msg(Step::Spawn, None, "spawn gave pid 0"))?;
    let pidfd = match rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            let mut c = child;
            let _ = c.kill();
            let _ = c.wait();
            return Err(InitError::sys(Step::Spawn, None, e));
        }
    };
    let mut ec = ExecChild { child, pidfd };
    let fail = |ec: &mut ExecChild, e: InitError| -> InitError {
        let _ = ec.signal(Signal::KILL);
        let _ = ec.child.wait();
        e
    };

    for dir in &cgroups {
        let procs = dir.join("cgroup.procs");
        if let Err(e) = std::fs::write(&procs, pid.as_raw_nonzero().to_string()) {
            return Err(fail(
                &mut ec,
                InitError::io(Step::Cgroups, Some(&procs), &e),
            ));
        }
    }
    let payload = serde_json::to_vec(cfg)
        .map_err(|e| InitError::msg(Step::Handshake, None, e.to_string()))?;
    let write = std::fs::File::from(cfg_w).write_all(&payload);
    let mut msg = Vec::new();
    let read = std::fs::File::from(err_r).read_to_end(&mut msg);
    if !msg.is_empty() {
        let err = serde_json::from_slice::<InitError>(&msg).unwrap_or_else(|_| {
            InitError::msg(
                Step::Handshake,
                None,
                String::from_utf8_lossy(&msg).into_owned(),
            )
        });
        // The helper exits on its own after reporting; reap it.
        let _ = ec.child.wait();
        return Err(err);
    }
    if let Err(e) = write.and(read) {
        return Err(fail(&mut ec, InitError::io(Step::Handshake, None, &e)));
    }
    Ok(ec)
}

fn not_running(pid: i32, e: &std::io::Error) -> InitError {
    InitError {
        step: Step::Namespaces,
        path: None,
        errno: e.raw_os_error(),
        message: format!("the container's process {pid} is not running"),
    }
}

/// Runs the command in the foreground: starts it, forwards the signals the CLI receives to it,
/// and with `pty` (the command's stdio is that terminal's slave side) copies between the user's
/// terminal and the master side until it exits.
pub fn run(cfg: &ExecConfig, stdio: &Stdio<'_>, pty: Option<&Pty>) -> Result<Exit, InitError> {
    let mut child = super::container::attend(
        pty,
        || start(cfg, stdio),
        |c| c.pidfd.as_raw_fd(),
        |c, sig| {
            let _ = c.signal(sig);
        },
    )?;
    child.wait()
}

// ---------------------------------------------------------------------------------------------
// The helper process: `compose __exec`.

/// Files of the container's root, read directly: the helper is in its mount namespace.
struct LiveRoot;

impl RootfsFiles for LiveRoot {
    fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }
}

/// Entry point of `compose __exec`; never returns.
pub fn main() -> ! {
    // SAFETY: the spawner put the error pipe at ERROR_FD; nothing else owns it.
    let err_fd = unsafe { OwnedFd::from_raw_fd(ERROR_FD) };
    let _ = rustix::io::fcntl_setfd(&err_fd, rustix::io::FdFlags::CLOEXEC);
    let mut err_fd = Some(err_fd);
    let e = match helper(&mut err_fd) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    if let Some(fd) = err_fd {
        let _ = std::fs::File::from(fd).write_all(&serde_json::to_vec(&e).unwrap_or_default());
    }
    std::process::exit(exit_code(&e))
}

/// The command's pid, for the signal handler.
static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = CHILD.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

fn helper(err_fd: &mut Option<OwnedFd>) -> Result<std::convert::Infallible, InitError> {
    use rustix::process::DumpableBehavior;
    rustix::process::set_dumpable_behavior(DumpableBehavior::NotDumpable)
        .map_err(|e| InitError::sys(Step::Spawn, None, e))?;
    // Nothing the CLI happened to leave open may reach the container.
    super::fds::close_from(ERROR_FD + 1).map_err(|e| InitError::io(Step::Spawn, None, &e))?;

    // SAFETY: the spawner put the configuration pipe at CONFIG_FD; nothing else owns it.
    let mut cfg_file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(CONFIG_FD) });
    let mut buf = Vec::new();
    cfg_file
        .read_to_end(&mut buf)
        .map_err(|e| InitError::io(Step::Handshake, None, &e))?;
    drop(cfg_file);
    let cfg: ExecConfig = serde_json::from_slice(&buf)
        .map_err(|e| InitError::msg(Step::Handshake, None, e.to_string()))?;

    let raw_pid = Pid::from_raw(cfg.pid)
        .ok_or_else(|| InitError::msg(Step::Namespaces, None, "invalid pid 0"))?;
    let pidfd = rustix::process::pidfd_open(raw_pid, rustix::process::PidfdFlags::empty())
        .map_err(|e| not_running(cfg.pid, &e.into()))?;
    // Checked after opening: from here on the descriptor is that very process.
    if !state::same_process(Some(cfg.pid), Some(cfg.pid_start)) {
        return Err(not_running(
            cfg.pid,
            &std::io::Error::from_raw_os_error(libc::ESRCH),
        ));
    }

    // What needs the host's /proc, before the mount namespace changes.
    copy_limits(cfg.pid)?;
    let flags = differing_namespaces(cfg.pid)?;
    let last_cap = caps::kernel_last_cap()
        .map_err(|e| InitError::msg(Step::Capabilities, None, e.to_string()))?;

    rustix::thread::move_into_thread_name_spaces(pidfd.as_fd(), flags)
        .map_err(|e| InitError::sys(Step::Namespaces, None, e))?;
    drop(pidfd);

    let spec = process_spec(&cfg, last_cap)?;
    let (argv, envp) = argv_envp(&cfg.args, &spec.process.env)?;

    let (sync_r, sync_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| InitError::sys(Step::Spawn, None, e))?;
    // SAFETY: a single-threaded process; the child continues with the standard library.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(InitError::io(
            Step::Spawn,
            None,
            &std::io::Error::last_os_error(),
        ));
    }
    if pid == 0 {
        drop(sync_r);
        let e = match command_child(&cfg, &spec, &argv, &envp) {
            Ok(never) => match never {},
            Err(e) => e,
        };
        let _ = std::fs::File::from(sync_w).write_all(&serde_json::to_vec(&e).unwrap_or_default());
        // SAFETY: leaving the forked child without running the parent's exit handlers.
        unsafe { libc::_exit(exit_code(&e)) };
    }
    CHILD.store(pid, Ordering::Relaxed);
    drop(sync_w);
    let mut msg = Vec::new();
    let _ = std::fs::File::from(sync_r).read_to_end(&mut msg);
    if !msg.is_empty() {
        let _ = wait_child(pid);
        return Err(
            serde_json::from_slice::<InitError>(&msg).unwrap_or_else(|_| {
                InitError::msg(Step::Exec, None, String::from_utf8_lossy(&msg).into_owned())
            }),
        );
    }
    // The command runs: end-of-file on the error pipe tells the CLI.
    drop(err_fd.take());
    if cfg.detach {
        std::process::exit(0);
    }
    for sig in [
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGWINCH,
        libc::SIGCONT,
    ] {
        // SAFETY: installing a handler that only calls kill.
        unsafe { libc::signal(sig, forward as *const () as libc::sighandler_t) };
    }
    std::process::exit(wait_child(pid).code())
}

fn wait_child(pid: libc::pid_t) -> Exit {
    loop {
        let mut status = 0;
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            if libc::WIFEXITED(status) {
                return Exit::Code(libc::WEXITSTATUS(status));
            }
            if libc::WIFSIGNALED(status) {
                return Exit::Signal(libc::WTERMSIG(status));
            }
            continue;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return Exit::Code(255);
        }
    }
}

/// Gives this process the resource limits and OOM score of the container's PID 1, which the
/// command then inherits (they were set up by `compose __init`).
fn copy_limits(pid: i32) -> Result<(), InitError> {
    for res in [
        libc::RLIMIT_CPU,
        libc::RLIMIT_FSIZE,
        libc::RLIMIT_DATA,
        libc::RLIMIT_STACK,
        libc::RLIMIT_CORE,
        libc::RLIMIT_RSS,
        libc::RLIMIT_NPROC,
        libc::RLIMIT_NOFILE,
        libc::RLIMIT_MEMLOCK,
        libc::RLIMIT_AS,
        libc::RLIMIT_LOCKS,
        libc::RLIMIT_SIGPENDING,
        libc::RLIMIT_MSGQUEUE,
        libc::RLIMIT_NICE,
        libc::RLIMIT_RTPRIO,
        libc::RLIMIT_RTTIME,
    ] {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: reading another process's limit into local storage.
        if unsafe { libc::prlimit(pid, res, std::ptr::null(), &mut lim) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ESRCH) {
                return Err(not_running(pid, &e));
            }
            // A limit this kernel does not have.
            continue;
        }
        // SAFETY: setting our own limit from a valid struct.
        if unsafe { libc::prlimit(0, res, &lim, std::ptr::null_mut()) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(InitError::io(Step::Rlimits, None, &e));
        }
    }
    let src = PathBuf::from(format!("/proc/{pid}/oom_score_adj"));
    if let Ok(adj) = std::fs::read_to_string(&src) {
        let dst = Path::new("/proc/self/oom_score_adj");
        std::fs::write(dst, adj.trim()).map_err(|e| InitError::io(Step::Rlimits, Some(dst), &e))?;
    }
    Ok(())
}

/// The namespaces of `pid` that are not ours (with `network_mode: host` the network one is the
/// host's; a kernel without cgroup namespaces has no such link).
fn differing_namespaces(pid: i32) -> Result<ThreadNameSpaceType, InitError> {
    use std::os::unix::fs::MetadataExt;
    let mut flags = ThreadNameSpaceType::empty();
    for (name, flag) in [
        ("mnt", ThreadNameSpaceType::MOUNT),
        ("uts", ThreadNameSpaceType::HOST_NAME_AND_NIS_DOMAIN_NAME),
        ("ipc", ThreadNameSpaceType::INTER_PROCESS_COMMUNICATION),
        ("net", ThreadNameSpaceType::NETWORK),
        ("pid", ThreadNameSpaceType::PROCESS_ID),
        ("cgroup", ThreadNameSpaceType::CONTROL_GROUP),
    ] {
        let theirs = PathBuf::from(format!("/proc/{pid}/ns/{name}"));
        let theirs = match std::fs::metadata(&theirs) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && name == "cgroup" => continue,
            Err(e) => return Err(InitError::io(Step::Namespaces, Some(&theirs), &e)),
        };
        let ours = PathBuf::from(format!("/proc/self/ns/{name}"));
        let ours = std::fs::metadata(&ours)
            .map_err(|e| InitError::io(Step::Namespaces, Some(&ours), &e))?;
        if (theirs.dev(), theirs.ino()) != (ours.dev(), ours.ino()) {
            flags |= flag;
        }
    }
    Ok(flags)
}

/// The container's spec with the process settings of this exec: user (resolved in the
/// container's own files), environment, working directory, capabilities and seccomp.
fn process_spec(cfg: &ExecConfig, last_cap: u8) -> Result<ContainerSpec, InitError> {
    let mut spec = cfg.spec.clone();
    let p = &mut spec.process;
    if let Some(u) = &cfg.user {
        p.user = user::resolve_user(u, &[], &LiveRoot)
            .map_err(|e| InitError::msg(Step::User, None, e.to_string()))?;
    }
    let caps_list = if cfg.privileged {
        caps::all_capabilities(last_cap)
    } else {
        p.capabilities.bounding.clone()
    };
    if cfg.privileged || cfg.user.is_some() {
        p.capabilities = caps::process_capabilities(&caps_list, p.user.uid);
    }
    if cfg.privileged {
        spec.seccomp = None;
    }
    let mut env = merge_env(&p.env, &cfg.env);
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", p.user.home.as_deref().unwrap_or("/")));
    }
    p.env = env;
    if let Some(w) = &cfg.workdir {
        p.cwd = w.clone();
    }
    if p.cwd.is_empty() {
        p.cwd = "/".into();
    }
    p.args = cfg.args.clone();
    Ok(spec)
}

fn cstring(s: &str) -> Result<CString, InitError> {
    CString::new(s)
        .map_err(|_| InitError::msg(Step::Exec, None, format!("{s:?} contains a NUL byte")))
}

fn argv_envp(args: &[String], env: &[String]) -> Result<(Vec<CString>, Vec<CString>), InitError> {
    if args.is_empty() {
        return Err(InitError::msg(Step::Exec, None, "no command specified"));
    }
    let argv = args.iter().map(|a| cstring(a)).collect::<Result<_, _>>()?;
    let envp = env.iter().map(|e| cstring(e)).collect::<Result<_, _>>()?;
    Ok((argv, envp))
}

/// The executable for `first`: itself when it holds a `/`, else the first executable file of
/// that name in `path_var`'s directories.
fn lookup(first: &str, path_var: Option<&str>) -> Result<String, InitError> {
    if first.contains('/') {
        return Ok(first.to_string());
    }
    path_var
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| format!("{}/{first}", d.trim_end_matches('/')))
        .find(|p| {
            rustix::fs::access(p.as_str(), rustix::fs::Access::EXEC_OK).is_ok()
                && Path::new(p).is_file()
        })
        .ok_or_else(|| InitError {
            step: Step::Exec,
            path: Some(first.to_string()),
            errno: Some(libc::ENOENT),
            message: "executable file not found in $PATH".into(),
        })
}

/// The forked child, inside the container's PID namespace: becomes the command.
fn command_child(
    cfg: &ExecConfig,
    spec: &ContainerSpec,
    argv: &[CString],
    envp: &[CString],
) -> Result<std::convert::Infallible, InitError> {
    rustix::process::setsid().map_err(|e| InitError::sys(Step::Exec, None, e))?;
    if cfg.tty {
        rustix::process::ioctl_tiocsctty(rustix::stdio::stdin())
            .map_err(|e| InitError::sys(Step::Exec, Some(Path::new("/dev/tty")), e))?;
    }
    let cwd = Path::new(&spec.process.cwd);
    rustix::process::chdir(cwd).map_err(|e| InitError::sys(Step::WorkingDir, Some(cwd), e))?;
    let path_var = spec
        .process
        .env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="));
    let exe = cstring(&lookup(&cfg.args[0], path_var)?)?;
    super::signals::reset_signals();
    // The helper's own descriptors (the error and sync pipes) close with the exec.
    super::fds::cloexec_from(libc::STDERR_FILENO + 1)
        .map_err(|e| InitError::io(Step::Exec, None, &e))?;
    security::enter(spec)?;

    let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    a.push(std::ptr::null());
    let mut e: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    e.push(std::ptr::null());
    // SAFETY: NUL-terminated arrays of valid C strings that outlive the call.
    unsafe { libc::execve(exe.as_ptr(), a.as_ptr(), e.as_ptr()) };
    let err = std::io::Error::last_os_error();
    Err(InitError::io(
        Step::Exec,
        Some(Path::new(&*exe.to_string_lossy())),
        &err,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn env_overrides_replace_in_place_and_new_keys_append() {
        let base = s(&["PATH=/bin", "A=1", "B=2"]);
        assert_eq!(
            merge_env(&base, &s(&["A=x", "C=3", "PATH=/usr/bin"])),
            s(&["PATH=/usr/bin", "A=x", "B=2", "C=3"])
        );
        assert_eq!(merge_env(&base, &[]), base);
        // A value may itself hold `=`; an empty value is a value.
        assert_eq!(
            merge_env(&s(&["A=1"]), &s(&["A=b=c", "D="])),
            s(&["A=b=c", "D="])
        );
    }

    #[test]
    fn cgroup_dirs_map_every_hierarchy_of_a_hybrid_host() {
        let mountinfo = "\
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";
        let layout = Layout::from_mountinfo(mountinfo, "").expect("layout");
        let proc_cgroup = "\
9:name=systemd:/
4:memory:/compose/p/abc
2:cpuacct,cpu:/compose/p/abc
0::/compose/p/abc
";
        let dirs = cgroup_dirs(&layout, proc_cgroup).expect("dirs");
        assert_eq!(
            dirs,
            vec![
                PathBuf::from("/sys/fs/cgroup/memory/compose/p/abc"),
                PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/compose/p/abc"),
                PathBuf::from("/sys/fs/cgroup/unified/compose/p/abc"),
            ]
        );
    }

    #[test]
    fn cgroup_outside_the_mount_is_refused() {
        let mountinfo = "35 31 0:32 /docker/x /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let layout = Layout::from_mountinfo(mountinfo, "").expect("layout");
        assert_eq!(
            cgroup_dirs(&layout, "0::/docker/x/compose/c\n").expect("inside"),
            vec![PathBuf::from("/sys/fs/cgroup/compose/c")]
        );
        assert!(cgroup_dirs(&layout, "0::/elsewhere\n").is_err());
    }

    #[test]
    fn lookup_searches_path_and_reports_not_found_as_127() {
        assert_eq!(lookup("./x", None).expect("path"), "./x");
        let found = lookup("sh", Some("/nonexistent:/bin")).expect("sh in /bin");
        assert_eq!(found, "/bin/sh");
        let e = lookup("no-such-command-here", Some("/bin")).expect_err("missing");
        assert_eq!(exit_code(&e), 127);
        assert_eq!(exit_code(&InitError::msg(Step::User, None, "x")), 126);
    }
}
