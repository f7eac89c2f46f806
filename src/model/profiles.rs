//! Profiles: which services a command sees.
//!
//! A service without `profiles` is always enabled; one with profiles is enabled when one of them
//! is active (`--profile`, `COMPOSE_PROFILES`, `*` for all). Naming a service on the command line
//! activates its profiles, as Docker Compose does (so `compose up mock-backend` also enables the
//! other services of mock-backend's profile, which the command then leaves out unless they are
//! dependencies). Beyond Docker Compose, what a named service requires (`depends_on` with
//! `required: true`, `links`, `volumes_from`, `service:` namespaces) is enabled with it even when
//! its profile is not active, so `compose up debug` works without also spelling out the debug
//! tools' own profile; an optional dependency (`required: false`) stays disabled.

use super::error::{ErrorKind, LoadError, Result};
use super::types::resources::Project;
use super::types::service::ServiceConfig;

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

/// Whether `service` is enabled by the `active` profiles (compose-go's `HasProfile`).
fn has_profile(service: &ServiceConfig, active: &[String]) -> bool {
    service.profiles.is_empty()
        || active
            .iter()
            .any(|p| p == "*" || service.profiles.contains(p))
}

/// Removes the services that are not enabled. Naming a service that does not exist is an error.
pub fn apply_profiles(project: &mut Project, active: &[String], selected: &[String]) -> Result<()> {
    for name in selected {
        if !project.services.contains_key(name) {
            return Err(LoadError::bare(ErrorKind::NoSuchService(name.clone())));
        }
    }
    let mut active = active.to_vec();
    for name in selected {
        for p in &project.services[name].profiles {
            if !active.contains(p) {
                active.push(p.clone());
            }
        }
    }
    let mut enabled: Vec<String> = project
        .services
        .iter()
        .filter(|(name, s)| has_profile(s, &active) || selected.contains(name))
        .map(|(name, _)| name.clone())
        .collect();
    // What a named service requires comes with it, transitively; an optional dependency only
    // when something else enabled it (then what it requires comes too).
    let mut walked: Vec<String> = Vec::new();
    let mut todo: Vec<String> = selected.to_vec();
    while let Some(name) = todo.pop() {
        if walked.contains(&name) {
            continue;
        }
        let Some(svc) = project.services.get(&name) else {
            continue;
        };
        walked.push(name);
        for (dep, required) in dependencies(svc) {
            if !project.services.contains_key(&dep) {
                continue;
            }
            if enabled.contains(&dep) {
                todo.push(dep);
            } else if required {
                enabled.push(dep.clone());
                todo.push(dep);
            }
        }
    }
    project.services.retain(|name, _| enabled.contains(name));
    Ok(())
}

/// The services `service` depends on, explicitly (`depends_on`, with its `required`) or
/// implicitly (`links`, `volumes_from` and `service:` namespaces, always required), in file order
/// and without duplicates.
pub fn dependencies(service: &ServiceConfig) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    let mut add = |name: &str, required: bool| {
        if name.is_empty() {
            return;
        }
        match out.iter_mut().find(|(n, _)| n == name) {
            Some((_, r)) => *r |= required,
            None => out.push((name.to_string(), required)),
        }
    };
    for (dep, d) in &service.depends_on {
        add(dep, d.required);
    }
    for link in &service.links {
        add(link.split(':').next().unwrap_or(link), true);
    }
    for v in [
        &service.network_mode,
        &service.ipc,
        &service.pid,
        &service.uts,
        &service.cgroup,
    ]
    .into_iter()
    .flatten()
    {
        if let Some(target) = v.strip_prefix("service:") {
            add(target, true);
        }
    }
    for from in &service.volumes_from {
        if !from.starts_with("container:") {
            add(from.split(':').next().unwrap_or(from), true);
        }
    }
    out
}

/// `names` and, transitively, the services they depend on (explicitly or implicitly) that exist
/// in `project`, in the order they are found.
pub fn with_dependencies(project: &Project, names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut todo: Vec<String> = names.iter().rev().cloned().collect();
    while let Some(name) = todo.pop() {
        if out.contains(&name) {
            continue;
        }
        if let Some(svc) = project.services.get(&name) {
            todo.extend(dependencies(svc).into_iter().rev().map(|(d, _)| d));
            out.push(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::model::de::from_node;
    use crate::model::yaml::parse_file_text;

    fn project(text: &str) -> Project {
        let tree = parse_file_text(text, Some(Path::new("compose.yaml"))).expect("valid YAML");
        from_node(&tree).expect("valid project")
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// The docs' example (docs.docker.com, "Using profiles with Compose"), plus an optional
    /// dependency and a chain through `links`.
    const DOCS: &str = "\
services:
  web:
    image: web
  mock-backend:
    image: backend
    profiles: [dev]
    depends_on: [db]
  db:
    image: mysql
    profiles: [dev]
  phpmyadmin:
    image: phpmyadmin
    profiles: [debug]
    depends_on:
      db:
        condition: service_started
      metrics:
        condition: service_started
        required: false
  metrics:
    image: metrics
    profiles: [metrics]
  linked:
    image: linked
    profiles: [tools]
    links: [cache]
  cache:
    image: cache
    profiles: [cachep]
    volumes_from: [store:ro]
  store:
    image: store
    profiles: [storage]
";

    #[test]
    fn apply_profiles_table() {
        /// (what, active profiles, named services, enabled services)
        type Case<'a> = (&'a str, &'a [&'a str], &'a [&'a str], &'a [&'a str]);
        let cases: &[Case] = &[
            (
                "no profile active: only services without profiles",
                &[],
                &[],
                &["web"],
            ),
            ("one profile", &["dev"], &[], &["web", "mock-backend", "db"]),
            (
                "two profiles",
                &["dev", "metrics"],
                &[],
                &["web", "mock-backend", "db", "metrics"],
            ),
            (
                "* enables everything",
                &["*"],
                &[],
                &[
                    "web",
                    "mock-backend",
                    "db",
                    "phpmyadmin",
                    "metrics",
                    "linked",
                    "cache",
                    "store",
                ],
            ),
            (
                "unknown profile enables nothing more",
                &["nope"],
                &[],
                &["web"],
            ),
            (
                "naming a service activates its profiles (db shares dev)",
                &[],
                &["mock-backend"],
                &["web", "mock-backend", "db"],
            ),
            (
                "a named service's required dependency comes with it; the optional one does not",
                &[],
                &["phpmyadmin"],
                &["web", "db", "phpmyadmin"],
            ),
            (
                "an optional dependency enabled by its profile stays",
                &["metrics"],
                &["phpmyadmin"],
                &["web", "db", "phpmyadmin", "metrics"],
            ),
            (
                "implicit dependencies (links, volumes_from) come transitively",
                &[],
                &["linked"],
                &["web", "linked", "cache", "store"],
            ),
            (
                "naming a service without profile changes nothing",
                &[],
                &["web"],
                &["web"],
            ),
        ];
        for (what, active, selected, want) in cases {
            let mut p = project(DOCS);
            apply_profiles(&mut p, &strings(active), &strings(selected)).expect(what);
            let got: Vec<&str> = p.services.keys().map(String::as_str).collect();
            let mut want = want.to_vec();
            // Services keep their file order.
            let all = project(DOCS);
            let order: Vec<&str> = all.services.keys().map(String::as_str).collect();
            want.sort_by_key(|s| order.iter().position(|o| o == s));
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn naming_an_unknown_service_is_an_error() {
        for (selected, want) in [
            (&["nope"][..], "no such service: nope"),
            (&["web", "dbb"][..], "no such service: dbb"),
        ] {
            let mut p = project(DOCS);
            let err = apply_profiles(&mut p, &[], &strings(selected)).unwrap_err();
            assert_eq!(err.to_string(), want);
        }
    }

    #[test]
    fn all_profiles_are_sorted_and_unique() {
        let p = project(
            "services:\n  a: {image: a, profiles: [zeta, alpha]}\n  b: {image: b, profiles: [alpha, mid]}\n  c: {image: c}\n",
        );
        assert_eq!(all_profiles(&p), strings(&["alpha", "mid", "zeta"]));
        assert!(all_profiles(&project("services:\n  a: {image: a}\n")).is_empty());
    }

    #[test]
    fn dependencies_are_explicit_then_implicit_without_duplicates() {
        let p = project(
            "services:
  s:
    image: s
    depends_on:
      a: {condition: service_healthy}
      b: {condition: service_started, required: false}
    links: [c:alias, a]
    network_mode: service:d
    ipc: service:e
    pid: host
    uts: service:f
    cgroup: service:g
    volumes_from: [h:ro, 'container:x', b]
",
        );
        let want: Vec<(String, bool)> = [
            ("a", true),
            ("b", true), // optional in depends_on, required by volumes_from
            ("c", true),
            ("d", true),
            ("e", true),
            ("f", true),
            ("g", true),
            ("h", true),
        ]
        .iter()
        .map(|(n, r)| (n.to_string(), *r))
        .collect();
        assert_eq!(dependencies(&p.services["s"]), want);
        let p = project("services:\n  s:\n    image: s\n    depends_on:\n      b: {condition: service_started, required: false}\n");
        assert_eq!(
            dependencies(&p.services["s"]),
            vec![("b".to_string(), false)]
        );
    }

    #[test]
    fn with_dependencies_table() {
        let p = project(
            "services:
  web: {image: w, depends_on: [api, cache]}
  api: {image: a, depends_on: [db], links: [auth]}
  cache: {image: c}
  db: {image: d, depends_on: [web]}
  auth: {image: x, volumes_from: [missing]}
  lone: {image: l}
",
        );
        let cases: &[(&[&str], &[&str])] = &[
            (&["lone"], &["lone"]),
            (&["cache"], &["cache"]),
            // Depth first, in declaration order; a cycle (db -> web) ends; a missing one is skipped.
            (&["web"], &["web", "api", "db", "auth", "cache"]),
            (&["auth", "cache"], &["auth", "cache"]),
            (&["nope"], &[]),
        ];
        for (names, want) in cases {
            assert_eq!(
                with_dependencies(&p, &strings(names)),
                strings(want),
                "{names:?}"
            );
        }
    }
}
