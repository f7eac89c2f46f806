//! Profiles: which services a command sees.
//!
//! A service without `profiles` is always enabled; one with profiles is enabled when one of them
//! is active (`--profile`, `COMPOSE_PROFILES`, `*` for all), or when the service is named on the
//! command line — and then what it depends on is enabled with it, so `compose up debug` works
//! without also spelling out the debug tools' own profile.

use super::error::{ErrorKind, LoadError, Result};
use super::types::resources::Project;

/// Every profile any service names, sorted and deduplicated (for `config --profiles`).
pub fn all_profiles(project: &Project) -> Vec<String> {
    let mut all: Vec<String> = project
        .services
        .values()
        .flat_map(|s| s.profiles.iter().cloned())
        .collect();
    all.sort();
    all.dedup();
    all
}

/// Removes the services that are not enabled. Naming a service that does not exist is an error.
pub fn apply_profiles(project: &mut Project, active: &[String], selected: &[String]) -> Result<()> {
    for name in selected {
        if !project.services.contains_key(name) {
            return Err(LoadError::bare(ErrorKind::Other(format!(
                "no such service: {name}"
            ))));
        }
    }
    let all = active.iter().any(|p| p == "*");
    let mut enabled: Vec<String> = project
        .services
        .iter()
        .filter(|(name, s)| {
            all || s.profiles.is_empty()
                || s.profiles.iter().any(|p| active.contains(p))
                || selected.contains(name)
        })
        .map(|(name, _)| name.clone())
        .collect();
    // What a named service depends on comes with it.
    for dep in with_dependencies(project, selected) {
        if !enabled.contains(&dep) {
            enabled.push(dep);
        }
    }
    project.services.retain(|name, _| enabled.contains(name));
    Ok(())
}

/// `names` and, transitively, the services they depend on (those that exist).
pub fn with_dependencies(project: &Project, names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut todo: Vec<String> = names.to_vec();
    while let Some(name) = todo.pop() {
        if out.contains(&name) {
            continue;
        }
        if let Some(svc) = project.services.get(&name) {
            todo.extend(svc.depends_on.keys().cloned());
            out.push(name);
        }
    }
    out
}
