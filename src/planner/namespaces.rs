//! A service's PID, IPC, UTS and cgroup namespaces (`pid`, `ipc`, `uts`, `cgroup`) and its user
//! namespace (`userns_mode`), resolved into the container's [`Namespaces`]: its own, the host's,
//! or those of another container (`service:NAME` / `container:NAME`), whose id the caller finds.
//! Forms the engine cannot honour are refused by name rather than ignored.

use crate::engine::spec::{ContainerSpec, Namespaces, NsMode};
use crate::model::types::service::ServiceConfig;

/// Why a service's namespace settings cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("service {service}: {key}: {message}")]
pub struct NamespaceError {
    pub service: String,
    pub key: &'static str,
    pub message: String,
}

/// Another container named by a `service:` or `container:` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<'a> {
    Service(&'a str),
    Container(&'a str),
}

/// Sysctls that live in the IPC namespace: with a shared one they would change the host's or
/// the other container's.
const IPC_SYSCTLS: [&str; 4] = ["kernel.shm", "kernel.msg", "kernel.sem", "fs.mqueue."];

/// Sets `spec.namespaces` from the service, and what goes with it: with `uts: host` the
/// hostname is the host's (`host_name`, gathered by the caller: the planner makes no system
/// calls). `find` gives the id of the container a `service:`/`container:` form names, or why
/// there is none.
pub fn apply(
    spec: &mut ContainerSpec,
    service: &str,
    svc: &ServiceConfig,
    host_name: &str,
    find: &dyn Fn(Target) -> Result<String, String>,
) -> Result<(), NamespaceError> {
    let err = |key: &'static str, message: String| NamespaceError {
        service: service.to_string(),
        key,
        message,
    };
    let join = |key: &'static str, value: &str| -> Result<Option<NsMode>, NamespaceError> {
        let target = if let Some(s) = value.strip_prefix("service:") {
            Target::Service(s)
        } else if let Some(c) = value.strip_prefix("container:") {
            Target::Container(c)
        } else {
            return Ok(None);
        };
        let container = find(target).map_err(|m| err(key, format!("{value}: {m}")))?;
        Ok(Some(NsMode::Join {
            container,
            pid: None,
        }))
    };
    let mut ns = Namespaces::default();

    if let Some(v) = svc.pid.as_deref().filter(|v| !v.is_empty()) {
        ns.pid = match v {
            "host" => NsMode::Host,
            "private" => NsMode::Private,
            _ => join("pid", v)?.ok_or_else(|| {
                err(
                    "pid",
                    format!("{v:?} is not a PID mode: use host, service:NAME or container:NAME"),
                )
            })?,
        };
    }
    if let Some(v) = svc.ipc.as_deref().filter(|v| !v.is_empty()) {
        ns.ipc = match v {
            // Any container's IPC namespace may be joined here: `shareable` is `private`.
            "private" | "shareable" => NsMode::Private,
            "none" => {
                ns.no_shm = true;
                NsMode::Private
            }
            "host" => NsMode::Host,
            _ => join("ipc", v)?.ok_or_else(|| {
                err(
                    "ipc",
                    format!(
                        "{v:?} is not an IPC mode: use private, shareable, none, host, \
                         service:NAME or container:NAME"
                    ),
                )
            })?,
        };
    }
    if let Some(v) = svc.uts.as_deref().filter(|v| !v.is_empty()) {
        if v != "host" {
            return Err(err("uts", format!("{v:?} is not a UTS mode: use host")));
        }
        if svc.hostname.is_some() || svc.domainname.is_some() {
            return Err(err(
                "uts",
                "host cannot be combined with hostname or domainname (the host's name is used), \
                 as with Docker"
                    .into(),
            ));
        }
        ns.uts = NsMode::Host;
        spec.hostname = host_name.to_string();
        spec.domainname = None;
    }
    if let Some(v) = svc.cgroup.as_deref().filter(|v| !v.is_empty()) {
        ns.cgroup = match v {
            "host" => NsMode::Host,
            "private" => NsMode::Private,
            _ => {
                return Err(err(
                    "cgroup",
                    format!("{v:?} is not a cgroup mode: use host or private"),
                ))
            }
        };
    }
    // Containers never get a user namespace of their own here: `host` is what they have.
    if let Some(v) = svc
        .userns_mode
        .as_deref()
        .filter(|v| !v.is_empty() && *v != "host")
    {
        return Err(err(
            "userns_mode",
            format!(
                "{v:?} is not supported: containers run in the host's user namespace (only \
                 `host` can be honoured)"
            ),
        ));
    }
    if ns.ipc != NsMode::Private {
        if let Some((k, _)) = spec
            .sysctls
            .iter()
            .find(|(k, _)| IPC_SYSCTLS.iter().any(|p| k.starts_with(p)))
        {
            return Err(err(
                "sysctls",
                format!(
                    "{k} cannot be set with a shared IPC namespace (ipc: {}): it would change \
                     the other's",
                    svc.ipc.as_deref().unwrap_or_default()
                ),
            ));
        }
    }
    spec.namespaces = ns;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(yaml: &str) -> ServiceConfig {
        serde_yaml_ng::from_str(yaml).expect("service yaml")
    }

    fn find(t: Target) -> Result<String, String> {
        match t {
            Target::Service("db") => Ok("db-id".into()),
            Target::Container("other") => Ok("other-id".into()),
            _ => Err("no such container".into()),
        }
    }

    fn plan(yaml: &str) -> Result<ContainerSpec, NamespaceError> {
        let mut spec = ContainerSpec {
            hostname: "abc".into(),
            ..Default::default()
        };
        apply(&mut spec, "web", &svc(yaml), "the-host", &find).map(|()| spec)
    }

    fn joined(id: &str) -> NsMode {
        NsMode::Join {
            container: id.into(),
            pid: None,
        }
    }

    #[test]
    fn modes_map_to_namespaces() {
        let s = plan("image: x\npid: service:db\nipc: container:other\ncgroup: host\n").unwrap();
        assert_eq!(s.namespaces.pid, joined("db-id"));
        assert_eq!(s.namespaces.ipc, joined("other-id"));
        assert_eq!(s.namespaces.cgroup, NsMode::Host);
        assert_eq!(s.namespaces.uts, NsMode::Private);
        let s = plan("image: x\npid: host\nipc: none\nuserns_mode: host\n").unwrap();
        assert_eq!(s.namespaces.pid, NsMode::Host);
        assert!(s.namespaces.no_shm);
        let s = plan("image: x\nipc: shareable\n").unwrap();
        assert_eq!(s.namespaces, Namespaces::default());
    }

    #[test]
    fn uts_host_takes_the_hosts_name() {
        let s = plan("image: x\nuts: host\n").unwrap();
        assert_eq!(s.namespaces.uts, NsMode::Host);
        assert_eq!(s.hostname, "the-host");
        let e = plan("image: x\nuts: host\nhostname: h\n").unwrap_err();
        assert_eq!(e.key, "uts");
    }

    #[test]
    fn what_cannot_be_honoured_is_refused_by_key() {
        for (yaml, key) in [
            ("pid: weird", "pid"),
            ("pid: service:nosuch", "pid"),
            ("ipc: bogus", "ipc"),
            ("uts: private", "uts"),
            ("cgroup: other", "cgroup"),
            ("userns_mode: keep-id", "userns_mode"),
        ] {
            let e = plan(&format!("image: x\n{yaml}\n")).unwrap_err();
            assert_eq!(e.key, key, "{yaml}: {e}");
            assert!(e.to_string().starts_with("service web: "), "{e}");
        }
        let mut spec = ContainerSpec {
            sysctls: vec![("kernel.shmmax".into(), "1".into())],
            ..Default::default()
        };
        let e = apply(
            &mut spec,
            "web",
            &svc("image: x\nipc: host\n"),
            "the-host",
            &find,
        )
        .unwrap_err();
        assert_eq!(e.key, "sysctls");
    }
}
