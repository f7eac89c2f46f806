//! The canonical rendering of a project, as `config` prints it: YAML or JSON with Docker
//! Compose's key names and structure, `x-` extensions put back in place, and the mappings Docker
//! Compose prints sorted (services, networks, environment, labels, ...) sorted the same way so the
//! output is stable whatever order the files used.

use std::fmt::Write as _;

use indexmap::IndexMap;
use serde_yaml_ng::{Mapping, Value};

use super::de::EXTENSIONS_FIELD;
use super::environment::Environment;
use super::error::{ErrorKind, LoadError, Result};
use super::hash::service_hash;
use super::interpolate::Variable;
use super::types::resources::Project;
use super::yaml::{resolve_plain, Node, Value as YamlValue};

/// Mapping keys whose values are user-keyed mappings (not structs) and are printed sorted.
const SORTED_MAPS: &[&str] = &[
    "services",
    "networks",
    "volumes",
    "secrets",
    "configs",
    "models",
    "environment",
    "labels",
    "annotations",
    "sysctls",
    "args",
    "options",
    "driver_opts",
    "depends_on",
    "ulimits",
    "storage_opt",
    "additional_contexts",
    "extra_hosts",
    "aux_addresses",
];

/// The typed project as a serde value in output shape, as Docker Compose's `config` prints it:
/// networks no service uses are left out, and every `$` of a string value is written `$$`, so
/// that the output (whose variables are already substituted) can be fed back in unchanged.
pub fn project_value(project: &Project) -> Result<Value> {
    let mut used = project.clone();
    used.networks.retain(|n, _| {
        project
            .services
            .values()
            .any(|s| s.networks.contains_key(n))
    });
    let mut v = serde_yaml_ng::to_value(&used).map_err(|e| {
        LoadError::bare(ErrorKind::Other(format!("cannot render the project: {e}")))
    })?;
    finish(&mut v, None);
    escape_dollars(&mut v);
    Ok(v)
}

/// `$` → `$$` in every string value (keys are names, never interpolated, and left alone).
fn escape_dollars(v: &mut Value) {
    match v {
        Value::String(s) if s.contains('$') => *s = s.replace('$', "$$"),
        Value::Mapping(m) => m.values_mut().for_each(escape_dollars),
        Value::Sequence(items) => items.iter_mut().for_each(escape_dollars),
        Value::Tagged(t) => escape_dollars(&mut t.value),
        _ => {}
    }
}

/// The untyped model (for `--no-interpolate`) in output shape.
pub fn tree_value(tree: &Node) -> Value {
    let mut v = tree.to_value();
    finish(&mut v, None);
    v
}

/// Flattens `x-*` extension fields into their parent and sorts user-keyed mappings.
fn finish(v: &mut Value, key: Option<&str>) {
    match v {
        Value::Mapping(m) => {
            if let Some(Value::Mapping(ext)) = m.remove(EXTENSIONS_FIELD) {
                for (k, x) in ext {
                    m.insert(k, x);
                }
            }
            for (k, child) in m.iter_mut() {
                finish(child, k.as_str());
            }
            if key.is_some_and(|k| SORTED_MAPS.contains(&k)) {
                let mut entries: Vec<(Value, Value)> = std::mem::take(m).into_iter().collect();
                entries.sort_by_key(|a| sort_key(&a.0));
                *m = entries.into_iter().collect::<Mapping>();
            }
        }
        Value::Sequence(s) => {
            for child in s {
                finish(child, None);
            }
        }
        Value::Tagged(t) => finish(&mut t.value, key),
        _ => {}
    }
}

fn sort_key(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other).unwrap_or_default(),
    }
}

/// Renders YAML (Docker Compose's default) or indented JSON.
pub fn render(value: &Value, json: bool) -> Result<String> {
    let fail = |e: String| LoadError::bare(ErrorKind::Other(format!("cannot render: {e}")));
    if json {
        let mut s = serde_json::to_string_pretty(value).map_err(|e| fail(e.to_string()))?;
        s.push('\n');
        Ok(s)
    } else {
        Ok(to_yaml(value))
    }
}

/// YAML in the layout Docker Compose prints (Go's yaml.v3, indent 2): sequences indented under
/// their key, strings double-quoted only where a plain scalar would read as something else,
/// multi-line strings as literal blocks. serde_yaml_ng's emitter differs on all three, which makes
/// `diff` against `docker compose config` noisy for no reason.
pub fn to_yaml(value: &Value) -> String {
    emit_document(value, 2)
}

/// [`to_yaml`] in kubectl's layout: a sequence at its key's indentation (`key:\n- a`), as
/// Kubernetes manifests are written.
pub fn to_yaml_compact(value: &Value) -> String {
    emit_document(value, 0)
}

/// `seq` is how far a sequence is indented under its key.
fn emit_document(value: &Value, seq: usize) -> String {
    let mut out = String::new();
    match value {
        Value::Mapping(m) if !m.is_empty() => emit_mapping(&mut out, m, 0, seq),
        Value::Sequence(s) if !s.is_empty() => emit_sequence(&mut out, s, 0, seq),
        other => {
            emit_inline(&mut out, other, 0);
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// A mapping's entries at `level` spaces; the first line's indentation is the caller's when it
/// continues a `- ` line (see [`emit_sequence`]).
fn emit_mapping(out: &mut String, m: &Mapping, level: usize, seq: usize) {
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 || !out.ends_with("- ") {
            indent(out, level);
        }
        emit_key(out, k, level);
        out.push(':');
        emit_value_after_key(out, v, level, seq);
    }
}

fn emit_value_after_key(out: &mut String, v: &Value, level: usize, seq: usize) {
    match v {
        Value::Mapping(m) if !m.is_empty() => {
            out.push('\n');
            emit_mapping(out, m, level + 2, seq);
        }
        Value::Sequence(s) if !s.is_empty() => {
            out.push('\n');
            emit_sequence(out, s, level + seq, seq);
        }
        Value::Tagged(t) => emit_value_after_key(out, &t.value, level, seq),
        other => {
            out.push(' ');
            emit_inline(out, other, level);
            out.push('\n');
        }
    }
}

fn emit_sequence(out: &mut String, s: &[Value], level: usize, seq: usize) {
    for item in s {
        if !out.ends_with("- ") {
            indent(out, level);
        }
        out.push_str("- ");
        match item {
            Value::Mapping(m) if !m.is_empty() => emit_mapping(out, m, level + 2, seq),
            Value::Sequence(inner) if !inner.is_empty() => {
                emit_sequence(out, inner, level + 2, seq)
            }
            other => {
                emit_inline(out, other, level + 2);
                out.push('\n');
            }
        }
    }
}

/// Scalars and empty collections, on the current line.
fn emit_inline(out: &mut String, v: &Value, level: usize) {
    match v {
        Value::Mapping(_) => out.push_str("{}"),
        Value::Sequence(_) => out.push_str("[]"),
        Value::Tagged(t) => emit_inline(out, &t.value, level),
        other => emit_scalar(out, other, level),
    }
}

fn emit_scalar(out: &mut String, v: &Value, level: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => emit_string(out, s, level),
        Value::Sequence(_) | Value::Mapping(_) | Value::Tagged(_) => emit_inline(out, v, level),
    }
}

/// A mapping key: plain or double-quoted, never a block (a block cannot be a key).
fn emit_key(out: &mut String, k: &Value, level: usize) {
    match k {
        Value::String(s) if !is_plain_safe(s) => emit_quoted(out, s),
        other => emit_scalar(out, other, level),
    }
}

fn emit_string(out: &mut String, s: &str, level: usize) {
    if is_plain_safe(s) {
        out.push_str(s);
    } else if is_literal_block_safe(s) {
        out.push_str(if s.ends_with('\n') { "|" } else { "|-" });
        for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
            out.push('\n');
            if !line.is_empty() {
                indent(out, level + 2);
                out.push_str(line);
            }
        }
    } else {
        emit_quoted(out, s);
    }
}

/// `s` double-quoted, with JSON's escapes (which YAML reads the same).
fn emit_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_break_or_control(c) => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Whether `s` can be written unquoted and read back as the same string by YAML 1.1 and 1.2
/// readers alike (Docker Compose's yaml.v3 quotes YAML 1.1 booleans such as `yes` and `on`).
fn is_plain_safe(s: &str) -> bool {
    const BOOL_1_1: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF",
    ];
    let Some(first) = s.chars().next() else {
        return false;
    };
    if BOOL_1_1.contains(&s) || !matches!(resolve_plain(s), YamlValue::Str(_)) {
        return false;
    }
    // Number-like text (`1_000`, `1.2.3` is fine but `+.5` or `0b1` are not worth the risk),
    // YAML 1.1's base-60 numbers (`1:20` is 80 to kubectl and PyYAML; yaml.v3 quotes them too)
    // and timestamps (`2024-01-01T10:00:00Z`).
    if s.trim_start_matches(['+', '-', '.'])
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_digit() || "+-._:eExXoObB".contains(c))
    {
        return false;
    }
    let b = s.as_bytes();
    if b.len() >= 5 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' {
        return false;
    }
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) || s.ends_with(':') {
        return false;
    }
    if "?:,[]{}#&*!|>'\"%@`".contains(first)
        && !(matches!(first, '?' | ':') && s.len() > 1 && !s[1..].starts_with(' '))
    {
        return false;
    }
    if first == '-' && (s.len() == 1 || s[1..].starts_with(' ') || s.starts_with("---")) {
        return false;
    }
    !(s.contains(": ") || s.contains(" #") || s.chars().any(is_break_or_control))
}

/// Control characters, and what YAML 1.1 also reads as a line break or a byte-order mark
/// (U+2028, U+2029, U+FEFF): written escaped, never as they are.
fn is_break_or_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// Multi-line text that a literal block keeps exactly: no carriage returns or tabs, no line
/// ending in a space, at most one final newline, and a first line with text that does not start
/// with a space (it sets the block's indentation; later lines may be indented more, as in the
/// config files that `configs.content` and ConfigMaps hold, and as yaml.v3 writes them).
fn is_literal_block_safe(s: &str) -> bool {
    s.contains('\n')
        && !s.trim_end_matches('\n').is_empty()
        && !s.contains(['\r', '\t'])
        && !s.ends_with("\n\n")
        && !s.trim_start_matches('\n').starts_with(' ')
        && !s.split('\n').any(|l| l.ends_with(' '))
        && !s.chars().any(|c| is_break_or_control(c) && c != '\n')
}

/// The project restricted to `names` and, transitively, the services they depend on.
pub fn with_services(project: &Project, names: &[String]) -> Result<Project> {
    if let Some(missing) = names.iter().find(|n| !project.services.contains_key(*n)) {
        return Err(LoadError::bare(ErrorKind::NoSuchService(missing.clone())));
    }
    let keep = super::profiles::with_dependencies(project, names);
    let mut p = project.clone();
    p.services.retain(|k, _| keep.contains(k));
    Ok(p)
}

/// `config --images`: each service's image; a service that only builds gets the name Docker
/// Compose gives it, `<project>-<service>`.
pub fn images(project: &Project) -> String {
    let mut names: Vec<&String> = project.services.keys().collect();
    names.sort();
    let mut out = String::new();
    for n in names {
        let svc = &project.services[n];
        match &svc.image {
            Some(img) => {
                let _ = writeln!(out, "{img}");
            }
            None => {
                let _ = writeln!(out, "{}-{}", project.name.as_deref().unwrap_or_default(), n);
            }
        }
    }
    out
}

/// `config --hash "*"` or `--hash a,b`: `<service> <hash>` lines.
pub fn hashes(project: &Project, selection: &str) -> Result<String> {
    let mut names: Vec<String> = if selection.trim() == "*" {
        project.services.keys().cloned().collect()
    } else {
        selection
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    names.sort();
    let mut out = String::new();
    for n in names {
        let svc = project
            .services
            .get(&n)
            .ok_or_else(|| LoadError::bare(ErrorKind::NoSuchService(n.clone())))?;
        let _ = writeln!(out, "{n} {}", service_hash(svc));
    }
    Ok(out)
}

/// `config --variables`: a table like Docker Compose's, or JSON keyed by name.
pub fn variables(vars: &[Variable], json: bool) -> Result<String> {
    if json {
        let map: IndexMap<&str, serde_json::Value> = vars
            .iter()
            .map(|v| {
                (
                    v.name.as_str(),
                    serde_json::json!({
                        "Name": v.name,
                        "DefaultValue": v.default_value.clone().unwrap_or_default(),
                        "PresenceValue": v.alternate_value.clone().unwrap_or_default(),
                        "Required": v.required,
                    }),
                )
            })
            .collect();
        let mut s = serde_json::to_string_pretty(&map)
            .map_err(|e| LoadError::bare(ErrorKind::Other(e.to_string())))?;
        s.push('\n');
        return Ok(s);
    }
    let mut rows = vec![[
        "NAME".to_string(),
        "REQUIRED".to_string(),
        "DEFAULT VALUE".to_string(),
        "ALTERNATE VALUE".to_string(),
    ]];
    for v in vars {
        rows.push([
            v.name.clone(),
            v.required.to_string(),
            v.default_value.clone().unwrap_or_default(),
            v.alternate_value.clone().unwrap_or_default(),
        ]);
    }
    Ok(table(&rows))
}

/// Left-aligned columns separated by three spaces, like Go's tabwriter in Docker's tables.
pub fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == N {
                line.push_str(c);
            } else {
                let _ = write!(line, "{c:<w$}   ", w = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `config --environment`: the interpolation environment, `KEY=VALUE` sorted.
pub fn environment(env: &Environment) -> String {
    let mut keys: Vec<&String> = env.vars().keys().collect();
    keys.sort();
    keys.iter()
        .map(|k| format!("{k}={}\n", env.vars()[*k]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_layout_matches_docker_compose() {
        let v: Value = serde_yaml_ng::from_str(
            "name: p\nservices:\n  web:\n    command: [sh, -c, 'echo hi']\n    ports: [{target: 80, published: '8080'}]\n    networks: {default: null}\n    labels: {}\n    tmpfs: []\n",
        )
        .unwrap();
        assert_eq!(
            to_yaml(&v),
            "name: p\nservices:\n  web:\n    command:\n      - sh\n      - -c\n      - echo hi\n    ports:\n      - target: 80\n        published: \"8080\"\n    networks:\n      default: null\n    labels: {}\n    tmpfs: []\n"
        );
    }

    #[test]
    fn strings_are_quoted_only_when_needed_and_read_back_unchanged() {
        let cases: &[(&str, &str)] = &[
            ("busybox:latest", "busybox:latest"),
            ("8080", "\"8080\""),
            ("1.5", "\"1.5\""),
            ("1_000", "\"1_000\""),
            ("true", "\"true\""),
            ("yes", "\"yes\""),
            ("off", "\"off\""),
            ("null", "\"null\""),
            ("~", "\"~\""),
            ("", "\"\""),
            ("-c", "-c"),
            ("-", "\"-\""),
            ("a: b", "\"a: b\""),
            ("a #b", "\"a #b\""),
            ("#x", "\"#x\""),
            ("*x", "\"*x\""),
            ("{x}", "\"{x}\""),
            ("${PORT:-8080}:80", "${PORT:-8080}:80"),
            (" lead", "\" lead\""),
            ("say \"hi\"\\", "say \"hi\"\\"),
            ("tab\there", "\"tab\\there\""),
            ("line1\nline2", "|-\n  line1\n  line2"),
            ("line1\n\nline3\n", "|\n  line1\n\n  line3"),
            (" indented\nx", "\" indented\\nx\""),
            ("é ünïcode", "é ünïcode"),
            ("1.25-alpine", "1.25-alpine"),
        ];
        for (input, want) in cases {
            let v = Value::Mapping(
                [(Value::String("k".into()), Value::String((*input).into()))]
                    .into_iter()
                    .collect(),
            );
            let text = to_yaml(&v);
            assert_eq!(text, format!("k: {want}\n"), "{input:?}");
            let back: Value = serde_yaml_ng::from_str(&text).unwrap();
            assert_eq!(back, v, "{input:?} reads back");
            let node = crate::model::yaml::parse_file_text(&text, None).unwrap();
            assert_eq!(
                node.get("k").and_then(Node::as_str),
                Some(*input),
                "{input:?}"
            );
        }
    }

    #[test]
    fn nested_sequences_and_top_level_scalars() {
        let v: Value = serde_yaml_ng::from_str("[[a, b], [], {}, {x: [1]}]").unwrap();
        let text = to_yaml(&v);
        assert_eq!(text, "- - a\n  - b\n- []\n- {}\n- x:\n    - 1\n");
        assert_eq!(serde_yaml_ng::from_str::<Value>(&text).unwrap(), v);
        assert_eq!(to_yaml(&Value::Null), "null\n");
    }
}
