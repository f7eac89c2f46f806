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

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use oci_spec::image::ImageConfiguration;

use crate::engine::runtime::caps as capabilities;
use crate::engine::runtime::host_devices::{DeviceFacts, DeviceSource, HostNode};
use crate::engine::runtime::seccomp::{self, SeccompChoice};
use crate::engine::runtime::user::{self, RootfsFiles};
use crate::engine::spec::{
    ContainerSpec, DeviceSpec, MountKind, MountSpec, NetworkMode, ProcessSpec, Resources, Rlimit,
    RootfsSpec,
};
use crate::model::types::bytes::ByteSize;
use crate::model::types::mounts::{self, ServiceVolume, VolumeType};
use crate::model::types::service::ServiceConfig;

/// Docker's default `PATH` for Linux containers.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Docker's default /dev/shm size.
pub const DEFAULT_SHM_SIZE: u64 = 64 << 20;

/// Paths Docker makes unreadable (moby `oci.DefaultSpec`).
pub const DOCKER_MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

/// Also masked by Docker: `/sys/devices/virtual/powercap` (energy counters, CVE-2020-8694).
const DOCKER_MASKED_POWERCAP: &str = "/sys/devices/virtual/powercap";

/// Also masked by Docker 28: each CPU's thermal throttling counters (a thermal side channel,
/// GHSA-6fw5-f8r9-fgfm). Docker lists the CPUs of the host it runs on; the pattern is expanded
/// when the container starts instead (see `engine::runtime::masks`), so a recorded container
/// stays right on a host with other CPUs.
const DOCKER_MASKED_THERMAL_THROTTLE: &str = "/sys/devices/system/cpu/cpu*/thermal_throttle";

/// Paths Docker remounts read-only (moby `oci.DefaultSpec`).
pub const DOCKER_READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// What `compose run` overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OneOffOverrides {
    /// `COMMAND...`; `None` when none was given.
    pub command: Option<Vec<String>>,
    /// `--entrypoint`, split into words; `Some([])` for `--entrypoint ""` (clears the image's).
    pub entrypoint: Option<Vec<String>>,
    /// `-e KEY=VALUE`, already resolved by the caller; `KEY` alone unsets KEY.
    pub env: Vec<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-v`, short syntax, with absolute host paths.
    pub volumes: Vec<String>,
    /// `-t`/`-T` (`None`: the service's `tty`).
    pub tty: Option<bool>,
    /// `-i` (`None`: the service's `stdin_open`), which Docker Compose's `run` applies over the
    /// service's; it matters to `run -d`, whose standard input then stays open.
    pub stdin_open: Option<bool>,
}

/// Facts about the host the spec is built for, read by the stack (the planner makes no system
/// calls).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// `/proc/sys/kernel/cap_last_cap`.
    pub last_cap: u8,
    /// The running kernel's (major, minor), for seccomp rules with `minKernel`.
    pub kernel: (u32, u32),
    /// The host's name (`uname`), which a container on the host's network takes.
    pub hostname: String,
}

/// The host paths a service's devices name (`devices:` sources), and whether it needs the whole
/// of the host's /dev (`privileged`): what the stack reads into
/// [`ContainerInput::devices`] before planning it.
pub fn device_paths(svc: &ServiceConfig) -> (Vec<&str>, bool) {
    let sources = svc
        .devices
        .iter()
        .map(|d| d.source.as_str())
        .filter(|s| s.starts_with('/'))
        .collect();
    (sources, svc.privileged)
}

/// Everything [`build_container_spec`] needs.
pub struct ContainerInput<'a> {
    pub project: &'a str,
    pub service_name: &'a str,
    pub service: &'a ServiceConfig,
    pub image: &'a ImageConfiguration,
    /// Unpacked image layers, topmost first.
    pub layers: &'a [PathBuf],
    /// The image's files (for /etc/passwd and /etc/group).
    pub rootfs_files: &'a dyn RootfsFiles,
    /// 64 hex characters.
    pub container_id: &'a str,
    pub container_name: &'a str,
    /// The replica number (`<project>-<service>-<n>`).
    pub number: u32,
    /// `<root>/volumes`.
    pub volumes_dir: &'a Path,
    /// The anonymous volumes of the container this one replaces, by destination (without a
    /// trailing `/`): mounted again at the same destinations, as Docker hands them over, so a
    /// recreated service keeps its data. Empty for a new container and with `up -V`.
    pub inherited_volumes: &'a IndexMap<String, PathBuf>,
    /// Actual names of the project's volumes by their key in the Compose file (top-level
    /// `volumes.<key>.name`, external volumes); a key missing here is `<project>_<key>`.
    pub volume_names: &'a IndexMap<String, String>,
    pub one_off: Option<&'a OneOffOverrides>,
    pub host: &'a HostInfo,
    /// The host's device nodes at [`device_paths`].
    pub devices: &'a DeviceFacts,
    /// The host's address as seen from the container (its first network's gateway), for
    /// `extra_hosts: name:host-gateway`; `None` while the container has no network.
    pub host_gateway: Option<std::net::IpAddr>,
    /// For `network_mode: service:X` / `container:X`: the id of the container whose network
    /// namespace this one joins.
    pub join_container: Option<&'a str>,
    /// Read-only binds of the service's secrets and configs ([`super::secrets::mounts`]).
    pub file_mounts: &'a [MountSpec],
    /// The mounts repeated from the containers that `volumes_from` names
    /// ([`super::volumes_from::repeated`]); the service's own mount at a destination wins.
    pub volumes_from: &'a [MountSpec],
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("service {service}: {message}")]
    Invalid { service: String, message: String },
    #[error(transparent)]
    User(#[from] user::UserError),
    #[error(transparent)]
    Caps(#[from] capabilities::CapsError),
    #[error(transparent)]
    Seccomp(#[from] seccomp::SeccompError),
    #[error("device {path}: {source}")]
    Device {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

struct Ctx<'a> {
    service: &'a str,
}

impl Ctx<'_> {
    fn err(&self, message: impl Into<String>) -> SpecError {
        SpecError::Invalid {
            service: self.service.to_string(),
            message: message.into(),
        }
    }
}

/// `extra_hosts` as /etc/hosts lines. `host-gateway` names the host's address on the
/// container's network (as Docker maps it to its default bridge's gateway).
fn extra_hosts_for(
    svc: &ServiceConfig,
    ctx: &Ctx,
    gateway: Option<std::net::IpAddr>,
) -> Result<Vec<(String, String)>, SpecError> {
    let mut out = Vec::new();
    for (host, ips) in &svc.extra_hosts {
        for ip in ips {
            if ip == "host-gateway" {
                let Some(gw) = gateway else {
                    return Err(ctx.err(format!(
                        "extra_hosts {host}=host-gateway needs a network gateway, and this container has no network"
                    )));
                };
                out.push((host.clone(), gw.to_string()));
                continue;
            }
            let addr = ip.trim_start_matches('[').trim_end_matches(']');
            if addr.parse::<std::net::IpAddr>().is_err() {
                return Err(ctx.err(format!("extra_hosts {host}: {ip:?} is not an IP address")));
            }
            out.push((host.clone(), addr.to_string()));
        }
    }
    Ok(out)
}

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
    let args = argv(svc, run, image).ok_or_else(|| {
        ctx.err(
            "no command specified: the image has no Cmd or Entrypoint and the service sets neither",
        )
    })?;

    let user_text = user_text(svc, run, image).unwrap_or_default();
    let user = user::resolve_user(&user_text, &svc.group_add, input.rootfs_files)?;

    let mut env = environment(svc, run, image, &hostname, tty);
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

    let security = security_options(&svc.security_opt, &ctx)?;
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

    let (masked_paths, readonly_paths) = if privileged || security.unconfined_systempaths {
        (Vec::new(), Vec::new())
    } else {
        let mut masked: Vec<String> = DOCKER_MASKED_PATHS.iter().map(|s| s.to_string()).collect();
        masked.push(DOCKER_MASKED_POWERCAP.to_string());
        masked.push(DOCKER_MASKED_THERMAL_THROTTLE.to_string());
        (
            masked,
            DOCKER_READONLY_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        )
    };

    let mounts = mounts_for(input, run, image, &ctx)?;
    let mut devices = devices_for(svc, input.devices, &ctx)?;
    if privileged {
        let host = match &input.devices.dev {
            Some(Ok(nodes)) => super::host_devices::host_devices(nodes),
            Some(Err(e)) => return Err(device_error("/dev", &e.source)),
            None => return Err(not_read("/dev")),
        };
        devices.extend(host);
    }
    let mut resources = resources_for(svc, &ctx)?;
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
    let stop_signal = normalize_signal(&stop_signal)
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
            rlimits: rlimits_for(svc, &ctx)?,
            oom_score_adj,
            stop_signal: Some(stop_signal),
        },
        sysctls: sysctls_for(svc, network.clone(), &ctx)?,
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
        extra_hosts: extra_hosts_for(svc, &ctx, input.host_gateway)?,
        privileged,
    })
}

/// The user the process runs as, as written: `run --user`, the service's, the image's.
pub(crate) fn user_text(
    svc: &ServiceConfig,
    run: &OneOffOverrides,
    image: Option<&oci_spec::image::Config>,
) -> Option<String> {
    run.user
        .clone()
        .or_else(|| svc.user.clone())
        .or_else(|| image.and_then(|c| c.user().clone()))
}

/// The process's argv, by Docker's merge rules (see the module documentation); `None` when
/// there is nothing to run.
fn argv(
    svc: &ServiceConfig,
    run: &OneOffOverrides,
    image: Option<&oci_spec::image::Config>,
) -> Option<Vec<String>> {
    let (entrypoint, command) = argv_parts(svc, run, image);
    let args: Vec<String> = entrypoint.into_iter().chain(command).collect();
    if args.is_empty() {
        None
    } else {
        Some(args)
    }
}

/// The entrypoint and the command of the process's argv (see [`argv`]).
pub(crate) fn argv_parts(
    svc: &ServiceConfig,
    run: &OneOffOverrides,
    image: Option<&oci_spec::image::Config>,
) -> (Vec<String>, Vec<String>) {
    let mut entrypoint: Option<Vec<String>> = svc.entrypoint.as_ref().map(|c| c.0.clone());
    let mut command: Option<Vec<String>> = svc.command.as_ref().map(|c| c.0.clone());
    if let Some(cmd) = run.command.as_ref().filter(|c| !c.is_empty()) {
        command = Some(cmd.clone());
    }
    if let Some(ep) = &run.entrypoint {
        entrypoint = Some(ep.clone());
        if run.command.as_ref().is_none_or(|c| c.is_empty()) {
            command = Some(Vec::new());
        }
    }
    let image_cmd = image.and_then(|c| c.cmd().clone()).unwrap_or_default();
    let image_ep = image
        .and_then(|c| c.entrypoint().clone())
        .unwrap_or_default();
    if entrypoint.as_ref().is_none_or(|e| e.is_empty()) {
        let command = match command {
            Some(c) if !c.is_empty() => c,
            _ => image_cmd,
        };
        let entrypoint = entrypoint.unwrap_or(image_ep);
        (entrypoint, command)
    } else {
        (entrypoint.unwrap_or_default(), command.unwrap_or_default())
    }
}

fn env_key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(k, _)| k)
}

/// The process environment, by Docker's rules (see the module documentation).
fn environment(
    svc: &ServiceConfig,
    run: &OneOffOverrides,
    image: Option<&oci_spec::image::Config>,
    hostname: &str,
    tty: bool,
) -> Vec<String> {
    // The container config's Env: the service's (with `run -e` overriding), then the image's
    // entries for variables the service does not mention.
    let mut service_env: IndexMap<String, Option<String>> = svc.environment.clone();
    for e in &run.env {
        match e.split_once('=') {
            Some((k, v)) => service_env.insert(k.to_string(), Some(v.to_string())),
            None => service_env.insert(e.clone(), None),
        };
    }
    let mut config_env: Vec<String> = service_env
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect();
    for e in image.and_then(|c| c.env().as_ref()).into_iter().flatten() {
        if !service_env.contains_key(env_key(e)) {
            config_env.push(e.clone());
        }
    }

    // Docker's defaults, replaced in place, extended, or removed (entry without `=`).
    let mut env: Vec<Option<String>> = vec![
        Some(format!("PATH={DEFAULT_PATH}")),
        Some(format!("HOSTNAME={hostname}")),
    ];
    if tty {
        env.push(Some("TERM=xterm".to_string()));
    }
    for e in config_env {
        let key = env_key(&e).to_string();
        let pos = env
            .iter()
            .position(|x| x.as_deref().is_some_and(|x| env_key(x) == key));
        match (e.contains('='), pos) {
            (false, Some(i)) => env[i] = None,
            (false, None) => {}
            (true, Some(i)) => env[i] = Some(e),
            (true, None) => env.push(Some(e)),
        }
    }
    env.into_iter().flatten().collect()
}

/// Parsed `security_opt`.
struct Security {
    no_new_privileges: bool,
    seccomp: SeccompChoice,
    unconfined_systempaths: bool,
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" => Some(true),
        "0" | "f" | "false" => Some(false),
        _ => None,
    }
}

fn security_options(opts: &[String], ctx: &Ctx) -> Result<Security, SpecError> {
    let mut sec = Security {
        no_new_privileges: false,
        seccomp: SeccompChoice::Default,
        unconfined_systempaths: false,
    };
    for opt in opts {
        let (key, value) = match opt.split_once(['=', ':']) {
            Some((k, v)) => (k, Some(v)),
            None => (opt.as_str(), None),
        };
        let bad = || ctx.err(format!("invalid security_opt {opt:?}"));
        match (key, value) {
            ("no-new-privileges", None) => sec.no_new_privileges = true,
            ("no-new-privileges", Some(v)) => {
                sec.no_new_privileges = parse_bool(v).ok_or_else(bad)?
            }
            ("seccomp", Some("unconfined")) => sec.seccomp = SeccompChoice::Unconfined,
            ("seccomp", Some("builtin")) => sec.seccomp = SeccompChoice::Default,
            ("seccomp", Some(path)) if !path.is_empty() => {
                sec.seccomp = SeccompChoice::File(PathBuf::from(path))
            }
            // SELinux labels: no SELinux support, nothing to do.
            ("label", Some(_)) => {}
            // AppArmor: accepted, not enforced (no AppArmor support).
            ("apparmor", Some(_)) => {}
            ("systempaths", Some("unconfined")) => sec.unconfined_systempaths = true,
            _ => return Err(bad()),
        }
    }
    Ok(sec)
}

fn path_depth(p: &str) -> usize {
    Path::new(p)
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .count()
}

/// `/run:size=64m,mode=1777` (Docker's `--tmpfs` syntax); Docker's `noexec` comes before the
/// options given (see [`crate::engine::runtime::tmpfs`]).
fn parse_tmpfs(entry: &str, ctx: &Ctx) -> Result<MountSpec, SpecError> {
    let (dest, opts) = entry.split_once(':').unwrap_or((entry, ""));
    let (mut size, mut mode, mut read_only) = (None, None, false);
    let mut options = vec!["noexec".to_string()];
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        let bad = |why: String| ctx.err(format!("invalid tmpfs {entry:?}: {why}"));
        match opt.split_once('=') {
            Some(("size", v)) => {
                let b: ByteSize = v.parse().map_err(|e| bad(format!("{e}")))?;
                size = Some(b.0 as u64);
            }
            Some(("mode", v)) => {
                mode = Some(
                    u32::from_str_radix(v, 8)
                        .ok()
                        .filter(|m| *m <= 0o7777)
                        .ok_or_else(|| bad(format!("invalid mode {v:?}")))?,
                )
            }
            None if opt == "ro" => read_only = true,
            _ => {
                crate::engine::runtime::tmpfs::check(opt).map_err(bad)?;
                options.push(opt.to_string());
            }
        }
    }
    Ok(MountSpec {
        kind: MountKind::Tmpfs {
            size,
            mode,
            options,
        },
        destination: dest.to_string(),
        read_only,
        create_source: false,
    })
}

fn volume_mount(
    v: &ServiceVolume,
    input: &ContainerInput,
    anon: &mut usize,
    ctx: &Ctx,
) -> Result<MountSpec, SpecError> {
    let bind =
        |source: PathBuf, propagation: Option<String>, recursive: bool, create: bool| MountSpec {
            kind: MountKind::Bind {
                source,
                propagation,
                recursive,
            },
            destination: v.target.clone(),
            read_only: v.read_only,
            create_source: create,
        };
    let volume = |volume: PathBuf, subpath: Option<String>, copy: bool, create: bool| MountSpec {
        kind: MountKind::Volume {
            volume,
            subpath,
            copy,
        },
        destination: v.target.clone(),
        read_only: v.read_only,
        create_source: create,
    };
    match v.kind {
        VolumeType::Bind => {
            let source = v.source.clone().unwrap_or_default();
            if !source.starts_with('/') {
                return Err(ctx.err(format!(
                    "bind mount source {source:?} for {} must be an absolute path",
                    v.target
                )));
            }
            let opts = v.bind.as_ref();
            let create = opts.and_then(|b| b.create_host_path).unwrap_or(false);
            // A path inside a volume's data is container-written: it is resolved beneath the
            // volume like a subpath, never followed as a host path.
            if let Some((dir, subpath)) =
                crate::engine::spec::inside_volume(input.volumes_dir, Path::new(&source))
                    .map_err(|m| ctx.err(format!("bind mount source {source:?}: {m}")))?
            {
                if let Some(p) = opts.and_then(|b| b.propagation.as_deref()) {
                    return Err(ctx.err(format!(
                        "bind mount source {source:?} lies inside a volume: bind.propagation \
                         {p:?} is not supported there, mount the volume instead"
                    )));
                }
                return Ok(volume(dir, subpath, false, create));
            }
            // Refused here, before the container exists, as Docker refuses it at creation
            // (the runtime would fail only when the container starts).
            if !create && !Path::new(&source).exists() {
                return Err(ctx.err(format!(
                    "bind mount source path {source} does not exist (mount at {}): create it, \
                     or set bind.create_host_path: true",
                    v.target
                )));
            }
            let recursive = !matches!(opts.and_then(|b| b.recursive.as_deref()), Some("disabled"));
            Ok(bind(
                PathBuf::from(source),
                opts.and_then(|b| b.propagation.clone()),
                recursive,
                create,
            ))
        }
        VolumeType::Volume => {
            let dir = match v.source.as_deref().filter(|s| !s.is_empty()) {
                Some(key) => {
                    let name = match input.volume_names.get(key) {
                        Some(n) => n.clone(),
                        None => super::volume_name::volume_name(input.project, key, None),
                    };
                    input.volumes_dir.join(name)
                }
                None => anonymous_volume(input, &v.target, anon),
            };
            let opts = v.volume.as_ref();
            let subpath = opts.and_then(|o| o.subpath.clone());
            if let Some(sub) = &subpath {
                if Path::new(sub).is_absolute()
                    || Path::new(sub)
                        .components()
                        .any(|c| matches!(c, std::path::Component::ParentDir))
                {
                    return Err(ctx.err(format!(
                        "volume subpath {sub:?} must be relative and stay inside the volume"
                    )));
                }
            }
            // Docker fills only the whole volume from the image, and not with `nocopy`.
            let copy = subpath.is_none() && !opts.is_some_and(|o| o.nocopy);
            Ok(volume(dir, subpath, copy, true))
        }
        VolumeType::Tmpfs => {
            let t = v.tmpfs.as_ref();
            let size = match t.and_then(|t| t.size) {
                Some(ByteSize(n)) if n < 0 => {
                    return Err(ctx.err(format!("tmpfs size {n} for {} is negative", v.target)))
                }
                Some(ByteSize(n)) => Some(n as u64),
                None => None,
            };
            Ok(MountSpec {
                kind: MountKind::Tmpfs {
                    size,
                    mode: t.and_then(|t| t.mode),
                    // Docker's default for every tmpfs (with nosuid,nodev).
                    options: vec!["noexec".to_string()],
                },
                destination: v.target.clone(),
                read_only: v.read_only,
                create_source: false,
            })
        }
        other => Err(ctx.err(format!(
            "volumes of type {other} are not supported (mount at {})",
            v.target
        ))),
    }
}

/// The directory of the anonymous volume at `destination`: the replaced container's one there,
/// else a new `<container id>-<n>`.
fn anonymous_volume(input: &ContainerInput, destination: &str, anon: &mut usize) -> PathBuf {
    let key = destination.trim_end_matches('/');
    let key = if key.is_empty() { "/" } else { key };
    if let Some(dir) = input.inherited_volumes.get(key) {
        return dir.clone();
    }
    *anon += 1;
    input
        .volumes_dir
        .join(format!("{}-{}", input.container_id, *anon))
}

pub use crate::engine::anon_volumes::is_own_anonymous_volume;

fn mounts_for(
    input: &ContainerInput,
    run: &OneOffOverrides,
    image: Option<&oci_spec::image::Config>,
    ctx: &Ctx,
) -> Result<Vec<MountSpec>, SpecError> {
    let mut anon = 0usize;
    let mut mounts = Vec::new();
    // `run -v` replaces a service mount at the same target.
    let extra = run
        .volumes
        .iter()
        .map(|s| mounts::parse_short(s).map_err(|e| ctx.err(format!("invalid volume {s:?}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let extra_targets: HashSet<&str> = extra.iter().map(|v| v.target.as_str()).collect();
    for v in input
        .service
        .volumes
        .iter()
        .filter(|v| !extra_targets.contains(v.target.as_str()))
        .chain(&extra)
    {
        mounts.push(volume_mount(v, input, &mut anon, ctx)?);
    }
    for t in &input.service.tmpfs {
        mounts.push(parse_tmpfs(t, ctx)?);
    }
    mounts.extend(input.file_mounts.iter().cloned());
    let mut seen = HashSet::new();
    for m in &mounts {
        if !m.destination.starts_with('/') {
            return Err(ctx.err(format!(
                "mount destination {:?} must be an absolute path",
                m.destination
            )));
        }
        if !seen.insert(m.destination.trim_end_matches('/').to_string()) {
            return Err(ctx.err(format!("duplicate mount point: {}", m.destination)));
        }
        proc_destination_allowed(m).map_err(|why| ctx.err(why))?;
    }
    for m in input.volumes_from {
        if seen.insert(m.destination.trim_end_matches('/').to_string()) {
            mounts.push(m.clone());
        }
    }
    // The image's VOLUMEs not covered by a mount get anonymous volumes, as with Docker.
    let mut image_volumes: Vec<String> =
        image.and_then(|c| c.volumes().clone()).unwrap_or_default();
    image_volumes.sort();
    for target in image_volumes {
        let clean = target.trim_end_matches('/');
        let clean = if clean.is_empty() { "/" } else { clean };
        if seen.insert(clean.to_string()) {
            if under_proc(clean) {
                return Err(ctx.err(format!(
                    "the image declares a VOLUME at {clean}: nothing may be mounted over the \
                     container's /proc"
                )));
            }
            mounts.push(MountSpec {
                kind: MountKind::Volume {
                    volume: anonymous_volume(input, clean, &mut anon),
                    subpath: None,
                    copy: true,
                },
                destination: clean.to_string(),
                read_only: false,
                create_source: true,
            });
        }
    }
    mounts.sort_by_key(|m| path_depth(&m.destination));
    Ok(mounts)
}

/// Files of /proc that a bind may cover (runc's list: what lxcfs provides, so that a container
/// sees its own limits there).
const PROC_BIND_ALLOWED: [&str; 10] = [
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// `dest` with `.`, `..` and repeated slashes resolved by its text, as the engine will resolve
/// it inside the container's root (where `..` stops at `/`).
fn lexical(dest: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in dest.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Whether `dest` is the container's /proc or lies beneath it.
fn under_proc(dest: &str) -> bool {
    let d = lexical(dest);
    d == "/proc" || d.starts_with("/proc/")
}

/// A mount over the container's /proc is refused, as runc refuses it: the engine's set-up
/// (masked paths, sysctls, descriptors reached through /proc/self/fd) and the container's
/// own tools rely on /proc being the kernel's, and a volume there is content a container
/// writes (runc CVE-2019-16884 / CVE-2019-19921 class). Binds of single files onto the few
/// that lxcfs provides stay allowed.
fn proc_destination_allowed(m: &MountSpec) -> Result<(), String> {
    if !under_proc(&m.destination) {
        return Ok(());
    }
    let clean = lexical(&m.destination);
    if matches!(m.kind, MountKind::Bind { .. }) && PROC_BIND_ALLOWED.contains(&clean.as_str()) {
        return Ok(());
    }
    Err(format!(
        "mount destination {}: nothing may be mounted over the container's /proc (only binds \
         onto {})",
        m.destination,
        PROC_BIND_ALLOWED.join(", ")
    ))
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
fn devices_for(
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

fn resources_for(svc: &ServiceConfig, ctx: &Ctx) -> Result<Resources, SpecError> {
    let bytes = |b: Option<ByteSize>| b.map(|b| b.0).filter(|n| *n != 0);
    let mut r = Resources {
        memory_limit: bytes(svc.mem_limit),
        memory_reservation: bytes(svc.mem_reservation),
        memory_swap: bytes(svc.memswap_limit),
        memory_swappiness: None,
        cpu_shares: None,
        cpu_quota: svc.cpu_quota.filter(|q| *q != 0),
        cpu_period: None,
        cpuset_cpus: svc.cpuset.clone().filter(|s| !s.is_empty()),
        cpuset_mems: None,
        pids_limit: None,
        blkio_weight: None,
        ..Resources::default()
    };
    if let Some(s) = svc.mem_swappiness {
        if !(0..=100).contains(&s.0) {
            return Err(ctx.err(format!(
                "mem_swappiness {} is out of range: it must be between 0 and 100",
                s.0
            )));
        }
        r.memory_swappiness = Some(s.0 as u64);
    }
    match svc.cpu_shares {
        Some(s) if s < 0 => return Err(ctx.err(format!("cpu_shares {s} is negative"))),
        Some(s) if s > 0 => r.cpu_shares = Some(s as u64),
        _ => {}
    }
    match svc.cpu_period {
        Some(p) if p < 0 => return Err(ctx.err(format!("cpu_period {p} is negative"))),
        Some(p) if p > 0 => r.cpu_period = Some(p as u64),
        _ => {}
    }
    let mut pids = svc.pids_limit.filter(|p| *p != 0);
    let mut cpus = svc.cpus.filter(|c| *c != 0.0);
    if let Some(res) = svc.deploy.as_ref().map(|d| &d.resources) {
        if let Some(l) = &res.limits {
            if let Some(m) = bytes(l.memory) {
                r.memory_limit = Some(m);
            }
            if let Some(c) = l.cpus.filter(|c| *c != 0.0) {
                cpus = Some(c);
            }
            if let Some(p) = l.pids.filter(|p| *p > 0) {
                pids = Some(p);
            }
        }
        if let Some(m) = res.reservations.as_ref().and_then(|rv| bytes(rv.memory)) {
            r.memory_reservation = Some(m);
        }
    }
    // Docker's default: a memory limit without `memswap_limit` allows as much swap again.
    r.memory_swap = crate::engine::cgroups::convert::compose_memory_swap(
        r.memory_limit,
        bytes(svc.memswap_limit),
    );
    r.oom_kill_disable = svc.oom_kill_disable;
    r.cpu_rt_runtime = svc.cpu_rt_runtime.filter(|v| *v != 0);
    match svc.cpu_rt_period {
        Some(p) if p < 0 => return Err(ctx.err(format!("cpu_rt_period {p} is negative"))),
        Some(p) if p > 0 => r.cpu_rt_period = Some(p as u64),
        _ => {}
    }
    r.pids_limit = pids.map(|p| if p < 0 { -1 } else { p });
    if let Some(c) = cpus {
        // Docker's NanoCPUs: a quota over its fixed 100 ms period.
        if !(c.is_finite() && c > 0.0) {
            return Err(ctx.err(format!("cpus {c} must be a positive number")));
        }
        if r.cpu_quota.is_some() || r.cpu_period.is_some() {
            return Err(ctx.err(
                "conflicting options: cpus cannot be set together with cpu_quota or cpu_period",
            ));
        }
        r.cpu_period = Some(100_000);
        r.cpu_quota = Some((c * 100_000.0).round() as i64);
    }
    if let Some(b) = &svc.blkio_config {
        r.blkio_weight = b.weight.filter(|w| *w != 0);
        r.blkio_weight_device = b
            .weight_device
            .iter()
            .map(|w| (w.path.clone(), w.weight))
            .collect();
        let rates = |list: &[crate::model::types::service::ThrottleDevice]| -> Vec<(String, u64)> {
            list.iter()
                .map(|t| (t.path.clone(), t.rate.0.max(0) as u64))
                .collect()
        };
        r.blkio_throttle_read_bps = rates(&b.device_read_bps);
        r.blkio_throttle_write_bps = rates(&b.device_write_bps);
        r.blkio_throttle_read_iops = rates(&b.device_read_iops);
        r.blkio_throttle_write_iops = rates(&b.device_write_iops);
    }
    Ok(r)
}

/// Compose ulimit names and the kernel resources they set.
const RLIMITS: [(&str, &str); 16] = [
    ("as", "RLIMIT_AS"),
    ("core", "RLIMIT_CORE"),
    ("cpu", "RLIMIT_CPU"),
    ("data", "RLIMIT_DATA"),
    ("fsize", "RLIMIT_FSIZE"),
    ("locks", "RLIMIT_LOCKS"),
    ("memlock", "RLIMIT_MEMLOCK"),
    ("msgqueue", "RLIMIT_MSGQUEUE"),
    ("nice", "RLIMIT_NICE"),
    ("nofile", "RLIMIT_NOFILE"),
    ("nproc", "RLIMIT_NPROC"),
    ("rss", "RLIMIT_RSS"),
    ("rtprio", "RLIMIT_RTPRIO"),
    ("rttime", "RLIMIT_RTTIME"),
    ("sigpending", "RLIMIT_SIGPENDING"),
    ("stack", "RLIMIT_STACK"),
];

fn rlimits_for(svc: &ServiceConfig, ctx: &Ctx) -> Result<Vec<Rlimit>, SpecError> {
    let mut out = Vec::new();
    for (name, limit) in &svc.ulimits {
        let resource = RLIMITS
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.to_string())
            .ok_or_else(|| ctx.err(format!("invalid ulimit type: {name}")))?;
        let (soft, hard) = limit.limits();
        let value = |v: i64| -> Result<u64, SpecError> {
            match v {
                -1 => Ok(u64::MAX),
                v if v >= 0 => Ok(v as u64),
                v => Err(ctx.err(format!("ulimit {name}: invalid value {v}"))),
            }
        };
        let (soft, hard) = (value(soft)?, value(hard)?);
        if soft > hard {
            return Err(ctx.err(format!(
                "ulimit {name}: soft limit {soft} is above the hard limit {hard}"
            )));
        }
        out.push(Rlimit {
            resource,
            soft,
            hard,
        });
    }
    Ok(out)
}

/// The namespaced IPC sysctls (`kernel.*`) a container may set: runc's `validateSysctl` list.
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Why the sysctl `key` cannot be set in a container, if it cannot. Only sysctls of a
/// namespace the container has of its own may be written (runc's rule): the IPC ones,
/// `fs.mqueue.*`, and `net.*` unless the network is the host's (`host_network`). Everything else
/// (`vm.*`, `kernel.panic`...) would change the host. `kernel.hostname` and `kernel.domainname`
/// have their own keys. The key must be dotted names only: it becomes a path under /proc/sys.
pub fn sysctl_refusal(key: &str, host_network: bool) -> Option<String> {
    if key
        .split('.')
        .any(|c| c.is_empty() || c.contains(['/', '\0']))
    {
        return Some("a sysctl is dot-separated names (such as net.ipv4.ip_forward), without `/` or empty parts".into());
    }
    if IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.") {
        return None;
    }
    if key.starts_with("net.") {
        return host_network
            .then(|| "it would change the host's network namespace (network_mode: host)".into());
    }
    if key == "kernel.hostname" || key == "kernel.domainname" {
        return Some(format!(
            "set `{}` instead",
            key.trim_start_matches("kernel.")
        ));
    }
    Some("it is not namespaced: only kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.* and net.* can be set per container".into())
}

/// Refuses `svc`'s sysctls that a container cannot set (see [`sysctl_refusal`]); `up` calls it
/// for every service before it changes anything, as the spec builder does for one container.
pub fn check_sysctls(service: &str, svc: &ServiceConfig) -> Result<(), SpecError> {
    let host_network = svc.network_mode.as_deref() == Some("host");
    for key in svc.sysctls.keys() {
        if let Some(why) = sysctl_refusal(key, host_network) {
            return Err(SpecError::Invalid {
                service: service.to_string(),
                message: format!("sysctl {key:?} is not allowed: {why}"),
            });
        }
    }
    Ok(())
}

fn sysctls_for(
    svc: &ServiceConfig,
    network: NetworkMode,
    ctx: &Ctx,
) -> Result<Vec<(String, String)>, SpecError> {
    let mut out = Vec::new();
    for (key, value) in &svc.sysctls {
        if let Some(why) = sysctl_refusal(key, network == NetworkMode::Host) {
            return Err(ctx.err(format!("sysctl {key:?} is not allowed: {why}")));
        }
        out.push((key.clone(), value.clone()));
    }
    Ok(out)
}

/// Signal names Linux knows, by number (1..=31).
const SIGNALS: [&str; 31] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

/// `TERM`, `sigterm`, `SIGTERM`, `15` -> `SIGTERM`; `SIGRTMIN+3`, `36` -> `SIGRTMIN+2`...
/// (the real-time range starts at 34 with glibc). `None` when unknown.
pub fn normalize_signal(s: &str) -> Option<String> {
    let up = s.trim().to_ascii_uppercase();
    if let Ok(n) = up.parse::<u32>() {
        return match n {
            1..=31 => Some(format!("SIG{}", SIGNALS[n as usize - 1])),
            34..=64 => Some(format!("SIGRTMIN+{}", n - 34)),
            _ => None,
        };
    }
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if SIGNALS.contains(&name) {
        return Some(format!("SIG{name}"));
    }
    let rt = |base: &str, sign: char, max: u32| -> Option<String> {
        let rest = name.strip_prefix(base)?;
        if rest.is_empty() {
            return Some(format!("SIG{base}"));
        }
        let n: u32 = rest.strip_prefix(sign)?.parse().ok()?;
        (n <= max).then(|| format!("SIG{base}{sign}{n}"))
    };
    rt("RTMIN", '+', 30).or_else(|| rt("RTMAX", '-', 30))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::runtime::user::LayerFiles;

    struct Fixture {
        _tmp: tempfile::TempDir,
        layers: Vec<PathBuf>,
        files: LayerFiles,
        volumes_dir: PathBuf,
        inherited: IndexMap<String, PathBuf>,
        host: HostInfo,
        names: IndexMap<String, String>,
    }

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn fixture() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let layer = tmp.path().join("l0");
        std::fs::create_dir_all(layer.join("etc")).unwrap();
        std::fs::write(
            layer.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            layer.join("etc/group"),
            "root:x:0:\nstaff:x:50:app\napp:x:1000:\n",
        )
        .unwrap();
        let layers = vec![layer];
        Fixture {
            files: LayerFiles::new(layers.clone()),
            layers,
            volumes_dir: tmp.path().join("volumes"),
            _tmp: tmp,
            host: HostInfo {
                last_cap: 40,
                kernel: (6, 1),
                hostname: "the-host".into(),
            },
            names: IndexMap::new(),
            inherited: IndexMap::new(),
        }
    }

    fn service(yaml: &str) -> ServiceConfig {
        serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
    }

    fn image(config: serde_json::Value) -> ImageConfiguration {
        serde_json::from_value(serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []},
            "config": config,
        }))
        .unwrap()
    }

    fn build_with(
        svc: &ServiceConfig,
        img: &ImageConfiguration,
        one_off: Option<&OneOffOverrides>,
    ) -> Result<ContainerSpec, SpecError> {
        let f = fixture();
        let (sources, whole_dev) = device_paths(svc);
        let devices = crate::engine::runtime::host_devices::gather(sources, whole_dev);
        build_container_spec(&ContainerInput {
            project: "proj",
            service_name: "web",
            service: svc,
            image: img,
            layers: &f.layers,
            rootfs_files: &f.files,
            container_id: ID,
            container_name: "proj-web-1",
            number: 1,
            volumes_dir: &f.volumes_dir,
            inherited_volumes: &f.inherited,
            volume_names: &f.names,
            one_off,
            host: &f.host,
            devices: &devices,
            host_gateway: None,
            join_container: None,
            file_mounts: &[],
            volumes_from: &[],
        })
        .map(|mut s| {
            // The fixture's paths differ per call: make them comparable.
            for m in &mut s.mounts {
                if let MountKind::Volume { volume, .. } = &mut m.kind {
                    if let Ok(rel) = volume.strip_prefix(&f.volumes_dir) {
                        *volume = Path::new("/VOL").join(rel);
                    }
                }
            }
            s.rootfs.layers.clear();
            s
        })
    }

    fn build(yaml: &str, img: serde_json::Value) -> Result<ContainerSpec, SpecError> {
        build_with(&service(yaml), &image(img), None)
    }

    fn err(yaml: &str) -> String {
        build(yaml, serde_json::json!({"Cmd": ["sh"]}))
            .unwrap_err()
            .to_string()
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn argv_combines_like_docker() {
        let img = serde_json::json!({"Entrypoint": ["/ep"], "Cmd": ["cmd", "arg"]});
        let cases: Vec<(&str, Option<OneOffOverrides>, Vec<&str>)> = vec![
            ("image: x", None, vec!["/ep", "cmd", "arg"]),
            ("command: run me", None, vec!["/ep", "run", "me"]),
            ("command: []", None, vec!["/ep", "cmd", "arg"]),
            // A service entrypoint resets the image's Cmd.
            ("entrypoint: /other", None, vec!["/other"]),
            (
                "entrypoint: /other\ncommand: [a]",
                None,
                vec!["/other", "a"],
            ),
            // `entrypoint: []` drops the image's entrypoint, keeps its Cmd.
            ("entrypoint: []", None, vec!["cmd", "arg"]),
            ("entrypoint: ''\ncommand: [x]", None, vec!["x"]),
            (
                "command: [a]",
                Some(OneOffOverrides {
                    command: Some(strs(&["b", "c"])),
                    ..Default::default()
                }),
                vec!["/ep", "b", "c"],
            ),
            // run --entrypoint without a command clears the service's command.
            (
                "command: [a]",
                Some(OneOffOverrides {
                    entrypoint: Some(strs(&["sh", "-c"])),
                    ..Default::default()
                }),
                vec!["sh", "-c"],
            ),
            (
                "command: [a]",
                Some(OneOffOverrides {
                    entrypoint: Some(vec![]),
                    command: Some(strs(&["ls"])),
                    ..Default::default()
                }),
                vec!["ls"],
            ),
        ];
        for (yaml, run, want) in cases {
            let got = build_with(&service(yaml), &image(img.clone()), run.as_ref()).unwrap();
            assert_eq!(got.process.args, strs(&want), "{yaml} {run:?}");
        }
        let e = build("entrypoint: []", serde_json::json!({"Entrypoint": ["/ep"]}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no command specified"), "{e}");
    }

    #[test]
    fn environment_like_docker() {
        let img = serde_json::json!({
            "Cmd": ["sh"],
            "Env": ["PATH=/img/bin", "A=image", "B=image", "GONE=image"],
        });
        let spec = build(
            "environment: {B: service, C: service, GONE: null, D: service}",
            img.clone(),
        )
        .unwrap();
        assert_eq!(
            spec.process.env,
            strs(&[
                "PATH=/img/bin",
                "HOSTNAME=0123456789ab",
                "B=service",
                "C=service",
                "D=service",
                "A=image",
                "HOME=/root",
            ])
        );
        let run = OneOffOverrides {
            env: strs(&["C=run", "E=run", "B"]),
            tty: Some(true),
            user: Some("app".into()),
            ..Default::default()
        };
        let spec = build_with(
            &service("environment: {C: service, HOME: /h}"),
            &image(serde_json::json!({"Cmd": ["sh"]})),
            Some(&run),
        )
        .unwrap();
        assert_eq!(
            spec.process.env,
            strs(&[
                &format!("PATH={DEFAULT_PATH}"),
                "HOSTNAME=0123456789ab",
                "TERM=xterm",
                "C=run",
                "HOME=/h",
                "E=run",
            ])
        );
        assert!(spec.process.terminal);
        // HOME from passwd for the user.
        let spec = build("user: app", img).unwrap();
        assert_eq!(spec.process.env.last().unwrap(), "HOME=/home/app");
    }

    /// `stdin_open` reaches the process spec; `run -i` applies over it, as Docker Compose's
    /// `run` does.
    #[test]
    fn stdin_open_from_the_service_or_run() {
        let img = || image(serde_json::json!({"Cmd": ["cat"]}));
        let spec = build_with(&service("image: x"), &img(), None).unwrap();
        assert!(!spec.process.stdin_open);
        let spec = build_with(&service("stdin_open: true"), &img(), None).unwrap();
        assert!(spec.process.stdin_open);
        let run = OneOffOverrides {
            stdin_open: Some(true),
            ..Default::default()
        };
        let spec = build_with(&service("image: x"), &img(), Some(&run)).unwrap();
        assert!(spec.process.stdin_open);
        let run = OneOffOverrides {
            stdin_open: Some(false),
            ..Default::default()
        };
        let spec = build_with(&service("stdin_open: true"), &img(), Some(&run)).unwrap();
        assert!(!spec.process.stdin_open);
    }

    #[test]
    fn user_workdir_hostname() {
        let img = serde_json::json!({"Cmd": ["sh"], "User": "app", "WorkingDir": "/srv"});
        let spec = build("image: x", img.clone()).unwrap();
        assert_eq!((spec.process.user.uid, spec.process.user.gid), (1000, 1000));
        assert_eq!(spec.process.user.additional_gids, vec![1000, 50]);
        assert_eq!(spec.process.cwd, "/srv");
        assert_eq!(spec.hostname, "0123456789ab");
        assert_eq!(spec.domainname, None);
        let spec = build(
            "user: '0:50'\nworking_dir: /w\nhostname: h\ndomainname: example.org",
            img.clone(),
        )
        .unwrap();
        assert_eq!((spec.process.user.uid, spec.process.user.gid), (0, 50));
        assert_eq!(spec.process.cwd, "/w");
        assert_eq!(spec.hostname, "h");
        assert_eq!(spec.domainname.as_deref(), Some("example.org"));
        let run = OneOffOverrides {
            user: Some("1234".into()),
            workdir: Some("/tmp".into()),
            ..Default::default()
        };
        let spec = build_with(&service("user: app"), &image(img), Some(&run)).unwrap();
        assert_eq!(spec.process.user.uid, 1234);
        assert_eq!(spec.process.cwd, "/tmp");
        let spec = build("image: x", serde_json::json!({"Cmd": ["sh"]})).unwrap();
        assert_eq!(spec.process.cwd, "/");
        assert_eq!(spec.process.user.uid, 0);
        assert_eq!(
            err("user: nobody"),
            "unable to find user nobody: no matching entries in passwd file"
        );
        assert!(err("working_dir: rel").contains("absolute"));
    }

    #[test]
    fn capabilities_and_security() {
        let img = serde_json::json!({"Cmd": ["sh"]});
        let spec = build("image: x", img.clone()).unwrap();
        let defaults = strs(&capabilities::DEFAULT_CAPABILITIES);
        assert_eq!(spec.process.capabilities.effective, defaults);
        assert!(spec.seccomp.is_some());
        assert!(!spec.process.no_new_privileges);
        assert_eq!(spec.masked_paths.len(), 13);
        assert!(spec.masked_paths.contains(&"/proc/kcore".to_string()));
        assert!(spec
            .masked_paths
            .contains(&"/sys/devices/system/cpu/cpu*/thermal_throttle".to_string()));
        assert_eq!(spec.readonly_paths, strs(&DOCKER_READONLY_PATHS));
        // Non-root: bounding only.
        let spec = build("user: app\ncap_add: [net_admin]", img.clone()).unwrap();
        assert!(spec.process.capabilities.effective.is_empty());
        assert!(spec
            .process
            .capabilities
            .bounding
            .contains(&"NET_ADMIN".to_string()));
        let spec = build(
            "security_opt: [no-new-privileges, 'seccomp=unconfined', 'label=disable', 'apparmor=x']",
            img.clone(),
        )
        .unwrap();
        assert!(spec.process.no_new_privileges);
        assert!(spec.seccomp.is_none());
        let spec = build("security_opt: ['no-new-privileges:false']", img.clone()).unwrap();
        assert!(!spec.process.no_new_privileges);
        let spec = build("privileged: true", img.clone()).unwrap();
        assert!(spec.privileged && spec.seccomp.is_none());
        assert!(spec.masked_paths.is_empty() && spec.readonly_paths.is_empty());
        assert_eq!(spec.process.capabilities.bounding.len(), 41);
        assert_eq!(spec.resources.device_rules, strs(&["a *:* rwm"]));
        let spec = build("security_opt: ['systempaths=unconfined']", img.clone()).unwrap();
        assert!(spec.masked_paths.is_empty());
        // A profile file.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.json");
        std::fs::write(
            &p,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mount"],"action":"SCMP_ACT_ERRNO"}]}"#,
        )
        .unwrap();
        let spec = build(&format!("security_opt: ['seccomp={}']", p.display()), img).unwrap();
        let default_spec = build("image: x", serde_json::json!({"Cmd": ["sh"]})).unwrap();
        assert!(spec.seccomp.is_some() && spec.seccomp != default_spec.seccomp);
        assert!(err("cap_add: [NOPE]").contains("unknown capability"));
        assert!(err("security_opt: [bogus]").contains("invalid security_opt"));
        assert!(err("security_opt: ['no-new-privileges=maybe']").contains("invalid"));
    }

    #[test]
    fn mounts_volumes_tmpfs() {
        let img = serde_json::json!({"Cmd": ["sh"], "Volumes": {"/data": {}, "/cache": {}}});
        let svc = service(
            "volumes:\n\
             - /host/src:/src:ro\n\
             - named:/data\n\
             - /anon\n\
             - {type: tmpfs, target: /scratch, tmpfs: {size: 1m, mode: 0o700}}\n\
             - {type: bind, source: /host/x, target: /src/x, bind: {propagation: rshared}}\n\
             tmpfs: ['/run:size=64m,mode=1777', /tmp]",
        );
        let run = OneOffOverrides {
            volumes: strs(&["/host/extra:/extra"]),
            ..Default::default()
        };
        let spec = build_with(&svc, &image(img), Some(&run)).unwrap();
        let got: Vec<(String, MountKind, bool)> = spec
            .mounts
            .iter()
            .map(|m| (m.destination.clone(), m.kind.clone(), m.read_only))
            .collect();
        let bind = |s: &str, prop: Option<&str>| MountKind::Bind {
            source: s.into(),
            propagation: prop.map(String::from),
            recursive: true,
        };
        let volume = |v: &str| MountKind::Volume {
            volume: v.into(),
            subpath: None,
            copy: true,
        };
        let want = vec![
            ("/src".to_string(), bind("/host/src", None), true),
            ("/data".into(), volume("/VOL/proj_named"), false),
            ("/anon".into(), volume(&format!("/VOL/{ID}-1")), false),
            (
                "/scratch".into(),
                MountKind::Tmpfs {
                    size: Some(1 << 20),
                    mode: Some(0o700),
                    options: vec!["noexec".into()],
                },
                false,
            ),
            ("/extra".into(), bind("/host/extra", None), false),
            (
                "/run".into(),
                MountKind::Tmpfs {
                    size: Some(64 << 20),
                    mode: Some(0o1777),
                    options: vec!["noexec".into()],
                },
                false,
            ),
            (
                "/tmp".into(),
                MountKind::Tmpfs {
                    size: None,
                    mode: None,
                    options: vec!["noexec".into()],
                },
                false,
            ),
            // The image's /cache VOLUME gets an anonymous volume; /data is covered.
            ("/cache".into(), volume(&format!("/VOL/{ID}-2")), false),
            ("/src/x".into(), bind("/host/x", Some("rshared")), false),
        ];
        assert_eq!(got, want);
        assert!(err("volumes: ['/a:/x', '/b:/x']").contains("duplicate mount point: /x"));
        assert!(err("tmpfs: ['/t:size=oops']").contains("invalid tmpfs"));
        assert!(err("tmpfs: ['/t:bogus']").contains("unknown option"));
        assert_eq!(
            build("shm_size: 1g", serde_json::json!({"Cmd": ["sh"]}))
                .unwrap()
                .shm_size,
            1 << 30
        );
        assert_eq!(
            build("image: x", serde_json::json!({"Cmd": ["sh"]}))
                .unwrap()
                .shm_size,
            DEFAULT_SHM_SIZE
        );
    }

    #[test]
    fn a_replacing_container_takes_the_anonymous_volumes_at_the_same_destinations() {
        let mut f = fixture();
        let old = f.volumes_dir.join("f".repeat(64) + "-1");
        f.inherited.insert("/data".into(), old.clone());
        let svc = service("volumes: [/data/, /other]");
        let img = image(serde_json::json!({"Cmd": ["sh"], "Volumes": {"/cache": {}}}));
        let spec = build_container_spec(&ContainerInput {
            project: "proj",
            service_name: "web",
            service: &svc,
            image: &img,
            layers: &f.layers,
            rootfs_files: &f.files,
            container_id: ID,
            container_name: "proj-web-1",
            number: 1,
            volumes_dir: &f.volumes_dir,
            inherited_volumes: &f.inherited,
            volume_names: &f.names,
            one_off: None,
            host: &f.host,
            devices: &DeviceFacts::default(),
            host_gateway: None,
            join_container: None,
            file_mounts: &[],
            volumes_from: &[],
        })
        .unwrap();
        let got: Vec<(&str, PathBuf)> = spec
            .mounts
            .iter()
            .filter_map(|m| match &m.kind {
                MountKind::Volume { volume, .. } => Some((m.destination.as_str(), volume.clone())),
                _ => None,
            })
            .collect();
        let own = |n: u32| f.volumes_dir.join(format!("{ID}-{n}"));
        assert_eq!(
            got,
            vec![
                ("/data", old.clone()),
                ("/other", own(1)),
                ("/cache", own(2))
            ]
        );
        assert!(is_own_anonymous_volume(&own(2), ID));
        assert!(!is_own_anonymous_volume(&old, ID));
        assert!(!is_own_anonymous_volume(
            &f.volumes_dir.join(format!("{ID}-")),
            ID
        ));
        assert!(!is_own_anonymous_volume(
            &f.volumes_dir.join(format!("{ID}-1x")),
            ID
        ));
    }

    #[test]
    fn volume_subpath_and_nocopy() {
        let img = serde_json::json!({"Cmd": ["sh"]});
        let spec = build(
            "volumes:\n\
             - {type: volume, source: named, target: /a, volume: {subpath: x/y}}\n\
             - {type: volume, source: named, target: /b, volume: {nocopy: true}}\n\
             - named:/c:nocopy",
            img,
        )
        .unwrap();
        let kinds: Vec<MountKind> = spec.mounts.iter().map(|m| m.kind.clone()).collect();
        let volume = |subpath: Option<&str>| MountKind::Volume {
            volume: "/VOL/proj_named".into(),
            subpath: subpath.map(String::from),
            copy: false,
        };
        assert_eq!(kinds, vec![volume(Some("x/y")), volume(None), volume(None)]);
        for bad in ["/abs", "a/../../b", ".."] {
            let e = err(&format!(
                "volumes: [{{type: volume, source: named, target: /a, volume: {{subpath: '{bad}'}}}}]"
            ));
            assert!(
                e.contains("must be relative and stay inside the volume"),
                "{e}"
            );
        }
    }

    #[test]
    fn nothing_is_mounted_over_proc_but_binds_of_lxcfs_files() {
        let m = |kind: MountKind, dest: &str| MountSpec {
            kind,
            destination: dest.into(),
            read_only: false,
            create_source: false,
        };
        let bind = || MountKind::Bind {
            source: "/var/lib/lxcfs/proc/meminfo".into(),
            propagation: None,
            recursive: true,
        };
        let vol = || MountKind::Volume {
            volume: "/v".into(),
            subpath: None,
            copy: true,
        };
        let tmpfs = || MountKind::Tmpfs {
            size: None,
            mode: None,
            options: Vec::new(),
        };
        for dest in [
            "/proc",
            "/proc/",
            "/proc/sys",
            "/x/../proc/self",
            "//proc/./1",
        ] {
            assert!(proc_destination_allowed(&m(vol(), dest)).is_err(), "{dest}");
            assert!(
                proc_destination_allowed(&m(tmpfs(), dest)).is_err(),
                "{dest}"
            );
            assert!(
                proc_destination_allowed(&m(bind(), dest)).is_err(),
                "{dest}"
            );
        }
        assert!(proc_destination_allowed(&m(bind(), "/proc/meminfo")).is_ok());
        assert!(proc_destination_allowed(&m(bind(), "/proc/./meminfo")).is_ok());
        assert!(proc_destination_allowed(&m(vol(), "/proc/meminfo")).is_err());
        for dest in ["/procedures", "/data/proc", "/"] {
            assert!(proc_destination_allowed(&m(vol(), dest)).is_ok(), "{dest}");
        }
        // In the Compose file, and in a hostile image's VOLUMEs.
        let e = err("volumes: ['data:/proc/sys']");
        assert!(e.contains("over the container's /proc"), "{e}");
        let img = serde_json::json!({"Cmd": ["sh"], "Volumes": {"/proc/self": {}}});
        let e = build("image: x", img).unwrap_err().to_string();
        assert!(e.contains("VOLUME at /proc/self"), "{e}");
    }

    #[test]
    fn a_bind_inside_a_volume_is_resolved_beneath_it() {
        let vols = Path::new("/var/lib/compose/volumes");
        let inside = |s: &str| crate::engine::spec::inside_volume(vols, Path::new(s));
        assert_eq!(inside("/srv/data"), Ok(None));
        assert_eq!(inside("/var/lib/compose/volumes/v"), Ok(None));
        assert_eq!(inside("/var/lib/compose/volumes/v/other/x"), Ok(None));
        assert_eq!(
            inside("/var/lib/compose/volumes/v/_data"),
            Ok(Some((vols.join("v"), None)))
        );
        assert_eq!(
            inside("/var/lib/compose/volumes//v/./_data/a/b/"),
            Ok(Some((vols.join("v"), Some("a/b".into()))))
        );
        assert!(inside("/var/lib/compose/volumes/v/_data/a/../..").is_err());
    }

    #[test]
    fn only_sysctls_of_the_containers_own_namespaces_are_allowed() {
        for key in [
            "kernel.msgmax",
            "kernel.sem",
            "kernel.shmmax",
            "kernel.shm_rmid_forced",
            "fs.mqueue.msg_max",
            "net.ipv4.ip_forward",
            "net.core.somaxconn",
        ] {
            assert_eq!(sysctl_refusal(key, false), None, "{key}");
        }
        assert_eq!(sysctl_refusal("kernel.shmmax", true), None);
        for (key, host) in [
            ("net.ipv4.ip_forward", true),
            ("vm.swappiness", false),
            ("kernel.panic", false),
            ("kernel.core_pattern", false),
            ("kernel.shm_next_id", false),
            ("kernel.hostname", false),
            ("kernel.domainname", false),
            ("fs.file-max", false),
            ("net", false),
            ("net./ipv4", false),
        ] {
            assert!(sysctl_refusal(key, host).is_some(), "{key}");
        }
        let svc =
            service("network_mode: host\nsysctls: {kernel.sem: '1', net.core.somaxconn: '1'}");
        let e = check_sysctls("web", &svc).unwrap_err().to_string();
        assert!(e.contains("web") && e.contains("net.core.somaxconn"), "{e}");
        assert!(check_sysctls("web", &service("sysctls: {net.core.somaxconn: '1'}")).is_ok());
    }

    #[test]
    fn limits_signals_sysctls_devices() {
        let img = serde_json::json!({"Cmd": ["sh"], "StopSignal": "SIGQUIT"});
        let spec = build(
            "ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 65535, core: -1}\n\
             sysctls: {net.core.somaxconn: '1024', kernel.shmmax: '1'}\n\
             oom_score_adj: -500\ninit: true\nread_only: true\n\
             devices: ['/dev/null:/dev/mynull:rw']",
            img.clone(),
        )
        .unwrap();
        assert_eq!(
            spec.process.rlimits,
            vec![
                Rlimit {
                    resource: "RLIMIT_NOFILE".into(),
                    soft: 1024,
                    hard: 2048
                },
                Rlimit {
                    resource: "RLIMIT_NPROC".into(),
                    soft: 65535,
                    hard: 65535
                },
                Rlimit {
                    resource: "RLIMIT_CORE".into(),
                    soft: u64::MAX,
                    hard: u64::MAX
                },
            ]
        );
        assert_eq!(spec.sysctls.len(), 2);
        assert_eq!(spec.process.oom_score_adj, Some(-500));
        assert!(spec.init && spec.rootfs.read_only);
        assert_eq!(spec.process.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(spec.devices.len(), 1);
        let d = &spec.devices[0];
        assert_eq!(
            (d.path.as_str(), d.kind, d.major, d.minor),
            ("/dev/mynull", 'c', 1, 3)
        );
        assert_eq!(d.permissions, "rw");
        assert_eq!(spec.resources.device_rules, strs(&["c 1:3 rw"]));
        let spec = build("stop_signal: usr1", img.clone()).unwrap();
        assert_eq!(spec.process.stop_signal.as_deref(), Some("SIGUSR1"));
        let spec = build("image: x", serde_json::json!({"Cmd": ["sh"]})).unwrap();
        assert_eq!(spec.process.stop_signal.as_deref(), Some("SIGTERM"));
        for (s, want) in [
            ("9", Some("SIGKILL")),
            ("SIGRTMIN+3", Some("SIGRTMIN+3")),
            ("36", Some("SIGRTMIN+2")),
            ("SIGNOPE", None),
            ("0", None),
        ] {
            assert_eq!(normalize_signal(s).as_deref(), want, "{s}");
        }
        assert!(err("sysctls: {vm.swappiness: '1'}").contains("not namespaced"));
        assert!(err("sysctls: {kernel.hostname: x}").contains("set `hostname` instead"));
        for bad in ["net/ipv4/ip_forward", "net..x", "net.ipv4.", ".net.x"] {
            let e = err(&format!("sysctls: {{'{bad}': '1'}}"));
            assert!(e.contains("dot-separated"), "{bad}: {e}");
        }
        assert!(
            err("network_mode: host\nsysctls: {net.core.somaxconn: '1'}")
                .contains("host's network namespace")
        );
        assert!(err("ulimits: {bogus: 1}").contains("invalid ulimit type: bogus"));
        // The model refuses soft > hard already; the planner checks again for hand-built input.
        let mut svc = service("image: x");
        svc.ulimits.insert(
            "nofile".into(),
            crate::model::types::ulimits::Ulimit::soft_hard(10, 5),
        );
        let e = build_with(&svc, &image(serde_json::json!({"Cmd": ["sh"]})), None);
        assert!(e.unwrap_err().to_string().contains("above the hard"));
        assert!(err("oom_score_adj: 1001").contains("out of range"));
        assert!(err("devices: ['/nonexistent-compose-test']").contains("/nonexistent"));
        assert!(err("devices: ['/etc/hostname']").contains("not a character or block"));
        assert!(err("devices: ['/dev/null:/dev/null:rwx']").contains("invalid permissions"));
    }

    #[test]
    fn dns_and_extra_hosts() {
        let s = build(
            "dns: [1.1.1.1]\ndns_search: [svc.local]\ndns_opt: [ndots:2]\nextra_hosts: ['db:10.0.0.5', 'v6=[::1]']\n",
            serde_json::json!({"Cmd": ["sh"]}),
        )
        .unwrap();
        assert_eq!(s.dns, strs(&["1.1.1.1"]));
        assert_eq!(s.dns_search, strs(&["svc.local"]));
        assert_eq!(s.dns_options, strs(&["ndots:2"]));
        assert_eq!(
            s.extra_hosts,
            vec![
                ("db".to_string(), "10.0.0.5".to_string()),
                ("v6".to_string(), "::1".to_string())
            ]
        );
        assert_eq!(
            err("extra_hosts: ['gw:host-gateway']"),
            "service web: extra_hosts gw=host-gateway needs a network gateway, and this container has no network"
        );
    }

    #[test]
    fn secrets_and_volumes_from_join_the_mounts() {
        let f = fixture();
        let svc = service("volumes: ['/host/a:/own']");
        let img = image(serde_json::json!({"Cmd": ["sh"], "Volumes": {"/shared": {}}}));
        let bind = |src: &str, dest: &str| MountSpec {
            kind: MountKind::Bind {
                source: src.into(),
                propagation: None,
                recursive: true,
            },
            destination: dest.into(),
            read_only: true,
            create_source: false,
        };
        let build = |files: &[MountSpec], from: &[MountSpec]| {
            build_container_spec(&ContainerInput {
                project: "proj",
                service_name: "web",
                service: &svc,
                image: &img,
                layers: &f.layers,
                rootfs_files: &f.files,
                container_id: ID,
                container_name: "proj-web-1",
                number: 1,
                volumes_dir: &f.volumes_dir,
                inherited_volumes: &f.inherited,
                volume_names: &f.names,
                one_off: None,
                host: &f.host,
                devices: &DeviceFacts::default(),
                host_gateway: None,
                join_container: None,
                file_mounts: files,
                volumes_from: from,
            })
        };
        let spec = build(
            &[bind("/c/files/0", "/run/secrets/s")],
            &[
                bind("/other/own", "/own"),
                bind("/other/shared", "/shared/"),
            ],
        )
        .unwrap();
        let got: Vec<(&str, &MountKind)> = spec
            .mounts
            .iter()
            .map(|m| (m.destination.as_str(), &m.kind))
            .collect();
        // The service's own /own wins; /shared comes from the other container, so the image's
        // VOLUME there gets no anonymous volume.
        assert_eq!(got.len(), 3);
        assert!(
            matches!(got[0], ("/own", MountKind::Bind { source, .. }) if source == Path::new("/host/a"))
        );
        assert!(
            matches!(got[1], ("/shared/", MountKind::Bind { source, .. }) if source == Path::new("/other/shared"))
        );
        assert_eq!(got[2].0, "/run/secrets/s");
        // A secret where the service mounts something already is an error, as in Docker.
        let err = build(&[bind("/c/files/0", "/own")], &[]).unwrap_err();
        assert_eq!(err.to_string(), "service web: duplicate mount point: /own");
    }

    #[test]
    fn resources_from_service_and_deploy() {
        let img = serde_json::json!({"Cmd": ["sh"]});
        let spec = build(
            "mem_limit: 512m\nmem_reservation: 128m\nmemswap_limit: -1\nmem_swappiness: 10\n\
             cpu_shares: 512\ncpus: 1.5\ncpuset: 0-1\npids_limit: 100\n\
             blkio_config: {weight: 300, device_read_bps: [{path: /dev/sda, rate: 1m}]}",
            img.clone(),
        )
        .unwrap();
        let r = &spec.resources;
        assert_eq!(r.memory_limit, Some(512 << 20));
        assert_eq!(r.memory_reservation, Some(128 << 20));
        assert_eq!(r.memory_swap, Some(-1));
        assert_eq!(r.memory_swappiness, Some(10));
        assert_eq!(r.cpu_shares, Some(512));
        assert_eq!((r.cpu_quota, r.cpu_period), (Some(150_000), Some(100_000)));
        assert_eq!(r.cpuset_cpus.as_deref(), Some("0-1"));
        assert_eq!(r.pids_limit, Some(100));
        assert_eq!(r.blkio_weight, Some(300));
        assert_eq!(
            r.blkio_throttle_read_bps,
            vec![("/dev/sda".to_string(), 1 << 20)]
        );
        let spec = build(
            "mem_limit: 512m\npids_limit: 100\n\
             deploy: {resources: {limits: {cpus: '0.5', memory: 1g, pids: 7}, reservations: {memory: 64m}}}",
            img.clone(),
        )
        .unwrap();
        let r = &spec.resources;
        assert_eq!(r.memory_limit, Some(1 << 30));
        // No memswap_limit: as much swap as memory (Docker's memory + swap = 2 x limit).
        assert_eq!(r.memory_swap, Some(2 << 30));
        assert_eq!(r.memory_reservation, Some(64 << 20));
        assert_eq!(r.pids_limit, Some(7));
        assert_eq!(r.cpu_quota, Some(50_000));
        let spec = build("cpu_quota: 20000\ncpu_period: 50000", img).unwrap();
        assert_eq!(
            (spec.resources.cpu_quota, spec.resources.cpu_period),
            (Some(20_000), Some(50_000))
        );
        assert!(err("cpus: 1\ncpu_quota: 1000").contains("conflicting"));
        let spec = build(
            "oom_kill_disable: true\ncpu_rt_runtime: 10ms\ncpu_rt_period: 500000",
            serde_json::json!({"Cmd": ["sh"]}),
        )
        .unwrap();
        let r = &spec.resources;
        assert!(r.oom_kill_disable);
        assert_eq!(
            (r.cpu_rt_runtime, r.cpu_rt_period),
            (Some(10_000), Some(500_000))
        );
        assert!(err("cpu_rt_period: -5").contains("cpu_rt_period -5 is negative"));
    }

    /// Builds `yaml` with `devices` as the host's device facts (no host is read).
    fn build_on(yaml: &str, devices: &DeviceFacts) -> Result<ContainerSpec, SpecError> {
        let f = fixture();
        let svc = service(yaml);
        let img = image(serde_json::json!({"Cmd": ["sh"]}));
        build_container_spec(&ContainerInput {
            project: "proj",
            service_name: "web",
            service: &svc,
            image: &img,
            layers: &f.layers,
            rootfs_files: &f.files,
            container_id: ID,
            container_name: "proj-web-1",
            number: 1,
            volumes_dir: &f.volumes_dir,
            inherited_volumes: &f.inherited,
            volume_names: &f.names,
            one_off: None,
            host: &f.host,
            devices,
            host_gateway: None,
            join_container: None,
            file_mounts: &[],
            volumes_from: &[],
        })
    }

    fn host_node(path: &str, major: u64, minor: u64) -> HostNode {
        HostNode {
            path: path.into(),
            block: false,
            major,
            minor,
            mode: 0o020666 | 0o1000,
            uid: 0,
            gid: 29,
        }
    }

    #[test]
    fn device_paths_are_the_absolute_sources_and_privileged_asks_for_dev() {
        let svc = service("devices: ['/dev/snd', 'vendor.com/gpu=all']\nprivileged: true");
        assert_eq!(device_paths(&svc), (vec!["/dev/snd"], true));
        assert_eq!(device_paths(&service("image: x")), (vec![], false));
    }

    #[test]
    fn devices_come_from_the_facts_the_stack_read() {
        let mut facts = DeviceFacts::default();
        facts.sources.insert(
            "/dev/snd".into(),
            Ok(DeviceSource::Dir(vec![
                host_node("/dev/snd/controlC0", 116, 1),
                host_node("/dev/snd/timer", 116, 33),
            ])),
        );
        facts.sources.insert(
            "/dev/fuse".into(),
            Ok(DeviceSource::Node(host_node("/dev/fuse", 10, 229))),
        );
        let spec = build_on("devices: ['/dev/snd:/dev/audio:r', '/dev/fuse']", &facts).unwrap();
        let got: Vec<(&str, u64, u64, u32, u32, &str)> = spec
            .devices
            .iter()
            .map(|d| {
                (
                    d.path.as_str(),
                    d.major,
                    d.minor,
                    d.file_mode,
                    d.gid,
                    d.permissions.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("/dev/audio/controlC0", 116, 1, 0o666, 29, "r"),
                ("/dev/audio/timer", 116, 33, 0o666, 29, "r"),
                ("/dev/fuse", 10, 229, 0o666, 29, "rwm"),
            ]
        );
        assert_eq!(
            spec.resources.device_rules,
            strs(&["c 116:1 r", "c 116:33 r", "c 10:229 rwm"])
        );
    }

    #[test]
    fn device_read_errors_and_unread_paths_fail_the_spec_with_the_path() {
        let mut facts = DeviceFacts::default();
        facts.sources.insert(
            "/dev/gone".into(),
            Err(crate::engine::runtime::host_devices::ReadError {
                path: "/dev/gone".into(),
                source: std::io::Error::from_raw_os_error(libc::ENOENT),
            }),
        );
        let e = build_on("devices: ['/dev/gone']", &facts)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("device /dev/gone: No such file"), "{e}");
        let e = build_on("devices: ['/dev/other']", &facts)
            .unwrap_err()
            .to_string();
        assert!(e.contains("device /dev/other: not read"), "{e}");
        let e = build_on("privileged: true", &facts)
            .unwrap_err()
            .to_string();
        assert!(e.contains("device /dev: not read"), "{e}");
    }

    #[test]
    fn a_privileged_container_gets_the_host_dev_and_the_host_network_its_name() {
        let facts = DeviceFacts {
            dev: Some(Ok(vec![
                host_node("/dev/kmsg", 1, 11),
                host_node("/dev/pts/0", 136, 0),
            ])),
            ..DeviceFacts::default()
        };
        let spec = build_on("privileged: true\nnetwork_mode: host", &facts).unwrap();
        let paths: Vec<&str> = spec.devices.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["/dev/kmsg"]);
        assert_eq!(spec.devices[0].file_mode, 0o1666);
        assert_eq!(spec.hostname, "the-host");
        assert_eq!(spec.resources.device_rules, strs(&["a *:* rwm"]));
    }
}
