//! The errors of the nftables client.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::engine::network::link::{netlink_errno, NetlinkError};

/// A failed nftables operation, with the step it was in.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    /// The socket itself failed (open, send, receive).
    #[error("nftables: {op}: {source}")]
    Io {
        op: String,
        #[source]
        source: io::Error,
    },
    /// Entering another network namespace to open the socket there failed.
    #[error("nftables: {op}: {source}")]
    Netns {
        op: String,
        #[source]
        source: NetlinkError,
    },
    /// The kernel refused one message of a transaction (the whole transaction was undone).
    #[error("nftables: {op}: {}{}", io::Error::from_raw_os_error(*errno), if msg.is_empty() { String::new() } else { format!(" ({msg})") })]
    Kernel {
        op: String,
        errno: i32,
        /// The kernel's extended-ack message, when it gave one.
        msg: String,
    },
    /// No answer in time.
    #[error("nftables: {op}: no answer from the kernel within {after:?}")]
    Timeout { op: String, after: Duration },
    /// A malformed answer, or input we cannot express.
    #[error("nftables: {op}: {what}")]
    Invalid { op: String, what: String },
}

impl NftError {
    /// The errno behind the error, when there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NftError::Io { source, .. } => source.raw_os_error(),
            NftError::Netns { source, .. } => netlink_errno(source),
            NftError::Kernel { errno, .. } => Some(*errno),
            NftError::Timeout { .. } => Some(libc::ETIMEDOUT),
            NftError::Invalid { .. } => None,
        }
    }
}

pub(super) fn invalid(op: &str, what: impl fmt::Display) -> NftError {
    NftError::Invalid {
        op: op.to_string(),
        what: what.to_string(),
    }
}
