//! `ps`: the project's containers as Docker Compose lists them.

use std::path::Path;

use super::{expose, ops, StackError};
use crate::engine::network::proxy;
use crate::engine::spec::MountKind;
use crate::engine::state::{self, Status};

/// The ports a container publishes now: those of its record while it runs, none once it has
/// stopped (its rules are gone), as Docker reports them in `ps` and `port`.
pub(super) fn live_ports(o: &state::Observed) -> &[state::PublishedPort] {
    if o.state.status == Status::Running {
        &o.record.ports
    } else {
        &[]
    }
}

/// One container as `ps` lists it: what Docker Compose's `api.ContainerSummary` holds, before
/// the command line formats it (truncation and quoting depend on its flags).
#[derive(Debug, Clone)]
pub struct PsEntry {
    /// The full ID (`ps -q` prints it; the table and JSON shorten it to 12 characters).
    pub id: String,
    pub name: String,
    pub image: String,
    /// As Docker's daemon lists it: the program and its arguments, an argument with a space in
    /// single quotes; not quoted nor truncated yet.
    pub command: String,
    pub project: String,
    pub service: String,
    /// Seconds since the epoch.
    pub created: i64,
    /// created, running, restarting, paused, exited, dead.
    pub state: String,
    /// `Up 3 seconds (health: starting)`, `Exited (0) 2 minutes ago`...
    pub status: String,
    /// starting, healthy, unhealthy while the container runs; empty otherwise (as Docker
    /// Compose reports it).
    pub health: String,
    /// The exit code of an exited or dead container; 0 otherwise (as Docker Compose).
    pub exit_code: i32,
    /// Sorted by container port, as Docker Compose sorts them.
    pub publishers: Vec<Publisher>,
    /// `80/tcp, 0.0.0.0:8080->80/tcp` as Docker's PORTS column shows the publishers.
    pub ports: String,
    pub labels: indexmap::IndexMap<String, String>,
    /// Each volume's name or bind's source path (tmpfs mounts have neither).
    pub mounts: Vec<String>,
    /// How many of the mounts are volumes (Docker's `local` driver).
    pub local_volumes: usize,
    /// Full network names (`<project>_default`).
    pub networks: Vec<String>,
}

/// The command as Docker's container list shows it: the program, then its arguments joined
/// by spaces, one that contains a space put in single quotes (`sh -c 'echo hi'`).
pub fn docker_command(args: &[String]) -> String {
    match args.split_first() {
        None => String::new(),
        Some((path, [])) => path.clone(),
        Some((path, rest)) => {
            let rest: Vec<String> = rest
                .iter()
                .map(|a| {
                    if a.contains(' ') {
                        format!("'{a}'")
                    } else {
                        a.clone()
                    }
                })
                .collect();
            format!("{path} {}", rest.join(" "))
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Publisher {
    #[serde(rename = "URL")]
    pub url: String,
    pub target_port: u16,
    pub published_port: u16,
    pub protocol: String,
}

/// `ps`: the project's containers: running service containers, or with `all` every one,
/// stopped and one-off (`run`) containers included, as Docker Compose lists them.
pub fn ps(root: &Path, project: &str, all: bool) -> Result<Vec<PsEntry>, StackError> {
    let now = crate::engine::fsutil::now_secs();
    let mut out = Vec::new();
    for o in state::list(root, Some(project))? {
        let paused = o.state.status == Status::Running && ops::is_paused(&o.record);
        let running = matches!(o.state.status, Status::Running | Status::Restarting);
        // Without `-a`, Docker Compose lists neither stopped containers nor `run`'s one-offs.
        if !all && (!running || o.record.one_off) {
            continue;
        }
        let since = |t: &Option<String>| {
            t.as_deref()
                .and_then(crate::engine::fsutil::parse_rfc3339)
                .map(|t| crate::engine::fsutil::human_duration(now - t))
        };
        // Docker Compose reports health only for a running container (not a paused one) and
        // an exit code only for an exited or dead one.
        let health = match o.state.health {
            Some(h) if o.state.status == Status::Running && !paused => h.as_str().to_string(),
            _ => String::new(),
        };
        let code = o.state.exit_code.unwrap_or(0);
        let exit_code = match o.state.status {
            Status::Exited | Status::Dead => code,
            _ => 0,
        };
        let status = match o.state.status {
            // As Docker's daemon words it: `Up 5 seconds (Paused)`, `Up 5 seconds (health:
            // starting)`, `Up 2 minutes (healthy)`.
            Status::Running => {
                let mut s = format!(
                    "Up {}",
                    since(&o.state.started_at).unwrap_or_else(|| "Less than a second".into())
                );
                if paused {
                    s.push_str(" (Paused)");
                } else if !health.is_empty() {
                    match o.state.health {
                        Some(state::Health::Starting) => s.push_str(" (health: starting)"),
                        _ => s.push_str(&format!(" ({health})")),
                    }
                }
                s
            }
            Status::Restarting => format!(
                "Restarting ({code}) {} ago",
                since(&o.state.finished_at).unwrap_or_else(|| "Less than a second".into())
            ),
            Status::Created => "Created".to_string(),
            Status::Exited => format!(
                "Exited ({code}) {} ago",
                since(&o.state.finished_at).unwrap_or_else(|| "Less than a second".into())
            ),
            // Its monitor is gone (killed, or a reboot): `up` starts it again, `down` cleans up.
            Status::Dead => "Dead".to_string(),
        };
        let state_word = if paused {
            "paused"
        } else {
            o.state.status.as_str()
        };
        let mut publishers: Vec<Publisher> = live_ports(&o)
            .iter()
            .map(|p| Publisher {
                url: p
                    .host_ip
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "0.0.0.0".into()),
                target_port: p.container_port,
                published_port: p.host_port,
                protocol: p.protocol.name().to_string(),
            })
            .collect();
        if o.state.status == Status::Running && proxy::host_has_ipv6() {
            // What its monitor relays on IPv6, as Docker lists `[::]:8080->80/tcp` too.
            publishers.extend(proxy::forwards(&o.record.ports).iter().map(|f| Publisher {
                url: f.listen.ip().to_string(),
                target_port: f.target.port(),
                published_port: f.listen.port(),
                protocol: f.protocol.name().to_string(),
            }));
        }
        if o.state.status == Status::Running {
            let exposed = expose::publishers(&o.record.expose, &publishers);
            publishers.extend(exposed);
        }
        publishers.sort_by_key(|p| p.target_port);
        let ports = (publishers.iter().map(expose::display))
            .collect::<Vec<_>>()
            .join(", ");
        let mut mounts = Vec::new();
        let mut local_volumes = 0;
        for m in &o.record.spec.mounts {
            match &m.kind {
                MountKind::Bind { source, .. } => mounts.push(source.display().to_string()),
                MountKind::Volume { volume, .. } => {
                    local_volumes += 1;
                    mounts.push(
                        volume
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    );
                }
                MountKind::Tmpfs { .. } => {}
            }
        }
        out.push(PsEntry {
            id: o.record.id.clone(),
            name: o.record.name.clone(),
            image: o.record.image.clone(),
            command: docker_command(&o.record.spec.process.args),
            project: o.record.project.clone(),
            service: o.record.service.clone(),
            created: o.record.created,
            state: state_word.to_string(),
            status,
            health,
            exit_code,
            publishers,
            ports,
            labels: o.record.labels.clone(),
            mounts,
            local_volumes,
            networks: (o.record.endpoints.iter())
                .map(|e| e.network.clone())
                .collect(),
        });
    }
    Ok(out)
}
