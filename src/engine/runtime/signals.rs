//! The signal state a container's command starts with, set by `compose __init` and by `exec`
//! just before they execute it.

/// Gives the process about to execute a container's command a clean signal state: every
/// signal's disposition back to the default (ignored ones stay ignored across exec: Rust's
/// runtime ignores SIGPIPE, and whatever started the CLI may have ignored others) and an empty
/// signal mask (the CLI blocks the signals it forwards, and a blocked mask survives fork and
/// exec: a command started under it would never see SIGTERM).
pub fn reset_signals() {
    for sig in 1..32 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: resetting dispositions of standard signals in a single-threaded process.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    // SAFETY: an empty set on local storage.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}
