//! The container's securityContext (`user`, `cap_add`/`cap_drop`, `privileged`, `read_only`,
//! `security_opt`) and the pod's (`group_add`, `sysctls`, which Kubernetes sets per pod).

use k8s_openapi::api::core::v1::{
    AppArmorProfile, Capabilities, PodSecurityContext, SELinuxOptions, SeccompProfile,
    SecurityContext, Sysctl,
};

use crate::kube::warning::Warnings;
use crate::model::types::service::ServiceConfig;

/// The sysctls Kubernetes 1.30 allows every pod (the kubelet's safe set); others must be
/// allowed on each node with `--allowed-unsafe-sysctls`.
const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.ping_group_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// The container's securityContext; `None` when the service sets nothing it holds.
pub fn container(svc: &ServiceConfig, name: &str, w: &mut Warnings) -> Option<SecurityContext> {
    let mut sc = SecurityContext::default();
    if let Some(user) = svc.user.as_deref().filter(|u| !u.is_empty()) {
        user_ids(user, &mut sc, name, w);
    }
    let caps = |list: &[String]| {
        let out: Vec<String> = list
            .iter()
            .map(|c| {
                let c = c.to_ascii_uppercase();
                c.strip_prefix("CAP_").map(str::to_string).unwrap_or(c)
            })
            .collect();
        (!out.is_empty()).then_some(out)
    };
    let (add, drop) = (caps(&svc.cap_add), caps(&svc.cap_drop));
    if add.is_some() || drop.is_some() {
        sc.capabilities = Some(Capabilities { add, drop });
    }
    sc.privileged = svc.privileged.then_some(true);
    sc.read_only_root_filesystem = svc.read_only.then_some(true);
    for (i, opt) in svc.security_opt.iter().enumerate() {
        security_opt(opt, &format!("security_opt[{i}]"), &mut sc, name, w);
    }
    // Kubernetes refuses allowPrivilegeEscalation: false on a privileged container or one
    // given CAP_SYS_ADMIN (both can escalate anyway).
    let sys_admin = sc
        .capabilities
        .as_ref()
        .and_then(|c| c.add.as_ref())
        .is_some_and(|a| a.iter().any(|c| c == "SYS_ADMIN" || c == "ALL"));
    if sc.allow_privilege_escalation == Some(false) && (svc.privileged || sys_admin) {
        w.service(
            name,
            "security_opt",
            "no-new-privileges cannot go with `privileged` or CAP_SYS_ADMIN in Kubernetes: left out",
        );
        sc.allow_privilege_escalation = None;
    }
    (sc != SecurityContext::default()).then_some(sc)
}

/// `user`: numeric `uid[:gid]` (or `root`). Kubernetes cannot look names up in the image.
fn user_ids(user: &str, sc: &mut SecurityContext, name: &str, w: &mut Warnings) {
    let (uid, gid) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let id = |s: &str| {
        if s == "root" {
            Some(0)
        } else {
            s.parse::<i64>().ok()
        }
    };
    match id(uid) {
        Some(u) => sc.run_as_user = Some(u),
        None => w.service(
            name,
            "user",
            format!("Kubernetes takes numeric ids only, not the user name {uid:?}: left out; write the uid (`id -u {uid}` in the image)"),
        ),
    }
    match gid.map(|g| (g, id(g))) {
        Some((_, Some(g))) => sc.run_as_group = Some(g),
        Some((g, None)) => w.service(
            name,
            "user",
            format!("Kubernetes takes numeric ids only, not the group name {g:?}: left out; write the gid"),
        ),
        None => {}
    }
}

/// One `security_opt` entry, `name=value` or Docker's older `name:value`.
fn security_opt(opt: &str, key: &str, sc: &mut SecurityContext, name: &str, w: &mut Warnings) {
    let (kind, value) = match opt.find(['=', ':']) {
        Some(i) => (&opt[..i], &opt[i + 1..]),
        None => (opt, ""),
    };
    let mut warn = |msg: String| w.service(name, key, msg);
    match (kind, value) {
        ("no-new-privileges", "" | "true") => sc.allow_privilege_escalation = Some(false),
        ("no-new-privileges", "false") => {}
        ("seccomp", "unconfined") => {
            sc.seccomp_profile = Some(SeccompProfile {
                type_: "Unconfined".into(),
                localhost_profile: None,
            })
        }
        ("seccomp", file) => warn(format!("the seccomp profile {file:?} is a file on this host: copy it under each node's kubelet seccomp directory and set `seccompProfile` (type Localhost) by hand; the runtime's default applies")),
        ("apparmor", profile) => {
            sc.app_armor_profile = Some(match profile {
                "unconfined" => AppArmorProfile {
                    type_: "Unconfined".into(),
                    localhost_profile: None,
                },
                "docker-default" | "runtime/default" => AppArmorProfile {
                    type_: "RuntimeDefault".into(),
                    localhost_profile: None,
                },
                p => AppArmorProfile {
                    type_: "Localhost".into(),
                    localhost_profile: Some(p.to_string()),
                },
            })
        }
        ("label", label) => se_linux(label, sc, &mut warn),
        _ => warn(format!("{opt:?} has no Kubernetes equivalent: left out")),
    }
}

/// `label=user:X`, `role:X`, `type:X`, `level:X` -> seLinuxOptions; `disable` and others cannot
/// be said in Kubernetes.
fn se_linux(label: &str, sc: &mut SecurityContext, warn: &mut dyn FnMut(String)) {
    let opts = sc
        .se_linux_options
        .get_or_insert_with(SELinuxOptions::default);
    match label.split_once(':') {
        Some(("user", v)) => opts.user = Some(v.into()),
        Some(("role", v)) => opts.role = Some(v.into()),
        Some(("type", v)) => opts.type_ = Some(v.into()),
        Some(("level", v)) => opts.level = Some(v.into()),
        _ => warn(format!("the SELinux option {label:?} has no Kubernetes equivalent: left out (`disable` is close to seLinuxOptions type spc_t)")),
    }
    if sc.se_linux_options == Some(SELinuxOptions::default()) {
        sc.se_linux_options = None;
    }
}

/// The pod's securityContext from `group_add` and `sysctls`; `None` when neither gives anything.
pub fn pod(svc: &ServiceConfig, name: &str, w: &mut Warnings) -> Option<PodSecurityContext> {
    let mut groups = Vec::new();
    for g in &svc.group_add {
        match g.parse::<i64>() {
            Ok(id) => groups.push(id),
            Err(_) => w.service(
                name,
                "group_add",
                format!(
                    "Kubernetes takes numeric group ids only, not {g:?}: left out; write the gid"
                ),
            ),
        }
    }
    let mut sysctls = Vec::new();
    for (key, value) in &svc.sysctls {
        if !is_sysctl_name(key) {
            w.service(
                name,
                format!("sysctls.{key}"),
                "not a sysctl name Kubernetes accepts: left out",
            );
            continue;
        }
        if !SAFE_SYSCTLS.contains(&key.replace('/', ".").as_str()) {
            w.service(
                name,
                format!("sysctls.{key}"),
                "not in Kubernetes' safe set: pods only start on nodes whose kubelet allows it (`--allowed-unsafe-sysctls`)",
            );
        }
        sysctls.push(Sysctl {
            name: key.clone(),
            value: value.clone(),
        });
    }
    if groups.is_empty() && sysctls.is_empty() {
        return None;
    }
    Some(PodSecurityContext {
        supplemental_groups: (!groups.is_empty()).then_some(groups),
        sysctls: (!sysctls.is_empty()).then_some(sysctls),
        ..PodSecurityContext::default()
    })
}

/// Kubernetes' sysctl name pattern: segments of lowercase letters, digits, `_` and `-`
/// (alphanumeric at both ends), separated by `.` or `/`, at most 253 characters.
fn is_sysctl_name(name: &str) -> bool {
    name.len() <= 253
        && name.split(['.', '/']).all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
                && seg.starts_with(|c: char| c.is_ascii_alphanumeric())
                && seg.ends_with(|c: char| c.is_ascii_alphanumeric())
        })
}
