//! A container's addresses on one of our networks, handed out and freed through IPAM under
//! the manager's lock.

use super::error::{check_name, NetworkError};
use super::Networks;
use crate::engine::network::ipam::{AddrRequest, ContainerAddrs};

impl Networks {
    /// Gives a container its addresses on `network` (idempotent: a container keeps its
    /// addresses).
    pub fn allocate(
        &self,
        network: &str,
        container_id: &str,
        req: &AddrRequest,
    ) -> Result<ContainerAddrs, NetworkError> {
        check_name(network)?;
        // Under our lock, so that `remove` never takes a network a container is joining.
        let _lock = self.lock()?;
        self.with_repair(network, true, || {
            self.ipam.allocate(network, container_id, req)
        })
    }

    /// Frees a container's addresses on `network`; whether it had any.
    pub fn release(&self, network: &str, container_id: &str) -> Result<bool, NetworkError> {
        check_name(network)?;
        self.with_repair(network, false, || self.ipam.release(network, container_id))
    }
}
