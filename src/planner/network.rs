//! A service's networking, resolved from the model without touching the host: which project
//! networks it joins in which order, the names it is found by, the addresses and MAC it asks for,
//! and its published ports. The orchestration ([`crate::stack`]) turns these into allocations.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use indexmap::IndexMap;

use crate::engine::network::ipam::{IpamError, IpamRequest, Subnet};
use crate::engine::network::manager::NetworkDef;
use crate::engine::network::nft::Protocol;
use crate::model::types::resources::{IpamPool, NetworkConfig};
use crate::model::types::service::{ServiceConfig, ServiceNetworkConfig};

/// Why a service's or network's settings cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{context}: {message}")]
pub struct NetPlanError {
    /// `service web` or `network back`.
    pub context: String,
    pub message: String,
}

fn err(context: &str, message: impl Into<String>) -> NetPlanError {
    NetPlanError {
        context: context.to_string(),
        message: message.into(),
    }
}

/// How the service's container gets its network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceNetMode {
    /// Its own namespace, attached to these project networks (keys), in interface order.
    Networks(Vec<String>),
    /// Its own namespace with loopback only (`network_mode: none`).
    None,
    /// The host's (`network_mode: host`).
    Host,
    /// The namespace of another service's container (`service:NAME`).
    Service(String),
    /// The namespace of a container by name (`container:NAME`).
    Container(String),
}

/// The service's network mode and networks. Networks are ordered by `priority` (highest first,
/// then by key), as Docker Compose connects them: the first is `eth0`.
pub fn net_mode(name: &str, svc: &ServiceConfig) -> Result<ServiceNetMode, NetPlanError> {
    let ctx = format!("service {name}");
    match svc.network_mode.as_deref() {
        None => {}
        // Docker's daemon-wide `bridge` network (what `default` means there too) does not
        // exist without a daemon; joining the project's network instead would change which
        // containers can reach this one, so it is refused rather than substituted.
        Some(m @ ("bridge" | "default")) => {
            return Err(err(
                &ctx,
                format!(
                    "network_mode {m:?} (Docker's shared default bridge network) is not \
                     supported: leave network_mode out to join the project's default network, \
                     or list the service's networks"
                ),
            ))
        }
        Some("none") => return Ok(ServiceNetMode::None),
        Some("host") => return Ok(ServiceNetMode::Host),
        Some(m) => {
            if let Some(s) = m.strip_prefix("service:") {
                return Ok(ServiceNetMode::Service(s.to_string()));
            }
            if let Some(c) = m.strip_prefix("container:") {
                return Ok(ServiceNetMode::Container(c.to_string()));
            }
            return Err(err(
                &ctx,
                format!(
                    "network_mode {m:?} is not supported: use none, host, service:NAME or container:NAME"
                ),
            ));
        }
    }
    let mut keys: Vec<(i64, &String)> = svc
        .networks
        .iter()
        .map(|(k, c)| (c.as_ref().and_then(|c| c.priority).unwrap_or(0), k))
        .collect();
    keys.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let keys: Vec<String> = if keys.is_empty() {
        vec!["default".to_string()]
    } else {
        keys.into_iter().map(|(_, k)| k.clone()).collect()
    };
    Ok(ServiceNetMode::Networks(keys))
}

/// The network that carries the container's default route: the highest `gw_priority`, then the
/// first in interface order (Docker's rule).
pub fn gateway_network<'a>(svc: &ServiceConfig, ordered: &'a [String]) -> Option<&'a String> {
    let prio = |k: &String| {
        svc.networks
            .get(k)
            .and_then(|c| c.as_ref())
            .and_then(|c| c.gw_priority)
            .unwrap_or(0)
    };
    let best = ordered.iter().map(prio).max()?;
    ordered.iter().find(|k| prio(k) == best)
}

/// Every per-network setting of the service is valid (checked before anything is created).
pub fn check_endpoints(name: &str, svc: &ServiceConfig) -> Result<(), NetPlanError> {
    if let ServiceNetMode::Networks(keys) = net_mode(name, svc)? {
        for (i, key) in keys.iter().enumerate() {
            endpoint_request(name, svc, key, i == 0)?;
        }
    }
    Ok(())
}

/// What the service asks for on one network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointRequest {
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    pub mac: Option<[u8; 6]>,
    pub aliases: Vec<String>,
    /// `link_local_ips`, with the prefix Docker gives them (/16 for IPv4, /64 for IPv6).
    pub link_local: Vec<(IpAddr, u8)>,
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return None;
    }
    let mut out = [0u8; 6];
    for (o, p) in out.iter_mut().zip(parts) {
        if p.len() != 2 {
            return None;
        }
        *o = u8::from_str_radix(p, 16).ok()?;
    }
    Some(out)
}

/// The service's settings for network `key` (`ipv4_address`, `ipv6_address`, `mac_address`,
/// `aliases`); the service-level `mac_address` applies to its first network.
pub fn endpoint_request(
    name: &str,
    svc: &ServiceConfig,
    key: &str,
    first: bool,
) -> Result<EndpointRequest, NetPlanError> {
    let ctx = format!("service {name}: networks.{key}");
    let cfg: Option<&ServiceNetworkConfig> = svc.networks.get(key).and_then(|c| c.as_ref());
    let mut out = EndpointRequest::default();
    if let Some(c) = cfg {
        if let Some(a) = &c.ipv4_address {
            out.ipv4 =
                Some(a.parse().map_err(|_| {
                    err(&ctx, format!("ipv4_address {a:?} is not an IPv4 address"))
                })?);
        }
        if let Some(a) = &c.ipv6_address {
            out.ipv6 =
                Some(a.parse().map_err(|_| {
                    err(&ctx, format!("ipv6_address {a:?} is not an IPv6 address"))
                })?);
        }
        if let Some(m) = &c.mac_address {
            out.mac = Some(
                parse_mac(m)
                    .ok_or_else(|| err(&ctx, format!("mac_address {m:?} is not a MAC address")))?,
            );
        }
        out.aliases = c.aliases.clone();
        for a in &c.link_local_ips {
            let ip: IpAddr = a
                .parse()
                .map_err(|_| err(&ctx, format!("link_local_ips {a:?} is not an IP address")))?;
            out.link_local
                .push((ip, if ip.is_ipv4() { 16 } else { 64 }));
        }
    }
    if out.mac.is_none() && first {
        if let Some(m) = &svc.mac_address {
            out.mac = Some(parse_mac(m).ok_or_else(|| {
                err(
                    &format!("service {name}"),
                    format!("mac_address {m:?} is not a MAC address"),
                )
            })?);
        }
    }
    Ok(out)
}

/// The names a container is found by on a network: its service, its name, its short id, its
/// hostname when set, and the aliases; without duplicates.
pub fn dns_names(
    service: &str,
    container_name: &str,
    id: &str,
    hostname: Option<&str>,
    aliases: &[String],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let short = id.get(..12).unwrap_or(id);
    for n in [service, container_name, short]
        .into_iter()
        .chain(hostname)
        .chain(aliases.iter().map(String::as_str))
    {
        let n = n.to_ascii_lowercase();
        if !n.is_empty() && !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// `links: [svc:alias]` and `external_links: [container:alias]` as (alias, target service or
/// container); a link without alias is the name itself, which needs no entry.
pub fn link_aliases(svc: &ServiceConfig) -> Vec<(String, String)> {
    svc.links
        .iter()
        .chain(&svc.external_links)
        .filter_map(|l| {
            let (target, alias) = l.split_once(':')?;
            Some((alias.to_string(), target.to_string()))
        })
        .collect()
}

/// One published port as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRequest {
    pub protocol: Protocol,
    pub host_ip: Option<IpAddr>,
    /// Inclusive range of acceptable host ports; `None`: any free one.
    pub host_ports: Option<(u16, u16)>,
    pub container_port: u16,
}

/// The service's `ports`, checked.
pub fn port_requests(name: &str, svc: &ServiceConfig) -> Result<Vec<PortRequest>, NetPlanError> {
    let ctx = format!("service {name}");
    let mut out = Vec::new();
    for p in &svc.ports {
        let protocol = match p.protocol.to_ascii_lowercase().as_str() {
            "tcp" | "" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            other => {
                return Err(err(
                    &ctx,
                    format!("ports: protocol {other:?} is not supported (tcp or udp)"),
                ))
            }
        };
        let container_port = u16::try_from(p.target)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| err(&ctx, format!("ports: target {} is not a port", p.target)))?;
        let host_ip = match p.host_ip.as_deref() {
            None | Some("") => None,
            Some(ip) => Some(
                ip.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .map_err(|_| err(&ctx, format!("ports: host_ip {ip:?} is not an address")))?,
            ),
        };
        let host_ports = match p.published.as_deref() {
            None | Some("") => None,
            Some(s) => Some(
                crate::model::types::ports::parse_port_range(s)
                    .filter(|(a, b)| *a > 0 && a <= b)
                    .ok_or_else(|| {
                        err(
                            &ctx,
                            format!("ports: published {s:?} is not a port or port range"),
                        )
                    })?,
            ),
        };
        out.push(PortRequest {
            protocol,
            host_ip,
            host_ports,
            container_port,
        });
    }
    Ok(out)
}

/// A top-level network: ours to manage, or an existing one to attach to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkChoice {
    Managed(NetworkDef),
    External(String),
}

/// `driver_opts` keys Docker's bridge driver reads.
const OPT_BRIDGE_NAME: &str = "com.docker.network.bridge.name";
const OPT_MTU: &str = "com.docker.network.driver.mtu";

/// The engine's definition of project network `key`.
pub fn network_choice(
    project: &str,
    key: &str,
    cfg: &NetworkConfig,
) -> Result<NetworkChoice, NetPlanError> {
    let full = cfg
        .name
        .clone()
        .unwrap_or_else(|| format!("{project}_{key}"));
    let ctx = format!("network {key}");
    if !cfg.external.is_not_external() {
        return Ok(NetworkChoice::External(full));
    }
    let driver = cfg.driver.clone().unwrap_or_else(|| "bridge".to_string());
    if driver != "bridge" {
        return Err(err(
            &ctx,
            format!("driver {driver:?} is not supported (only bridge)"),
        ));
    }
    let mut ipam = Vec::new();
    if let Some(i) = &cfg.ipam {
        if let Some(d) = i.driver.as_deref() {
            if d != "default" {
                return Err(err(
                    &ctx,
                    format!("ipam driver {d:?} is not supported (only default)"),
                ));
            }
        }
        for pool in &i.config {
            ipam.push(ipam_request(pool).map_err(|e| err(&ctx, e.to_string()))?);
        }
    }
    let mtu = match cfg.driver_opts.get(OPT_MTU) {
        None => None,
        Some(v) => Some(v.parse::<u32>().ok().filter(|m| *m >= 68).ok_or_else(|| {
            err(
                &ctx,
                format!("driver_opts {OPT_MTU}: {v:?} is not an MTU (68 or more)"),
            )
        })?),
    };
    let bridge_name = cfg.driver_opts.get(OPT_BRIDGE_NAME).cloned();
    if let Some(b) = &bridge_name {
        if b.is_empty() || b.len() > 15 || b.contains(['/', ' ']) {
            return Err(err(
                &ctx,
                format!("driver_opts {OPT_BRIDGE_NAME}: {b:?} is not an interface name (1-15 characters)"),
            ));
        }
    }
    let mut labels: IndexMap<String, String> = cfg
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.insert("com.docker.compose.network".into(), key.to_string());
    labels.insert("com.docker.compose.project".into(), project.to_string());
    Ok(NetworkChoice::Managed(NetworkDef {
        name: full,
        project: Some(project.to_string()),
        driver,
        internal: cfg.internal,
        enable_ipv6: cfg.enable_ipv6.unwrap_or(false),
        ipam,
        bridge_name,
        mtu,
        labels,
    }))
}

/// Parses one `ipam.config` entry of the Compose model (strings) into the engine's request,
/// naming the field and value that is wrong: the engine never sees the model.
fn ipam_request(pool: &IpamPool) -> Result<IpamRequest, IpamError> {
    let bad = |field: &str, value: &str, why: String| IpamError::Invalid {
        message: format!("ipam.config {field} {value:?}: {why}"),
    };
    let subnet = |field: &str, v: &Option<String>| -> Result<Option<Subnet>, IpamError> {
        v.as_deref()
            .map(|s| Subnet::parse_exact(s).map_err(|e| bad(field, s, e.reason)))
            .transpose()
    };
    let ip = |field: &str, s: &str| -> Result<IpAddr, IpamError> {
        s.trim()
            .parse()
            .map_err(|_| bad(field, s, "not an IPv4 or IPv6 address".into()))
    };
    let mut aux = BTreeMap::new();
    for (name, value) in &pool.aux_addresses {
        aux.insert(name.clone(), ip(&format!("aux_addresses.{name}"), value)?);
    }
    Ok(IpamRequest {
        subnet: subnet("subnet", &pool.subnet)?,
        ip_range: subnet("ip_range", &pool.ip_range)?,
        gateway: pool
            .gateway
            .as_deref()
            .map(|g| ip("gateway", g))
            .transpose()?,
        aux_addresses: aux,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(yaml: &str) -> ServiceConfig {
        serde_yaml_ng::from_str(yaml).expect("service yaml")
    }

    #[test]
    fn networks_are_ordered_by_priority_then_name_and_default_when_none() {
        let s = svc("image: x\nnetworks:\n  b: {}\n  a: {}\n  c: {priority: 10}\n");
        assert_eq!(
            net_mode("web", &s),
            Ok(ServiceNetMode::Networks(vec![
                "c".into(),
                "a".into(),
                "b".into()
            ]))
        );
        let s = svc("image: x\n");
        assert_eq!(
            net_mode("web", &s),
            Ok(ServiceNetMode::Networks(vec!["default".into()]))
        );
        let s = svc("image: x\nnetwork_mode: service:db\n");
        assert_eq!(
            net_mode("web", &s),
            Ok(ServiceNetMode::Service("db".into()))
        );
        let s = svc("image: x\nnetwork_mode: weird\n");
        assert!(net_mode("web", &s).is_err());
        let s = svc("image: x\nnetwork_mode: bridge\n");
        let e = net_mode("web", &s).unwrap_err().to_string();
        assert!(e.starts_with("service web: network_mode \"bridge\""), "{e}");
    }

    #[test]
    fn gateway_goes_to_the_highest_gw_priority() {
        let s = svc("image: x\nnetworks:\n  a: {}\n  b: {gw_priority: 5}\n");
        let order = vec!["a".to_string(), "b".to_string()];
        assert_eq!(gateway_network(&s, &order), Some(&"b".to_string()));
        let s = svc("image: x\nnetworks:\n  a: {}\n  b: {}\n");
        assert_eq!(gateway_network(&s, &order), Some(&"a".to_string()));
    }

    #[test]
    fn endpoint_requests_and_names() {
        let s = svc("image: x\nmac_address: 02:42:ac:11:00:02\nnetworks:\n  a:\n    ipv4_address: 10.5.0.9\n    aliases: [db]\n  b: {}\n");
        let a = endpoint_request("web", &s, "a", true).expect("a");
        assert_eq!(a.ipv4, Some(Ipv4Addr::new(10, 5, 0, 9)));
        assert_eq!(a.mac, Some([2, 0x42, 0xac, 0x11, 0, 2]));
        assert_eq!(a.aliases, vec!["db".to_string()]);
        assert_eq!(
            endpoint_request("web", &s, "b", false).expect("b").mac,
            None
        );
        let bad = svc("image: x\nnetworks:\n  a:\n    ipv4_address: nope\n");
        let e = endpoint_request("web", &bad, "a", true).unwrap_err();
        assert!(e.to_string().contains("ipv4_address \"nope\""), "{e}");
        assert_eq!(
            dns_names(
                "web",
                "p-web-1",
                "0123456789abcdef",
                None,
                &["Web".into(), "api".into()]
            ),
            vec!["web", "p-web-1", "0123456789ab", "api"]
        );
    }

    #[test]
    fn ports_are_checked() {
        let s = svc("image: x\nports: ['127.0.0.1:8080:80', '9000/udp', '7000-7005:81']\n");
        let p = port_requests("web", &s).expect("ports");
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].host_ip, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(p[0].host_ports, Some((8080, 8080)));
        assert_eq!(p[1].protocol, Protocol::Udp);
        assert_eq!(p[1].host_ports, None);
        assert_eq!(p[2].host_ports, Some((7000, 7005)));
        let bad = svc("image: x\nports: ['80/sctp']\n");
        assert!(port_requests("web", &bad).is_err());
    }

    #[test]
    fn network_definitions() {
        let cfg: NetworkConfig = serde_yaml_ng::from_str(
            "driver_opts:\n  com.docker.network.bridge.name: br-test\n  com.docker.network.driver.mtu: '1400'\ninternal: true\nipam:\n  config:\n    - subnet: 10.9.0.0/24\n",
        )
        .expect("network yaml");
        match network_choice("p", "back", &cfg).expect("def") {
            NetworkChoice::Managed(d) => {
                assert_eq!(d.name, "p_back");
                assert_eq!(d.bridge_name.as_deref(), Some("br-test"));
                assert_eq!(d.mtu, Some(1400));
                assert!(d.internal);
                assert_eq!(d.ipam.len(), 1);
            }
            other => panic!("{other:?}"),
        }
        let ext = NetworkConfig {
            name: Some("shared".into()),
            external: crate::model::types::resources::External {
                external: true,
                legacy_name: None,
            },
            ..NetworkConfig::default()
        };
        assert_eq!(
            network_choice("p", "x", &ext),
            Ok(NetworkChoice::External("shared".into()))
        );
        let bad: NetworkConfig = serde_yaml_ng::from_str("driver: overlay\n").expect("yaml");
        assert!(network_choice("p", "x", &bad).is_err());
    }

    #[test]
    fn ipam_config_strings_become_a_request() {
        let sn = |s: &str| Subnet::parse_exact(s).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let ok = IpamRequest {
            subnet: Some(sn("172.28.0.0/16")),
            ip_range: Some(sn("172.28.5.0/24")),
            gateway: Some(ip("172.28.5.254")),
            aux_addresses: [("host1".to_string(), ip("172.28.1.5"))].into(),
        };
        // From the Compose model's strings.
        let model = IpamPool {
            subnet: Some("172.28.0.0/16".into()),
            gateway: Some("172.28.5.254".into()),
            ip_range: Some("172.28.5.0/24".into()),
            aux_addresses: [("host1".to_string(), "172.28.1.5".to_string())]
                .into_iter()
                .collect(),
            ..Default::default()
        };
        assert_eq!(ipam_request(&model).unwrap(), ok);
        let bad = IpamPool {
            gateway: Some("172.28.5.999".into()),
            ..model
        };
        assert_eq!(
            ipam_request(&bad).unwrap_err().to_string(),
            "ipam.config gateway \"172.28.5.999\": not an IPv4 or IPv6 address"
        );
    }
}
