//! One container as the engine acts on it: a [`Container`] handle opened from the state root
//! (its record, its recorded state, its cgroup, its network endpoints), with one operation per
//! file over it, so a command that starts, stops or inspects a container calls one method
//! instead of repeating the sequence (youki's `libcontainer/src/container/` is the model).
//!
//! - [`start`]: what the detached monitor and the foreground `run` share to start one
//!   ([`start::Parent`] says which of them waits for it);
//! - [`stop`]: the one stop sequence (signal, thaw, grace, kill, wait for the monitor, clean up
//!   after a dead one), through a seam a test fake records;
//! - [`kill`], [`pause`] (`pause`/`unpause`), [`stats`], [`remove`], and [`cleanup`] (what
//!   happens after an exit, by the monitor or for an orphan).
//!
//! The handle reads everything from disk when opened and keeps nothing between commands: the
//! kernel (pidfds, the cgroup freezer) is asked each time, so it never disagrees with it.

pub mod cleanup;
pub mod kill;
pub mod pause;
pub mod pidfd;
pub mod remove;
pub mod signal;
pub mod start;
pub mod stats;
pub mod stop;

use std::path::{Path, PathBuf};

use crate::engine::cgroups::{self, CgroupError, CgroupManager, CgroupOptions, ContainerCgroup};
use crate::engine::network::dns::EndpointStore;
use crate::engine::network::manager::NetworkError;
use crate::engine::root::StateRoot;
use crate::engine::state::{self, ContainerRecord, RunState, StateError};

/// Why an operation on a container failed. The texts are the ones the commands printed before
/// the handle existed (`container NAME: ...`).
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error("no such container: {0}")]
    NotFound(String),
    #[error("container {name}: {action}: {source}")]
    Io {
        name: String,
        action: &'static str,
        source: std::io::Error,
    },
    /// A system call on it failed (signalling its PID 1, marking it).
    #[error("container {name}: {source}")]
    Os {
        name: String,
        source: std::io::Error,
    },
    #[error("container {name}: {source}")]
    Cgroup { name: String, source: CgroupError },
    #[error(transparent)]
    AnonymousVolumes(#[from] crate::engine::anon_volumes::RemoveError),
    #[error("container {name}: removing {}: {source}", path.display())]
    Remove {
        name: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A container under a state root: its record, and the way to its state and cgroup.
#[derive(Debug, Clone)]
pub struct Container {
    root: PathBuf,
    dir: PathBuf,
    record: ContainerRecord,
}

impl Container {
    /// The container `id` under `root`, from its record.
    pub fn open(root: &Path, id: &str) -> Result<Container, ContainerError> {
        let record =
            state::read_record(root, id)?.ok_or_else(|| ContainerError::NotFound(id.into()))?;
        Ok(Container::of(root, &record))
    }

    /// The container of a record already read (a listing's [`state::Observed`]).
    pub fn of(root: &Path, record: &ContainerRecord) -> Container {
        Container {
            root: root.to_path_buf(),
            dir: StateRoot::new(root).container(&record.id),
            record: record.clone(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Its state directory (`<root>/containers/<id>`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn record(&self) -> &ContainerRecord {
        &self.record
    }

    pub fn id(&self) -> &str {
        &self.record.id
    }

    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// The state as its monitor last recorded it (not checked against the kernel: see
    /// [`RunState::observed`]).
    pub fn recorded_state(&self) -> RunState {
        state::read_state(&self.dir)
    }

    /// The manager of the cgroup tree its cgroup lives in (under its `cgroup_parent`).
    pub fn cgroup_manager(
        &self,
        layout: &cgroups::Layout,
    ) -> Result<Box<dyn CgroupManager>, CgroupError> {
        cgroup_manager(layout, &self.record.cgroup_parent)
    }

    /// Its cgroup, if it has one now (a running or paused container).
    pub fn cgroup(&self) -> Result<Box<dyn ContainerCgroup>, CgroupError> {
        cgroup_of(&self.record)
    }

    /// Makes its cgroup with its resources, for a start; returns it with the warnings about
    /// limits this host cannot apply.
    pub fn create_cgroup(
        &self,
        layout: &cgroups::Layout,
    ) -> Result<(Box<dyn ContainerCgroup>, Vec<String>), CgroupError> {
        self.cgroup_manager(layout)?.create(
            self.record.cgroup_group(),
            &self.record.id,
            &self.record.spec.resources,
        )
    }

    /// Where the names of running containers are published (see
    /// [`crate::engine::network::dns`]).
    pub fn name_store(&self) -> EndpointStore {
        EndpointStore::new(&StateRoot::new(&self.root).dns())
    }

    /// Tells `compose events` about a clean-up that failed where no command is there to print
    /// it (a monitor, a stop that found the monitor gone).
    pub fn warn(&self, message: &str) {
        crate::engine::events::emit(
            &self.root,
            &self.record,
            "warning",
            &[("message", message.to_string())],
        );
    }

    fn cgroup_error(&self, source: CgroupError) -> ContainerError {
        ContainerError::Cgroup {
            name: self.record.name.clone(),
            source,
        }
    }
}

/// The cgroup of the container `record` describes, if it has one now.
pub fn cgroup_of(record: &ContainerRecord) -> Result<Box<dyn ContainerCgroup>, CgroupError> {
    let layout = cgroups::Layout::detect()?;
    cgroup_manager(&layout, &record.cgroup_parent)?.open(record.cgroup_group(), &record.id)
}

/// The one place a cgroup manager is built from a container's `cgroup_parent` (also used to
/// check a service's `cgroup_parent` before any container of it exists).
pub fn cgroup_manager(
    layout: &cgroups::Layout,
    parent: &str,
) -> Result<Box<dyn CgroupManager>, CgroupError> {
    cgroups::manager(
        layout,
        &CgroupOptions {
            parent: parent.to_string(),
            ..CgroupOptions::default()
        },
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::spec::ContainerSpec;

    /// A record with only what every container has (no network, no healthcheck).
    pub(crate) fn record(id: &str) -> ContainerRecord {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "name": format!("p-{id}-1"),
            "project": "p",
            "service": id,
            "number": 1,
            "one_off": false,
            "config_hash": "",
            "image": "busybox",
            "image_id": "sha256:1234",
            "created": 0,
            "spec": ContainerSpec::default(),
            "cgroup_parent": "compose",
            "dns": null,
            "restart": "No",
            "stop_grace_period": 10,
        }))
        .expect("a valid record")
    }

    #[test]
    fn a_handle_finds_its_state_under_the_root() {
        let c = Container::of(Path::new("/r"), &record("web"));
        assert_eq!(c.dir(), StateRoot::new(Path::new("/r")).container("web"));
        assert_eq!(c.name(), "p-web-1");
    }

    #[test]
    fn opening_a_container_without_a_record_says_which() {
        let root = std::env::temp_dir().join(format!("compose-handle-{}", std::process::id()));
        let e = Container::open(&root, "nope").expect_err("no record");
        assert_eq!(e.to_string(), "no such container: nope");
    }
}
