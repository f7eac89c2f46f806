//! Why a stack operation failed: one variant per way it fails, each keeping the error it came
//! from, typed, so a caller can tell an image store it cannot open from a volume it cannot
//! remove without reading text.
//!
//! Each variant's text is what the command has always printed (`image store: …`, `service web:
//! image x: …`). The wrapped error is a field named `error`, not a `#[source]`: `main` prints
//! an error with its whole `source()` chain (`{err:#}`), and these texts already end with their
//! cause's, which a source would print a second time.

use std::io;
use std::path::PathBuf;

use crate::engine::anon_volumes::RemoveError;
use crate::engine::cgroups::CgroupError;
use crate::engine::container::ContainerError;
use crate::engine::hooks::HookError;
use crate::engine::image::ImageError;
use crate::engine::network::link::NetlinkError;
use crate::engine::network::manager::NetworkError;
use crate::engine::registry::{CredentialError, RegistryConfigError};
use crate::engine::runtime::error::InitError;
use crate::engine::runtime::written_files::WriteError;
use crate::engine::state::StateError;
use crate::engine::supervisor::SuperviseError;
use crate::planner::container::SpecError;
use crate::planner::graph::GraphError;
use crate::planner::namespaces::NamespaceError;
use crate::planner::network::NetPlanError;
use crate::planner::secrets::FilesError;
use crate::planner::support::SupportError;

use super::attach::AttachError;

/// What undoing a half-made container could not undo.
#[derive(Debug, thiserror::Error)]
pub enum UndoError {
    /// Unpublishing a port or giving back an address.
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error("removing {}: {source}", path.display())]
    RemoveDir { path: PathBuf, source: io::Error },
}

/// Why a stack operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Supervise(#[from] SuperviseError),
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Plan(#[from] NetPlanError),
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Attach(#[from] AttachError),
    #[error("{0}")]
    Invalid(String),
    /// A service the host cannot run as written (a key, or what its image needs).
    #[error(transparent)]
    Support(#[from] SupportError),
    /// A service whose container spec cannot be built.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A service's `container:`/`service:` namespace cannot be joined.
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    /// A service's secrets, configs or bind sources cannot be read.
    #[error(transparent)]
    Files(#[from] FilesError),
    /// A container's directory cannot be prepared (rootfs files, `/etc/hosts`...).
    #[error(transparent)]
    Prepare(#[from] InitError),
    /// A service's secrets or configs cannot be written into its container's directory.
    #[error(transparent)]
    WriteFile(#[from] WriteError),
    /// A `post_start` hook cannot be run.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// A step failed, and undoing what it had made failed too: every failure is told, so what
    /// was left behind is explained.
    #[error("{error}{}", undo.iter().map(|u| format!("; and {u}")).collect::<String>())]
    Undo {
        error: Box<StackError>,
        undo: Vec<UndoError>,
    },
    /// The `--root`'s image store cannot be opened or read.
    #[error("image store: {error}")]
    ImageStore { error: ImageError },
    /// A service's image is not usable from the store; `hint` says why when the service has
    /// no `image:` to pull.
    #[error("service {service}: image {reference}: {error}{hint}")]
    ServiceImage {
        service: String,
        reference: String,
        /// Boxed: the largest error here, and every result of the stack carries the enum.
        error: Box<ImageError>,
        hint: &'static str,
    },
    /// When a service's image was last pulled cannot be read (`pull_policy: every_…`).
    #[error("service {service}: {error}")]
    LastPulled { service: String, error: ImageError },
    /// A service's image is missing and its pull policy forbids pulling it.
    #[error("service {service}: image {reference} {why}")]
    ImageUnavailable {
        service: String,
        reference: String,
        why: String,
    },
    #[error("registry configuration: {error}")]
    RegistryConfig { error: RegistryConfigError },
    #[error("registry credentials: {error}")]
    Credentials { error: CredentialError },
    #[error("recording pull times: {error}")]
    RecordPulls { error: ImageError },
    /// Pulls that failed, one line each (every pull is tried before this is returned).
    #[error("pull: {}", failures.join("\n"))]
    Pull { failures: Vec<String> },
    /// `down --rmi`: an image cannot be removed.
    #[error("image {image}: {error}")]
    RemoveImage { image: String, error: ImageError },
    /// `down -v`: a named volume's directory cannot be removed.
    #[error("volume {volume}: {error}")]
    RemoveVolume {
        volume: String,
        path: PathBuf,
        error: io::Error,
    },
    /// A volume's data directory cannot be made; `owner` is `volume <name>` or `service <name>`.
    #[error("{owner}: cannot create volume directory {}: {error}", path.display())]
    CreateVolumeDir {
        owner: String,
        path: PathBuf,
        error: io::Error,
    },
    #[error("anonymous volumes: {error}")]
    AnonVolumes { error: RemoveError },
    /// What containers are made for cannot be read from the host (capabilities, devices).
    #[error("host: {error}")]
    HostInfo { error: SpecError },
    /// The host's cgroup hierarchy cannot be read.
    #[error("host: {error}")]
    HostCgroups { error: CgroupError },
    /// A foreground container's cgroup cannot be found or made.
    #[error("container {container}: {error}")]
    ContainerCgroup {
        container: String,
        error: CgroupError,
    },
    /// A foreground container's terminal cannot be opened.
    #[error("container {container}: {error}")]
    Console { container: String, error: InitError },
    /// A foreground container cannot be prepared or served (its start, its resolver's pipe).
    #[error("container {container}: {error}")]
    ContainerIo { container: String, error: io::Error },
    /// A foreground container's netlink socket (for its endpoints) cannot be opened.
    #[error("container {container}: {error}")]
    ContainerNetlink {
        container: String,
        error: NetlinkError,
    },
    /// `cp`: a running container's root cannot be opened.
    #[error("container {container}: {error}")]
    OpenRoot {
        container: String,
        error: rustix::io::Errno,
    },
    /// `cp`: a stopped container's filesystem cannot be mounted (`step` is the mount call).
    #[error("container {container}: mounting its filesystem ({step}): {error}")]
    MountRoot {
        container: String,
        step: &'static str,
        error: rustix::io::Errno,
    },
    /// `cp`: a stopped container's volumes cannot be opened.
    #[error("container {container}: opening its volumes: {error}")]
    OpenVolumes { container: String, error: io::Error },
    /// `cp`: copying `what` failed.
    #[error("cp: {what}: {error}")]
    Copy { what: String, error: io::Error },
    /// SIGINT or SIGTERM arrived while `up` was working or waiting; what was started stays,
    /// as the next command finds it.
    #[error("interrupted")]
    Interrupted,
    /// A service that cannot be built as asked (checked before any build).
    #[error(transparent)]
    BuildSetup(#[from] crate::stack::build::BuildSetupError),
    /// A build that failed; the builder's error names the build and the step.
    #[error(transparent)]
    Build(#[from] crate::build::BuildError),
    /// The network a build's RUN steps use could not be made ready.
    #[error("service {service}: build network {network}: {error}")]
    BuildNetwork {
        service: String,
        network: String,
        error: Box<NetworkError>,
    },
    /// The external network a build names does not exist.
    #[error(
        "service {service}: build network {network} declared as external, but could not be found"
    )]
    BuildNetworkMissing { service: String, network: String },
}

impl From<RemoveError> for StackError {
    fn from(error: RemoveError) -> Self {
        StackError::AnonVolumes { error }
    }
}

impl StackError {
    /// This error with the failures of the undo that followed it (none: itself, unchanged).
    pub(super) fn with_undo(self, undo: Vec<UndoError>) -> StackError {
        if undo.is_empty() {
            self
        } else {
            StackError::Undo {
                error: Box::new(self),
                undo,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_undo_that_worked_leaves_the_error_as_it_was() {
        let e = StackError::Invalid("boom".into()).with_undo(Vec::new());
        assert!(matches!(&e, StackError::Invalid(m) if m == "boom"), "{e:?}");
    }

    #[test]
    fn an_undo_that_failed_is_told_after_the_error() {
        let e = StackError::Invalid("boom".into()).with_undo(vec![UndoError::RemoveDir {
            path: PathBuf::from("/r/containers/x"),
            source: io::Error::from_raw_os_error(libc::EBUSY),
        }]);
        assert!(
            matches!(&e, StackError::Undo { undo, .. } if undo.len() == 1),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(
            text.starts_with("boom; and removing /r/containers/x: "),
            "{text}"
        );
    }
}
