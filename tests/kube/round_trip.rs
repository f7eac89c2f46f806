//! The round-trip check of `tests/kube.rs`: what of a project (as `compose config --format
//! json` prints it) is missing from the objects `kube generate` made and not warned about. It
//! reads the objects as plain YAML, never through the translator's types, so it does not share
//! their mistakes; only object names come from the library (`compose::kube::names`), being the
//! contract between the translation and its users.

use compose::kube::names;
use serde::Deserialize;
use serde_json::Value as Json;
use serde_yaml_ng::Value;

/// The YAML documents of a stream (empty documents dropped).
pub fn documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).expect("output is YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

/// `v`'s string at `path` (keys of nested mappings).
fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path).and_then(Value::as_str)
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

fn seq<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_sequence)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Whether stderr holds a warning for `service` naming `key` (or a key beneath it).
fn warned(stderr: &str, service: &str, key: &str) -> bool {
    let prefix = format!("WARN[0000] service {service:?}: {key}");
    stderr.lines().any(|l| {
        l.strip_prefix(&prefix)
            .is_some_and(|rest| rest.starts_with(['.', '[', ':', ' ']))
    })
}

/// The ports a service's container listens on, per Compose: `ports` targets and `expose`
/// entries (ranges expanded), as (port, upper-case protocol).
fn compose_ports(svc: &Json) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for p in svc["ports"].as_array().into_iter().flatten() {
        if let Some(t) = p["target"].as_u64() {
            let proto = p["protocol"].as_str().unwrap_or("tcp").to_uppercase();
            out.push((t, proto));
        }
    }
    for e in svc["expose"].as_array().into_iter().flatten() {
        let e = match e {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        let (range, proto) = e.split_once('/').unwrap_or((&e, "tcp"));
        let (lo, hi) = range.split_once('-').unwrap_or((range, range));
        if let (Ok(lo), Ok(hi)) = (lo.parse::<u64>(), hi.parse::<u64>()) {
            out.extend((lo..=hi).map(|p| (p, proto.to_uppercase())));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether the container port entry `entry` is `port`/`proto`.
fn container_port(entry: &Value, port: u64, proto: &str) -> bool {
    text(entry, &["protocol"]).unwrap_or("TCP") == proto
        && at(entry, &["containerPort"]).and_then(Value::as_u64) == Some(port)
}

/// Whether the Service port entry `entry` leads to container port `port`/`proto`: its
/// `targetPort` (a number, or the name of one of `container`'s ports), else its `port`.
fn service_port(entry: &Value, container: &Value, port: u64, proto: &str) -> bool {
    if text(entry, &["protocol"]).unwrap_or("TCP") != proto {
        return false;
    }
    match at(entry, &["targetPort"]) {
        Some(Value::String(name)) => seq(container, &["ports"])
            .iter()
            .any(|p| text(p, &["name"]) == Some(name.as_str()) && container_port(p, port, proto)),
        Some(n) => n.as_u64() == Some(port),
        None => at(entry, &["port"]).and_then(Value::as_u64) == Some(port),
    }
}

/// Whether any init container's command line has `name` as a word (`job/NAME`, `nc -z NAME`).
fn waits_for(pod: &Value, name: &str) -> bool {
    seq(pod, &["initContainers"]).iter().any(|c| {
        seq(c, &["command"])
            .iter()
            .chain(seq(c, &["args"]))
            .filter_map(Value::as_str)
            .flat_map(|s| s.split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '-')))
            .any(|w| w == name)
    })
}

/// What of `config` (the project) is missing from `docs` (the objects) and not warned about.
pub fn round_trip_gaps(label: &str, config: &Json, docs: &[Value], stderr: &str) -> Vec<String> {
    let mut gaps = Vec::new();
    let find = |kinds: &[&str], name: &str| {
        docs.iter().find(|d| {
            text(d, &["kind"]).is_some_and(|k| kinds.contains(&k))
                && text(d, &["metadata", "name"]) == Some(name)
        })
    };
    let empty = serde_json::Map::new();
    let services = config["services"].as_object().unwrap_or(&empty);
    let volumes = config["volumes"].as_object().unwrap_or(&empty);
    for (name, svc) in services {
        let workload_name = names::workload(name);
        let Some(workload) = find(
            &["Deployment", "StatefulSet", "Job", "DaemonSet"],
            &workload_name,
        ) else {
            gaps.push(format!(
                "{label}: service {name}: no workload {workload_name}"
            ));
            continue;
        };
        let pod = at(workload, &["spec", "template", "spec"]).unwrap_or(&Value::Null);
        let container = seq(pod, &["containers"]).first().unwrap_or(&Value::Null);
        let service = find(&["Service"], &names::service(name));
        for (port, proto) in compose_ports(svc) {
            let shown = match service {
                Some(s) => seq(s, &["spec", "ports"])
                    .iter()
                    .any(|p| service_port(p, container, port, &proto)),
                None => seq(container, &["ports"])
                    .iter()
                    .any(|p| container_port(p, port, &proto)),
            };
            if !shown && !warned(stderr, name, "ports") && !warned(stderr, name, "expose") {
                gaps.push(format!("{label}: service {name}: port {port}/{proto} lost"));
            }
        }
        let pod_claims: Vec<&str> = seq(pod, &["volumes"])
            .iter()
            .filter_map(|v| text(v, &["persistentVolumeClaim", "claimName"]))
            .collect();
        let templates: Vec<&str> = seq(workload, &["spec", "volumeClaimTemplates"])
            .iter()
            .filter_map(|t| text(t, &["metadata", "name"]))
            .collect();
        for mount in svc["volumes"].as_array().into_iter().flatten() {
            let (Some("volume"), Some(source)) = (mount["type"].as_str(), mount["source"].as_str())
            else {
                continue;
            };
            let top = &volumes[source];
            let shown = if top["external"].as_bool() == Some(true) {
                pod_claims.contains(&names::external_claim(source, top["name"].as_str()).as_str())
            } else {
                let claim = names::claim(source);
                (pod_claims.contains(&claim.as_str())
                    && find(&["PersistentVolumeClaim"], &claim).is_some())
                    || templates.contains(&names::pod_volume(source).as_str())
            };
            if !shown && !warned(stderr, name, "volumes") {
                gaps.push(format!("{label}: service {name}: volume {source} lost"));
            }
        }
        for dep in svc["depends_on"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(d, _)| d)
        {
            if !services.contains_key(dep) {
                continue; // `required: false` and not selected: nothing to wait for
            }
            if !waits_for(pod, &names::service(dep)) && !warned(stderr, name, "depends_on") {
                gaps.push(format!("{label}: service {name}: dependency {dep} lost"));
            }
        }
    }
    gaps
}

#[test]
fn round_trip_check_notices_what_is_missing() {
    let config: Json = serde_json::from_str(
        r#"{"services": {"web": {"ports": [{"target": 80, "protocol": "tcp"}],
            "volumes": [{"type": "volume", "source": "data", "target": "/d"}],
            "depends_on": {"db": {"condition": "service_started"}}},
            "db": {"expose": ["5432", "7000-7001/udp"]}},
            "volumes": {"data": {}}}"#,
    )
    .expect("json");
    let complete = documents(
        "kind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      \
         initContainers: [{name: wait-db, command: [sh, -c, 'until nc -z db 5432; do sleep 1; done']}]\n      \
         containers: [{name: web}]\n      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]\n\
         ---\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80, targetPort: 80}]}\n\
         ---\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n\
         ---\nkind: Deployment\nmetadata: {name: db}\nspec: {template: {spec: {containers: [{name: db}]}}}\n\
         ---\nkind: Service\nmetadata: {name: db}\nspec:\n  ports: [{port: 5432}, {port: 7000, protocol: UDP}, {port: 7001, protocol: UDP}]\n",
    );
    assert_eq!(
        round_trip_gaps("t", &config, &complete, ""),
        Vec::<String>::new()
    );
    // Without the Service of web, its claim and web's init container, each is reported...
    let partial: Vec<Value> = complete
        .iter()
        .filter(|d| {
            let kind = text(d, &["kind"]);
            let web_service =
                kind == Some("Service") && text(d, &["metadata", "name"]) == Some("web");
            !(web_service || kind == Some("PersistentVolumeClaim"))
        })
        .cloned()
        .collect();
    let gaps = round_trip_gaps("t", &config, &partial, "");
    assert_eq!(
        gaps,
        [
            "t: service web: port 80/TCP lost",
            "t: service web: volume data lost",
        ],
        "{gaps:?}"
    );
    // ...unless a warning names the key.
    let warnings = "WARN[0000] service \"web\": ports[0]: cannot\n\
                    WARN[0000] service \"web\": volumes[0]: cannot\n";
    assert_eq!(
        round_trip_gaps("t", &config, &partial, warnings),
        Vec::<String>::new()
    );
    let no_db = &complete[..3];
    assert_eq!(
        round_trip_gaps("t", &config, no_db, ""),
        ["t: service db: no workload db"]
    );
    let mut no_wait = complete.clone();
    no_wait[0] = documents(
        "kind: Deployment\nmetadata: {name: web}\nspec: {template: {spec: {containers: [{name: web}], \
         volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]}}}",
    )
    .remove(0);
    assert_eq!(
        round_trip_gaps("t", &config, &no_wait, ""),
        ["t: service web: dependency db lost"]
    );
}
