//! The container's network namespace as the set-up process sees it: loopback brought up over
//! rtnetlink (never by running `ip`). Interfaces on project networks are added from the host side
//! (see [`crate::engine::network::attach`]).

use std::path::Path;

use super::error::{InitError, Step};
use crate::engine::network::link::Netlink;

/// Sets `lo` up in the current network namespace. `lo` is always interface 1 in a new namespace.
pub fn loopback_up() -> Result<(), InitError> {
    let lo = Some(Path::new("lo"));
    let mut nl = Netlink::new().map_err(|e| InitError::io(Step::Network, lo, &e))?;
    nl.set_up(1)
        .map_err(|e| InitError::io(Step::Network, lo, &e))
}
