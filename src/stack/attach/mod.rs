//! Containers' output as `logs` and attached `up` show it: reading the json-file logs the
//! monitors write (`container.log`, rotated `container.log.N`), following them while containers
//! run, merging containers in time order, and printing Docker Compose's prefixed, colored lines.
//!
//! Following polls the files: a monitor appends whole lines, so a short interval with one
//! `read` per file costs next to nothing and needs no inotify watch per container (containers
//! come and go while we follow). Exits are read from `state.json`, which the monitor writes
//! only after it has copied the container's last output, so an exit is never reported before
//! the lines that preceded it.
//!
//! One file per concern: [`time`] parses the flags' times, [`target`] says which containers
//! are read, [`tail`] reads one log across rotations, [`follow`] merges and follows many,
//! [`format`] renders Docker Compose's lines, [`logs`] is the `logs` command, and the attached
//! `up` is [`attached_up`] over [`signals`] (Ctrl-C), [`shutdown`] (stopping the project) and
//! [`cascade`] (which exit stops everything, and the exit code). [`service`] is `attach SERVICE`:
//! one container's output from now on.

mod attached_up;
mod cascade;
mod follow;
mod format;
mod logs;
mod service;
mod shutdown;
mod signals;
mod tail;
mod target;
mod time;

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::engine::container::ContainerError;
use crate::engine::state;
use crate::engine::supervisor;

pub use attached_up::{attached_up, AttachOptions, ABORT_MESSAGE, GRACEFUL_MESSAGE};
pub use cascade::{Cascade, INTERRUPTED_EXIT_CODE};
pub use follow::{stopped_for_good, LogFollower, READ_CHUNK};
pub use format::{FormatOptions, Formatter};
pub use logs::{logs, LogsOptions};
pub use service::{attach_service, pick, refusal, AttachServiceOptions};
pub use signals::catch_interrupts;
pub use target::{display_name, Entry, Selection, Target};
pub use time::{now_nanos, parse_duration, parse_log_time, parse_tail, parse_time_arg};

/// How often files and states are looked at while following: short enough that lines show up
/// as they come, long enough to cost no measurable CPU.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How often the project's containers are listed again for new ones (recreated, scaled).
const DISCOVER_EVERY: Duration = Duration::from_millis(500);

/// Why reading or following logs, or an attached `up`, failed.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error(transparent)]
    Supervise(#[from] supervisor::SuperviseError),
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error("reading the log of container {container} ({}): {source}", path.display())]
    Read {
        container: String,
        path: PathBuf,
        source: io::Error,
    },
    #[error("invalid value {value:?} for {flag}: {reason}")]
    InvalidArg {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("container {container}: {message}")]
    Stop { container: String, message: String },
    #[error("installing the SIGINT/SIGTERM handler: {0}")]
    Signal(io::Error),
    /// `attach`: no container of the service (with that number) to attach to; Docker
    /// Compose's words.
    #[error("service {service:?} is not running{}", index.map(|i| format!(" container #{i}")).unwrap_or_default())]
    NotRunning { service: String, index: Option<u32> },
    /// `attach` to a container that is not running: Docker's words.
    #[error("{0}")]
    Refused(&'static str),
    /// `attach` to a container created with `stdin_open`: its input cannot be attached yet,
    /// and leaving it unattached unasked would look like a hung program.
    #[error(
        "container {container} has stdin_open: attaching standard input is not supported yet; \
         use --no-stdin to attach to its output only"
    )]
    StdinUnsupported { container: String },
}
