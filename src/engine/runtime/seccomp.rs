//! Seccomp: Docker's default profile as Rust data, Docker's JSON profile format
//! (`security_opt: ["seccomp=/path/profile.json"]`), and compiling either into a BPF program
//! ([`spec::SeccompFilter`]) for the architecture this binary runs on, plus [`install`].
//!
//! The meaning follows Docker (moby `profiles/seccomp`) and runc:
//! - a rule applies only when its `includes` hold (all of its capabilities are in the
//!   container's bounding set, the architecture is one of its `arches`, the kernel is at least
//!   `minKernel`) and its `excludes` do not (none of its capabilities, not one of its arches,
//!   kernel below `minKernel`); so CAP_SYS_ADMIN enables `mount`, `unshare`, `clone` with
//!   namespace flags..., CAP_SYS_PTRACE enables `ptrace`, and so on;
//! - the conditions of one rule are ANDed, except when two of them test the same argument: then
//!   each becomes a rule of its own (ORed), as runc does;
//! - a rule whose action is the default action is redundant and skipped; a syscall name the
//!   architecture does not have (`chown32` on x86_64) is skipped.
//!
//! seccompiler gives one program one "match" action; a profile has several (ALLOW, and
//! ERRNO(ENOSYS) for `clone3` in the default one). So each action gets its own seccompiler block,
//! whose "no match" return is rewritten into a jump to the next block; the last block falls into
//! the profile's default action. Blocks are in the order their action first appears.
//!
//! Limits: the program is for the native architecture only (x86_64 or aarch64); a 32-bit
//! (x86/x32/arm) syscall from the container kills the process, where Docker's profile would
//! also filter the compat architectures. `SCMP_ACT_NOTIFY` is not supported.
//!
//! Argument comparisons are 64-bit, as libseccomp's, except for the arguments the kernel
//! declares 32-bit ([`arg_width`]): those compare their low 32 bits, the only ones the kernel
//! reads, so that `socket(AF_VSOCK | 1 << 32, ...)` cannot pass a rule refusing AF_VSOCK.

use std::collections::BTreeMap;
use std::io;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use serde::Deserialize;

use crate::engine::spec;

mod arg_width;

/// A seccomp profile in Docker's JSON format. Unknown fields (`architectures`, `archMap`,
/// `flags`, `listenerPath`, ...) are accepted and ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: String,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub syscalls: Vec<SyscallRule>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    #[serde(default)]
    pub names: Vec<String>,
    /// The old single-name form.
    #[serde(default)]
    pub name: Option<String>,
    pub action: String,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Vec<ArgCondition>,
    #[serde(default)]
    pub includes: RuleFilter,
    #[serde(default)]
    pub excludes: RuleFilter,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgCondition {
    pub index: u8,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    /// `SCMP_CMP_EQ`, `SCMP_CMP_NE`, `SCMP_CMP_LT`, `SCMP_CMP_LE`, `SCMP_CMP_GE`, `SCMP_CMP_GT`,
    /// `SCMP_CMP_MASKED_EQ` (argument & value == valueTwo).
    pub op: String,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleFilter {
    /// `CAP_SYS_ADMIN` etc.
    #[serde(default)]
    pub caps: Vec<String>,
    /// Docker's architecture names: `amd64`, `arm64`, `x86`, `x32`, `arm`, ...
    #[serde(default)]
    pub arches: Vec<String>,
    #[serde(default)]
    pub min_kernel: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("reading seccomp profile {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("parsing seccomp profile {path}: {source}")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("seccomp profile: unsupported action {0:?}")]
    Action(String),
    #[error("seccomp profile: unsupported comparison {0:?}")]
    Op(String),
    #[error("seccomp profile: invalid minKernel {0:?}")]
    Kernel(String),
    #[error("seccomp profile for syscall {name}: {message}")]
    Rule { name: String, message: String },
    #[error("compiling seccomp profile: {0}")]
    Compile(String),
    #[error("seccomp is not supported on architecture {0}")]
    Arch(&'static str),
}

/// Reads a profile file in Docker's JSON format.
pub fn load_profile(path: &std::path::Path) -> Result<Profile, SeccompError> {
    let text = std::fs::read_to_string(path).map_err(|source| SeccompError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_profile(&text, &path.display().to_string())
}

/// Parses a profile in Docker's JSON format; `origin` names it in errors.
pub fn parse_profile(text: &str, origin: &str) -> Result<Profile, SeccompError> {
    serde_json::from_str(text).map_err(|source| SeccompError::Parse {
        path: origin.to_string(),
        source,
    })
}

// ---------------------------------------------------------------------------------------------
// Docker's default profile
// ---------------------------------------------------------------------------------------------

/// Syscalls Docker's default profile allows unconditionally. `io_uring_setup`, `io_uring_enter`
/// and `io_uring_register` are not among them, as in Docker since moby 46762: io_uring has been
/// the way into many kernel privilege escalations, and the operations a ring performs are never
/// seen by seccomp. A `security_opt: seccomp=FILE` profile can allow them.
const DEFAULT_ALLOW: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_time64",
    "futex_waitv",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
];

/// Syscalls allowed when every capability listed is in the bounding set (Docker's
/// capability-gated groups).
const DEFAULT_CAP_GATED: &[(&str, &[&str])] = &[
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    (
        "CAP_SYS_MODULE",
        &["delete_module", "init_module", "finit_module"],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    ),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "CAP_SYS_TIME",
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    (
        "CAP_SYS_NICE",
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
];

/// Syscalls allowed only on some architectures (Docker's names).
const DEFAULT_ARCH_GATED: &[(&[&str], &[&str])] = &[
    (&["ppc64le"], &["sync_file_range2", "swapcontext"]),
    (
        &["arm", "arm64"],
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ],
    ),
    (&["amd64", "x32"], &["arch_prctl"]),
    (&["amd64", "x32", "x86"], &["modify_ldt"]),
    (
        &["s390", "s390x"],
        &[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ],
    ),
    (&["riscv64"], &["riscv_flush_icache"]),
];

/// `personality` values the default profile allows: PER_LINUX, PER_LINUX32, UNAME26,
/// UNAME26|PER_LINUX32, and 0xffffffff (query).
const DEFAULT_PERSONALITIES: [u64; 5] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// The namespace flags of `clone` (CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID,
/// NEWNET): without CAP_SYS_ADMIN, `clone` is allowed only when none is set.
pub const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

/// AF_VSOCK: the default profile refuses such sockets (host communication channel).
const AF_VSOCK: u64 = 40;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn allow(list: &[&str]) -> SyscallRule {
    SyscallRule {
        names: names(list),
        action: "SCMP_ACT_ALLOW".into(),
        ..SyscallRule::default()
    }
}

fn arg(index: u8, op: &str, value: u64) -> ArgCondition {
    ArgCondition {
        index,
        value,
        value_two: 0,
        op: op.into(),
    }
}

/// Docker's default seccomp profile (moby `profiles/seccomp/default.json`, the version with the
/// AF_VSOCK rule), as data in the same shape as a JSON profile.
pub fn default_profile() -> Profile {
    let mut rules = vec![allow(DEFAULT_ALLOW)];
    rules.push(SyscallRule {
        includes: RuleFilter {
            min_kernel: Some("4.8".into()),
            ..RuleFilter::default()
        },
        ..allow(&["process_vm_readv", "process_vm_writev", "ptrace"])
    });
    rules.push(SyscallRule {
        args: vec![arg(0, "SCMP_CMP_NE", AF_VSOCK)],
        ..allow(&["socket"])
    });
    for p in DEFAULT_PERSONALITIES {
        rules.push(SyscallRule {
            args: vec![arg(0, "SCMP_CMP_EQ", p)],
            ..allow(&["personality"])
        });
    }
    for (arches, list) in DEFAULT_ARCH_GATED {
        rules.push(SyscallRule {
            includes: RuleFilter {
                arches: names(arches),
                ..RuleFilter::default()
            },
            ..allow(list)
        });
    }
    for (cap, list) in DEFAULT_CAP_GATED {
        rules.push(SyscallRule {
            includes: RuleFilter {
                caps: vec![cap.to_string()],
                ..RuleFilter::default()
            },
            ..allow(list)
        });
        if *cap == "CAP_SYS_ADMIN" {
            // Without CAP_SYS_ADMIN: clone without namespace flags (arg 1 on s390), and
            // clone3 (whose flags live in memory a filter cannot read) fails with ENOSYS so that
            // libc falls back to clone.
            let no_admin = |arches: &[&str]| RuleFilter {
                caps: vec!["CAP_SYS_ADMIN".into()],
                arches: names(arches),
                ..RuleFilter::default()
            };
            rules.push(SyscallRule {
                args: vec![ArgCondition {
                    op: "SCMP_CMP_MASKED_EQ".into(),
                    ..arg(0, "", CLONE_NAMESPACE_FLAGS)
                }],
                excludes: no_admin(&["s390", "s390x"]),
                ..allow(&["clone"])
            });
            rules.push(SyscallRule {
                args: vec![ArgCondition {
                    op: "SCMP_CMP_MASKED_EQ".into(),
                    ..arg(1, "", CLONE_NAMESPACE_FLAGS)
                }],
                includes: RuleFilter {
                    arches: names(&["s390", "s390x"]),
                    ..RuleFilter::default()
                },
                excludes: no_admin(&[]),
                ..allow(&["clone"])
            });
            rules.push(SyscallRule {
                names: names(&["clone3"]),
                action: "SCMP_ACT_ERRNO".into(),
                errno_ret: Some(libc::ENOSYS as u32),
                excludes: no_admin(&[]),
                ..SyscallRule::default()
            });
        }
    }
    Profile {
        default_action: "SCMP_ACT_ERRNO".into(),
        default_errno_ret: Some(libc::EPERM as u32),
        syscalls: rules,
    }
}

// ---------------------------------------------------------------------------------------------
// Compiling
// ---------------------------------------------------------------------------------------------

/// What a profile is compiled for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The container's bounding set, names with or without `CAP_`.
    pub capabilities: Vec<String>,
    /// The running kernel's (major, minor).
    pub kernel: (u32, u32),
}

impl Target {
    /// For the running kernel.
    pub fn running(capabilities: &[String]) -> Target {
        let uname = rustix::system::uname();
        let release = uname.release().to_string_lossy();
        Target {
            capabilities: capabilities.to_vec(),
            kernel: parse_kernel(&release).unwrap_or((0, 0)),
        }
    }
}

/// `5.15.0-91-generic` -> (5, 15).
fn parse_kernel(text: &str) -> Option<(u32, u32)> {
    let mut it = text.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next().unwrap_or("0").parse().unwrap_or(0);
    Some((major, minor))
}

/// Docker's name for the architecture this binary runs on.
fn native_arch() -> Result<(&'static str, TargetArch), SeccompError> {
    match std::env::consts::ARCH {
        "x86_64" => Ok(("amd64", TargetArch::x86_64)),
        "aarch64" => Ok(("arm64", TargetArch::aarch64)),
        other => Err(SeccompError::Arch(other)),
    }
}

fn action(name: &str, errno: Option<u32>) -> Result<SeccompAction, SeccompError> {
    let eperm = libc::EPERM as u32;
    Ok(match name {
        "SCMP_ACT_ALLOW" => SeccompAction::Allow,
        "SCMP_ACT_ERRNO" => SeccompAction::Errno(errno.unwrap_or(eperm)),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => SeccompAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => SeccompAction::KillProcess,
        "SCMP_ACT_TRAP" => SeccompAction::Trap,
        "SCMP_ACT_TRACE" => SeccompAction::Trace(errno.unwrap_or(eperm)),
        "SCMP_ACT_LOG" => SeccompAction::Log,
        other => return Err(SeccompError::Action(other.to_string())),
    })
}

fn condition(c: &ArgCondition, syscall: &str) -> Result<SeccompCondition, SeccompError> {
    let op = match c.op.as_str() {
        "SCMP_CMP_EQ" => SeccompCmpOp::Eq,
        "SCMP_CMP_NE" => SeccompCmpOp::Ne,
        "SCMP_CMP_LT" => SeccompCmpOp::Lt,
        "SCMP_CMP_LE" => SeccompCmpOp::Le,
        "SCMP_CMP_GE" => SeccompCmpOp::Ge,
        "SCMP_CMP_GT" => SeccompCmpOp::Gt,
        "SCMP_CMP_MASKED_EQ" => SeccompCmpOp::MaskedEq(c.value),
        other => return Err(SeccompError::Op(other.to_string())),
    };
    let value = if c.op == "SCMP_CMP_MASKED_EQ" {
        c.value_two
    } else {
        c.value
    };
    let rule_err = |message: String| SeccompError::Rule {
        name: syscall.to_string(),
        message,
    };
    if !arg_width::is_32bit(syscall, c.index) {
        return SeccompCondition::new(c.index, SeccompCmpArgLen::Qword, op, value)
            .map_err(|e| rule_err(e.to_string()));
    }
    // The kernel reads only the low 32 bits: so does the comparison. A value must say something
    // about those bits alone: it fits in 32 bits, or is a negative int sign-extended to 64.
    let low = |v: u64, what: &str| {
        low_32_bits(v).ok_or_else(|| {
            rule_err(format!(
                "argument {} is 32 bits wide, but the {what} {v:#x} has bits above the low 32",
                c.index
            ))
        })
    };
    let op = match op {
        SeccompCmpOp::MaskedEq(mask) => SeccompCmpOp::MaskedEq(low(mask, "mask")?),
        other => other,
    };
    SeccompCondition::new(c.index, SeccompCmpArgLen::Dword, op, low(value, "value")?)
        .map_err(|e| rule_err(e.to_string()))
}

/// `v` as a 32-bit value: itself when it fits, its low half when it is a sign-extended negative
/// int (`0xffff_ffff_8000_0000` and above), `None` otherwise.
fn low_32_bits(v: u64) -> Option<u64> {
    if v <= u64::from(u32::MAX) {
        Some(v)
    } else if v >= 0xffff_ffff_8000_0000 {
        Some(v & u64::from(u32::MAX))
    } else {
        None
    }
}

fn cap_name(c: &str) -> String {
    let up = c.to_ascii_uppercase();
    if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    }
}

/// Whether a rule applies to `target` on `arch` (see the module documentation).
fn applies(rule: &SyscallRule, target: &Target, arch: &str) -> Result<bool, SeccompError> {
    let caps: Vec<String> = target.capabilities.iter().map(|c| cap_name(c)).collect();
    let has = |c: &String| caps.contains(&cap_name(c));
    let kernel_at_least = |v: &str| -> Result<bool, SeccompError> {
        let min = parse_kernel(v).ok_or_else(|| SeccompError::Kernel(v.to_string()))?;
        Ok(target.kernel >= min)
    };
    let inc = &rule.includes;
    if !inc.caps.iter().all(has)
        || (!inc.arches.is_empty() && !inc.arches.iter().any(|a| a == arch))
    {
        return Ok(false);
    }
    if let Some(v) = &inc.min_kernel {
        if !kernel_at_least(v)? {
            return Ok(false);
        }
    }
    let exc = &rule.excludes;
    if exc.caps.iter().any(has) || exc.arches.iter().any(|a| a == arch) {
        return Ok(false);
    }
    if let Some(v) = &exc.min_kernel {
        if kernel_at_least(v)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A syscall's rules within one action block; `None` allows it whatever its arguments.
type Chain = Option<Vec<SeccompRule>>;

/// Compiles `profile` for the native architecture and `target`.
pub fn compile(profile: &Profile, target: &Target) -> Result<spec::SeccompFilter, SeccompError> {
    let (arch_name, arch) = native_arch()?;
    let default = action(&profile.default_action, profile.default_errno_ret)?;

    // Action blocks in order of first appearance.
    let mut blocks: Vec<(SeccompAction, BTreeMap<i64, Chain>)> = Vec::new();
    for rule in &profile.syscalls {
        let act = action(&rule.action, rule.errno_ret)?;
        if act == default || !applies(rule, target, arch_name)? {
            continue;
        }
        let block = match blocks.iter().position(|(a, _)| *a == act) {
            Some(i) => &mut blocks[i].1,
            None => {
                blocks.push((act, BTreeMap::new()));
                &mut blocks.last_mut().expect("just pushed").1
            }
        };
        let all_names = rule.names.iter().chain(rule.name.iter());
        for name in all_names {
            let Some(nr) = syscall_number(name) else {
                continue;
            };
            let conds = rule
                .args
                .iter()
                .map(|c| condition(c, name))
                .collect::<Result<Vec<_>, _>>()?;
            let mut indexes: Vec<u8> = rule.args.iter().map(|c| c.index).collect();
            indexes.sort_unstable();
            let repeated = indexes.windows(2).any(|w| w[0] == w[1]);
            let new_rules: Chain = if conds.is_empty() {
                None
            } else if repeated {
                Some(
                    conds
                        .into_iter()
                        .map(|c| SeccompRule::new(vec![c]))
                        .collect::<Result<_, _>>()
                        .map_err(|e| SeccompError::Compile(e.to_string()))?,
                )
            } else {
                Some(vec![
                    SeccompRule::new(conds).map_err(|e| SeccompError::Compile(e.to_string()))?
                ])
            };
            match (block.get_mut(&nr), new_rules) {
                (None, chain) => {
                    block.insert(nr, chain);
                }
                (Some(existing), None) => *existing = None,
                (Some(Some(existing)), Some(more)) => existing.extend(more),
                (Some(None), Some(_)) => {}
            }
        }
    }

    // The "no match" return of a block, rewritten into a jump to the next block. It must differ
    // from every real action.
    let sentinel = (0xF000u32..)
        .map(SeccompAction::Trace)
        .find(|s| *s != default && blocks.iter().all(|(a, _)| a != s))
        .expect("fewer actions than sentinel candidates");
    let sentinel_k = u32::from(sentinel.clone());
    let ret_k = BPF_RET | BPF_K;

    let mut program: Vec<(u16, u8, u8, u32)> = Vec::new();
    for (i, (act, rules)) in blocks.into_iter().enumerate() {
        let rules: BTreeMap<i64, Vec<SeccompRule>> = rules
            .into_iter()
            .map(|(nr, chain)| (nr, chain.unwrap_or_default()))
            .collect();
        let filter = SeccompFilter::new(rules, sentinel.clone(), act, arch)
            .map_err(|e| SeccompError::Compile(e.to_string()))?;
        let bpf: BpfProgram = filter
            .try_into()
            .map_err(|e: seccompiler::BackendError| SeccompError::Compile(e.to_string()))?;
        // Every block starts with the same 3-instruction architecture check: keep the first.
        let skip = if i == 0 { 0 } else { ARCH_CHECK_LEN };
        let block: Vec<_> = bpf[skip..]
            .iter()
            .map(|f| (f.code, f.jt, f.jf, f.k))
            .collect();
        let start = program.len();
        let end = start + block.len();
        for (j, mut ins) in block.into_iter().enumerate() {
            if ins.0 == ret_k && ins.3 == sentinel_k {
                let pc = start + j;
                ins = (BPF_JMP | BPF_JA, 0, 0, (end - pc - 1) as u32);
            }
            program.push(ins);
        }
    }
    if program.is_empty() {
        // No rule applies: the architecture check, then the default action.
        let bpf: BpfProgram = SeccompFilter::new(BTreeMap::new(), default.clone(), sentinel, arch)
            .and_then(|f| f.try_into())
            .map_err(|e| SeccompError::Compile(e.to_string()))?;
        program.extend(
            bpf.iter()
                .take(ARCH_CHECK_LEN)
                .map(|f| (f.code, f.jt, f.jf, f.k)),
        );
    }
    program.push((ret_k, 0, 0, u32::from(default)));
    if program.len() > BPF_MAXINSNS {
        return Err(SeccompError::Compile(format!(
            "{} instructions, the kernel accepts at most {BPF_MAXINSNS}",
            program.len()
        )));
    }
    Ok(spec::SeccompFilter {
        instructions: program,
    })
}

/// Docker's `security_opt` seccomp choice.
#[derive(Debug, Clone, PartialEq)]
pub enum SeccompChoice {
    /// No `seccomp=` option: Docker's default profile (none when privileged).
    Default,
    /// `seccomp=unconfined`.
    Unconfined,
    /// `seccomp=/path/profile.json`.
    File(std::path::PathBuf),
}

/// The filter for a container: `None` when unconfined or privileged (Docker applies no seccomp
/// to a privileged container, whatever profile is given).
pub fn filter_for(
    choice: &SeccompChoice,
    privileged: bool,
    target: &Target,
) -> Result<Option<spec::SeccompFilter>, SeccompError> {
    if privileged {
        return Ok(None);
    }
    let profile = match choice {
        SeccompChoice::Unconfined => return Ok(None),
        SeccompChoice::Default => default_profile(),
        SeccompChoice::File(path) => load_profile(path)?,
    };
    compile(&profile, target).map(Some)
}

const BPF_RET: u16 = 0x06;
const BPF_K: u16 = 0x00;
const BPF_JMP: u16 = 0x05;
const BPF_JA: u16 = 0x00;
/// The kernel's limit on a classic BPF program (`BPF_MAXINSNS`).
const BPF_MAXINSNS: usize = 4096;
/// seccompiler's architecture check: load arch, compare, kill.
const ARCH_CHECK_LEN: usize = 3;

// ---------------------------------------------------------------------------------------------
// Installing
// ---------------------------------------------------------------------------------------------

/// The program in the kernel's `sock_filter` layout; build it before a `fork` so that the child
/// only has to call [`install_prepared`] (which does not allocate).
pub fn prepare(filter: &spec::SeccompFilter) -> Vec<libc::sock_filter> {
    filter
        .instructions
        .iter()
        .map(|&(code, jt, jf, k)| libc::sock_filter { code, jt, jf, k })
        .collect()
}

/// Installs a prepared program on the calling thread with `seccomp(SECCOMP_SET_MODE_FILTER)`.
/// The caller sets `PR_SET_NO_NEW_PRIVS` first unless it has CAP_SYS_ADMIN. Async-signal-safe.
pub fn install_prepared(program: &[libc::sock_filter]) -> io::Result<()> {
    let prog = libc::sock_fprog {
        len: program.len() as libc::c_ushort,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points to `program`, valid for the duration of the call; the kernel copies
    // the instructions. rustix has no seccomp wrapper.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0 as libc::c_uint,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Installs `filter` on the calling thread (see [`install_prepared`]).
pub fn install(filter: &spec::SeccompFilter) -> io::Result<()> {
    if filter.instructions.is_empty() || filter.instructions.len() > BPF_MAXINSNS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "seccomp program of {} instructions",
                filter.instructions.len()
            ),
        ));
    }
    install_prepared(&prepare(filter))
}

// ---------------------------------------------------------------------------------------------
// Syscall numbers
// ---------------------------------------------------------------------------------------------

/// The native number of a syscall, `None` when this architecture has no such syscall.
pub fn syscall_number(name: &str) -> Option<i64> {
    SYSCALLS
        .binary_search_by(|(n, _)| n[4..].cmp(name))
        .ok()
        .map(|i| SYSCALLS[i].1)
}

/// Builds the sorted (name, number) table from libc's `SYS_*` constants.
macro_rules! syscall_table {
    ($($sys:ident)*) => {
        &[$((stringify!($sys), libc::$sys as i64)),*]
    };
}

/// Sorted by name (bytewise), for [`syscall_number`]. Names carry libc's `SYS_` prefix.
#[cfg(target_arch = "x86_64")]
static SYSCALLS: &[(&str, i64)] = syscall_table! {
        SYS__sysctl SYS_accept SYS_accept4 SYS_access SYS_acct SYS_add_key SYS_adjtimex
        SYS_afs_syscall SYS_alarm SYS_arch_prctl SYS_bind SYS_bpf SYS_brk SYS_capget
        SYS_capset SYS_chdir SYS_chmod SYS_chown SYS_chroot SYS_clock_adjtime SYS_clock_getres
        SYS_clock_gettime SYS_clock_nanosleep SYS_clock_settime SYS_clone SYS_clone3 SYS_close
        SYS_close_range SYS_connect SYS_copy_file_range SYS_creat SYS_delete_module
        SYS_dup SYS_dup2 SYS_dup3 SYS_epoll_create SYS_epoll_create1 SYS_epoll_ctl
        SYS_epoll_ctl_old SYS_epoll_pwait SYS_epoll_pwait2 SYS_epoll_wait SYS_epoll_wait_old
        SYS_eventfd SYS_eventfd2 SYS_execve SYS_execveat SYS_exit SYS_exit_group SYS_faccessat
        SYS_faccessat2 SYS_fadvise64 SYS_fallocate SYS_fanotify_init SYS_fanotify_mark SYS_fchdir
        SYS_fchmod SYS_fchmodat SYS_fchmodat2 SYS_fchown SYS_fchownat SYS_fcntl SYS_fdatasync
        SYS_fgetxattr SYS_finit_module SYS_flistxattr SYS_flock SYS_fork SYS_fremovexattr
        SYS_fsconfig SYS_fsetxattr SYS_fsmount SYS_fsopen SYS_fspick SYS_fstat SYS_fstatfs
        SYS_fsync SYS_ftruncate SYS_futex SYS_futex_waitv SYS_futimesat SYS_get_mempolicy
        SYS_get_robust_list SYS_get_thread_area SYS_getcpu SYS_getcwd SYS_getdents SYS_getdents64
        SYS_getegid SYS_geteuid SYS_getgid SYS_getgroups SYS_getitimer SYS_getpeername SYS_getpgid
        SYS_getpgrp SYS_getpid SYS_getpmsg SYS_getppid SYS_getpriority SYS_getrandom SYS_getresgid
        SYS_getresuid SYS_getrlimit SYS_getrusage SYS_getsid SYS_getsockname SYS_getsockopt
        SYS_gettid SYS_gettimeofday SYS_getuid SYS_getxattr SYS_init_module SYS_inotify_add_watch
        SYS_inotify_init SYS_inotify_init1 SYS_inotify_rm_watch SYS_io_cancel SYS_io_destroy
        SYS_io_getevents SYS_io_setup SYS_io_submit SYS_io_uring_enter SYS_io_uring_register
        SYS_io_uring_setup SYS_ioctl SYS_ioperm SYS_iopl SYS_ioprio_get SYS_ioprio_set
        SYS_kcmp SYS_kexec_file_load SYS_kexec_load SYS_keyctl SYS_kill SYS_landlock_add_rule
        SYS_landlock_create_ruleset SYS_landlock_restrict_self SYS_lchown SYS_lgetxattr SYS_link
        SYS_linkat SYS_listen SYS_listxattr SYS_llistxattr SYS_lookup_dcookie SYS_lremovexattr
        SYS_lseek SYS_lsetxattr SYS_lstat SYS_madvise SYS_mbind SYS_membarrier SYS_memfd_create
        SYS_memfd_secret SYS_migrate_pages SYS_mincore SYS_mkdir SYS_mkdirat SYS_mknod SYS_mknodat
        SYS_mlock SYS_mlock2 SYS_mlockall SYS_mmap SYS_modify_ldt SYS_mount SYS_mount_setattr
        SYS_move_mount SYS_move_pages SYS_mprotect SYS_mq_getsetattr SYS_mq_notify
        SYS_mq_open SYS_mq_timedreceive SYS_mq_timedsend SYS_mq_unlink SYS_mremap SYS_mseal
        SYS_msgctl SYS_msgget SYS_msgrcv SYS_msgsnd SYS_msync SYS_munlock SYS_munlockall
        SYS_munmap SYS_name_to_handle_at SYS_nanosleep SYS_newfstatat SYS_nfsservctl
        SYS_open SYS_open_by_handle_at SYS_open_tree SYS_openat SYS_openat2 SYS_pause
        SYS_perf_event_open SYS_personality SYS_pidfd_getfd SYS_pidfd_open SYS_pidfd_send_signal
        SYS_pipe SYS_pipe2 SYS_pivot_root SYS_pkey_alloc SYS_pkey_free SYS_pkey_mprotect
        SYS_poll SYS_ppoll SYS_prctl SYS_pread64 SYS_preadv SYS_preadv2 SYS_prlimit64
        SYS_process_madvise SYS_process_mrelease SYS_process_vm_readv SYS_process_vm_writev
        SYS_pselect6 SYS_ptrace SYS_putpmsg SYS_pwrite64 SYS_pwritev SYS_pwritev2 SYS_quotactl
        SYS_quotactl_fd SYS_read SYS_readahead SYS_readlink SYS_readlinkat SYS_readv SYS_reboot
        SYS_recvfrom SYS_recvmmsg SYS_recvmsg SYS_remap_file_pages SYS_removexattr SYS_rename
        SYS_renameat SYS_renameat2 SYS_request_key SYS_restart_syscall SYS_rmdir SYS_rseq
        SYS_rt_sigaction SYS_rt_sigpending SYS_rt_sigprocmask SYS_rt_sigqueueinfo SYS_rt_sigreturn
        SYS_rt_sigsuspend SYS_rt_sigtimedwait SYS_rt_tgsigqueueinfo SYS_sched_get_priority_max
        SYS_sched_get_priority_min SYS_sched_getaffinity SYS_sched_getattr SYS_sched_getparam
        SYS_sched_getscheduler SYS_sched_rr_get_interval SYS_sched_setaffinity SYS_sched_setattr
        SYS_sched_setparam SYS_sched_setscheduler SYS_sched_yield SYS_seccomp SYS_security
        SYS_select SYS_semctl SYS_semget SYS_semop SYS_semtimedop SYS_sendfile SYS_sendmmsg
        SYS_sendmsg SYS_sendto SYS_set_mempolicy SYS_set_mempolicy_home_node SYS_set_robust_list
        SYS_set_thread_area SYS_set_tid_address SYS_setdomainname SYS_setfsgid SYS_setfsuid
        SYS_setgid SYS_setgroups SYS_sethostname SYS_setitimer SYS_setns SYS_setpgid
        SYS_setpriority SYS_setregid SYS_setresgid SYS_setresuid SYS_setreuid SYS_setrlimit
        SYS_setsid SYS_setsockopt SYS_settimeofday SYS_setuid SYS_setxattr SYS_shmat SYS_shmctl
        SYS_shmdt SYS_shmget SYS_shutdown SYS_sigaltstack SYS_signalfd SYS_signalfd4 SYS_socket
        SYS_socketpair SYS_splice SYS_stat SYS_statfs SYS_statx SYS_swapoff SYS_swapon SYS_symlink
        SYS_symlinkat SYS_sync SYS_sync_file_range SYS_syncfs SYS_sysfs SYS_sysinfo SYS_syslog
        SYS_tee SYS_tgkill SYS_time SYS_timer_create SYS_timer_delete SYS_timer_getoverrun
        SYS_timer_gettime SYS_timer_settime SYS_timerfd_create SYS_timerfd_gettime
        SYS_timerfd_settime SYS_times SYS_tkill SYS_truncate SYS_tuxcall SYS_umask SYS_umount2
        SYS_uname SYS_unlink SYS_unlinkat SYS_unshare SYS_uselib SYS_userfaultfd SYS_ustat
        SYS_utime SYS_utimensat SYS_utimes SYS_vfork SYS_vhangup SYS_vmsplice SYS_vserver
        SYS_wait4 SYS_waitid SYS_write SYS_writev
};

#[cfg(target_arch = "aarch64")]
static SYSCALLS: &[(&str, i64)] = syscall_table! {
        SYS_accept SYS_accept4 SYS_acct SYS_add_key SYS_adjtimex SYS_bind SYS_bpf SYS_brk
        SYS_capget SYS_capset SYS_chdir SYS_chroot SYS_clock_adjtime SYS_clock_getres
        SYS_clock_gettime SYS_clock_nanosleep SYS_clock_settime SYS_clone SYS_clone3 SYS_close
        SYS_close_range SYS_connect SYS_copy_file_range SYS_delete_module SYS_dup SYS_dup3
        SYS_epoll_create1 SYS_epoll_ctl SYS_epoll_pwait SYS_epoll_pwait2 SYS_eventfd2
        SYS_execve SYS_execveat SYS_exit SYS_exit_group SYS_faccessat SYS_faccessat2
        SYS_fadvise64 SYS_fallocate SYS_fanotify_init SYS_fanotify_mark SYS_fchdir SYS_fchmod
        SYS_fchmodat SYS_fchown SYS_fchownat SYS_fcntl SYS_fdatasync SYS_fgetxattr SYS_finit_module
        SYS_flistxattr SYS_flock SYS_fremovexattr SYS_fsconfig SYS_fsetxattr SYS_fsmount SYS_fsopen
        SYS_fspick SYS_fstat SYS_fstatfs SYS_fsync SYS_ftruncate SYS_futex SYS_futex_waitv
        SYS_get_mempolicy SYS_get_robust_list SYS_getcpu SYS_getcwd SYS_getdents64 SYS_getegid
        SYS_geteuid SYS_getgid SYS_getgroups SYS_getitimer SYS_getpeername SYS_getpgid SYS_getpid
        SYS_getppid SYS_getpriority SYS_getrandom SYS_getresgid SYS_getresuid SYS_getrusage
        SYS_getsid SYS_getsockname SYS_getsockopt SYS_gettid SYS_gettimeofday SYS_getuid
        SYS_getxattr SYS_init_module SYS_inotify_add_watch SYS_inotify_init1 SYS_inotify_rm_watch
        SYS_io_cancel SYS_io_destroy SYS_io_getevents SYS_io_setup SYS_io_submit SYS_io_uring_enter
        SYS_io_uring_register SYS_io_uring_setup SYS_ioctl SYS_ioprio_get SYS_ioprio_set
        SYS_kcmp SYS_kexec_file_load SYS_kexec_load SYS_keyctl SYS_kill SYS_landlock_add_rule
        SYS_landlock_create_ruleset SYS_landlock_restrict_self SYS_lgetxattr SYS_linkat
        SYS_listen SYS_listxattr SYS_llistxattr SYS_lookup_dcookie SYS_lremovexattr SYS_lseek
        SYS_lsetxattr SYS_madvise SYS_mbind SYS_membarrier SYS_memfd_create SYS_memfd_secret
        SYS_migrate_pages SYS_mincore SYS_mkdirat SYS_mknodat SYS_mlock SYS_mlock2 SYS_mlockall
        SYS_mmap SYS_mount SYS_mount_setattr SYS_move_mount SYS_move_pages SYS_mprotect
        SYS_mq_getsetattr SYS_mq_notify SYS_mq_open SYS_mq_timedreceive SYS_mq_timedsend
        SYS_mq_unlink SYS_mremap SYS_mseal SYS_msgctl SYS_msgget SYS_msgrcv SYS_msgsnd
        SYS_msync SYS_munlock SYS_munlockall SYS_munmap SYS_name_to_handle_at SYS_nanosleep
        SYS_newfstatat SYS_nfsservctl SYS_open_by_handle_at SYS_open_tree SYS_openat SYS_openat2
        SYS_perf_event_open SYS_personality SYS_pidfd_getfd SYS_pidfd_open SYS_pidfd_send_signal
        SYS_pipe2 SYS_pivot_root SYS_pkey_alloc SYS_pkey_free SYS_pkey_mprotect SYS_ppoll SYS_prctl
        SYS_pread64 SYS_preadv SYS_preadv2 SYS_prlimit64 SYS_process_madvise SYS_process_mrelease
        SYS_process_vm_readv SYS_process_vm_writev SYS_pselect6 SYS_ptrace SYS_pwrite64 SYS_pwritev
        SYS_pwritev2 SYS_quotactl SYS_quotactl_fd SYS_read SYS_readahead SYS_readlinkat
        SYS_readv SYS_reboot SYS_recvfrom SYS_recvmmsg SYS_recvmsg SYS_remap_file_pages
        SYS_removexattr SYS_renameat2 SYS_request_key SYS_restart_syscall SYS_rseq
        SYS_rt_sigaction SYS_rt_sigpending SYS_rt_sigprocmask SYS_rt_sigqueueinfo SYS_rt_sigreturn
        SYS_rt_sigsuspend SYS_rt_sigtimedwait SYS_rt_tgsigqueueinfo SYS_sched_get_priority_max
        SYS_sched_get_priority_min SYS_sched_getaffinity SYS_sched_getattr SYS_sched_getparam
        SYS_sched_getscheduler SYS_sched_rr_get_interval SYS_sched_setaffinity SYS_sched_setattr
        SYS_sched_setparam SYS_sched_setscheduler SYS_sched_yield SYS_seccomp SYS_semctl
        SYS_semget SYS_semop SYS_semtimedop SYS_sendfile SYS_sendmmsg SYS_sendmsg SYS_sendto
        SYS_set_mempolicy SYS_set_mempolicy_home_node SYS_set_robust_list SYS_set_tid_address
        SYS_setdomainname SYS_setfsgid SYS_setfsuid SYS_setgid SYS_setgroups SYS_sethostname
        SYS_setitimer SYS_setns SYS_setpgid SYS_setpriority SYS_setregid SYS_setresgid
        SYS_setresuid SYS_setreuid SYS_setsid SYS_setsockopt SYS_settimeofday SYS_setuid
        SYS_setxattr SYS_shmat SYS_shmctl SYS_shmdt SYS_shmget SYS_shutdown SYS_sigaltstack
        SYS_signalfd4 SYS_socket SYS_socketpair SYS_splice SYS_statfs SYS_statx SYS_swapoff
        SYS_swapon SYS_symlinkat SYS_sync SYS_syncfs SYS_sysinfo SYS_syslog SYS_tee SYS_tgkill
        SYS_timer_create SYS_timer_delete SYS_timer_getoverrun SYS_timer_gettime SYS_timer_settime
        SYS_timerfd_create SYS_timerfd_gettime SYS_timerfd_settime SYS_times SYS_tkill SYS_truncate
        SYS_umask SYS_umount2 SYS_uname SYS_unlinkat SYS_unshare SYS_userfaultfd SYS_utimensat
        SYS_vhangup SYS_vmsplice SYS_wait4 SYS_waitid SYS_write SYS_writev
};

#[cfg(test)]
mod tests {
    use super::*;

    fn target(caps: &[&str]) -> Target {
        Target {
            capabilities: caps.iter().map(|s| s.to_string()).collect(),
            kernel: (6, 1),
        }
    }

    fn docker_defaults() -> Vec<&'static str> {
        crate::engine::runtime::caps::DEFAULT_CAPABILITIES.to_vec()
    }

    #[test]
    fn syscall_table_is_sorted_and_resolves() {
        assert!(SYSCALLS.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(syscall_number("getpid"), Some(libc::SYS_getpid));
        assert_eq!(syscall_number("mount"), Some(libc::SYS_mount));
        assert_eq!(syscall_number("chown32"), None);
        assert_eq!(syscall_number("nope"), None);
    }

    #[test]
    fn default_profile_compiles_deterministically() {
        let t = target(&docker_defaults());
        let a = compile(&default_profile(), &t).unwrap();
        let b = compile(&default_profile(), &t).unwrap();
        assert!(a.instructions.len() > 300, "{}", a.instructions.len());
        assert_eq!(a, b);
        // CAP_SYS_ADMIN changes the program (mount, unshare... allowed; clone unconditional).
        let mut admin = docker_defaults();
        admin.push("SYS_ADMIN");
        let c = compile(&default_profile(), &target(&admin)).unwrap();
        assert_ne!(a, c);
        // The last instruction is the default action, ERRNO(EPERM).
        let last = *a.instructions.last().unwrap();
        assert_eq!(
            last,
            (BPF_RET | BPF_K, 0, 0, 0x0005_0000 | libc::EPERM as u32)
        );
    }

    #[test]
    fn rule_filters() {
        let t = Target {
            capabilities: vec!["SYS_ADMIN".into()],
            kernel: (4, 4),
        };
        let rule = |inc: RuleFilter, exc: RuleFilter| SyscallRule {
            includes: inc,
            excludes: exc,
            ..allow(&["getpid"])
        };
        let caps = |c: &[&str]| RuleFilter {
            caps: names(c),
            ..RuleFilter::default()
        };
        let arches = |a: &[&str]| RuleFilter {
            arches: names(a),
            ..RuleFilter::default()
        };
        let kernel = |k: &str| RuleFilter {
            min_kernel: Some(k.into()),
            ..RuleFilter::default()
        };
        let none = RuleFilter::default;
        let cases = [
            (rule(none(), none()), true),
            (rule(caps(&["CAP_SYS_ADMIN"]), none()), true),
            (
                rule(caps(&["cap_sys_admin", "CAP_SYS_PTRACE"]), none()),
                false,
            ),
            (rule(none(), caps(&["CAP_SYS_ADMIN"])), false),
            (rule(none(), caps(&["CAP_SYS_PTRACE"])), true),
            (rule(arches(&["amd64", "arm64"]), none()), true),
            (rule(arches(&["s390x"]), none()), false),
            (rule(none(), arches(&["amd64", "arm64"])), false),
            (rule(kernel("4.8"), none()), false),
            (rule(kernel("4.4"), none()), true),
            (rule(none(), kernel("4.8")), true),
            (rule(none(), kernel("3.10")), false),
        ];
        let arch = native_arch().unwrap().0;
        for (i, (r, want)) in cases.iter().enumerate() {
            assert_eq!(applies(r, &t, arch).unwrap(), *want, "case {i}");
        }
        assert!(applies(&rule(kernel("x"), none()), &t, arch).is_err());
    }

    #[test]
    fn bad_profiles_are_refused() {
        let err = parse_profile("{", "p.json").unwrap_err();
        assert!(err
            .to_string()
            .starts_with("parsing seccomp profile p.json"));
        let p = parse_profile(
            r#"{"defaultAction":"SCMP_ACT_NOTIFY","syscalls":[]}"#,
            "p.json",
        )
        .unwrap();
        assert!(matches!(
            compile(&p, &target(&[])),
            Err(SeccompError::Action(_))
        ));
        let p = parse_profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],
                "action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_XX"}]}]}"#,
            "p.json",
        )
        .unwrap();
        assert!(matches!(
            compile(&p, &target(&[])),
            Err(SeccompError::Op(_))
        ));
        assert!(filter_for(&SeccompChoice::Unconfined, false, &target(&[]))
            .unwrap()
            .is_none());
        assert!(filter_for(&SeccompChoice::Default, true, &target(&[]))
            .unwrap()
            .is_none());
        let missing = SeccompChoice::File("/nonexistent/compose-test.json".into());
        assert!(matches!(
            filter_for(&missing, false, &target(&[])),
            Err(SeccompError::Read { .. })
        ));
    }

    /// Forks a child that installs `filter` and runs `probe` (async-signal-safe calls only);
    /// returns the child's exit code.
    fn run_filtered(filter: &spec::SeccompFilter, probe: fn() -> i32) -> i32 {
        let program = prepare(filter);
        // SAFETY: the child only makes raw syscalls and calls `_exit`: no allocation, no
        // locks, so forking a multi-threaded test process is fine.
        unsafe {
            let pid = libc::fork();
            assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
            if pid == 0 {
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                    libc::_exit(100);
                }
                if install_prepared(&program).is_err() {
                    libc::_exit(101);
                }
                libc::_exit(probe());
            }
            let mut status = 0;
            assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
            assert!(libc::WIFEXITED(status), "child status {status:#x}");
            libc::WEXITSTATUS(status)
        }
    }

    /// The errno of a failed raw syscall, 0 on success.
    fn errno_of(rc: libc::c_long) -> i32 {
        if rc == -1 {
            // SAFETY: reads the calling thread's errno.
            unsafe { *libc::__errno_location() }
        } else {
            0
        }
    }

    /// Exit codes: 0 all as Docker's default profile says; n identifies the failed check.
    fn default_probe() -> i32 {
        // SAFETY: raw syscalls with harmless arguments.
        unsafe {
            if libc::syscall(libc::SYS_getpid) <= 0 {
                return 1;
            }
            // personality: querying (0xffffffff) is allowed, ADDR_NO_RANDOMIZE is not.
            if libc::syscall(libc::SYS_personality, 0xffff_ffffu64) < 0 {
                return 2;
            }
            if errno_of(libc::syscall(libc::SYS_personality, 0x0040000u64)) != libc::EPERM {
                return 3;
            }
            // mount needs CAP_SYS_ADMIN in the profile: EPERM before the kernel looks at the
            // (invalid) arguments, which would give EFAULT for root.
            let null = std::ptr::null::<libc::c_char>();
            if errno_of(libc::syscall(libc::SYS_mount, null, null, null, 0, null)) != libc::EPERM {
                return 4;
            }
            // clone3 gives ENOSYS so that libc falls back to clone.
            if errno_of(libc::syscall(libc::SYS_clone3, null, 0)) != libc::ENOSYS {
                return 5;
            }
            // AF_VSOCK sockets are refused; AF_UNIX ones are allowed.
            if errno_of(libc::syscall(libc::SYS_socket, 40, libc::SOCK_STREAM, 0)) != libc::EPERM {
                return 6;
            }
            let fd = libc::syscall(libc::SYS_socket, libc::AF_UNIX, libc::SOCK_STREAM, 0);
            if fd < 0 {
                return 7;
            }
            libc::close(fd as i32);
            // keyctl is not in the profile at all.
            if errno_of(libc::syscall(libc::SYS_keyctl, 0, -2i64, 0)) != libc::EPERM {
                return 8;
            }
            // unshare(CLONE_NEWUSER) needs CAP_SYS_ADMIN in the profile.
            if errno_of(libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER)) != libc::EPERM {
                return 9;
            }
            // AF_VSOCK with garbage in the high half of the register: the kernel reads an int.
            if errno_of(libc::syscall(
                libc::SYS_socket,
                VSOCK_HIGH,
                libc::SOCK_STREAM,
                0,
            )) != libc::EPERM
            {
                return 10;
            }
            // io_uring is not in the profile (moby 46762).
            if errno_of(libc::syscall(libc::SYS_io_uring_setup, 1, null)) != libc::EPERM {
                return 11;
            }
            0
        }
    }

    /// AF_VSOCK (40) with bit 32 set: "not AF_VSOCK" to a 64-bit comparison, AF_VSOCK to the
    /// kernel, which reads the family as an int.
    const VSOCK_HIGH: u64 = (1 << 32) | 40;

    /// The default profile with an errno no kernel path gives for the probed calls, so that a
    /// probe tells the filter's refusal from the kernel's own (io_uring can be disabled by
    /// sysctl with EPERM, AF_VSOCK may be missing with EAFNOSUPPORT).
    const MARK: u32 = libc::ENOMSG as u32;

    fn marked_default() -> Profile {
        Profile {
            default_errno_ret: Some(MARK),
            ..default_profile()
        }
    }

    /// Exit codes: 0 when io_uring_setup and both AF_VSOCK sockets are refused by the filter.
    fn attack_probe() -> i32 {
        let null = std::ptr::null::<libc::c_void>();
        // SAFETY: raw syscalls with harmless arguments; a socket made by mistake is closed.
        unsafe {
            if errno_of(libc::syscall(libc::SYS_io_uring_setup, 1, null)) != MARK as i32 {
                return 1;
            }
            for (code, family) in [(2, 40u64), (3, VSOCK_HIGH)] {
                let rc = libc::syscall(libc::SYS_socket, family, libc::SOCK_STREAM, 0);
                if rc >= 0 {
                    libc::close(rc as i32);
                }
                if errno_of(rc) != MARK as i32 {
                    return code;
                }
            }
            0
        }
    }

    #[test]
    fn io_uring_and_high_bit_vsock_sockets_are_refused_by_the_default_profile() {
        let target = Target::running(&names(&docker_defaults()));
        let filter = compile(&marked_default(), &target).unwrap();
        assert_eq!(run_filtered(&filter, attack_probe), 0);
    }

    #[test]
    fn a_custom_profile_can_allow_io_uring() {
        let mut profile = marked_default();
        profile.syscalls.push(allow(&[
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
        ]));
        let target = Target::running(&names(&docker_defaults()));
        let filter = compile(&profile, &target).unwrap();
        fn probe() -> i32 {
            let null = std::ptr::null::<libc::c_void>();
            // SAFETY: io_uring_setup with a NULL params pointer creates nothing (EFAULT, or
            // EPERM/ENOSYS where the kernel has io_uring off): it only has to reach the kernel.
            let rc = unsafe { libc::syscall(libc::SYS_io_uring_setup, 1, null) };
            i32::from(errno_of(rc) == MARK as i32)
        }
        assert_eq!(run_filtered(&filter, probe), 0);
    }

    #[test]
    fn int_arguments_compare_their_low_32_bits() {
        // getpgid(pid_t): refused with ENOMSG when the pid is -1, written sign-extended in the
        // profile; kill(pid, sig) with sig == 0 refused by a masked comparison.
        let json = r#"{
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42,
                 "args": [{"index": 0, "value": 18446744073709551615, "op": "SCMP_CMP_EQ"}]},
                {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42,
                 "args": [{"index": 1, "value": 4294967295, "valueTwo": 0,
                           "op": "SCMP_CMP_MASKED_EQ"}]}
            ]
        }"#;
        let filter = compile(&parse_profile(json, "t.json").unwrap(), &target(&[])).unwrap();
        fn probe() -> i32 {
            // SAFETY: getpgid of a pid that cannot exist; kill of our own pid with signal 0
            // (existence check) or a signal number the kernel refuses.
            unsafe {
                let me = libc::getpid() as u64;
                for (code, pid) in [(1, u64::MAX), (2, 0xffff_ffffu64), (3, 0x1_ffff_ffff)] {
                    if errno_of(libc::syscall(libc::SYS_getpgid, pid)) != libc::ENOMSG {
                        return code;
                    }
                }
                // A real pid still reaches the kernel.
                if libc::syscall(libc::SYS_getpgid, me) < 0 {
                    return 4;
                }
                if errno_of(libc::syscall(libc::SYS_kill, me, 1u64 << 32)) != libc::ENOMSG {
                    return 5;
                }
                // Signal 65 does not exist: the kernel's EINVAL, not the rule's ENOMSG.
                if errno_of(libc::syscall(libc::SYS_kill, me, 65)) != libc::EINVAL {
                    return 6;
                }
                0
            }
        }
        assert_eq!(run_filtered(&filter, probe), 0);
        // A value with bits the kernel never reads is a mistake in the profile, not a rule.
        let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["socket"],
            "action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":4294967336,"op":"SCMP_CMP_EQ"}]}]}"#;
        let err = compile(&parse_profile(json, "t.json").unwrap(), &target(&[])).unwrap_err();
        assert!(
            err.to_string()
                .contains("syscall socket: argument 0 is 32 bits wide, but the value 0x100000028"),
            "{err}"
        );
        // 64-bit arguments keep the 64-bit comparison (and accept any value).
        let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["unshare"],
            "action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":4294967336,"op":"SCMP_CMP_EQ"}]}]}"#;
        compile(&parse_profile(json, "t.json").unwrap(), &target(&[])).unwrap();
    }

    #[test]
    fn default_profile_blocks_in_a_real_process() {
        let filter = compile(
            &default_profile(),
            &Target::running(&names(&docker_defaults())),
        )
        .unwrap();
        assert_eq!(run_filtered(&filter, default_probe), 0);
    }

    #[test]
    fn user_json_profile_with_several_actions() {
        // Allow everything but: getppid -> EACCES, uname -> ENOSYS unless arg0 == 0,
        // and dup with fd 0 or fd 1 only (two conditions on one argument: ORed).
        let json = r#"{
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [
                {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"name": "uname", "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                 "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_NE"}]},
                {"names": ["dup"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9,
                 "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_GE"},
                          {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}
            ]
        }"#;
        let profile = parse_profile(json, "test.json").unwrap();
        let filter = compile(&profile, &target(&[])).unwrap();
        fn probe() -> i32 {
            // SAFETY: raw syscalls with harmless arguments.
            unsafe {
                if errno_of(libc::syscall(libc::SYS_getppid)) != libc::EACCES {
                    return 1;
                }
                if libc::syscall(libc::SYS_getpid) <= 0 {
                    return 2;
                }
                let null = std::ptr::null_mut::<libc::utsname>();
                // uname(NULL) reaches the kernel (EFAULT); uname(1) is stopped (ENOSYS).
                if errno_of(libc::syscall(libc::SYS_uname, null)) != libc::EFAULT {
                    return 3;
                }
                if errno_of(libc::syscall(libc::SYS_uname, 1usize)) != libc::ENOSYS {
                    return 4;
                }
                // dup(2) and dup(>=5) -> EBADF from the filter; dup(1000) would be EBADF
                // anyway, so check a valid fd 0 passes and fd 2 is refused.
                let fd = libc::syscall(libc::SYS_dup, 0);
                if fd < 0 {
                    return 5;
                }
                libc::close(fd as i32);
                if errno_of(libc::syscall(libc::SYS_dup, 2)) != libc::EBADF {
                    return 6;
                }
                0
            }
        }
        assert_eq!(run_filtered(&filter, probe), 0);
    }
}
