//! `up`, `down` and `port`: flags and output (`ps` is in [`super::ps`]); the work is in [`crate::stack`].

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use indexmap::IndexMap;

use super::project::{load_options, project_name, project_name_for};
use super::GlobalOptions;
use crate::engine::network::nft::Protocol;
use crate::model::load::load;
use crate::stack::{self, Ctx, DownOptions, UpOptions};

/// `--scale SERVICE=NUM`, repeated.
pub(crate) fn parse_scale(args: &[String]) -> anyhow::Result<IndexMap<String, u32>> {
    let mut scale = IndexMap::new();
    for s in args {
        let (svc, n) = s
            .split_once('=')
            .with_context(|| format!("--scale {s}: expected SERVICE=NUM"))?;
        let n: u32 = n
            .parse()
            .with_context(|| format!("--scale {s}: {n:?} is not a number"))?;
        scale.insert(svc.to_string(), n);
    }
    Ok(scale)
}

pub(crate) fn ctx(global: &GlobalOptions) -> Ctx {
    Ctx {
        root: global.root.clone(),
        cgroup_parent: global.cgroup_parent.clone(),
        dry_run: global.dry_run,
    }
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Detached mode: run containers in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Recreate containers even if their configuration and image haven't changed
    #[arg(long)]
    pub force_recreate: bool,
    /// If containers already exist, don't recreate them
    #[arg(long, conflicts_with = "force_recreate")]
    pub no_recreate: bool,
    /// Don't start the services after creating them
    #[arg(long)]
    pub no_start: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Scale SERVICE to NUM instances (overrides `scale` in the Compose file)
    #[arg(long, value_name = "SERVICE=NUM")]
    pub scale: Vec<String>,
    /// Timeout in seconds for container shutdown when containers are recreated
    #[arg(short = 't', long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Wait for services to be running|healthy. Implies detached mode.
    #[arg(long)]
    pub wait: bool,
    /// Maximum duration in seconds to wait for the project to be running|healthy
    #[arg(long, value_name = "SECONDS")]
    pub wait_timeout: Option<u64>,
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// Recreate dependent containers
    #[arg(long)]
    pub always_recreate_deps: bool,
    /// Recreate anonymous volumes instead of retrieving data from the previous containers
    #[arg(short = 'V', long)]
    pub renew_anon_volumes: bool,
    /// Build images before starting containers
    #[arg(long)]
    pub build: bool,
    /// Don't build an image, even if it's policy
    #[arg(long, conflicts_with = "build")]
    pub no_build: bool,
    /// Pull image before running ("always"|"missing"|"never")
    #[arg(long, value_name = "POLICY")]
    pub pull: Option<String>,
    /// Pull without printing progress information
    #[arg(long)]
    pub quiet_pull: bool,
    /// Suppress the build output
    #[arg(long)]
    pub quiet_build: bool,
    /// Assume "yes" as answer to all prompts and run non-interactively (up asks none: it
    /// never waits for an answer)
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Stops all containers if any container was stopped. Incompatible with -d
    #[arg(long, conflicts_with = "detach")]
    pub abort_on_container_exit: bool,
    /// Stops all containers if any container exited with failure. Incompatible with -d
    #[arg(long, conflicts_with = "detach")]
    pub abort_on_container_failure: bool,
    /// Return the exit code of the selected service container. Implies --abort-on-container-exit
    #[arg(long, value_name = "SERVICE", conflicts_with = "detach")]
    pub exit_code_from: Option<String>,
    /// Restrict attaching to the specified services
    #[arg(long, value_name = "SERVICE", conflicts_with = "attach_dependencies")]
    pub attach: Vec<String>,
    /// Automatically attach to log output of dependent services
    #[arg(long, conflicts_with_all = ["detach", "wait"])]
    pub attach_dependencies: bool,
    /// Do not attach (stream logs) to the specified services
    #[arg(long, value_name = "SERVICE")]
    pub no_attach: Vec<String>,
    /// Don't print prefix in logs
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Show timestamps
    #[arg(long)]
    pub timestamps: bool,
    /// Produce monochrome output
    #[arg(long)]
    pub no_color: bool,
    /// Services to start (and their dependencies)
    pub services: Vec<String>,
}

pub fn up(global: &GlobalOptions, args: &UpArgs) -> anyhow::Result<i32> {
    let attached = !args.detach && !args.no_start && !args.wait && !global.dry_run;
    let loaded = load(&load_options(global, &args.services)?)?;
    let pull = super::pull::pull_flag(args.pull.as_deref())?;
    let scale = parse_scale(&args.scale)?;
    let opts = UpOptions {
        services: args.services.clone(),
        force_recreate: args.force_recreate,
        no_recreate: args.no_recreate,
        no_start: args.no_start,
        remove_orphans: args.remove_orphans,
        scale,
        timeout: args.timeout,
        no_deps: args.no_deps,
        always_recreate_deps: args.always_recreate_deps,
        dry_run: global.dry_run,
        wait: args.wait,
        wait_timeout: args.wait_timeout,
        renew_anon_volumes: args.renew_anon_volumes,
        // Caught before anything starts, so that Ctrl-C or SIGTERM ends every phase at once,
        // waits included, at a point the next command can take over from.
        interrupts: if global.dry_run {
            None
        } else {
            Some(stack::attach::catch_interrupts()?)
        },
        pull,
        default_platform: super::pull::default_platform(),
        build: super::build::build_mode(args.build, args.no_build),
    };
    if attached {
        let req = stack::AttachRequest {
            attach: args.attach.clone(),
            no_attach: args.no_attach.clone(),
            attach_dependencies: args.attach_dependencies,
            exit_code_from: args.exit_code_from.clone(),
            abort_on_container_exit: args.abort_on_container_exit,
            abort_on_container_failure: args.abort_on_container_failure,
            format: stack::attach::FormatOptions {
                color: super::use_color(global, args.no_color),
                prefix: !args.no_log_prefix,
                timestamps: args.timestamps,
            },
        };
        // Unlocked handles: the thread that stops containers reports on standard error
        // meanwhile.
        let mut rep = super::muted::muted(
            super::progress::attached_reporter(global),
            args.quiet_pull,
            args.quiet_build,
        );
        return Ok(stack::up_attached(
            &ctx(global),
            &loaded.project,
            &opts,
            &req,
            &mut *rep,
            &mut std::io::stdout(),
            &mut std::io::stderr(),
        )?);
    }
    let mut rep = super::muted::muted(
        super::progress::reporter(global),
        args.quiet_pull,
        args.quiet_build,
    );
    match stack::up(&ctx(global), &loaded.project, &opts, &mut *rep) {
        Ok(()) => Ok(0),
        // As Docker Compose: 128 + SIGINT. Detached containers started so far keep running.
        Err(stack::StackError::Interrupted) => {
            eprintln!("up interrupted: containers started so far are left as they are");
            Ok(stack::attach::INTERRUPTED_EXIT_CODE)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Remove named volumes declared in the "volumes" section of the Compose file and anonymous volumes attached to containers
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Remove images used by services: "local" (only those without a custom tag), "all"
    #[arg(long, value_name = "TYPE", value_parser = ["local", "all"])]
    pub rmi: Option<String>,
}

pub fn down(global: &GlobalOptions, args: &DownArgs) -> anyhow::Result<i32> {
    let opts = DownOptions {
        volumes: args.volumes,
        remove_orphans: args.remove_orphans,
        timeout: args.timeout,
        rmi: args.rmi.clone(),
    };
    // Without a Compose file, `-p NAME` is enough (as with Docker Compose).
    let loaded = match load(&load_options(global, &[])?) {
        Ok(l) => Some(l),
        Err(e) => match (&global.project_name, &e.kind) {
            (Some(_), crate::model::ErrorKind::NoConfigFile { .. }) => None,
            _ => return Err(e.into()),
        },
    };
    let name = match (&loaded, &global.project_name) {
        (Some(l), _) => l.project.name.clone().unwrap_or_default(),
        (None, Some(n)) => n.clone(),
        (None, None) => bail!("no project name"),
    };
    stack::down(
        &ctx(global),
        &name,
        loaded.as_ref().map(|l| &l.project),
        &opts,
        &mut *super::progress::reporter(global),
    )?;
    Ok(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtocolArg {
    Tcp,
    Udp,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    /// Service
    pub service: String,
    /// Private port
    pub private_port: u16,
    #[arg(long, value_enum, default_value_t = ProtocolArg::Tcp)]
    pub protocol: ProtocolArg,
    /// Index of the container if service has multiple replicas
    #[arg(long, default_value_t = 1)]
    pub index: u32,
}

pub fn port(global: &GlobalOptions, args: &PortArgs) -> anyhow::Result<i32> {
    let name = project_name(global)?;
    let proto = match args.protocol {
        ProtocolArg::Tcp => Protocol::Tcp,
        ProtocolArg::Udp => Protocol::Udp,
    };
    match stack::port(
        &global.root,
        &name,
        &args.service,
        args.private_port,
        proto,
        args.index,
    )? {
        stack::PortLookup::Found(s) => {
            println!("{s}");
            Ok(0)
        }
        // Docker Compose's message, which lists the ports the container has.
        stack::PortLookup::NotFound { container, ports } => bail!(
            "no port {}/{} for container {container}: {}",
            args.private_port,
            proto.name(),
            ports.join(", ")
        ),
    }
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Don't restart dependent services
    #[arg(long)]
    pub no_deps: bool,
    /// Services
    pub services: Vec<String>,
}

pub fn restart(global: &GlobalOptions, args: &RestartArgs) -> anyhow::Result<i32> {
    let name = project_name_for(global, &args.services)?;
    // With the Compose file: dependents with `depends_on.<svc>.restart: true` follow, unless
    // `--no-deps` restricts the restart to the services named.
    let services = match load(&load_options(global, &args.services)?) {
        Ok(l) if !args.services.is_empty() && !args.no_deps => {
            stack::restart_deps::restart_set(&l.project, &args.services)?
        }
        _ => args.services.clone(),
    };
    stack::restart(
        &ctx(global),
        &name,
        &services,
        args.timeout,
        &mut *super::progress::reporter_titled(global, "Restarting"),
    )?;
    Ok(0)
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Output events as a stream of json objects
    #[arg(long)]
    pub json: bool,
    /// Show all events created since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g.
    /// 42m for 42 minutes)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Stream events until this timestamp (or relative), then exit
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Services
    pub services: Vec<String>,
}

/// `events`: follows the project's container events until interrupted (or until `--until`
/// has passed); with `--since`, the recorded events from then on first.
pub fn events(global: &GlobalOptions, args: &EventsArgs) -> anyhow::Result<i32> {
    use crate::engine::events;
    use crate::stack::attach::{now_nanos, parse_log_time, parse_time_arg};
    let name = project_name(global)?;
    let now = now_nanos();
    let since = args
        .since
        .as_deref()
        .map(|s| parse_time_arg("--since", s, now))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|s| parse_time_arg("--until", s, now))
        .transpose()?;
    // The events file keeps what happened before this command: `--since` reads it from the
    // start, and skips what is older.
    let mut offset = if since.is_some() {
        0
    } else {
        events::end(&global.root)
    };
    loop {
        let (batch, next) = events::read_from(&global.root, offset);
        offset = next;
        for e in batch {
            let at = parse_log_time(&e.time);
            if e.project != name
                || (!args.services.is_empty() && !args.services.contains(&e.service))
                || since.is_some_and(|s| at.is_some_and(|t| t < s))
                || until.is_some_and(|u| at.is_some_and(|t| t > u))
            {
                continue;
            }
            if args.json {
                println!("{}", serde_json::to_string(&e)?);
            } else {
                let attrs: Vec<String> = e
                    .attributes
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                println!(
                    "{} {} {} {} ({})",
                    e.time,
                    e.kind,
                    e.action,
                    e.id,
                    attrs.join(", ")
                );
            }
        }
        use std::io::Write;
        std::io::stdout().flush()?;
        if until.is_some_and(|u| now_nanos() > u) {
            return Ok(0);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
