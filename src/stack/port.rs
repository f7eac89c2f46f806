//! `port`: where a service's container port is published on the host.

use std::path::Path;

use super::ps::live_ports;
use super::{expose, invalid, StackError};
use crate::engine::state;

/// What `port` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortLookup {
    /// `0.0.0.0:8080`, `[::1]:8080`.
    Found(String),
    /// The container does not publish that port: its name and the ports it has (`80/tcp`),
    /// which Docker Compose lists in its error.
    NotFound {
        container: String,
        ports: Vec<String>,
    },
}

/// `port`: the host address and port a container port of a service is published on.
pub fn port(
    root: &Path,
    project: &str,
    service: &str,
    private_port: u16,
    protocol: crate::engine::network::nft::Protocol,
    index: u32,
) -> Result<PortLookup, StackError> {
    let all = state::list(root, Some(project))?;
    let Some(o) = all
        .iter()
        .find(|o| o.record.service == service && o.record.number == index && !o.record.one_off)
    else {
        return Err(invalid(format!(
            "service \"{service}\" is not running container #{index}"
        )));
    };
    let live = live_ports(o);
    let found = live
        .iter()
        .find(|p| p.container_port == private_port && p.protocol == protocol)
        .map(|p| {
            let ip = p
                .host_ip
                .map(|i| match i {
                    std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                    v4 => v4.to_string(),
                })
                .unwrap_or_else(|| "0.0.0.0".into());
            format!("{ip}:{}", p.host_port)
        });
    if let Some(found) = found {
        return Ok(PortLookup::Found(found));
    }
    // The ports Docker lists for the container: published ones while it runs, and exposed ones.
    let mut ports: Vec<String> = Vec::new();
    let published = live
        .iter()
        .map(|p| (p.container_port, p.protocol.name().to_string()));
    let exposed = if o.state.status == state::Status::Running {
        expose::ports(&o.record.expose)
    } else {
        Vec::new()
    };
    for (port, proto) in published.chain(exposed) {
        let p = format!("{port}/{proto}");
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    Ok(PortLookup::NotFound {
        container: o.record.name.clone(),
        ports,
    })
}
