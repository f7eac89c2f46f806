//! How a monitor tells the command that launched it whether the container started: one
//! message on an inherited pipe at a fixed descriptor.

use std::os::fd::RawFd;

use crate::engine::runtime::error::InitError;

/// `compose __monitor <root> <id>`.
pub const MONITOR_ARG: &str = "__monitor";

/// The descriptor on which the monitor reports its first start: `+`, or `-` and the
/// [`InitError`] as JSON.
pub(crate) const READY_FD: RawFd = 3;

/// The monitor's report of a failed first start on [`READY_FD`].
pub(crate) fn error_message(e: &InitError) -> Vec<u8> {
    let mut msg = vec![b'-'];
    msg.extend(serde_json::to_vec(e).unwrap_or_default());
    msg
}
