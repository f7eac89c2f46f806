//! The errors of the resolver and its store: one typed [`DnsError`] that callers carry up as a
//! source.

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::engine::network::link::NetlinkError;
use crate::engine::network::nft::NftError;

use super::config::*;

/// Why a DNS store or resolver operation failed, with what it was working on.
#[derive(Debug, Error)]
pub enum DnsError {
    /// A network name or container id that cannot be a file name in the store.
    #[error("dns: invalid {what} {value:?}: {reason}")]
    InvalidName {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
    /// Reading or writing the endpoint store failed.
    #[error("dns: {op} {}: {source}", path.display())]
    Store {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// An entry could not be encoded for the store.
    #[error(transparent)]
    Encode(serde_json::Error),
    /// The container's network namespace could not be entered to bind the listeners there.
    #[error(transparent)]
    Netns(NetlinkError),
    /// Creating or binding a socket failed.
    #[error("dns: {op}: {source}")]
    Socket {
        op: String,
        #[source]
        source: io::Error,
    },
    /// The rule sending the resolver's address to its listener's port could not be installed.
    #[error("dns: redirect {RESOLVER_IP}:{DNS_PORT} to port {port}: {source}")]
    Redirect {
        port: u16,
        #[source]
        source: NftError,
    },
}

impl DnsError {
    /// The [`io::ErrorKind`] of the cause, for callers that tolerate some.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            DnsError::InvalidName { .. } => io::ErrorKind::InvalidInput,
            DnsError::Store { source, .. } | DnsError::Socket { source, .. } => source.kind(),
            DnsError::Encode(_) => io::ErrorKind::InvalidData,
            DnsError::Netns(e) => e.kind(),
            DnsError::Redirect { .. } => io::ErrorKind::Other,
        }
    }
}

pub(super) fn store_err(op: &'static str, path: &Path, source: io::Error) -> DnsError {
    DnsError::Store {
        op,
        path: path.to_path_buf(),
        source,
    }
}

pub(super) fn socket_err(op: impl Into<String>, source: io::Error) -> DnsError {
    DnsError::Socket {
        op: op.into(),
        source,
    }
}
