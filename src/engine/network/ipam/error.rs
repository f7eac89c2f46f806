//! IPAM's errors: each names the network and the value at fault, since they reach the user
//! as the reason `up` or `network create` failed.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

use thiserror::Error;

use super::pool::HostPrefix;
use super::subnet::Subnet;

#[derive(Debug, Error)]
pub enum IpamError {
    /// A malformed or inconsistent `ipam.config` / request; the message says which value.
    #[error("{message}")]
    Invalid { message: String },
    #[error("network {network}: subnet {subnet} overlaps {host} on the host")]
    OverlapsHost {
        network: String,
        subnet: Subnet,
        host: HostPrefix,
    },
    #[error(
        "network {network}: subnet {subnet} overlaps subnet {other_subnet} of network {other}"
    )]
    OverlapsNetwork {
        network: String,
        subnet: Subnet,
        other: String,
        other_subnet: Subnet,
    },
    #[error("network {network}: no free {family} subnet left in the address pools ({pools}): every candidate overlaps a host route or address or another network")]
    PoolsExhausted {
        network: String,
        family: &'static str,
        pools: String,
    },
    #[error("network {0} already exists")]
    NetworkExists(String),
    #[error("network {0} not found")]
    NetworkNotFound(String),
    #[error("network {network} is still used by containers {containers}")]
    NetworkInUse { network: String, containers: String },
    #[error("network {network}: address {addr} is already in use by container {owner}")]
    AddressInUse {
        network: String,
        addr: IpAddr,
        owner: String,
    },
    #[error("network {network}: address {addr} is {why}")]
    AddressReserved {
        network: String,
        addr: IpAddr,
        why: String,
    },
    #[error("network {network}: address {addr} is not inside any of its subnets ({subnets})")]
    AddressOutside {
        network: String,
        addr: IpAddr,
        subnets: String,
    },
    #[error("network {network}: no free {family} address left in {subnets}")]
    Exhausted {
        network: String,
        family: &'static str,
        subnets: String,
    },
    #[error("container {container} already has address {current} on network {network}, not the requested {requested}")]
    AlreadyAllocated {
        network: String,
        container: String,
        current: IpAddr,
        requested: IpAddr,
    },
    #[error("{step} {path}: {source}")]
    Io {
        step: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("reading {path}: corrupt network record: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

pub(super) fn invalid(message: String) -> IpamError {
    IpamError::Invalid { message }
}

/// A comma-separated list for error messages.
pub(super) fn join<T: fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}
