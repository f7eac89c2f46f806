//! Running a project: the commands' bodies (`up`, `down`, `port`, `ps`) as library functions,
//! organized like Docker Compose's `pkg/compose`: everything is checked and planned before the
//! first change; then networks, volumes, containers (in dependency order) and their monitors.
//! `up.rs` observes and plans (the plan is the reconciler's, over the planner's dependency
//! graph), `executor.rs` is the only code that walks a plan, `wait.rs` holds what `up` waits
//! for (`depends_on` conditions, `--wait`).
//!
//! State is on disk only (see [`crate::engine::state`]), guarded by the project's lock, so two
//! commands on one project never interleave and a command killed half-way leaves records the
//! next `up` or `down` can finish.

pub mod anon_volumes;
pub mod attach;
pub mod build;
pub mod commit;
pub mod cp;
pub mod cp_stream;
pub mod create;
pub mod dry_run;
mod error;
pub mod exec;
mod executor;
pub mod export;
pub mod expose;
pub mod external_links;
pub mod hooks;
pub mod inspect;
pub mod kube;
mod networks;
pub mod ops;
pub mod pull;
pub mod restart_deps;
pub mod run;
mod threads;
mod up;
mod up_attached;
mod wait;

mod down;
mod port;
mod ps;
mod restart;

pub use down::down;
pub use error::StackError;
pub use port::{port, PortLookup};
pub use ps::{docker_command, ps, PsEntry, Publisher};
pub use restart::restart;

use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use indexmap::IndexMap;

use crate::engine::container::remove::AnonymousVolumes;
use crate::engine::container::Container;
use crate::engine::network::manager::Networks;
use crate::engine::state::{self, Observed, Status};
pub use crate::planner::graph::{service_deps, service_levels, start_order, stop_waves};
pub use networks::prepare_networks;
use threads::{first_error, lock, Shared};
pub(crate) use up::project_name;
pub use up::up;
pub use up_attached::{up_attached, AttachRequest};
pub use wait::{expectations, Expectations, SETTLE};
pub(crate) use wait::{wait_dependencies, Limits};

/// Where state lives and how containers are placed.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub root: PathBuf,
    /// The cgroup under which containers' cgroups are made.
    pub cgroup_parent: String,
    /// `--dry-run`: every command checks and plans as it would, reports the steps of its plan
    /// as its real run would (see [`dry_run`]), and changes nothing.
    pub dry_run: bool,
}

fn invalid(m: impl Into<String>) -> StackError {
    StackError::Invalid(m.into())
}

/// Progress of a command, as Docker Compose reports it (` Container p-web-1  Started`).
pub trait Reporter: Send {
    /// `kind` is `Network`, `Container` or `Volume`.
    fn event(&mut self, kind: &str, name: &str, action: &str);
    fn warn(&mut self, message: &str);
    /// A line a lifecycle hook wrote, from `source` (`web-1 ->`): the hook's output is the
    /// user's, so it is shown whatever the progress mode.
    fn output(&mut self, source: &str, line: &str) {
        eprintln!("{source} {line}");
    }
    /// Where the progress of image pulls goes (layer by layer); `None` shows nothing.
    fn pull_progress(
        &mut self,
    ) -> Option<std::sync::Arc<dyn crate::engine::registry::PullProgress>> {
        None
    }
    /// Where the steps of image builds go; `None` shows nothing.
    fn build_progress(&mut self) -> Option<Box<dyn crate::build::BuildProgress>> {
        None
    }
    /// The command's progress is over: a live view draws its last state and stops redrawing,
    /// so that what comes next (an attached `up`'s logs) is not drawn over. Later events are
    /// not shown.
    fn finish(&mut self) {}
}

/// A reporter that prints Docker Compose's plain progress lines on standard error.
pub struct PlainReporter;

/// One plain progress line: ` Container p-web-1  Started`.
pub fn plain_line(kind: &str, name: &str, action: &str) -> String {
    format!(" {kind} {name}  {action}")
}

impl Reporter for PlainReporter {
    fn event(&mut self, kind: &str, name: &str, action: &str) {
        eprintln!("{}", plain_line(kind, name, action));
    }
    fn warn(&mut self, message: &str) {
        eprintln!("WARN[0000] {message}");
    }
}

/// Options of `up`.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Only these services (and their dependencies); empty: all.
    pub services: Vec<String>,
    pub force_recreate: bool,
    pub no_recreate: bool,
    pub no_start: bool,
    pub remove_orphans: bool,
    /// `--scale SERVICE=N`.
    pub scale: IndexMap<String, u32>,
    /// `-t/--timeout` for containers stopped to be recreated.
    pub timeout: Option<u64>,
    pub no_deps: bool,
    pub always_recreate_deps: bool,
    pub dry_run: bool,
    /// `--wait`, with `--wait-timeout` seconds.
    pub wait: bool,
    pub wait_timeout: Option<u64>,
    /// `-V/--renew-anon-volumes`: a recreated container gets new anonymous volumes.
    pub renew_anon_volumes: bool,
    /// SIGINT/SIGTERM counter (see [`attach::catch_interrupts`]): once it is non-zero, `up`
    /// stops at its next step or poll and returns [`StackError::Interrupted`].
    pub interrupts: Option<&'static AtomicUsize>,
    /// `--pull`: replaces every service's `pull_policy`.
    pub pull: Option<crate::planner::pull_policy::PullPolicy>,
    /// `DOCKER_DEFAULT_PLATFORM`: the platform pulled for services without `platform:`.
    pub default_platform: Option<String>,
    /// `--build` / `--no-build`.
    pub build: build::BuildMode,
}

/// Options of `down`.
#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    pub volumes: bool,
    /// `--rmi all|local`: remove the services' images (`local`: those without an `image:`,
    /// named after the project, as Docker Compose builds them).
    pub rmi: Option<String>,
    pub remove_orphans: bool,
    pub timeout: Option<u64>,
}

/// Stops a container (if running) and removes it with everything it holds: published ports,
/// addresses, state directory.
fn remove_container(
    ctx: &Ctx,
    nets: &Networks,
    o: &Observed,
    timeout: Option<u64>,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    let rec = &o.record;
    if !matches!(o.state.status, Status::Exited | Status::Created) || o.state.pid.is_some() {
        rep.event("Container", &rec.name, "Stopping");
        hooks::pre_stop(&ctx.root, o, rep);
        let c = Container::of(&ctx.root, rec);
        let sig = c.stop_signal().map_err(invalid)?;
        let grace = Duration::from_secs(timeout.unwrap_or(rec.stop_grace_period));
        c.stop(sig, grace)?;
        crate::engine::events::emit(&ctx.root, rec, "stop", &[]);
        rep.event("Container", &rec.name, "Stopped");
    }
    rep.event("Container", &rec.name, "Removing");
    forget_container(ctx, nets, rec, AnonymousVolumes::Keep)?;
    rep.event("Container", &rec.name, "Removed");
    Ok(())
}

/// Releases what a stopped container holds and deletes its directory.
pub fn forget_container(
    ctx: &Ctx,
    nets: &Networks,
    rec: &state::ContainerRecord,
    volumes: AnonymousVolumes,
) -> Result<(), StackError> {
    Ok(Container::of(&ctx.root, rec).remove(nets, volumes)?)
}

/// One line of a container's log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct LogLine {
    pub log: String,
    pub stream: String,
    pub time: String,
}
