//! `port`: where a service's container port is published on the host.

use std::path::Path;

use super::ps::live_ports;
use super::{invalid, StackError};
use crate::engine::state;

/// `port`: the host address and port a container port of a service is published on.
pub fn port(
    root: &Path,
    project: &str,
    service: &str,
    private_port: u16,
    protocol: crate::engine::network::nft::Protocol,
    index: u32,
) -> Result<Option<String>, StackError> {
    let all = state::list(root, Some(project))?;
    let Some(o) = all
        .iter()
        .find(|o| o.record.service == service && o.record.number == index && !o.record.one_off)
    else {
        return Err(invalid(format!(
            "service \"{service}\" is not running container #{index}"
        )));
    };
    Ok(live_ports(o)
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
        }))
}
