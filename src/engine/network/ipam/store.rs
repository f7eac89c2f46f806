//! The persisted side of IPAM: one JSON record per network, every change taken under the
//! store's exclusive lock after re-reading from disk (see the `ipam` module docs). Records are
//! written durably. A torn one is left out of [`IpamStore::list`] (so other networks can still
//! be planned) and is an error for the operations on its network, which the network manager
//! meets by rebuilding it ([`IpamStore::replace_torn`]; see `network::manager::repair`).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::allocate::allocate_in;
use super::error::{invalid, join, IpamError};
use super::plan::plan_network;
use super::pool::{HostPrefix, IpamPools};
use super::records::{AddrRequest, ContainerAddrs, IpamRequest, NetworkAddrs, NetworkOptions};
use crate::engine::fsutil::StoreLock;
use crate::engine::json_store::{JsonStore, StoreError};

/// Our networks' address records under a state directory (`<--root>/networks`): one
/// `<name>.json` per network, changed only under the exclusive lock `<dir>/.lock`.
pub struct IpamStore {
    dir: PathBuf,
    records: JsonStore,
    pools: IpamPools,
}

impl From<StoreError> for IpamError {
    fn from(e: StoreError) -> IpamError {
        match e {
            StoreError::Io { step, path, source } => IpamError::Io { step, path, source },
            StoreError::Corrupt { path, source } => IpamError::Corrupt { path, source },
        }
    }
}

fn io_err(step: &'static str, path: &Path) -> impl FnOnce(io::Error) -> IpamError {
    let path = path.to_path_buf();
    move |source| IpamError::Io { step, path, source }
}

/// Whether `name` is one Docker accepts for a network (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 200
/// characters): network names become file names, here and in the network manager's records.
pub(crate) fn is_valid_network_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn check_name(name: &str) -> Result<(), IpamError> {
    if is_valid_network_name(name) {
        Ok(())
    } else {
        Err(invalid(format!(
            "invalid network name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )))
    }
}

impl IpamStore {
    /// Opens (creating it if needed) the store in `dir` with the default pools.
    pub fn open(dir: &Path) -> Result<IpamStore, IpamError> {
        IpamStore::with_pools(dir, IpamPools::default())
    }

    pub fn with_pools(dir: &Path, pools: IpamPools) -> Result<IpamStore, IpamError> {
        crate::engine::root::private_dir(dir).map_err(io_err("creating", dir))?;
        Ok(IpamStore {
            dir: dir.to_path_buf(),
            records: JsonStore::new(dir),
            pools,
        })
    }

    pub fn pools(&self) -> &IpamPools {
        &self.pools
    }

    fn lock(&self) -> Result<StoreLock, IpamError> {
        Ok(self.records.lock()?)
    }

    fn read(&self, name: &str) -> Result<Option<NetworkAddrs>, IpamError> {
        Ok(self.records.read(name)?)
    }

    fn write(&self, net: &NetworkAddrs) -> Result<(), IpamError> {
        Ok(self.records.write(&net.name, net)?)
    }

    /// The network's record, if it exists.
    pub fn get(&self, name: &str) -> Result<Option<NetworkAddrs>, IpamError> {
        check_name(name)?;
        self.read(name)
    }

    /// All our networks, sorted by name. Reads need no lock: records are replaced atomically.
    pub fn list(&self) -> Result<Vec<NetworkAddrs>, IpamError> {
        let entries = fs::read_dir(&self.dir).map_err(io_err("listing", &self.dir))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err("listing", &self.dir))?;
            let file = entry.file_name();
            let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".json")) else {
                continue;
            };
            if check_name(name).is_err() {
                continue; // temp files (`.tmp-…`) and strangers
            }
            match self.read(name) {
                Ok(Some(net)) => out.push(net),
                Ok(None) => {}
                Err(IpamError::Corrupt { path, source }) => crate::engine::json_store::warn_torn(
                    &path,
                    &source,
                    "left out of address planning until the network is used again",
                ),
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Replaces network `name`'s torn record with `rebuilt`, or removes it when there is
    /// nothing to rebuild it from (`None`); returns the record now there. One that reads
    /// whole under the lock (another command repaired it meanwhile) is kept.
    pub fn replace_torn(
        &self,
        name: &str,
        rebuilt: Option<&NetworkAddrs>,
    ) -> Result<Option<NetworkAddrs>, IpamError> {
        check_name(name)?;
        let _lock = self.lock()?;
        match self.read(name) {
            Err(IpamError::Corrupt { .. }) => {}
            whole => return whole,
        }
        match rebuilt {
            Some(net) => {
                self.write(net)?;
                Ok(Some(net.clone()))
            }
            None => {
                self.records.remove(name)?;
                Ok(None)
            }
        }
    }

    /// Records a new network with its subnets (see [`plan_network`]); `host` is what
    /// [`crate::engine::network::routes::host_prefixes`] returned.
    pub fn create_network(
        &self,
        name: &str,
        configs: &[IpamRequest],
        options: NetworkOptions,
        host: &[HostPrefix],
    ) -> Result<NetworkAddrs, IpamError> {
        check_name(name)?;
        let _lock = self.lock()?;
        if self.read(name)?.is_some() {
            return Err(IpamError::NetworkExists(name.to_string()));
        }
        let others = self.list()?;
        let subnets = plan_network(name, configs, options, &self.pools, host, &others)?;
        let net = NetworkAddrs {
            name: name.to_string(),
            subnets,
            allocations: BTreeMap::new(),
        };
        self.write(&net)?;
        Ok(net)
    }

    /// Forgets a network. Refused while containers still hold addresses on it; returns
    /// whether there was such a network.
    pub fn remove_network(&self, name: &str) -> Result<bool, IpamError> {
        check_name(name)?;
        let _lock = self.lock()?;
        tracing::debug!(network = name, "ipam: removing network");
        let Some(net) = self.read(name)? else {
            return Ok(false);
        };
        if !net.allocations.is_empty() {
            return Err(IpamError::NetworkInUse {
                network: name.to_string(),
                containers: join(net.allocations.keys()),
            });
        }
        // Read under the lock just now: the record is there to remove.
        self.records.remove(name)?;
        Ok(true)
    }

    /// Gives a container its addresses on `network` (see [`allocate_in`]).
    pub fn allocate(
        &self,
        network: &str,
        container_id: &str,
        req: &AddrRequest,
    ) -> Result<ContainerAddrs, IpamError> {
        check_name(network)?;
        let _lock = self.lock()?;
        let mut net = self
            .read(network)?
            .ok_or_else(|| IpamError::NetworkNotFound(network.to_string()))?;
        let before = net.clone();
        let out = allocate_in(&mut net, container_id, req)?;
        tracing::debug!(network, container = container_id, addresses = ?out, "ipam: allocated");
        if net != before {
            self.write(&net)?;
        }
        Ok(out)
    }

    /// Frees a container's addresses on `network`; returns whether it had any.
    pub fn release(&self, network: &str, container_id: &str) -> Result<bool, IpamError> {
        check_name(network)?;
        let _lock = self.lock()?;
        let Some(mut net) = self.read(network)? else {
            return Ok(false);
        };
        tracing::debug!(network, container = container_id, "ipam: releasing");
        if net.allocations.remove(container_id).is_none() {
            return Ok(false);
        }
        self.write(&net)?;
        Ok(true)
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
