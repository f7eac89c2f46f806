//! The manager's errors (one enum: every operation can meet most of them) and the name rule
//! all operations check first, since names become file names.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::engine::json_store::StoreError;
use crate::engine::network::attach::AttachError;
use crate::engine::network::ipam::IpamError;
use crate::engine::network::link::{InvalidIfname, NetlinkError};
use crate::engine::network::nft::NftError;
use crate::engine::network::routes::RoutesError;

#[derive(Debug, Error)]
pub enum NetworkError {
    /// A step failed and so did others tried after it (the rest of a teardown, or the clean-up
    /// of a failed set-up): the first failure, then each later one, none dropped.
    #[error("{first}{}", also.iter().map(|e| format!("; and {e}")).collect::<String>())]
    Several {
        first: Box<NetworkError>,
        also: Vec<NetworkError>,
    },
    #[error("invalid network name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName { name: String },
    #[error("network {network}: driver {driver:?} is not supported (only \"bridge\" is)")]
    UnsupportedDriver { network: String, driver: String },
    #[error("network {network}: bridge name {bridge:?} (driver_opts com.docker.network.bridge.name): {source}")]
    InvalidBridgeName {
        network: String,
        bridge: String,
        source: InvalidIfname,
    },
    #[error("network {network}: bridge {bridge} is already the bridge of network {other}")]
    BridgeTaken {
        network: String,
        bridge: String,
        other: String,
    },
    #[error("network {0} not found")]
    NotFound(String),
    #[error("network {network} has active endpoints (containers {})", containers.join(", "))]
    InUse {
        network: String,
        containers: Vec<String>,
    },
    #[error("network {network}: its address record is missing (it has a definition in {path}); remove it and create it again")]
    MissingAddresses { network: String, path: PathBuf },
    #[error(transparent)]
    Ipam(IpamError),
    #[error("network {network}: rebuilding its torn address record: {source}")]
    Rebuild {
        network: String,
        source: crate::engine::state::StateError,
    },
    #[error("network {network}: reading the host's routes: {source}")]
    Routes {
        network: String,
        source: RoutesError,
    },
    #[error("network {network}: {step}: {source}")]
    Link {
        network: String,
        step: String,
        source: NetlinkError,
    },
    #[error("network {network}: {step}: {source}")]
    Bridge {
        network: String,
        step: String,
        source: Box<AttachError>,
    },
    /// Running a probe or a sysctl write inside the network namespace failed to get there.
    #[error("{step}: {source}")]
    Netns { step: String, source: NetlinkError },
    #[error("{context}: {source}")]
    Nft { context: String, source: NftError },
    #[error("{step}: {source}")]
    Sysctl { step: String, source: io::Error },
    #[error("{step} {path}: {source}")]
    Io {
        step: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("reading {path}: corrupt network definition: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("no free {proto} host port left in the ephemeral range {low}-{high}")]
    NoFreePort {
        proto: &'static str,
        low: u16,
        high: u16,
    },
    #[error("checking host port {addr}/{proto}: {source}")]
    HostPort {
        addr: SocketAddr,
        proto: &'static str,
        source: io::Error,
    },
}

impl NetworkError {
    /// This error, followed by the failures of what was tried after it (none: itself, same
    /// text and variant as when it stopped the operation alone).
    pub(super) fn with_also(self, also: Vec<NetworkError>) -> NetworkError {
        if also.is_empty() {
            self
        } else {
            NetworkError::Several {
                first: Box::new(self),
                also,
            }
        }
    }

    /// One error for failures collected in order; `None` when there were none.
    pub(super) fn collected(errors: Vec<NetworkError>) -> Option<NetworkError> {
        let mut it = errors.into_iter();
        it.next().map(|first| first.with_also(it.collect()))
    }
}

impl From<IpamError> for NetworkError {
    fn from(e: IpamError) -> Self {
        match e {
            IpamError::NetworkNotFound(n) => NetworkError::NotFound(n),
            other => NetworkError::Ipam(other),
        }
    }
}

impl From<StoreError> for NetworkError {
    fn from(e: StoreError) -> NetworkError {
        match e {
            StoreError::Io { step, path, source } => NetworkError::Io { step, path, source },
            StoreError::Corrupt { path, source } => NetworkError::Corrupt { path, source },
        }
    }
}

pub(super) fn io_err(step: &'static str, path: &Path) -> impl FnOnce(io::Error) -> NetworkError {
    let path = path.to_path_buf();
    move |source| NetworkError::Io { step, path, source }
}

pub(super) fn nft_err(context: impl Into<String>) -> impl FnOnce(NftError) -> NetworkError {
    let context = context.into();
    move |source| NetworkError::Nft { context, source }
}

/// Names become file names: the same rule as IPAM's (Docker's name rule).
pub(super) fn check_name(name: &str) -> Result<(), NetworkError> {
    if crate::engine::network::ipam::is_valid_network_name(name) {
        Ok(())
    } else {
        Err(NetworkError::InvalidName {
            name: name.to_string(),
        })
    }
}
