//! `create`, `start`, `stop`, `kill`, `rm`, `pause`, `unpause`, `top`, `stats`, `cp`, `wait`,
//! `images` and `ls`: flags and output as Docker Compose has them; the work is in
//! [`crate::stack::ops`].

use std::io::{self, BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::bail;
use clap::{Args, ValueEnum};

use super::project::load_options;
use super::GlobalOptions;
use crate::engine::container::signal::parse_signal;
use crate::engine::fsutil::human_size;
use crate::model::load::load;
use crate::model::types::resources::Project;
use crate::stack::cp::{self, CopyOptions, Side};
use crate::stack::ops::{self, StatsEntry};
use crate::stack::{self, UpOptions};

use super::lifecycle::ctx;

/// The project's name and, when a Compose file is found, its model; services named on the
/// command line must be the project's (`no such service: x`, as with Docker Compose).
fn project(
    global: &GlobalOptions,
    services: &[String],
) -> anyhow::Result<(String, Option<Project>)> {
    match load(&load_options(global, services)?) {
        Ok(l) => {
            for s in services {
                if !l.project.services.contains_key(s) {
                    bail!("no such service: {s}");
                }
            }
            Ok((l.project.name.clone().unwrap_or_default(), Some(l.project)))
        }
        Err(e) => match (&global.project_name, &e.kind) {
            (Some(n), crate::model::ErrorKind::NoConfigFile { .. }) => Ok((n.clone(), None)),
            _ => Err(e.into()),
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Columns padded like Docker's tabwriter: each cell at least `min` wide and `pad` more than
/// its text; the last column unpadded.
fn write_table(
    out: &mut impl Write,
    rows: &[Vec<String>],
    min: usize,
    pad: usize,
) -> io::Result<()> {
    super::table::write(out, rows, min, pad)
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Recreate containers even if their configuration and image haven't changed
    #[arg(long)]
    pub force_recreate: bool,
    /// If containers already exist, don't recreate them
    #[arg(long, conflicts_with = "force_recreate")]
    pub no_recreate: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Scale SERVICE to NUM instances (overrides `scale` in the Compose file)
    #[arg(long, value_name = "SERVICE=NUM")]
    pub scale: Vec<String>,
    /// Build images before starting containers
    #[arg(long)]
    pub build: bool,
    /// Don't build an image, even if it's policy
    #[arg(long, conflicts_with = "build")]
    pub no_build: bool,
    /// Pull image before running ("always"|"missing"|"never")
    #[arg(long, value_name = "POLICY")]
    pub pull: Option<String>,
    /// Services to create (and their dependencies)
    pub services: Vec<String>,
}

/// `create`: `up` without starting anything.
pub fn create(global: &GlobalOptions, args: &CreateArgs) -> anyhow::Result<i32> {
    let loaded = load(&load_options(global, &args.services)?)?;
    let scale = super::lifecycle::parse_scale(&args.scale)?;
    let opts = UpOptions {
        services: args.services.clone(),
        force_recreate: args.force_recreate,
        no_recreate: args.no_recreate,
        no_start: true,
        remove_orphans: args.remove_orphans,
        scale,
        pull: super::pull::pull_flag(args.pull.as_deref())?,
        default_platform: super::pull::default_platform(),
        build: super::build::build_mode(args.build, args.no_build),
        dry_run: global.dry_run,
        ..UpOptions::default()
    };
    stack::up(
        &ctx(global),
        &loaded.project,
        &opts,
        &mut *super::progress::reporter(global),
    )?;
    Ok(0)
}

#[derive(Debug, Args)]
pub struct ServicesArgs {
    /// Services (all when none is given)
    pub services: Vec<String>,
}

/// `start`: starts the existing containers of the services, dependencies first.
pub fn start(global: &GlobalOptions, args: &ServicesArgs) -> anyhow::Result<i32> {
    let loaded = load(&load_options(global, &args.services)?)?;
    for s in &args.services {
        if !loaded.project.services.contains_key(s) {
            bail!("no such service: {s}");
        }
    }
    ops::start(
        &ctx(global),
        &loaded.project,
        &args.services,
        &mut *super::progress::reporter(global),
    )?;
    Ok(0)
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Services (all when none is given)
    pub services: Vec<String>,
}

/// `stop`: stops the running containers without removing them.
pub fn stop(global: &GlobalOptions, args: &StopArgs) -> anyhow::Result<i32> {
    let (name, model) = project(global, &args.services)?;
    ops::stop(
        &ctx(global),
        &name,
        model.as_ref(),
        &args.services,
        args.timeout,
        &mut *super::progress::reporter(global),
    )?;
    Ok(0)
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// SIGNAL to send to the container
    #[arg(short = 's', long, default_value = "SIGKILL")]
    pub signal: String,
    /// Remove containers for services not defined in the Compose file (accepted; orphans are
    /// killed with the rest only when named)
    #[arg(long)]
    pub remove_orphans: bool,
    /// Services (all when none is given)
    pub services: Vec<String>,
}

/// `kill`: signals the containers' main processes.
pub fn kill(global: &GlobalOptions, args: &KillArgs) -> anyhow::Result<i32> {
    let (name, _) = project(global, &args.services)?;
    let signal = parse_signal(Some(&args.signal)).map_err(anyhow::Error::msg)?;
    let n = ops::kill(
        &ctx(global),
        &name,
        &args.services,
        signal,
        &mut *super::progress::reporter(global),
    )?;
    if n == 0 {
        eprintln!("no container to kill");
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Don't ask to confirm removal. No `-f` short form: `-f` is the global `--file`, and clap
    /// cannot shadow a global flag in one subcommand.
    #[arg(long)]
    pub force: bool,
    /// Stop the containers, if required, before removing
    #[arg(short = 's', long)]
    pub stop: bool,
    /// Remove any anonymous volumes attached to containers
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Services (all when none is given)
    pub services: Vec<String>,
}

/// Asks on standard input; anything but `y`/`yes` (or end of input) is no.
fn confirm(prompt: &str) -> anyhow::Result<bool> {
    let mut out = io::stdout().lock();
    write!(out, "{prompt} [yN] ")?;
    out.flush()?;
    let mut line = String::new();
    if io::stdin().lock().read_line(&mut line)? == 0 {
        writeln!(out)?;
    }
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// `rm`: removes stopped containers (running ones too with `--stop`, stopped first).
pub fn rm(global: &GlobalOptions, args: &RmArgs) -> anyhow::Result<i32> {
    let (name, model) = project(global, &args.services)?;
    let ctx = ctx(global);
    if args.stop {
        ops::stop(
            &ctx,
            &name,
            model.as_ref(),
            &args.services,
            None,
            &mut *super::progress::reporter(global),
        )?;
    }
    // A dry run stopped nothing: what `--stop` would have stopped is removed in its plan.
    let targets = match args.stop && global.dry_run {
        true => ops::containers(&global.root, &name, &args.services)?,
        false => ops::removable(&global.root, &name, &args.services)?,
    };
    if targets.is_empty() {
        eprintln!("No stopped containers");
        return Ok(0);
    }
    let names: Vec<&str> = targets.iter().map(|o| o.record.name.as_str()).collect();
    let msg = format!("Going to remove {}", names.join(", "));
    if args.force {
        println!("{msg}");
    } else if !confirm(&format!("{msg}\nAre you sure?"))? {
        return Ok(0);
    }
    ops::remove(
        &ctx,
        &name,
        &targets,
        args.volumes,
        &mut *super::progress::reporter(global),
    )?;
    Ok(0)
}

/// `pause`: freezes the containers.
pub fn pause(global: &GlobalOptions, args: &ServicesArgs) -> anyhow::Result<i32> {
    let (name, _) = project(global, &args.services)?;
    ops::set_paused(
        &ctx(global),
        &name,
        &args.services,
        true,
        &mut *super::progress::reporter(global),
    )?;
    Ok(0)
}

/// `unpause`: thaws them.
pub fn unpause(global: &GlobalOptions, args: &ServicesArgs) -> anyhow::Result<i32> {
    let (name, _) = project(global, &args.services)?;
    ops::set_paused(
        &ctx(global),
        &name,
        &args.services,
        false,
        &mut *super::progress::reporter(global),
    )?;
    Ok(0)
}

/// `top`: one table of every container's processes (`SERVICE # UID PID PPID C STIME TTY TIME
/// CMD`), as Docker Compose prints it.
pub fn top(global: &GlobalOptions, args: &ServicesArgs) -> anyhow::Result<i32> {
    let (name, _) = project(global, &args.services)?;
    let mut entries = ops::top(&global.root, &name, &args.services)?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let mut rows = vec![row(&[
        "SERVICE", "#", "UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD",
    ])];
    for e in &entries {
        for p in &e.processes {
            rows.push(vec![
                e.service.clone(),
                e.number.to_string(),
                p.uid.clone(),
                p.pid.to_string(),
                p.ppid.to_string(),
                p.c.clone(),
                p.stime.clone(),
                p.tty.clone(),
                p.time.clone(),
                p.cmd.clone(),
            ]);
        }
    }
    if rows.len() > 1 {
        write_table(&mut io::stdout().lock(), &rows, 4, 2)?;
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output: table or json
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Services (all when none is given)
    pub services: Vec<String>,
}

/// go-units' `BytesSize`: binary units, four significant digits.
fn bytes_size(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    let decimals = if v >= 1000.0 {
        0
    } else if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{s}{}", UNITS[i])
}

#[derive(serde::Serialize)]
struct StatsJson {
    #[serde(rename = "BlockIO")]
    block_io: String,
    #[serde(rename = "CPUPerc")]
    cpu_perc: String,
    #[serde(rename = "Container")]
    container: String,
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "MemPerc")]
    mem_perc: String,
    #[serde(rename = "MemUsage")]
    mem_usage: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "NetIO")]
    net_io: String,
    #[serde(rename = "PIDs")]
    pids: String,
}

fn stats_json(e: &StatsEntry, no_trunc: bool) -> StatsJson {
    let id = if no_trunc {
        e.id.clone()
    } else {
        e.id.chars().take(12).collect()
    };
    StatsJson {
        block_io: format!(
            "{} / {}",
            human_size(e.block_read),
            human_size(e.block_write)
        ),
        cpu_perc: format!("{:.2}%", e.cpu_percent),
        container: id.clone(),
        id,
        mem_perc: format!("{:.2}%", e.mem_percent),
        mem_usage: format!("{} / {}", bytes_size(e.mem_usage), bytes_size(e.mem_limit)),
        name: e.name.clone(),
        net_io: format!("{} / {}", human_size(e.net_rx), human_size(e.net_tx)),
        pids: e.pids.to_string(),
    }
}

fn print_stats(
    out: &mut impl Write,
    entries: &[StatsEntry],
    args: &StatsArgs,
) -> anyhow::Result<()> {
    match args.format {
        Format::Json => {
            for e in entries {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string(&stats_json(e, args.no_trunc))?
                )?;
            }
        }
        Format::Table => {
            let mut rows = vec![row(&[
                "CONTAINER ID",
                "NAME",
                "CPU %",
                "MEM USAGE / LIMIT",
                "MEM %",
                "NET I/O",
                "BLOCK I/O",
                "PIDS",
            ])];
            for e in entries {
                let j = stats_json(e, args.no_trunc);
                rows.push(vec![
                    j.id,
                    j.name,
                    j.cpu_perc,
                    j.mem_usage,
                    j.mem_perc,
                    j.net_io,
                    j.block_io,
                    j.pids,
                ]);
            }
            write_table(out, &rows, 0, 3)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `stats`: CPU, memory, network, block I/O and PIDs of the running containers; one reading
/// (CPU over half a second) with `--no-stream`, else one a second until interrupted.
pub fn stats(global: &GlobalOptions, args: &StatsArgs) -> anyhow::Result<i32> {
    let (name, _) = project(global, &args.services)?;
    let root = &global.root;
    if args.no_stream {
        let entries = ops::stats(root, &name, &args.services, Duration::from_millis(500))?;
        print_stats(&mut io::stdout().lock(), &entries, args)?;
        return Ok(0);
    }
    let tty = io::stdout().is_terminal();
    let mut before = ops::sample(root, &name, &args.services)?;
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let after = ops::sample(root, &name, &args.services)?;
        let entries = ops::compute(&before, &after);
        let mut out = io::stdout().lock();
        if tty && args.format == Format::Table {
            // Clear the screen and go home, as docker stats does.
            write!(out, "\x1b[2J\x1b[H")?;
        }
        print_stats(&mut out, &entries, args)?;
        before = after;
    }
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Include containers created by the run command (not supported; accepted)
    #[arg(long, hide = true)]
    pub all: bool,
    /// Archive mode (copy all uid/gid information; accepted, ownership is kept as root)
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// Index of the container if service has multiple replicas
    #[arg(long, default_value_t = 0)]
    pub index: u32,
    /// SERVICE:SRC_PATH, SRC_PATH, or - (a tar archive on standard input)
    #[arg(value_name = "SRC")]
    pub source: String,
    /// DEST_PATH, SERVICE:DEST_PATH, or - (a tar archive on standard output)
    #[arg(value_name = "DEST")]
    pub dest: String,
}

/// `cp`: copies files between a service container (running, paused or stopped) and the local
/// filesystem, or as a tar stream on standard input or output.
pub fn cp(global: &GlobalOptions, args: &CpArgs) -> anyhow::Result<i32> {
    let (src_svc, src) = cp::split_cp_arg(&args.source);
    let (dest_svc, dest) = cp::split_cp_arg(&args.dest);
    let service = match (src_svc, dest_svc) {
        (Some(_), Some(_)) => bail!("copying between services is not supported"),
        (None, None) => bail!("one of source or destination must be a service location"),
        (Some(s), None) | (None, Some(s)) => s.to_string(),
    };
    let (name, _) = project(global, std::slice::from_ref(&service))?;
    let index = args.index.max(1);
    let o = cp::container_of(&global.root, &name, &service, index)?;
    if global.dry_run {
        // Docker Compose's lines for the copy; nothing mounted, read or written.
        let what = match src_svc {
            Some(_) => format!("{}:{src} to {dest}", o.record.name),
            None => format!("{src} to {}:{dest}", o.record.name),
        };
        let mut rep = super::progress::reporter(global);
        let (copying, copied) = (format!("Copying {what}"), format!("Copied {what}"));
        stack::dry_run::report(
            &mut *rep,
            "Container",
            [&o.record.name],
            &[&copying, &copied],
        );
        return Ok(0);
    }
    // A stopped container's filesystem is mounted for the copy; under the project's lock, so
    // the container is not started on it meanwhile.
    let _lock;
    let container = if o.state.live_pid().is_some() {
        Side::container(&o)?
    } else {
        _lock = crate::engine::state::lock_project(&global.root, &name)?;
        let o = cp::container_of(&global.root, &name, &service, index)?;
        if o.state.live_pid().is_some() {
            Side::container(&o)?
        } else {
            Side::stopped(&global.root, &o)?
        }
    };
    let opts = CopyOptions {
        follow_link: args.follow_link,
    };
    if src_svc.is_some() && dest == "-" {
        let stdout = std::io::stdout();
        crate::stack::cp_stream::archive(&container, src, args.follow_link, &mut stdout.lock())?;
    } else if src_svc.is_some() {
        cp::copy(&container, src, &Side::Host, dest, opts)?;
    } else if src == "-" {
        let stdin = std::io::stdin();
        crate::stack::cp_stream::extract(&container, dest, &mut stdin.lock())?;
    } else {
        cp::copy(&Side::Host, src, &container, dest, opts)?;
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Drops project when the first container stops
    #[arg(long)]
    pub down_project: bool,
    /// Services to wait for
    #[arg(required = true)]
    pub services: Vec<String>,
}

/// `wait`: blocks until the services' running containers stop, prints each one's exit code,
/// and exits with the code of the last one to stop (as Docker Compose does).
pub fn wait(global: &GlobalOptions, args: &WaitArgs) -> anyhow::Result<i32> {
    let (name, project) = project(global, &args.services)?;
    let root = &global.root;
    let running: Vec<_> = ops::containers(root, &name, &args.services)?
        .into_iter()
        .filter(|o| o.state.live_pid().is_some() || ops::is_exiting(o))
        .collect();
    if running.is_empty() {
        bail!("no containers for project {name:?}");
    }
    let last = std::sync::Mutex::new(0);
    let first_done = std::sync::Mutex::new(false);
    let cv = std::sync::Condvar::new();
    std::thread::scope(|s| {
        for o in &running {
            let (last, first_done, cv) = (&last, &first_done, &cv);
            s.spawn(move || {
                let code = ops::wait_exit(root, o);
                let mut l = last.lock().unwrap_or_else(|p| p.into_inner());
                println!("container {:?} exited with status code {code}", o.record.id);
                *l = code;
                *first_done.lock().unwrap_or_else(|p| p.into_inner()) = true;
                cv.notify_all();
            });
        }
        if args.down_project {
            // The first exit is enough: the rest go with the project.
            let mut done = first_done.lock().unwrap_or_else(|p| p.into_inner());
            while !*done {
                done = cv.wait(done).unwrap_or_else(|p| p.into_inner());
            }
            drop(done);
            let opts = stack::DownOptions {
                remove_orphans: true,
                ..Default::default()
            };
            if let Err(e) = stack::down(
                &ctx(global),
                &name,
                project.as_ref(),
                &opts,
                &mut *super::progress::reporter(global),
            ) {
                eprintln!("Error: {e}");
            }
        }
    });
    let code = *last.lock().unwrap_or_else(|p| p.into_inner());
    Ok(code)
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Format the output: table or json
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Only display IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Services (all when none is given)
    pub services: Vec<String>,
}

/// `images`: the images the project's containers use.
pub fn images(global: &GlobalOptions, args: &ImagesArgs) -> anyhow::Result<i32> {
    let (name, _) = project(global, &args.services)?;
    let entries = ops::images(&global.root, &name, &args.services)?;
    let mut out = io::stdout().lock();
    if args.quiet {
        let mut seen = Vec::new();
        for e in &entries {
            if !seen.contains(&e.id) {
                writeln!(out, "{}", e.id)?;
                seen.push(e.id.clone());
            }
        }
        return Ok(0);
    }
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string(&entries)?)?,
        Format::Table => {
            let mut rows = vec![row(&["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"])];
            for e in &entries {
                rows.push(vec![
                    e.container.clone(),
                    e.repository.clone(),
                    e.tag.clone(),
                    e.id.trim_start_matches("sha256:")
                        .chars()
                        .take(12)
                        .collect(),
                    human_size(e.size),
                ]);
            }
            write_table(&mut out, &rows, 0, 3)?;
        }
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Show all stopped Compose projects
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Format the output: table or json
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Only display project names
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// `ls`: the projects under `--root`.
pub fn ls(global: &GlobalOptions, args: &LsArgs) -> anyhow::Result<i32> {
    let entries = ops::projects(&global.root, args.all)?;
    let mut out = io::stdout().lock();
    if args.quiet {
        for e in &entries {
            writeln!(out, "{}", e.name)?;
        }
        return Ok(0);
    }
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string(&entries)?)?,
        Format::Table => {
            let mut rows = vec![row(&["NAME", "STATUS", "CONFIG FILES"])];
            for e in &entries {
                rows.push(vec![
                    e.name.clone(),
                    e.status.clone(),
                    e.config_files.clone(),
                ]);
            }
            write_table(&mut out, &rows, 0, 3)?;
        }
    }
    Ok(0)
}
