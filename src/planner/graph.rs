//! The services' dependency graph: which service needs which (`depends_on`, `links`,
//! `network_mode: service:`, `volumes_from`), the order they start in, their levels (what may
//! start together) and the waves they stop in (dependents first).
//!
//! Pure: it reads the model only, so `up`, `run`, `stop`, `down` and `logs` share one idea of
//! "dependency" and it is unit-tested without containers.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

use crate::engine::state::Observed;
use crate::model::types::resources::Project;
use crate::model::types::service::ServiceConfig;

/// Why the services cannot be ordered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("service {service} depends on undefined service {dependency}")]
    UndefinedDependency { service: String, dependency: String },
    /// `cycle` runs from `service` back to it, each service depending on the next.
    #[error("dependency cycle detected involving service {service}: {}", cycle.join(" -> "))]
    Cycle { service: String, cycle: Vec<String> },
    #[error("no such service: {0}")]
    NoSuchService(String),
}

/// The services whose first container `svc`'s configuration names: `service:X` namespaces and
/// `volumes_from: X`. Docker Compose resolves these to X's container id before hashing, so
/// `up` recreates `svc` whenever that container is new.
pub fn shared_targets(svc: &ServiceConfig) -> Vec<String> {
    let namespaces = [&svc.network_mode, &svc.ipc, &svc.pid, &svc.uts, &svc.cgroup];
    let mut out: Vec<String> = namespaces
        .into_iter()
        .flatten()
        .filter_map(|m| m.strip_prefix("service:"))
        .map(str::to_string)
        .collect();
    out.extend(
        svc.volumes_from
            .iter()
            .filter(|v| !v.starts_with("container:"))
            .map(|v| v.split(':').next().unwrap_or(v).to_string()),
    );
    out
}

/// The services `service` depends on: `depends_on` (first, in its order), `links`,
/// `network_mode: service:`, `volumes_from`.
pub fn service_deps(project: &Project, service: &str) -> Vec<String> {
    let Some(svc) = project.services.get(service) else {
        return Vec::new();
    };
    let mut deps: Vec<String> = svc.depends_on.keys().cloned().collect();
    deps.extend(
        svc.links
            .iter()
            .map(|l| l.split(':').next().unwrap_or(l.as_str()).to_string()),
    );
    if let Some(s) = svc
        .network_mode
        .as_deref()
        .and_then(|m| m.strip_prefix("service:"))
    {
        deps.push(s.to_string());
    }
    for v in &svc.volumes_from {
        if !v.starts_with("container:") {
            deps.push(v.split(':').next().unwrap_or(v.as_str()).to_string());
        }
    }
    deps
}

/// The graph: an edge runs from a dependency to its dependent.
struct Graph<'p> {
    g: DiGraph<&'p str, ()>,
    idx: BTreeMap<&'p str, NodeIndex>,
}

impl<'p> Graph<'p> {
    /// Fails on a dependency that is not a service, unless it is `required: false`.
    fn of(project: &'p Project) -> Result<Graph<'p>, GraphError> {
        let mut g = DiGraph::<&str, ()>::new();
        let mut idx = BTreeMap::new();
        for name in project.services.keys() {
            idx.insert(name.as_str(), g.add_node(name.as_str()));
        }
        for (name, svc) in &project.services {
            for d in service_deps(project, name) {
                if let Some(&di) = idx.get(d.as_str()) {
                    g.add_edge(di, idx[name.as_str()], ());
                } else if svc.depends_on.get(&d).is_none_or(|dep| dep.required) {
                    return Err(GraphError::UndefinedDependency {
                        service: name.clone(),
                        dependency: d,
                    });
                }
            }
        }
        Ok(Graph { g, idx })
    }

    /// A cycle through `start`, if it is on one: `start`, what it depends on, ... `start`.
    fn cycle_through(&self, start: NodeIndex) -> Option<Vec<String>> {
        // Breadth-first along dependencies (edges backwards) until `start` comes round again.
        let mut parent: BTreeMap<NodeIndex, NodeIndex> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        'search: while let Some(n) = queue.pop_front() {
            for d in self.g.neighbors_directed(n, Direction::Incoming) {
                if d == start {
                    parent.insert(start, n);
                    break 'search;
                }
                if let std::collections::btree_map::Entry::Vacant(e) = parent.entry(d) {
                    e.insert(n);
                    queue.push_back(d);
                }
            }
        }
        // Walk back from `start`'s entry: each parent is the dependent of its child.
        let mut path = vec![start];
        let mut n = Some(*parent.get(&start)?);
        while let Some(p) = n.filter(|p| *p != start) {
            path.push(p);
            n = parent.get(&p).copied();
        }
        path.push(start);
        path.reverse();
        Some(path.into_iter().map(|i| self.g[i].to_string()).collect())
    }

    /// The cycle toposort tripped on: through `hint` when it is on one, else the first found.
    fn cycle(&self, hint: NodeIndex) -> GraphError {
        let found = std::iter::once(hint)
            .chain(self.g.node_indices())
            .find_map(|n| self.cycle_through(n));
        let cycle = found.unwrap_or_else(|| vec![self.g[hint].to_string()]);
        GraphError::Cycle {
            service: cycle[0].clone(),
            cycle,
        }
    }
}

/// Services in the order they must start: dependencies first, the services asked for
/// (`wanted`; empty: all) and everything they depend on. Fails on a cycle, naming it.
pub fn start_order(project: &Project, wanted: &[String]) -> Result<Vec<String>, GraphError> {
    let graph = Graph::of(project)?;
    let g = &graph.g;
    let order = petgraph::algo::toposort(g, None).map_err(|c| graph.cycle(c.node_id()))?;
    let mut keep: BTreeSet<&str> = BTreeSet::new();
    if wanted.is_empty() {
        keep.extend(project.services.keys().map(String::as_str));
    } else {
        let mut stack: Vec<NodeIndex> = Vec::new();
        for w in wanted {
            let i = graph
                .idx
                .get(w.as_str())
                .ok_or_else(|| GraphError::NoSuchService(w.clone()))?;
            stack.push(*i);
        }
        while let Some(i) = stack.pop() {
            if keep.insert(g[i]) {
                stack.extend(g.neighbors_directed(i, Direction::Incoming));
            }
        }
    }
    Ok(order
        .into_iter()
        .map(|i| g[i])
        .filter(|n| keep.contains(n))
        .map(String::from)
        .collect())
}

/// The services `up` acts on, dependencies first: those asked for (all when none) and what
/// they depend on; with `--no-deps`, those asked for only (their dependencies are left as
/// they are).
pub fn up_scope(
    project: &Project,
    services: &[String],
    no_deps: bool,
) -> Result<Vec<String>, GraphError> {
    let mut order = start_order(project, services)?;
    if no_deps && !services.is_empty() {
        order.retain(|s| services.contains(s));
    }
    Ok(order)
}

/// The level of each service of `order` (dependencies first) among those services: 0 without
/// a dependency in `order`, else one more than its highest one. The services of one level do
/// not depend on each other, so they may start together.
pub fn levels(project: &Project, order: &[String]) -> BTreeMap<String, usize> {
    let mut level: BTreeMap<String, usize> = BTreeMap::new();
    for s in order {
        let l = service_deps(project, s)
            .iter()
            .filter_map(|d| level.get(d.as_str()))
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        level.insert(s.clone(), l);
    }
    level
}

/// Each service's level in the dependency graph: 0 without dependencies, else one more than
/// its highest dependency. Empty for a project with a dependency cycle (it could not start).
pub fn service_levels(project: &Project) -> BTreeMap<String, usize> {
    levels(project, &start_order(project, &[]).unwrap_or_default())
}

/// Containers in the waves `stop` and `down` stop them in: every service's dependents
/// (`depends_on`, links, `network_mode: service:`, `volumes_from`) in a wave before its own,
/// as Docker Compose does, so a database outlives the applications writing to it. Containers
/// of services `project` does not know (orphans; all of them without a project file) and
/// one-off containers go first.
pub fn stop_waves<'a>(
    project: Option<&Project>,
    targets: &[&'a Observed],
) -> Vec<Vec<&'a Observed>> {
    let level = project.map(service_levels).unwrap_or_default();
    let first = level.values().copied().max().map_or(0, |m| m + 1);
    let mut waves: BTreeMap<std::cmp::Reverse<usize>, Vec<&'a Observed>> = BTreeMap::new();
    for o in targets {
        let l = match level.get(o.record.service.as_str()) {
            Some(l) if !o.record.one_off => *l,
            _ => first,
        };
        waves.entry(std::cmp::Reverse(l)).or_default().push(*o);
    }
    waves.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn project(text: &str) -> Project {
        let tree = crate::model::yaml::parse_file_text(text, Some(Path::new("compose.yaml")))
            .expect("valid YAML");
        crate::model::de::from_node(&tree).expect("valid project")
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    const CI: &str = "\
services:
  setup: {image: busybox}
  db: {image: busybox}
  cache: {image: busybox}
  tests:
    image: busybox
    depends_on:
      setup: {condition: service_completed_successfully}
      db: {condition: service_healthy}
      cache: {condition: service_started}
  proxy:
    image: busybox
    network_mode: service:tests
";

    fn position(order: &[String], s: &str) -> usize {
        order.iter().position(|o| o == s).expect("in the order")
    }

    #[test]
    fn dependencies_start_first_whatever_kind_of_dependency() {
        let p = project(
            "\
services:
  web: {image: x, links: ['api:backend']}
  api: {image: x, volumes_from: [data, 'container:other']}
  data: {image: x, network_mode: service:net}
  net: {image: x}
",
        );
        let order = start_order(&p, &[]).expect("acyclic");
        assert_eq!(order, strs(&["net", "data", "api", "web"]));
        assert_eq!(service_deps(&p, "api"), strs(&["data"]));
        assert_eq!(service_deps(&p, "web"), strs(&["api"]));
    }

    #[test]
    fn wanted_services_bring_their_dependencies_only() {
        let p = project(CI);
        let order = start_order(&p, &strs(&["tests"])).expect("acyclic");
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, strs(&["cache", "db", "setup", "tests"]));
        assert_eq!(position(&order, "tests"), 3);
        assert_eq!(
            start_order(&p, &strs(&["nope"])),
            Err(GraphError::NoSuchService("nope".into()))
        );
    }

    #[test]
    fn levels_say_what_may_start_together() {
        let p = project(CI);
        let levels_all = service_levels(&p);
        assert_eq!(levels_all["setup"], 0);
        assert_eq!(levels_all["db"], 0);
        assert_eq!(levels_all["cache"], 0);
        assert_eq!(levels_all["tests"], 1);
        assert_eq!(levels_all["proxy"], 2);
        // `--no-deps proxy`: its dependency is not started, so nothing holds it back.
        assert_eq!(
            levels(&p, &strs(&["proxy"])),
            BTreeMap::from([("proxy".into(), 0)])
        );
    }

    #[test]
    fn a_cycle_names_every_service_on_it() {
        // `depends_on` cycles are refused by the model's validation; links are not checked there.
        let p = project(
            "\
services:
  a: {image: x, links: [b]}
  b: {image: x, links: [c]}
  c: {image: x, links: [a]}
  d: {image: x}
",
        );
        let err = start_order(&p, &[]).expect_err("a cycle");
        let GraphError::Cycle { service, cycle } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(cycle.first(), Some(service));
        assert_eq!(cycle.last(), Some(service));
        let mut on: Vec<&String> = cycle[1..].iter().collect();
        on.sort();
        assert_eq!(on, vec!["a", "b", "c"]);
        assert!(err.to_string().starts_with(&format!(
            "dependency cycle detected involving service {service}: "
        )));
        // Each service on it depends on the next.
        for pair in cycle.windows(2) {
            assert!(service_deps(&p, &pair[0]).contains(&pair[1]), "{cycle:?}");
        }
        assert!(service_levels(&p).is_empty());
    }

    #[test]
    fn an_undefined_dependency_fails_unless_optional() {
        let p = project("services:\n  a: {image: x, links: [ghost]}\n");
        assert_eq!(
            start_order(&p, &[]).map_err(|e| e.to_string()),
            Err("service a depends on undefined service ghost".into())
        );
        let p = project(
            "services:\n  a:\n    image: x\n    depends_on:\n      ghost: {condition: service_started, required: false}\n",
        );
        assert_eq!(start_order(&p, &[]), Ok(strs(&["a"])));
    }

    #[test]
    fn sharers_name_the_services_whose_container_they_join() {
        let p = project(
            "\
services:
  app:
    image: x
    network_mode: service:net
    ipc: service:ipc
    pid: host
    volumes_from: ['data:ro', 'container:c']
",
        );
        assert_eq!(
            shared_targets(&p.services["app"]),
            strs(&["net", "ipc", "data"])
        );
    }

    #[test]
    fn dependents_are_stopped_in_a_wave_before_their_dependencies() {
        let levels = service_levels(&project(CI));
        assert_eq!(levels["setup"], 0);
        assert_eq!(levels["db"], 0);
        assert_eq!(levels["tests"], 1);
        assert_eq!(levels["proxy"], 2);
    }

    #[test]
    fn no_deps_leaves_the_dependencies_out_of_the_scope() {
        let p = project(CI);
        let with = up_scope(&p, &strs(&["proxy"]), false).expect("acyclic");
        assert_eq!(with.len(), 5);
        assert_eq!(with.last().map(String::as_str), Some("proxy"));
        assert_eq!(up_scope(&p, &strs(&["proxy"]), true), Ok(strs(&["proxy"])));
        // Without services named, --no-deps changes nothing.
        assert_eq!(up_scope(&p, &[], true), start_order(&p, &[]));
    }
}
