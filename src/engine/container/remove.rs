//! Removing a stopped container for good: its published ports and addresses given back, its
//! `destroy` event, its state directory deleted. Its record goes before its addresses, so a
//! removal cut short never leaves a container using addresses it no longer holds.

use super::{Container, ContainerError};
use crate::engine::anon_volumes;
use crate::engine::network::manager::Networks;
use crate::engine::network::nft::PortMapping;
use crate::engine::state;

/// Whether a removed container's anonymous volumes go with it (`down -v`, `rm -v`, `run --rm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnonymousVolumes {
    Keep,
    Remove,
}

impl Container {
    /// Releases what the stopped container holds in `nets`, removes its anonymous volumes when
    /// asked, and deletes its directory. The volumes go while the directory (without its
    /// record) still names the container: removed after it, a kill in between left volumes
    /// that nothing could name any more.
    #[tracing::instrument(name = "container", skip_all, fields(name = %self.record.name))]
    pub fn remove(&self, nets: &Networks, volumes: AnonymousVolumes) -> Result<(), ContainerError> {
        tracing::debug!("removing");
        let rec = &self.record;
        for p in &rec.ports {
            nets.unpublish(&PortMapping::from(p))?;
        }
        crate::engine::fault::point("container.remove.after-unpublish");
        // The record goes before the addresses: a removal cut short after this leaves a
        // directory without a record, which commands ignore and `down` deletes (giving back
        // the addresses of record-less containers). Released first, a kill before the record
        // went left a container that the next `up` started on addresses IPAM could hand out
        // again.
        let record = state::record_path(&self.dir);
        match std::fs::remove_file(&record) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(ContainerError::Remove {
                    name: rec.name.clone(),
                    path: record,
                    source,
                })
            }
        }
        crate::engine::fault::point("container.remove.after-record");
        for ep in &rec.endpoints {
            nets.release(&ep.network, &rec.id)?;
        }
        crate::engine::fault::point("container.remove.after-release");
        if volumes == AnonymousVolumes::Remove {
            anon_volumes::remove_of(&self.root, rec)?;
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
