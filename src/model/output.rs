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
use super::yaml::Node;

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

/// The typed project as a serde value in output shape.
pub fn project_value(project: &Project) -> Result<Value> {
    let mut v = serde_yaml_ng::to_value(project).map_err(|e| {
        LoadError::bare(ErrorKind::Other(format!("cannot render the project: {e}")))
    })?;
    finish(&mut v, None);
    Ok(v)
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
        serde_yaml_ng::to_string(value).map_err(|e| fail(e.to_string()))
    }
}

/// The project restricted to `names` and, transitively, the services they depend on.
pub fn with_services(project: &Project, names: &[String]) -> Result<Project> {
    if let Some(missing) = names.iter().find(|n| !project.services.contains_key(*n)) {
        return Err(LoadError::bare(ErrorKind::Other(format!(
            "no such service: {missing}"
        ))));
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
            .ok_or_else(|| LoadError::bare(ErrorKind::Other(format!("no such service: {n}"))))?;
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
