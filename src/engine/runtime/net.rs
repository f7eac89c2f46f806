//! The container's network namespace as the set-up process sees it: loopback brought up over
//! rtnetlink (never by running `ip`). Interfaces on project networks are added from the host side
//! (see [`crate::engine::network::attach`]).

use std::path::Path;

use super::error::{InitError, Step};
use crate::engine::network::link::Netlink;

/// Sets `lo` up in the current network namespace. `lo` is always interface 1 in a new namespace.
pub fn loopback_up() -> Result<(), InitError> {
    let lo = Some(Path::new("lo"));
    // The message crosses a pipe to the parent: the text, with no errno (as before the link
    // layer had its own error type).
    let mut nl = Netlink::new().map_err(|e| InitError::msg(Step::Network, lo, e.to_string()))?;
    nl.set_up(1)
        .map_err(|e| InitError::msg(Step::Network, lo, e.to_string()))
}
