//! The backend that acts: base images from the store (pulled through the stack's
//! [`BaseImages`] when missing), RUN steps in containers of our engine, COPY/ADD written into a
//! fresh directory, each step's directory committed to the store as a layer and pinned under
//! its cache key, and the image committed with its names.
//!
//! Work directories live under `<root>/build/work/` (the store's filesystem, so a finished
//! step's directory is renamed into the store, never copied); cache mounts under
//! `<root>/build/cache-mounts/`. A failed step removes its directory.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::backend::{
    Backend, Base, BaseResolver, CacheHit, CopySpec, Files, RunMount, RunNet, RunSpec,
};
use super::image_config::ImageConfig;
use super::key::Key;
use super::prune::PIN_PREFIX;
use super::BaseImages;
use crate::build::context::{build_files, ContextDir, ContextEntry};
use crate::build::copy::{self, CopyFrom, CopyPlan, InlineFile};
use crate::build::dockerfile::Source;
use crate::build::layers::LayerView;
use crate::build::request::{BuildNetwork, BuildRequest, SecretSource};
use crate::build::run::{self as step_run, RunStep, StepMount, StepNetwork};
use crate::build::BuildError;
use crate::engine::fsutil;
use crate::engine::image::{ImageError, ImageStore, LayerRef, PackOptions, Reference};
use crate::engine::root::StateRoot;

/// A context directory opened and listed.
type Listed = Arc<(ContextDir, Vec<ContextEntry>)>;

pub struct EngineBackend<'a> {
    root: PathBuf,
    store: ImageStore,
    req: &'a BuildRequest,
    /// Directories (the context, named ones) opened and listed once per build.
    dirs: Mutex<BTreeMap<PathBuf, Listed>>,
}

/// Base images from the store, pulled through the stack when missing or asked to.
pub struct EngineBases<'a> {
    store: ImageStore,
    req: &'a BuildRequest,
    bases: &'a mut dyn BaseImages,
    /// References pulled by this build (`--pull` pulls each once).
    pulled: BTreeSet<String>,
}

impl<'a> EngineBases<'a> {
    pub fn new(
        root: &Path,
        req: &'a BuildRequest,
        bases: &'a mut dyn BaseImages,
    ) -> Result<Self, BuildError> {
        Ok(EngineBases {
            store: ImageStore::open(StateRoot::new(root).images())?,
            req,
            bases,
            pulled: BTreeSet::new(),
        })
    }
}

/// A directory removed when dropped unless kept (a failed step leaves nothing).
struct WorkDir {
    path: PathBuf,
    keep: bool,
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !self.keep {
            if let Err(e) = fs::remove_dir_all(&self.path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    eprintln!("WARN cannot remove {}: {e}", self.path.display());
                }
            }
        }
    }
}

impl<'a> EngineBackend<'a> {
    pub fn new(root: &Path, req: &'a BuildRequest) -> Result<Self, BuildError> {
        let store = ImageStore::open(StateRoot::new(root).images())?;
        Ok(EngineBackend {
            root: root.to_path_buf(),
            store,
            req,
            dirs: Mutex::new(BTreeMap::new()),
        })
    }

    fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BuildError {
        let path = path.to_path_buf();
        move |source| BuildError::Io { what, path, source }
    }

    fn step_error(&self, message: String) -> BuildError {
        BuildError::Unsupported {
            build: self.req.name.clone(),
            message,
        }
    }

    /// A fresh, empty work directory on the store's filesystem.
    fn work_dir(&self, prefix: &str) -> Result<WorkDir, BuildError> {
        let parent = StateRoot::new(&self.root).build_work();
        crate::engine::root::private_dir(&parent).map_err(Self::io("creating", &parent))?;
        let path = parent.join(fsutil::unique_name(prefix));
        fs::DirBuilder::new()
            .mode(0o755)
            .create(&path)
            .map_err(Self::io("creating", &path))?;
        Ok(WorkDir { path, keep: false })
    }

    /// Layer directories, topmost first, for `lowers` (bottom first); a layer listed twice is
    /// kept at its topmost place.
    fn lower_dirs(&self, lowers: &[LayerRef]) -> Vec<PathBuf> {
        let mut seen = BTreeSet::new();
        lowers
            .iter()
            .rev()
            .filter(|l| seen.insert(l.dir.clone()))
            .map(|l| self.store.dir().layer(&l.dir))
            .collect()
    }

    /// The files of a context directory, listed once.
    fn listed(&self, dir: &Path) -> Result<Listed, BuildError> {
        let mut dirs = self.dirs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(listed) = dirs.get(dir) {
            return Ok(listed.clone());
        }
        let dockerfile = match &self.req.dockerfile {
            crate::build::request::DockerfileSource::Path(p) if dir == self.req.context => {
                p.clone()
            }
            _ => PathBuf::from("Dockerfile"),
        };
        let listed = Arc::new(build_files(dir, &dockerfile)?);
        dirs.insert(dir.to_path_buf(), listed.clone());
        Ok(listed)
    }

    /// A view of `layers` (bottom first).
    fn view(&self, layers: &[LayerRef]) -> Result<LayerView, BuildError> {
        LayerView::new(&self.lower_dirs(layers)).map_err(|e| self.step_error(e.to_string()))
    }

    fn copy_error(&self, spec: &CopySpec, e: impl std::fmt::Display) -> BuildError {
        BuildError::Step {
            build: self.req.name.clone(),
            step: format!(
                "{} {}",
                if spec.add { "ADD" } else { "COPY" },
                spec.copy.dest
            ),
            message: e.to_string(),
        }
    }

    /// The directory `files` names, for a COPY or a bind mount.
    fn source_dir(&self, files: &Files) -> Option<PathBuf> {
        match files {
            Files::Context => Some(self.req.context.clone()),
            Files::Dir(d) => Some(d.clone()),
            Files::Layers(_) => None,
        }
    }

    /// Commits a step's directory as a layer, or drops it when the step changed nothing.
    fn commit_dir(&self, mut dir: WorkDir) -> Result<Option<LayerRef>, BuildError> {
        let empty = fs::read_dir(&dir.path)
            .map_err(Self::io("reading", &dir.path))?
            .next()
            .is_none();
        if empty {
            return Ok(None);
        }
        let opts = PackOptions {
            source_date_epoch: self.req.source_date_epoch,
            ..PackOptions::default()
        };
        let layer = self.store.add_layer(&dir.path, &opts)?;
        dir.keep = true;
        Ok(Some(layer))
    }

    /// A cache mount's directory: one per id, made on first use with the mount's owner and mode.
    fn cache_mount(&self, id: &str, mode: u32, uid: u32, gid: u32) -> Result<PathBuf, BuildError> {
        let parent = StateRoot::new(&self.root).build_cache_mounts();
        crate::engine::root::private_dir(&parent).map_err(Self::io("creating", &parent))?;
        let dir = parent.join(fsutil::hex(&Sha256::digest(id.as_bytes())));
        match fs::DirBuilder::new().mode(mode).create(&dir) {
            Ok(()) => {
                std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                    .map_err(Self::io("chown", &dir))?;
                rustix::fs::chmod(&dir, rustix::fs::Mode::from_raw_mode(mode))
                    .map_err(|e| Self::io("chmod", &dir)(e.into()))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Self::io("creating", &dir)(e)),
        }
        Ok(dir)
    }

    /// The host path of `source` inside the directory `dir`, refused when it leaves it.
    fn inside(&self, dir: &Path, source: &str) -> Result<PathBuf, BuildError> {
        let base = dir.canonicalize().map_err(Self::io("resolving", dir))?;
        let path = base
            .join(source.trim_start_matches('/'))
            .canonicalize()
            .map_err(Self::io("resolving", &dir.join(source)))?;
        if !path.starts_with(&base) {
            return Err(self.step_error(format!(
                "RUN --mount source {source:?} leaves {}",
                dir.display()
            )));
        }
        Ok(path)
    }
}

impl BaseResolver for EngineBases<'_> {
    fn base(&mut self, reference: &str, pull: bool) -> Result<Base, BuildError> {
        let fail = |message: String| BuildError::BaseImage {
            build: self.req.name.clone(),
            reference: reference.to_string(),
            message,
        };
        let r = Reference::parse(reference).map_err(|e| fail(e.to_string()))?;
        let key = r.to_string();
        if pull && !self.pulled.contains(&key) {
            self.bases.fetch(&r).map_err(fail)?;
            self.pulled.insert(key.clone());
        }
        let image = match self.store.resolve(reference) {
            Err(ImageError::NotFound(_)) if !self.pulled.contains(&key) => {
                self.bases.fetch(&r).map_err(fail)?;
                self.pulled.insert(key);
                self.store.resolve(reference)?
            }
            other => other?,
        };
        let record = self.store.read_record(&image.id)?;
        let on_build = self.store.inspect(&image.id)?["Config"]["OnBuild"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Base {
            on_build,
            config: ImageConfig::of_image(&image),
            id: image.id,
            layers: record.layers,
        })
    }
}

impl Backend for EngineBackend<'_> {
    fn cached(&self, key: &Key) -> Option<CacheHit> {
        self.store
            .pinned(&format!("{PIN_PREFIX}{}", key.hex()))
            .map(|p| CacheHit {
                layer: p.layers.into_iter().next(),
                created: p.created,
            })
    }

    fn remember(
        &self,
        key: &Key,
        layer: Option<&LayerRef>,
        created: i64,
    ) -> Result<(), BuildError> {
        let layers: Vec<LayerRef> = layer.into_iter().cloned().collect();
        Ok(self
            .store
            .pin(&format!("{PIN_PREFIX}{}", key.hex()), &layers, created)?)
    }

    fn run(
        &self,
        lowers: &[LayerRef],
        spec: &RunSpec,
        output: &mut dyn FnMut(&[u8]),
    ) -> Result<(i32, Option<LayerRef>), BuildError> {
        let upper = self.work_dir("run-")?;
        let mut secrets: Vec<WorkDir> = Vec::new();
        let mut mounts = Vec::new();
        for m in &spec.mounts {
            mounts.push(match m {
                RunMount::Bind {
                    files: Files::Layers(layers),
                    source,
                    target,
                    read_write,
                } => StepMount::Layers {
                    layers: self.lower_dirs(layers),
                    source: source.clone(),
                    target: target.clone(),
                    read_write: *read_write,
                },
                RunMount::Bind {
                    files,
                    source,
                    target,
                    read_write,
                } => {
                    let dir = self.source_dir(files).unwrap_or_default();
                    StepMount::Bind {
                        source: self.inside(&dir, source)?,
                        target: target.clone(),
                        read_write: *read_write,
                    }
                }
                RunMount::Cache {
                    id,
                    target,
                    mode,
                    uid,
                    gid,
                } => StepMount::Cache {
                    dir: self.cache_mount(id, *mode, *uid, *gid)?,
                    target: target.clone(),
                },
                RunMount::Secret {
                    id,
                    target,
                    required,
                    mode,
                    uid,
                    gid,
                } => {
                    let file = match self.req.secrets.get(id) {
                        Some(SecretSource::File(path)) => path.clone(),
                        Some(SecretSource::Value(data)) => {
                            let dir = self.work_dir("secret-")?;
                            let path = dir.path.join("secret");
                            fs::OpenOptions::new()
                                .write(true)
                                .create_new(true)
                                .mode(0o400)
                                .open(&path)
                                .and_then(|mut f| std::io::Write::write_all(&mut f, data))
                                .map_err(Self::io("writing", &path))?;
                            secrets.push(dir);
                            path
                        }
                        None if *required => {
                            return Err(self.step_error(format!(
                                "secret {id:?} is required but the build has no such secret"
                            )))
                        }
                        None => continue,
                    };
                    StepMount::Secret {
                        file,
                        target: target.clone(),
                        mode: *mode,
                        uid: *uid,
                        gid: *gid,
                    }
                }
                RunMount::Tmpfs { target, size } => StepMount::Tmpfs {
                    target: target.clone(),
                    size: *size,
                },
            });
        }
        let network = match (spec.network, &self.req.network) {
            (RunNet::None, _) | (RunNet::Build, BuildNetwork::None) => StepNetwork::None,
            (RunNet::Host, _) | (RunNet::Build, BuildNetwork::Host) => StepNetwork::Host,
            (RunNet::Build, BuildNetwork::Network(n)) => StepNetwork::Bridge(n.clone()),
            // No project network to join (every service names its own): isolated rather than
            // the host's, whose loopback services a build must not reach unasked.
            (RunNet::Build, BuildNetwork::Default) => StepNetwork::None,
        };
        let layers = self.lower_dirs(lowers);
        let step = RunStep {
            build: &self.req.name,
            layers: &layers,
            args: spec.argv.clone(),
            env: spec.env.clone(),
            cwd: spec.cwd.clone(),
            user: spec.user.clone(),
            network,
            extra_hosts: &self.req.extra_hosts,
            mounts,
            shm_size: self.req.shm_size,
            privileged: spec.privileged,
            ulimits: &self.req.ulimits,
            cgroup_parent: if self.req.cgroup_parent.is_empty() {
                "compose"
            } else {
                &self.req.cgroup_parent
            },
        };
        let code = step_run::run_step(&self.root, &step, &upper.path, output)
            .map_err(|e| self.step_error(e.to_string()))?;
        drop(secrets);
        if code != 0 {
            return Ok((code, None));
        }
        Ok((0, self.commit_dir(upper)?))
    }

    fn copy_key(&self, spec: &CopySpec) -> Result<[u8; 32], BuildError> {
        let (plan, heredocs) = plan(spec);
        let mut h = Sha256::new();
        if !heredocs.is_empty() {
            let key = copy::content_key(&plan, CopyFrom::Heredocs(&heredocs))
                .map_err(|e| self.copy_error(spec, e))?;
            h.update(key);
        }
        if !plan.sources.is_empty() {
            let key = match &spec.from {
                Files::Layers(layers) => {
                    let view = self.view(layers)?;
                    copy::content_key(&plan, CopyFrom::Layers(&view))
                }
                files => {
                    let listed = self.listed(&self.source_dir(files).unwrap_or_default())?;
                    copy::content_key(
                        &plan,
                        CopyFrom::Context {
                            dir: &listed.0,
                            files: &listed.1,
                        },
                    )
                }
            }
            .map_err(|e| self.copy_error(spec, e))?;
            h.update(key);
        }
        Ok(h.finalize().into())
    }

    fn copy(&self, lowers: &[LayerRef], spec: &CopySpec) -> Result<Option<LayerRef>, BuildError> {
        let out = self.work_dir("copy-")?;
        let target = self.view(lowers)?;
        let (plan, heredocs) = plan(spec);
        if !heredocs.is_empty() {
            copy::copy_into(&plan, CopyFrom::Heredocs(&heredocs), &target, &out.path)
                .map_err(|e| self.copy_error(spec, e))?;
        }
        if !plan.sources.is_empty() {
            match &spec.from {
                Files::Layers(layers) => {
                    let view = self.view(layers)?;
                    copy::copy_into(&plan, CopyFrom::Layers(&view), &target, &out.path)
                }
                files => {
                    let listed = self.listed(&self.source_dir(files).unwrap_or_default())?;
                    let from = CopyFrom::Context {
                        dir: &listed.0,
                        files: &listed.1,
                    };
                    copy::copy_into(&plan, from, &target, &out.path)
                }
            }
            .map_err(|e| self.copy_error(spec, e))?;
        }
        self.commit_dir(out)
    }

    fn commit(
        &self,
        config: Value,
        layers: &[LayerRef],
        names: &[Reference],
    ) -> Result<String, BuildError> {
        Ok(self.store.add_image(config, layers, names)?)
    }
}

/// A COPY as the copier takes it: its path sources in a plan, its heredocs as files.
fn plan(spec: &CopySpec) -> (CopyPlan, Vec<InlineFile>) {
    let c = &spec.copy;
    let mut sources = Vec::new();
    let mut heredocs = Vec::new();
    for s in &c.sources {
        match s {
            Source::Path(p) => sources.push(p.clone()),
            Source::Heredoc(h) => heredocs.push(InlineFile {
                name: h.name.clone(),
                content: h.content.clone().into_bytes(),
            }),
        }
    }
    let plan = CopyPlan {
        sources,
        dest: c.dest.clone(),
        workdir: spec.workdir.clone(),
        chown: c.chown.clone(),
        chmod: c.chmod.clone(),
        add: spec.add,
        exclude: c.exclude.clone(),
    };
    (plan, heredocs)
}
