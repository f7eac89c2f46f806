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
mod tests {
    use std::path::Path;

    use super::*;
    use crate::model::de::from_node;
    use crate::model::environment::Environment;
    use crate::model::normalize::normalize;
    use crate::model::profiles::apply_profiles;
    use crate::model::yaml::parse_file_text;

    /// Types `text` (named `compose.yaml`), applies `profiles`, optionally normalizes, validates.
    fn check_with(text: &str, profiles: &[&str], normalized: bool) -> Result<()> {
        let tree = parse_file_text(text, Some(Path::new("compose.yaml"))).expect("valid YAML");
        let mut project: Project = from_node(&tree).expect("valid project");
        let profiles: Vec<String> = profiles.iter().map(|s| s.to_string()).collect();
        apply_profiles(&mut project, &profiles, &[]).expect("profiles");
        if normalized {
            project.name = Some("p".into());
            normalize(&mut project, &Environment::default(), false, None, None).expect("normalize");
        }
        validate(&project, &tree)
    }

    fn check(text: &str) -> Result<()> {
        check_with(text, &[], true)
    }

    #[test]
    fn consistent_projects_pass() {
        let cases: &[(&str, &str)] = &[
            ("empty", "services: {}\n"),
            ("image only", "services:\n  web:\n    image: nginx\n"),
            ("build only", "services:\n  web:\n    build: .\n"),
            ("provider only", "services:\n  ai:\n    provider:\n      type: model\n"),
            (
                "every kind of reference defined",
                "services:
  db:
    image: postgres
    volumes: [data:/var/lib/postgresql/data, /host:/bind, /anonymous]
    networks: [back]
    secrets: [pw]
    configs: [conf]
    models: [llm]
    build:
      context: .
      secrets: [pw]
  web:
    image: nginx
    depends_on:
      db: {condition: service_healthy}
    links: ['db:database']
    volumes_from: ['db:ro', 'container:other']
    ipc: service:db
    pid: service:db
    networks:
      back: {}
      default: {}
  sidecar:
    image: busybox
    network_mode: service:web
volumes:
  data: {}
networks:
  back: {}
secrets:
  pw: {file: ./pw.txt}
  ext: {external: true}
  env: {environment: PW}
configs:
  conf: {file: ./c.conf}
models:
  llm: {model: ai/smollm2}
",
            ),
            (
                "optional dependency on an undefined service",
                "services:\n  web:\n    image: nginx\n    depends_on:\n      nope:\n        condition: service_started\n        required: false\n",
            ),
            (
                "optional dependency on a disabled service",
                "services:\n  web:\n    image: nginx\n    depends_on:\n      dbg:\n        condition: service_started\n        required: false\n  dbg:\n    image: x\n    profiles: [debug]\n",
            ),
            (
                "`default` network needs no declaration",
                "services:\n  web:\n    image: nginx\n    networks: [default]\n",
            ),
            (
                "container_name with one replica",
                "services:\n  web:\n    image: nginx\n    container_name: w\n    deploy:\n      replicas: 1\n",
            ),
            (
                "scale and deploy.replicas agree",
                "services:\n  web:\n    image: nginx\n    scale: 2\n    deploy:\n      replicas: 2\n",
            ),
            (
                "healthcheck forms",
                "services:\n  a:\n    image: x\n    healthcheck:\n      test: curl -f http://x\n  b:\n    image: x\n    healthcheck:\n      test: [CMD, curl]\n  c:\n    image: x\n    healthcheck:\n      test: [NONE]\n  d:\n    image: x\n    healthcheck:\n      disable: true\n",
            ),
            (
                "build platforms include the platform",
                "services:\n  web:\n    build:\n      context: .\n      platforms: [linux/amd64, linux/arm64]\n    platform: linux/arm64\n",
            ),
            (
                "a cycle through a disabled service is not one",
                "services:\n  a:\n    image: x\n    depends_on:\n      b: {condition: service_started, required: false}\n  b:\n    image: x\n    profiles: [p]\n    depends_on: [a]\n",
            ),
        ];
        for (what, text) in cases {
            if let Err(e) = check(text) {
                panic!("{what}: unexpected error: {e}");
            }
        }
    }

    #[test]
    fn inconsistencies_are_located_and_explained() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "neither image nor build",
                "services:\n  web:\n    command: echo\n",
                "compose.yaml:2:3: services.web: service \"web\" has neither an image nor a build context specified: set `image` or `build`",
            ),
            (
                "depends_on list names an undefined service",
                "services:\n  web:\n    image: nginx\n    depends_on:\n      - db\n      - cache\n  db:\n    image: x\n",
                "compose.yaml:6:9: services.web.depends_on[1]: service `cache` is not defined (used by service \"web\")",
            ),
            (
                "depends_on mapping names an undefined service",
                "services:\n  web:\n    image: nginx\n    depends_on:\n      cache:\n        condition: service_started\n",
                "compose.yaml:5:7: services.web.depends_on.cache: service `cache` is not defined (used by service \"web\")",
            ),
            (
                "dependency on a service a profile disabled",
                "services:\n  web:\n    image: nginx\n    depends_on: [dbg]\n  dbg:\n    image: x\n    profiles: [debug, tools]\n",
                "compose.yaml:4:18: services.web.depends_on[0]: service \"web\" depends on service \"dbg\", which is disabled: activate one of its profiles (debug, tools) with --profile or COMPOSE_PROFILES, or set `required: false`",
            ),
            (
                "link to a disabled service",
                "services:\n  web:\n    image: nginx\n    links:\n      - dbg:debugger\n  dbg:\n    image: x\n    profiles: [debug]\n",
                "compose.yaml:5:9: services.web.links[0]: service \"web\" depends on service \"dbg\", which is disabled: activate one of its profiles (debug) with --profile or COMPOSE_PROFILES",
            ),
            (
                "link to an undefined service",
                "services:\n  web:\n    image: nginx\n    links:\n      - db\n      - cache:c\n  db:\n    image: x\n",
                "compose.yaml:6:9: services.web.links[1]: service `cache` is not defined (used by service \"web\")",
            ),
            (
                "network_mode service: undefined",
                "services:\n  web:\n    image: nginx\n    network_mode: service:vpn\n",
                "compose.yaml:4:5: services.web.network_mode: service `vpn` is not defined (used by service \"web\")",
            ),
            (
                "ipc service: undefined",
                "services:\n  web:\n    image: nginx\n    ipc: service:shm\n",
                "compose.yaml:4:5: services.web.ipc: service `shm` is not defined (used by service \"web\")",
            ),
            (
                "pid service: undefined",
                "services:\n  web:\n    image: nginx\n    pid: service:init\n",
                "compose.yaml:4:5: services.web.pid: service `init` is not defined (used by service \"web\")",
            ),
            (
                "volumes_from undefined",
                "services:\n  web:\n    image: nginx\n    volumes_from:\n      - container:c1\n      - data:ro\n",
                "compose.yaml:6:9: services.web.volumes_from[1]: service `data` is not defined (used by service \"web\")",
            ),
            (
                "network_mode and networks",
                "services:\n  web:\n    image: nginx\n    network_mode: host\n    networks: [front]\nnetworks:\n  front: {}\n",
                "compose.yaml:4:5: services.web.network_mode: service \"web\" declares mutually exclusive `network_mode` and `networks`",
            ),
            (
                "undefined network, list form",
                "services:\n  web:\n    image: nginx\n    networks:\n      - default\n      - front\n",
                "compose.yaml:6:9: services.web.networks[1]: network `front` is not defined (used by service \"web\")",
            ),
            (
                "undefined network, mapping form",
                "services:\n  web:\n    image: nginx\n    networks:\n      front:\n        aliases: [w]\n",
                "compose.yaml:5:7: services.web.networks.front: network `front` is not defined (used by service \"web\")",
            ),
            (
                "undefined named volume",
                "services:\n  web:\n    image: nginx\n    volumes:\n      - ./html:/usr/share/nginx/html\n      - data:/data\n",
                "compose.yaml:6:9: services.web.volumes[1]: volume `data` is not defined (used by service \"web\")",
            ),
            (
                "undefined named volume, long syntax",
                "services:\n  web:\n    image: nginx\n    volumes:\n      - type: volume\n        source: data\n        target: /data\n",
                "compose.yaml:5:9: services.web.volumes[0]: volume `data` is not defined (used by service \"web\")",
            ),
            (
                "undefined secret",
                "services:\n  web:\n    image: nginx\n    secrets:\n      - source: pw\n        target: /run/pw\n",
                "compose.yaml:5:9: services.web.secrets[0]: secret `pw` is not defined (used by service \"web\")",
            ),
            (
                "undefined build secret",
                "services:\n  web:\n    build:\n      context: .\n      secrets:\n        - npmrc\n",
                "compose.yaml:6:11: services.web.build.secrets[0]: secret `npmrc` is not defined (used by service \"web\")",
            ),
            (
                "undefined config",
                "services:\n  web:\n    image: nginx\n    configs: [conf]\n",
                "compose.yaml:4:15: services.web.configs[0]: config `conf` is not defined (used by service \"web\")",
            ),
            (
                "undefined model",
                "services:\n  web:\n    image: nginx\n    models:\n      - llm\n",
                "compose.yaml:5:9: services.web.models[0]: model `llm` is not defined (used by service \"web\")",
            ),
            (
                "container_name with replicas",
                "services:\n  web:\n    image: nginx\n    container_name: w\n    deploy:\n      replicas: 3\n",
                "compose.yaml:4:5: services.web.container_name: service \"web\" sets container_name \"w\" and deploy.replicas 3: a container name must be unique",
            ),
            (
                "container_name with scale",
                "services:\n  web:\n    image: nginx\n    container_name: w\n    scale: 2\n",
                "compose.yaml:4:5: services.web.container_name: service \"web\" sets container_name \"w\" and scale 2: a container name must be unique",
            ),
            (
                "container_name used twice",
                "services:\n  a:\n    image: x\n    container_name: same\n  b:\n    image: x\n    container_name: same\n",
                "compose.yaml:7:5: services.b.container_name: container name \"same\" is already in use by service \"a\"",
            ),
            (
                "scale and deploy.replicas disagree",
                "services:\n  web:\n    image: nginx\n    scale: 2\n    deploy:\n      replicas: 3\n",
                "compose.yaml:4:5: services.web.scale: service \"web\" sets distinct values on `scale` (2) and `deploy.replicas` (3)",
            ),
            (
                "cpus and deploy limits disagree",
                "services:\n  web:\n    image: x\n    cpus: 1.5\n    deploy:\n      resources:\n        limits:\n          cpus: '2'\n",
                "compose.yaml:4:5: services.web.cpus: service \"web\": `cpus` (1.5) and `deploy.resources.limits.cpus` (2) must be equal when both are set",
            ),
            (
                "mem_limit and deploy memory disagree",
                "services:\n  web:\n    image: x\n    mem_limit: 1g\n    deploy:\n      resources:\n        limits:\n          memory: 2g\n",
                "compose.yaml:4:5: services.web.mem_limit: service \"web\": `mem_limit` (1073741824) and `deploy.resources.limits.memory` (2147483648) must be equal when both are set",
            ),
            (
                "mem_reservation and deploy reservation disagree",
                "services:\n  web:\n    image: x\n    mem_reservation: 1g\n    deploy:\n      resources:\n        reservations:\n          memory: 1m\n",
                "compose.yaml:4:5: services.web.mem_reservation: service \"web\": `mem_reservation` (1073741824) and `deploy.resources.reservations.memory` (1048576) must be equal when both are set",
            ),
            (
                "pids_limit and deploy pids disagree",
                "services:\n  web:\n    image: x\n    pids_limit: 10\n    deploy:\n      resources:\n        limits:\n          pids: 20\n",
                "compose.yaml:4:5: services.web.pids_limit: service \"web\": `pids_limit` (10) and `deploy.resources.limits.pids` (20) must be equal when both are set",
            ),
            (
                "sync watch rule without target",
                "services:\n  web:\n    image: x\n    develop:\n      watch:\n        - path: ./src\n          action: sync+restart\n",
                "compose.yaml:6:11: services.web.develop.watch[0]: service \"web\": watch rule for \"./src\" needs a `target` for action sync+restart",
            ),
            (
                "dockerfile and dockerfile_inline",
                "services:\n  web:\n    build:\n      context: .\n      dockerfile: Dockerfile\n      dockerfile_inline: FROM alpine\n",
                "compose.yaml:6:7: services.web.build.dockerfile_inline: service \"web\" declares mutually exclusive `dockerfile` and `dockerfile_inline`",
            ),
            (
                "build platforms without the platform",
                "services:\n  web:\n    platform: linux/arm64\n    build:\n      context: .\n      platforms: [linux/amd64]\n",
                "compose.yaml:6:7: services.web.build.platforms: `build.platforms` must include the service's platform \"linux/arm64\"",
            ),
            (
                "healthcheck test without a known first word",
                "services:\n  web:\n    image: nginx\n    healthcheck:\n      test: [curl, -f, http://localhost]\n",
                "compose.yaml:5:7: services.web.healthcheck.test: invalid healthcheck test \"curl\": expected a list starting with \"CMD\", \"CMD-SHELL\" or \"NONE\", or a command string",
            ),
            (
                "secret without a source",
                "services:\n  web:\n    image: nginx\nsecrets:\n  pw:\n    labels: {a: b}\n",
                "compose.yaml:5:3: secrets.pw: secret \"pw\" must declare either `file` or `environment` (or be `external`)",
            ),
            (
                "depends_on cycle, in file order",
                "services:\n  service1:\n    image: x\n    depends_on: [service2]\n  service2:\n    image: x\n    depends_on: [service3]\n  service3:\n    image: x\n    depends_on: [service1]\n",
                "compose.yaml:4:18: services.service1.depends_on[0]: dependency cycle detected: service1 -> service2 -> service3 -> service1",
            ),
            (
                "self dependency",
                "services:\n  service1:\n    image: x\n    depends_on:\n      - service1\n",
                "compose.yaml:5:9: services.service1.depends_on[0]: dependency cycle detected: service1 -> service1",
            ),
            (
                "cycle through links and volumes_from, shortest way back",
                "services:\n  a:\n    image: x\n    links: [b]\n  b:\n    image: x\n    volumes_from: [c]\n    depends_on: [a]\n  c:\n    image: x\n    network_mode: service:a\n",
                "compose.yaml:4:13: services.a.links[0]: dependency cycle detected: a -> b -> a",
            ),
        ];
        let mut failures = Vec::new();
        for (what, text, want) in cases {
            match check(text) {
                Ok(()) => failures.push(format!("{what}: accepted, want {want}")),
                Err(e) if e.to_string() != *want => {
                    failures.push(format!("{what}:\n   got: {e}\n  want: {want}"))
                }
                Err(_) => {}
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn profiles_decide_what_is_checked() {
        let text = "services:\n  web:\n    image: nginx\n    depends_on: [dbg]\n  dbg:\n    image: x\n    profiles: [debug]\n    depends_on: [nope]\n";
        // With `debug` active, dbg is checked too: its own dependency is undefined.
        assert_eq!(
            check_with(text, &["debug"], true).unwrap_err().to_string(),
            "compose.yaml:8:18: services.dbg.depends_on[0]: service `nope` is not defined (used by service \"dbg\")"
        );
        // Without it, the reference from web is what is wrong.
        assert_eq!(
            check_with(text, &[], true).unwrap_err().to_string(),
            "compose.yaml:4:18: services.web.depends_on[0]: service \"web\" depends on service \"dbg\", which is disabled: activate one of its profiles (debug) with --profile or COMPOSE_PROFILES, or set `required: false`"
        );
    }

    #[test]
    fn unnormalized_projects_are_checked_the_same() {
        // `config --no-normalize`: no default network declared, implicit dependencies not added.
        let text = "services:\n  web:\n    image: nginx\n    networks: [default]\n    links: [db]\n  db:\n    image: x\n";
        check_with(text, &[], false).expect("consistent");
        let text =
            "services:\n  a:\n    image: x\n    links: [b]\n  b:\n    image: x\n    links: [a]\n";
        assert_eq!(
            check_with(text, &[], false).unwrap_err().to_string(),
            "compose.yaml:4:13: services.a.links[0]: dependency cycle detected: a -> b -> a"
        );
    }

    #[test]
    fn corpus_cycles_are_rejected() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/compose-go/loader/testdata"
        );
        if !Path::new(dir).is_dir() {
            eprintln!("skipped: {dir} is absent");
            return;
        }
        for (file, want) in [
            (
                "compose-depends-on-cycle.yaml",
                "services.service1.depends_on[0]: dependency cycle detected: service1 -> service2 -> service3 -> service1",
            ),
            (
                "compose-depends-on-self.yaml",
                "services.service1.depends_on[0]: dependency cycle detected: service1 -> service1",
            ),
        ] {
            let path = Path::new(dir).join(file);
            let text = std::fs::read_to_string(&path).expect("readable fixture");
            let tree = parse_file_text(&text, Some(&path)).expect("valid YAML");
            let project: Project = from_node(&tree).expect("valid project");
            let err = validate(&project, &tree).unwrap_err();
            assert_eq!(err.to_string(), format!("{}:6:9: {want}", path.display()), "{file}");
        }
    }

    #[test]
    fn pull_policies_are_checked_at_load_naming_service_and_key() {
        for ok in [
            "always",
            "missing",
            "if_not_present",
            "never",
            "build",
            "daily",
            "weekly",
            "every_12h",
        ] {
            let text = format!("services:\n  web:\n    image: x\n    pull_policy: {ok}\n");
            check_with(&text, &[], false).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        let err = check("services:\n  web:\n    image: x\n    pull_policy: sometimes\n")
            .expect_err("an unknown policy");
        let msg = err.to_string();
        assert!(
            msg.starts_with(
                "compose.yaml:4:5: services.web.pull_policy: invalid pull_policy \"sometimes\""
            ),
            "{msg}"
        );
        let err = check("services:\n  web:\n    image: x\n    pull_policy: every_5x\n")
            .expect_err("a bad interval");
        assert!(
            err.to_string().contains("services.web.pull_policy"),
            "{err}"
        );
    }
}
