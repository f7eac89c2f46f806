//! The names table: what each container publishes on each network, one JSON file per
//! container and network, read per query.

use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::fsutil::write_atomic;

use super::error::*;

/// What one container publishes on one network: the names it answers to (container name,
/// service name, aliases) and its addresses there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsEntry {
    pub names: Vec<String>,
    pub addresses: Vec<IpAddr>,
}

/// The published names of all containers, as files `<dir>/<network>/<container-id>`.
///
/// Files are replaced atomically, so a reader sees a container's old or new entry, never a mix;
/// files that cannot be read or parsed are skipped rather than failing every lookup.
#[derive(Debug, Clone)]
pub struct EndpointStore {
    dir: PathBuf,
}

/// Refuses what cannot be one plain file name; a leading `.` is reserved for the temporary
/// files of atomic writes, which readers skip.
pub(super) fn check_component(what: &'static str, value: &str) -> Result<(), DnsError> {
    let reason = if value.is_empty() {
        "empty"
    } else if value.starts_with('.') {
        "starts with '.'"
    } else if value.contains('/') || value.contains('\0') {
        "contains '/' or NUL"
    } else if value.len() > 255 {
        "longer than 255 bytes"
    } else {
        return Ok(());
    };
    Err(DnsError::InvalidName {
        what,
        value: value.to_string(),
        reason,
    })
}

/// The form names are compared in: ASCII lower case, without the root's trailing dot.
pub(super) fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

impl EndpointStore {
    /// A store kept under `dir` (the state root's `dns` folder); nothing is created until the
    /// first [`EndpointStore::publish`].
    pub fn new(dir: &Path) -> EndpointStore {
        EndpointStore {
            dir: dir.to_path_buf(),
        }
    }

    /// The folder the store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn network_dir(&self, network: &str) -> Result<PathBuf, DnsError> {
        check_component("network name", network)?;
        Ok(self.dir.join(network))
    }

    /// Makes `entry` the names and addresses of `container_id` on `network`, replacing what it
    /// published there before. Every resolver serving `network` sees it from its next query.
    pub fn publish(
        &self,
        network: &str,
        container_id: &str,
        entry: &DnsEntry,
    ) -> Result<(), DnsError> {
        let dir = self.network_dir(network)?;
        check_component("container id", container_id)?;
        crate::engine::root::private_dir(&dir).map_err(|e| store_err("create", &dir, e))?;
        let path = dir.join(container_id);
        let data = serde_json::to_vec(entry).map_err(DnsError::Encode)?;
        write_atomic(&path, &data).map_err(|e| store_err("write", &path, e))
    }

    /// Removes what `container_id` published on `network`; nothing published is fine.
    pub fn withdraw(&self, network: &str, container_id: &str) -> Result<(), DnsError> {
        let dir = self.network_dir(network)?;
        check_component("container id", container_id)?;
        let path = dir.join(container_id);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(store_err("remove", &path, e)),
            _ => Ok(()),
        }
    }

    /// Removes everything published on `network` (when the network is removed); a network
    /// nothing was published on is fine.
    pub fn remove_network(&self, network: &str) -> Result<(), DnsError> {
        let dir = self.network_dir(network)?;
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(store_err("remove", &dir, e)),
            _ => Ok(()),
        }
    }

    /// Every entry published on `network`, by container id (so answers have a stable base order
    /// for the rotation).
    pub fn entries(&self, network: &str) -> Result<Vec<(String, DnsEntry)>, DnsError> {
        let dir = self.network_dir(network)?;
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(store_err("read", &dir, e)),
        };
        let mut out = Vec::new();
        for item in rd {
            let item = item.map_err(|e| store_err("read", &dir, e))?;
            let Ok(id) = item.file_name().into_string() else {
                continue;
            };
            if id.starts_with('.') {
                continue;
            }
            // A file withdrawn since the listing, or half-written by a foreign tool, is skipped:
            // one bad entry must not break name resolution for the whole network.
            let Ok(data) = fs::read(item.path()) else {
                continue;
            };
            if let Ok(entry) = serde_json::from_slice::<DnsEntry>(&data) {
                out.push((id, entry));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// All addresses published under `name` (case-insensitive, trailing dot ignored) on
    /// `network`, both families, each once, in container-id order.
    pub fn lookup(&self, network: &str, name: &str) -> Result<Vec<IpAddr>, DnsError> {
        let want = normalize(name);
        let mut out = Vec::new();
        for (_, entry) in self.entries(network)? {
            if entry.names.iter().any(|n| normalize(n) == want) {
                for a in entry.addresses {
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The first name of the first container (by id) that publishes `ip` on `network`.
    pub fn reverse(&self, network: &str, ip: IpAddr) -> Result<Option<String>, DnsError> {
        Ok(self
            .entries(network)?
            .into_iter()
            .filter(|(_, e)| e.addresses.contains(&ip))
            .find_map(|(_, e)| e.names.into_iter().next()))
    }
}
