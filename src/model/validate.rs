//! Consistency checks on the whole project, run before anything acts on it, as Docker Compose's
//! `checkConsistency` runs them: every service has an image, a build or a provider; every
//! reference (`depends_on`, `links`, `volumes_from`, `service:` namespaces, networks, named
//! volumes, secrets including build secrets, configs, models) points at something defined;
//! `depends_on` (with the implicit dependencies) has no cycle; no service combines options that
//! exclude each other (`network_mode` and `networks`, `dockerfile` and `dockerfile_inline`,
//! different `scale` and `deploy.replicas`, a `container_name` with several replicas or used
//! twice); a secret the project creates has a source. A reference to a service that a profile
//! disabled says so, and which profiles would enable it; `required: false` dependencies may be
//! missing. Errors are located through the untyped tree the project came from, at the entry
//! that makes the reference.

use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;

use super::error::{join_index, join_key, ErrorKind, LoadError, Result, Span};
use super::profiles::dependencies;
use super::types::build_context::ContextSource;
use super::types::mounts::VolumeType;
use super::types::resources::Project;
use super::types::service::{ServiceConfig, WatchAction};
use super::yaml::Node;

/// Checks `project`; `tree` is the merged model it was typed from (for line numbers), including
/// services that profiles disabled (to say so when one is depended on). The first problem found,
/// in file order, is returned.
pub fn validate(project: &Project, tree: &Node) -> Result<()> {
    check_service_names(tree)?;
    let checker = Checker { project, tree };
    for (name, svc) in &project.services {
        checker.service(name, svc)?;
    }
    checker.top_level()?;
    check_cycles(project, tree)
}

/// Every service name of the file (profiles or not) must match `[a-zA-Z0-9._-]+`, the pattern of
/// the Compose schema that Docker Compose enforces: others cannot name containers, DNS entries
/// or `depends_on` targets reliably.
fn check_service_names(tree: &Node) -> Result<()> {
    let Some(services) = tree.get("services").and_then(Node::as_map) else {
        return Ok(());
    };
    for key in services.keys() {
        let name = &key.name;
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            // Docker Compose's schema message first, so scripts matching it keep working.
            return Err(LoadError::new(
                key.span.clone(),
                "services",
                ErrorKind::Other(format!(
                    "services Additional property {name} is not allowed: a service name may \
                     only hold letters, digits, '.', '_' and '-'"
                )),
            ));
        }
    }
    Ok(())
}

/// The project being checked and the tree that locates its errors.
struct Checker<'a> {
    project: &'a Project,
    tree: &'a Node,
}

impl Checker<'_> {
    /// An error at the key `path` of the tree.
    fn at(&self, path: &str, kind: ErrorKind) -> LoadError {
        LoadError::new(self.tree.locate_key_span(path), path, kind)
    }

    fn conflict(&self, path: &str, message: String) -> LoadError {
        self.at(path, ErrorKind::Conflict(message))
    }

    /// `name`'s entry in the list or mapping at `list_path` (`depends_on: [db]` or
    /// `depends_on: {db: ...}`; a list item may be `name:alias`): its key path and position.
    fn entry(&self, list_path: &str, name: &str) -> (String, Span) {
        let node = self.tree.locate(list_path);
        if let Some(map) = node.as_map() {
            if let Some((key, _)) = map.get_key_value(name) {
                return (join_key(list_path, name), key.span.clone());
            }
        }
        if let Some(items) = node.as_seq() {
            for (i, item) in items.iter().enumerate() {
                let text = item.scalar_text().unwrap_or_default();
                if text == name || text.split(':').next() == Some(name) {
                    return (join_index(list_path, i), item.span.clone());
                }
            }
        }
        (list_path.to_string(), self.tree.locate_key_span(list_path))
    }

    /// The error for a reference from service `referrer` to service `dep`, which is not in the
    /// project: disabled by its profiles (when the tree has it), or not defined at all.
    fn missing_service(
        &self,
        (path, span): (String, Span),
        dep: &str,
        referrer: &str,
        optional_hint: bool,
    ) -> LoadError {
        let Some(node) = self.tree.get("services").and_then(|s| s.get(dep)) else {
            return LoadError::new(
                span,
                path,
                ErrorKind::Undefined {
                    kind: "service".into(),
                    name: dep.into(),
                    referrer: Some(format!("service {referrer:?}")),
                },
            );
        };
        let profiles: Vec<String> = match node.get("profiles") {
            Some(p) => match p.as_seq() {
                Some(items) => items.iter().filter_map(Node::scalar_text).collect(),
                None => p.scalar_text().into_iter().collect(),
            },
            None => Vec::new(),
        };
        let hint = if optional_hint {
            ", or set `required: false`"
        } else {
            ""
        };
        LoadError::new(
            span,
            path,
            ErrorKind::Other(format!(
                "service {referrer:?} depends on service {dep:?}, which is disabled: activate \
                 one of its profiles ({}) with --profile or COMPOSE_PROFILES{hint}",
                profiles.join(", ")
            )),
        )
    }

    fn undefined(
        &self,
        (path, span): (String, Span),
        kind: &str,
        name: &str,
        referrer: &str,
    ) -> LoadError {
        LoadError::new(
            span,
            path,
            ErrorKind::Undefined {
                kind: kind.into(),
                name: name.into(),
                referrer: Some(format!("service {referrer:?}")),
            },
        )
    }

    /// Where service `from` says it needs service `to`: its `depends_on` entry, else the `links`
    /// or `volumes_from` item or the `service:` namespace key that implies the dependency.
    fn edge(&self, from: &str, to: &str) -> (String, Span) {
        let base = format!("services.{from}");
        let declared = self
            .tree
            .get("services")
            .and_then(|s| s.get(from))
            .and_then(|s| s.get("depends_on"))
            .is_some_and(|d| match (d.as_map(), d.as_seq()) {
                (Some(m), _) => m.get(to).is_some(),
                (None, Some(items)) => items.iter().any(|i| i.scalar_text().as_deref() == Some(to)),
                _ => false,
            });
        if declared {
            return self.entry(&join_key(&base, "depends_on"), to);
        }
        let Some(svc) = self.project.services.get(from) else {
            return (base.clone(), self.tree.locate_key_span(&base));
        };
        let target = |s: &str| s.split(':').next().unwrap_or(s).to_string();
        let indexed = |key: &str, i: usize| {
            let path = join_index(&join_key(&base, key), i);
            let span = self.tree.locate_key_span(&path);
            (path, span)
        };
        if let Some(i) = svc.links.iter().position(|l| target(l) == to) {
            return indexed("links", i);
        }
        for (key, value) in [
            ("network_mode", &svc.network_mode),
            ("ipc", &svc.ipc),
            ("pid", &svc.pid),
            ("uts", &svc.uts),
            ("cgroup", &svc.cgroup),
        ] {
            if value.as_deref().and_then(|v| v.strip_prefix("service:")) == Some(to) {
                let path = join_key(&base, key);
                let span = self.tree.locate_key_span(&path);
                return (path, span);
            }
        }
        if let Some(i) = svc
            .volumes_from
            .iter()
            .position(|v| !v.starts_with("container:") && target(v) == to)
        {
            return indexed("volumes_from", i);
        }
        self.entry(&join_key(&base, "depends_on"), to)
    }

    /// A service-level limit and its `deploy.resources` counterpart must agree when both are set:
    /// which one an engine applies would otherwise be a guess (compose-go rejects this too).
    fn resources_agree(&self, name: &str, svc: &ServiceConfig) -> Result<()> {
        let Some(res) = svc.deploy.as_ref().map(|d| &d.resources) else {
            return Ok(());
        };
        let limits = res.limits.as_ref();
        let reservations = res.reservations.as_ref();
        let pairs: [(&str, &str, Option<String>, Option<String>); 4] = [
            (
                "cpus",
                "deploy.resources.limits.cpus",
                svc.cpus.map(|c| c.to_string()),
                limits.and_then(|l| l.cpus).map(|c| c.to_string()),
            ),
            (
                "mem_limit",
                "deploy.resources.limits.memory",
                svc.mem_limit.map(|m| m.0.to_string()),
                limits.and_then(|l| l.memory).map(|m| m.0.to_string()),
            ),
            (
                "mem_reservation",
                "deploy.resources.reservations.memory",
                svc.mem_reservation.map(|m| m.0.to_string()),
                reservations.and_then(|r| r.memory).map(|m| m.0.to_string()),
            ),
            (
                "pids_limit",
                "deploy.resources.limits.pids",
                svc.pids_limit.map(|p| p.to_string()),
                limits.and_then(|l| l.pids).map(|p| p.to_string()),
            ),
        ];
        for (short, long, a, b) in pairs {
            if let (Some(a), Some(b)) = (a, b) {
                if a != b {
                    return Err(self.conflict(
                        &format!("services.{name}.{short}"),
                        format!(
                            "service {name:?}: `{short}` ({a}) and `{long}` ({b}) must be equal when both are set"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn service(&self, name: &str, svc: &ServiceConfig) -> Result<()> {
        let project = self.project;
        let base = format!("services.{name}");
        let key = |k: &str| join_key(&base, k);
        let indexed = |k: &str, i: usize| {
            let path = join_index(&key(k), i);
            let span = self.tree.locate_key_span(&path);
            (path, span)
        };

        if svc.image.as_deref().is_none_or(str::is_empty)
            && svc.build.is_none()
            && svc.provider.is_none()
        {
            return Err(self.at(
                &base,
                ErrorKind::Other(format!(
                    "service {name:?} has neither an image nor a build context specified: \
                     set `image` or `build`"
                )),
            ));
        }

        self.resources_agree(name, svc)?;

        // A policy nothing understands would silently become `missing`: refuse it at load.
        if let Some(policy) = svc.pull_policy.as_deref() {
            if let Err(e) = super::types::pull_policy::PullPolicy::parse(policy) {
                return Err(self.at(&key("pull_policy"), ErrorKind::Other(e.to_string())));
            }
        }

        if let Some(develop) = &svc.develop {
            for (i, rule) in develop.watch.iter().enumerate() {
                let needs_target =
                    !matches!(rule.action, WatchAction::Rebuild | WatchAction::Restart);
                if needs_target && rule.target.as_deref().is_none_or(str::is_empty) {
                    let path = join_index(&key("develop.watch"), i);
                    return Err(self.at(
                        &path,
                        ErrorKind::Other(format!(
                            "service {name:?}: watch rule for {:?} needs a `target` for action {}",
                            rule.path,
                            serde_plain_action(&rule.action)
                        )),
                    ));
                }
            }
        }

        if let Some(build) = &svc.build {
            if build.dockerfile_inline.is_some() && build.dockerfile.is_some() {
                return Err(self.conflict(
                    &key("build.dockerfile_inline"),
                    format!(
                        "service {name:?} declares mutually exclusive `dockerfile` and \
                         `dockerfile_inline`"
                    ),
                ));
            }
            if let Some(platform) = svc.platform.as_deref() {
                if !build.platforms.is_empty() && !build.platforms.iter().any(|p| p == platform) {
                    return Err(self.conflict(
                        &key("build.platforms"),
                        format!(
                            "`build.platforms` must include the service's platform {platform:?}"
                        ),
                    ));
                }
            }
            if let Some(source) = build.context_source() {
                if !matches!(
                    source,
                    ContextSource::Dir(_) | ContextSource::Git(_) | ContextSource::Http(_)
                ) {
                    return Err(self.at(
                        &key("build.context"),
                        ErrorKind::InvalidValue {
                            what: "build context".into(),
                            value: build.context.clone().unwrap_or_default(),
                            expected: "a directory, a Git or an HTTP URL (images and services \
                                       only in `additional_contexts`)"
                                .into(),
                        },
                    ));
                }
            }
            for (context, source) in build.additional_context_sources() {
                if let ContextSource::Service(target) = source {
                    if target == name {
                        return Err(self.conflict(
                            &join_key(&key("build.additional_contexts"), context),
                            format!("service {name:?} cannot use its own image as a build context"),
                        ));
                    }
                    if !self.project.services.contains_key(target) {
                        let entry = self.entry(&key("build.additional_contexts"), context);
                        return Err(self.missing_service(entry, target, name, false));
                    }
                }
            }
            for (i, secret) in build.secrets.iter().enumerate() {
                if !project.secrets.contains_key(&secret.source) {
                    return Err(self.undefined(
                        indexed("build.secrets", i),
                        "secret",
                        &secret.source,
                        name,
                    ));
                }
            }
        }

        if let Some(test) = svc.healthcheck.as_ref().and_then(|h| h.test.first()) {
            if !matches!(test.as_str(), "CMD" | "CMD-SHELL" | "NONE") {
                return Err(self.at(
                    &key("healthcheck.test"),
                    ErrorKind::InvalidValue {
                        what: "healthcheck test".into(),
                        value: test.clone(),
                        expected: "a list starting with \"CMD\", \"CMD-SHELL\" or \"NONE\", \
                                   or a command string"
                            .into(),
                    },
                ));
            }
        }

        if svc.network_mode.is_some() && !svc.networks.is_empty() {
            return Err(self.conflict(
                &key("network_mode"),
                format!(
                    "service {name:?} declares mutually exclusive `network_mode` and `networks`"
                ),
            ));
        }

        // Implicit dependencies first: they also appear in `depends_on` once normalized, and the
        // error should point at the key the user wrote.
        for (i, link) in svc.links.iter().enumerate() {
            let target = link.split(':').next().unwrap_or(link);
            if !project.services.contains_key(target) {
                return Err(self.missing_service(indexed("links", i), target, name, false));
            }
        }
        for (k, value) in [
            ("network_mode", &svc.network_mode),
            ("ipc", &svc.ipc),
            ("pid", &svc.pid),
            ("uts", &svc.uts),
            ("cgroup", &svc.cgroup),
        ] {
            if let Some(target) = value.as_deref().and_then(|v| v.strip_prefix("service:")) {
                if !project.services.contains_key(target) {
                    let path = key(k);
                    let span = self.tree.locate_key_span(&path);
                    return Err(self.missing_service((path, span), target, name, false));
                }
            }
        }
        for (i, from) in svc.volumes_from.iter().enumerate() {
            if from.starts_with("container:") {
                continue;
            }
            let target = from.split(':').next().unwrap_or(from);
            if !project.services.contains_key(target) {
                return Err(self.missing_service(indexed("volumes_from", i), target, name, false));
            }
        }
        for (dep, d) in &svc.depends_on {
            // `required: false`: Compose only warns when the dependency is missing.
            if project.services.contains_key(dep) || !d.required {
                continue;
            }
            let entry = self.entry(&key("depends_on"), dep);
            return Err(self.missing_service(entry, dep, name, true));
        }

        for net in svc.networks.keys() {
            if net != "default" && !project.networks.contains_key(net) {
                let entry = self.entry(&key("networks"), net);
                return Err(self.undefined(entry, "network", net, name));
            }
        }

        for (i, v) in svc.volumes.iter().enumerate() {
            if v.kind != VolumeType::Volume {
                continue;
            }
            if let Some(src) = v.source.as_deref().filter(|s| !s.is_empty()) {
                if !project.volumes.contains_key(src) {
                    return Err(self.undefined(indexed("volumes", i), "volume", src, name));
                }
            }
        }

        for (i, r) in svc.secrets.iter().enumerate() {
            if !project.secrets.contains_key(&r.source) {
                return Err(self.undefined(indexed("secrets", i), "secret", &r.source, name));
            }
        }
        for (i, r) in svc.configs.iter().enumerate() {
            if !project.configs.contains_key(&r.source) {
                return Err(self.undefined(indexed("configs", i), "config", &r.source, name));
            }
        }
        for model in svc.models.keys() {
            if !project.models.contains_key(model) {
                let entry = self.entry(&key("models"), model);
                return Err(self.undefined(entry, "model", model, name));
            }
        }

        let replicas = svc.deploy.as_ref().and_then(|d| d.replicas);
        if let (Some(scale), Some(replicas)) = (svc.scale, replicas) {
            if scale != replicas {
                return Err(self.conflict(
                    &key("scale"),
                    format!(
                        "service {name:?} sets distinct values on `scale` ({scale}) and \
                         `deploy.replicas` ({replicas})"
                    ),
                ));
            }
        }
        let (count, attr) = match (svc.scale, replicas) {
            (Some(s), _) => (s, "scale"),
            (None, Some(r)) => (r, "deploy.replicas"),
            (None, None) => (1, ""),
        };
        if let Some(cn) = svc.container_name.as_deref().filter(|c| !c.is_empty()) {
            if count > 1 {
                return Err(self.conflict(
                    &key("container_name"),
                    format!(
                        "service {name:?} sets container_name {cn:?} and {attr} {count}: a \
                         container name must be unique"
                    ),
                ));
            }
            let earlier = project
                .services
                .iter()
                .take_while(|(o, _)| o.as_str() != name)
                .find(|(_, s)| s.container_name.as_deref() == Some(cn));
            if let Some((other, _)) = earlier {
                return Err(self.conflict(
                    &key("container_name"),
                    format!("container name {cn:?} is already in use by service {other:?}"),
                ));
            }
        }
        Ok(())
    }

    /// Top-level resources: a secret the project creates needs a source.
    fn top_level(&self) -> Result<()> {
        for (name, secret) in &self.project.secrets {
            if secret.external.external {
                continue;
            }
            let has = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
            if !has(&secret.file) && !has(&secret.environment) {
                return Err(self.at(
                    &join_key("secrets", name),
                    ErrorKind::Other(format!(
                        "secret {name:?} must declare either `file` or `environment` (or be \
                         `external`)"
                    )),
                ));
            }
        }
        Ok(())
    }
}

/// `depends_on` (and the implicit dependencies of `service:` namespaces, `volumes_from` and
/// `links`) must form a DAG; a cycle is reported with its services in order.
fn check_cycles(project: &Project, tree: &Node) -> Result<()> {
    let mut g: DiGraphMap<&str, ()> = DiGraphMap::new();
    let deps: Vec<(&str, Vec<(String, bool)>)> = project
        .services
        .iter()
        .map(|(name, svc)| (name.as_str(), dependencies(svc)))
        .collect();
    for (name, ds) in &deps {
        g.add_node(name);
        for (d, _) in ds {
            if let Some((k, _)) = project.services.get_key_value(d) {
                g.add_edge(name, k.as_str(), ());
            }
        }
    }
    for scc in tarjan_scc(&g) {
        let is_cycle = scc.len() > 1 || g.contains_edge(scc[0], scc[0]);
        if !is_cycle {
            continue;
        }
        // Name the cycle from the first of its services in file order: the shortest way back to it.
        let start = project
            .services
            .keys()
            .find(|k| scc.contains(&k.as_str()))
            .map(String::as_str)
            .unwrap_or(scc[0]);
        let path = shortest_cycle(&g, start, &scc);
        let checker = Checker { project, tree };
        let (at, span) = checker.edge(start, &path[1]);
        return Err(LoadError::new(span, at, ErrorKind::Cycle(path)));
    }
    Ok(())
}

/// Breadth-first search inside one strongly connected component for the shortest path from
/// `start` back to itself.
fn shortest_cycle(g: &DiGraphMap<&str, ()>, start: &str, scc: &[&str]) -> Vec<String> {
    let mut parent: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(cur) = queue.pop_front() {
        for next in g.neighbors(cur) {
            if !scc.contains(&next) {
                continue;
            }
            if next == start {
                let mut path = vec![start.to_string()];
                let mut n = cur;
                while n != start {
                    path.push(n.to_string());
                    n = parent[n];
                }
                path.push(start.to_string());
                let len = path.len();
                path[1..len - 1].reverse();
                return path;
            }
            if !parent.contains_key(next) && next != start {
                parent.insert(next, cur);
                queue.push_back(next);
            }
        }
    }
    vec![start.to_string(), start.to_string()]
}

/// The action as written in the file (`sync+restart`), for messages.
fn serde_plain_action(action: &WatchAction) -> String {
    serde_json::to_value(action)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| format!("{action:?}"))
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
