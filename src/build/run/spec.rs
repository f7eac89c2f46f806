//! The step's container: its [`ContainerSpec`] as BuildKit would run a `RUN` (Docker's default
//! security unless privileged, hostname `buildkitsandbox`) and the in-memory record the
//! engine's [`Container`](crate::engine::container::Container) handle is made from.

use std::path::{Path, PathBuf};

use super::{RunStep, StepNetwork};
use crate::engine::cgroups::{CgroupMount, Layout};
use crate::engine::runtime::caps;
use crate::engine::runtime::host_devices::HostNode;
use crate::engine::runtime::seccomp::{self, SeccompChoice};
use crate::engine::spec::{
    ContainerSpec, MountSpec, NetworkMode, ProcessSpec, Resources, RootfsSpec, UserSpec,
};
use crate::engine::state::{ContainerRecord, RestartPolicy};
use crate::planner::container::{system_paths, DEFAULT_SHM_SIZE};

/// BuildKit's hostname for the containers of `RUN` steps.
pub(super) const HOSTNAME: &str = "buildkitsandbox";

/// Docker's `PATH` when the stage's environment has none (BuildKit adds it the same way).
pub(super) const DEFAULT_PATH: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the spec takes from the host, read once per step.
#[derive(Debug, Clone, Default)]
pub(super) struct HostFacts {
    pub last_cap: u8,
    pub kernel: (u32, u32),
    /// The host's /etc/resolv.conf ("" when it has none).
    pub resolv_conf: String,
    /// Every device of the host's /dev, for a privileged step.
    pub devices: Vec<HostNode>,
}

impl HostFacts {
    pub(super) fn gather(privileged: bool) -> Result<HostFacts, String> {
        let devices = match crate::engine::runtime::host_devices::gather(
            std::iter::empty::<&str>(),
            privileged,
        )
        .dev
        {
            Some(Ok(nodes)) => nodes,
            Some(Err(e)) => return Err(format!("reading the host's /dev: {e}")),
            None => Vec::new(),
        };
        Ok(HostFacts {
            last_cap: caps::kernel_last_cap().map_err(|e| e.to_string())?,
            kernel: seccomp::Target::running(&[]).kernel,
            resolv_conf: std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
            devices,
        })
    }
}

/// The container that runs `step` on `layers` (the stage's, or an empty one for scratch) as
/// `user`, with `mounts` (see [`super::mounts::prepare`]).
pub(super) fn container_spec(
    step: &RunStep,
    id: &str,
    layers: Vec<PathBuf>,
    user: UserSpec,
    mounts: Vec<MountSpec>,
    host: &HostFacts,
) -> Result<ContainerSpec, String> {
    if step.args.is_empty() {
        return Err("no command to run".into());
    }
    if !step.cwd.starts_with('/') {
        return Err(format!("WORKDIR {:?} is not an absolute path", step.cwd));
    }
    let privileged = step.privileged;
    let cap_list = caps::container_capabilities(&[], &[], privileged, host.last_cap)
        .map_err(|e| e.to_string())?;
    let seccomp = seccomp::filter_for(
        &SeccompChoice::Default,
        privileged,
        &seccomp::Target {
            capabilities: cap_list.clone(),
            kernel: host.kernel,
        },
    )
    .map_err(|e| format!("seccomp: {e}"))?;
    let (masked_paths, readonly_paths) = system_paths(privileged);
    let mut env = step.env.clone();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home.as_deref().unwrap_or("/")));
    }
    let (devices, device_rules) = if privileged {
        (
            crate::planner::host_devices::host_devices(&host.devices),
            vec!["a *:* rwm".to_string()],
        )
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(ContainerSpec {
        id: id.to_string(),
        name: format!("{}-build-{}", step.build, id.get(..12).unwrap_or(id)),
        hostname: HOSTNAME.to_string(),
        domainname: None,
        rootfs: RootfsSpec {
            layers,
            read_only: false,
        },
        mounts,
        process: ProcessSpec {
            args: step.args.clone(),
            env,
            cwd: step.cwd.clone(),
            capabilities: caps::process_capabilities(&cap_list, user.uid),
            user,
            terminal: false,
            stdin_open: false,
            no_new_privileges: false,
            rlimits: step.ulimits.to_vec(),
            oom_score_adj: None,
            stop_signal: None,
        },
        sysctls: Vec::new(),
        masked_paths,
        readonly_paths,
        devices,
        shm_size: step.shm_size.unwrap_or(DEFAULT_SHM_SIZE),
        init: false,
        network: match step.network {
            // On a network: its endpoint is connected to its own namespace once it exists.
            StepNetwork::None | StepNetwork::Bridge(_) => NetworkMode::Loopback,
            StepNetwork::Host => NetworkMode::Host,
        },
        resources: Resources {
            device_rules,
            ..Resources::default()
        },
        seccomp,
        privileged,
        dns: Vec::new(),
        dns_search: Vec::new(),
        dns_options: Vec::new(),
        extra_hosts: step.extra_hosts.to_vec(),
        namespaces: Default::default(),
    })
}

/// /etc/resolv.conf of the step: the host's as it is on the host's network (its loopback
/// resolvers answer there), the embedded resolver on an engine network, else the host's
/// without loopback resolvers, as for a container.
pub(super) fn resolv_conf(spec: &ContainerSpec, network: &StepNetwork, host: &str) -> String {
    use crate::engine::network::dns::RESOLVER_IP;
    match network {
        StepNetwork::Host if !host.trim().is_empty() => host.to_string(),
        StepNetwork::Bridge(_) => crate::engine::runtime::etc::resolv_conf_with_resolver(
            spec,
            host,
            &RESOLVER_IP.to_string(),
        ),
        _ => crate::engine::runtime::etc::resolv_conf(spec, host),
    }
}

/// The record the step's [`Container`](crate::engine::container::Container) handle is made
/// from. It is never written: no listing can see it, and nothing of it outlives the step. Its
/// project is empty (no Compose project can have that name) and its cgroup directory is the
/// state root's `build` group.
pub(super) fn record(
    spec: ContainerSpec,
    cgroup_parent: &str,
    root: &Path,
    layout: &Layout,
) -> ContainerRecord {
    let canonical = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    ContainerRecord {
        id: spec.id.clone(),
        name: spec.name.clone(),
        project: String::new(),
        service: String::new(),
        number: 0,
        one_off: true,
        config_hash: String::new(),
        image: String::new(),
        image_id: String::new(),
        created: crate::engine::fsutil::now_secs(),
        spec,
        cgroup_mounts: CgroupMount::for_layout(layout),
        cgroup_parent: cgroup_parent.to_string(),
        cgroup_project: crate::engine::cgroups::project_group(&canonical, "build"),
        endpoints: Vec::new(),
        ports: Vec::new(),
        expose: Vec::new(),
        dns: None,
        restart: RestartPolicy::No,
        stop_grace_period: 0,
        stop_signal: None,
        auto_remove: true,
        anonymous_volumes: Default::default(),
        labels: Default::default(),
        healthcheck: None,
        log_max_size: None,
        log_max_file: None,
        log_disabled: true,
        hooks: Default::default(),
        annotations: Default::default(),
        requested: Default::default(),
    }
}
