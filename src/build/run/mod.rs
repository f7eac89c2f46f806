//! One Dockerfile `RUN` step, executed in a container of our own engine: [`run_step`].
//!
//! The step is a one-off foreground container as `run --rm` makes one (a cgroup, the init
//! process with Docker's default capabilities, seccomp profile and masked paths, its own pid,
//! ipc, uts and mount namespaces), with what BuildKit gives a `RUN` on top: hostname
//! `buildkitsandbox`, fresh `/etc/hosts` and `/etc/resolv.conf` bound over the image's, stdin
//! `/dev/null`, stdout and stderr merged into one pipe, and the `--mount`s of the instruction.
//!
//! Its record is never written: the [`Container`](crate::engine::container::Container) handle
//! is made from a record in memory, so no listing (`ps`, `down`) can ever see a build step, and
//! nothing of it is left under `containers/` when the step or the command dies. Its state
//! directory is `<root>/build/runs/<id>/` ([`workdir`]) instead, whose `upper` is a symbolic link
//! to the caller's upper dir: the overlay writes the step's changes there directly, so turning
//! them into a layer is a rename.
//!
//! After the run, what the runtime (not the command) put into the upper dir goes:
//! the mount points it made for the step's mounts and /etc files where the image had none
//! ([`traces`]); a secret's path never appears in a layer, as with BuildKit.
//!
//! One file per concern: [`spec`] (the container's spec and record), [`mounts`] (the `--mount`s
//! as runtime mounts, with the host overlays and copies they need), [`traces`], [`workdir`],
//! [`network`] (a step on an engine network), [`output`] (the pipe to the caller), [`error`].

mod error;
mod mounts;
mod network;
mod output;
mod spec;
mod traces;
mod workdir;

#[cfg(test)]
mod tests;

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use crate::engine::cgroups::Layout;
use crate::engine::container::start::{Parent, StartOptions};
use crate::engine::container::Container;
use crate::engine::root::StateRoot;
use crate::engine::runtime::process::{self, Stdio};
use crate::engine::runtime::user::{self, LayerFiles};
use crate::engine::spec::Rlimit;

pub use error::RunStepError;
use workdir::{KernelMounts, StepDir};

/// The network a step runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepNetwork {
    /// A network namespace of its own with loopback up (`--network=none`).
    None,
    /// The host's (the caller's) network namespace (`--network=host`).
    Host,
    /// An existing engine network, by its full name (`<project>_default`): joined as a
    /// one-off container joins one, its address released after the step.
    Bridge(String),
}

/// One `--mount` of the step, its sources already resolved by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepMount {
    /// A host directory or file (`type=bind` from the context). Written to when `read_write`,
    /// the writes are thrown away, as BuildKit does: the source is never changed.
    Bind {
        source: PathBuf,
        target: String,
        read_write: bool,
    },
    /// Another stage's or image's files (`type=bind,from=`): `source` beneath those layers
    /// (topmost first), never following a link out of them. Writes are thrown away.
    Layers {
        layers: Vec<PathBuf>,
        source: String,
        target: String,
        read_write: bool,
    },
    /// A persistent directory under `--root` (`type=cache`).
    Cache { dir: PathBuf, target: String },
    /// A build secret (`type=secret`): its content, owned and moded as asked, read-only; never
    /// in the layer.
    Secret {
        file: PathBuf,
        target: String,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    /// An empty tmpfs (`type=tmpfs`).
    Tmpfs { target: String, size: Option<u64> },
}

impl StepMount {
    /// Where it is mounted in the container.
    pub fn target(&self) -> &str {
        match self {
            StepMount::Bind { target, .. }
            | StepMount::Layers { target, .. }
            | StepMount::Cache { target, .. }
            | StepMount::Secret { target, .. }
            | StepMount::Tmpfs { target, .. } => target,
        }
    }
}

/// A `RUN` to execute.
#[derive(Debug, Clone)]
pub struct RunStep<'a> {
    /// The build's name (`web`), for errors.
    pub build: &'a str,
    /// The stage's unpacked layers, topmost first; empty for `FROM scratch`.
    pub layers: &'a [PathBuf],
    /// argv, already wrapped in `SHELL` for the shell form.
    pub args: Vec<String>,
    /// `KEY=VALUE`: the stage's `ENV` and build args as Docker passes them.
    pub env: Vec<String>,
    /// `WORKDIR` (absolute; created when missing, as Docker does).
    pub cwd: String,
    /// `USER` as written (`name`, `uid`, `name:group`, `uid:gid`), resolved in the stage's
    /// /etc/passwd and /etc/group; `None` is root.
    pub user: Option<String>,
    pub network: StepNetwork,
    /// (name, address) lines added to /etc/hosts.
    pub extra_hosts: &'a [(String, String)],
    pub mounts: Vec<StepMount>,
    /// /dev/shm's size in bytes; `None` is Docker's 64 MiB.
    pub shm_size: Option<u64>,
    /// All capabilities and devices, no seccomp, no masked paths.
    pub privileged: bool,
    pub ulimits: &'a [Rlimit],
    /// The cgroup parent of the step's cgroup (`--cgroup-parent`, `compose` by default).
    pub cgroup_parent: &'a str,
}

/// Runs `step` with `upper` (an empty directory under `root`, on the image store's
/// filesystem) as the overlay's upper dir, delivering its merged stdout and stderr to `output`
/// as they come. Returns the command's exit code (a failing command is `Ok` with its code);
/// `upper` then holds exactly the step's changes in overlayfs form (whiteouts, opaque
/// directories), and nothing else of the step remains: no process, mount, cgroup or
/// directory — also when it fails to set up, which is an `Err` naming the build, or when
/// `output` panics (the step is ended and cleaned up, then the panic goes on).
pub fn run_step(
    root: &Path,
    step: &RunStep,
    upper: &Path,
    output: &mut dyn FnMut(&[u8]),
) -> Result<i32, RunStepError> {
    let fail = error::Fail::new(step.build);
    let root = std::path::absolute(root).map_err(fail.io("resolving", root))?;
    let upper = std::path::absolute(upper).map_err(fail.io("resolving", upper))?;
    let id = crate::engine::state::new_id().map_err(fail.io("reading", "/dev/urandom"))?;
    let dir = StateRoot::new(&root).build_runs().join(&id);
    // The mount points the runtime will make where the image has nothing, known before it
    // makes them (afterwards the image's and the runtime's are one directory tree).
    let lowers = traces::Lowers::new(step.layers);
    let targets = mounts::targets(step);
    let made = lowers.made_for(&targets);

    let mut step_dir = StepDir::create(KernelMounts, &dir, &upper, step.layers.is_empty())
        .map_err(|e| fail.io("creating", &dir)(e))?;
    // A panic of `output` ends the step as any failure does (nothing of it stays), then goes on.
    let mut panicked = None;
    let mut guarded = |bytes: &[u8]| {
        let delivered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| output(bytes)));
        delivered.map_err(|p| panicked = Some(p)).is_ok()
    };
    let result = run_in(&root, &id, step, &mut step_dir, &mut guarded, &fail);
    let mut problems = step_dir.remove();
    problems.extend(made.remove_from(&upper));
    let outcome = finish(result, problems, &fail);
    if let Some(p) = panicked {
        // The run's own error is the caller's panic; what could not be cleaned up is told.
        if let Err(e @ RunStepError::Teardown { .. }) = &outcome {
            eprintln!("WARN {e}");
        }
        std::panic::resume_unwind(p);
    }
    outcome
}

/// The run's result, or a teardown failure when the run itself went well; teardown problems
/// after a failed run are warned about, the run's error is the one to report.
fn finish(
    result: Result<i32, RunStepError>,
    problems: Vec<String>,
    fail: &error::Fail,
) -> Result<i32, RunStepError> {
    match result {
        Ok(_) if !problems.is_empty() => Err(fail.teardown(problems)),
        Ok(code) => Ok(code),
        Err(e) => {
            for p in problems {
                eprintln!("WARN {}: RUN: cleaning up: {p}", fail.build());
            }
            Err(e)
        }
    }
}

/// Prepares the step's mounts and files in `dir`, then runs the container in its cgroup.
fn run_in(
    root: &Path,
    id: &str,
    step: &RunStep,
    dir: &mut StepDir<KernelMounts>,
    output: &mut dyn FnMut(&[u8]) -> bool,
    fail: &error::Fail,
) -> Result<i32, RunStepError> {
    let user_text = step.user.as_deref().unwrap_or("");
    let user = user::resolve_user(user_text, &[], &LayerFiles::new(step.layers.to_vec()))
        .map_err(|e| fail.user(user_text, e))?;
    let layers = match step.layers {
        [] => vec![dir.empty_lower()],
        l => l.to_vec(),
    };
    let runtime_mounts = mounts::prepare(step, dir, fail)?;
    let host = spec::HostFacts::gather(step.privileged).map_err(|e| fail.msg(e))?;
    let spec = spec::container_spec(step, id, layers, user, runtime_mounts, &host)
        .map_err(|e| fail.msg(e))?;
    let joined = match &step.network {
        StepNetwork::Bridge(name) => Some(
            network::join(root, name, id, &host.resolv_conf)
                .map_err(|e| fail.msg(format!("joining network {name}: {e}")))?,
        ),
        StepNetwork::None | StepNetwork::Host => None,
    };
    let result = run_joined(root, step, spec, &host, joined.as_ref(), dir, output, fail);
    let mut problems = Vec::new();
    if let Some(j) = joined {
        if let Err(e) = j.release() {
            problems.push(format!("releasing its address: {e}"));
        }
    }
    finish(result, problems, fail)
}

/// Runs the container of `spec` (on the network it `joined`, if any) in its own cgroup,
/// removed afterwards.
#[allow(clippy::too_many_arguments)]
fn run_joined(
    root: &Path,
    step: &RunStep,
    spec: crate::engine::spec::ContainerSpec,
    host: &spec::HostFacts,
    joined: Option<&network::Joined>,
    dir: &mut StepDir<KernelMounts>,
    output: &mut dyn FnMut(&[u8]) -> bool,
    fail: &error::Fail,
) -> Result<i32, RunStepError> {
    let own = joined
        .and_then(network::Joined::address)
        .map_or_else(|| "127.0.1.1".to_string(), |a| a.to_string());
    dir.write_etc(
        &crate::engine::runtime::etc::hosts(&spec, &own),
        &spec::resolv_conf(&spec, &step.network, &host.resolv_conf),
    )
    .map_err(|e| fail.io("writing /etc files in", dir.path())(e))?;
    let layout = Layout::detect().map_err(|e| fail.cgroup(e))?;
    let mut record = spec::record(spec, step.cgroup_parent, root, &layout);
    if let Some(j) = joined {
        record.endpoints = vec![j.endpoint.clone()];
        record.dns = Some(j.dns.clone());
    }
    let container = Container::of(root, &record);
    let (cgroup, warnings) = container
        .create_cgroup(&layout)
        .map_err(|e| fail.cgroup(e))?;
    for w in warnings {
        eprintln!("WARN {}: RUN: {w}", step.build);
    }
    let result = attend(&container, cgroup.as_ref(), dir.path(), output, fail);
    // Whatever happened, nothing of it keeps running or stays in the cgroup tree.
    let mut problems = Vec::new();
    if let Err(e) = cgroup.kill_all(rustix::process::Signal::KILL) {
        problems.push(format!("killing what is left in its cgroup: {e}"));
    }
    if let Err(e) = cgroup.remove() {
        problems.push(format!("removing its cgroup: {e}"));
    }
    // Its veth goes with its network namespace, now that nothing holds that.
    container.release_network_with_namespace();
    finish(result, problems, fail)
}

/// Starts the container (the set-up process born in `cgroup`) with its output on a pipe, and
/// delivers that output until the command ends.
fn attend(
    container: &Container,
    cgroup: &dyn crate::engine::cgroups::ContainerCgroup,
    dir: &Path,
    output: &mut dyn FnMut(&[u8]) -> bool,
    fail: &error::Fail,
) -> Result<i32, RunStepError> {
    let options = StartOptions {
        parent: Parent::Foreground,
        terminal: false,
        console: None,
    };
    let mut start = container
        .prepare_start(cgroup, options)
        .map_err(|e| fail.msg(e.to_string()))?;
    start.config.container_dir = dir.to_path_buf();
    let null = std::fs::File::open("/dev/null").map_err(fail.io("opening", "/dev/null"))?;
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| fail.io("making", "the output pipe")(e.into()))?;
    let placer = &mut start.placer;
    let child = {
        let stdio = Stdio {
            stdin: null.as_fd(),
            stdout: write.as_fd(),
            stderr: write.as_fd(),
        };
        process::spawn(
            &start.config,
            &stdio,
            start.cgroup2.as_ref().map(|d| d.as_fd()),
            &mut |pid| placer.place(pid),
        )
        .map_err(|e| fail.init(e))?
    };
    // Only the container holds the write end now: its end is the pipe's end-of-file.
    drop(write);
    let mut resolver = start.placer.take_resolver();
    let delivered = output::deliver(&read, &child, resolver.as_mut(), output);
    if delivered.is_err() {
        // The output cannot reach the caller: the step ends here (and is reaped below).
        if let Err(e) = process::signal(&child, rustix::process::Signal::KILL) {
            eprintln!("WARN {}: RUN: killing it: {e}", fail.build());
        }
    }
    let exit = process::wait(&child).map_err(|e| fail.init(e))?;
    // The resolver's sockets are the last hold on the step's network namespace.
    drop(resolver);
    delivered.map_err(fail.io("reading", "the step's output"))?;
    Ok(exit.code())
}
