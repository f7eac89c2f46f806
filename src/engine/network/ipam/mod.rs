//! IP address management for our networks: subnet arithmetic, the address pools new networks
//! draw from, validation of a network's explicit `ipam.config`, and the per-network allocation
//! of container addresses, persisted on disk.
//!
//! Why it looks like this:
//! - There is no daemon holding the allocation state in memory, so every decision is taken
//!   under an exclusive lock on `<dir>/.lock` after re-reading the records from disk, and every
//!   change is written back atomically (temp file + rename + fsync). Two `compose` processes
//!   creating networks or starting containers at the same time therefore never hand out the same
//!   subnet or address.
//! - A new network's subnet is the first one of the pools (Docker's default address pools:
//!   `172.17.0.0/12` split into `/16`s, `192.168.0.0/16` split into `/20`s) that overlaps
//!   neither a prefix in use on the host (routes and interface addresses, read by
//!   [`super::routes::host_prefixes`]; Docker's `docker0` and Podman's `podman0` show up there)
//!   nor a subnet of another of our networks (which may not be up, so have no route yet).
//! - Container addresses are handed out serially (the next free one after the last handed out,
//!   wrapping around), like Docker and Podman: a just-released address is not reused at once,
//!   so stale ARP entries and DNS answers for a removed container do not hit its successor.
//!
//! Layout: [`subnet`] arithmetic, [`pool`]s and host prefixes, the [`records`] asked for and
//! kept, [`plan`] (a new network's subnets), [`allocate`] (container addresses), the
//! persisted [`store`], and the [`error`]s.

mod allocate;
mod error;
mod plan;
mod pool;
mod records;
mod store;
mod subnet;
#[cfg(test)]
mod test_support;

pub use allocate::allocate_in;
pub use error::IpamError;
pub use plan::plan_network;
pub use pool::{HostPrefix, IpamPools, Pool};
pub use records::{
    AddrRequest, Assigned, ContainerAddrs, IpamRequest, NetworkAddrs, NetworkOptions, SubnetAddrs,
};
pub(crate) use store::is_valid_network_name;
pub use store::IpamStore;
pub use subnet::{Subnet, SubnetError};
