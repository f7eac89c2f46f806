//! `ps`: the project's containers as Docker Compose lists them.

use std::path::Path;

use super::{expose, ops, StackError};
use crate::engine::network::proxy;
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

/// One line of `ps` (`--format json` prints these, with Docker Compose's keys).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PsEntry {
    pub command: String,
    pub created_at: String,
    pub exit_code: i32,
    pub health: String,
    #[serde(rename = "ID")]
    pub id: String,
    pub image: String,
    pub labels: String,
    pub name: String,
    pub names: String,
    pub networks: String,
    pub ports: String,
    pub project: String,
    pub publishers: Vec<Publisher>,
    pub running_for: String,
    pub service: String,
    /// created, running, restarting, paused, exited, dead.
    pub state: String,
    pub status: String,
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

/// `ps`: the project's containers (running ones unless `all`), one-offs included as Docker
/// Compose lists them.
pub fn ps(root: &Path, project: &str, all: bool) -> Result<Vec<PsEntry>, StackError> {
    let now = crate::engine::fsutil::now_secs();
    let mut out = Vec::new();
    for o in state::list(root, Some(project))? {
        let paused = o.state.status == Status::Running && ops::is_paused(&o.record);
        let running = matches!(o.state.status, Status::Running | Status::Restarting);
        if !all && !running {
            continue;
        }
        let since = |t: &Option<String>| {
            t.as_deref()
                .and_then(crate::engine::fsutil::parse_rfc3339)
                .map(|t| crate::engine::fsutil::human_duration(now - t))
        };
        let health = o
            .state
            .health
            .map(|h| h.as_str().to_string())
            .unwrap_or_default();
        let code = o.state.exit_code.unwrap_or(0);
        let status = match o.state.status {
            Status::Running => {
                let mut s = format!(
                    "Up {}",
                    since(&o.state.started_at).unwrap_or_else(|| "Less than a second".into())
                );
                if !health.is_empty() {
                    s.push_str(&format!(" ({health})"));
                }
                if paused {
                    s.push_str(" (Paused)");
                }
                s
            }
            Status::Restarting => format!("Restarting ({code})"),
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
        let ports = (publishers.iter().map(expose::display))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(PsEntry {
            command: format!("\"{}\"", o.record.spec.process.args.join(" ")),
            created_at: crate::engine::fsutil::format_go_time(o.record.created),
            exit_code: code,
            health,
            id: o.record.id.clone(),
            image: o.record.image.clone(),
            labels: o
                .record
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
            name: o.record.name.clone(),
            names: o.record.name.clone(),
            networks: o
                .record
                .endpoints
                .iter()
                .map(|e| e.network.clone())
                .collect::<Vec<_>>()
                .join(","),
            ports,
            project: o.record.project.clone(),
            publishers,
            running_for: format!(
                "{} ago",
                crate::engine::fsutil::human_duration(now - o.record.created)
            ),
            service: o.record.service.clone(),
            state: state_word.to_string(),
            status,
        });
    }
    Ok(out)
}
