//! The errors of the resolver and its store, carried inside `io::Error`s.

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::engine::network::nft::NftError;

use super::config::*;

/// Why a DNS store or resolver operation failed, with what it was working on. Carried inside
/// the [`io::Error`]s of this module (same [`io::ErrorKind`] as the cause).
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

impl From<DnsError> for io::Error {
    fn from(e: DnsError) -> io::Error {
        let kind = match &e {
            DnsError::InvalidName { .. } => io::ErrorKind::InvalidInput,
            DnsError::Store { source, .. } | DnsError::Socket { source, .. } => source.kind(),
            DnsError::Redirect { .. } => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

pub(super) fn store_err(op: &'static str, path: &Path, source: io::Error) -> io::Error {
    DnsError::Store {
        op,
        path: path.to_path_buf(),
        source,
    }
    .into()
}

pub(super) fn socket_err(op: impl Into<String>, source: io::Error) -> io::Error {
    DnsError::Socket {
        op: op.into(),
        source,
    }
    .into()
}
