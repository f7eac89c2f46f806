//! The compiled programs, and real processes running under them.

use super::compile::*;
use super::default::*;
use super::profile::*;
use super::syscalls::*;
use super::*;
use std::io;

use crate::engine::spec;

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
