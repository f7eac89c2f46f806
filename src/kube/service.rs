//! Services: one per Compose service so its DNS name keeps working, extra ones for network
//! aliases and `links` aliases; and warnings for the network settings a cluster network cannot
//! express.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::context::{Context, WorkloadKind};
use super::error::Result;
use super::ext::ServiceType;
use super::labels;
use super::names;
use super::object::Object;
use super::warning::Warnings;

/// The Services of service `name`.
pub fn objects(ctx: &Context<'_>, name: &str, warnings: &mut Warnings) -> Result<Vec<Object>> {
    let svc = ctx.service(name);
    for (i, p) in svc.ports.iter().enumerate() {
        let key = format!("ports[{i}]");
        if p.host_ip.is_some() {
            warnings.service(name, &key, "host_ip cannot be carried over: a Service listens on every node or on its cluster IP");
        }
        if p.published.as_deref().is_some_and(|s| s.contains('-')) {
            warnings.service(
                name,
                &key,
                "a published range cannot be carried over: the first port of it is used",
            );
        }
        if p.mode == "host" {
            warnings.service(
                name,
                &key,
                "mode host cannot be carried over: the port is published through the Service",
            );
        }
    }
    if !svc.external_links.is_empty() {
        warnings.service(name, "external_links", "cannot be carried over: reach outside workloads through a Service of type ExternalName");
    }
    let mut out = Vec::new();
    if !ctx.has_service(name) {
        if !svc.ports.is_empty() || !svc.expose.is_empty() {
            warnings.service(
                name,
                "ports",
                "a Job gets no Service: its ports cannot be reached by name",
            );
        }
    } else {
        out.push(Object::Service(service(
            ctx,
            name,
            names::service(name),
            false,
            warnings,
        )));
    }
    for a in aliases(ctx) {
        if a.origin != name {
            continue;
        }
        match a.outcome {
            Ok(()) => out.push(Object::Service(service(
                ctx, &a.target, a.name, true, warnings,
            ))),
            Err(why) => warnings.service(name, a.key, why),
        }
    }
    Ok(out)
}

/// The Service named `object` selecting service `name`'s pods. An alias's Service is always
/// ClusterIP (or headless), so node ports are not claimed twice.
fn service(
    ctx: &Context<'_>,
    name: &str,
    object: String,
    alias: bool,
    w: &mut Warnings,
) -> Service {
    let svc = ctx.service(name);
    let requested = ctx.ext(name).service_type;
    let ty = if alias {
        ServiceType::ClusterIP
    } else {
        requested
    };
    let ports = ctx.ports(name);
    let dnsrr = svc.deploy.as_ref().and_then(|d| d.endpoint_mode.as_deref()) == Some("dnsrr");
    let headless = ty == ServiceType::ClusterIP
        && (ports.is_empty() || dnsrr || ctx.kind(name) == WorkloadKind::StatefulSet);
    let mut used = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for p in &ports {
        let port = if alias {
            p.target
        } else {
            ctx.service_port(name, p)
        };
        if port != p.target && !alias {
            w.service(name, "ports", format!("behind the LoadBalancer, port {} is offered on {port} (the published port), inside the cluster too: callers that used {0} must use {port}", p.target));
        }
        if !seen.insert((port, p.protocol)) {
            continue;
        }
        let node_port = match (ty, p.published) {
            (ServiceType::NodePort, Some(n)) if (30000..=32767).contains(&n) => Some(i32::from(n)),
            (ServiceType::NodePort, Some(n)) if !alias => {
                w.service(name, "ports", format!("published port {n} is outside the node port range 30000-32767: the cluster assigns a node port"));
                None
            }
            _ => None,
        };
        let generated = format!("{}-{}", p.protocol.to_ascii_lowercase(), p.target);
        let port_name = match &p.name {
            Some(n) if is_port_name(n) && !used.contains(n) => n.clone(),
            Some(n) => {
                if !alias {
                    w.service(name, "ports", format!("port name {n:?} is not a unique IANA service name (at most 15 lowercase letters, digits and `-`): the port is named {generated:?}"));
                }
                generated
            }
            None => generated,
        };
        used.insert(port_name.clone());
        let app_protocol = match &p.app_protocol {
            Some(a) if labels::is_valid_label(a, "") => Some(a.clone()),
            Some(a) => {
                if !alias {
                    w.service(
                        name,
                        "ports",
                        format!("app_protocol {a:?} is not a Kubernetes protocol name: dropped"),
                    );
                }
                None
            }
            None => None,
        };
        out.push(ServicePort {
            name: Some(port_name),
            port: i32::from(port),
            target_port: Some(IntOrString::Int(i32::from(p.target))),
            protocol: Some(p.protocol.to_string()),
            node_port,
            app_protocol,
        });
    }
    let annotations = &ctx.ext(name).service_annotations;
    Service {
        metadata: ObjectMeta {
            name: Some(object),
            labels: Some(labels::standard(ctx.name, Some(name))),
            annotations: (!annotations.is_empty()).then(|| annotations.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            type_: (!headless && ty != ServiceType::ClusterIP).then(|| ty.as_str().to_string()),
            cluster_ip: headless.then(|| "None".to_string()),
            selector: Some(labels::selector(ctx.name, name)),
            ports: (!out.is_empty()).then_some(out),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// An alias some service declares (a network alias for itself, or a `links` alias for the
/// linked service), and whether it gets a Service.
struct Alias {
    name: String,
    target: String,
    origin: String,
    key: String,
    outcome: std::result::Result<(), String>,
}

/// Every alias of the project, in project order; the first claim of a name wins, so each
/// Service is made once whichever service asks.
fn aliases(ctx: &Context<'_>) -> Vec<Alias> {
    let mut out: Vec<Alias> = Vec::new();
    let services: Vec<String> = ctx
        .project
        .services
        .keys()
        .filter(|s| ctx.has_service(s))
        .map(|s| names::service(s))
        .collect();
    for (origin, svc) in &ctx.project.services {
        let mut wanted: Vec<(String, String, String)> = Vec::new();
        for (net, cfg) in &svc.networks {
            for a in cfg.iter().flat_map(|c| &c.aliases) {
                wanted.push((a.clone(), origin.clone(), format!("networks.{net}.aliases")));
            }
        }
        for l in &svc.links {
            let (target, alias) = l.split_once(':').unwrap_or((l, l));
            wanted.push((alias.to_string(), target.to_string(), "links".to_string()));
        }
        for (alias, target, key) in wanted {
            let name = names::alias(&alias);
            if name == names::service(&target) {
                continue;
            }
            let outcome = if !ctx.project.services.contains_key(&target) {
                Err(format!(
                    "alias {alias:?}: service {target:?} is not part of the output"
                ))
            } else if !ctx.has_service(&target) {
                Err(format!(
                    "alias {alias:?}: {target:?} is a Job, which gets no Service"
                ))
            } else if services.contains(&name) {
                Err(format!(
                    "alias {alias:?} is another service's name: dropped"
                ))
            } else if let Some(prev) = out.iter().find(|a| a.name == name && a.outcome.is_ok()) {
                if prev.target == target {
                    continue;
                }
                Err(format!(
                    "alias {alias:?} already names service {:?}: a Service selects one workload",
                    prev.target
                ))
            } else if name != alias {
                out.push(Alias {
                    name: name.clone(),
                    target: target.clone(),
                    origin: origin.clone(),
                    key: key.clone(),
                    outcome: Ok(()),
                });
                Err(format!(
                    "alias {alias:?} is not a DNS label: its Service is named {name:?}"
                ))
            } else {
                Ok(())
            };
            out.push(Alias {
                name,
                target,
                origin: origin.clone(),
                key,
                outcome,
            });
        }
    }
    out
}

/// An IANA service name, as a Service port name must be.
fn is_port_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 15
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && n.chars().any(|c| c.is_ascii_lowercase())
        && !n.starts_with('-')
        && !n.ends_with('-')
        && !n.contains("--")
}

/// Warnings for networks and per-service network keys.
pub fn network_warnings(ctx: &Context<'_>, warnings: &mut Warnings) {
    let mut used: BTreeSet<String> = BTreeSet::new();
    for (name, svc) in &ctx.project.services {
        if svc.network_mode.is_none() && svc.networks.is_empty() {
            used.insert("default".to_string());
        }
        for (net, cfg) in &svc.networks {
            used.insert(net.clone());
            let Some(c) = cfg else { continue };
            let key = |k: &str| format!("networks.{net}.{k}");
            let set = [
                ("ipv4_address", c.ipv4_address.is_some()),
                ("ipv6_address", c.ipv6_address.is_some()),
                ("mac_address", c.mac_address.is_some()),
                ("link_local_ips", !c.link_local_ips.is_empty()),
                ("priority", c.priority.is_some()),
                ("gw_priority", c.gw_priority.is_some()),
                ("interface_name", c.interface_name.is_some()),
                ("driver_opts", !c.driver_opts.is_empty()),
            ];
            for (k, _) in set.iter().filter(|(_, s)| *s) {
                warnings.service(name, key(k), "cannot be carried over: the cluster network assigns pod addresses and interfaces");
            }
        }
    }
    for (net, n) in &ctx.project.networks {
        if !used.contains(net) {
            continue;
        }
        let key = |k: &str| format!("networks.{net}.{k}");
        if let Some(d) = n
            .driver
            .as_deref()
            .filter(|d| *d != "bridge" && *d != "default")
        {
            warnings.top(
                key("driver"),
                format!(
                    "network driver {d:?} cannot be carried over: pods share the cluster network"
                ),
            );
        }
        if !n.driver_opts.is_empty() {
            warnings.top(
                key("driver_opts"),
                "cannot be carried over: pods share the cluster network",
            );
        }
        if n.internal {
            warnings.top(
                key("internal"),
                "cannot be carried over: keeping pods from the outside needs a NetworkPolicy",
            );
        }
        if n.external.external {
            warnings.top(
                key("external"),
                "cannot be carried over: pods share the cluster network",
            );
        }
        if n.ipam.is_some() {
            warnings.top(
                key("ipam"),
                "cannot be carried over: the cluster assigns pod addresses",
            );
        }
        if n.enable_ipv4.is_some() || n.enable_ipv6.is_some() {
            warnings.top(
                format!("networks.{net}"),
                "enable_ipv4/enable_ipv6 cannot be carried over: the cluster's IP families apply",
            );
        }
        if !n.labels.is_empty() {
            warnings.top(
                key("labels"),
                "cannot be carried over: no Kubernetes object stands for a network",
            );
        }
    }
    if used.len() > 1 {
        warnings.top("networks", format!("{} networks are merged into the cluster network: every pod can reach every other (add NetworkPolicies to separate them)", used.len()));
    }
}

#[cfg(test)]
mod tests;
