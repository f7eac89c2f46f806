//! `Networks::get` and `Networks::list`: reads need no lock, records are replaced atomically.

use super::def::NetworkInfo;
use super::error::{check_name, NetworkError};
use super::{info, Networks};

impl Networks {
    /// The network, if it exists.
    pub fn get(&self, name: &str) -> Result<Option<NetworkInfo>, NetworkError> {
        check_name(name)?;
        let Some(rec) = self.read_record(name)? else {
            return Ok(None);
        };
        match self.with_repair(name, false, || self.ipam.get(name))? {
            Some(addrs) => Ok(Some(info(rec, addrs))),
            None => Err(NetworkError::MissingAddresses {
                network: name.to_string(),
                path: self.def_path(name),
            }),
        }
    }

    /// All our networks, sorted by name.
    pub fn list(&self) -> Result<Vec<NetworkInfo>, NetworkError> {
        let mut out = Vec::new();
        for name in self.record_names()? {
            if let Some(i) = self.get(&name)? {
                out.push(i);
            }
        }
        Ok(out)
    }
}
