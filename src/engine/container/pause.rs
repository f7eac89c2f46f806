//! `pause` and `unpause`: the cgroup freezer. Whether a container is paused is read from the
//! freezer each time rather than recorded, so it can never disagree with the kernel.

use super::{cgroup_of, Container, ContainerError};
use crate::engine::state::ContainerRecord;

/// Whether the container `record` describes is paused (frozen); one without a cgroup (not
/// running) is not. For the listings that hold records, not handles.
pub fn is_paused(record: &ContainerRecord) -> bool {
    cgroup_of(record)
        .and_then(|cg| cg.is_frozen())
        .unwrap_or(false)
}

impl Container {
    /// Whether it is paused (frozen); a container without a cgroup (not running) is not.
    pub fn is_paused(&self) -> bool {
        is_paused(&self.record)
    }

    /// Whether it is paused, as an error when its cgroup cannot be read (`pause` checks every
    /// container before it changes any).
    pub fn paused(&self) -> Result<bool, ContainerError> {
        self.cgroup()
            .and_then(|cg| cg.is_frozen())
            .map_err(|e| self.cgroup_error(e))
    }

    /// Freezes (`pause`) or thaws (`unpause`) it.
    #[tracing::instrument(name = "container", skip_all, fields(name = %self.record.name))]
    pub fn set_paused(&self, pause: bool) -> Result<(), ContainerError> {
        tracing::debug!(pause, "freezing or thawing");
        let cg = self.cgroup().map_err(|e| self.cgroup_error(e))?;
        if pause { cg.freeze() } else { cg.thaw() }.map_err(|e| self.cgroup_error(e))
    }

    /// Thaws a frozen container so it can act on a signal just sent (stop, kill).
    pub fn thaw_if_paused(&self) {
        // No cgroup (not running) or no freezer state: nothing is frozen.
        let Ok(cg) = self.cgroup() else {
            return;
        };
        if cg.is_frozen().unwrap_or(false) {
            if let Err(e) = cg.thaw() {
                self.warn(&format!("thawing it: {e}"));
            }
        }
    }
}
