//! The executor: the only code that walks a [`Plan`]. It decides the order and what runs
//! together, as Docker Compose's graph traversal does; what each step does to the system is
//! behind [`Operations`], so the order is unit-tested against a fake that records the steps.
//!
//! Order: networks, then named volumes, then orphans' containers; then the running
//! `restart: true` dependents of a recreated service are stopped, dependents first; then the
//! services level by level of the dependency graph, the services of one level concurrently.
//! Within a service its steps run one after the other, the dependencies' `depends_on`
//! conditions awaited before the first that starts a container, and its replicas then start
//! together.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use super::threads::{first_error, Shared};
use super::wait::Limits;
use super::{Reporter, StackError};
use crate::planner::reconcile::{Action, NetworkStep, Plan};

/// What the network steps of a plan do: all of `run`'s plan, the first steps of `up`'s.
pub(super) trait NetworkOps: Sync {
    /// Creates a network the services use.
    fn create_network(&self, name: &str, rep: &mut dyn Reporter) -> Result<(), StackError>;
    /// Makes an existing network match its definition again (no progress shown).
    fn ensure_network(&self, name: &str) -> Result<(), StackError>;
}

/// What each step of a plan does. Each operation reports its own progress on `rep`.
pub(super) trait Operations: NetworkOps {
    fn create_volume(&self, name: &str) -> Result<(), StackError>;
    /// Stops (if running) and removes a container.
    fn remove(&self, id: &str, rep: &mut dyn Reporter) -> Result<(), StackError>;
    /// Stops containers together (one wave of those restarted).
    fn stop(&self, ids: &[&str], rep: &mut dyn Reporter) -> Result<(), StackError>;
    /// Waits for the `depends_on` conditions of `service`.
    fn wait_dependencies(&self, service: &str, rep: &mut dyn Reporter) -> Result<(), StackError>;
    /// A running, unchanged container: its ports put back if lost.
    fn keep(&self, id: &str, name: &str, rep: &mut dyn Reporter) -> Result<(), StackError>;
    /// A stopped container about to start again: its ports published again.
    fn republish(&self, id: &str) -> Result<(), StackError>;
    /// Creates replica `number` of `service`; its id and name.
    fn create(
        &self,
        service: &str,
        number: u32,
        rep: &mut dyn Reporter,
    ) -> Result<(String, String), StackError>;
    /// Removes container `id` (`name`) and creates replica `number` of `service` in its place.
    fn recreate(
        &self,
        service: &str,
        number: u32,
        id: &str,
        name: &str,
        rep: &mut dyn Reporter,
    ) -> Result<(String, String), StackError>;
    /// Starts a created or stopped container.
    fn launch(&self, id: &str, name: &str, rep: &mut dyn Reporter) -> Result<(), StackError>;
}

/// How a plan is walked: the services in dependency order with their levels
/// ([`crate::planner::graph::levels`]), whether containers start, and what cuts it short.
pub(super) struct Schedule<'a> {
    pub order: &'a [String],
    pub levels: &'a BTreeMap<String, usize>,
    /// `false` with `--no-start`: containers are created, none started, nothing awaited.
    pub start: bool,
    pub limits: Limits,
}

/// Carries out `plan`.
pub(super) fn execute<O: Operations>(
    plan: &Plan,
    schedule: &Schedule,
    ops: &O,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    execute_networks(&plan.networks, ops, rep)?;
    for v in &plan.volumes {
        // Docker Compose shows each named volume it creates (`Volume demo_data  Created`).
        rep.event("Volume", v, "Creating");
        ops.create_volume(v)?;
        rep.event("Volume", v, "Created");
    }
    let mut per_service: IndexMap<&str, Vec<&Action>> = IndexMap::new();
    for a in &plan.actions {
        match service_of(a) {
            Some(s) => per_service.entry(s).or_default().push(a),
            // Orphans first.
            None => {
                if let Action::Remove { id, .. } = a {
                    ops.remove(id, rep)?;
                }
            }
        }
    }
    // `restart: true` dependents of a recreated service stop before anything is replaced
    // (dependents first), as Docker Compose's convergence does; each starts again at its level.
    let mut waves: BTreeMap<std::cmp::Reverse<usize>, Vec<&str>> = BTreeMap::new();
    for a in &plan.actions {
        if let Action::Restart { service, id, .. } = a {
            let l = schedule.levels.get(service).copied().unwrap_or(0);
            waves
                .entry(std::cmp::Reverse(l))
                .or_default()
                .push(id.as_str());
        }
    }
    for wave in waves.values() {
        ops.stop(wave, rep)?;
    }
    let shared = std::sync::Mutex::new(rep);
    let max_level = schedule.levels.values().copied().max().unwrap_or(0);
    for l in 0..=max_level {
        schedule.limits.check(None)?;
        let services: Vec<&str> = schedule
            .order
            .iter()
            .map(String::as_str)
            .filter(|s| schedule.levels.get(*s) == Some(&l))
            .collect();
        std::thread::scope(|sc| {
            let handles: Vec<_> = services
                .iter()
                .filter_map(|s| per_service.get(s).map(|a| (*s, a)))
                .map(|(s, actions)| {
                    let shared = &shared;
                    sc.spawn(move || run_service(s, actions, schedule, ops, shared))
                })
                .collect();
            first_error(handles.into_iter().map(|h| h.join()))
        })?;
    }
    Ok(())
}

/// Carries out a plan's network steps, in order.
pub(super) fn execute_networks<N: NetworkOps + ?Sized>(
    steps: &[NetworkStep],
    ops: &N,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    for step in steps {
        match step {
            NetworkStep::Create { name } => ops.create_network(name, rep)?,
            NetworkStep::Ensure { name } => ops.ensure_network(name)?,
        }
    }
    Ok(())
}

/// The service a step belongs to; `None` for an orphan's removal.
fn service_of(a: &Action) -> Option<&str> {
    match a {
        Action::Create { service, .. }
        | Action::Recreate { service, .. }
        | Action::Start { service, .. }
        | Action::Restart { service, .. }
        | Action::Keep { service, .. } => Some(service),
        Action::Remove { service, .. } => service.as_deref(),
    }
}

/// The steps of one service, in order; then its replicas start together.
fn run_service<O: Operations>(
    service: &str,
    actions: &[&Action],
    schedule: &Schedule,
    ops: &O,
    shared: &std::sync::Mutex<&mut dyn Reporter>,
) -> Result<(), StackError> {
    let mut r = Shared(shared);
    let mut waited = false;
    let mut launches: Vec<(String, String)> = Vec::new();
    for a in actions {
        schedule.limits.check(None)?;
        let starts = !matches!(a, Action::Keep { .. } | Action::Remove { .. });
        if starts && schedule.start && !waited {
            // A service's dependencies' conditions hold before its first container starts.
            ops.wait_dependencies(service, &mut r)?;
            waited = true;
        }
        let start = match a {
            Action::Remove { id, .. } => {
                ops.remove(id, &mut r)?;
                None
            }
            Action::Keep { id, name, .. } => {
                ops.keep(id, name, &mut r)?;
                None
            }
            Action::Start { id, name, .. } | Action::Restart { id, name, .. } => {
                ops.republish(id)?;
                Some((id.clone(), name.clone()))
            }
            Action::Create { service, number } => Some(ops.create(service, *number, &mut r)?),
            Action::Recreate {
                service,
                number,
                id,
                name,
            } => Some(ops.recreate(service, *number, id, name, &mut r)?),
        };
        if let (Some(l), true) = (start, schedule.start) {
            launches.push(l);
        }
    }
    std::thread::scope(|sc| {
        let handles: Vec<_> = launches
            .iter()
            .map(|(id, name)| sc.spawn(move || ops.launch(id, name, &mut Shared(shared))))
            .collect();
        first_error(handles.into_iter().map(|h| h.join()))
    })
}

/// `up --dry-run`: the plan as the progress lines of its real run, one per step that changes or
/// keeps something (the CLI's dry-run reporter prefixes them as Docker Compose does);
/// `container_name` names the containers a `Create` would make.
pub(super) fn dry_run(
    plan: &Plan,
    container_name: &dyn Fn(&str, u32) -> String,
    rep: &mut dyn Reporter,
) {
    for step in &plan.networks {
        if let NetworkStep::Create { name } = step {
            rep.event("Network", name, "Created");
        }
    }
    for v in &plan.volumes {
        rep.event("Volume", v, "Created");
    }
    for a in &plan.actions {
        let (n, what) = match a {
            Action::Create { service, number } => (container_name(service, *number), "Created"),
            Action::Recreate { name, .. } => (name.clone(), "Recreated"),
            Action::Start { name, .. } => (name.clone(), "Started"),
            Action::Restart { name, .. } => (name.clone(), "Restarted"),
            Action::Keep { name, .. } => (name.clone(), "Running"),
            Action::Remove { name, .. } => (name.clone(), "Removed"),
        };
        rep.event("Container", &n, what);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records each operation as one line; `fail` names a step that fails.
    #[derive(Default)]
    struct Fake {
        done: Mutex<Vec<String>>,
        fail: Option<&'static str>,
    }

    impl Fake {
        fn record(&self, step: String) -> Result<(), StackError> {
            let failed = self.fail == Some(step.as_str());
            self.done.lock().expect("not poisoned").push(step);
            match failed {
                true => Err(StackError::Invalid("failed".into())),
                false => Ok(()),
            }
        }
        fn steps(&self) -> Vec<String> {
            self.done.lock().expect("not poisoned").clone()
        }
        fn index(&self, step: &str) -> usize {
            let steps = self.steps();
            steps
                .iter()
                .position(|s| s == step)
                .unwrap_or_else(|| panic!("{step} not in {steps:?}"))
        }
    }

    impl NetworkOps for Fake {
        fn create_network(&self, name: &str, _: &mut dyn Reporter) -> Result<(), StackError> {
            self.record(format!("create network {name}"))
        }
        fn ensure_network(&self, name: &str) -> Result<(), StackError> {
            self.record(format!("ensure network {name}"))
        }
    }

    impl Operations for Fake {
        fn create_volume(&self, name: &str) -> Result<(), StackError> {
            self.record(format!("create volume {name}"))
        }
        fn remove(&self, id: &str, _: &mut dyn Reporter) -> Result<(), StackError> {
            self.record(format!("remove {id}"))
        }
        fn stop(&self, ids: &[&str], _: &mut dyn Reporter) -> Result<(), StackError> {
            self.record(format!("stop {}", ids.join(",")))
        }
        fn wait_dependencies(&self, service: &str, _: &mut dyn Reporter) -> Result<(), StackError> {
            self.record(format!("wait {service}"))
        }
        fn keep(&self, id: &str, _: &str, _: &mut dyn Reporter) -> Result<(), StackError> {
            self.record(format!("keep {id}"))
        }
        fn republish(&self, id: &str) -> Result<(), StackError> {
            self.record(format!("republish {id}"))
        }
        fn create(
            &self,
            service: &str,
            number: u32,
            _: &mut dyn Reporter,
        ) -> Result<(String, String), StackError> {
            let id = format!("{service}{number}");
            self.record(format!("create {id}"))?;
            Ok((id.clone(), format!("p-{service}-{number}")))
        }
        fn recreate(
            &self,
            service: &str,
            number: u32,
            id: &str,
            _: &str,
            _: &mut dyn Reporter,
        ) -> Result<(String, String), StackError> {
            self.record(format!("recreate {id}"))?;
            Ok((format!("new-{id}"), format!("p-{service}-{number}")))
        }
        fn launch(&self, id: &str, _: &str, _: &mut dyn Reporter) -> Result<(), StackError> {
            self.record(format!("launch {id}"))
        }
    }

    struct Quiet;
    impl Reporter for Quiet {
        fn event(&mut self, _: &str, _: &str, _: &str) {}
        fn warn(&mut self, _: &str) {}
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn create(service: &str, number: u32) -> Action {
        Action::Create {
            service: service.into(),
            number,
        }
    }

    fn existing(kind: &str, service: &str) -> Action {
        let (id, name) = (format!("{service}1"), format!("p-{service}-1"));
        let service = service.to_string();
        match kind {
            "keep" => Action::Keep { service, id, name },
            "start" => Action::Start { service, id, name },
            "restart" => Action::Restart { service, id, name },
            _ => Action::Recreate {
                service,
                number: 1,
                id,
                name,
            },
        }
    }

    /// db <- api <- web, and cache beside db: levels 0, 1, 2.
    fn levels() -> BTreeMap<String, usize> {
        [("db", 0), ("cache", 0), ("api", 1), ("web", 2)]
            .into_iter()
            .map(|(s, l)| (s.to_string(), l))
            .collect()
    }

    fn run(plan: &Plan, start: bool, fake: &Fake) -> Result<(), StackError> {
        let order = strs(&["db", "cache", "api", "web"]);
        let levels = levels();
        let schedule = Schedule {
            order: &order,
            levels: &levels,
            start,
            limits: Limits::default(),
        };
        execute(plan, &schedule, fake, &mut Quiet)
    }

    #[test]
    fn networks_volumes_and_orphans_come_before_any_container() {
        let plan = Plan {
            networks: vec![
                NetworkStep::Ensure { name: "p_a".into() },
                NetworkStep::Create { name: "p_b".into() },
            ],
            volumes: strs(&["p_data"]),
            actions: vec![
                create("db", 1),
                Action::Remove {
                    id: "orphan".into(),
                    name: "p-gone-1".into(),
                    service: None,
                },
            ],
            orphans: Vec::new(),
        };
        let fake = Fake::default();
        run(&plan, true, &fake).expect("runs");
        assert_eq!(
            fake.steps(),
            strs(&[
                "ensure network p_a",
                "create network p_b",
                "create volume p_data",
                "remove orphan",
                "wait db",
                "create db1",
                "launch db1",
            ])
        );
    }

    #[test]
    fn network_steps_alone_are_walked_in_order_and_stop_at_the_first_failure() {
        let steps = vec![
            NetworkStep::Ensure { name: "p_a".into() },
            NetworkStep::Create { name: "p_b".into() },
            NetworkStep::Create { name: "p_c".into() },
        ];
        let fake = Fake::default();
        execute_networks(&steps, &fake, &mut Quiet).expect("runs");
        assert_eq!(
            fake.steps(),
            strs(&[
                "ensure network p_a",
                "create network p_b",
                "create network p_c"
            ])
        );
        let failing = Fake {
            fail: Some("create network p_b"),
            ..Fake::default()
        };
        assert!(execute_networks(&steps, &failing, &mut Quiet).is_err());
        assert_eq!(
            failing.steps(),
            strs(&["ensure network p_a", "create network p_b"])
        );
    }

    #[test]
    fn each_level_is_done_before_the_next_starts() {
        let plan = Plan {
            actions: vec![
                create("db", 1),
                create("db", 2),
                existing("keep", "cache"),
                existing("start", "api"),
                existing("recreate", "web"),
            ],
            ..Plan::default()
        };
        let fake = Fake::default();
        run(&plan, true, &fake).expect("runs");
        assert_eq!(fake.steps().len(), 12);
        // Level 0 (db's replicas, cache) before api, api before web.
        for earlier in ["launch db1", "launch db2", "keep cache1"] {
            assert!(fake.index(earlier) < fake.index("wait api"), "{earlier}");
        }
        assert!(fake.index("launch api1") < fake.index("wait web"));
        // Within a service: the wait, its steps, then its launches.
        assert!(fake.index("wait db") < fake.index("create db1"));
        assert!(fake.index("create db2") < fake.index("launch db1"));
        assert!(fake.index("republish api1") < fake.index("launch api1"));
        assert!(fake.index("recreate web1") < fake.index("launch new-web1"));
        // A service that only keeps its containers waits for nothing.
        assert!(!fake.steps().contains(&"wait cache".to_string()));
    }

    #[test]
    fn restarted_dependents_stop_first_dependents_before_their_dependencies() {
        let plan = Plan {
            actions: vec![
                existing("recreate", "db"),
                existing("restart", "api"),
                existing("restart", "web"),
            ],
            ..Plan::default()
        };
        let fake = Fake::default();
        run(&plan, true, &fake).expect("runs");
        let steps = fake.steps();
        assert_eq!(steps[..2], strs(&["stop web1", "stop api1"]));
        assert_eq!(steps[2..4], strs(&["wait db", "recreate db1"]));
        assert!(fake.index("launch api1") < fake.index("launch web1"));
    }

    #[test]
    fn no_start_creates_without_waiting_or_starting() {
        let plan = Plan {
            actions: vec![create("db", 1), existing("start", "api")],
            ..Plan::default()
        };
        let fake = Fake::default();
        run(&plan, false, &fake).expect("runs");
        assert_eq!(fake.steps(), strs(&["create db1", "republish api1"]));
    }

    #[test]
    fn a_failed_step_stops_the_levels_after_it() {
        let plan = Plan {
            actions: vec![create("db", 1), create("api", 1)],
            ..Plan::default()
        };
        let fake = Fake {
            fail: Some("create db1"),
            ..Fake::default()
        };
        assert!(matches!(
            run(&plan, true, &fake),
            Err(StackError::Invalid(_))
        ));
        assert_eq!(fake.steps(), strs(&["wait db", "create db1"]));
    }

    #[test]
    fn an_interrupt_stops_before_the_next_level() {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
        let plan = Plan {
            networks: vec![NetworkStep::Create { name: "p_a".into() }],
            actions: vec![create("db", 1)],
            ..Plan::default()
        };
        let order = strs(&["db"]);
        let levels = levels();
        let schedule = Schedule {
            order: &order,
            levels: &levels,
            start: true,
            limits: Limits {
                deadline: None,
                interrupts: Some(&N),
            },
        };
        let fake = Fake::default();
        let r = execute(&plan, &schedule, &fake, &mut Quiet);
        assert!(matches!(r, Err(StackError::Interrupted)));
        assert_eq!(fake.steps(), strs(&["create network p_a"]));
    }

    #[test]
    fn dry_run_prints_each_step_of_the_plan() {
        struct Lines(Vec<String>);
        impl Reporter for Lines {
            fn event(&mut self, kind: &str, name: &str, action: &str) {
                self.0.push(format!("{kind} {name} {action}"));
            }
            fn warn(&mut self, _: &str) {}
        }
        let plan = Plan {
            networks: vec![
                NetworkStep::Create { name: "p_a".into() },
                NetworkStep::Ensure { name: "p_b".into() },
            ],
            volumes: strs(&["p_data"]),
            actions: vec![create("db", 1), existing("keep", "api")],
            orphans: Vec::new(),
        };
        let mut lines = Lines(Vec::new());
        dry_run(&plan, &|s, n| format!("p-{s}-{n}"), &mut lines);
        assert_eq!(
            lines.0,
            strs(&[
                "Network p_a Created",
                "Volume p_data Created",
                "Container p-db-1 Created",
                "Container p-api-1 Running",
            ])
        );
    }
}
