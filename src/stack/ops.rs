//! The project commands that act on existing containers (`start`, `stop`, `kill`, `rm`,
//! `pause`, `unpause`, `top`, `stats`, `wait`, `images`, `ls`) as library functions, with
//! Docker Compose's semantics: which containers each one picks, what it reports, and when the
//! monitor may restart a container afterwards.
//!
//! Nothing here is kept in memory between commands: pause state is the cgroup freezer's, process
//! tables and counters are read from `/proc` and the cgroup when asked, so a later command (or
//! one after a crash) sees exactly what the kernel sees.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::process::Signal;

use super::{invalid, start_order, Ctx, Reporter, StackError};
use crate::engine::cgroups::CgroupStats;
use crate::engine::container::remove::AnonymousVolumes;
use crate::engine::container::Container;
use crate::engine::image::ImageStore;
use crate::engine::network::manager::Networks;
use crate::engine::root::StateRoot;
use crate::engine::state::{self, ContainerRecord, Observed, Status};
use crate::engine::supervisor;
use crate::model::types::resources::Project;

fn is_running(o: &Observed) -> bool {
    matches!(o.state.status, Status::Running | Status::Restarting)
}

/// The project's service containers (not one-off ones) of `services` (all when empty).
pub fn containers(
    root: &Path,
    project: &str,
    services: &[String],
) -> Result<Vec<Observed>, StackError> {
    Ok(state::list(root, Some(project))?
        .into_iter()
        .filter(|o| {
            !o.record.one_off && (services.is_empty() || services.contains(&o.record.service))
        })
        .collect())
}

/// Whether the container is paused: its cgroup is frozen, read from the freezer each time.
pub use crate::engine::container::pause::is_paused;

/// `start`: starts the stopped containers of `services` and of what they depend on, in
/// dependency order. A service without any container is an error, as with Docker Compose.
pub fn start(
    ctx: &Ctx,
    project: &Project,
    services: &[String],
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    let name = super::project_name(project)?;
    let order = start_order(project, services)?;
    let _lock = state::lock_project(&ctx.root, &name)?;
    let all = containers(&ctx.root, &name, &[])?;
    // Every service is checked before the first start.
    let mut targets = Vec::new();
    for s in &order {
        let mine: Vec<&Observed> = all.iter().filter(|o| o.record.service == *s).collect();
        if mine.is_empty() {
            let scale = project.services[s].scale;
            if scale == Some(0) {
                continue;
            }
            return Err(invalid(format!("service {s:?} has no container to start")));
        }
        targets.extend(mine.into_iter().filter(|o| !is_running(o)));
    }
    if ctx.dry_run {
        let names = targets.iter().map(|o| &o.record.name);
        super::dry_run::report(rep, "Container", names, &["Starting", "Started"]);
        return Ok(());
    }
    for o in targets {
        rep.event("Container", &o.record.name, "Starting");
        supervisor::launch(&ctx.root, &o.record.id)?;
        rep.event("Container", &o.record.name, "Started");
        super::hooks::post_start(&ctx.root, &o.record.id, rep)?;
    }
    Ok(())
}

/// Stops `targets` together: every one signalled first, then waited for. A paused container is
/// thawed after the signal so it can act on it.
pub(crate) fn stop_all(
    ctx: &Ctx,
    targets: &[&Observed],
    timeout: Option<u64>,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    if ctx.dry_run {
        let names = targets.iter().map(|o| &o.record.name);
        super::dry_run::report(rep, "Container", names, &["Stopping", "Stopped"]);
        return Ok(());
    }
    let mut stopping = Vec::new();
    for o in targets {
        let rec = &o.record;
        rep.event("Container", &rec.name, "Stopping");
        super::hooks::pre_stop(&ctx.root, o, rep);
        let c = Container::of(&ctx.root, rec);
        let sig = c.stop_signal().map_err(invalid)?;
        let grace = Duration::from_secs(timeout.unwrap_or(rec.stop_grace_period));
        // Docker's events of a stop: `kill` (the stop signal), the monitor's `die`, `stop`.
        crate::engine::events::emit(&ctx.root, rec, "kill", &[("signal", signal_number(sig))]);
        stopping.push((*o, c.begin_stop(sig, grace)?));
    }
    for (o, s) in stopping {
        s.finish()?;
        crate::engine::events::emit(&ctx.root, &o.record, "stop", &[]);
        rep.event("Container", &o.record.name, "Stopped");
    }
    Ok(())
}

/// A signal as Docker's `kill` event writes it (`"15"`).
pub(crate) fn signal_number(sig: Signal) -> String {
    sig.as_raw().to_string()
}

/// `stop`: stops the running containers of `services` (all when empty), keeping them;
/// dependents before their dependencies when the project file is known (`model`).
pub fn stop(
    ctx: &Ctx,
    project: &str,
    model: Option<&crate::model::types::resources::Project>,
    services: &[String],
    timeout: Option<u64>,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    let _lock = state::lock_project(&ctx.root, project)?;
    let all = containers(&ctx.root, project, services)?;
    let targets: Vec<&Observed> = all
        .iter()
        .filter(|o| is_running(o) || o.state.live_monitor().is_some())
        .collect();
    for wave in super::stop_waves(model, &targets) {
        stop_all(ctx, &wave, timeout, rep)?;
    }
    Ok(())
}

/// `kill`: sends `signal` to the PID 1 of each running container of `services`.
///
/// As in Docker, a container killed with SIGKILL or with its stop signal (any signal when it has
/// no `stop_signal`) is not restarted by its policy: it counts as stopped on purpose. Returns
/// how many containers were signalled.
pub fn kill(
    ctx: &Ctx,
    project: &str,
    services: &[String],
    signal: Signal,
    rep: &mut dyn Reporter,
) -> Result<usize, StackError> {
    let _lock = state::lock_project(&ctx.root, project)?;
    let mut n = 0;
    for o in containers(&ctx.root, project, services)? {
        let c = Container::of(&ctx.root, &o.record);
        let Some(pid1) = c.pid1(&o.state) else {
            continue;
        };
        let rec = &o.record;
        let stop_sig = c.stop_signal().map_err(invalid)?;
        n += 1;
        if ctx.dry_run {
            super::dry_run::report(rep, "Container", [&rec.name], &["Killing", "Killed"]);
            continue;
        }
        let on_purpose = rec.stop_signal.is_none() || signal == Signal::KILL || signal == stop_sig;
        rep.event("Container", &rec.name, "Killing");
        // After SIGKILL this returns once the monitor recorded the exit, so that `ps` run next
        // sees it.
        c.kill(pid1, signal, on_purpose)?;
        rep.event("Container", &rec.name, "Killed");
    }
    Ok(n)
}

/// The containers `rm` may remove: stopped service containers of `services`.
pub fn removable(
    root: &Path,
    project: &str,
    services: &[String],
) -> Result<Vec<Observed>, StackError> {
    Ok(containers(root, project, services)?
        .into_iter()
        .filter(|o| !is_running(o) && o.state.live_monitor().is_none())
        .collect())
}

/// `rm`: removes the given stopped containers, releasing their addresses and published ports;
/// with `volumes`, their anonymous volumes too.
pub fn remove(
    ctx: &Ctx,
    project: &str,
    targets: &[Observed],
    volumes: bool,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    let _lock = state::lock_project(&ctx.root, project)?;
    if ctx.dry_run {
        let names = targets.iter().map(|o| &o.record.name);
        super::dry_run::report(rep, "Container", names, &["Removing", "Removed"]);
        return Ok(());
    }
    let nets = Networks::open(&ctx.root)?;
    for o in targets {
        let rec = &o.record;
        // Checked again under the lock: it may have been started since it was listed.
        let dir = StateRoot::new(&ctx.root).container(&rec.id);
        let now = state::read_state(&dir).observed();
        if matches!(now.status, Status::Running | Status::Restarting) {
            return Err(invalid(format!(
                "cannot remove container {}: container is running: stop the container before removing",
                rec.name
            )));
        }
        rep.event("Container", &rec.name, "Removing");
        let anonymous = match volumes {
            true => AnonymousVolumes::Remove,
            false => AnonymousVolumes::Keep,
        };
        super::forget_container(ctx, &nets, rec, anonymous)?;
        rep.event("Container", &rec.name, "Removed");
    }
    Ok(())
}

/// `pause` (`freeze`) or `unpause`: freezes or thaws the cgroup of each running container of
/// `services`. Returns how many were changed. As Docker's, pausing a paused container or
/// unpausing a running one is an error; every container is checked before any is changed.
pub fn set_paused(
    ctx: &Ctx,
    project: &str,
    services: &[String],
    pause: bool,
    rep: &mut dyn Reporter,
) -> Result<usize, StackError> {
    let _lock = state::lock_project(&ctx.root, project)?;
    let (doing, done) = if pause {
        ("Pausing", "Paused")
    } else {
        ("Unpausing", "Unpaused")
    };
    let mut targets = Vec::new();
    for o in containers(&ctx.root, project, services)? {
        if o.state.live_pid().is_none() {
            continue;
        }
        let rec = &o.record;
        let c = Container::of(&ctx.root, rec);
        if c.paused()? == pause {
            return Err(invalid(if pause {
                format!(
                    "Error response from daemon: Container {} is already paused",
                    rec.id
                )
            } else {
                format!(
                    "Error response from daemon: Container {} is not paused",
                    rec.id
                )
            }));
        }
        targets.push(c);
    }
    if ctx.dry_run {
        let names = targets.iter().map(|c| c.name());
        super::dry_run::report(rep, "Container", names, &[doing, done]);
        return Ok(targets.len());
    }
    for c in &targets {
        rep.event("Container", c.name(), doing);
        c.set_paused(pause)?;
        rep.event("Container", c.name(), done);
    }
    Ok(targets.len())
}

/// Docker's refusal to exec in a paused container: its helper would join the frozen cgroup
/// and hang, unkillable, until `unpause`.
pub fn refuse_if_paused(rec: &ContainerRecord) -> Result<(), StackError> {
    if is_paused(rec) {
        return Err(invalid(format!(
            "Error response from daemon: Container {} is paused, unpause the container before exec",
            rec.id
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// top
// ---------------------------------------------------------------------------------------------

/// One process, with `ps -ef`'s columns as `docker top` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub uid: String,
    pub pid: i32,
    pub ppid: i32,
    pub c: String,
    pub stime: String,
    pub tty: String,
    pub time: String,
    pub cmd: String,
}

/// The processes of one container.
#[derive(Debug, Clone)]
pub struct TopEntry {
    pub name: String,
    pub service: String,
    pub number: u32,
    pub processes: Vec<Process>,
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

fn boot_time() -> i64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn uptime_secs() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

fn user_names() -> BTreeMap<u32, String> {
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let uid = f.nth(1)?.parse().ok()?;
            Some((uid, name.to_string()))
        })
        .collect()
}

fn local_tm(secs: i64) -> libc::tm {
    // SAFETY: localtime_r writes into the zeroed struct we pass.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        let t: libc::time_t = secs as libc::time_t;
        libc::localtime_r(&t, &mut tm);
        tm
    }
}

/// One process read from /proc (`None` when it exited meanwhile).
fn read_process(
    pid: i32,
    ticks: u64,
    btime: i64,
    up: f64,
    users: &BTreeMap<u32, String>,
) -> Option<Process> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let f: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // Fields after the command name start at field 3 (state).
    let field = |n: usize| f.get(n - 3).copied().unwrap_or("0");
    let ppid: i32 = field(4).parse().unwrap_or(0);
    let tty_nr: u64 = field(7).parse().unwrap_or(0);
    let cpu_ticks: u64 =
        field(14).parse::<u64>().unwrap_or(0) + field(15).parse::<u64>().unwrap_or(0);
    let start_ticks: u64 = field(22).parse().unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let uid: u32 = status
        .lines()
        .find_map(|l| {
            l.strip_prefix("Uid:")?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let cmd = if args.is_empty() {
        format!("[{comm}]")
    } else {
        args.join(" ")
    };
    let cpu_secs = cpu_ticks / ticks;
    let elapsed = up - start_ticks as f64 / ticks as f64;
    let c = if elapsed > 0.0 {
        ((cpu_ticks as f64 / ticks as f64) / elapsed * 100.0) as u64
    } else {
        0
    };
    let started = btime + (start_ticks / ticks) as i64;
    let (st, now) = (local_tm(started), local_tm(fsutil_now()));
    let stime = if st.tm_year == now.tm_year && st.tm_yday == now.tm_yday {
        format!("{:02}:{:02}", st.tm_hour, st.tm_min)
    } else {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        format!(
            "{}{:02}",
            MONTHS[st.tm_mon.clamp(0, 11) as usize],
            st.tm_mday
        )
    };
    let tty = if tty_nr == 0 {
        "?".to_string()
    } else {
        let major = (tty_nr >> 8) & 0xfff;
        let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
        match major {
            136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
            4 => format!("tty{minor}"),
            _ => "?".to_string(),
        }
    };
    let time = format!(
        "{:02}:{:02}:{:02}",
        cpu_secs / 3600,
        (cpu_secs / 60) % 60,
        cpu_secs % 60
    );
    Some(Process {
        uid: users.get(&uid).cloned().unwrap_or_else(|| uid.to_string()),
        pid,
        ppid,
        c: c.to_string(),
        stime,
        tty,
        time,
        cmd,
    })
}

fn fsutil_now() -> i64 {
    crate::engine::fsutil::now_secs()
}

/// `top`: the processes in each running container's cgroup, as the host sees them.
pub fn top(root: &Path, project: &str, services: &[String]) -> Result<Vec<TopEntry>, StackError> {
    let (ticks, btime, up, users) = (clock_ticks(), boot_time(), uptime_secs(), user_names());
    let mut out = Vec::new();
    for o in containers(root, project, services)? {
        if o.state.live_pid().is_none() {
            continue;
        }
        let rec = &o.record;
        let pids = Container::of(root, rec).processes()?;
        let processes = pids
            .into_iter()
            .filter_map(|p| read_process(p, ticks, btime, up, &users))
            .collect();
        out.push(TopEntry {
            name: rec.name.clone(),
            service: rec.service.clone(),
            number: rec.number,
            processes,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// stats
// ---------------------------------------------------------------------------------------------

/// One reading of a container's counters.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub id: String,
    pub name: String,
    pub cgroup: CgroupStats,
    /// Bytes the container received and sent on its interfaces (loopback excluded).
    pub net_rx: u64,
    pub net_tx: u64,
    pub at: Option<Instant>,
    /// Not running (listed by `stats -a`): every figure reads 0, its memory limit too, as
    /// Docker shows a stopped container.
    pub stopped: bool,
}

/// What `stats` shows for one container, computed from two samples.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsEntry {
    pub id: String,
    pub name: String,
    pub cpu_percent: f64,
    pub mem_usage: u64,
    pub mem_limit: u64,
    pub mem_percent: f64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub block_read: u64,
    pub block_write: u64,
    pub pids: u64,
}

/// Network counters of the container's own interfaces, from its PID 1's view of
/// `/proc/net/dev` (the container's namespace, whatever namespace this command runs in).
fn net_counters(pid: i32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    let (mut rx, mut tx) = (0, 0);
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        rx += f.first().copied().unwrap_or(0);
        tx += f.get(8).copied().unwrap_or(0);
    }
    (rx, tx)
}

/// Reads the counters of the running containers of `services` (with `all`, the stopped ones
/// too, with no figures).
pub fn sample(
    root: &Path,
    project: &str,
    services: &[String],
    all: bool,
) -> Result<Vec<Sample>, StackError> {
    let mut out = Vec::new();
    for o in containers(root, project, services)? {
        let rec = &o.record;
        let Some(pid) = o.state.live_pid() else {
            if all {
                out.push(Sample {
                    id: rec.id.clone(),
                    name: rec.name.clone(),
                    stopped: true,
                    ..Sample::default()
                });
            }
            continue;
        };
        let Some(stats) = Container::of(root, rec).stats()? else {
            continue;
        };
        let (net_rx, net_tx) = net_counters(pid);
        out.push(Sample {
            id: rec.id.clone(),
            name: rec.name.clone(),
            cgroup: stats,
            net_rx,
            net_tx,
            at: Some(Instant::now()),
            stopped: false,
        });
    }
    Ok(out)
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// The figures between two samples (`before` may lack a container that started since: its CPU
/// then reads 0).
pub fn compute(before: &[Sample], after: &[Sample]) -> Vec<StatsEntry> {
    let host_mem = host_memory();
    after
        .iter()
        .map(|a| {
            let b = before.iter().find(|b| b.id == a.id);
            let cpu_percent = match (b, b.and_then(|b| b.at), a.at) {
                (Some(b), Some(t0), Some(t1)) if t1 > t0 => {
                    let wall = (t1 - t0).as_nanos() as f64;
                    a.cgroup.cpu_usage_ns.saturating_sub(b.cgroup.cpu_usage_ns) as f64 / wall
                        * 100.0
                }
                _ => 0.0,
            };
            let mem_usage = a
                .cgroup
                .memory_usage
                .saturating_sub(a.cgroup.memory_inactive_file);
            let mem_limit = a
                .cgroup
                .memory_limit
                .filter(|l| host_mem == 0 || *l < host_mem)
                .unwrap_or(if a.stopped { 0 } else { host_mem });
            let mem_percent = if mem_limit > 0 {
                mem_usage as f64 / mem_limit as f64 * 100.0
            } else {
                0.0
            };
            StatsEntry {
                id: a.id.clone(),
                name: a.name.clone(),
                cpu_percent,
                mem_usage,
                mem_limit,
                mem_percent,
                net_rx: a.net_rx,
                net_tx: a.net_tx,
                block_read: a.cgroup.io_read_bytes,
                block_write: a.cgroup.io_write_bytes,
                pids: a.cgroup.pids_current,
            }
        })
        .collect()
}

/// `stats --no-stream`: one reading, CPU measured over `interval`.
pub fn stats(
    root: &Path,
    project: &str,
    services: &[String],
    all: bool,
    interval: Duration,
) -> Result<Vec<StatsEntry>, StackError> {
    let first = sample(root, project, services, all)?;
    std::thread::sleep(interval);
    let second = sample(root, project, services, all)?;
    Ok(compute(&first, &second))
}

// ---------------------------------------------------------------------------------------------
// wait
// ---------------------------------------------------------------------------------------------

/// Blocks until the container's PID 1 exits and its monitor recorded it; returns the exit code.
/// A container not running (any more) returns its recorded code at once.
pub fn wait_exit(root: &Path, o: &Observed) -> i32 {
    let c = Container::of(root, &o.record);
    if let Some(pid1) = c.pid1(&o.state) {
        pid1.wait(None);
        let st = c.wait_recorded(pid1.pid(), Duration::from_secs(10));
        return st.exit_code.unwrap_or(0);
    }
    if is_exiting(o) {
        // PID 1 is gone but its monitor has not written how it ended yet: the recorded PID
        // (which the observed state already hides) is the one the monitor will replace.
        let raw = c.recorded_state();
        if raw.status == Status::Running {
            let st = c.wait_recorded(raw.pid, Duration::from_secs(10));
            return st.exit_code.unwrap_or(0);
        }
        return raw.observed().exit_code.unwrap_or(0);
    }
    o.state.exit_code.unwrap_or(0)
}

/// A container whose PID 1 has just exited while its monitor, still alive, has not recorded
/// the exit yet: `wait` must still wait for it, or it reports nothing for a container that
/// ended a moment before it looked.
pub fn is_exiting(o: &Observed) -> bool {
    o.state.status == Status::Running && o.state.pid.is_none() && o.state.live_monitor().is_some()
}

// ---------------------------------------------------------------------------------------------
// images, ls
// ---------------------------------------------------------------------------------------------

/// One line of `images`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageEntry {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "ContainerName")]
    pub container: String,
    #[serde(rename = "Repository")]
    pub repository: String,
    #[serde(rename = "Tag")]
    pub tag: String,
    #[serde(rename = "Size")]
    pub size: u64,
    /// The registry's digest of the image (a pulled image's `RepoDigests` entry). Docker
    /// Compose has no such field: added to `--format json` only, its table is unchanged.
    #[serde(rename = "Digest", skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// `images`: the image of each of the project's containers.
pub fn images(
    root: &Path,
    project: &str,
    services: &[String],
) -> Result<Vec<ImageEntry>, StackError> {
    let store = ImageStore::open(StateRoot::new(root).images())
        .map_err(|error| StackError::ImageStore { error })?;
    let sizes: BTreeMap<String, u64> = store
        .list()
        .map_err(|error| StackError::ImageStore { error })?
        .into_iter()
        .map(|s| (s.id, s.size))
        .collect();
    let mut out = Vec::new();
    for o in containers(root, project, services)? {
        let rec = &o.record;
        let (repository, tag) = match crate::engine::image::reference::Reference::parse(&rec.image)
        {
            Ok(r) => (r.familiar_name(), r.tag().unwrap_or("<none>").to_string()),
            Err(_) => (rec.image.clone(), "<none>".to_string()),
        };
        out.push(ImageEntry {
            id: rec.image_id.clone(),
            container: rec.name.clone(),
            repository,
            tag,
            size: sizes.get(&rec.image_id).copied().unwrap_or(0),
            digest: store
                .registry_digest(&rec.image, &rec.image_id)
                .map_err(|error| StackError::ImageStore { error })?,
        });
    }
    Ok(out)
}

/// One line of `ls`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectEntry {
    pub name: String,
    pub status: String,
    pub config_files: String,
}

/// `ls`: the projects with containers under `root`; without `all`, only those with a running
/// container. The status counts containers by state (`exited(1), running(2)`); config files
/// come from the `com.docker.compose.project.config_files` label where containers have it.
pub fn projects(root: &Path, all: bool) -> Result<Vec<ProjectEntry>, StackError> {
    let mut by: BTreeMap<String, (BTreeMap<&'static str, usize>, String)> = BTreeMap::new();
    for o in state::list(root, None)? {
        let e = by.entry(o.record.project.clone()).or_default();
        let status = if o.state.status == Status::Running && is_paused(&o.record) {
            "paused"
        } else {
            o.state.status.as_str()
        };
        *e.0.entry(status).or_default() += 1;
        if e.1.is_empty() {
            if let Some(f) = o
                .record
                .labels
                .get("com.docker.compose.project.config_files")
            {
                e.1 = f.clone();
            }
        }
    }
    Ok(by
        .into_iter()
        .filter(|(_, (counts, _))| {
            all || counts.contains_key("running") || counts.contains_key("paused")
        })
        .map(|(name, (counts, config_files))| ProjectEntry {
            name,
            // Without `-a` Docker Compose looks at running containers only, so stopped ones
            // are not counted either.
            status: counts
                .iter()
                .filter(|(s, _)| all || matches!(**s, "running" | "paused"))
                .map(|(s, n)| format!("{s}({n})"))
                .collect::<Vec<_>>()
                .join(", "),
            config_files,
        })
        .collect())
}
