//! The container set-up process: `compose __init`, executed (from a sealed copy of this binary)
//! as PID 1 of the container's new namespaces by [`super::process::spawn`].
//!
//! It is single-threaded and runs before anything else in `main`, so it may allocate and use
//! the standard library freely. It reads its [`InitConfig`] from [`CONFIG_FD`] (which also makes
//! it wait until the parent has placed it in its cgroup), builds the container's view of the
//! world, drops privileges and executes the user's command; a failure is written to [`ERROR_FD`]
//! for the parent to report. With `init: true` it stays as a small reaping PID 1 instead.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

use serde::{Deserialize, Serialize};

use super::error::{InitError, Step};
use super::mounter::{Kernel, Mounter};
use super::{namespaces, net, rootfs, volume};
use crate::engine::cgroups::CgroupMount;
use crate::engine::spec::{ContainerSpec, NetworkMode, Rlimit};

/// The hidden argument that selects this entry point.
pub const INIT_ARG: &str = "__init";
/// Descriptor on which the configuration arrives.
pub const CONFIG_FD: RawFd = 3;
/// Close-on-exec descriptor on which a set-up error is reported.
pub const ERROR_FD: RawFd = 4;

/// Everything the set-up process needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InitConfig {
    pub spec: ContainerSpec,
    /// The container's state directory: `upper/`, `work/`, `merged/` and the /etc files.
    pub container_dir: PathBuf,
    /// Host path of the pseudo-terminal given as stdio, bound at /dev/console.
    pub console: Option<PathBuf>,
    /// Kill the container when the process that started it dies (foreground `run`).
    pub die_with_parent: bool,
    /// The host's cgroup hierarchies, mounted (read-only) under /sys/fs/cgroup; seen through the
    /// container's cgroup namespace they show its own cgroup as the root, as with Docker.
    #[serde(default)]
    pub cgroup_mounts: Vec<CgroupMount>,
    /// The `tasks` files of the v1 hierarchies' cgroups this process moves itself into, first
    /// thing (see [`crate::engine::cgroups::Birthplace`]: being moved by the parent would wait
    /// for an RCU grace period).
    #[serde(default)]
    pub join_cgroups: Vec<PathBuf>,
}

/// Entry point of `compose __init`; never returns.
pub fn main() -> ! {
    // SAFETY: the spawner put the error pipe at ERROR_FD; nothing else owns it.
    let err_fd = unsafe { OwnedFd::from_raw_fd(ERROR_FD) };
    // Closed by a successful exec of the user's command: that is how the parent learns of it.
    let _ = rustix::io::fcntl_setfd(&err_fd, rustix::io::FdFlags::CLOEXEC);
    let e = match run() {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let mut f = std::fs::File::from(err_fd);
    let _ = f.write_all(&serde_json::to_vec(&e).unwrap_or_default());
    std::process::exit(e.exit_code())
}

fn run() -> Result<std::convert::Infallible, InitError> {
    use rustix::process::DumpableBehavior;
    rustix::process::set_dumpable_behavior(DumpableBehavior::NotDumpable)
        .map_err(|e| InitError::sys(Step::Spawn, None, e))?;
    // Whatever the CLI or the monitor left open must not reach the container, not even as
    // a working directory (`/proc/self/fd/N`): closed before anything else happens.
    super::fds::close_from(ERROR_FD + 1).map_err(|e| InitError::io(Step::Spawn, None, &e))?;

    // SAFETY: the spawner put the configuration pipe at CONFIG_FD; nothing else owns it.
    let mut cfg_file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(CONFIG_FD) });
    let mut buf = Vec::new();
    cfg_file
        .read_to_end(&mut buf)
        .map_err(|e| InitError::io(Step::Handshake, None, &e))?;
    drop(cfg_file);
    let cfg: InitConfig = serde_json::from_slice(&buf)
        .map_err(|e| InitError::msg(Step::Handshake, None, e.to_string()))?;
    let spec = &cfg.spec;
    join_cgroups(&cfg.join_cgroups)?;

    if cfg.die_with_parent {
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
            .map_err(|e| InitError::sys(Step::Spawn, None, e))?;
    }

    // Whether net.* sysctls would change our own network namespace and not the host's.
    let mut own_netns = spec.network == NetworkMode::Loopback;
    if let NetworkMode::Join { netns, container } = &spec.network {
        let path = netns.as_deref().ok_or_else(|| {
            InitError::msg(
                Step::Namespaces,
                None,
                format!("container {container} to share the network of is not running"),
            )
        })?;
        let ns = std::fs::File::open(path)
            .map_err(|e| InitError::io(Step::Namespaces, Some(path), &e))?;
        let ours = netns_id()?;
        rustix::thread::move_into_link_name_space(
            ns.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .map_err(|e| InitError::sys(Step::Namespaces, Some(path), e))?;
        // The same as before: the other container uses the host's network.
        own_netns = netns_id()? != ours;
    }

    namespaces::join_ipc(&spec.namespaces)?;
    // The cgroup namespace is made now that the parent has put us in our cgroup, so that its
    // root is the container's own cgroup.
    if namespaces::own_cgroupns(&spec.namespaces) {
        // SAFETY: a single-threaded process; a new cgroup namespace changes no file descriptor.
        unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWCGROUP) }
            .map_err(|e| InitError::sys(Step::Namespaces, None, e))?;
    }

    // With `uts: host` the name is the host's, and stays so.
    if namespaces::own_uts(&spec.namespaces) {
        rustix::system::sethostname(spec.hostname.as_bytes())
            .map_err(|e| InitError::sys(Step::Hostname, None, e))?;
    }
    if let Some(d) = spec
        .domainname
        .as_ref()
        .filter(|_| namespaces::own_uts(&spec.namespaces))
    {
        rustix::system::setdomainname(d.as_bytes())
            .map_err(|e| InitError::sys(Step::Hostname, None, e))?;
    }

    // Nothing mounted from here on may propagate back to the host.
    rustix::mount::mount_change(
        "/",
        rustix::mount::MountPropagationFlags::PRIVATE | rustix::mount::MountPropagationFlags::REC,
    )
    .map_err(|e| InitError::sys(Step::Rootfs, Some(Path::new("/")), e))?;

    let merged = cfg.container_dir.join("merged");
    let m = &Kernel;
    rootfs::mount_overlay(m, spec, &cfg.container_dir, &merged)?;
    let root = m
        .open_root(&merged)
        .map_err(|e| InitError::sys(Step::Rootfs, Some(&merged), e))?;
    rootfs::mount_system(m, &root, spec)?;
    namespaces::mount_shared_shm(&root, &spec.namespaces)?;
    // Before any user mount can cover or replace it.
    let null = super::masks::open_null(m, &root)?;
    rootfs::mount_cgroups(m, &root, &cfg.cgroup_mounts, spec.privileged)?;
    if let Some(console) = &cfg.console {
        rootfs::mount_console(m, &root, console)?;
    }
    volume::prefill(&root, spec)?;
    rootfs::mount_user(m, &root, spec)?;
    rootfs::mount_etc_files(m, &root, &cfg.container_dir, false)?;
    drop(root);
    rootfs::pivot(m, &merged)?;
    // Before /proc/sys becomes read-only.
    super::sysctl::apply(&spec.sysctls, own_netns)?;
    super::masks::apply(m, spec, &null)?;
    drop(null);

    if spec.rootfs.read_only {
        rootfs::make_root_readonly(m)?;
    }
    if spec.network == NetworkMode::Loopback {
        net::loopback_up()?;
    }
    for r in &spec.process.rlimits {
        set_rlimit(r)?;
    }
    if let Some(adj) = spec.process.oom_score_adj {
        let p = Path::new("/proc/self/oom_score_adj");
        std::fs::write(p, adj.to_string())
            .map_err(|e| InitError::io(Step::Rlimits, Some(p), &e))?;
    }

    let cwd = if spec.process.cwd.is_empty() {
        "/"
    } else {
        spec.process.cwd.as_str()
    };
    if !Path::new(cwd).is_dir() {
        std::fs::create_dir_all(cwd)
            .map_err(|e| InitError::io(Step::WorkingDir, Some(Path::new(cwd)), &e))?;
    }
    rustix::process::chdir(cwd)
        .map_err(|e| InitError::sys(Step::WorkingDir, Some(Path::new(cwd)), e))?;

    if spec.process.terminal {
        let user = &spec.process.user;
        super::pty::take_as_controlling(user.uid, user.gid)?;
    }

    super::signals::reset_signals();
    // Nothing opened during the set-up survives into the command (the error pipe closes with the
    // exec, which tells the parent it happened).
    super::fds::cloexec_from(libc::STDERR_FILENO + 1)
        .map_err(|e| InitError::io(Step::Exec, None, &e))?;

    let (path, argv, envp) = command(spec)?;
    super::security::enter(spec)?;

    if spec.init {
        return run_as_init(&path, &argv, &envp);
    }
    exec(&path, &argv, &envp)
}

/// The identity of this process's network namespace.
fn netns_id() -> Result<(u64, u64), InitError> {
    let p = Path::new("/proc/self/ns/net");
    let st = rustix::fs::stat(p).map_err(|e| InitError::sys(Step::Namespaces, Some(p), e))?;
    Ok((st.st_dev, st.st_ino))
}

fn set_rlimit(r: &Rlimit) -> Result<(), InitError> {
    use rustix::process::Resource;
    let res = match r
        .resource
        .to_ascii_uppercase()
        .trim_start_matches("RLIMIT_")
    {
        "AS" => Resource::As,
        "CORE" => Resource::Core,
        "CPU" => Resource::Cpu,
        "DATA" => Resource::Data,
        "FSIZE" => Resource::Fsize,
        "LOCKS" => Resource::Locks,
        "MEMLOCK" => Resource::Memlock,
        "MSGQUEUE" => Resource::Msgqueue,
        "NICE" => Resource::Nice,
        "NOFILE" => Resource::Nofile,
        "NPROC" => Resource::Nproc,
        "RSS" => Resource::Rss,
        "RTPRIO" => Resource::Rtprio,
        "RTTIME" => Resource::Rttime,
        "SIGPENDING" => Resource::Sigpending,
        "STACK" => Resource::Stack,
        other => {
            return Err(InitError::msg(
                Step::Rlimits,
                None,
                format!("unknown resource limit {other}"),
            ))
        }
    };
    let lim = |v: u64| if v == u64::MAX { None } else { Some(v) };
    rustix::process::setrlimit(
        res,
        rustix::process::Rlimit {
            current: lim(r.soft),
            maximum: lim(r.hard),
        },
    )
    .map_err(|e| InitError::sys(Step::Rlimits, None, e))
}

/// The executable (looked up in the container's PATH), argv and environment.
fn command(spec: &ContainerSpec) -> Result<(CString, Vec<CString>, Vec<CString>), InitError> {
    let args = &spec.process.args;
    let Some(first) = args.first() else {
        return Err(InitError::msg(Step::Exec, None, "no command specified"));
    };
    let cstr = |s: &str| {
        CString::new(s)
            .map_err(|_| InitError::msg(Step::Exec, None, format!("{s:?} contains a NUL byte")))
    };
    let mut env: Vec<String> = spec.process.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!(
            "HOME={}",
            spec.process.user.home.as_deref().unwrap_or("/")
        ));
    }
    let path_var = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let exe = if first.contains('/') {
        first.clone()
    } else {
        path_var
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| format!("{}/{first}", d.trim_end_matches('/')))
            .find(|p| {
                rustix::fs::access(p.as_str(), rustix::fs::Access::EXEC_OK).is_ok()
                    && Path::new(p).is_file()
            })
            .ok_or_else(|| InitError {
                step: Step::Exec,
                path: Some(first.clone()),
                errno: Some(libc::ENOENT),
                message: "executable file not found in $PATH".into(),
            })?
    };
    let argv = args
        .iter()
        .map(|a| cstr(a))
        .collect::<Result<Vec<_>, _>>()?;
    let envp = env.iter().map(|e| cstr(e)).collect::<Result<Vec<_>, _>>()?;
    Ok((cstr(&exe)?, argv, envp))
}

fn exec(
    path: &CString,
    argv: &[CString],
    envp: &[CString],
) -> Result<std::convert::Infallible, InitError> {
    let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    a.push(std::ptr::null());
    let mut e: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    e.push(std::ptr::null());
    // SAFETY: NUL-terminated arrays of valid C strings that outlive the call.
    unsafe { libc::execve(path.as_ptr(), a.as_ptr(), e.as_ptr()) };
    let err = std::io::Error::last_os_error();
    Err(InitError::io(
        Step::Exec,
        Some(Path::new(&*path.to_string_lossy())),
        &err,
    ))
}

/// The pid of the command when this process stays as init, for the signal handler.
static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = CHILD.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// `init: true`: fork the command, forward signals to it, reap every orphan, and exit with the
/// command's status (128 + signal when it was killed), like tini.
fn run_as_init(
    path: &CString,
    argv: &[CString],
    envp: &[CString],
) -> Result<std::convert::Infallible, InitError> {
    // SAFETY: single-threaded process; the child only execs.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(InitError::io(
            Step::Exec,
            None,
            &std::io::Error::last_os_error(),
        ));
    }
    if pid == 0 {
        let e = match exec(path, argv, envp) {
            Ok(never) => match never {},
            Err(e) => e,
        };
        // SAFETY: ERROR_FD is still open in this child (it was not consumed by main yet).
        let mut f = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(ERROR_FD) });
        let _ = f.write_all(&serde_json::to_vec(&e).unwrap_or_default());
        std::process::exit(if e.errno == Some(libc::ENOENT) {
            127
        } else {
            126
        });
    }
    CHILD.store(pid, Ordering::Relaxed);
    // Our copy of the error pipe must close so the parent sees the command's exec.
    // SAFETY: closing a descriptor we own; main's OwnedFd is never used after this path.
    unsafe { libc::close(ERROR_FD) };
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
    loop {
        let mut status = 0;
        // SAFETY: plain waitpid on any child.
        let r = unsafe { libc::waitpid(-1, &mut status, 0) };
        if r < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            std::process::exit(125);
        }
        if r == pid {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            };
            std::process::exit(code);
        }
    }
}

/// Moves this process into its v1 cgroups: `0` written to a hierarchy's `tasks` moves the
/// writing thread alone, which takes none of the locks that moving a whole process takes, and
/// this process has only the one thread.
fn join_cgroups(tasks: &[PathBuf]) -> Result<(), InitError> {
    for path in tasks {
        let fd = rustix::fs::open(
            path,
            rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| InitError::sys(Step::Cgroups, Some(path), e))?;
        rustix::io::write(&fd, b"0").map_err(|e| InitError::sys(Step::Cgroups, Some(path), e))?;
    }
    Ok(())
}
