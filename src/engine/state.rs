//! What the engine records about a project's containers under `--root`, so that every command —
//! and every later run of the binary, after a crash or a reboot — sees the same world without a
//! daemon holding it in memory.
//!
//! Per container, `<root>/containers/<id>/`:
//! - `container.json`: the [`ContainerRecord`], written once by the command that creates the
//!   container (and again when it changes, e.g. `rename`); everything the monitor needs to start
//!   and restart it is in there, so a restart never needs the Compose file.
//! - `state.json`: the [`RunState`] its monitor keeps current (running, exited, restarting),
//!   with the PID's start time and the boot id, so a PID reused by another process or state left
//!   from before a reboot is never taken for a running container.
//! - `stopping`: present while a command stops the container on purpose (the monitor must not
//!   apply the restart policy then).
//!
//! Per project, `<root>/projects/<name>.lock`: the lock that serializes commands on a project.
//!
//! Durability and torn records (see [`crate::engine::json_store`]):
//! - `container.json` is written durably (a `run --rm` container's content only: see
//!   [`ContainerRecord::record_durability`]). One that does not parse is never trusted: it is
//!   reported with its path and read as absent, so [`list`] leaves it out (other containers
//!   and projects go on as if it were not there) and [`incomplete`] lists its directory with
//!   those of creations cut short, which the next `down` removes (and gives back the addresses
//!   recorded for its id). What it alone knew (its name, project, published ports) is lost;
//!   `up` creates the service's container again.
//! - `state.json` is written durably (a `run --rm` container's not at all: see
//!   [`ContainerRecord::state_durability`]). One that does not parse reads as "never started"
//!   ([`read_state`]): after a crash no process of it lives, and `up` starts it again.
//! - `stopping` is an empty marker: only whether it exists counts, so it cannot be torn.

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::cgroups::CgroupMount;
use crate::engine::fsutil::{self, Durability};
use crate::engine::json_store::{self, Layout, StoreError};
use crate::engine::root::{self, StateRoot};
use crate::engine::spec::{ContainerSpec, Protocol};

/// Why a state operation failed, with the file involved.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{path} is not a valid record: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

impl From<StoreError> for StateError {
    fn from(e: StoreError) -> StateError {
        match e {
            StoreError::Io { step, path, source } => StateError::Io {
                action: step,
                path,
                source,
            },
            StoreError::Corrupt { path, source } => StateError::Corrupt { path, source },
        }
    }
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StateError {
    let path = path.to_path_buf();
    move |source| StateError::Io {
        action,
        path,
        source,
    }
}

/// When the monitor starts a container again after it exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    UnlessStopped,
    /// `on-failure[:N]`: on a non-zero exit, at most N times (None: without limit).
    OnFailure(Option<u32>),
}

impl RestartPolicy {
    /// Parses `restart:` (`no`, `always`, `unless-stopped`, `on-failure[:N]`).
    pub fn parse(s: &str) -> Result<RestartPolicy, String> {
        match s {
            "no" | "" => Ok(RestartPolicy::No),
            "always" => Ok(RestartPolicy::Always),
            "unless-stopped" => Ok(RestartPolicy::UnlessStopped),
            "on-failure" => Ok(RestartPolicy::OnFailure(None)),
            _ => match s.strip_prefix("on-failure:") {
                Some(n) => n
                    .parse()
                    .map(|n| RestartPolicy::OnFailure(Some(n)))
                    .map_err(|_| format!("invalid restart policy {s:?}: the count must be a number")),
                None => Err(format!(
                    "invalid restart policy {s:?}: expected no, always, unless-stopped or on-failure[:N]"
                )),
            },
        }
    }

    /// Whether a container that exited with `code` after `restarts` restarts is started again.
    pub fn restarts(self, code: i32, restarts: u32) -> bool {
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure(max) => code != 0 && max.is_none_or(|m| restarts < m),
        }
    }
}

/// A bridge the container's interface is plugged into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeRef {
    pub name: String,
    pub mtu: Option<u32>,
    /// Gateway addresses with prefix lengths.
    pub gateways: Vec<(IpAddr, u8)>,
}

/// One network a container is attached to, resolved to what the monitor plugs in on each start
/// (the addresses stay the container's while it exists, so restarts keep them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Full network name (`<project>_<name>` or the `name:` given).
    pub network: String,
    pub bridge: BridgeRef,
    pub host_if: String,
    pub container_if: String,
    pub mac: Option<[u8; 6]>,
    pub addresses: Vec<(IpAddr, u8)>,
    pub default_gateways: Vec<IpAddr>,
    /// Names other containers on this network find it by (service, container name, short id,
    /// aliases).
    pub dns_names: Vec<String>,
    /// `link_local_ips`: put on the interface, never published for discovery.
    #[serde(default)]
    pub link_local: Vec<(IpAddr, u8)>,
}

/// A published port, resolved (a random host port chosen once, at creation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    pub network: String,
    pub bridge: String,
    pub protocol: Protocol,
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_ip: IpAddr,
    pub container_port: u16,
}

/// The container's embedded resolver, when it has one (containers on project networks).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DnsSetup {
    pub networks: Vec<String>,
    /// `links` aliases: (alias, name of the linked service or container).
    pub links: Vec<(String, String)>,
    /// Where other names are forwarded (`dns:` of the service, else the host's resolvers).
    pub upstreams: Vec<std::net::SocketAddr>,
}

/// Everything known about a container from its creation on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub project: String,
    pub service: String,
    /// Replica number (`<project>-<service>-<number>`).
    pub number: u32,
    pub one_off: bool,
    /// The service's configuration hash when the container was created (`config --hash`).
    pub config_hash: String,
    pub image: String,
    pub image_id: String,
    /// Seconds since the epoch.
    pub created: i64,
    pub spec: ContainerSpec,
    #[serde(default)]
    pub cgroup_mounts: Vec<CgroupMount>,
    pub cgroup_parent: String,
    /// The project's directory under `cgroup_parent` ([`crate::engine::cgroups::project_group`]);
    /// empty in records of versions that used the bare project name (see [`Self::cgroup_group`]).
    #[serde(default)]
    pub cgroup_project: String,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    #[serde(default)]
    pub ports: Vec<PublishedPort>,
    /// Container ports exposed without publishing (`expose`, and the image's).
    #[serde(default)]
    pub expose: Vec<String>,
    pub dns: Option<DnsSetup>,
    pub restart: RestartPolicy,
    /// Seconds to wait after the stop signal before SIGKILL.
    pub stop_grace_period: u64,
    /// `stop_signal` (a name like `SIGTERM` or a number); `None`: SIGTERM.
    #[serde(default)]
    pub stop_signal: Option<String>,
    /// Remove everything of the container when it exits (`run --rm`).
    #[serde(default)]
    pub auto_remove: bool,
    /// Its anonymous volumes' directories by destination (`volumes: [/data]`, the image's
    /// VOLUMEs): handed to the container that replaces it, removed with it by `down -v` and
    /// `rm -v`. Recorded because a handed-over volume is named after an older container.
    #[serde(default)]
    pub anonymous_volumes: indexmap::IndexMap<String, std::path::PathBuf>,
    /// `com.docker.compose.*` and the service's labels.
    #[serde(default)]
    pub labels: indexmap::IndexMap<String, String>,
    #[serde(default)]
    pub healthcheck: Option<HealthSpec>,
    /// `logging.options` of the json-file driver: rotate at this size (bytes) ...
    #[serde(default)]
    pub log_max_size: Option<u64>,
    /// ... keeping this many files in all (Docker's default 1 when max-size is set).
    #[serde(default)]
    pub log_max_file: Option<u32>,
    /// `logging.driver: none`: no log is kept.
    #[serde(default)]
    pub log_disabled: bool,
    /// `post_start` and `pre_stop`, run by the commands that start and stop it.
    #[serde(default, skip_serializing_if = "crate::engine::spec::Hooks::is_empty")]
    pub hooks: crate::engine::spec::Hooks,
    /// The service's `annotations`, interpolated: Docker keeps them with the container (OCI
    /// spec annotations) and `inspect` shows them under `HostConfig.Annotations`.
    #[serde(default, skip_serializing_if = "indexmap::IndexMap::is_empty")]
    pub annotations: indexmap::IndexMap<String, String>,
    /// What `inspect` shows as Docker's `Config` and the resolved spec no longer says: the
    /// user as written and where the entrypoint ends in the process's args.
    #[serde(default)]
    pub requested: Requested,
}

/// Docker's `Config.User`, `Config.Entrypoint` and `Config.Cmd` of a container, which the
/// planner resolved away (a user into ids, entrypoint and command into one argv).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Requested {
    /// `user:` (or `run --user`) as written; `None` when unset.
    pub user: Option<String>,
    /// How many of `spec.process.args` are the entrypoint; the rest is the command.
    pub entrypoint_len: usize,
}

impl ContainerRecord {
    /// How durably its record is written: a `run --rm` container's is removed when its command
    /// ends, so only its content is synced (after a crash the record is whole or absent, and a
    /// directory without a record is what [`incomplete`] lists for the next `down`).
    pub fn record_durability(&self) -> Durability {
        if self.auto_remove {
            Durability::ContentOnly
        } else {
            Durability::Durable
        }
    }

    /// How durably its run state is written: a `run --rm` container's is not synced at all.
    /// Its state means nothing after a crash (a state from another boot reads as dead) and
    /// [`read_state`] takes an unreadable one for "never started". Four syncs fewer per
    /// `run --rm`, milliseconds each on a busy disk (crun keeps its state on a tmpfs).
    pub fn state_durability(&self) -> Durability {
        if self.auto_remove {
            Durability::Volatile
        } else {
            Durability::Durable
        }
    }

    /// The directory of its cgroup under `cgroup_parent`: the root-specific one it was created
    /// with, or the project name for a container an older version created.
    pub fn cgroup_group(&self) -> &str {
        match self.cgroup_project.as_str() {
            "" => &self.project,
            g => g,
        }
    }
}

/// A container's healthcheck, resolved from the service and its image (`CMD-SHELL` already
/// turned into `/bin/sh -c`); the monitor runs it inside the container's namespaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthSpec {
    /// The command to run (never empty).
    pub test: Vec<String>,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub retries: u32,
    pub start_period_ms: u64,
    pub start_interval_ms: u64,
}

/// Health as the monitor last judged it (Docker's states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Starting,
    Healthy,
    Unhealthy,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// Runtime status, written by the container's monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Restarting,
    Exited,
    /// A monitor or container that vanished without recording it (killed, reboot).
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }
}

/// `state.json`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunState {
    pub status: Status,
    /// The container's PID 1 on the host, with its start time (clock ticks after boot) so a
    /// recycled PID is recognised.
    pub pid: Option<i32>,
    pub pid_start: Option<u64>,
    pub monitor_pid: Option<i32>,
    pub monitor_start: Option<u64>,
    /// `/proc/sys/kernel/random/boot_id` when this was written.
    pub boot_id: String,
    pub exit_code: Option<i32>,
    pub oom_killed: bool,
    pub restart_count: u32,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Set-up error of the last start, if it failed.
    pub error: Option<String>,
    /// `None` for a container without a healthcheck.
    #[serde(default)]
    pub health: Option<Health>,
    /// Consecutive failed probes.
    #[serde(default)]
    pub failing_streak: u32,
    /// Output of the last probe (truncated), for `ps`/`inspect` and error messages.
    #[serde(default)]
    pub health_log: Option<String>,
}

/// This boot's id.
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Start time of `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat), if it lives
/// (a zombie, dead but not yet reaped by whoever adopted it, does not).
pub fn pid_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    if matches!(fields.next(), Some("Z") | Some("X") | Some("x")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// Whether `pid` is still the process that had start time `start`.
pub fn same_process(pid: Option<i32>, start: Option<u64>) -> bool {
    match (pid, start) {
        (Some(pid), Some(start)) => pid_start_time(pid) == Some(start),
        _ => false,
    }
}

impl RunState {
    /// The state as it really is now: `running`/`restarting` only if the recorded processes
    /// still live in this boot.
    pub fn observed(mut self) -> RunState {
        if matches!(
            self.status,
            Status::Running | Status::Restarting | Status::Created
        ) && self.monitor_pid.is_some()
        {
            let monitor =
                self.boot_id == boot_id() && same_process(self.monitor_pid, self.monitor_start);
            if !monitor {
                self.status = Status::Dead;
                self.pid = None;
                self.monitor_pid = None;
            } else if self.status == Status::Running && !same_process(self.pid, self.pid_start) {
                // Exited a moment ago; the monitor is about to record how.
                self.pid = None;
            }
        }
        self
    }

    /// The container's PID 1 if it is running now.
    pub fn live_pid(&self) -> Option<i32> {
        (self.status == Status::Running
            && self.boot_id == boot_id()
            && same_process(self.pid, self.pid_start))
        .then_some(self.pid)
        .flatten()
    }

    /// The monitor's pid if it is alive now.
    pub fn live_monitor(&self) -> Option<i32> {
        (self.boot_id == boot_id() && same_process(self.monitor_pid, self.monitor_start))
            .then_some(self.monitor_pid)
            .flatten()
    }
}

pub fn record_path(dir: &Path) -> PathBuf {
    dir.join(root::CONTAINER_RECORD)
}

pub fn state_path(dir: &Path) -> PathBuf {
    dir.join(root::CONTAINER_STATE)
}

pub fn stopping_path(dir: &Path) -> PathBuf {
    dir.join(root::CONTAINER_STOPPING)
}

pub fn log_path(dir: &Path) -> PathBuf {
    dir.join(root::CONTAINER_LOG)
}

pub fn monitor_log_path(dir: &Path) -> PathBuf {
    dir.join(root::CONTAINER_MONITOR_LOG)
}

/// Writes `container.json` (atomically).
pub fn write_record(root: &Path, rec: &ContainerRecord) -> Result<(), StateError> {
    let dir = StateRoot::new(root).container(&rec.id);
    root::private_dir(&dir).map_err(io_err("creating", &dir))?;
    Ok(json_store::write_as(
        &record_path(&dir),
        rec,
        Layout::Pretty,
        rec.record_durability(),
    )?)
}

/// The container's record; `None` when it has none or a torn one (reported, see the module
/// docs): either way its directory is what [`incomplete`] lists.
pub fn read_record(root: &Path, id: &str) -> Result<Option<ContainerRecord>, StateError> {
    let path = record_path(&StateRoot::new(root).container(id));
    let rec: Option<ContainerRecord> = match json_store::read(&path) {
        Ok(rec) => rec,
        Err(StoreError::Corrupt { path, source }) => {
            json_store::warn_torn(
                &path,
                &source,
                "the container is ignored, and its directory removed by the next `down`",
            );
            None
        }
        Err(e) => return Err(e.into()),
    };
    Ok(rec)
}

/// The state as the monitor last wrote it (`Created` when it never did), not yet checked
/// against the living processes (see [`RunState::observed`]).
pub fn read_state(dir: &Path) -> RunState {
    std::fs::read(state_path(dir))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

pub fn write_state(dir: &Path, state: &RunState) -> Result<(), StateError> {
    write_state_as(dir, state, Durability::Durable)
}

/// [`write_state`] as durably as `durability` says (see [`ContainerRecord::state_durability`]).
pub fn write_state_as(
    dir: &Path,
    state: &RunState,
    durability: Durability,
) -> Result<(), StateError> {
    Ok(json_store::write_as(
        &state_path(dir),
        state,
        Layout::Compact,
        durability,
    )?)
}

/// A container with its observed state.
#[derive(Debug, Clone)]
pub struct Observed {
    pub record: ContainerRecord,
    pub state: RunState,
}

/// Every container of `project` (all projects with `None`) under `root`, by name. Directories
/// without a record (a creation cut short) are skipped: [`incomplete`] lists them.
pub fn list(root: &Path, project: Option<&str>) -> Result<Vec<Observed>, StateError> {
    let dir = StateRoot::new(root).containers();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("reading", &dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let id = entry.file_name().to_string_lossy().into_owned();
        let Some(record) = read_record(root, &id)? else {
            continue;
        };
        if project.is_some_and(|p| p != record.project) {
            continue;
        }
        let state = read_state(&entry.path()).observed();
        out.push(Observed { record, state });
    }
    out.sort_by(|a, b| a.record.name.cmp(&b.record.name));
    Ok(out)
}

/// Container directories that have no record (left by a command killed while creating one)
/// or a torn one, not JSON at all (see the module docs). One whose record cannot be read (an
/// I/O error) or is JSON this release cannot read as a record is not listed: it may be whole,
/// and what `down` does with a listed directory cannot be undone. The record is only checked
/// for being JSON, not parsed into a record: `down` lists every container already.
pub fn incomplete(root: &Path) -> Vec<String> {
    let dir = StateRoot::new(root).containers();
    std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            matches!(
                json_store::read::<serde::de::IgnoredAny>(&record_path(&e.path())),
                Ok(None) | Err(StoreError::Corrupt { .. })
            )
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Serializes commands on one project (held until dropped; released by the kernel if the
/// process dies).
pub fn lock_project(root: &Path, project: &str) -> Result<fsutil::StoreLock, StateError> {
    let layout = StateRoot::new(root);
    let dir = layout.projects();
    root::private_dir(&dir).map_err(io_err("creating", &dir))?;
    let path = layout.project_lock(project);
    Ok(json_store::lock(&path)?)
}

/// 64 random hex characters.
pub fn new_id() -> io::Result<String> {
    use std::io::Read;
    let mut buf = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(fsutil::hex(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_record(id: &str, project: &str) -> ContainerRecord {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": format!("{project}-{id}-1"), "project": project, "service": id,
            "number": 1, "one_off": false, "config_hash": "", "image": "busybox",
            "image_id": "", "created": 0, "spec": ContainerSpec::default(),
            "cgroup_parent": "compose", "dns": null, "restart": "No", "stop_grace_period": 10,
        }))
        .expect("a valid record")
    }

    /// A truncated, empty or garbage `container.json` costs only its own container: the others
    /// of its project and of other projects are listed, and its directory is one `down`
    /// removes.
    #[test]
    fn a_torn_container_record_is_left_out_and_listed_as_incomplete() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        for (id, project) in [("a", "p"), ("b", "p"), ("c", "q"), ("d", "p"), ("e", "q")] {
            write_record(root, &sample_record(id, project)).expect("write");
        }
        let full = std::fs::read(record_path(&StateRoot::new(root).container("b"))).expect("read");
        let torn: [(&str, &[u8]); 3] = [
            ("b", &full[..full.len() / 2]),
            ("c", b""),
            ("d", b"\0\0\xff"),
        ];
        for (id, bytes) in torn {
            std::fs::write(record_path(&StateRoot::new(root).container(id)), bytes).expect("tear");
        }
        let names = |p| -> Vec<String> {
            list(root, p)
                .expect("list")
                .into_iter()
                .map(|o| o.record.id)
                .collect()
        };
        assert_eq!(names(Some("p")), ["a"]);
        assert_eq!(names(Some("q")), ["e"]);
        assert_eq!(names(None), ["a", "e"]);
        assert_eq!(read_record(root, "b").expect("read"), None);
        // JSON, but no record: left alone.
        let f_dir = StateRoot::new(root).container("f");
        std::fs::create_dir_all(&f_dir).expect("mkdir");
        std::fs::write(record_path(&f_dir), b"{\"id\": \"f\"}").expect("write");
        // No record at all: a creation cut short.
        std::fs::create_dir_all(StateRoot::new(root).container("g")).expect("mkdir");
        let mut left = incomplete(root);
        left.sort();
        assert_eq!(left, ["b", "c", "d", "g"]);
        assert_eq!(names(None), ["a", "e"]);
    }

    #[test]
    fn a_torn_run_state_reads_as_never_started() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let running = RunState {
            status: Status::Exited,
            exit_code: Some(3),
            ..RunState::default()
        };
        write_state(tmp.path(), &running).expect("write");
        assert_eq!(read_state(tmp.path()), running);
        std::fs::write(state_path(tmp.path()), b"{\"status\":\"exi").expect("tear");
        assert_eq!(read_state(tmp.path()), RunState::default());
    }

    #[test]
    fn restart_policies() {
        assert_eq!(RestartPolicy::parse("no"), Ok(RestartPolicy::No));
        assert_eq!(
            RestartPolicy::parse("on-failure:2"),
            Ok(RestartPolicy::OnFailure(Some(2)))
        );
        assert!(RestartPolicy::parse("sometimes").is_err());
        assert!(RestartPolicy::parse("on-failure:x").is_err());
        let p = RestartPolicy::OnFailure(Some(2));
        assert!(p.restarts(1, 0) && p.restarts(1, 1) && !p.restarts(1, 2));
        assert!(!p.restarts(0, 0));
        assert!(RestartPolicy::Always.restarts(0, 100));
        assert!(!RestartPolicy::No.restarts(1, 0));
    }

    #[test]
    fn own_pid_start_time_is_read_and_a_dead_pid_is_not_alive() {
        let me = std::process::id() as i32;
        let start = pid_start_time(me).expect("own stat");
        assert!(same_process(Some(me), Some(start)));
        assert!(!same_process(Some(me), Some(start + 1)));
        let state = RunState {
            status: Status::Running,
            pid: Some(me),
            pid_start: Some(start + 1),
            monitor_pid: Some(me),
            monitor_start: Some(start),
            boot_id: boot_id(),
            ..RunState::default()
        };
        // The container's PID is gone but its monitor lives: exiting, not dead.
        let exiting = state.clone().observed();
        assert_eq!((exiting.status, exiting.pid), (Status::Running, None));
        let no_monitor = RunState {
            monitor_start: Some(start + 1),
            ..state.clone()
        };
        assert_eq!(no_monitor.observed().status, Status::Dead);
        let other_boot = RunState {
            pid_start: Some(start),
            boot_id: "another-boot".into(),
            ..state
        };
        assert_eq!(other_boot.observed().status, Status::Dead);
    }
}
