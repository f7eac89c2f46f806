//! Normalization of the typed project: the defaults Docker Compose fills in, so that what
//! `config` prints and what the planner acts on is explicit. Services with no network join the
//! project's `default` network (which is then declared); networks, volumes, secrets and configs get
//! their engine names (`<project>_<key>`, or the key itself when external); a build gets its
//! context and Dockerfile; each service's `env_file`s are read into its `environment`, and
//! variables listed without a value take theirs from the project environment.

use std::path::Path;

use indexmap::IndexMap;

use super::dotenv;
use super::environment::Environment;
use super::error::{ErrorKind, LoadError, Result, Span};
use super::types::resources::{NetworkConfig, Project};

/// Fills in every default. `project_dir` is the absolute project directory when paths are being
/// resolved (a build's default context is then made absolute too).
pub fn normalize(
    project: &mut Project,
    env: &Environment,
    resolve_env_files: bool,
    project_dir: Option<&Path>,
    env_scope: Option<&[String]>,
) -> Result<()> {
    let name = project.name.clone().unwrap_or_default();

    let mut uses_default = false;
    for svc in project.services.values_mut() {
        if svc.network_mode.is_none() && svc.networks.is_empty() {
            svc.networks.insert("default".to_string(), None);
        }
        uses_default |= svc.networks.contains_key("default");

        if let Some(build) = svc.build.as_mut() {
            if build.context.as_deref().is_none_or(str::is_empty) {
                build.context = Some(
                    project_dir
                        .map(|d| d.to_string_lossy().into_owned())
                        .unwrap_or_else(|| ".".to_string()),
                );
            }
            if build.dockerfile.is_none() && build.dockerfile_inline.is_none() {
                build.dockerfile = Some("Dockerfile".to_string());
            }
        }
    }
    if uses_default && !project.networks.contains_key("default") {
        project
            .networks
            .insert("default".to_string(), NetworkConfig::default());
    }

    let engine_name = |key: &str, external: bool, legacy: Option<&String>| -> String {
        match (external, legacy) {
            (true, Some(l)) => l.clone(),
            (true, None) => key.to_string(),
            (false, _) => format!("{name}_{key}"),
        }
    };
    for (key, n) in project.networks.iter_mut() {
        if n.name.is_none() {
            n.name = Some(engine_name(
                key,
                n.external.external,
                n.external.legacy_name.as_ref(),
            ));
        }
    }
    for (key, v) in project.volumes.iter_mut() {
        if v.name.is_none() {
            v.name = Some(engine_name(
                key,
                v.external.external,
                v.external.legacy_name.as_ref(),
            ));
        }
    }
    for (key, s) in project.secrets.iter_mut() {
        if s.name.is_none() {
            s.name = Some(engine_name(
                key,
                s.external.external,
                s.external.legacy_name.as_ref(),
            ));
        }
    }
    for (key, c) in project.configs.iter_mut() {
        if c.name.is_none() {
            c.name = Some(engine_name(
                key,
                c.external.external,
                c.external.legacy_name.as_ref(),
            ));
        }
    }

    if resolve_env_files {
        resolve_environment(project, env, env_scope)?;
    }
    Ok(())
}

/// Reads each service's `env_file`s (in order, later files winning) under its `environment`
/// (which wins over them), then gives variables listed without a value their value from the
/// project environment when it has one. The `env_file` list is consumed. With `scope`, only those
/// services are resolved: `compose up a` must not fail on an env file only `b` needs.
pub fn resolve_environment(
    project: &mut Project,
    env: &Environment,
    scope: Option<&[String]>,
) -> Result<()> {
    for (name, svc) in project.services.iter_mut() {
        if scope.is_some_and(|s| !s.contains(name)) {
            continue;
        }
        let mut merged: IndexMap<String, Option<String>> = IndexMap::new();
        for file in &svc.env_file {
            let path = Path::new(&file.path);
            if !path.exists() {
                if file.required {
                    return Err(LoadError::new(
                        Span::default(),
                        format!("services.{name}.env_file"),
                        ErrorKind::Other(format!("env file {} not found", path.display())),
                    ));
                }
                continue;
            }
            let vars = if file.format.as_deref() == Some("raw") {
                read_raw(path)?
            } else {
                dotenv::read_file(path, &|v: &str| env.lookup(v))?
            };
            for (k, v) in vars {
                merged.insert(k, Some(v));
            }
        }
        for (k, v) in std::mem::take(&mut svc.environment) {
            merged.insert(k, v);
        }
        for (k, v) in merged.iter_mut() {
            if v.is_none() {
                *v = env.lookup(k);
            }
        }
        svc.environment = merged;
        svc.env_file.clear();
    }
    Ok(())
}

/// `format: raw`: `KEY=VALUE` lines taken literally, no quoting, escapes or interpolation.
fn read_raw(path: &Path) -> Result<IndexMap<String, String>> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::io(path, &e))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .collect())
}
