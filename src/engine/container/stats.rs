//! What `stats` and `top` read of a running container: its cgroup's counters and processes.

use super::{Container, ContainerError};
use crate::engine::cgroups::CgroupStats;

impl Container {
    /// Its cgroup's counters; `None` when it has no cgroup (it stopped meanwhile).
    pub fn stats(&self) -> Result<Option<CgroupStats>, ContainerError> {
        let Ok(cg) = self.cgroup() else {
            return Ok(None);
        };
        cg.stats().map(Some).map_err(|e| self.cgroup_error(e))
    }

    /// The host PIDs of every process in its cgroup.
    pub fn processes(&self) -> Result<Vec<i32>, ContainerError> {
        self.cgroup()
            .and_then(|cg| cg.pids())
            .map_err(|e| self.cgroup_error(e))
    }
}
