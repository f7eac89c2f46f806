//! Turning a service (and its image's config) into a [`ContainerSpec`]: every rule by which
//! Docker and Docker Compose combine the two, applied here once so the runtime has nothing left
//! to decide.
//!
//! - **argv**: Docker's merge: when the service's entrypoint is empty (unset or `[]`), an empty
//!   command takes the image's `Cmd`, and an unset entrypoint takes the image's `Entrypoint`;
//!   a non-empty entrypoint resets the image's `Cmd` (only the service's `command` follows it).
//!   So `entrypoint: []` drops the image's entrypoint and keeps its command, and `command: []`
//!   does not clear the image's command (the Docker Engine treats an empty `Cmd` as unset).
//!   `compose run --entrypoint X` without a command also clears the service's `command`.
//! - **environment**: `PATH` (Docker's default) and `HOSTNAME` (and `TERM=xterm` with a tty),
//!   replaced by the service's environment (then `run -e`), followed by the image's `Env`
//!   entries the service does not set; a variable without a value unsets it. `HOME` from
//!   `/etc/passwd` (else `/`) when still unset.
//! - **user**: `run -u`, else the service's `user`, else the image's `User`, resolved in the
//!   image's `/etc/passwd` and `/etc/group` ([`crate::engine::runtime::user`]).
//! - **security**: capabilities as Docker computes them, Docker's default seccomp profile unless
//!   `seccomp=unconfined` or `seccomp=FILE`, none when privileged; `no-new-privileges`;
//!   `label=` and `apparmor=` parse here, and [`crate::planner::support`] refuses those that
//!   ask for confinement (no SELinux or AppArmor support); `systempaths=unconfined`
//!   drops the masked and read-only paths, as in Docker.
//! - **mounts** are sorted by destination depth, parents first, as Docker does; named volumes
//!   live at `<volumes_dir>/<volume name>/_data` (volume name `<project>_<key>` unless given),
//!   anonymous ones (service `volumes` without source and image `VOLUME`s) at
//!   `<volumes_dir>/<container id>-<n>/_data`, or the replaced container's ones at the same
//!   destinations when a service is recreated (as Docker hands them over). A volume mount names the volume and its
//!   `subpath` apart (the runtime resolves the subpath beneath the data, never following a
//!   link a container planted), and so does a bind whose source lies inside a volume's data.
//!   A volume is filled from the image on its first mount unless `nocopy` or a subpath.
//!
//! One file per group of rules: [`process`] (argv, environment, user, rlimits, stop signal),
//! [`security`] (security_opt, masked paths), [`sysctls`], [`mounts`], [`devices`],
//! [`resources`] (cgroup limits), [`extra_hosts`]; [`input`] is what the stack hands in.

mod devices;
mod error;
mod extra_hosts;
mod input;
mod mounts;
mod process;
mod resources;
mod security;
mod sysctls;
#[cfg(test)]
mod test_support;

use crate::engine::runtime::caps as capabilities;
use crate::engine::runtime::seccomp;
use crate::engine::runtime::user;
use crate::engine::spec::{ContainerSpec, NetworkMode, ProcessSpec, RootfsSpec};
use crate::model::types::bytes::ByteSize;

pub use crate::engine::anon_volumes::is_own_anonymous_volume;
pub use devices::device_paths;
use error::Ctx;
pub use error::SpecError;
pub use input::{ContainerInput, HostInfo, OneOffOverrides};
pub use mounts::bind_sources;
pub use process::rlimits;
pub(crate) use process::{argv_parts, user_text};
pub use security::system_paths;
pub use sysctls::{check_sysctls, sysctl_refusal};

/// Docker's default /dev/shm size.
pub const DEFAULT_SHM_SIZE: u64 = 64 << 20;

/// Builds the container's spec; see the module documentation for the rules.
pub fn build_container_spec(input: &ContainerInput) -> Result<ContainerSpec, SpecError> {
    let svc = input.service;
    let ctx = Ctx {
        service: input.service_name,
    };
    let none = OneOffOverrides::default();
    let run = input.one_off.unwrap_or(&none);
    let image = input.image.config().as_ref();

    let network = match svc.network_mode.as_deref() {
        Some("host") => NetworkMode::Host,
        Some(m) if m.starts_with("service:") || m.starts_with("container:") => {
            match input.join_container {
                Some(id) => NetworkMode::Join {
                    container: id.to_string(),
                    netns: None,
                },
                None => {
                    return Err(ctx.err(format!(
                        "network_mode {m}: the container to share the network of does not exist"
                    )))
                }
            }
        }
        _ => NetworkMode::Loopback,
    };
    let hostname = match &svc.hostname {
        Some(h) => h.clone(),
        None if network == NetworkMode::Host => input.host.hostname.clone(),
        None => input
            .container_id
            .get(..12)
            .unwrap_or(input.container_id)
            .to_string(),
    };
    if hostname.len() > 64 {
        return Err(ctx.err(format!(
            "hostname {hostname:?} is longer than 64 characters"
        )));
    }

    let tty = run.tty.unwrap_or(svc.tty);
    let args = process::argv(svc, run, image).ok_or_else(|| {
        ctx.err(
            "no command specified: the image has no Cmd or Entrypoint and the service sets neither",
        )
    })?;

    let user_text = process::user_text(svc, run, image).unwrap_or_default();
    let user = user::resolve_user(&user_text, &svc.group_add, input.rootfs_files)?;

    let mut env = process::environment(svc, run, image, &hostname, tty);
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home.as_deref().unwrap_or("/")));
    }

    let cwd = run
        .workdir
        .clone()
        .or_else(|| svc.working_dir.clone())
        .or_else(|| image.and_then(|c| c.working_dir().clone()))
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".to_string());
    if !cwd.starts_with('/') {
        return Err(ctx.err(format!("working_dir {cwd:?} must be an absolute path")));
    }

    let security = security::security_options(&svc.security_opt, &ctx)?;
    let privileged = svc.privileged;
    let caps = capabilities::container_capabilities(
        &svc.cap_add,
        &svc.cap_drop,
        privileged,
        input.host.last_cap,
    )?;
    let seccomp_filter = seccomp::filter_for(
        &security.seccomp,
        privileged,
        &seccomp::Target {
            capabilities: caps.clone(),
            kernel: input.host.kernel,
        },
    )?;
    let process_caps = capabilities::process_capabilities(&caps, user.uid);

    let (masked_paths, readonly_paths) =
        security::system_paths(privileged || security.unconfined_systempaths);

    let mounts = mounts::mounts_for(input, run, image, &ctx)?;
    let mut devices = devices::devices_for(svc, input.devices, &ctx)?;
    if privileged {
        devices.extend(devices::host_dev(input.devices)?);
    }
    let mut resources = resources::resources_for(svc, &ctx)?;
    if privileged {
        resources.device_rules = vec!["a *:* rwm".to_string()];
    } else {
        resources.device_rules = devices
            .iter()
            .map(|d| format!("{} {}:{} {}", d.kind, d.major, d.minor, d.permissions))
            .chain(svc.device_cgroup_rules.iter().cloned())
            .collect();
    }

    let stop_signal = svc
        .stop_signal
        .clone()
        .or_else(|| image.and_then(|c| c.stop_signal().clone()))
        .unwrap_or_else(|| "SIGTERM".to_string());
    let stop_signal = process::normalize_signal(&stop_signal)
        .ok_or_else(|| ctx.err(format!("invalid stop_signal {stop_signal:?}")))?;

    let oom_score_adj = match svc.oom_score_adj {
        None => None,
        Some(v) if (-1000..=1000).contains(&v) => Some(v as i32),
        Some(v) => {
            return Err(ctx.err(format!(
                "oom_score_adj {v} is out of range: it must be between -1000 and 1000"
            )))
        }
    };

    let shm_size = match svc.shm_size {
        None => DEFAULT_SHM_SIZE,
        Some(ByteSize(n)) if n > 0 => n as u64,
        Some(ByteSize(n)) => return Err(ctx.err(format!("shm_size {n} must be positive"))),
    };

    Ok(ContainerSpec {
        id: input.container_id.to_string(),
        name: input.container_name.to_string(),
        hostname,
        domainname: svc.domainname.clone().filter(|d| !d.is_empty()),
        rootfs: RootfsSpec {
            layers: input.layers.to_vec(),
            read_only: svc.read_only,
        },
        mounts,
        process: ProcessSpec {
            args,
            env,
            cwd,
            user,
            terminal: tty,
            stdin_open: run.stdin_open.unwrap_or(svc.stdin_open),
            no_new_privileges: security.no_new_privileges,
            capabilities: process_caps,
            rlimits: process::rlimits_for(svc, &ctx)?,
            oom_score_adj,
            stop_signal: Some(stop_signal),
        },
        sysctls: sysctls::sysctls_for(svc, network.clone(), &ctx)?,
        masked_paths,
        readonly_paths,
        devices,
        shm_size,
        init: svc.init.unwrap_or(false),
        // Needs the other containers' ids: filled in by the stack (`planner::namespaces`).
        namespaces: Default::default(),
        network,
        resources,
        seccomp: seccomp_filter,
        dns: svc.dns.clone(),
        dns_search: svc.dns_search.clone(),
        dns_options: svc.dns_opt.clone(),
        extra_hosts: extra_hosts::extra_hosts_for(svc, &ctx, input.host_gateway)?,
        privileged,
    })
}
