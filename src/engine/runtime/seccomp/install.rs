//! Installing a compiled program on the calling thread, in the container's set-up process just
//! before the user's command.

use std::io;

use crate::engine::spec;

/// The kernel's limit on a classic BPF program (`BPF_MAXINSNS`).
pub(super) const BPF_MAXINSNS: usize = 4096;

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
