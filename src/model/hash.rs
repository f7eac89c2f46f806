//! The per-service configuration hash (`config --hash`), which the reconciler records on each
//! container and compares to decide whether a container must be recreated.
//!
//! It covers what shapes the running container and nothing else. Left out, as Docker Compose
//! leaves them out: `build` (an edited build step rebuilds, it does not by itself recreate),
//! `pull_policy`, `scale` and `deploy.replicas` (scaling adds or removes containers, it never
//! recreates the others), `depends_on` and `profiles` (what runs with the service, not how). Also
//! left out: `develop` and `pull_refresh_after`, which only steer the tool, and `x-*` extensions,
//! which Compose never hands to the engine. Mapping keys are sorted first, at every level:
//! reordering `environment` or `labels` in the file is not a change; list order is (a reordered
//! `command` is a different command).

use sha2::{Digest, Sha256};

use super::types::service::ServiceConfig;

/// Hex SHA-256 of the service's canonical form (see the module docs for what it leaves out).
pub fn service_hash(service: &ServiceConfig) -> String {
    let mut s = service.clone();
    s.build = None;
    s.pull_policy = None;
    s.pull_refresh_after = None;
    s.scale = None;
    s.depends_on.clear();
    s.profiles.clear();
    s.develop = None;
    s.extensions.clear();
    if let Some(deploy) = s.deploy.as_mut() {
        deploy.replicas = None;
    }
    let mut bytes = Vec::new();
    match serde_yaml_ng::to_value(&s) {
        Ok(v) => canonical(&v, &mut bytes),
        // Serializing the typed model cannot fail in practice; should it, the debug form still
        // changes whenever the service does.
        Err(_) => bytes.extend_from_slice(format!("{s:?}").as_bytes()),
    }
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `v` as JSON-like text with every mapping's entries sorted by their encoded key, so the
/// result does not depend on the order keys were written in. Works on YAML values (not JSON) so
/// that any key, even a non-string one inside an extension, encodes.
fn canonical(v: &serde_yaml_ng::Value, out: &mut Vec<u8>) {
    use serde_yaml_ng::Value;
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => {
            // JSON string escaping keeps `"a\",\"b"` distinct from two strings.
            let quoted = serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"));
            out.extend_from_slice(quoted.as_bytes());
        }
        Value::Sequence(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(item, out);
            }
            out.push(b']');
        }
        Value::Mapping(m) => {
            let mut entries: Vec<(Vec<u8>, Vec<u8>)> = m
                .iter()
                .map(|(k, v)| {
                    let (mut kb, mut vb) = (Vec::new(), Vec::new());
                    canonical(k, &mut kb);
                    canonical(v, &mut vb);
                    (kb, vb)
                })
                .collect();
            entries.sort();
            out.push(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(k);
                out.push(b':');
                out.extend_from_slice(v);
            }
            out.push(b'}');
        }
        Value::Tagged(t) => {
            out.extend_from_slice(t.tag.to_string().as_bytes());
            out.push(b' ');
            canonical(&t.value, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::model::de::from_node;
    use crate::model::types::resources::Project;
    use crate::model::yaml::parse_file_text;

    const BASE: &str = "\
image: nginx:1.27
command: [nginx, -g, daemon off;]
environment:
  A: '1'
  B: '2'
labels:
  com.example.a: x
  com.example.b: y
ports: ['8080:80']
volumes: ['data:/data']
restart: always
deploy:
  replicas: 2
  resources:
    limits: {memory: 64M}
";

    /// The hash of service `web` whose body is `body` (indented under it).
    fn hash_of(body: &str) -> String {
        let indented: String = body.lines().map(|l| format!("    {l}\n")).collect();
        let text = format!("services:\n  web:\n{indented}");
        let tree = parse_file_text(&text, Some(Path::new("compose.yaml"))).expect("valid YAML");
        let project: Project = from_node(&tree).expect("valid project");
        service_hash(&project.services["web"])
    }

    #[test]
    fn hash_is_hex_sha256_and_pinned() {
        let h = hash_of(BASE);
        assert_eq!(h.len(), 64);
        assert!(h
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(h, hash_of(BASE), "stable across calls");
        // Pinned: a change to the canonical form recreates every container a user has.
        // sha256 of `{"image":"nginx"}`: defaults are not part of the canonical form.
        assert_eq!(
            hash_of("image: nginx\n"),
            "87132e95dfbdfe0f3b4b5fc5d97e77562f531773bb439b3b9624ef0863f7fcbb"
        );
    }

    #[test]
    fn key_order_does_not_matter() {
        let reordered = "\
deploy:
  resources:
    limits: {memory: 64M}
  replicas: 2
restart: always
labels:
  com.example.b: y
  com.example.a: x
environment: [B=2, A=1]
volumes: ['data:/data']
ports: ['8080:80']
command: [nginx, -g, daemon off;]
image: nginx:1.27
";
        assert_eq!(hash_of(BASE), hash_of(reordered));
    }

    #[test]
    fn what_only_steers_the_tool_is_left_out() {
        let base = hash_of(BASE);
        let cases: &[(&str, &str)] = &[
            (
                "deploy.replicas",
                &BASE.replace("replicas: 2", "replicas: 5"),
            ),
            ("no deploy.replicas", &BASE.replace("  replicas: 2\n", "")),
            ("scale", &format!("{BASE}scale: 3\n")),
            (
                "build",
                &format!("{BASE}build: {{context: ., args: {{X: '1'}}}}\n"),
            ),
            ("pull_policy", &format!("{BASE}pull_policy: always\n")),
            (
                "pull_refresh_after",
                &format!("{BASE}pull_refresh_after: 1h\n"),
            ),
            ("depends_on", &format!("{BASE}depends_on: [db]\n")),
            ("profiles", &format!("{BASE}profiles: [debug]\n")),
            (
                "develop",
                &format!(
                    "{BASE}develop:\n  watch:\n    - {{path: ./src, action: sync, target: /app}}\n"
                ),
            ),
            ("x- extension", &format!("{BASE}x-team: web\n")),
        ];
        let mut failures = Vec::new();
        for (what, body) in cases {
            if hash_of(body) != base {
                failures.push(*what);
            }
        }
        assert!(failures.is_empty(), "these changed the hash: {failures:?}");
    }

    #[test]
    fn what_shapes_the_container_changes_the_hash() {
        let base = hash_of(BASE);
        let cases: &[(&str, String)] = &[
            ("image", BASE.replace("nginx:1.27", "nginx:1.28")),
            ("command", BASE.replace("daemon off;", "daemon on;")),
            (
                "command order",
                BASE.replace("[nginx, -g, daemon off;]", "[nginx, daemon off;, -g]"),
            ),
            ("environment value", BASE.replace("B: '2'", "B: '3'")),
            (
                "environment added",
                BASE.replace("  B: '2'\n", "  B: '2'\n  C: '3'\n"),
            ),
            ("environment unset", BASE.replace("B: '2'", "B:")),
            ("label", BASE.replace("x\n", "z\n")),
            ("ports", BASE.replace("8080:80", "8081:80")),
            ("volumes", BASE.replace("data:/data", "data:/srv")),
            ("restart", BASE.replace("always", "unless-stopped")),
            ("deploy.resources", BASE.replace("64M", "128M")),
            (
                "no deploy at all",
                BASE[..BASE.find("deploy:").unwrap_or(BASE.len())].to_string(),
            ),
            ("user", format!("{BASE}user: nobody\n")),
            (
                "networks",
                format!("{BASE}networks: {{default: {{aliases: [w]}}}}\n"),
            ),
            (
                "healthcheck",
                format!("{BASE}healthcheck: {{test: [CMD, true]}}\n"),
            ),
            ("container_name", format!("{BASE}container_name: w\n")),
            ("env_file", format!("{BASE}env_file: [a.env]\n")),
            ("entrypoint", format!("{BASE}entrypoint: [sh]\n")),
            ("tty", format!("{BASE}tty: true\n")),
            ("cap_add", format!("{BASE}cap_add: [NET_ADMIN]\n")),
            ("extra_hosts", format!("{BASE}extra_hosts: ['a=1.2.3.4']\n")),
            ("logging", format!("{BASE}logging: {{driver: json-file}}\n")),
            (
                "post_start",
                format!("{BASE}post_start: [{{command: [echo]}}]\n"),
            ),
            // Docker Compose's hash covers them too: a changed annotation recreates.
            (
                "annotations",
                format!("{BASE}annotations: {{com.example.k: v}}\n"),
            ),
        ];
        let mut failures = Vec::new();
        let mut seen = vec![base];
        for (what, body) in cases {
            let h = hash_of(body);
            if seen.contains(&h) {
                failures.push(*what);
            }
            seen.push(h);
        }
        assert!(
            failures.is_empty(),
            "these did not give a new hash: {failures:?}"
        );
    }

    #[test]
    fn strings_are_not_confused_across_boundaries() {
        // `["a b"]` vs `["a", "b"]`, and a quote inside a value.
        assert_ne!(
            hash_of("image: x\ncommand: ['a b']\n"),
            hash_of("image: x\ncommand: [a, b]\n")
        );
        assert_ne!(
            hash_of("image: x\ncommand: ['a\",\"b']\n"),
            hash_of("image: x\ncommand: [a, b]\n")
        );
    }

    #[test]
    fn canonical_form_sorts_mappings_at_every_level() {
        let v: serde_yaml_ng::Value =
            serde_yaml_ng::from_str("b: {y: 1, x: [2, {d: null, c: true}]}\na: 'q\"'\n1: z\n")
                .expect("yaml");
        let mut out = Vec::new();
        canonical(&v, &mut out);
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            r#"{"a":"q\"","b":{"x":[2,{"c":true,"d":null}],"y":1},1:"z"}"#
        );
    }
}
