//! The link layer of project networks, over rtnetlink: bridges, veth pairs, addresses, routes,
//! and moving interfaces between network namespaces.
//!
//! Everything goes through one synchronous [`Netlink`] client (`client.rs`) (a `NETLINK_ROUTE` socket and a
//! sequence counter): no async runtime, no `ip` process on the hot path. Each modifying request
//! carries `NLM_F_ACK`, so the kernel's answer (ACK or errno) is read before the call returns, and
//! every failure becomes a [`NetlinkError`] that names the operation and keeps the errno (see
//! [`netlink_errno`]). The socket is a [`Transport`], so tests replace the
//! kernel with a recording fake and check the messages each operation sends.
//!
//! A netlink socket talks to the network namespace it was *created* in, whichever thread uses it
//! later. [`Netlink::new_in`] uses that to drive another namespace (a container's, or a test's
//! stand-in host) from the calling thread; [`in_netns`] runs arbitrary code (sockets, several
//! clients) inside another namespace on a dedicated thread, so the caller's namespace never
//! changes.
//!
//! Interface names are limited to 15 bytes by the kernel. [`veth_name`], [`veth_peer_name`] and
//! [`bridge_name`] derive short, deterministic, collision-resistant names from hashes; their
//! prefixes (`cmp`, `br-`) are the ones the project's leftover checks look for.
//!
//! Files: `client.rs` the requests, `listing.rs` what listings return, `error.rs` the error
//! types, `netns.rs` running code in other namespaces, `names.rs` interface names.

mod client;
mod error;
mod listing;
mod names;
mod netns;

pub use client::Netlink;
pub use error::{netlink_errno, NetlinkError, NetlinkFailure, NetlinkResult};
pub use listing::{format_mac, Address, Link, Route};
pub use names::{
    bridge_name, check_ifname, legacy_bridge_name, veth_name, veth_peer_name, InvalidIfname,
    IFNAME_MAX,
};
pub use netns::{create_netns, in_netns, open_netns};

#[cfg(test)]
pub(crate) mod tests;
