//! Consistency checks on the whole project, run before anything acts on it: every reference
//! points at something defined, `depends_on` has no cycle, and no service combines options that
//! exclude each other. Errors are located through the untyped tree the project came from.

use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;

use super::error::{join_key, ErrorKind, LoadError, Result};
use super::types::mounts::VolumeType;
use super::types::resources::Project;
use super::yaml::Node;

/// Checks `project`; `tree` is the merged model it was typed from (for line numbers), including
/// services that profiles disabled (to say so when one is depended on).
pub fn validate(project: &Project, tree: &Node) -> Result<()> {
    let at = |path: &str, kind: ErrorKind| -> LoadError {
        LoadError::new(tree.locate_key_span(path), path, kind)
    };
    let undefined = |path: &str, kind: &str, name: &str, referrer: &str| {
        at(
            path,
            ErrorKind::Undefined {
                kind: kind.into(),
                name: name.into(),
                referrer: Some(format!("service {referrer:?}")),
            },
        )
    };
    let defined_in_tree = |name: &str| tree.get("services").and_then(|s| s.get(name)).is_some();

    for (name, svc) in &project.services {
        let base = format!("services.{name}");

        for (dep, d) in &svc.depends_on {
            if project.services.contains_key(dep) || !d.required {
                continue;
            }
            let path = join_key(&join_key(&base, "depends_on"), dep);
            if defined_in_tree(dep) {
                return Err(at(
                    &path,
                    ErrorKind::Other(format!(
                        "service {dep:?} is required by {name:?} but is disabled; enable it with one of its profiles"
                    )),
                ));
            }
            return Err(undefined(&path, "service", dep, name));
        }

        for link in &svc.links {
            let target = link.split(':').next().unwrap_or(link);
            if !project.services.contains_key(target) {
                return Err(undefined(
                    &join_key(&base, "links"),
                    "service",
                    target,
                    name,
                ));
            }
        }

        for (key, value) in [
            ("network_mode", &svc.network_mode),
            ("ipc", &svc.ipc),
            ("pid", &svc.pid),
        ] {
            if let Some(target) = value.as_deref().and_then(|v| v.strip_prefix("service:")) {
                if !project.services.contains_key(target) {
                    return Err(undefined(&join_key(&base, key), "service", target, name));
                }
            }
        }

        for from in &svc.volumes_from {
            if from.starts_with("container:") {
                continue;
            }
            let target = from.split(':').next().unwrap_or(from);
            if !project.services.contains_key(target) {
                return Err(undefined(
                    &join_key(&base, "volumes_from"),
                    "service",
                    target,
                    name,
                ));
            }
        }

        if svc.network_mode.is_some() && !svc.networks.is_empty() {
            return Err(at(
                &join_key(&base, "network_mode"),
                ErrorKind::Conflict(format!(
                    "service {name:?} declares mutually exclusive `network_mode` and `networks`"
                )),
            ));
        }
        for net in svc.networks.keys() {
            if net != "default" && !project.networks.contains_key(net) {
                return Err(undefined(
                    &join_key(&join_key(&base, "networks"), net),
                    "network",
                    net,
                    name,
                ));
            }
        }

        for (i, v) in svc.volumes.iter().enumerate() {
            if v.kind != VolumeType::Volume {
                continue;
            }
            if let Some(src) = v.source.as_deref().filter(|s| !s.is_empty()) {
                if !project.volumes.contains_key(src) {
                    return Err(undefined(
                        &format!("{base}.volumes[{i}]"),
                        "volume",
                        src,
                        name,
                    ));
                }
            }
        }

        for (key, refs, defined) in [
            (
                "secrets",
                &svc.secrets,
                &project.secrets.keys().cloned().collect::<Vec<_>>(),
            ),
            (
                "configs",
                &svc.configs,
                &project.configs.keys().cloned().collect::<Vec<_>>(),
            ),
        ] {
            for (i, r) in refs.iter().enumerate() {
                if !defined.contains(&r.source) {
                    let kind = &key[..key.len() - 1];
                    return Err(undefined(
                        &format!("{base}.{key}[{i}]"),
                        kind,
                        &r.source,
                        name,
                    ));
                }
            }
        }

        let replicas = svc
            .deploy
            .as_ref()
            .and_then(|d| d.replicas)
            .or(svc.scale)
            .unwrap_or(1);
        if let Some(cn) = svc.container_name.as_deref().filter(|c| !c.is_empty()) {
            if replicas > 1 {
                return Err(at(
                    &join_key(&base, "container_name"),
                    ErrorKind::Conflict(format!(
                        "service {name:?} sets container_name {cn:?} and {replicas} replicas: a container name must be unique"
                    )),
                ));
            }
            let earlier = project
                .services
                .iter()
                .take_while(|(o, _)| *o != name)
                .find(|(_, s)| s.container_name.as_deref() == Some(cn));
            if let Some((other, _)) = earlier {
                return Err(at(
                    &join_key(&base, "container_name"),
                    ErrorKind::Conflict(format!(
                        "container name {cn:?} is already in use by \"services.{other}\""
                    )),
                ));
            }
        }
    }

    check_cycles(project, tree)
}

/// `depends_on` (and the implicit dependencies of `service:` namespaces, `volumes_from` and
/// `links`) must form a DAG; a cycle is reported with its services in order.
fn check_cycles(project: &Project, tree: &Node) -> Result<()> {
    let mut g: DiGraphMap<&str, ()> = DiGraphMap::new();
    for (name, svc) in &project.services {
        g.add_node(name.as_str());
        let mut deps: Vec<&str> = svc.depends_on.keys().map(String::as_str).collect();
        for v in [&svc.network_mode, &svc.ipc, &svc.pid]
            .into_iter()
            .flatten()
        {
            if let Some(t) = v.strip_prefix("service:") {
                deps.push(t);
            }
        }
        for from in &svc.volumes_from {
            if !from.starts_with("container:") {
                deps.push(from.split(':').next().unwrap_or(from));
            }
        }
        for link in &svc.links {
            deps.push(link.split(':').next().unwrap_or(link));
        }
        for d in deps {
            if project.services.contains_key(d) {
                g.add_edge(name.as_str(), d, ());
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
        let p = format!("services.{start}.depends_on");
        return Err(LoadError::new(
            tree.locate_key_span(&p),
            p,
            ErrorKind::Cycle(path),
        ));
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
