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
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Keep STDIN open (always on; accepted for compatibility)
    #[arg(short = 'i', long, default_value_t = true, hide = true)]
    pub interactive: bool,
    /// Run command with all service's ports enabled and mapped to the host
    #[arg(long)]
    pub service_ports: bool,
    /// Publish a container's port(s) to the host (`-p` is the global --project-name here)
    #[arg(long = "publish", value_name = "PORT")]
    pub publish: Vec<String>,
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
    let opts = load_options(global, std::slice::from_ref(&args.service))?;
    let loaded = load(&opts)?;
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
        super::progress::reporter(global).warn(&w);
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
            &mut *super::progress::reporter(global),
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
    let overrides = OneOffOverrides {
        command: (!args.command.is_empty()).then(|| args.command.clone()),
        entrypoint,
        env,
        user: args.user.clone(),
        workdir: args.workdir.clone(),
        volumes,
        tty: Some(tty),
        stdin_open: Some(args.interactive),
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
    match crate::stack::run::run(&ctx, project, &request, &|| {
        super::progress::reporter(global)
    })? {
        RunOutcome::Detached { name } => {
            println!("{name}");
            Ok(0)
        }
        RunOutcome::Exited(code) => Ok(code),
    }
}

/// `-v ./src:/app` with the source made absolute against the working directory (named volumes
/// and absolute paths as they are).
fn absolute_bind(spec: &str, cwd: &Path) -> String {
    match spec.split_once(':') {
        Some((src, rest)) if src.starts_with('.') => format!("{}:{rest}", cwd.join(src).display()),
        _ => spec.to_string(),
    }
}
