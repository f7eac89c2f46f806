//! `compose run`: a one-off container of a service, in the foreground, its exit code ours.

use std::path::Path;

use anyhow::{bail, Context};
use clap::Args;

use super::project::load_options;
use super::GlobalOptions;
use crate::engine::image::ImageStore;
use crate::engine::root::StateRoot;
use crate::model::load::load;
use crate::model::types::service::split_shell_words;
use crate::planner::container::OneOffOverrides;
use crate::stack::create::OneOff;
use crate::stack::run::{RunOutcome, RunRequest};
use crate::stack::{self, Ctx};

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
    #[arg(short = 'T', long = "no-tty", alias = "no-TTY")]
    pub no_tty: bool,
    /// Keep STDIN open even if not attached (the default: standard input is always passed on)
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY (the default when standard input is a terminal), so that the
    /// `docker run -it` habit works
    #[arg(short = 't', long, hide = true, conflicts_with = "no_tty")]
    pub tty: bool,
    /// Run command with all service's ports enabled and mapped to the host
    #[arg(short = 'P', long, conflicts_with = "publish")]
    pub service_ports: bool,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish", value_name = "PORT")]
    pub publish: Vec<String>,
    /// Add or override a label (KEY=VALUE)
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Add Linux capabilities
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Set environment variables from file
    #[arg(long = "env-from-file", value_name = "FILE")]
    pub env_from_file: Vec<std::path::PathBuf>,
    /// Don't print anything to STDOUT (progress included; the command's own output is its own)
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Pull without printing progress information
    #[arg(long)]
    pub quiet_pull: bool,
    /// Suppress progress output from the build process
    #[arg(long)]
    pub quiet_build: bool,

    /// Use the service's network aliases in the network(s) the container connects to
    #[arg(long)]
    pub use_aliases: bool,
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// Pull image before running ("always"|"missing"|"never")
    #[arg(long, value_name = "POLICY")]
    pub pull: Option<String>,
    /// Build image before starting container
    #[arg(long)]
    pub build: bool,
    /// Service to run
    pub service: String,
    /// Command and arguments (replace the service's command)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn run(global: &GlobalOptions, args: &RunArgs) -> anyhow::Result<i32> {
    // `-q`: no progress at all, as `--progress quiet` would have it.
    let quiet_global;
    let global = if args.quiet {
        quiet_global = GlobalOptions {
            progress: super::Progress::Quiet,
            ..global.clone()
        };
        &quiet_global
    } else {
        global
    };
    let reporter = || {
        super::muted::muted(
            super::progress::reporter(global),
            args.quiet_pull,
            args.quiet_build,
        )
    };
    let opts = load_options(global, std::slice::from_ref(&args.service))?;
    let mut loaded = load(&opts)?;
    let labels = parse_labels(&args.labels)?;
    let Some(service) = loaded.project.services.get_mut(&args.service) else {
        bail!("no such service: {}", args.service);
    };
    apply_overrides(service, &labels, &args.cap_add, &args.cap_drop);
    let project = &loaded.project;
    let project_name = project.name.clone().unwrap_or_default();
    let Some(service) = project.services.get(&args.service) else {
        bail!("no such service: {}", args.service);
    };

    let warnings = crate::planner::support::check_service(
        &args.service,
        service,
        &crate::planner::support::Facts::host(),
    )?;
    for w in warnings {
        reporter().warn(&w);
    }
    let root = global.root.as_path();
    let store = ImageStore::open(StateRoot::new(root).images())?;
    // Every image this run needs (its dependencies' too), pulled at once before anything
    // starts; the dependencies' `up` below then finds them stored.
    let pull = super::pull::pull_flag(args.pull.as_deref())?;
    let mut needed = vec![args.service.clone()];
    if !args.no_deps {
        needed = stack::start_order(project, &needed)?;
    }
    let images = stack::build::ImageOptions {
        pull,
        default_platform: super::pull::default_platform(),
        build: if args.build {
            stack::build::BuildMode::Always
        } else {
            stack::build::BuildMode::Missing
        },
        flags: stack::build::BuildFlags::default(),
    };
    // A dry run pulls and builds nothing (as `up --dry-run`): the image must be there.
    if !global.dry_run {
        stack::build::ensure::prepare_images(
            &super::lifecycle::ctx(global),
            project,
            &needed,
            &images,
            &mut *reporter(),
        )?;
    }
    let image_ref = service
        .image
        .clone()
        .unwrap_or_else(|| format!("{project_name}-{}", args.service));
    let image = store.resolve(&image_ref).with_context(|| {
        format!(
            "image {image_ref} for service {} is not in the image store",
            args.service
        )
    })?;
    crate::planner::support::check_image(&args.service, service, &image.config)?;

    let tty = !args.detach && !args.no_tty && rustix::termios::isatty(rustix::stdio::stdin());
    let entrypoint = match &args.entrypoint {
        Some(e) => Some(split_shell_words(e).map_err(|m| anyhow::anyhow!("--entrypoint: {m}"))?),
        None => None,
    };
    // `--env-from-file` first: `-e` wins over a file, as with Docker Compose.
    let mut env = env_from_files(&args.env_from_file)?;
    env.extend(args.env.iter().map(|e| {
        match e.split_once('=') {
            Some(_) => e.clone(),
            None => std::env::var(e)
                .map(|v| format!("{e}={v}"))
                .unwrap_or_else(|_| e.clone()),
        }
    }));
    let cwd = std::env::current_dir()?;
    let volumes = args
        .volumes
        .iter()
        .map(|v| absolute_bind(v, &cwd))
        .collect();
    let overrides = OneOffOverrides {
        command: (!args.command.is_empty()).then(|| args.command.clone()),
        entrypoint,
        env,
        user: args.user.clone(),
        workdir: args.workdir.clone(),
        volumes,
        tty: Some(tty),
        // Standard input is passed on whether or not `-i` is given (Docker Compose's default).
        stdin_open: Some(true),
    };
    let ctx = Ctx {
        root: root.to_path_buf(),
        cgroup_parent: global.cgroup_parent.clone(),
        dry_run: global.dry_run,
    };
    let request = RunRequest {
        service: &args.service,
        image_ref: &image_ref,
        image: &image,
        one_off: OneOff {
            overrides: &overrides,
            name: args.name.clone(),
            service_ports: args.service_ports,
            publish: args.publish.clone(),
            use_aliases: args.use_aliases,
            remove: args.rm,
        },
        no_deps: args.no_deps,
        detach: args.detach,
        tty,
    };
    match crate::stack::run::run(&ctx, project, &request, &reporter)? {
        // Docker Compose starts a detached one-off as `docker start` does, which prints the
        // container's full ID on standard output.
        RunOutcome::Detached { id } => {
            println!("{id}");
            Ok(0)
        }
        RunOutcome::Exited(code) => Ok(code),
    }
}

/// `-l KEY=VALUE`, repeated; a label without `=` is refused, as Docker Compose does.
fn parse_labels(labels: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => bail!("--label {l:?}: a label must be set as KEY=VALUE"),
        })
        .collect()
}

/// `-l`, `--cap-add` and `--cap-drop` applied to the service the one-off container is made
/// from, as Docker Compose applies them: labels added or replaced, an added capability no
/// longer dropped and a dropped one no longer added.
fn apply_overrides(
    service: &mut crate::model::types::service::ServiceConfig,
    labels: &[(String, String)],
    cap_add: &[String],
    cap_drop: &[String],
) {
    for (k, v) in labels {
        service.labels.insert(k.clone(), v.clone());
    }
    if !cap_add.is_empty() {
        service.cap_add.extend(cap_add.iter().cloned());
        service.cap_drop.retain(|c| !cap_add.contains(c));
    }
    if !cap_drop.is_empty() {
        service.cap_drop.extend(cap_drop.iter().cloned());
        service.cap_add.retain(|c| !cap_drop.contains(c));
    }
}

/// `--env-from-file`: each file's variables (`.env` syntax), as `KEY=VALUE`, in order.
fn env_from_files(files: &[std::path::PathBuf]) -> anyhow::Result<Vec<String>> {
    let mut env = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("--env-from-file {}", f.display()))?;
        let vars = crate::model::dotenv::parse(&text, &|k| std::env::var(k).ok())
            .with_context(|| format!("--env-from-file {}", f.display()))?;
        env.extend(vars.into_iter().map(|(k, v)| format!("{k}={v}")));
    }
    Ok(env)
}

/// `-v ./src:/app` with the source made absolute against the working directory (named volumes
/// and absolute paths as they are).
fn absolute_bind(spec: &str, cwd: &Path) -> String {
    match spec.split_once(':') {
        Some((src, rest)) if src.starts_with('.') => format!("{}:{rest}", cwd.join(src).display()),
        _ => spec.to_string(),
    }
}
