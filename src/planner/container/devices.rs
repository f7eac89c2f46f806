//! The device nodes a container gets (`devices:`, and the whole host /dev when privileged),
//! from the facts the stack read before planning.

use std::path::Path;

use super::error::{Ctx, SpecError};
use crate::engine::runtime::host_devices::{DeviceFacts, DeviceSource, HostNode};
use crate::engine::spec::DeviceSpec;
use crate::model::types::service::ServiceConfig;

/// The host paths a service's devices name (`devices:` sources), and whether it needs the whole
/// of the host's /dev (`privileged`): what the stack reads into
/// [`super::ContainerInput::devices`] before planning it.
pub fn device_paths(svc: &ServiceConfig) -> (Vec<&str>, bool) {
    let sources = svc
        .devices
        .iter()
        .map(|d| d.source.as_str())
        .filter(|s| s.starts_with('/'))
        .collect();
    (sources, svc.privileged)
}

/// A read error of the stack's, as this spec's error (the facts are shared, their errors not
/// handed over).
fn device_error(path: &str, e: &std::io::Error) -> SpecError {
    SpecError::Device {
        path: path.to_string(),
        source: match e.raw_os_error() {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => std::io::Error::new(e.kind(), e.to_string()),
        },
    }
}

/// A device path the stack did not read before planning (see [`device_paths`]).
fn not_read(path: &str) -> SpecError {
    SpecError::Device {
        path: path.to_string(),
        source: std::io::Error::other("not read from the host before planning"),
    }
}

/// The device nodes for `devices` entries; a directory adds every device under it.
pub(super) fn devices_for(
    svc: &ServiceConfig,
    facts: &DeviceFacts,
    ctx: &Ctx,
) -> Result<Vec<DeviceSpec>, SpecError> {
    let mut out = Vec::new();
    for d in &svc.devices {
        let perms = if d.permissions.is_empty() {
            "rwm"
        } else {
            d.permissions.as_str()
        };
        if !perms.chars().all(|c| "rwm".contains(c)) {
            return Err(ctx.err(format!(
                "device {}: invalid permissions {perms:?}, expected a combination of r, w and m",
                d.source
            )));
        }
        if !d.source.starts_with('/') {
            return Err(ctx.err(format!(
                "device {:?}: CDI devices are not supported, give a host path",
                d.source
            )));
        }
        let target = d.target_path();
        let found = match facts.sources.get(&d.source) {
            Some(Ok(found)) => found,
            Some(Err(e)) => return Err(device_error(&e.path, &e.source)),
            None => return Err(not_read(&d.source)),
        };
        match found {
            DeviceSource::Dir(nodes) => {
                for n in nodes {
                    let rel = n.path.strip_prefix(&d.source).unwrap_or(&n.path);
                    let path = Path::new(target).join(rel).to_string_lossy().into_owned();
                    out.push(device_spec(path, n, perms));
                }
            }
            DeviceSource::Node(n) => out.push(device_spec(target.to_string(), n, perms)),
            DeviceSource::NotADevice => {
                return Err(ctx.err(format!(
                    "device {}: not a character or block device",
                    d.source
                )))
            }
        }
    }
    Ok(out)
}

fn device_spec(path: String, n: &HostNode, perms: &str) -> DeviceSpec {
    DeviceSpec {
        path,
        kind: if n.block { 'b' } else { 'c' },
        major: n.major,
        minor: n.minor,
        file_mode: n.mode & 0o777,
        uid: n.uid,
        gid: n.gid,
        permissions: perms.to_string(),
    }
}

/// Every device node of the host's /dev, for a privileged container.
pub(super) fn host_dev(facts: &DeviceFacts) -> Result<Vec<DeviceSpec>, SpecError> {
    match &facts.dev {
        Some(Ok(nodes)) => Ok(crate::planner::host_devices::host_devices(nodes)),
        Some(Err(e)) => Err(device_error("/dev", &e.source)),
        None => Err(not_read("/dev")),
    }
}
#[cfg(test)]
#[path = "devices_tests.rs"]
mod tests;
