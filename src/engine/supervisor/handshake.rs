//! How a monitor tells the command that launched it whether the container started: one
//! message on an inherited pipe at a fixed descriptor.

use std::os::fd::RawFd;

use crate::engine::runtime::error::InitError;

/// A monitor's `argv[0]`: with the container's name as its only argument, `ps -eo args` reads
/// `compose-monitor <name>`, which says what the process is for at a glance. It is also the
/// monitor's `comm` (exactly the kernel's 15 bytes), so `pgrep -x compose-monitor` finds them
/// all.
pub const MONITOR_ARG0: &str = "compose-monitor";

/// The state root a monitor serves, passed in the environment so that its command line stays
/// readable (and, read from `/proc/PID/environ`, how tools tell whose monitor a process is).
pub const MONITOR_ROOT_ENV: &str = "COMPOSE_MONITOR_ROOT";

/// The id of the container a monitor serves, in the environment beside [`MONITOR_ROOT_ENV`].
pub const MONITOR_ID_ENV: &str = "COMPOSE_MONITOR_ID";

/// Whether this process was started as a monitor: `argv[0]` is [`MONITOR_ARG0`] and both
/// variables are set. Neither alone is enough: a `compose` binary installed or linked under
/// that name, or a shell that exported the variables, must still run the CLI.
pub fn invoked_as_monitor() -> bool {
    std::env::args_os().next().as_deref() == Some(std::ffi::OsStr::new(MONITOR_ARG0))
        && std::env::var_os(MONITOR_ROOT_ENV).is_some()
        && std::env::var_os(MONITOR_ID_ENV).is_some()
}

/// The descriptor on which the monitor reports its first start: `+`, or `-` and the
/// [`InitError`] as JSON.
pub(crate) const READY_FD: RawFd = 3;

/// The monitor's report of a failed first start on [`READY_FD`].
pub(crate) fn error_message(e: &InitError) -> Vec<u8> {
    let mut msg = vec![b'-'];
    msg.extend(serde_json::to_vec(e).unwrap_or_default());
    msg
}
