//! Which syscall arguments are 32 bits wide in the kernel's ABI.
//!
//! A syscall argument travels in a 64-bit register, and seccomp hands the filter all 64 bits.
//! When the kernel declares the argument `int` or `unsigned int` (`SYSCALL_DEFINE3(socket, int,
//! family, ...)`), its entry wrapper keeps the low 32 bits and ignores the rest. A 64-bit
//! comparison then judges a value the kernel never sees: `socket(AF_VSOCK | 1 << 32, ...)` is
//! "not AF_VSOCK" to the filter and AF_VSOCK to the kernel, so a rule refusing AF_VSOCK lets it
//! through. The reverse also happens: musl sign-extends `int` arguments, and garbage in the high
//! half of a register makes an exact rule miss (libseccomp issue 383, snapd's
//! `copy_file_range` fix). So arguments listed here are compared on their low 32 bits only.
//!
//! Docker's JSON profile format does not say how wide an argument is, hence this table, taken
//! from the kernel's `SYSCALL_DEFINE` signatures (identical on x86_64 and aarch64). It lists
//! the arguments profiles filter on in practice: address families and socket types, flags,
//! commands and operations, descriptors, ids and signals. Only arguments of C type `int`,
//! `unsigned int`, `u32`, `pid_t`, `uid_t`, `gid_t`, `clockid_t` or `key_serial_t` belong here:
//! listing a 64-bit argument would hide its high half from every rule, so when in doubt an
//! argument stays out (and keeps the 64-bit comparison). One special case: `clone`'s flags are
//! `unsigned long`, but the kernel reads only their low 32 bits (`lower_32_bits(clone_flags)`
//! in `kernel/fork.c`, since clone3 took over the high ones), so they count as 32-bit.

/// (syscall, indexes of its 32-bit arguments), sorted by name (bytewise).
const INT_ARGS: &[(&str, &[u8])] = &[
    ("accept", &[0]),
    ("accept4", &[0, 3]),
    ("bind", &[0, 2]),
    ("bpf", &[0, 2]),
    ("clock_adjtime", &[0]),
    ("clock_getres", &[0]),
    ("clock_gettime", &[0]),
    ("clock_nanosleep", &[0, 1]),
    ("clock_settime", &[0]),
    ("clone", &[0]),
    ("close", &[0]),
    ("close_range", &[0, 1, 2]),
    ("connect", &[0, 2]),
    ("copy_file_range", &[0, 2, 5]),
    ("delete_module", &[1]),
    ("dup", &[0]),
    ("dup2", &[0, 1]),
    ("dup3", &[0, 1, 2]),
    ("epoll_create1", &[0]),
    ("epoll_ctl", &[0, 1, 2]),
    ("eventfd2", &[0, 1]),
    ("execveat", &[0, 4]),
    ("faccessat", &[0, 2]),
    ("fallocate", &[0, 1]),
    ("fanotify_init", &[0, 1]),
    ("fchmodat", &[0]),
    ("fchown", &[0, 1, 2]),
    ("fchownat", &[0, 2, 3, 4]),
    ("fcntl", &[0, 1]),
    ("finit_module", &[0, 2]),
    ("flock", &[0, 1]),
    ("fsconfig", &[0, 1, 4]),
    ("fsmount", &[0, 1, 2]),
    ("fsopen", &[1]),
    ("futex", &[1, 2, 5]),
    ("getpgid", &[0]),
    ("getpriority", &[0, 1]),
    ("getrandom", &[2]),
    ("getsid", &[0]),
    ("getsockopt", &[0, 1, 2]),
    ("inotify_add_watch", &[0, 2]),
    ("inotify_init1", &[0]),
    ("io_uring_enter", &[0, 1, 2, 3]),
    ("io_uring_register", &[0, 1, 3]),
    ("io_uring_setup", &[0]),
    ("ioctl", &[0, 1]),
    ("ioprio_get", &[0, 1]),
    ("ioprio_set", &[0, 1, 2]),
    ("kcmp", &[0, 1, 2]),
    ("keyctl", &[0]),
    ("kill", &[0, 1]),
    ("linkat", &[0, 2, 4]),
    ("listen", &[0, 1]),
    ("lseek", &[0, 2]),
    ("madvise", &[2]),
    ("membarrier", &[0, 1, 2]),
    ("memfd_create", &[1]),
    ("mkdirat", &[0]),
    ("mknodat", &[0, 3]),
    ("mlock2", &[2]),
    ("mlockall", &[0]),
    ("mount_setattr", &[0, 2]),
    ("move_mount", &[0, 2, 4]),
    ("msgctl", &[0, 1]),
    ("msgget", &[0, 1]),
    ("newfstatat", &[0, 3]),
    ("open", &[1]),
    ("open_by_handle_at", &[0, 2]),
    ("open_tree", &[0, 2]),
    ("openat", &[0, 2]),
    ("openat2", &[0]),
    ("perf_event_open", &[1, 2, 3]),
    ("personality", &[0]),
    ("pidfd_getfd", &[0, 1, 2]),
    ("pidfd_open", &[0, 1]),
    ("pidfd_send_signal", &[0, 1, 3]),
    ("pipe2", &[1]),
    ("prctl", &[0]),
    ("process_madvise", &[0, 3, 4]),
    ("quotactl", &[0]),
    ("read", &[0]),
    ("reboot", &[0, 1, 2]),
    ("recvfrom", &[0, 3]),
    ("recvmmsg", &[0, 2, 3]),
    ("recvmsg", &[0, 2]),
    ("renameat2", &[0, 2, 4]),
    ("rt_sigaction", &[0]),
    ("rt_sigprocmask", &[0]),
    ("rt_sigqueueinfo", &[0, 1]),
    ("rt_tgsigqueueinfo", &[0, 1, 2]),
    ("sched_getattr", &[0, 2, 3]),
    ("sched_setattr", &[0, 2]),
    ("sched_setscheduler", &[0, 1]),
    ("seccomp", &[0, 1]),
    ("semctl", &[0, 1, 2]),
    ("semget", &[0, 1, 2]),
    ("sendmmsg", &[0, 2, 3]),
    ("sendmsg", &[0, 2]),
    ("sendto", &[0, 3]),
    ("setfsgid", &[0]),
    ("setfsuid", &[0]),
    ("setgid", &[0]),
    ("setns", &[0, 1]),
    ("setpgid", &[0, 1]),
    ("setpriority", &[0, 1, 2]),
    ("setregid", &[0, 1]),
    ("setresgid", &[0, 1, 2]),
    ("setresuid", &[0, 1, 2]),
    ("setreuid", &[0, 1]),
    ("setsockopt", &[0, 1, 2, 4]),
    ("setuid", &[0]),
    ("shmctl", &[0, 1]),
    ("shmget", &[0, 2]),
    ("shutdown", &[0, 1]),
    ("signalfd4", &[0, 3]),
    ("socket", &[0, 1, 2]),
    ("socketpair", &[0, 1, 2]),
    ("splice", &[0, 2, 5]),
    ("statx", &[0, 2, 3]),
    ("sync_file_range", &[0, 3]),
    ("syslog", &[0, 2]),
    ("tee", &[0, 1, 3]),
    ("tgkill", &[0, 1, 2]),
    ("timer_create", &[0]),
    ("timerfd_create", &[0, 1]),
    ("tkill", &[0, 1]),
    ("umount2", &[1]),
    ("unlinkat", &[0, 2]),
    ("userfaultfd", &[0]),
    ("vmsplice", &[0, 3]),
    ("wait4", &[0, 2]),
    ("waitid", &[0, 1, 3]),
    ("write", &[0]),
];

/// Whether argument `index` of `syscall` is 32 bits wide for the kernel.
pub(super) fn is_32bit(syscall: &str, index: u8) -> bool {
    INT_ARGS
        .binary_search_by(|(name, _)| name.cmp(&syscall))
        .is_ok_and(|i| INT_ARGS[i].1.contains(&index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_names_real_syscalls() {
        assert!(INT_ARGS.windows(2).all(|w| w[0].0 < w[1].0));
        for (name, args) in INT_ARGS {
            assert!(!args.is_empty() && args.iter().all(|&a| a < 6), "{name}");
            assert!(args.windows(2).all(|w| w[0] < w[1]), "{name}");
            // Names only the other architecture lacks (open, dup2 on aarch64) are fine; a typo
            // is not.
            if cfg!(target_arch = "x86_64") {
                assert!(super::super::syscall_number(name).is_some(), "{name}");
            }
        }
    }

    #[test]
    fn lookups() {
        assert!(is_32bit("socket", 0));
        assert!(is_32bit("personality", 0));
        assert!(is_32bit("clone", 0));
        assert!(!is_32bit("clone", 1));
        // unshare's flags are used whole (high bits give EINVAL): 64-bit.
        assert!(!is_32bit("unshare", 0));
        assert!(!is_32bit("mmap", 2));
        assert!(!is_32bit("nope", 0));
    }
}
