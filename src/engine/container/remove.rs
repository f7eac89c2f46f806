//! Removing a stopped container for good: its published ports and addresses given back, its
//! `destroy` event, its state directory deleted.

use super::{Container, ContainerError};
use crate::engine::network::manager::Networks;
use crate::engine::network::nft::PortMapping;

impl Container {
    /// Releases what the stopped container holds in `nets` and deletes its directory.
    #[tracing::instrument(name = "container", skip_all, fields(name = %self.record.name))]
    pub fn remove(&self, nets: &Networks) -> Result<(), ContainerError> {
        tracing::debug!("removing");
        let rec = &self.record;
        for p in &rec.ports {
            nets.unpublish(&PortMapping::from(p))?;
        }
        for ep in &rec.endpoints {
            nets.release(&ep.network, &rec.id)?;
        }
        crate::engine::events::emit(&self.root, rec, "destroy", &[]);
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(ContainerError::Remove {
                name: rec.name.clone(),
                path: self.dir.clone(),
                source,
            }),
        }
    }
}
