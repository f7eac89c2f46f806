//! `create`, `start`, `stop`, `kill`, `rm`, `pause`, `unpause`, `top`, `stats`, `cp`, `wait`,
//! `images` and `ls`: flags and output as Docker Compose has them; the work is in
//! [`crate::stack::ops`].

use std::io::{self, BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::bail;
use clap::Args;
use serde_json::{Map, Value};

use super::project::load_options;
use super::template::{Output, Schema};
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
pub(crate) fn project(
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
    /// Pull without printing progress information
    #[arg(long)]
    pub quiet_pull: bool,
    /// Assume "yes" as answer to all prompts and run non-interactively (create asks none: it
    /// never waits for an answer)
    #[arg(short = 'y', long)]
    pub yes: bool,
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
    let mut rep = super::muted::muted(
        super::progress::reporter_titled(global, "Creating"),
        args.quiet_pull,
        false,
    );
    stack::up(&ctx(global), &loaded.project, &opts, &mut *rep)?;
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
        &mut *super::progress::reporter_titled(global, "Stopping"),
    )?;
    Ok(0)
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// SIGNAL to send to the container
    #[arg(short = 's', long, default_value = "SIGKILL")]
    pub signal: String,
    /// Remove containers for services not defined in the Compose file (kill them too; without
    /// it, containers of services the Compose file no longer has are left alone)
    #[arg(long)]
    pub remove_orphans: bool,
    /// Services (all when none is given)
    pub services: Vec<String>,
}

/// `kill`: signals the containers' main processes.
pub fn kill(global: &GlobalOptions, args: &KillArgs) -> anyhow::Result<i32> {
    let (name, model) = project(global, &args.services)?;
    let signal = parse_signal(Some(&args.signal)).map_err(anyhow::Error::msg)?;
    // As Docker Compose: with the Compose file at hand, only its services' containers are
    // killed unless `--remove-orphans` asks for the orphans too.
    let services: Vec<String> = match &model {
        Some(p) if args.services.is_empty() && !args.remove_orphans => {
            p.services.keys().cloned().collect()
        }
        _ => args.services.clone(),
    };
    // An empty list means every container to `ops::kill`: a file with no service kills none.
    let n = if services.is_empty() && model.is_some() && !args.remove_orphans {
        0
    } else {
        ops::kill(
            &ctx(global),
            &name,
            &services,
            signal,
            &mut *super::progress::reporter_titled(global, "Killing"),
        )?
    };
    if n == 0 {
        eprintln!("no container to kill");
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Don't ask to confirm removal
    #[arg(short = 'f', long)]
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
            &mut *super::progress::reporter_titled(global, "Removing"),
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
        &mut *super::progress::reporter_titled(global, "Removing"),
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
        &mut *super::progress::reporter_titled(global, "Pausing"),
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
    /// Format output: table, json (one object per line), or a Go template
    /// ('{{.Name}} {{.CPUPerc}}'; 'table TEMPLATE' for a table with headers)
    #[arg(long, value_name = "FORMAT", default_value = "table")]
    pub format: String,
    /// Services (all when none is given)
    pub services: Vec<String>,
}

/// Fields of `stats --format TEMPLATE`, with docker/cli's headers (formatter_stats.go).
const STATS_SCHEMA: Schema = Schema {
    type_name: "*container.statsContext",
    fields: &[
        ("BlockIO", "BLOCK I/O"),
        ("CPUPerc", "CPU %"),
        ("Container", "CONTAINER"),
        ("ID", "CONTAINER ID"),
        ("MemPerc", "MEM %"),
        ("MemUsage", "MEM USAGE / LIMIT"),
        ("Name", "NAME"),
        ("NetIO", "NET I/O"),
        ("PIDs", "PIDS"),
    ],
    maps: &[],
};

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
    output: &Output,
) -> anyhow::Result<()> {
    match output {
        Output::Template(t) => {
            let json: Vec<StatsJson> = entries
                .iter()
                .map(|e| stats_json(e, args.no_trunc))
                .collect();
            t.render(out, &STATS_SCHEMA, &template_rows(&json)?, 10)?;
        }
        Output::Json => {
            for e in entries {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string(&stats_json(e, args.no_trunc))?
                )?;
            }
        }
        Output::Table => {
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

/// `stats`: CPU, memory, network, block I/O and PIDs of the running containers (with `-a`,
/// the stopped ones too, all figures 0, as Docker lists them); one reading (CPU over half a
/// second) with `--no-stream`, else one a second until interrupted.
pub fn stats(global: &GlobalOptions, args: &StatsArgs) -> anyhow::Result<i32> {
    let output: Output = args.format.parse()?;
    if let Output::Template(t) = &output {
        t.check(&STATS_SCHEMA)?;
    }
    let (name, _) = project(global, &args.services)?;
    let root = &global.root;
    if args.no_stream {
        let entries = ops::stats(
            root,
            &name,
            &args.services,
            args.all,
            Duration::from_millis(500),
        )?;
        print_stats(&mut io::stdout().lock(), &entries, args, &output)?;
        return Ok(0);
    }
    let tty = io::stdout().is_terminal();
    let mut before = ops::sample(root, &name, &args.services, args.all)?;
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let after = ops::sample(root, &name, &args.services, args.all)?;
        let entries = ops::compute(&before, &after);
        let mut out = io::stdout().lock();
        if tty && !matches!(output, Output::Json) {
            // Clear the screen and go home, as docker stats does.
            write!(out, "\x1b[2J\x1b[H")?;
        }
        print_stats(&mut out, &entries, args, &output)?;
        before = after;
    }
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Include containers created by the run command
    #[arg(long)]
    pub all: bool,
    /// Archive mode (copy all uid/gid information)
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
    if args.archive && src == "-" && src_svc.is_none() {
        bail!("cp -a: a tar archive from standard input is extracted as root; copy from a directory to keep owners");
    }
    let (name, _) = project(global, std::slice::from_ref(&service))?;
    let index = args.index.max(1);
    let find = || cp_container(&global.root, &name, &service, index, args.all);
    let o = find()?;
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
        let o = find()?;
        if o.state.live_pid().is_some() {
            Side::container(&o)?
        } else {
            Side::stopped(&global.root, &o)?
        }
    };
    let opts = CopyOptions {
        follow_link: args.follow_link,
        archive: args.archive,
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

/// The container `cp` works on: the service's replica `index`; with `--all`, when the service
/// has none, its most recent one-off (`run`) container.
fn cp_container(
    root: &std::path::Path,
    project: &str,
    service: &str,
    index: u32,
    all: bool,
) -> anyhow::Result<crate::engine::state::Observed> {
    match cp::container_of(root, project, service, index) {
        Ok(o) => Ok(o),
        Err(e) if all => crate::engine::state::list(root, Some(project))?
            .into_iter()
            .filter(|o| o.record.one_off && o.record.service == service)
            .max_by_key(|o| o.record.created)
            .ok_or_else(|| e.into()),
        Err(e) => Err(e.into()),
    }
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

/// `images`' and `ls`' tables: Docker Compose prints them through a tabwriter whose columns are
/// at least 20 wide (cmd/formatter/pretty.go).
const PRETTY_MIN_WIDTH: usize = 20;

/// Fields of `images --format TEMPLATE`: those of its JSON.
const IMAGES_SCHEMA: Schema = Schema {
    type_name: "compose.img",
    fields: &[
        ("ID", "IMAGE ID"),
        ("ContainerName", "CONTAINER"),
        ("Repository", "REPOSITORY"),
        ("Tag", "TAG"),
        ("Size", "SIZE"),
        ("Digest", "DIGEST"),
    ],
    maps: &[],
};

/// Fields of `ls --format TEMPLATE`: those of its JSON.
const LS_SCHEMA: Schema = Schema {
    type_name: "compose.stackView",
    fields: &[
        ("Name", "NAME"),
        ("Status", "STATUS"),
        ("ConfigFiles", "CONFIG FILES"),
    ],
    maps: &[],
};

/// Each listed object as a template row (its JSON object).
fn template_rows<T: serde::Serialize>(items: &[T]) -> anyhow::Result<Vec<Map<String, Value>>> {
    let mut rows = Vec::new();
    for item in items {
        if let Value::Object(m) = serde_json::to_value(item)? {
            rows.push(m);
        }
    }
    Ok(rows)
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Format the output: table, json, or a Go template ('{{.Repository}}:{{.Tag}}'; 'table
    /// TEMPLATE' for a table with headers)
    #[arg(long, value_name = "FORMAT", default_value = "table")]
    pub format: String,
    /// Only display IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Services (all when none is given)
    pub services: Vec<String>,
}

/// `images`: the images the project's containers use, by container name.
pub fn images(global: &GlobalOptions, args: &ImagesArgs) -> anyhow::Result<i32> {
    let output: Output = args.format.parse()?;
    if let Output::Template(t) = &output {
        t.check(&IMAGES_SCHEMA)?;
    }
    let (name, _) = project(global, &args.services)?;
    let mut entries = ops::images(&global.root, &name, &args.services)?;
    entries.sort_by(|a, b| a.container.cmp(&b.container));
    let mut out = io::stdout().lock();
    if args.quiet {
        // Docker Compose prints each image's full ID once, without its `sha256:` prefix.
        let mut seen: Vec<&str> = Vec::new();
        for e in &entries {
            let id = e.id.split_once(':').map_or(e.id.as_str(), |(_, hex)| hex);
            if !seen.contains(&id) {
                writeln!(out, "{id}")?;
                seen.push(id);
            }
        }
        return Ok(0);
    }
    match output {
        // One array on one line, as Docker Compose prints it.
        Output::Json => writeln!(out, "{}", serde_json::to_string(&entries)?)?,
        Output::Table => {
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
            write_table(&mut out, &rows, PRETTY_MIN_WIDTH, 3)?;
        }
        Output::Template(t) => t.render(&mut out, &IMAGES_SCHEMA, &template_rows(&entries)?, 10)?,
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Show all stopped Compose projects
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Filter output based on conditions provided (name=REGEXP; repeatable)
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format the output: table, json, or a Go template ('{{.Name}}'; 'table TEMPLATE' for a
    /// table with headers)
    #[arg(long, value_name = "FORMAT", default_value = "table")]
    pub format: String,
    /// Only display project names
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// `ls --filter`: Docker Compose accepts only `name`, whose values are matched as they are
/// or as unanchored regular expressions (cmd/compose/list.go); a project shows when any
/// value matches.
fn name_filter(filters: &[String]) -> anyhow::Result<Option<Vec<String>>> {
    if filters.is_empty() {
        return Ok(None);
    }
    let mut names = Vec::new();
    for f in filters {
        let Some((key, value)) = f.split_once('=') else {
            bail!("bad format of filter (expected name=value)");
        };
        if key != "name" {
            bail!("invalid filter '{key}'");
        }
        names.push(value.to_string());
    }
    Ok(Some(names))
}

fn name_matches(patterns: &[String], name: &str) -> bool {
    patterns
        .iter()
        .any(|p| p == name || regex::Regex::new(p).is_ok_and(|re| re.is_match(name)))
}

/// `ls`: the projects under `--root`.
pub fn ls(global: &GlobalOptions, args: &LsArgs) -> anyhow::Result<i32> {
    let output: Output = args.format.parse()?;
    if let Output::Template(t) = &output {
        t.check(&LS_SCHEMA)?;
    }
    let names = name_filter(&args.filter)?;
    let entries: Vec<_> = ops::projects(&global.root, args.all)?
        .into_iter()
        .filter(|e| names.as_ref().is_none_or(|n| name_matches(n, &e.name)))
        .collect();
    let mut out = io::stdout().lock();
    if args.quiet {
        for e in &entries {
            writeln!(out, "{}", e.name)?;
        }
        return Ok(0);
    }
    match output {
        // One array on one line, as Docker Compose prints it.
        Output::Json => writeln!(out, "{}", serde_json::to_string(&entries)?)?,
        Output::Table => {
            let mut rows = vec![row(&["NAME", "STATUS", "CONFIG FILES"])];
            for e in &entries {
                rows.push(vec![
                    e.name.clone(),
                    e.status.clone(),
                    e.config_files.clone(),
                ]);
            }
            write_table(&mut out, &rows, PRETTY_MIN_WIDTH, 3)?;
        }
        Output::Template(t) => t.render(&mut out, &LS_SCHEMA, &template_rows(&entries)?, 10)?,
    }
    Ok(0)
}

#[cfg(test)]
mod listing_tests {
    use super::*;

    #[test]
    fn ls_filters_by_name_as_docker_compose_does() {
        // cmd/compose/list.go: only `name`; a value matches exactly or as a regular expression.
        let n = name_filter(&["name=web".into()])
            .expect("filter")
            .expect("some");
        assert!(name_matches(&n, "web"));
        assert!(
            name_matches(&n, "my-webapp"),
            "unanchored, as Go's regexp.MatchString"
        );
        assert!(!name_matches(&n, "db"));
        let n = name_filter(&["name=^db$".into(), "name=[".into()])
            .expect("f")
            .expect("s");
        assert!(name_matches(&n, "db") && !name_matches(&n, "dbx"));
        assert_eq!(
            name_filter(&["status=running".into()])
                .expect_err("key")
                .to_string(),
            "invalid filter 'status'"
        );
        assert!(name_filter(&["name".into()]).is_err());
        assert!(name_filter(&[]).expect("none").is_none());
    }

    #[test]
    fn ls_and_images_templates_use_their_json_fields() {
        let entries = vec![ops::ProjectEntry {
            name: "demo".into(),
            status: "running(2)".into(),
            config_files: "/srv/demo/compose.yaml".into(),
        }];
        let t: crate::cli::template::Template =
            r"table {{.Name}}\t{{.Status}}".parse().expect("template");
        let mut out = Vec::new();
        t.render(
            &mut out,
            &LS_SCHEMA,
            &template_rows(&entries).expect("rows"),
            10,
        )
        .expect("render");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "NAME      STATUS\ndemo      running(2)\n"
        );
        let t: crate::cli::template::Template = "{{.Size}}".parse().expect("template");
        let err = t.check(&LS_SCHEMA).expect_err("ls has no Size").to_string();
        assert!(err.contains("can't evaluate field Size"), "{err}");
        assert!(IMAGES_SCHEMA.fields.iter().any(|(f, _)| *f == "Repository"));
    }
}
