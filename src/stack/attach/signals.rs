//! Ctrl-C and SIGTERM during an attached `up`: counted, not fatal, so the first stops the
//! project gracefully and the second kills it.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::AttachError;

static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_interrupt(_sig: libc::c_int) {
    INTERRUPTS.fetch_add(1, Ordering::SeqCst);
}

/// Counts SIGINT and SIGTERM instead of dying of them, so an attached `up` stops its
/// containers gracefully on the first and kills them on the second; returns the counter.
pub fn catch_interrupts() -> Result<&'static AtomicUsize, AttachError> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only touches an atomic (async-signal-safe); the struct is
        // zero-initialised as sigaction expects.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_interrupt as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                return Err(AttachError::Signal(io::Error::last_os_error()));
            }
        }
    }
    Ok(&INTERRUPTS)
}
