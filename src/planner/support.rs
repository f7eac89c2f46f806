//! What this tool does with each key of a service: one table, [`SERVICE_KEYS`], that says for
//! every field of the service model whether it is applied, has no effect by design (as in
//! Docker Compose), is refused, is warned about, or is honoured in some forms and checked for
//! the others.
//!
//! The table is the single source of truth: [`check_service`] reads it to refuse or warn
//! before anything is created (`up`, `create`, `run`), and the guard test below walks every
//! field of the model and fails when one has no entry, so a key added to the model later cannot
//! be accepted and silently ignored. A key that is accepted and does nothing is worse than an
//! error: the stack runs, differently from what its author wrote.
//!
//! Deciding between an error and a warning: an error where the author relies on the key
//! (isolation, a runtime, a size limit, devices, a security profile: running without it would
//! be running something else, or something less confined); a one-line warning where skipping
//! it changes no result the author depends on (a scheduling weight the kernel cannot apply,
//! a refresh interval that is not applied).

use oci_spec::image::ImageConfiguration;
use serde_json::Value;

use crate::model::types::service::ServiceConfig;

/// What is done with one key.
#[derive(Debug, Clone, Copy)]
pub enum Support {
    /// Honoured; the text says by what.
    Applied(&'static str),
    /// No effect, as in Docker Compose (Swarm-only keys, metadata); the text says why.
    Inert(&'static str),
    /// Any use is an error: the author relies on it and it cannot be honoured.
    Refused(&'static str),
    /// Any use gives a one-line warning naming service and key: safe to skip.
    Warned(&'static str),
    /// Honoured in some forms; the check refuses or warns about the others.
    Checked(Check),
    /// A mapping whose sub-keys have entries of their own (`<path>.<key>`).
    Nested,
}

/// A check of the forms of a key: findings for `svc` on this host with this image.
pub type Check = fn(&ServiceConfig, &Facts) -> Vec<Finding>;

/// One key path (`deploy.resources.limits.cpus`; `[]` walks a list, `*` a mapping's values)
/// and what is done with it.
#[derive(Debug, Clone, Copy)]
pub struct KeyRule {
    pub path: &'static str,
    pub support: Support,
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Refused: nothing starts.
    Error { key: String, why: String },
    /// Said once, then the service runs without it.
    Warning { key: String, why: String },
}

/// A key of a service that cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("service {service}: {key}: {why}")]
pub struct SupportError {
    pub service: String,
    pub key: String,
    pub why: String,
}

/// What the checks need to know of the host, behind a seam so they are tested without root.
pub trait Host {
    /// Whether the cgroups can weight block I/O (CFQ/BFQ on v1, the io controller on v2).
    fn block_io_weight(&self) -> bool;
}

/// The facts a check looks at: the service's image (when resolved) and the host.
pub struct Facts<'a> {
    pub image: Option<&'a ImageConfiguration>,
    pub host: &'a dyn Host,
}

impl<'a> Facts<'a> {
    /// The facts for a service on this host, before its image is known (the image's checks
    /// wait for [`check_image`]).
    pub fn host() -> Facts<'a> {
        Facts {
            image: None,
            host: &RealHost,
        }
    }
}

/// The running host, asked only when a check needs it (nothing on the start path otherwise).
pub struct RealHost;

impl Host for RealHost {
    fn block_io_weight(&self) -> bool {
        crate::engine::cgroups::Layout::detect()
            .map(|l| l.block_io_weight())
            .unwrap_or(false)
    }
}

use Support::*;

/// Every key of a service, and what is done with it.
pub static SERVICE_KEYS: &[KeyRule] = &[
    rule("x-*", Inert("extensions are for the author's tools; Docker Compose ignores them too")),
    rule("profiles", Applied("model::profiles (which services are enabled)")),
    rule("annotations", Applied("stack::create records them; `inspect` shows them (HostConfig.Annotations)")),
    rule("attach", Applied("cli::logs (which services attached `up` follows)")),
    rule("build", Applied("stack::build: built when missing, with pull_policy build or --build; never with --no-build")),
    rule("develop", Inert("used only by `watch`/`up --watch`, which this tool does not accept; Docker Compose's plain `up` ignores it too")),
    rule("blkio_config", Nested),
    rule("blkio_config.weight", Checked(check_blkio_weight)),
    rule("blkio_config.weight_device", Checked(check_blkio_weight)),
    rule("blkio_config.device_read_bps", Applied("engine::cgroups (blkio throttle / io.max)")),
    rule("blkio_config.device_read_iops", Applied("engine::cgroups (blkio throttle / io.max)")),
    rule("blkio_config.device_write_bps", Applied("engine::cgroups (blkio throttle / io.max)")),
    rule("blkio_config.device_write_iops", Applied("engine::cgroups (blkio throttle / io.max)")),
    rule("cap_add", Applied("engine::runtime::caps")),
    rule("cap_drop", Applied("engine::runtime::caps")),
    rule("cgroup_parent", Applied("stack::create (the container cgroup under that parent)")),
    rule("cgroup", Applied("planner::namespaces (host or a private cgroup namespace)")),
    rule("cpu_count", Warned("Windows-only in Docker, not applied to Linux containers: use cpus")),
    rule("cpu_percent", Warned("Windows-only in Docker, not applied to Linux containers: use cpus")),
    rule("cpu_period", Applied("engine::cgroups (cpu.cfs_period_us / cpu.max)")),
    rule("cpu_quota", Applied("engine::cgroups (cpu.cfs_quota_us / cpu.max)")),
    rule("cpu_rt_period", Applied("engine::cgroups::rt (cpu.rt_period_us on v1; v2 refused)")),
    rule("cpu_rt_runtime", Applied("engine::cgroups::rt (cpu.rt_runtime_us on v1; v2 refused)")),
    rule("cpus", Applied("engine::cgroups (a quota over a 100 ms period)")),
    rule("cpuset", Applied("engine::cgroups (cpuset.cpus)")),
    rule("cpu_shares", Applied("engine::cgroups (cpu.shares / cpu.weight)")),
    rule("command", Applied("planner::container (argv)")),
    rule("configs", Applied("planner::secrets (read-only files at their target)")),
    rule("container_name", Applied("stack::create")),
    rule("credential_spec", Refused("credential specs (gMSA) exist only for Windows containers")),
    rule("depends_on", Nested),
    rule("depends_on.*.condition", Applied("stack::up waits for it")),
    rule("depends_on.*.restart", Applied("stack::restart_deps and planner::reconcile (dependents restarted with it)")),
    rule("depends_on.*.required", Applied("stack::start_order")),
    rule("depends_on.*.x-*", Inert("extensions")),
    rule("deploy", Nested),
    rule("deploy.mode", Inert("Swarm scheduling mode; Docker Compose runs `replicas` containers either way")),
    rule("deploy.replicas", Applied("stack::up (replicas)")),
    rule("deploy.labels", Inert("Swarm service labels; Docker Compose ignores them too")),
    rule("deploy.update_config", Inert("Swarm rolling updates; Docker Compose ignores them too")),
    rule("deploy.rollback_config", Inert("Swarm rollbacks; Docker Compose ignores them too")),
    rule("deploy.resources", Nested),
    rule("deploy.resources.limits", Nested),
    rule("deploy.resources.limits.cpus", Applied("planner::container (cpus)")),
    rule("deploy.resources.limits.memory", Applied("planner::container (mem_limit)")),
    rule("deploy.resources.limits.pids", Applied("planner::container (pids_limit)")),
    rule("deploy.resources.limits.devices", Refused("device requests (GPUs and other devices) are not supported yet")),
    rule("deploy.resources.limits.generic_resources", Inert("Swarm generic resources; Docker Compose ignores them too")),
    rule("deploy.resources.limits.x-*", Inert("extensions")),
    rule("deploy.resources.reservations", Nested),
    rule("deploy.resources.reservations.cpus", Inert("Docker has no CPU reservation for a container; Docker Compose ignores it too")),
    rule("deploy.resources.reservations.memory", Applied("planner::container (mem_reservation)")),
    rule("deploy.resources.reservations.pids", Inert("a reservation of pids means nothing to the kernel; Docker Compose ignores it too")),
    rule("deploy.resources.reservations.devices", Refused("device requests (GPUs and other devices) are not supported yet")),
    rule("deploy.resources.reservations.generic_resources", Inert("Swarm generic resources; Docker Compose ignores them too")),
    rule("deploy.resources.reservations.x-*", Inert("extensions")),
    rule("deploy.resources.x-*", Inert("extensions")),
    rule("deploy.restart_policy", Nested),
    rule("deploy.restart_policy.condition", Applied("stack::create (restart policy)")),
    rule("deploy.restart_policy.max_attempts", Applied("stack::create (restart policy)")),
    rule("deploy.restart_policy.delay", Inert("Swarm only: Docker Compose maps the policy to Docker's, which has no delay")),
    rule("deploy.restart_policy.window", Inert("Swarm only: Docker Compose maps the policy to Docker's, which has no window")),
    rule("deploy.restart_policy.x-*", Inert("extensions")),
    rule("deploy.placement", Inert("Swarm placement; Docker Compose ignores it too")),
    rule("deploy.endpoint_mode", Inert("Swarm service discovery mode; Docker Compose ignores it too")),
    rule("deploy.x-*", Inert("extensions")),
    rule("device_cgroup_rules", Applied("engine::cgroups (device rules)")),
    rule("devices", Applied("planner::container (device nodes and rules)")),
    rule("dns", Applied("engine::runtime::etc (resolv.conf)")),
    rule("dns_opt", Applied("engine::runtime::etc (resolv.conf)")),
    rule("dns_search", Applied("engine::runtime::etc (resolv.conf)")),
    rule("domainname", Applied("engine::runtime (UTS domain name)")),
    rule("entrypoint", Applied("planner::container (argv)")),
    rule("provider", Refused("provider services run an external plugin, which this tool does not support")),
    rule("environment", Applied("planner::container (environment)")),
    rule("env_file", Applied("model::normalize (read into environment)")),
    rule("expose", Applied("stack::expose (recorded, shown in ps PORTS)")),
    rule("extends", Applied("model::extends (merged at load)")),
    rule("external_links", Applied("stack::external_links (names resolved by the embedded DNS)")),
    rule("extra_hosts", Applied("engine::runtime::etc (/etc/hosts)")),
    rule("group_add", Applied("engine::runtime::user (supplementary groups)")),
    rule("gpus", Refused("GPUs are not supported yet (no device requests)")),
    rule("hostname", Applied("engine::runtime (UTS hostname)")),
    rule("healthcheck", Nested),
    rule("healthcheck.test", Applied("planner::health")),
    rule("healthcheck.timeout", Applied("planner::health")),
    rule("healthcheck.interval", Applied("planner::health")),
    rule("healthcheck.retries", Applied("planner::health")),
    rule("healthcheck.start_period", Applied("planner::health")),
    rule("healthcheck.start_interval", Applied("planner::health")),
    rule("healthcheck.disable", Applied("planner::health")),
    rule("healthcheck.x-*", Inert("extensions")),
    rule("image", Applied("stack::up (the stored image)")),
    rule("init", Applied("engine::runtime (init process)")),
    rule("ipc", Applied("planner::namespaces (host, private, none, service:, container:)")),
    rule("isolation", Checked(check_isolation)),
    rule("labels", Applied("stack::create (container labels)")),
    rule("label_file", Applied("model::normalize (read under labels at load, as env_file)")),
    rule("links", Applied("planner::network (aliases)")),
    rule("logging", Nested),
    rule("logging.driver", Applied("planner::health (json-file, local, none)")),
    rule("logging.options", Checked(check_log_options)),
    rule("logging.x-*", Inert("extensions")),
    rule("mem_limit", Applied("engine::cgroups (memory limit)")),
    rule("mem_reservation", Applied("engine::cgroups (soft limit)")),
    rule("memswap_limit", Applied("engine::cgroups (memsw / memory.swap.max)")),
    rule("mem_swappiness", Applied("engine::cgroups (memory.swappiness)")),
    rule("mac_address", Applied("planner::network (first network's MAC)")),
    rule("models", Refused("models need Docker Model Runner, which this tool does not provide")),
    rule("network_mode", Applied("planner::network")),
    rule("networks", Nested),
    rule("networks.*.aliases", Applied("planner::network (DNS names)")),
    rule("networks.*.driver_opts", Warned("endpoint driver options (such as com.docker.network.endpoint.sysctls) are not applied")),
    rule("networks.*.gw_priority", Applied("planner::network (default gateway choice)")),
    rule("networks.*.interface_name", Refused("interfaces are named eth0, eth1... in network order; another name cannot be given yet")),
    rule("networks.*.ipv4_address", Applied("planner::network (static address)")),
    rule("networks.*.ipv6_address", Applied("planner::network (static address)")),
    rule("networks.*.link_local_ips", Applied("engine::network (addresses on the interface)")),
    rule("networks.*.mac_address", Applied("planner::network")),
    rule("networks.*.priority", Applied("planner::network (connection order)")),
    rule("networks.*.x-*", Inert("extensions")),
    rule("oom_kill_disable", Applied("engine::cgroups (memory.oom_control on v1; warned on v2)")),
    rule("oom_score_adj", Applied("engine::runtime (oom_score_adj)")),
    rule("pid", Applied("planner::namespaces (host, service:, container:)")),
    rule("pids_limit", Applied("engine::cgroups (pids.max)")),
    rule("platform", Checked(check_platform)),
    rule("ports", Nested),
    rule("ports[].name", Inert("a name for people and tools; Docker Compose passes it nowhere either")),
    rule("ports[].mode", Inert("`ingress` is Swarm's routing mesh; without Swarm Docker Compose publishes on the host either way")),
    rule("ports[].host_ip", Applied("planner::network (published ports)")),
    rule("ports[].target", Applied("planner::network (published ports)")),
    rule("ports[].published", Applied("planner::network (published ports)")),
    rule("ports[].protocol", Applied("planner::network (published ports)")),
    rule("ports[].app_protocol", Inert("a hint for tools; Docker Compose passes it nowhere either")),
    rule("ports[].x-*", Inert("extensions")),
    rule("privileged", Applied("planner::container (capabilities, devices, paths)")),
    rule("pull_policy", Applied("stack::pull (planner::pull_policy decides; checked at load)")),
    rule("pull_refresh_after", Warned("not applied: `pull_policy: every_<duration>` sets how often an image is refreshed")),
    rule("read_only", Applied("engine::runtime::rootfs (read-only root)")),
    rule("restart", Applied("engine::supervisor (restart policy)")),
    rule("runtime", Checked(check_runtime)),
    rule("scale", Applied("stack::up (replicas)")),
    rule("secrets", Applied("planner::secrets (read-only files at /run/secrets)")),
    rule("security_opt", Checked(check_security_opt)),
    rule("shm_size", Applied("engine::runtime::rootfs (/dev/shm)")),
    rule("stdin_open", Applied("engine::runtime::stdio (a held stdin pipe)")),
    rule("stop_grace_period", Applied("stack (stop timeout)")),
    rule("stop_signal", Applied("planner::container (stop signal)")),
    rule("storage_opt", Refused("the overlay storage cannot limit a container's size")),
    rule("sysctls", Applied("engine::runtime (namespaced sysctls)")),
    rule("tmpfs", Applied("planner::container (tmpfs mounts)")),
    rule("tty", Applied("engine::runtime::stdio (a pseudo-terminal held by the monitor)")),
    rule("ulimits", Applied("planner::container (rlimits)")),
    rule("use_api_socket", Refused("there is no Docker API socket to give a container: this tool has no daemon")),
    rule("user", Applied("engine::runtime::user")),
    rule("userns_mode", Applied("planner::namespaces (host: what containers run in; other modes refused)")),
    rule("uts", Applied("planner::namespaces (host)")),
    rule("volumes", Nested),
    rule("volumes[].type", Checked(check_volume_type)),
    rule("volumes[].source", Applied("planner::container (mounts)")),
    rule("volumes[].target", Applied("planner::container (mounts)")),
    rule("volumes[].read_only", Applied("planner::container (mounts)")),
    rule("volumes[].consistency", Inert("a macOS file-sharing hint; Docker ignores it on Linux")),
    rule("volumes[].bind", Nested),
    rule("volumes[].bind.propagation", Applied("engine::runtime::rootfs (propagation)")),
    rule("volumes[].bind.create_host_path", Applied("planner::preflight (a missing source is refused)")),
    rule("volumes[].bind.selinux", Warned("SELinux relabelling (z/Z) is not done: this engine applies no SELinux labels")),
    rule("volumes[].bind.recursive", Checked(check_bind_recursive)),
    rule("volumes[].bind.x-*", Inert("extensions")),
    rule("volumes[].volume", Nested),
    rule("volumes[].volume.labels", Warned("labels of a volume made by a mount are not recorded")),
    rule("volumes[].volume.nocopy", Applied("planner::container (no copy from the image)")),
    rule("volumes[].volume.subpath", Applied("engine::runtime::rootfs (subpath beneath the volume)")),
    rule("volumes[].volume.x-*", Inert("extensions")),
    rule("volumes[].tmpfs", Nested),
    rule("volumes[].tmpfs.size", Applied("planner::container (tmpfs size)")),
    rule("volumes[].tmpfs.mode", Applied("planner::container (tmpfs mode)")),
    rule("volumes[].tmpfs.x-*", Inert("extensions")),
    rule("volumes[].image", Nested),
    rule("volumes[].image.subpath", Refused("image mounts (type: image) are not supported yet")),
    rule("volumes[].image.x-*", Inert("extensions")),
    rule("volumes[].x-*", Inert("extensions")),
    rule("volumes_from", Applied("planner::volumes_from")),
    rule("working_dir", Applied("planner::container (cwd)")),
    rule("pre_start", Refused("pre_start hooks are not supported yet")),
    rule("post_start", Applied("stack::hooks (run in the container after each start)")),
    rule("pre_stop", Applied("stack::hooks (run in the container before the stop signal)")),
];

const fn rule(path: &'static str, support: Support) -> KeyRule {
    KeyRule { path, support }
}

/// The entry for `path`, if the table has one.
pub fn rule_for(path: &str) -> Option<&'static KeyRule> {
    SERVICE_KEYS.iter().find(|r| r.path == path)
}

/// Refuses what cannot be honoured and returns the warnings (one line each, naming service and
/// key) for what is skipped, by [`SERVICE_KEYS`]. Called before anything is created.
pub fn check_service(
    name: &str,
    svc: &ServiceConfig,
    facts: &Facts,
) -> Result<Vec<String>, SupportError> {
    // The serialized form holds exactly the keys that are set (defaults are left out), under
    // the names the table uses.
    let tree = serde_json::to_value(svc).unwrap_or(Value::Null);
    let mut findings = Vec::new();
    for r in SERVICE_KEYS {
        match r.support {
            Refused(why) if is_set(&tree, r.path) => findings.push(Finding::Error {
                key: r.path.to_string(),
                why: why.to_string(),
            }),
            Warned(why) if is_set(&tree, r.path) => findings.push(Finding::Warning {
                key: r.path.to_string(),
                why: why.to_string(),
            }),
            Checked(check) if is_set(&tree, r.path) => {
                for f in check(svc, facts) {
                    if !findings.contains(&f) {
                        findings.push(f);
                    }
                }
            }
            _ => {}
        }
    }
    let mut warnings = Vec::new();
    for f in findings {
        match f {
            Finding::Error { key, why } => {
                return Err(SupportError {
                    service: name.to_string(),
                    key,
                    why,
                })
            }
            Finding::Warning { key, why } => warnings.push(format!("service {name}: {key}: {why}")),
        }
    }
    Ok(warnings)
}

/// The checks that need the service's image (`platform`), once it is resolved: a key refused
/// without the image is reported by [`check_service`] before the image is looked for.
pub fn check_image(
    name: &str,
    svc: &ServiceConfig,
    image: &ImageConfiguration,
) -> Result<(), SupportError> {
    let facts = Facts {
        image: Some(image),
        host: &RealHost,
    };
    match check_platform(svc, &facts).into_iter().next() {
        Some(Finding::Error { key, why }) => Err(SupportError {
            service: name.to_string(),
            key,
            why,
        }),
        _ => Ok(()),
    }
}

/// Whether `path` is set somewhere in `tree` (any list item, any mapping value for `*`).
fn is_set(tree: &Value, path: &str) -> bool {
    fn walk(v: &Value, parts: &[&str]) -> bool {
        let Some((first, rest)) = parts.split_first() else {
            return match v {
                Value::Null | Value::Bool(false) => false,
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
        };
        if *first == "*" {
            return match v {
                Value::Object(o) => o.values().any(|c| walk(c, rest)),
                _ => false,
            };
        }
        let (key, list) = match first.strip_suffix("[]") {
            Some(k) => (k, true),
            None => (*first, false),
        };
        match v.get(key) {
            Some(Value::Array(items)) if list => items.iter().any(|c| walk(c, rest)),
            Some(c) if !list => walk(c, rest),
            _ => false,
        }
    }
    let parts: Vec<&str> = path.split('.').collect();
    walk(tree, &parts)
}

fn error(key: &str, why: String) -> Finding {
    Finding::Error {
        key: key.to_string(),
        why,
    }
}

/// `runtime`: Docker's default runtime (runc, also named by its containerd shim) is what the
/// embedded engine does; any other (gVisor, Kata, nvidia) is a sandbox or device hook the
/// author relies on.
fn check_runtime(svc: &ServiceConfig, _: &Facts) -> Vec<Finding> {
    match svc.runtime.as_deref() {
        None | Some("" | "runc" | "io.containerd.runc.v2") => Vec::new(),
        Some(other) => vec![error(
            "runtime",
            format!(
                "{other:?} is not available: containers run on the embedded engine, which \
                 behaves as Docker's default runtime (runc, io.containerd.runc.v2)"
            ),
        )],
    }
}

/// `isolation`: Linux containers have only `default`; `process` and `hyperv` are Windows'.
fn check_isolation(svc: &ServiceConfig, _: &Facts) -> Vec<Finding> {
    match svc.isolation.as_deref() {
        None | Some("" | "default") => Vec::new(),
        Some(other) => vec![error(
            "isolation",
            format!("{other:?} is not supported: Linux containers have only `default` isolation"),
        )],
    }
}

/// Docker's spellings of architectures, as GOARCH names.
fn goarch(arch: &str) -> &str {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "i386" | "i686" => "386",
        other => other,
    }
}

/// Whether `image` is of platform `want` (`os[/arch[/variant]]`, Go's or the kernel's arch
/// names): the pull of a service with `platform:` skips a stored image only when it is.
pub fn platform_matches(want: &str, image: &ImageConfiguration) -> bool {
    let mut parts = want.split('/');
    let os = parts.next().unwrap_or_default().to_ascii_lowercase();
    let arch = parts
        .next()
        .map(|a| goarch(&a.to_ascii_lowercase()).to_string());
    let variant = parts.next().map(str::to_ascii_lowercase);
    os == image.os().to_string().to_ascii_lowercase()
        && arch
            .as_deref()
            .is_none_or(|a| a == goarch(&image.architecture().to_string()))
        && variant
            .as_deref()
            .is_none_or(|v| image.variant().as_deref() == Some(v))
}

/// `platform`: a stored image of another platform is pulled again for this one (stack::pull),
/// unless the pull policy forbids it; what is left is refused rather than run as something
/// else.
fn check_platform(svc: &ServiceConfig, facts: &Facts) -> Vec<Finding> {
    let Some(want) = svc.platform.as_deref().filter(|p| !p.is_empty()) else {
        return Vec::new();
    };
    let Some(image) = facts.image else {
        return Vec::new();
    };
    if platform_matches(want, image) {
        return Vec::new();
    }
    let have = match image.variant() {
        Some(v) => format!("{}/{}/{v}", image.os(), image.architecture()),
        None => format!("{}/{}", image.os(), image.architecture()),
    };
    vec![error(
        "platform",
        format!(
            "{want:?}: the stored image is {have} and has no such variant (its pull policy \
             does not let it be pulled for {want})"
        ),
    )]
}

/// `security_opt` `label=` and `apparmor=`: this engine applies no SELinux label and no
/// AppArmor profile. Options that ask for less confinement than a profile (`label=disable`,
/// `label=nested`, `apparmor=unconfined`) are what happens anyway; a label or a profile the
/// author names is confinement they rely on, so running without it is refused (fail closed),
/// never merely warned about.
fn check_security_opt(svc: &ServiceConfig, _: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for opt in &svc.security_opt {
        let Some((key, value)) = opt.split_once(['=', ':']) else {
            continue;
        };
        let why = match (key, value) {
            ("label", "disable" | "nested") | ("apparmor", "unconfined") => continue,
            ("label", _) => "SELinux labels are not applied by this engine; the container would \
                             run without the confinement asked for"
                .to_string(),
            ("apparmor", _) => "AppArmor profiles are not applied by this engine; the container \
                                would run without the confinement asked for"
                .to_string(),
            _ => continue,
        };
        out.push(error("security_opt", format!("{opt}: {why}")));
    }
    out
}

/// `blkio_config.weight`/`weight_device` need the CFQ or BFQ scheduler (cgroup v1) or the io
/// controller (v2); without them the weight is skipped with a warning, as Docker does.
fn check_blkio_weight(svc: &ServiceConfig, facts: &Facts) -> Vec<Finding> {
    let Some(b) = &svc.blkio_config else {
        return Vec::new();
    };
    if (b.weight.is_none_or(|w| w == 0) && b.weight_device.is_empty())
        || facts.host.block_io_weight()
    {
        return Vec::new();
    }
    vec![Finding::Warning {
        key: "blkio_config.weight".to_string(),
        why: "this kernel cannot weight block I/O (no CFQ/BFQ scheduler or io controller): \
              the weight is not applied"
            .to_string(),
    }]
}

/// `logging.options`: the log file's rotation (`max-size`, `max-file`) is applied; the other
/// options Docker's json-file and local drivers take (compression, extra attributes, the
/// non-blocking mode) shape the log without changing what the container does: warned about.
/// Options no driver takes are refused by `planner::health`.
fn check_log_options(svc: &ServiceConfig, _: &Facts) -> Vec<Finding> {
    let Some(logging) = &svc.logging else {
        return Vec::new();
    };
    logging
        .options
        .keys()
        .filter(|k| !matches!(k.as_str(), "max-size" | "max-file"))
        .map(|k| Finding::Warning {
            key: "logging.options".to_string(),
            why: format!("{k}: only max-size and max-file are applied to the log"),
        })
        .collect()
}

/// `volumes[].type`: binds, volumes and tmpfs are mounted; `image`, `npipe` (Windows) and
/// `cluster` (Swarm CSI) are refused here, before anything is created.
fn check_volume_type(svc: &ServiceConfig, _: &Facts) -> Vec<Finding> {
    use crate::model::types::mounts::VolumeType;
    svc.volumes
        .iter()
        .filter(|v| {
            !matches!(
                v.kind,
                VolumeType::Bind | VolumeType::Volume | VolumeType::Tmpfs
            )
        })
        .map(|v| {
            error(
                "volumes[].type",
                format!(
                    "{} (at {}): this kind of mount is not supported",
                    v.kind, v.target
                ),
            )
        })
        .collect()
}

/// `volumes[].bind.recursive`: `enabled` (the default) and `disabled` choose a recursive or a
/// plain bind, and `writable` is what a read-only bind is here (only the mount itself is
/// read-only); `readonly` asks that the mounts beneath be read-only too, which the engine does
/// not do yet: refused, since a writable submount where the author wrote read-only is a
/// hole they did not expect.
fn check_bind_recursive(svc: &ServiceConfig, _: &Facts) -> Vec<Finding> {
    svc.volumes
        .iter()
        .filter(|v| {
            v.bind
                .as_ref()
                .and_then(|b| b.recursive.as_deref())
                .is_some_and(|r| r == "readonly")
        })
        .map(|v| {
            error(
                "volumes[].bind.recursive",
                format!(
                    "readonly (at {}): recursively read-only binds are not supported yet \
                     (the mounts beneath would stay writable)",
                    v.target
                ),
            )
        })
        .collect()
}

#[cfg(test)]
#[path = "support_tests.rs"]
mod tests;
