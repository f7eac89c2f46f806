//! `inspect`: a container as `docker inspect` shows it, for the fields this engine has. Built
//! from the container's record and its observed state only (no Compose file, no image store),
//! so it shows what the container is, not what the file says now.
//!
//! Where the record keeps a resolved form rather than what was asked for, the view says what
//! is in force: `CapAdd`/`CapDrop` against Docker's default set, `NanoCpus` from the CPU quota
//! over its period.

use std::collections::BTreeMap;
use std::path::Path;

use indexmap::IndexMap;
use serde::Serialize;

use crate::engine::network::link::format_mac;
use crate::engine::runtime::caps::DEFAULT_CAPABILITIES;
use crate::engine::spec::{MountKind, NetworkMode, VOLUME_DATA};
use crate::engine::state::{self, Observed, RestartPolicy, Status};

use super::{expose, StackError};

/// Go's zero time, which Docker prints for a time that never happened.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerView {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: StateView,
    pub image: String,
    pub name: String,
    pub restart_count: u32,
    pub config: ConfigView,
    pub host_config: HostConfigView,
    pub mounts: Vec<MountView>,
    pub network_settings: NetworkSettingsView,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateView {
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    /// Absent for a container without a healthcheck, as in Docker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthView>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthView {
    pub status: String,
    pub failing_streak: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigView {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub env: Vec<String>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub working_dir: String,
    pub image: String,
    pub labels: IndexMap<String, String>,
    pub stop_signal: String,
    /// `"80/tcp": {}` for every exposed or published port.
    pub exposed_ports: BTreeMap<String, Empty>,
    pub tty: bool,
    pub open_stdin: bool,
}

/// Docker's `{}` values in `ExposedPorts`.
#[derive(Debug, Clone, Serialize)]
pub struct Empty {}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfigView {
    pub annotations: IndexMap<String, String>,
    pub privileged: bool,
    pub readonly_rootfs: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub memory: i64,
    pub nano_cpus: i64,
    pub pids_limit: Option<i64>,
    pub shm_size: u64,
    pub restart_policy: RestartPolicyView,
    pub network_mode: String,
    pub port_bindings: BTreeMap<String, Vec<PortBinding>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicyView {
    pub name: String,
    pub maximum_retry_count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountView {
    #[serde(rename = "Type")]
    pub kind: String,
    /// The volume's name, for a volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub source: String,
    pub destination: String,
    #[serde(rename = "RW")]
    pub rw: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettingsView {
    pub networks: IndexMap<String, NetworkView>,
    /// Published ports with their bindings, exposed ones with `null`; empty unless running.
    pub ports: BTreeMap<String, Option<Vec<PortBinding>>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkView {
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    pub mac_address: String,
    pub aliases: Vec<String>,
    pub gateway: String,
}

/// Why names given to `inspect` select nothing.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("no such service or container: {0}")]
    NoSuch(String),
    #[error("{name} names more than one container: {ids}")]
    Ambiguous { name: String, ids: String },
    #[error(transparent)]
    Stack(#[from] StackError),
}

/// The containers of `project` that `names` select (a service, a container name, or an id or
/// a unique prefix of one), in name order; all of them when `names` is empty. A name that
/// selects nothing is an error unless it is one of `known_services` (a service that has no
/// container yet).
pub fn inspect(
    root: &Path,
    project: &str,
    names: &[String],
    known_services: &[String],
) -> Result<Vec<ContainerView>, InspectError> {
    let all = state::list(root, Some(project)).map_err(StackError::from)?;
    let mut chosen = vec![names.is_empty(); all.len()];
    for name in names {
        let mut hit: Vec<usize> = (all.iter().enumerate())
            .filter(|(_, o)| o.record.service == *name || o.record.name == *name)
            .map(|(i, _)| i)
            .collect();
        if hit.is_empty() && !name.is_empty() {
            hit = (all.iter().enumerate())
                .filter(|(_, o)| o.record.id.starts_with(name.as_str()))
                .map(|(i, _)| i)
                .collect();
            if hit.len() > 1 {
                let short = |id: &str| id.get(..12).unwrap_or(id).to_string();
                let ids: Vec<String> = hit.iter().map(|&i| short(&all[i].record.id)).collect();
                return Err(InspectError::Ambiguous {
                    name: name.clone(),
                    ids: ids.join(", "),
                });
            }
        }
        if hit.is_empty() && !known_services.contains(name) {
            return Err(InspectError::NoSuch(name.clone()));
        }
        for i in hit {
            chosen[i] = true;
        }
    }
    Ok((all.iter().zip(chosen))
        .filter(|(_, c)| *c)
        .map(|(o, _)| view(o, super::ops::is_paused(&o.record)))
        .collect())
}

/// The view of one container; `paused` from its freezer (read by the caller: the cgroup).
pub fn view(o: &Observed, paused: bool) -> ContainerView {
    let rec = &o.record;
    let st = &o.state;
    let spec = &rec.spec;
    let args = &spec.process.args;
    let split = rec.requested.entrypoint_len.min(args.len());
    let (entrypoint, cmd) = args.split_at(split);
    let running = st.status == Status::Running;
    let live = if running { st.pid.unwrap_or(0) } else { 0 };
    let status = if running && paused {
        "paused"
    } else {
        st.status.as_str()
    };

    let mut bindings: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
    for p in &rec.ports {
        let b = PortBinding {
            host_ip: p.host_ip.map(|i| i.to_string()).unwrap_or_default(),
            host_port: p.host_port.to_string(),
        };
        let list = bindings
            .entry(format!("{}/{}", p.container_port, p.protocol.name()))
            .or_default();
        // One per network in the record: the same binding is shown once.
        if !list.contains(&b) {
            list.push(b);
        }
    }
    let mut exposed: BTreeMap<String, Empty> = (expose::ports(&rec.expose).into_iter())
        .map(|(p, proto)| (format!("{p}/{proto}"), Empty {}))
        .collect();
    exposed.extend(bindings.keys().map(|k| (k.clone(), Empty {})));
    let ports = if running {
        (exposed.keys())
            .map(|k| (k.clone(), bindings.get(k).map(|b| live_bindings(b))))
            .collect()
    } else {
        BTreeMap::new()
    };

    let (cap_add, cap_drop) = if spec.privileged {
        (Vec::new(), Vec::new())
    } else {
        let have = &spec.process.capabilities.bounding;
        (
            (have.iter())
                .filter(|c| !DEFAULT_CAPABILITIES.contains(&c.as_str()))
                .cloned()
                .collect(),
            (DEFAULT_CAPABILITIES.iter())
                .filter(|c| !have.iter().any(|h| h == *c))
                .map(|c| c.to_string())
                .collect(),
        )
    };
    let res = &spec.resources;
    let nano_cpus = match (res.cpu_quota, res.cpu_period) {
        (Some(q), Some(p)) if q > 0 && p > 0 => q * 1_000_000_000 / p as i64,
        _ => 0,
    };
    let (restart_name, retries) = match rec.restart {
        RestartPolicy::No => ("no", 0),
        RestartPolicy::Always => ("always", 0),
        RestartPolicy::UnlessStopped => ("unless-stopped", 0),
        RestartPolicy::OnFailure(n) => ("on-failure", n.unwrap_or(0)),
    };
    let network_mode = match &spec.network {
        NetworkMode::Host => "host".to_string(),
        NetworkMode::Join { container, .. } => format!("container:{container}"),
        NetworkMode::Loopback => (rec.endpoints.first())
            .map(|e| e.network.clone())
            .unwrap_or_else(|| "none".into()),
    };

    ContainerView {
        id: rec.id.clone(),
        created: crate::engine::fsutil::format_rfc3339(rec.created),
        path: args.first().cloned().unwrap_or_default(),
        args: args.iter().skip(1).cloned().collect(),
        state: StateView {
            status: status.to_string(),
            running,
            paused: running && paused,
            restarting: st.status == Status::Restarting,
            oom_killed: st.oom_killed,
            dead: st.status == Status::Dead,
            pid: live,
            exit_code: st.exit_code.unwrap_or(0),
            error: st.error.clone().unwrap_or_default(),
            started_at: st.started_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
            finished_at: st.finished_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
            health: st.health.map(|h| HealthView {
                status: h.as_str().to_string(),
                failing_streak: st.failing_streak,
            }),
        },
        image: rec.image_id.clone(),
        name: format!("/{}", rec.name),
        restart_count: st.restart_count,
        config: ConfigView {
            hostname: spec.hostname.clone(),
            domainname: spec.domainname.clone().unwrap_or_default(),
            user: rec.requested.user.clone().unwrap_or_default(),
            env: spec.process.env.clone(),
            cmd: (!cmd.is_empty()).then(|| cmd.to_vec()),
            entrypoint: (!entrypoint.is_empty()).then(|| entrypoint.to_vec()),
            working_dir: spec.process.cwd.clone(),
            image: rec.image.clone(),
            labels: rec.labels.clone(),
            stop_signal: (rec.stop_signal.clone())
                .or_else(|| spec.process.stop_signal.clone())
                .unwrap_or_default(),
            exposed_ports: exposed,
            tty: spec.process.terminal,
            open_stdin: spec.process.stdin_open,
        },
        host_config: HostConfigView {
            annotations: rec.annotations.clone(),
            privileged: spec.privileged,
            readonly_rootfs: spec.rootfs.read_only,
            cap_add,
            cap_drop,
            memory: res.memory_limit.unwrap_or(0),
            nano_cpus,
            pids_limit: res.pids_limit,
            shm_size: spec.shm_size,
            restart_policy: RestartPolicyView {
                name: restart_name.into(),
                maximum_retry_count: retries,
            },
            network_mode,
            port_bindings: bindings,
        },
        mounts: spec.mounts.iter().map(mount_view).collect(),
        network_settings: NetworkSettingsView {
            networks: (rec.endpoints.iter())
                .map(|e| {
                    let ip = e.addresses.iter().find(|a| a.0.is_ipv4());
                    let gateway = (e.bridge.gateways.iter()).find(|g| g.0.is_ipv4());
                    let view = NetworkView {
                        ip_address: ip.map(|a| a.0.to_string()).unwrap_or_default(),
                        mac_address: e.mac.map(format_mac).unwrap_or_default(),
                        aliases: e.dns_names.clone(),
                        gateway: gateway.map(|g| g.0.to_string()).unwrap_or_default(),
                    };
                    (e.network.clone(), view)
                })
                .collect(),
            ports,
        },
    }
}

/// Docker's `NetworkSettings.Ports` says `0.0.0.0` where the binding has no address.
fn live_bindings(b: &[PortBinding]) -> Vec<PortBinding> {
    b.iter()
        .map(|p| PortBinding {
            host_ip: if p.host_ip.is_empty() {
                "0.0.0.0".into()
            } else {
                p.host_ip.clone()
            },
            host_port: p.host_port.clone(),
        })
        .collect()
}

fn mount_view(m: &crate::engine::spec::MountSpec) -> MountView {
    let (kind, name, source) = match &m.kind {
        MountKind::Bind { source, .. } => ("bind", None, source.display().to_string()),
        MountKind::Volume {
            volume, subpath, ..
        } => {
            let mut data = volume.join(VOLUME_DATA);
            if let Some(s) = subpath {
                data.push(s);
            }
            let name = volume.file_name().map(|n| n.to_string_lossy().into_owned());
            ("volume", name, data.display().to_string())
        }
        MountKind::Tmpfs { .. } => ("tmpfs", None, String::new()),
    };
    MountView {
        kind: kind.into(),
        name,
        source,
        destination: m.destination.clone(),
        rw: !m.read_only,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::network::nft::Protocol;
    use crate::engine::spec::{ContainerSpec, MountSpec};
    use crate::engine::state::{
        BridgeRef, ContainerRecord, Endpoint, PublishedPort, Requested, RunState,
    };

    fn record() -> ContainerRecord {
        let mut spec = ContainerSpec {
            hostname: "web".into(),
            shm_size: 64 << 20,
            ..ContainerSpec::default()
        };
        spec.process.args = vec!["/entry".into(), "serve".into(), "-v".into()];
        spec.process.env = vec!["A=1".into()];
        spec.process.cwd = "/srv".into();
        spec.process.capabilities.bounding = DEFAULT_CAPABILITIES
            .iter()
            .filter(|c| **c != "CHOWN")
            .map(|c| c.to_string())
            .chain(["NET_ADMIN".to_string()])
            .collect();
        spec.resources.cpu_quota = Some(50_000);
        spec.resources.cpu_period = Some(100_000);
        spec.resources.memory_limit = Some(1 << 20);
        spec.mounts = vec![
            MountSpec {
                kind: MountKind::Volume {
                    volume: "/r/volumes/p_data".into(),
                    subpath: None,
                    copy: true,
                },
                destination: "/data".into(),
                read_only: false,
                create_source: false,
            },
            MountSpec {
                kind: MountKind::Bind {
                    source: "/etc/site".into(),
                    propagation: None,
                    recursive: true,
                },
                destination: "/site".into(),
                read_only: true,
                create_source: false,
            },
        ];
        let port = |network: &str| PublishedPort {
            network: network.into(),
            bridge: "br".into(),
            protocol: Protocol::Tcp,
            host_ip: None,
            host_port: 8080,
            container_ip: "10.1.0.2".parse().expect("ip"),
            container_port: 80,
        };
        ContainerRecord {
            id: "a".repeat(64),
            name: "p-web-1".into(),
            project: "p".into(),
            service: "web".into(),
            number: 1,
            one_off: false,
            config_hash: String::new(),
            image: "busybox".into(),
            image_id: "sha256:1234".into(),
            created: 0,
            spec,
            cgroup_mounts: Vec::new(),
            cgroup_parent: String::new(),
            cgroup_project: String::new(),
            endpoints: vec![Endpoint {
                network: "p_default".into(),
                bridge: BridgeRef {
                    name: "br".into(),
                    mtu: None,
                    gateways: vec![("10.1.0.1".parse().expect("ip"), 24)],
                },
                host_if: "veth".into(),
                container_if: "eth0".into(),
                mac: Some([2, 0, 0, 0, 0, 1]),
                addresses: vec![("10.1.0.2".parse().expect("ip"), 24)],
                default_gateways: Vec::new(),
                dns_names: vec!["web".into(), "p-web-1".into()],
                link_local: Vec::new(),
            }],
            // The same binding recorded for two networks.
            ports: vec![port("p_default"), port("p_other")],
            expose: vec!["9000".into()],
            dns: None,
            restart: RestartPolicy::OnFailure(Some(3)),
            stop_grace_period: 10,
            stop_signal: None,
            auto_remove: false,
            anonymous_volumes: IndexMap::new(),
            labels: IndexMap::from([("l".to_string(), "v".to_string())]),
            healthcheck: None,
            log_max_size: None,
            log_max_file: None,
            log_disabled: false,
            hooks: Default::default(),
            annotations: IndexMap::from([("com.example.a".to_string(), "x".to_string())]),
            requested: Requested {
                user: Some("nobody".into()),
                entrypoint_len: 1,
            },
        }
    }

    fn json(o: &Observed, paused: bool) -> serde_json::Value {
        serde_json::to_value(view(o, paused)).expect("serializable")
    }

    #[test]
    fn a_running_container_is_shown_in_docker_inspects_shape() {
        let o = Observed {
            record: record(),
            state: RunState {
                status: Status::Running,
                pid: Some(42),
                started_at: Some("2026-01-01T00:00:00.5Z".into()),
                ..RunState::default()
            },
        };
        let v = json(&o, false);
        assert_eq!(v["Name"], "/p-web-1");
        assert_eq!(v["Path"], "/entry");
        assert_eq!(v["Args"], serde_json::json!(["serve", "-v"]));
        assert_eq!(v["State"]["Status"], "running");
        assert_eq!(v["State"]["Running"], true);
        assert_eq!(v["State"]["Pid"], 42);
        assert_eq!(v["State"]["FinishedAt"], ZERO_TIME);
        assert!(v["State"].get("Health").is_none(), "{v}");
        assert_eq!(v["Config"]["Entrypoint"], serde_json::json!(["/entry"]));
        assert_eq!(v["Config"]["Cmd"], serde_json::json!(["serve", "-v"]));
        assert_eq!(v["Config"]["User"], "nobody");
        assert_eq!(
            v["Config"]["ExposedPorts"],
            serde_json::json!({"80/tcp": {}, "9000/tcp": {}})
        );
        let hc = &v["HostConfig"];
        assert_eq!(hc["Annotations"], serde_json::json!({"com.example.a": "x"}));
        assert_eq!(hc["CapAdd"], serde_json::json!(["NET_ADMIN"]));
        assert_eq!(hc["CapDrop"], serde_json::json!(["CHOWN"]));
        assert_eq!(hc["NanoCpus"], 500_000_000);
        assert_eq!(hc["Memory"], 1 << 20);
        assert_eq!(hc["PidsLimit"], serde_json::Value::Null);
        assert_eq!(
            hc["RestartPolicy"],
            serde_json::json!({"Name": "on-failure", "MaximumRetryCount": 3})
        );
        assert_eq!(hc["NetworkMode"], "p_default");
        assert_eq!(
            hc["PortBindings"],
            serde_json::json!({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]})
        );
        assert_eq!(
            v["Mounts"],
            serde_json::json!([
                {"Type": "volume", "Name": "p_data", "Source": "/r/volumes/p_data/_data",
                 "Destination": "/data", "RW": true},
                {"Type": "bind", "Source": "/etc/site", "Destination": "/site", "RW": false},
            ])
        );
        let net = &v["NetworkSettings"]["Networks"]["p_default"];
        assert_eq!(net["IPAddress"], "10.1.0.2");
        assert_eq!(net["Gateway"], "10.1.0.1");
        assert_eq!(net["MacAddress"], "02:00:00:00:00:01");
        assert_eq!(
            v["NetworkSettings"]["Ports"],
            serde_json::json!({
                "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
                "9000/tcp": null,
            })
        );
        assert_eq!(json(&o, true)["State"]["Status"], "paused");
        assert_eq!(json(&o, true)["State"]["Paused"], true);
    }

    #[test]
    fn a_stopped_container_shows_its_exit_and_no_live_ports() {
        let mut rec = record();
        rec.requested = Requested::default();
        let o = Observed {
            record: rec,
            state: RunState {
                status: Status::Exited,
                pid: Some(42),
                exit_code: Some(3),
                oom_killed: true,
                health: Some(crate::engine::state::Health::Unhealthy),
                failing_streak: 2,
                ..RunState::default()
            },
        };
        let v = json(&o, true);
        assert_eq!(v["State"]["Status"], "exited");
        assert_eq!(v["State"]["Running"], false);
        assert_eq!(v["State"]["Paused"], false);
        assert_eq!(v["State"]["Pid"], 0);
        assert_eq!(v["State"]["ExitCode"], 3);
        assert_eq!(v["State"]["OOMKilled"], true);
        assert_eq!(
            v["State"]["Health"],
            serde_json::json!({"Status": "unhealthy", "FailingStreak": 2})
        );
        assert_eq!(v["NetworkSettings"]["Ports"], serde_json::json!({}));
        // A record from before `requested`: everything is the command, no user.
        assert_eq!(v["Config"]["Entrypoint"], serde_json::Value::Null);
        assert_eq!(
            v["Config"]["Cmd"],
            serde_json::json!(["/entry", "serve", "-v"])
        );
        assert_eq!(v["Config"]["User"], "");
    }

    #[test]
    fn names_select_by_service_container_name_or_unique_id_prefix() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        for (id, name, service) in [("ab", "p-web-1", "web"), ("ac", "p-db-1", "db")] {
            let mut rec = record();
            rec.id = format!("{id}{}", "0".repeat(62));
            rec.name = name.into();
            rec.service = service.into();
            state::write_record(root, &rec).expect("record");
        }
        let names = |args: &[&str], known: &[&str]| {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            let known: Vec<String> = known.iter().map(|s| s.to_string()).collect();
            inspect(root, "p", &args, &known)
                .map(|v| v.into_iter().map(|c| c.name).collect::<Vec<_>>())
        };
        assert_eq!(names(&[], &[]).expect("all"), ["/p-db-1", "/p-web-1"]);
        assert_eq!(names(&["web"], &[]).expect("service"), ["/p-web-1"]);
        assert_eq!(names(&["p-db-1"], &[]).expect("name"), ["/p-db-1"]);
        assert_eq!(names(&["ab"], &[]).expect("id prefix"), ["/p-web-1"]);
        assert!(matches!(
            names(&["a"], &[]),
            Err(InspectError::Ambiguous { .. })
        ));
        assert!(matches!(names(&["nosuch"], &[]), Err(InspectError::NoSuch(n)) if n == "nosuch"));
        // A service of the file without a container selects nothing, without an error.
        assert_eq!(
            names(&["cache"], &["cache"]).expect("known"),
            Vec::<String>::new()
        );
        // Another project's containers are never shown.
        assert!(inspect(root, "q", &[], &[]).expect("other").is_empty());
    }
}
