//! Our networks as one whole: what `up` asks for ([`Networks::ensure`]), what `down` and
//! `compose network rm` take away ([`Networks::remove`]), container addresses and published
//! ports, on top of the building blocks of this module (IPAM records, the bridge, nftables).
//!
//! Why it looks like this:
//! - There is no daemon, so the truth is on disk under `<root>/networks/`: IPAM's `<name>.json`
//!   records and, in the subdirectory `defs/` (so that IPAM's listing never sees them), one
//!   `<name>.json` per network with the definition it was created from, its bridge and its
//!   creation time. Kernel state (bridge, rules, sysctls) is derived from those records and
//!   re-created by [`Networks::ensure`] whenever it is missing (after a reboot, or after someone
//!   flushed the ruleset), so `up` after a reboot just works.
//! - Every change of a network (ensure, remove, allocate) runs under the exclusive lock
//!   `<root>/networks/defs/.lock`: two `compose up` of the same project at once create one
//!   network, and a network is never removed while another process gives it a container. It is
//!   a different file from IPAM's own lock, which IPAM takes inside ours.
//! - A network that already exists is kept as it is, even when the definition asked for now
//!   differs: its containers are still using it. The caller gets the recorded definition back
//!   and can warn ([`NetworkDef::differences`]).
//! - Creation is ordered IPAM record, then definition; removal the reverse. A reader (`ls`)
//!   that races with either therefore never sees a definition without addresses.
//! - [`Networks::open_in`] does all of it inside another network namespace (netlink and
//!   nftables sockets made there, sysctls and port probes from a thread that joined it), which
//!   is how the tests get a disposable host.
//!
//! Layout: the [`Networks`] type and its plumbing here, one file per operation over it
//! ([`ensure`], [`remove`], [`inspect`], [`addresses`], [`ports`]), the records in [`def`] and
//! the [`error`]s.

use std::fs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::ipam::{IpamStore, NetworkAddrs};
use super::link::{self, Netlink, NetlinkError};
use super::nft::Nft;
use crate::engine::fsutil::StoreLock;
use crate::engine::json_store::{self, JsonStore, Layout};

mod addresses;
mod def;
mod ensure;
mod error;
mod inspect;
mod ports;
mod remove;
mod repair;

use def::Record;
pub use def::{NetworkDef, NetworkInfo, BRIDGE_DRIVER};
pub use error::NetworkError;
use error::{check_name, io_err, nft_err};
pub use ports::{addresses_overlap, parse_port_tag, PublishedPort};

/// Our networks under a state root, acting on the current network namespace or on another one.
pub struct Networks {
    root: PathBuf,
    /// `root` canonicalised, the part of bridge names that keeps state roots apart.
    canonical_root: PathBuf,
    defs: PathBuf,
    ipam: IpamStore,
    ns: Option<OwnedFd>,
}

impl std::fmt::Debug for Networks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Networks")
            .field("root", &self.root)
            .field("ns", &self.ns)
            .finish()
    }
}

impl Networks {
    /// Our networks under `root`, acting in the calling thread's network namespace.
    pub fn open(root: &Path) -> Result<Networks, NetworkError> {
        Networks::open_with(root, None)
    }

    /// Our networks under `root`, acting in the network namespace `ns` (the fd is duplicated;
    /// the caller's namespace never changes).
    pub fn open_in(root: &Path, ns: BorrowedFd<'_>) -> Result<Networks, NetworkError> {
        let owned = ns.try_clone_to_owned().map_err(|source| NetworkError::Io {
            step: "duplicating the network namespace fd for",
            path: root.to_path_buf(),
            source,
        })?;
        Networks::open_with(root, Some(owned))
    }

    fn open_with(root: &Path, ns: Option<OwnedFd>) -> Result<Networks, NetworkError> {
        let dir = crate::engine::root::StateRoot::new(root).networks();
        // Bridge names hash the root: one root spelt two ways must give one name.
        let canonical_root = fs::canonicalize(root)
            .or_else(|_| std::path::absolute(root))
            .unwrap_or_else(|_| root.to_path_buf());
        Ok(Networks {
            root: root.to_path_buf(),
            canonical_root,
            defs: dir.join("defs"),
            ipam: IpamStore::open(&dir)?,
            ns,
        })
    }

    // --- plumbing -------------------------------------------------------------------------

    fn in_ns<R: Send>(&self, f: impl FnOnce() -> R + Send) -> Result<R, NetlinkError> {
        match &self.ns {
            Some(ns) => link::in_netns(ns.as_fd(), f),
            None => Ok(f()),
        }
    }

    fn netlink(&self, network: &str) -> Result<Netlink, NetworkError> {
        match &self.ns {
            Some(ns) => Netlink::new_in(ns.as_fd()),
            None => Netlink::new(),
        }
        .map_err(|source| NetworkError::Link {
            network: network.to_string(),
            step: "opening rtnetlink".into(),
            source,
        })
    }

    fn nft(&self) -> Result<Nft, NetworkError> {
        match &self.ns {
            Some(ns) => Nft::new_in(ns.as_fd()),
            None => Nft::new(),
        }
        .map_err(nft_err("opening nftables"))
    }

    fn lock(&self) -> Result<StoreLock, NetworkError> {
        crate::engine::root::private_dir(&self.defs).map_err(io_err("creating", &self.defs))?;
        Ok(JsonStore::new(&self.defs).lock()?)
    }

    fn def_path(&self, name: &str) -> PathBuf {
        self.defs.join(format!("{name}.json"))
    }

    /// The network's definition; `None` when there is none or a torn one (reported): the
    /// next `ensure` (an `up` of its project) writes it again (see [`repair`]).
    fn read_record(&self, name: &str) -> Result<Option<Record>, NetworkError> {
        match json_store::read(&self.def_path(name)) {
            Err(json_store::StoreError::Corrupt { path, source }) => {
                json_store::warn_torn(
                    &path,
                    &source,
                    "the network's definition is ignored until the next `up` of its project writes it again",
                );
                Ok(None)
            }
            r => Ok(r?),
        }
    }

    fn write_record(&self, rec: &Record) -> Result<(), NetworkError> {
        let path = self.def_path(&rec.def.name);
        Ok(json_store::write(&path, rec, Layout::Pretty)?)
    }

    fn delete_record(&self, name: &str) -> Result<(), NetworkError> {
        JsonStore::new(&self.defs).remove(name)?;
        Ok(())
    }

    /// Names of the recorded definitions, sorted.
    fn record_names(&self) -> Result<Vec<String>, NetworkError> {
        let entries = match fs::read_dir(&self.defs) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("listing", &self.defs)(e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err("listing", &self.defs))?;
            let file = entry.file_name();
            let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".json")) else {
                continue;
            };
            if check_name(name).is_ok() {
                names.push(name.to_string());
            }
        }
        names.sort();
        Ok(names)
    }
}

fn info(rec: Record, addrs: NetworkAddrs) -> NetworkInfo {
    NetworkInfo {
        def: rec.def,
        bridge: rec.bridge,
        addrs,
        created: rec.created,
    }
}

#[cfg(test)]
mod tests;
