//! Published ports (`services.*.ports`), in the short syntax (`"127.0.0.1:8080:80/udp"`, ranges
//! expanded to one entry per port exactly as Docker's `nat.ParsePortSpec` does), as a bare
//! integer (the container port), or in the long syntax (a mapping).

use std::fmt;
use std::net::IpAddr;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use super::fields::{self, Extensions, Scalar};

/// The short syntax, for error messages.
pub const PORT_SYNTAX: &str = "[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]";

/// One published (or only exposed, when `published` is `None`) container port.
#[derive(Debug, Clone, PartialEq)]
pub struct PortConfig {
    pub name: Option<String>,
    /// `ingress` unless set: Compose fills it in for every syntax.
    pub mode: String,
    pub host_ip: Option<String>,
    pub target: u32,
    /// A port or a range (`8000-8010`) on the host; `None` lets the engine pick one.
    pub published: Option<String>,
    /// `tcp` unless set.
    pub protocol: String,
    pub app_protocol: Option<String>,
    /// `x-*` keys of the long syntax, printed back after the known keys.
    pub extensions: Extensions,
}

impl Default for PortConfig {
    fn default() -> Self {
        PortConfig {
            name: None,
            mode: "ingress".to_string(),
            host_ip: None,
            target: 0,
            published: None,
            protocol: "tcp".to_string(),
            app_protocol: None,
            extensions: Extensions::new(),
        }
    }
}

/// Splits `ip:host:container`; an IPv6 host IP keeps its colons (everything before the last two
/// parts is the IP), as Docker does.
fn split_parts(spec: &str) -> (&str, &str, &str) {
    let parts: Vec<&str> = spec.split(':').collect();
    let n = parts.len();
    match n {
        1 => ("", "", parts[0]),
        2 => ("", parts[0], parts[1]),
        _ => {
            let container_start = spec.len() - parts[n - 1].len();
            let host_start = container_start - 1 - parts[n - 2].len();
            let ip_end = host_start - 1;
            (&spec[..ip_end], parts[n - 2], parts[n - 1])
        }
    }
}

/// Splits `80/udp` into (`udp`, `80`); no protocol (or an empty one) means `tcp`.
fn split_proto(raw: &str) -> (&str, &str) {
    let mut parts = raw.split('/');
    let port = parts.next().unwrap_or("");
    if port.is_empty() {
        return ("", "");
    }
    match parts.next() {
        None | Some("") => ("tcp", port),
        Some(proto) => (proto, port),
    }
}

/// A port number as Docker reads it: decimal digits only, at most 65535.
fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `8000` or `8000-8010` (start <= end); `None` if it is neither.
pub fn parse_port_range(s: &str) -> Option<(u16, u16)> {
    match s.split_once('-') {
        None => parse_port(s).map(|p| (p, p)),
        Some((start, end)) => {
            let start = parse_port(start)?;
            let end = parse_port(end)?;
            (start <= end).then_some((start, end))
        }
    }
}

/// Parses the short syntax into one [`PortConfig`] per container port, in the order Compose
/// lists them (sorted by the text `PORT/PROTOCOL`, so `100` comes before `99`).
pub fn parse_short(spec: &str) -> Result<Vec<PortConfig>, String> {
    let fail = |detail: String| format!("invalid port {spec:?}: {detail}, expected {PORT_SYNTAX}");
    let bad = |detail: String| format!("invalid port {spec:?}: {detail}");
    let (ip, host, container) = split_parts(spec);
    let (proto, container) = split_proto(container);

    let ip = if let Some(bracketed) = ip.strip_prefix('[') {
        bracketed
            .strip_suffix(']')
            .ok_or_else(|| fail(format!("invalid IP address {ip:?}")))?
    } else {
        ip
    };
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(fail(format!("invalid IP address {ip:?}")));
    }
    if container.is_empty() {
        return Err(fail("no container port".to_string()));
    }
    let (start, end) = parse_port_range(container)
        .ok_or_else(|| fail(format!("invalid container port {container:?}")))?;
    let (host_start, host_end) = if host.is_empty() {
        (0, 0)
    } else {
        parse_port_range(host).ok_or_else(|| fail(format!("invalid host port {host:?}")))?
    };
    // A host range may go with a single container port (the engine picks one port in it);
    // otherwise both ranges must have the same length.
    if !host.is_empty() && end - start != host_end - host_start && end != start {
        return Err(bad(format!(
            "container port range {container} and host port range {host} differ in size"
        )));
    }
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(bad(format!(
            "invalid protocol {proto:?}, expected tcp, udp or sctp"
        )));
    }

    let mut ports: Vec<PortConfig> = (0..=(end - start))
        .map(|i| {
            let published = if host.is_empty() {
                None
            } else if start == end && host_start != host_end {
                Some(format!("{host_start}-{host_end}"))
            } else {
                Some((host_start + i).to_string())
            };
            PortConfig {
                host_ip: (!ip.is_empty()).then(|| ip.to_string()),
                target: u32::from(start + i),
                published,
                protocol: proto.clone(),
                ..PortConfig::default()
            }
        })
        .collect();
    ports.sort_by_cached_key(|p| format!("{}/{}", p.target, p.protocol));
    Ok(ports)
}

const LONG_KEYS: &[&str] = &[
    "name",
    "mode",
    "host_ip",
    "target",
    "published",
    "protocol",
    "app_protocol",
];

/// A container port given as a number, checked to be a valid port.
fn target_port<E: de::Error>(value: &Scalar) -> Result<u32, E> {
    let port = match value {
        Scalar::Int(i) => u32::try_from(*i).ok().filter(|p| *p <= 65535),
        Scalar::Str(s) => parse_port(s).map(u32::from),
        _ => None,
    };
    port.ok_or_else(|| {
        E::custom(format!(
            "invalid port {}: expected a container port number between 0 and 65535",
            value.describe()
        ))
    })
}

fn port_from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<PortConfig, A::Error> {
    let mut port = PortConfig::default();
    let mut target = None;
    port.extensions = fields::read_map(&mut map, LONG_KEYS, |key, map| {
        let value: Scalar = map.next_value()?;
        match key {
            "target" => target = Some(target_port(&value)?),
            "published" => {
                port.published = value.into_string(key)?.filter(|s| !s.is_empty());
                if let Some(p) = &port.published {
                    if parse_port_range(p).is_none() {
                        return Err(de::Error::custom(format!(
                            "invalid published port {p:?}: expected a port number or a range such as 8000-8010"
                        )));
                    }
                }
            }
            "name" => port.name = value.into_string(key)?,
            "mode" => port.mode = value.into_string(key)?.unwrap_or_else(|| "ingress".into()),
            "host_ip" => port.host_ip = value.into_string(key)?.filter(|s| !s.is_empty()),
            "protocol" => port.protocol = value.into_string(key)?.unwrap_or_else(|| "tcp".into()),
            "app_protocol" => port.app_protocol = value.into_string(key)?,
            _ => unreachable!("read_map only passes known keys"),
        }
        Ok(())
    })?;
    port.target = target.ok_or_else(|| de::Error::missing_field("target"))?;
    Ok(port)
}

/// One item of a `ports` list: short syntax may expand to several ports.
struct PortItem(Vec<PortConfig>);

impl<'de> Deserialize<'de> for PortItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PortItem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "a port number, a string {PORT_SYNTAX} or a mapping with `target`"
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PortItem, E> {
                let target = target_port(&Scalar::Int(v))?;
                Ok(PortItem(vec![PortConfig {
                    target,
                    ..PortConfig::default()
                }]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PortItem, E> {
                match i64::try_from(v) {
                    Ok(v) => self.visit_i64(v),
                    Err(_) => Err(E::custom(format!(
                        "invalid port integer {v}: expected a container port number between 0 and 65535"
                    ))),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PortItem, E> {
                parse_short(v).map(PortItem).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PortItem, A::Error> {
                port_from_map(map).map(|p| PortItem(vec![p]))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for PortConfig {
    /// One port; a short-syntax range that expands to several ports is an error here (a list
    /// of ports is read with [`deserialize_ports`]).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let PortItem(mut ports) = PortItem::deserialize(deserializer)?;
        if ports.len() == 1 {
            Ok(ports.remove(0))
        } else {
            Err(de::Error::custom(format!(
                "port range expands to {} ports where one port is expected",
                ports.len()
            )))
        }
    }
}

/// Reads a `ports` list: integers, short-syntax strings (ranges expanded) and long-syntax
/// mappings, in order.
pub fn deserialize_ports<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PortConfig>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<PortConfig>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of ports")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<PortConfig>, A::Error> {
            let mut ports = Vec::new();
            while let Some(PortItem(item)) = seq.next_element()? {
                ports.extend(item);
            }
            Ok(ports)
        }
    }
    d.deserialize_seq(V)
}

impl Serialize for PortConfig {
    /// The long syntax, keys in the order `docker compose config` prints them, empty ones left
    /// out; `published` is always a string.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        if let Some(name) = &self.name {
            m.serialize_entry("name", name)?;
        }
        if !self.mode.is_empty() {
            m.serialize_entry("mode", &self.mode)?;
        }
        if let Some(ip) = &self.host_ip {
            m.serialize_entry("host_ip", ip)?;
        }
        if self.target != 0 {
            m.serialize_entry("target", &self.target)?;
        }
        if let Some(p) = &self.published {
            m.serialize_entry("published", p)?;
        }
        if !self.protocol.is_empty() {
            m.serialize_entry("protocol", &self.protocol)?;
        }
        if let Some(p) = &self.app_protocol {
            m.serialize_entry("app_protocol", p)?;
        }
        fields::serialize_extensions(&mut m, &self.extensions)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::types::fields::test_support::{assert_yaml_errors, load_file};

    fn port(
        host_ip: Option<&str>,
        target: u32,
        published: Option<&str>,
        protocol: &str,
    ) -> PortConfig {
        PortConfig {
            host_ip: host_ip.map(str::to_string),
            target,
            published: published.map(str::to_string),
            protocol: protocol.to_string(),
            ..PortConfig::default()
        }
    }

    #[test]
    fn parses_short_syntax() {
        let cases: Vec<(&str, Vec<PortConfig>)> = vec![
            ("80", vec![port(None, 80, None, "tcp")]),
            ("8080:80", vec![port(None, 80, Some("8080"), "tcp")]),
            (
                "127.0.0.1:8080:80",
                vec![port(Some("127.0.0.1"), 80, Some("8080"), "tcp")],
            ),
            (
                "127.0.0.1::80",
                vec![port(Some("127.0.0.1"), 80, None, "tcp")],
            ),
            ("6060:6060/udp", vec![port(None, 6060, Some("6060"), "udp")]),
            ("6060:6060/UDP", vec![port(None, 6060, Some("6060"), "udp")]),
            ("80/sctp", vec![port(None, 80, None, "sctp")]),
            ("80/", vec![port(None, 80, None, "tcp")]),
            (
                "[::1]:8080:80",
                vec![port(Some("::1"), 80, Some("8080"), "tcp")],
            ),
            (
                "::1:8080:80",
                vec![port(Some("::1"), 80, Some("8080"), "tcp")],
            ),
            (
                "[fe80::1]::53/udp",
                vec![port(Some("fe80::1"), 53, None, "udp")],
            ),
            (
                "8000-8010:80",
                vec![port(None, 80, Some("8000-8010"), "tcp")],
            ),
            (
                "0.0.0.0:8000-8010:80",
                vec![port(Some("0.0.0.0"), 80, Some("8000-8010"), "tcp")],
            ),
            (
                "9090-9091:8080-8081",
                vec![
                    port(None, 8080, Some("9090"), "tcp"),
                    port(None, 8081, Some("9091"), "tcp"),
                ],
            ),
            (
                "3000-3002",
                vec![
                    port(None, 3000, None, "tcp"),
                    port(None, 3001, None, "tcp"),
                    port(None, 3002, None, "tcp"),
                ],
            ),
            // Compose lists expanded ports sorted as text.
            (
                "98-100:98-100",
                vec![
                    port(None, 100, Some("100"), "tcp"),
                    port(None, 98, Some("98"), "tcp"),
                    port(None, 99, Some("99"), "tcp"),
                ],
            ),
            (
                "5000-5000:5000-5000",
                vec![port(None, 5000, Some("5000"), "tcp")],
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(parse_short(spec).as_ref(), Ok(&want), "{spec}");
        }
        assert_eq!(parse_short("8000-8010:8000-8010").unwrap().len(), 11);
    }

    #[test]
    fn rejects_bad_short_syntax() {
        let syntax = |d: &str| format!("{d}, expected {PORT_SYNTAX}");
        let cases: &[(&str, String)] = &[
            ("abc", syntax("invalid container port \"abc\"")),
            ("", syntax("no container port")),
            ("8080:", syntax("no container port")),
            ("/udp", syntax("no container port")),
            ("8080:abc", syntax("invalid container port \"abc\"")),
            ("70000", syntax("invalid container port \"70000\"")),
            ("+80", syntax("invalid container port \"+80\"")),
            ("80-70", syntax("invalid container port \"80-70\"")),
            ("x:80", syntax("invalid host port \"x\"")),
            (
                "localhost:8080:80",
                syntax("invalid IP address \"localhost\""),
            ),
            ("[::1:8080:80", syntax("invalid IP address \"[::1\"")),
            ("1.2.3:80:80", syntax("invalid IP address \"1.2.3\"")),
            (
                "8080:80/http",
                "invalid protocol \"http\", expected tcp, udp or sctp".to_string(),
            ),
            (
                "9090-9092:8080-8081",
                "container port range 8080-8081 and host port range 9090-9092 differ in size"
                    .to_string(),
            ),
            (
                "9090:8080-8081",
                "container port range 8080-8081 and host port range 9090 differ in size"
                    .to_string(),
            ),
        ];
        for (spec, detail) in cases {
            let want = format!("invalid port {spec:?}: {detail}");
            assert_eq!(parse_short(spec), Err(want), "{spec}");
        }
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Svc {
        #[serde(deserialize_with = "deserialize_ports")]
        ports: Vec<PortConfig>,
    }

    #[test]
    fn deserializes_all_syntaxes() {
        let yaml = "ports:\n\
            - 80\n\
            - \"8080:80\"\n\
            - 9090-9091:8080-8081\n\
            - target: 443\n\
            - target: '8443'\n  published: 9443\n  host_ip: 127.0.0.1\n  protocol: udp\n  mode: host\n  name: web\n  app_protocol: https\n  x-note: hi\n\
            - target: 53\n  published: 5300-5310\n";
        let svc: Svc = serde_yaml_ng::from_str(yaml).unwrap();
        let mut long = port(Some("127.0.0.1"), 8443, Some("9443"), "udp");
        long.mode = "host".into();
        long.name = Some("web".into());
        long.app_protocol = Some("https".into());
        long.extensions
            .insert("x-note".into(), serde_yaml_ng::Value::from("hi"));
        assert_eq!(
            svc.ports,
            vec![
                port(None, 80, None, "tcp"),
                port(None, 80, Some("8080"), "tcp"),
                port(None, 8080, Some("9090"), "tcp"),
                port(None, 8081, Some("9091"), "tcp"),
                port(None, 443, None, "tcp"),
                long,
                port(None, 53, Some("5300-5310"), "tcp"),
            ]
        );
    }

    #[test]
    fn serializes_like_compose_config() {
        let svc: Svc = serde_yaml_ng::from_str(
            "ports:\n- 127.0.0.1:8080:80\n- 443\n- {target: 53, published: 53, protocol: udp, name: dns, app_protocol: dns, x-a: 1}\n",
        )
        .unwrap();
        assert_eq!(
            serde_yaml_ng::to_string(&svc).unwrap(),
            "ports:\n\
             - mode: ingress\n  host_ip: 127.0.0.1\n  target: 80\n  published: '8080'\n  protocol: tcp\n\
             - mode: ingress\n  target: 443\n  protocol: tcp\n\
             - name: dns\n  mode: ingress\n  target: 53\n  published: '53'\n  protocol: udp\n  app_protocol: dns\n  x-a: 1\n"
        );
    }

    #[test]
    fn rejects_bad_items_with_clear_messages() {
        let cases: &[(&str, &str)] = &[
            ("ports:\n- abc\n", "ports[0]: invalid port \"abc\": invalid container port \"abc\", expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]"),
            ("ports:\n- 70000\n", "ports[0]: invalid port 70000: expected a container port number between 0 and 65535"),
            ("ports:\n- {published: 80}\n", "ports[0]: missing field `target`"),
            ("ports:\n- {target: 80, publish: 80}\n", "ports[0]: unknown key `publish`, expected one of: name, mode, host_ip, target, published, protocol, app_protocol"),
            ("ports:\n- {target: 80, published: x}\n", "ports[0]: invalid published port \"x\": expected a port number or a range such as 8000-8010"),
            ("ports:\n- {target: http}\n", "ports[0]: invalid port \"http\": expected a container port number between 0 and 65535"),
            ("ports:\n- [80]\n", "ports[0]: invalid type: sequence, expected a port number, a string [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL] or a mapping with `target`"),
            ("ports: 80\n", "ports: invalid type: integer `80`, expected a list of ports"),
        ];
        assert_yaml_errors::<Svc, _>(cases.iter().copied());
    }

    #[test]
    fn single_port_config_rejects_ranges() {
        let p: PortConfig = serde_yaml_ng::from_str("\"8080:80\"").unwrap();
        assert_eq!(p, port(None, 80, Some("8080"), "tcp"));
        let err = serde_yaml_ng::from_str::<PortConfig>("\"80-81\"").unwrap_err();
        assert_eq!(
            err.to_string(),
            "port range expands to 2 ports where one port is expected"
        );
    }

    #[test]
    fn deserializes_from_node_with_locations() {
        let load = |src: &str| load_file::<Svc>("c.yaml", src);
        let svc =
            load("ports:\n  - 8080:80\n  - target: \"443\"\n    published: 8443\n    x-y: 1\n")
                .unwrap();
        let mut long = port(None, 443, Some("8443"), "tcp");
        long.extensions
            .insert("x-y".into(), serde_yaml_ng::Value::from(1));
        assert_eq!(svc.ports, vec![port(None, 80, Some("8080"), "tcp"), long]);

        let err = load("ports:\n  - 80\n  - target: 80\n    protocl: udp\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.yaml:4:5: ports[1].protocl: unknown key `protocl`, expected one of: name, mode, host_ip, target, published, protocol, app_protocol"
        );
        let err = load("ports:\n  - 80\n  - \"80:80/tcpx\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.yaml:3:5: ports[1]: invalid port \"80:80/tcpx\": invalid protocol \"tcpx\", expected tcp, udp or sctp"
        );
    }
}
