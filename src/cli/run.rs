//! `compose run`: a one-off container of a service, in the foreground, its exit code ours.

use std::path::Path;

use anyhow::{bail, Context};
use clap::Args;
use indexmap::IndexMap;

use super::project::load_options;
use super::GlobalOptions;
use crate::engine::cgroups::{self, CgroupOptions, Layout};
use crate::engine::image::ImageStore;
use crate::engine::runtime::container;
use crate::engine::runtime::error::Step;
use crate::engine::runtime::init::{CgroupMount, InitConfig};
use crate::engine::runtime::process::Stdio;
use crate::engine::runtime::pty::{Pty, RawMode};
use crate::engine::runtime::user::LayerFiles;
use crate::model::load::load;
use crate::model::types::service::split_shell_words;
use crate::planner::container::{build_container_spec, ContainerInput, HostInfo, OneOffOverrides};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Run the container in the background and print its name
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Set environment variables (KEY=VALUE, or KEY to pass this shell's value)
    #[arg(short = 'e', long = "env", value_name = "KEY=VAL")]
    pub env: Vec<String>,
    /// Run as this user (name or uid[:gid])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Override the image's entrypoint
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Bind mount a volume (SOURCE:TARGET[:MODE])
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// Name of the container
    #[arg(long)]
    pub name: Option<String>,
    /// Disable pseudo-TTY allocation (default: a TTY when standard input is a terminal)
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Keep STDIN open (always on; accepted for compatibility)
    #[arg(short = 'i', long, default_value_t = true, hide = true)]
    pub interactive: bool,
    /// Service to run
    pub service: String,
    /// Command and arguments (replace the service's command)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// 64 random hex characters.
fn new_id() -> anyhow::Result<String> {
    use std::io::Read;
    let mut buf = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("cannot get random bytes for a container id")?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

pub fn run(global: &GlobalOptions, args: &RunArgs) -> anyhow::Result<i32> {
    let opts = load_options(global, std::slice::from_ref(&args.service))?;
    let loaded = load(&opts)?;
    let project = &loaded.project;
    let project_name = project.name.clone().unwrap_or_default();
    let Some(service) = project.services.get(&args.service) else {
        bail!("no such service: {}", args.service);
    };

    let root = global.root.as_path();
    let store = ImageStore::open(root.join("images"))?;
    let image_ref = service
        .image
        .clone()
        .unwrap_or_else(|| format!("{project_name}-{}", args.service));
    let image = store.resolve(&image_ref).with_context(|| {
        format!("image {image_ref} for service {} is not in the image store (load it with `compose image load`)", args.service)
    })?;

    let id = new_id()?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{project_name}-{}-run-{}", args.service, &id[..12]));
    let tty = !args.detach && !args.no_tty && rustix::termios::isatty(rustix::stdio::stdin());
    let entrypoint = match &args.entrypoint {
        Some(e) => Some(split_shell_words(e).map_err(|m| anyhow::anyhow!("--entrypoint: {m}"))?),
        None => None,
    };
    let env = args
        .env
        .iter()
        .map(|e| match e.split_once('=') {
            Some(_) => e.clone(),
            None => std::env::var(e)
                .map(|v| format!("{e}={v}"))
                .unwrap_or_else(|_| e.clone()),
        })
        .collect();
    let cwd = std::env::current_dir()?;
    let volumes = args
        .volumes
        .iter()
        .map(|v| absolute_bind(v, &cwd))
        .collect();
    let one_off = OneOffOverrides {
        command: (!args.command.is_empty()).then(|| args.command.clone()),
        entrypoint,
        env,
        user: args.user.clone(),
        workdir: args.workdir.clone(),
        volumes,
        tty: Some(tty),
    };
    let volume_names: IndexMap<String, String> = project
        .volumes
        .iter()
        .filter_map(|(k, v)| v.name.clone().map(|n| (k.clone(), n)))
        .collect();
    let host = HostInfo::detect()?;
    let files = LayerFiles::new(image.layer_dirs.clone());
    let volumes_dir = root.join("volumes");
    let spec = build_container_spec(&ContainerInput {
        project: &project_name,
        service_name: &args.service,
        service,
        image: &image.config,
        layers: &image.layer_dirs,
        rootfs_files: &files,
        container_id: &id,
        container_name: &name,
        number: 1,
        volumes_dir: &volumes_dir,
        volume_names: &volume_names,
        one_off: Some(&one_off),
        host: &host,
        host_gateway: None,
        join_container: None,
    })?;

    // New named volumes are filled from the image on first use.
    let mut copy_up = Vec::new();
    for m in &spec.mounts {
        if let crate::engine::spec::MountKind::Bind { source, .. } = &m.kind {
            if source.starts_with(&volumes_dir) && !source.exists() {
                std::fs::create_dir_all(source).with_context(|| {
                    format!("cannot create volume directory {}", source.display())
                })?;
                copy_up.push(m.destination.clone());
            }
        }
    }

    let layout = Layout::detect()?;
    let manager = cgroups::manager(
        &layout,
        &CgroupOptions {
            parent: global.cgroup_parent.clone(),
            ..CgroupOptions::default()
        },
    )?;
    let (cgroup, warnings) = manager.create(&project_name, &id, &spec.resources)?;
    for w in warnings {
        eprintln!("WARN {w}");
    }

    if args.detach {
        return run_detached(
            root,
            &spec,
            &name,
            cgroup,
            args.rm,
            copy_up,
            CgroupMount::for_layout(&layout),
        );
    }

    let result = (|| -> anyhow::Result<i32> {
        let dir = container::prepare(root, &spec)?;
        let pty = if tty { Some(Pty::open()?) } else { None };
        let cfg = InitConfig {
            spec: spec.clone(),
            container_dir: dir,
            console: pty.as_ref().map(|p| p.slave_path.clone()),
            die_with_parent: true,
            copy_up,
            cgroup_mounts: CgroupMount::for_layout(&layout),
        };
        let stdio = match &pty {
            Some(p) => {
                use std::os::fd::AsFd;
                Stdio {
                    stdin: p.slave.as_fd(),
                    stdout: p.slave.as_fd(),
                    stderr: p.slave.as_fd(),
                }
            }
            None => Stdio::inherit(),
        };
        let _raw = if tty { RawMode::enable() } else { None };
        let exit = match container::run_foreground(
            &cfg,
            &stdio,
            pty.as_ref(),
            &mut |pid| {
                cgroup.add_pid(pid.as_raw_nonzero().get()).map_err(|e| {
                    crate::engine::runtime::error::InitError::msg(
                        crate::engine::runtime::error::Step::Cgroups,
                        None,
                        e.to_string(),
                    )
                })
            },
            &mut |_| {},
        ) {
            Ok(exit) => exit,
            Err(e) => {
                drop(_raw);
                eprintln!("Error response from container {name}: {e}");
                return Ok(e.exit_code());
            }
        };
        drop(_raw);
        if cgroup.oom_killed().unwrap_or(false) {
            eprintln!("compose: container {name} ran out of memory and was killed (OOM)");
        }
        Ok(exit.code())
    })();

    // Whatever happened, nothing of the container may keep running or stay in the cgroup tree.
    let _ = cgroup.kill_all(rustix::process::Signal::KILL);
    if let Err(e) = cgroup.remove() {
        eprintln!("WARN cannot remove the container's cgroup: {e}");
    }
    if args.rm || result.is_err() {
        container::remove(root, &spec.id)?;
    }
    result
}

/// `-v ./src:/app` with the source made absolute against the working directory (named volumes
/// and absolute paths as they are).
fn absolute_bind(spec: &str, cwd: &Path) -> String {
    match spec.split_once(':') {
        Some((src, rest)) if src.starts_with('.') => format!("{}:{rest}", cwd.join(src).display()),
        _ => spec.to_string(),
    }
}

/// `run -d`: the container runs under a monitor process; we print its name once it started.
fn run_detached(
    root: &Path,
    spec: &crate::engine::spec::ContainerSpec,
    name: &str,
    cgroup: Box<dyn cgroups::ContainerCgroup>,
    remove: bool,
    copy_up: Vec<String>,
    cgroup_mounts: Vec<CgroupMount>,
) -> anyhow::Result<i32> {
    use crate::engine::runtime::monitor;
    let dir = match container::prepare(root, spec) {
        Ok(d) => d,
        Err(e) => {
            let _ = cgroup.remove();
            return Err(e.into());
        }
    };
    let cfg = InitConfig {
        spec: spec.clone(),
        container_dir: dir,
        console: None,
        die_with_parent: false,
        copy_up,
        cgroup_mounts,
    };
    let cgroup: std::sync::Arc<dyn cgroups::ContainerCgroup> = std::sync::Arc::from(cgroup);
    let cg_place = cgroup.clone();
    let cg_exit = cgroup.clone();
    let root_owned = root.to_path_buf();
    let id = spec.id.clone();
    let started = monitor::start_detached(
        &cfg,
        &mut |pid| {
            cg_place.add_pid(pid.as_raw_nonzero().get()).map_err(|e| {
                crate::engine::runtime::error::InitError::msg(Step::Cgroups, None, e.to_string())
            })
        },
        Box::new(move |_exit, _dir| {
            let oom = cg_exit.oom_killed().unwrap_or(false);
            let _ = cg_exit.kill_all(rustix::process::Signal::KILL);
            let _ = cg_exit.remove();
            if remove {
                let _ = container::remove(&root_owned, &id);
            }
            oom
        }),
    );
    match started {
        Ok(()) => {
            println!("{name}");
            Ok(0)
        }
        Err(e) => {
            let _ = cgroup.kill_all(rustix::process::Signal::KILL);
            let _ = cgroup.remove();
            let _ = container::remove(root, &spec.id);
            eprintln!("Error response from container {name}: {e}");
            Ok(e.exit_code())
        }
    }
}
