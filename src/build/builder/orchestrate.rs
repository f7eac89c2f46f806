//! One build, decided: the stages the target needs, in order, each instruction expanded in its
//! stage's scope and either applied to the image config or made a step — looked up in the cache
//! by its key, else run by the backend — and the final stage committed as the image.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Instant;

use indexmap::IndexMap;

use super::backend::{Backend, Base, BaseResolver, CopySpec, Files, RunMount, RunNet, RunSpec};
use super::describe::{describe, numbered};
use super::image_config::{History, ImageConfig, DEFAULT_PATH};
use super::key::Key;
use super::stages::{self, FromRef};
use super::BuiltImage;
use crate::build::dockerfile::{
    Command, Copy, Dockerfile, GlobalScope, Instruction, InstructionKind, Mount, Platform, Run,
    RunNetwork, Security, Source,
};
use crate::build::progress::{BuildProgress, StepInfo, StepOutcome};
use crate::build::request::{BuildRequest, NamedContext};
use crate::build::BuildError;
use crate::engine::image::LayerRef;

/// A built stage: its layers (bottom first), config and the key of its last step.
#[derive(Debug, Clone)]
struct StageState {
    layers: Vec<LayerRef>,
    config: ImageConfig,
    key: Key,
}

/// A built stage and the steps it ran (text, whether cached).
type StageResult = Result<(StageState, Vec<(String, bool)>), BuildError>;

/// How many bytes of a RUN's output an error quotes from its end.
const TAIL_BYTES: usize = 4096;
/// How many lines of it.
const TAIL_LINES: usize = 10;

/// A progress event from a stage's thread, passed on by the build's thread.
enum Event {
    Step(usize, StepInfo),
    Output(usize, Vec<u8>),
    Done(usize, StepOutcome),
}

/// What the threads of one wave of stages share.
struct Shared<'a> {
    req: &'a BuildRequest,
    backend: &'a dyn Backend,
    /// SOURCE_DATE_EPOCH: `created` of the image and its history when set.
    epoch: Option<i64>,
    /// When the build started: when its executed steps ran.
    now: i64,
    /// The newest time among the steps' results (cache hits keep the time they ran), which
    /// dates the image without SOURCE_DATE_EPOCH: a rebuild that runs nothing makes the same
    /// image as before, as Docker's does.
    newest: AtomicI64,
    /// Every base image the build names, resolved before any stage runs.
    bases: BTreeMap<String, Base>,
    next_step: Mutex<usize>,
}

/// One stage's thread: the shared parts and its way to report.
struct Worker<'s, 'a> {
    shared: &'s Shared<'a>,
    events: mpsc::Sender<Event>,
}

pub struct Orchestrator<'a> {
    req: &'a BuildRequest,
    backend: &'a dyn Backend,
    progress: &'a mut dyn BuildProgress,
}

impl<'a> Orchestrator<'a> {
    pub fn new(
        req: &'a BuildRequest,
        backend: &'a dyn Backend,
        progress: &'a mut dyn BuildProgress,
    ) -> Self {
        Orchestrator {
            req,
            backend,
            progress,
        }
    }

    fn unsupported(&self, message: String) -> BuildError {
        BuildError::Unsupported {
            build: self.req.name.clone(),
            message,
        }
    }

    /// Builds `dockerfile` as the request says and commits the image: bases resolved first,
    /// then the needed stages in waves — every stage whose own dependencies are built runs
    /// beside the others of its wave, on a thread of its own, as BuildKit runs independent
    /// stages in parallel.
    pub fn build(
        self,
        dockerfile: &Dockerfile,
        resolver: &mut dyn BaseResolver,
    ) -> Result<BuiltImage, BuildError> {
        let build_args: IndexMap<String, String> = self
            .req
            .args
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let platform = Platform::host();
        let global = GlobalScope::new(dockerfile, &build_args, &platform)?;
        let mut df = dockerfile.clone();
        for stage in &mut df.stages {
            stage.from = global.from(&stage.from)?;
            if let Some(p) = &stage.from.platform {
                if p != &platform.spec() && p != &platform.os {
                    return Err(self.unsupported(format!(
                        "{}:{}: FROM --platform={p}: only the host's platform ({}) is built",
                        df.file,
                        stage.from.line,
                        platform.spec()
                    )));
                }
            }
        }
        let target = stages::target(&df, self.req.target.as_deref()).ok_or_else(|| {
            self.unsupported(format!(
                "target stage {:?} could not be found in {}",
                self.req.target.as_deref().unwrap_or_default(),
                df.file
            ))
        })?;
        let needed = stages::needed(&df, target);
        let mut bases = BTreeMap::new();
        for reference in self.external_images(&df, &needed) {
            let base = resolver.base(&reference, self.req.pull)?;
            bases.insert(reference, base);
        }
        let now = crate::engine::fsutil::now_secs();
        let shared = Shared {
            req: self.req,
            backend: self.backend,
            epoch: self.req.source_date_epoch,
            now,
            newest: AtomicI64::new(0),
            bases,
            next_step: Mutex::new(0),
        };
        let mut built: Vec<Option<StageState>> = vec![None; df.stages.len()];
        let mut steps: Vec<Vec<(String, bool)>> = vec![Vec::new(); df.stages.len()];
        let mut pending = needed;
        while !pending.is_empty() {
            let ready: Vec<usize> = pending
                .iter()
                .copied()
                .filter(|&i| stages::deps(&df, i).iter().all(|&j| built[j].is_some()))
                .collect();
            pending.retain(|i| !ready.contains(i));
            let results = wave(&shared, &df, &global, &ready, &built, self.progress);
            let mut first_error = None;
            for (i, result) in ready.into_iter().zip(results) {
                match result {
                    Ok((state, stage_steps)) => {
                        built[i] = Some(state);
                        steps[i] = stage_steps;
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = first_error {
                return Err(e);
            }
        }
        let last = built[target]
            .take()
            .expect("the target is among the needed stages");
        let secs = shared
            .epoch
            .unwrap_or(match shared.newest.load(Ordering::Relaxed) {
                0 => now,
                newest => newest,
            });
        let created = crate::engine::fsutil::format_rfc3339(secs);
        let config = last.config.to_json(&created, &self.req.labels);
        let id = self.backend.commit(config, &last.layers, &self.req.tags)?;
        Ok(BuiltImage {
            id,
            names: self.req.tags.clone(),
            steps: steps.into_iter().flatten().collect(),
        })
    }

    /// The image references the needed stages name (FROM, `--from`), in the order met, each
    /// once: `scratch`, stages and directory contexts excluded.
    fn external_images(&self, df: &Dockerfile, needed: &[usize]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for &i in needed {
            for (name, is_from) in stages::references(df, i) {
                if is_from && name.eq_ignore_ascii_case("scratch") {
                    continue;
                }
                if let FromRef::External(name) = stages::resolve(df, &name, i) {
                    let image = match self.req.additional_contexts.get(&name) {
                        Some(NamedContext::Dir(_)) => continue,
                        Some(NamedContext::Image(image)) => image.clone(),
                        None => name,
                    };
                    if !out.contains(&image) {
                        out.push(image);
                    }
                }
            }
        }
        out
    }
}

/// Runs the stages `ready` (whose dependencies are in `built`) on threads of their own, passing
/// their progress on from this thread; their results in the order of `ready`.
fn wave(
    shared: &Shared<'_>,
    df: &Dockerfile,
    global: &GlobalScope<'_>,
    ready: &[usize],
    built: &[Option<StageState>],
    progress: &mut dyn BuildProgress,
) -> Vec<StageResult> {
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        let handles: Vec<_> = ready
            .iter()
            .map(|&i| {
                let worker = Worker {
                    shared,
                    events: tx.clone(),
                };
                scope.spawn(move || worker.stage(df, global, i, built))
            })
            .collect();
        drop(tx);
        // Until every worker has dropped its sender.
        for event in rx {
            match event {
                Event::Step(n, info) => progress.step(n, &info),
                Event::Output(n, data) => progress.output(n, &data),
                Event::Done(n, outcome) => progress.done(n, &outcome),
            }
        }
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(BuildError::Unsupported {
                        build: shared.req.name.clone(),
                        message: "a stage's thread panicked".into(),
                    })
                })
            })
            .collect()
    })
}

impl Worker<'_, '_> {
    fn unsupported(&self, message: String) -> BuildError {
        BuildError::Unsupported {
            build: self.shared.req.name.clone(),
            message,
        }
    }

    fn send(&self, event: Event) {
        // The build's thread receives until every worker is done: a send cannot fail.
        let _ = self.events.send(event);
    }

    fn announce(&self, stage: Option<&str>, index: usize, total: usize, text: &str) -> usize {
        let step = {
            let mut next = self
                .shared
                .next_step
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            *next += 1;
            *next - 1
        };
        self.send(Event::Step(
            step,
            StepInfo {
                build: self.shared.req.name.clone(),
                stage: stage.map(str::to_string),
                index,
                total,
                text: text.to_string(),
            },
        ));
        step
    }

    /// `[web builder 2/5] RUN make`, for errors.
    fn step_name(&self, stage: Option<&str>, index: usize, total: usize, text: &str) -> String {
        let build = &self.shared.req.name;
        match stage {
            Some(s) => format!("[{build} {s} {index}/{total}] {text}"),
            None => format!("[{build} {index}/{total}] {text}"),
        }
    }

    fn stage(
        &self,
        df: &Dockerfile,
        global: &GlobalScope<'_>,
        i: usize,
        built: &[Option<StageState>],
    ) -> StageResult {
        let mut steps = Vec::new();
        let stage = &df.stages[i];
        let name = stage.from.name.as_deref();
        let image = stage.from.image.clone();
        let started = Instant::now();
        let mut triggers = Vec::new();
        let mut state = match stages::resolve(df, &image, i) {
            FromRef::Stage(j) => built[j]
                .clone()
                .expect("a stage is built after the stages it needs"),
            FromRef::External(_) if image.eq_ignore_ascii_case("scratch") => StageState {
                layers: Vec::new(),
                config: ImageConfig::default(),
                key: Key::base("scratch"),
            },
            FromRef::External(reference) => {
                let base = self.base(&reference)?.clone();
                triggers = onbuild_triggers(&reference, &base.on_build)?;
                StageState {
                    key: Key::base(&base.id),
                    layers: base.layers,
                    config: base.config,
                }
            }
        };
        // The base image's ONBUILD triggers run first, as if written after the FROM.
        let instructions: Vec<Instruction> = triggers
            .into_iter()
            .chain(stage.instructions.iter().cloned())
            .collect();
        let total = 1 + instructions
            .iter()
            .filter(|ins| numbered(&ins.kind))
            .count();
        let step = self.announce(name, 1, total, &format!("FROM {image}"));
        self.send(Event::Done(step, StepOutcome::Done(started.elapsed())));
        state.config.ensure_path();
        state.config.cmd_set_here = false;
        let mut scope = global.stage(state.config.env.clone());
        let mut index = 1;
        for ins in &instructions {
            let expanded = scope.apply(ins)?;
            let kind = &expanded.kind;
            let text = describe(kind);
            if !numbered(kind) {
                if let InstructionKind::Env(_) = kind {
                    state.config.env = scope.env().clone();
                } else {
                    state.config.apply(kind);
                }
                state.key = state.key.then(&["META", &format!("{kind:?}")]);
                if !matches!(kind, InstructionKind::Arg(_)) {
                    state.config.record(&History {
                        created_by: text,
                        empty_layer: true,
                    });
                }
                continue;
            }
            index += 1;
            let step_name = self.step_name(name, index, total, &text);
            let step = self.announce(name, index, total, &text);
            let started = Instant::now();
            let result = match kind {
                InstructionKind::Run(run) => {
                    let env = scope.run_env();
                    self.run_step(df, i, built, &state, run, env, step)
                }
                InstructionKind::Copy(c) | InstructionKind::Add(c) => {
                    let spec = CopySpec {
                        copy: c.clone(),
                        add: matches!(kind, InstructionKind::Add(_)),
                        workdir: state.config.join_workdir("."),
                        from: match &c.from {
                            None => Files::Context,
                            Some(from) => self.files_from(df, i, built, from)?,
                        },
                    };
                    self.copy_step(&state, spec)
                }
                _ => unreachable!("only RUN, COPY and ADD are numbered"),
            };
            match result {
                Ok((key, layer, cached)) => {
                    let outcome = if cached {
                        StepOutcome::Cached
                    } else {
                        StepOutcome::Done(started.elapsed())
                    };
                    self.send(Event::Done(step, outcome));
                    steps.push((text.clone(), cached));
                    state.key = key;
                    let empty_layer = layer.is_none();
                    state.layers.extend(layer);
                    let created_by = match kind {
                        InstructionKind::Run(_) => format!("{text} # buildkit"),
                        _ => text,
                    };
                    state.config.record(&History {
                        created_by,
                        empty_layer,
                    });
                }
                Err(e) => {
                    let elapsed = started.elapsed();
                    let (error, message) = match e {
                        StepError::Exit {
                            process,
                            code,
                            tail,
                        } => (
                            BuildError::RunFailed {
                                build: self.shared.req.name.clone(),
                                step: step_name,
                                process: process.clone(),
                                code,
                                tail,
                            },
                            format!(
                                "process {process:?} did not complete successfully: exit code: {code}"
                            ),
                        ),
                        StepError::Build(BuildError::Unsupported { message, .. }) => (
                            BuildError::Step {
                                build: self.shared.req.name.clone(),
                                step: step_name,
                                message: message.clone(),
                            },
                            message,
                        ),
                        StepError::Build(e) => {
                            let message = e.to_string();
                            (e, message)
                        }
                    };
                    self.send(Event::Done(step, StepOutcome::Failed { elapsed, message }));
                    return Err(error);
                }
            }
        }
        Ok((state, steps))
    }

    /// A base image resolved before the build began.
    fn base(&self, reference: &str) -> Result<&Base, BuildError> {
        let image = match self.shared.req.additional_contexts.get(reference) {
            Some(NamedContext::Image(image)) => image.as_str(),
            _ => reference,
        };
        self.shared.bases.get(image).ok_or_else(|| {
            self.unsupported(format!(
                "base image {image} was not resolved before the build"
            ))
        })
    }

    /// The files a `--from=NAME` names: an earlier stage, a named context, else an image.
    fn files_from(
        &self,
        df: &Dockerfile,
        i: usize,
        built: &[Option<StageState>],
        from: &str,
    ) -> Result<Files, BuildError> {
        if let FromRef::Stage(j) = stages::resolve(df, from, i) {
            let state = built[j]
                .as_ref()
                .expect("a stage is built after the stages it needs");
            return Ok(Files::Layers(state.layers.clone()));
        }
        if let Some(NamedContext::Dir(dir)) = self.shared.req.additional_contexts.get(from) {
            return Ok(Files::Dir(dir.clone()));
        }
        Ok(Files::Layers(self.base(from)?.layers.clone()))
    }

    /// A step's result: its key, its layer, and whether it came from the cache.
    fn cached_or(
        &self,
        key: Key,
        make: impl FnOnce() -> Result<Option<LayerRef>, StepError>,
    ) -> Result<(Key, Option<LayerRef>, bool), StepError> {
        let backend = self.shared.backend;
        let now = self.shared.now;
        if !self.shared.req.no_cache {
            if let Some(hit) = backend.cached(&key) {
                let ran = hit.created.unwrap_or(now);
                self.shared.newest.fetch_max(ran, Ordering::Relaxed);
                return Ok((key, hit.layer, true));
            }
        }
        let layer = make()?;
        backend.remember(&key, layer.as_ref(), now)?;
        self.shared.newest.fetch_max(now, Ordering::Relaxed);
        Ok((key, layer, false))
    }

    #[allow(clippy::too_many_arguments)]
    fn run_step(
        &self,
        df: &Dockerfile,
        i: usize,
        built: &[Option<StageState>],
        state: &StageState,
        run: &Run,
        env: IndexMap<String, String>,
        step: usize,
    ) -> Result<(Key, Option<LayerRef>, bool), StepError> {
        let mut env = env;
        if !env.contains_key("PATH") {
            env.insert("PATH".into(), DEFAULT_PATH.into());
        }
        let privileged = match run.security {
            Some(Security::Insecure) if !self.shared.req.privileged => {
                return Err(StepError::Build(
                    self.unsupported(
                        "RUN --security=insecure needs a privileged build (build.privileged: true)"
                            .into(),
                    ),
                ))
            }
            Some(Security::Insecure) => true,
            _ => self.shared.req.privileged,
        };
        let mut mounts = Vec::new();
        for m in &run.mounts {
            mounts.push(self.run_mount(df, i, built, m, state)?);
        }
        let spec = RunSpec {
            argv: run_argv(&state.config, run),
            env: env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            cwd: state.config.join_workdir("."),
            user: Some(state.config.user.clone()).filter(|u| !u.is_empty()),
            network: match run.network {
                Some(RunNetwork::None) => RunNet::None,
                Some(RunNetwork::Host) => RunNet::Host,
                Some(RunNetwork::Default) | None => RunNet::Build,
            },
            mounts,
            privileged,
        };
        let key = state.key.then(&[
            "RUN".to_string(),
            format!("{:?}", spec.argv),
            format!("{:?}", spec.env),
            spec.cwd.clone(),
            format!("{:?}", spec.user),
            format!("{:?}", spec.network),
            self.mount_key(&spec.mounts)?,
            privileged.to_string(),
        ]);
        let lowers = state.layers.clone();
        self.cached_or(key, || {
            let mut tail: Vec<u8> = Vec::new();
            let (code, layer) = self.shared.backend.run(&lowers, &spec, &mut |data| {
                self.send(Event::Output(step, data.to_vec()));
                tail.extend_from_slice(data);
                if tail.len() > 2 * TAIL_BYTES {
                    tail.drain(..tail.len() - TAIL_BYTES);
                }
            })?;
            if code != 0 {
                return Err(StepError::Exit {
                    process: spec.argv.join(" "),
                    code,
                    tail: last_lines(&tail),
                });
            }
            Ok(layer)
        })
    }

    fn run_mount(
        &self,
        df: &Dockerfile,
        i: usize,
        built: &[Option<StageState>],
        m: &Mount,
        state: &StageState,
    ) -> Result<RunMount, StepError> {
        Ok(match m {
            Mount::Bind {
                target,
                source,
                from,
                read_write,
            } => RunMount::Bind {
                files: match from {
                    None => Files::Context,
                    Some(f) => self.files_from(df, i, built, f)?,
                },
                source: source.clone().unwrap_or_else(|| "/".into()),
                target: state.config.join_workdir(target),
                read_write: *read_write,
            },
            Mount::Cache(c) => {
                if c.from.is_some() || c.source.is_some() {
                    return Err(StepError::Build(self.unsupported(
                        "RUN --mount=type=cache with from= or source= is not supported".into(),
                    )));
                }
                let target = state.config.join_workdir(&c.target);
                RunMount::Cache {
                    id: c.id.clone().unwrap_or_else(|| target.clone()),
                    target,
                    mode: c.mode,
                    uid: c.uid,
                    gid: c.gid,
                }
            }
            Mount::Secret {
                id,
                target,
                required,
                mode,
                uid,
                gid,
            } => RunMount::Secret {
                id: id.clone(),
                target: state.config.join_workdir(target),
                required: *required,
                mode: *mode,
                uid: *uid,
                gid: *gid,
            },
            Mount::Tmpfs { target, size } => RunMount::Tmpfs {
                target: state.config.join_workdir(target),
                size: *size,
            },
        })
    }

    /// What a RUN's mounts add to its key: their settings and the identity of the files a
    /// bind mount shows — layers by id, a directory by content, as a COPY of it would be —
    /// never a secret's or a cache's content (BuildKit's rule).
    fn mount_key(&self, mounts: &[RunMount]) -> Result<String, BuildError> {
        let mut parts = Vec::new();
        for m in mounts {
            parts.push(match m {
                RunMount::Bind {
                    files,
                    source,
                    target,
                    read_write,
                } => {
                    let identity = match files {
                        Files::Layers(layers) => layer_ids(layers),
                        dir => {
                            let spec = CopySpec {
                                copy: Copy {
                                    sources: vec![Source::Path(source.clone())],
                                    dest: "/".into(),
                                    from: None,
                                    chown: None,
                                    chmod: None,
                                    link: false,
                                    exclude: Vec::new(),
                                    checksum: None,
                                    keep_git_dir: false,
                                },
                                add: false,
                                workdir: "/".into(),
                                from: dir.clone(),
                            };
                            crate::engine::fsutil::hex(&self.shared.backend.copy_key(&spec)?)
                        }
                    };
                    format!("bind:{identity}:{source}:{target}:{read_write}")
                }
                other => format!("{other:?}"),
            });
        }
        Ok(parts.join(";"))
    }

    fn copy_step(
        &self,
        state: &StageState,
        spec: CopySpec,
    ) -> Result<(Key, Option<LayerRef>, bool), StepError> {
        let content = self.shared.backend.copy_key(&spec)?;
        let from = match &spec.from {
            Files::Context => "context".to_string(),
            Files::Dir(d) => format!("dir:{}", d.display()),
            Files::Layers(layers) => layer_ids(layers),
        };
        let key = state.key.then(&[
            if spec.add { "ADD" } else { "COPY" }.to_string(),
            format!("{:?}", spec.copy),
            spec.workdir.clone(),
            from,
            crate::engine::fsutil::hex(&content),
        ]);
        let lowers = state.layers.clone();
        self.cached_or(key, || Ok(self.shared.backend.copy(&lowers, &spec)?))
    }
}

/// Why a step failed.
pub enum StepError {
    /// A RUN exited non-zero.
    Exit {
        process: String,
        code: i32,
        tail: String,
    },
    Build(BuildError),
}

impl From<BuildError> for StepError {
    fn from(e: BuildError) -> Self {
        StepError::Build(e)
    }
}

/// A base image's ONBUILD triggers as instructions (Docker runs them in the build that uses
/// the image, and the new image does not inherit them).
fn onbuild_triggers(reference: &str, triggers: &[String]) -> Result<Vec<Instruction>, BuildError> {
    if triggers.is_empty() {
        return Ok(Vec::new());
    }
    let text = format!("FROM scratch\n{}\n", triggers.join("\n"));
    let df = crate::build::dockerfile::parse(&text, &format!("ONBUILD of {reference}"))?;
    Ok(df.stages.into_iter().flat_map(|s| s.instructions).collect())
}

/// A RUN's argv: the shell form in the current SHELL; heredocs handed to the shell as BuildKit
/// does (a lone heredoc is the script, otherwise the shell reads the bodies itself).
fn run_argv(config: &ImageConfig, run: &Run) -> Vec<String> {
    let mut argv = config.shell();
    match (&run.command, run.heredocs.as_slice()) {
        (Command::Exec(_), _) | (_, []) => return config.argv(&run.command),
        // `RUN <<EOF`: the body is the script (a quoted delimiter goes the general way, where
        // the shell itself leaves the body unexpanded).
        (Command::Shell(text), [only]) if only.expand && !text.trim().contains(' ') => {
            argv.push(only.content.clone());
        }
        (Command::Shell(text), docs) => {
            let mut script = text.clone();
            for d in docs {
                script.push('\n');
                script.push_str(&d.content);
                script.push_str(&d.name);
            }
            script.push('\n');
            argv.push(script);
        }
    }
    argv
}

/// The identity of a list of layers for a key.
fn layer_ids(layers: &[LayerRef]) -> String {
    layers
        .iter()
        .map(|l| l.diff_id.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The last lines of a RUN's output, for its error.
fn last_lines(tail: &[u8]) -> String {
    let text = String::from_utf8_lossy(tail);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}
