//! Starting a container process: the parent side.
//!
//! The caller may be multi-threaded (tests are; `up` will run a tokio runtime), so after the
//! `clone3` that creates the namespaces the child does nothing but async-signal-safe system calls:
//! it moves its pipe ends to fixed descriptors and executes a fresh copy of this binary as
//! `compose __init` (see [`super::init`]), which does the real set-up single-threaded.
//!
//! The binary is executed through a read-only detached mount of it (or a sealed memfd copy where
//! the kernel lacks the new mount API), never through a writable path: a process inside the
//! container must not be able to open the host binary for writing through `/proc/<pid>/exe` while
//! the set-up process is still running it (runc's CVE-2019-5736). The set-up process also makes
//! itself non-dumpable first thing, which closes /proc/<pid>/exe to the container altogether.
//!
//! The handshake: the child blocks reading its configuration from a pipe, so the parent first
//! moves its network interfaces in, then writes the configuration. Its cgroups it does not move
//! it into (that waits for an RCU grace period): it is born in its cgroup2 cgroup and moves
//! itself into its v1 ones once it has read the configuration, before anything else (see
//! [`crate::engine::cgroups::Birthplace`]).
//! A second, close-on-exec pipe carries a set-up error back; end-of-file on it without a message
//! means the user's command was executed.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

use rustix::fs::{MemfdFlags, SealFlags};
use rustix::process::Pid;

use super::error::{InitError, Step};
use super::init::{InitConfig, CONFIG_FD, ERROR_FD, INIT_ARG};
use crate::engine::spec::NetworkMode;

/// The kernel's `struct clone_args` (stable ABI, see clone3(2)); rustix has no clone3.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// A started container process (its PID 1, as seen from the host).
#[derive(Debug)]
pub struct Child {
    pub pid: Pid,
    /// Signals go through the pidfd so a recycled pid is never hit.
    pub pidfd: OwnedFd,
}

/// Standard input, output and error for the container process.
pub struct Stdio<'a> {
    pub stdin: std::os::fd::BorrowedFd<'a>,
    pub stdout: std::os::fd::BorrowedFd<'a>,
    pub stderr: std::os::fd::BorrowedFd<'a>,
}

impl Stdio<'static> {
    /// This process's own standard streams.
    pub fn inherit() -> Self {
        Stdio {
            stdin: rustix::stdio::stdin(),
            stdout: rustix::stdio::stdout(),
            stderr: rustix::stdio::stderr(),
        }
    }
}

/// The binary that provides `compose __init` when it is not this executable (test harnesses and
/// library users); set before the first container starts.
static INIT_EXECUTABLE: OnceLock<std::path::PathBuf> = OnceLock::new();

/// Uses `path` (a `compose` binary) for container set-up instead of this executable.
pub fn set_init_executable(path: impl Into<std::path::PathBuf>) {
    let _ = INIT_EXECUTABLE.set(path.into());
}

/// The `compose` binary to execute for helper processes that stay outside every container
/// (the monitor); whatever enters a container starts from [`protected_command`] instead.
pub fn compose_executable() -> std::path::PathBuf {
    INIT_EXECUTABLE
        .get()
        .cloned()
        .unwrap_or_else(|| std::path::PathBuf::from("/proc/self/exe"))
}

/// The executable for `compose __init`, as a descriptor no container can write through: a
/// read-only, detached bind mount of the binary (open_tree + mount_setattr, Linux 5.12+: no copy,
/// nothing in any mount table), else a sealed memfd copy (what runc did; copying the binary costs
/// milliseconds per container). Made once per process.
fn sealed_exe() -> Result<RawFd, InitError> {
    static EXE: OnceLock<Result<OwnedFd, InitError>> = OnceLock::new();
    let r = EXE.get_or_init(|| {
        let path = INIT_EXECUTABLE
            .get()
            .map(|p| p.as_path())
            .unwrap_or(std::path::Path::new("/proc/self/exe"));
        readonly_mount_of(path).or_else(|_| memfd_copy_of(path))
    });
    match r {
        Ok(fd) => Ok(fd.as_raw_fd()),
        Err(e) => Err(e.clone()),
    }
}

/// A command that runs `compose` from the protected executable (see [`sealed_exe`]), for helpers
/// that enter a container (`__exec`): started from `/proc/self/exe`, a `#!/proc/self/exe` script
/// in the container would run the host binary, and a container process could then write to it
/// through `/proc/<pid>/exe` (CVE-2019-5736). The command executes `/proc/self/fd/N` of the
/// returned descriptor, which must stay open until the command is spawned; it is close-on-exec
/// (the kernel opens the executable before it closes those) and above the handshake descriptors
/// that spawners move into place, so no `pre_exec` step replaces it.
pub fn protected_command() -> Result<(std::process::Command, OwnedFd), InitError> {
    let exe = sealed_exe()?;
    // SAFETY: the descriptor lives in a static for the rest of the process.
    let exe = unsafe { std::os::fd::BorrowedFd::borrow_raw(exe) };
    let fd = rustix::io::fcntl_dupfd_cloexec(exe, ERROR_FD + 1)
        .map_err(|e| InitError::sys(Step::Spawn, None, e))?;
    let cmd = std::process::Command::new(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    Ok((cmd, fd))
}

/// The kernel's `struct mount_attr` (mount_setattr(2)); rustix has no mount_setattr.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn readonly_mount_of(path: &std::path::Path) -> Result<OwnedFd, InitError> {
    use rustix::mount::OpenTreeFlags;
    let fd = rustix::mount::open_tree(
        rustix::fs::CWD,
        path,
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )
    .map_err(|e| InitError::sys(Step::Spawn, Some(path), e))?;
    set_readonly(&fd).map_err(|e| InitError::io(Step::Spawn, Some(path), &e))?;
    Ok(fd)
}

/// Makes the detached mount `fd` (from `open_tree(OPEN_TREE_CLONE)`) read-only: nothing done
/// through it, or through any descriptor opened beneath it, can write.
pub fn set_readonly(fd: &OwnedFd) -> std::io::Result<()> {
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let empty = c"";
    // SAFETY: mount_setattr on a descriptor we own, with a correctly sized attribute struct.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn memfd_copy_of(path: &std::path::Path) -> Result<OwnedFd, InitError> {
    let fail = |e: std::io::Error| InitError::io(Step::Spawn, Some(path), &e);
    let mut src = std::fs::File::open(path).map_err(fail)?;
    let memfd = rustix::fs::memfd_create(
        "compose-init",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )
    .map_err(|e| InitError::sys(Step::Spawn, None, e))?;
    let mut dst = std::fs::File::from(memfd);
    std::io::copy(&mut src, &mut dst).map_err(fail)?;
    let memfd = OwnedFd::from(dst);
    rustix::fs::fcntl_add_seals(
        &memfd,
        SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE,
    )
    .map_err(|e| InitError::sys(Step::Spawn, None, e))?;
    Ok(memfd)
}

/// Starts `compose __init` in new namespaces with `cfg`, calls `place` with its pid before it may
/// proceed (network placement), and returns once the user's command has been executed.
///
/// With `cgroup2` (a cgroup2 directory, opened for reading) the process is born in that cgroup
/// (`CLONE_INTO_CGROUP`), which costs nothing, where moving it in afterwards waits for an RCU
/// grace period (see [`crate::engine::cgroups::Birthplace`]); a kernel that refuses the clone
/// into it gets the move instead. The v1 hierarchies it joins itself (`cfg.join_cgroups`).
pub fn spawn(
    cfg: &InitConfig,
    stdio: &Stdio<'_>,
    cgroup2: Option<BorrowedFd<'_>>,
    place: &mut dyn FnMut(Pid) -> Result<(), InitError>,
) -> Result<Child, InitError> {
    let exe = sealed_exe()?;
    let (cfg_r, cfg_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| InitError::sys(Step::Spawn, None, e))?;
    let (err_r, err_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| InitError::sys(Step::Spawn, None, e))?;

    // Everything the child touches is prepared here: it may not allocate.
    let arg0 = CString::new("compose").expect("static");
    let arg1 = CString::new(INIT_ARG).expect("static");
    let argv: [*const libc::c_char; 3] = [arg0.as_ptr(), arg1.as_ptr(), std::ptr::null()];
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    let empty = CString::new("").expect("static");
    let fds = [
        (stdio.stdin.as_raw_fd(), 0),
        (stdio.stdout.as_raw_fd(), 1),
        (stdio.stderr.as_raw_fd(), 2),
        (cfg_r.as_raw_fd(), CONFIG_FD),
        (err_w.as_raw_fd(), ERROR_FD),
    ];

    let mut flags = libc::CLONE_NEWNS
        | libc::CLONE_PIDFD
        | super::namespaces::clone_flags(&cfg.spec.namespaces);
    if cfg.spec.network == NetworkMode::Loopback {
        flags |= libc::CLONE_NEWNET;
    }
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: flags as u64,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(dir) = cgroup2 {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = dir.as_raw_fd() as u64;
    }

    let pid_ns = super::namespaces::PidForChildren::enter(&cfg.spec.namespaces)?;
    // SAFETY: clone3 without CLONE_VM is a fork; the child branch below only makes raw system
    // calls on memory prepared before the call and ends in execveat or _exit.
    let mut ret = unsafe { clone3(&args) };
    let mut cloned_into = cgroup2.is_some();
    if ret < 0 && cloned_into {
        // A kernel (or cgroup) that refuses CLONE_INTO_CGROUP: born outside, moved in below.
        args.flags &= !CLONE_INTO_CGROUP;
        args.cgroup = 0;
        cloned_into = false;
        // SAFETY: as above.
        ret = unsafe { clone3(&args) };
    }
    // Read before restoring the PID namespace can change errno (never in the child: ret is 0).
    let clone_err = (ret < 0).then(std::io::Error::last_os_error);
    if ret == 0 {
        // Child.
        unsafe { child_exec(&fds, exe, empty.as_ptr(), &argv, &envp) }
    }
    // The child was made (or not) in the other container's PID namespace; this thread's later
    // children must not be.
    let restored = pid_ns.map_or(Ok(()), |p| p.restore());
    if let Some(clone_err) = clone_err {
        let mut e = InitError::io(Step::Spawn, None, &clone_err);
        if let Err(r) = restored {
            e.message = format!("{}; then {r}", e.message);
        }
        return Err(e);
    }
    let pid = Pid::from_raw(ret as i32)
        .ok_or_else(|| InitError::msg(Step::Spawn, None, "clone3 gave pid 0"))?;
    // SAFETY: CLONE_PIDFD stored a new descriptor that we now own.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    let child = Child { pid, pidfd };
    drop(cfg_r);
    drop(err_w);

    let fail = |child: &Child, e: InitError| -> InitError {
        let _ = rustix::process::pidfd_send_signal(&child.pidfd, rustix::process::Signal::KILL);
        let _ = rustix::process::waitpid(Some(child.pid), rustix::process::WaitOptions::empty());
        e
    };
    if let Err(e) = restored {
        return Err(fail(&child, e));
    }
    if let (Some(dir), false) = (cgroup2, cloned_into) {
        if let Err(e) = move_into(dir, pid) {
            return Err(fail(&child, e));
        }
    }

    if let Err(e) = place(pid) {
        return Err(fail(&child, e));
    }
    let payload = serde_json::to_vec(cfg)
        .map_err(|e| InitError::msg(Step::Handshake, None, e.to_string()))?;
    let mut w = std::fs::File::from(cfg_w);
    if let Err(e) = w.write_all(&payload) {
        // The child died before reading: its own error, if any, explains more.
        let mut r = std::fs::File::from(err_r);
        let mut msg = Vec::new();
        let _ = r.read_to_end(&mut msg);
        let err = serde_json::from_slice::<InitError>(&msg)
            .unwrap_or_else(|_| InitError::io(Step::Handshake, None, &e));
        return Err(fail(&child, err));
    }
    drop(w);

    let mut r = std::fs::File::from(err_r);
    let mut msg = Vec::new();
    if let Err(e) = r.read_to_end(&mut msg) {
        return Err(fail(&child, InitError::io(Step::Handshake, None, &e)));
    }
    if !msg.is_empty() {
        let err = serde_json::from_slice::<InitError>(&msg).unwrap_or_else(|_| {
            InitError::msg(
                Step::Handshake,
                None,
                String::from_utf8_lossy(&msg).into_owned(),
            )
        });
        return Err(fail(&child, err));
    }
    Ok(child)
}

/// `clone3`'s flag for a child born in the cgroup2 directory given as `cgroup` (Linux 5.7).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// # Safety
/// As `fork`: in the child, only async-signal-safe calls on memory prepared before the call.
unsafe fn clone3(args: &CloneArgs) -> libc::c_long {
    libc::syscall(
        libc::SYS_clone3,
        args as *const CloneArgs,
        std::mem::size_of::<CloneArgs>(),
    )
}

/// Moves `pid` into the cgroup2 directory `dir` (what `CLONE_INTO_CGROUP` would have done).
fn move_into(dir: BorrowedFd<'_>, pid: Pid) -> Result<(), InitError> {
    let procs = rustix::fs::openat(
        dir,
        "cgroup.procs",
        rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| InitError::sys(Step::Cgroups, None, e))?;
    rustix::io::write(&procs, pid.as_raw_nonzero().get().to_string().as_bytes())
        .map_err(|e| InitError::sys(Step::Cgroups, None, e))?;
    Ok(())
}

/// The child between clone3 and exec: async-signal-safe calls only.
///
/// # Safety
/// Must only be called in the child of a fork-like clone, with pointers valid in this copy of the
/// parent's memory.
unsafe fn child_exec(
    fds: &[(RawFd, RawFd); 5],
    exe: RawFd,
    empty: *const libc::c_char,
    argv: &[*const libc::c_char; 3],
    envp: &[*const libc::c_char; 1],
) -> ! {
    // Move every source above the targets first, so no dup2 overwrites a source still needed.
    // Just above them, not at some round number: a process allowed few descriptors (a low
    // RLIMIT_NOFILE) must still be able to start a container.
    let mut high = [0 as RawFd; 5];
    for (i, (src, _)) in fds.iter().enumerate() {
        let h = libc::fcntl(*src, libc::F_DUPFD_CLOEXEC, ERROR_FD + 1);
        if h < 0 {
            libc::_exit(126);
        }
        high[i] = h;
    }
    let exe = libc::fcntl(exe, libc::F_DUPFD_CLOEXEC, ERROR_FD + 1);
    if exe < 0 {
        libc::_exit(126);
    }
    for (i, (_, dst)) in fds.iter().enumerate() {
        if libc::dup2(high[i], *dst) < 0 {
            libc::_exit(126);
        }
    }
    // The caller may block signals (the foreground loop reads them from a signalfd); a signal
    // mask survives exec, so clear it for the container.
    let mut empty_set: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut empty_set);
    libc::sigprocmask(libc::SIG_SETMASK, &empty_set, std::ptr::null_mut());
    // dup2 cleared close-on-exec on the targets: they survive the exec into `compose __init`,
    // which marks the error pipe close-on-exec again for the user's command.
    libc::syscall(
        libc::SYS_execveat,
        exe,
        empty,
        argv.as_ptr(),
        envp.as_ptr(),
        libc::AT_EMPTY_PATH,
    );
    libc::_exit(126)
}

/// How a container process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// The shell convention Docker follows: the exit code, or 128 + the signal number.
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
}

/// Waits for the container's PID 1 to end.
pub fn wait(child: &Child) -> Result<Exit, InitError> {
    loop {
        match rustix::process::waitpid(Some(child.pid), rustix::process::WaitOptions::empty()) {
            Ok(Some((_, status))) => {
                if let Some(code) = status.exit_status() {
                    return Ok(Exit::Code(code));
                }
                if let Some(sig) = status.terminating_signal() {
                    return Ok(Exit::Signal(sig));
                }
            }
            Ok(None) => continue,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(InitError::sys(Step::Exec, None, e)),
        }
    }
}

/// Sends a signal to the container's PID 1 through its pidfd.
pub fn signal(child: &Child, sig: rustix::process::Signal) -> Result<(), InitError> {
    rustix::process::pidfd_send_signal(child.pidfd.as_fd(), sig)
        .map_err(|e| InitError::sys(Step::Exec, None, e))
}
