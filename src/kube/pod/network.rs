//! The pod's name and name resolution (`hostname`, `domainname`, `extra_hosts`, `dns`,
//! `dns_search`, `dns_opt`), and the warnings for the namespace and host settings a pod cannot
//! have: a pod has its own network, PID, IPC and UTS namespaces, shared by its containers only,
//! and the kubelet picks its cgroup.
//!
//! The DNS policy stays ClusterFirst (the default) so Services, which keep the Compose service
//! names, still resolve; `dns` servers are added to the cluster's.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{HostAlias, PodDNSConfig, PodDNSConfigOption, PodSpec};

use crate::kube::context::Context;
use crate::kube::names;
use crate::kube::warning::Warnings;

/// How many nameservers a pod's dnsConfig may list (Kubernetes' validation limit).
const MAX_NAMESERVERS: usize = 3;

/// Sets the pod's hostname, host aliases and DNS config from service `name`, and warns about
/// what cannot be carried over.
pub(super) fn apply(ctx: &Context<'_>, name: &str, spec: &mut PodSpec, w: &mut Warnings) {
    let svc = ctx.service(name);
    if let Some(h) = &svc.hostname {
        if names::dns_label(h) == *h {
            spec.hostname = Some(h.clone());
        } else {
            w.service(
                name,
                "hostname",
                format!("{h:?} is not a DNS label (lowercase letters, digits and '-', at most 63); the pod keeps its own name"),
            );
        }
    }
    if let Some(d) = &svc.domainname {
        w.service(
            name,
            "domainname",
            format!("{d:?} cannot be set: a pod's domain is given by the cluster's DNS (<service>.<namespace>.svc)"),
        );
    }
    spec.host_aliases = host_aliases(name, &svc.extra_hosts, w);
    spec.dns_config = dns_config(name, &svc.dns, &svc.dns_search, &svc.dns_opt, w);
    namespace_warnings(ctx, name, w);
}

/// `extra_hosts`, one alias per IP with its names sorted. `host-gateway` has no meaning in a
/// cluster (the node's address is not known when the manifest is written).
fn host_aliases(
    svc: &str,
    hosts: &indexmap::IndexMap<String, Vec<String>>,
    w: &mut Warnings,
) -> Option<Vec<HostAlias>> {
    let mut by_ip: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (host, ips) in hosts {
        for ip in ips {
            if ip.parse::<std::net::IpAddr>().is_err() {
                w.service(
                    svc,
                    format!("extra_hosts.{host}"),
                    format!("{ip:?} is not an IP address (host-gateway has no equivalent in a cluster); the entry is dropped"),
                );
                continue;
            }
            by_ip.entry(ip).or_default().push(host.clone());
        }
    }
    let aliases: Vec<HostAlias> = by_ip
        .into_iter()
        .map(|(ip, mut hostnames)| {
            hostnames.sort();
            hostnames.dedup();
            HostAlias {
                ip: ip.to_string(),
                hostnames: Some(hostnames),
            }
        })
        .collect();
    (!aliases.is_empty()).then_some(aliases)
}

/// `dns`, `dns_search` and `dns_opt` (`name[:value]`), added to the cluster's DNS settings.
fn dns_config(
    svc: &str,
    dns: &[String],
    search: &[String],
    opts: &[String],
    w: &mut Warnings,
) -> Option<PodDNSConfig> {
    if dns.is_empty() && search.is_empty() && opts.is_empty() {
        return None;
    }
    let mut nameservers = dns.to_vec();
    if nameservers.len() > MAX_NAMESERVERS {
        w.service(
            svc,
            "dns",
            format!(
                "a pod may list at most {MAX_NAMESERVERS} nameservers; {} are dropped",
                nameservers.split_off(MAX_NAMESERVERS).join(", ")
            ),
        );
    }
    let options: Vec<PodDNSConfigOption> = opts
        .iter()
        .map(|o| {
            let (name, value) = match o.split_once(':') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (o.as_str(), None),
            };
            PodDNSConfigOption {
                name: Some(name.to_string()),
                value,
            }
        })
        .collect();
    let some = |v: Vec<String>| (!v.is_empty()).then_some(v);
    Some(PodDNSConfig {
        nameservers: some(nameservers),
        searches: some(search.to_vec()),
        options: (!options.is_empty()).then_some(options),
    })
}

/// The namespace, cgroup and address settings a pod cannot take, each named by its key.
fn namespace_warnings(ctx: &Context<'_>, name: &str, w: &mut Warnings) {
    let svc = ctx.service(name);
    if let Some(mode) = svc.network_mode.as_deref() {
        let why = match mode {
            "host" => Some("a pod on the node's network (hostNetwork) is not generated: it would clash with other pods' ports; the pod gets its own network and reaches others through their Services"),
            "none" => Some("a pod always has a network; the pod gets the cluster's"),
            m if m.starts_with("service:") || m.starts_with("container:") => Some("pods cannot share another pod's network; run both containers in one pod by hand, or reach the other through its Service"),
            _ => None,
        };
        if let Some(why) = why {
            w.service(name, "network_mode", format!("{mode:?}: {why}"));
        }
    }
    let shared = |v: &str| v == "host" || v.starts_with("service:") || v.starts_with("container:");
    if let Some(pid) = svc.pid.as_deref().filter(|v| shared(v)) {
        w.service(
            name,
            "pid",
            format!("{pid:?}: a pod has its own PID namespace (hostPID is not generated); the setting is dropped"),
        );
    }
    if let Some(ipc) = svc
        .ipc
        .as_deref()
        .filter(|v| shared(v) || *v == "shareable" || *v == "none")
    {
        w.service(
            name,
            "ipc",
            format!("{ipc:?}: a pod has its own IPC namespace, shared only by its containers; the setting is dropped"),
        );
    }
    if let Some(uts) = svc.uts.as_deref() {
        w.service(
            name,
            "uts",
            format!("{uts:?}: a pod has its own UTS namespace; the setting is dropped"),
        );
    }
    if let Some(u) = svc.userns_mode.as_deref().filter(|v| *v != "host") {
        // Pods run in the node's user namespace unless hostUsers is false (beta after 1.30).
        w.service(
            name,
            "userns_mode",
            format!("{u:?}: the pod runs in the node's user namespace; the setting is dropped"),
        );
    }
    if let Some(c) = svc.cgroup.as_deref().filter(|v| *v == "host") {
        w.service(
            name,
            "cgroup",
            format!("{c:?}: a pod's containers always get their own cgroup namespace; the setting is dropped"),
        );
    }
    if let Some(c) = &svc.cgroup_parent {
        w.service(
            name,
            "cgroup_parent",
            format!("{c:?}: the kubelet places pods in its own cgroups; the setting is dropped"),
        );
    }
    if let Some(m) = &svc.mac_address {
        w.service(
            name,
            "mac_address",
            format!("{m:?}: a pod's address is given by the cluster's network plugin; the setting is dropped"),
        );
    }
    for (i, v) in svc.volumes_from.iter().enumerate() {
        w.service(
            name,
            format!("volumes_from[{i}]"),
            format!("{v:?}: pods cannot mount another pod's volumes; mount the same named volumes instead"),
        );
    }
}
