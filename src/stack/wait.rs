//! Waiting for containers: for the `depends_on` conditions of a service before it starts, and
//! with `up --wait` for every service to be up, within `--wait-timeout` and until SIGINT.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{attach, invalid, Ctx, Reporter, StackError};
use crate::engine::state::{self, Observed, Status};
use crate::model::types::resources::Project;
use crate::planner::graph::service_deps;

/// How often waits look at the containers' state (their monitors write it).
const POLL: Duration = Duration::from_millis(25);

/// Waits until the `depends_on` conditions of `service` hold; a dependency that fails (exits
/// when it should run, turns unhealthy, completes with an error) fails the `up`, unless it is
/// `required: false`.
pub(crate) fn wait_dependencies(
    ctx: &Ctx,
    project: &Project,
    name: &str,
    service: &str,
    limits: Limits,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    use crate::model::types::service::DependencyCondition as C;
    let svc = &project.services[service];
    for (dep, d) in &svc.depends_on {
        if d.condition == C::ServiceStarted {
            continue;
        }
        let result = loop {
            let mine: Vec<Observed> = state::list(&ctx.root, Some(name))?
                .into_iter()
                .filter(|o| &o.record.service == dep && !o.record.one_off)
                .collect();
            if mine.is_empty() {
                break Err(format!("dependency {dep} of {service} has no container"));
            }
            match verdict(&mine, d.condition) {
                Verdict::Ready => break Ok(()),
                Verdict::Failed(m) => break Err(m),
                Verdict::Pending => {
                    limits.check(Some(&|| format!("dependency {dep} of {service}")))?;
                    std::thread::sleep(POLL)
                }
            }
        };
        match result {
            Ok(()) => {
                let what = if d.condition == C::ServiceHealthy {
                    "Healthy"
                } else {
                    "Exited"
                };
                for o in state::list(&ctx.root, Some(name))?
                    .iter()
                    .filter(|o| &o.record.service == dep)
                {
                    rep.event("Container", &o.record.name, what);
                }
            }
            Err(m) if !d.required => rep.warn(&format!("optional dependency {dep}: {m}")),
            Err(m) => return Err(invalid(m)),
        }
    }
    Ok(())
}

enum Verdict {
    Ready,
    Pending,
    Failed(String),
}

/// Whether containers meet a `depends_on` condition.
fn verdict(
    containers: &[Observed],
    condition: crate::model::types::service::DependencyCondition,
) -> Verdict {
    use crate::engine::state::Health;
    use crate::model::types::service::DependencyCondition as C;
    let mut pending = false;
    for o in containers {
        let n = &o.record.name;
        let code = o.state.exit_code.unwrap_or(0);
        match condition {
            C::ServiceStarted => {}
            C::ServiceHealthy => {
                if o.record.healthcheck.is_none() {
                    return Verdict::Failed(format!(
                        "dependency failed to start: container {n} has no healthcheck configured"
                    ));
                }
                match (o.state.status, o.state.health) {
                    (Status::Running, Some(Health::Healthy)) => {}
                    (Status::Running, Some(Health::Unhealthy)) => {
                        return Verdict::Failed(format!(
                            "dependency failed to start: container {n} is unhealthy"
                        ))
                    }
                    (Status::Exited | Status::Dead, _) if o.state.live_monitor().is_none() => {
                        return Verdict::Failed(format!(
                            "dependency failed to start: container {n} exited ({code})"
                        ))
                    }
                    _ => pending = true,
                }
            }
            C::ServiceCompletedSuccessfully => match o.state.status {
                Status::Exited | Status::Dead if o.state.live_monitor().is_none() => {
                    if code != 0 {
                        return Verdict::Failed(format!(
                            "service \"{}\" didn't complete successfully: exit {code}",
                            o.record.service
                        ));
                    }
                }
                _ => pending = true,
            },
        }
    }
    if pending {
        Verdict::Pending
    } else {
        Verdict::Ready
    }
}

/// What cuts the waits of one `up` short: `--wait-timeout`'s deadline, and SIGINT/SIGTERM.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Limits {
    pub(crate) deadline: Option<Instant>,
    pub(crate) interrupts: Option<&'static AtomicUsize>,
}

impl Limits {
    /// Fails with [`StackError::Interrupted`] once an interrupt came and, when something is
    /// being waited for (`waiting_for` names it), once the deadline has passed.
    pub(super) fn check(&self, waiting_for: Option<&dyn Fn() -> String>) -> Result<(), StackError> {
        if self
            .interrupts
            .is_some_and(|n| n.load(Ordering::SeqCst) > 0)
        {
            return Err(StackError::Interrupted);
        }
        if let (Some(what), Some(deadline)) = (waiting_for, self.deadline) {
            if Instant::now() >= deadline {
                return Err(invalid(format!(
                    "timeout waiting for {} to be running and healthy",
                    what()
                )));
            }
        }
        Ok(())
    }
}

/// How long a container without a healthcheck must have been running before `up --wait`
/// counts it as up. A service that dies on start-up (a wrong command, a missing file, a port
/// in use) does so within milliseconds; Docker Compose's check ("running") reports it as up
/// and CI goes on against nothing. Containers settle together, so this costs at most this
/// long once per `up --wait`, and only where no healthcheck says more.
pub const SETTLE: Duration = Duration::from_millis(500);

/// What the services being started expect of each other.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectations {
    /// Services that must keep running: another one depends on them being started or
    /// healthy, links to them, or shares their network namespace or volumes.
    pub must_run: BTreeSet<String>,
    /// Services depended on only with `service_completed_successfully`: their exit 0 is what
    /// they are for, so it neither fails `up --wait` nor aborts an attached `up`.
    pub one_shots: BTreeSet<String>,
}

/// The [`Expectations`] of the services in `scope` (those `up` starts).
pub fn expectations(project: &Project, scope: &[String]) -> Expectations {
    use crate::model::types::service::DependencyCondition as C;
    let mut must_run = BTreeSet::new();
    let mut completed = BTreeSet::new();
    for s in scope {
        let Some(svc) = project.services.get(s) else {
            continue;
        };
        for (dep, d) in &svc.depends_on {
            if d.condition == C::ServiceCompletedSuccessfully {
                completed.insert(dep.clone());
            } else {
                must_run.insert(dep.clone());
            }
        }
        // links, network_mode: service:, volumes_from.
        let mut others = service_deps(project, s);
        others.drain(..svc.depends_on.len());
        must_run.extend(others);
    }
    let one_shots = completed.difference(&must_run).cloned().collect();
    Expectations {
        must_run,
        one_shots,
    }
}

/// Where one container stands for `up --wait`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Readiness {
    /// Up (the word Docker Compose reports it with).
    Ready(&'static str),
    Pending,
    Failed(String),
}

/// Where container `name` of `service` stands, from its observed state `st` (a PID that is
/// gone has been cleared by [`state::RunState::observed`]) at `now` (nanoseconds since the
/// epoch).
fn readiness(
    name: &str,
    service: &str,
    st: &state::RunState,
    has_healthcheck: bool,
    live_monitor: bool,
    exp: &Expectations,
    now: i64,
) -> Readiness {
    use crate::engine::state::Health;
    match st.status {
        // Its PID 1 is gone and the monitor is about to record how it ended.
        Status::Running if st.pid.is_none() => Readiness::Pending,
        Status::Running if has_healthcheck => match st.health {
            Some(Health::Healthy) => Readiness::Ready("Healthy"),
            Some(Health::Unhealthy) => Readiness::Failed(format!("container {name} is unhealthy")),
            _ => Readiness::Pending,
        },
        Status::Running => {
            let started = st.started_at.as_deref().and_then(attach::parse_log_time);
            let settled = started.is_none_or(|t| now.saturating_sub(t) >= SETTLE.as_nanos() as i64);
            if settled {
                Readiness::Ready("Healthy")
            } else {
                Readiness::Pending
            }
        }
        Status::Restarting => match st.exit_code {
            Some(code) if code != 0 => {
                Readiness::Failed(format!("container {name} exited ({code})"))
            }
            _ => Readiness::Pending,
        },
        // Its monitor lives: it is about to be restarted, or its exit to be recorded.
        Status::Exited | Status::Dead | Status::Created if live_monitor => Readiness::Pending,
        Status::Exited => match st.exit_code.unwrap_or(0) {
            0 if exp.must_run.contains(service) => Readiness::Failed(format!(
                "container {name} exited (0), but services that depend on {service} need it running"
            )),
            0 => Readiness::Ready("Exited"),
            code => Readiness::Failed(format!("container {name} exited ({code})")),
        },
        Status::Dead => Readiness::Failed(format!(
            "container {name} is dead: its monitor is gone (exit code {})",
            st.exit_code
                .map_or("unknown".to_string(), |c| c.to_string())
        )),
        Status::Created => Readiness::Pending,
    }
}

/// `up --wait`: waits until, at one look, every container of `services` is up: healthy when
/// it has a healthcheck, else running for [`SETTLE`]; or exited with 0 when nothing needs it
/// running (one-shots). A container that exits non-zero, turns unhealthy, or exits while
/// another service needs it started fails the wait, with its name and exit code, whenever
/// that happens before the others are up.
pub(super) fn wait_services(
    ctx: &Ctx,
    project: &Project,
    name: &str,
    services: &[String],
    limits: Limits,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    let exp = expectations(project, services);
    let mut reported: BTreeSet<String> = BTreeSet::new();
    loop {
        let now = attach::now_nanos();
        let mut pending = Vec::new();
        for o in state::list(&ctx.root, Some(name))?
            .into_iter()
            .filter(|o| !o.record.one_off && services.contains(&o.record.service))
        {
            let n = &o.record.name;
            let live_monitor = o.state.live_monitor().is_some();
            match readiness(
                n,
                &o.record.service,
                &o.state,
                o.record.healthcheck.is_some(),
                live_monitor,
                &exp,
                now,
            ) {
                Readiness::Ready(what) => {
                    if reported.insert(n.clone()) {
                        rep.event("Container", n, what);
                    }
                }
                Readiness::Pending => pending.push(n.clone()),
                Readiness::Failed(m) => return Err(invalid(m)),
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        limits.check(Some(&|| pending.join(", ")))?;
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::state::{Health, RunState};
    use std::path::Path;

    fn project(text: &str) -> Project {
        let tree = crate::model::yaml::parse_file_text(text, Some(Path::new("compose.yaml")))
            .expect("valid YAML");
        crate::model::de::from_node(&tree).expect("valid project")
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

    fn strings(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_shots_are_awaited_only_for_their_completion() {
        let p = project(CI);
        let all: Vec<String> = p.services.keys().cloned().collect();
        let e = expectations(&p, &all);
        assert_eq!(e.one_shots, strings(&["setup"]));
        assert_eq!(e.must_run, strings(&["cache", "db", "tests"]));
        // A dependent outside the scope expects nothing.
        let e = expectations(&p, &["db".to_string()]);
        assert_eq!(e, Expectations::default());
    }

    fn running(started_ago_ms: i64, now: i64) -> RunState {
        let started = now - started_ago_ms * 1_000_000;
        let secs = started.div_euclid(1_000_000_000);
        RunState {
            status: Status::Running,
            pid: Some(42),
            started_at: Some(format!(
                "{}.{:09}Z",
                crate::engine::fsutil::format_rfc3339(secs).trim_end_matches('Z'),
                started.rem_euclid(1_000_000_000)
            )),
            ..RunState::default()
        }
    }

    #[test]
    fn wait_readiness_catches_early_exits_and_lets_one_shots_pass() {
        let p = project(CI);
        let all: Vec<String> = p.services.keys().cloned().collect();
        let e = expectations(&p, &all);
        let now = 1_700_000_000_000_000_000i64;
        let r = |service: &str, st: &RunState, hc: bool, monitor: bool| {
            readiness("c-1", service, st, hc, monitor, &e, now)
        };
        // Running, but not for long enough yet; then settled.
        assert_eq!(r("db", &running(10, now), false, true), Readiness::Pending);
        assert_eq!(
            r("db", &running(600, now), false, true),
            Readiness::Ready("Healthy")
        );
        // PID 1 gone, exit not recorded yet.
        let exiting = RunState {
            pid: None,
            ..running(600, now)
        };
        assert_eq!(r("db", &exiting, false, true), Readiness::Pending);
        // With a healthcheck: its verdict.
        let mut hc = running(10, now);
        hc.health = Some(Health::Starting);
        assert_eq!(r("db", &hc, true, true), Readiness::Pending);
        hc.health = Some(Health::Healthy);
        assert_eq!(r("db", &hc, true, true), Readiness::Ready("Healthy"));
        hc.health = Some(Health::Unhealthy);
        assert!(
            matches!(r("db", &hc, true, true), Readiness::Failed(m) if m.contains("unhealthy"))
        );
        // Exits.
        let exited = |code| RunState {
            status: Status::Exited,
            exit_code: Some(code),
            ..RunState::default()
        };
        assert!(
            matches!(r("setup", &exited(3), false, false), Readiness::Failed(m) if m == "container c-1 exited (3)")
        );
        assert_eq!(
            r("setup", &exited(0), false, false),
            Readiness::Ready("Exited")
        );
        assert!(
            matches!(r("db", &exited(0), false, false), Readiness::Failed(m) if m.contains("exited (0)"))
        );
        // Still monitored: about to restart (or to record its exit).
        assert_eq!(r("db", &exited(0), false, true), Readiness::Pending);
        let restarting = RunState {
            status: Status::Restarting,
            exit_code: Some(2),
            ..RunState::default()
        };
        assert!(
            matches!(r("db", &restarting, false, true), Readiness::Failed(m) if m.contains("(2)"))
        );
    }

    #[test]
    fn limits_stop_at_an_interrupt_and_at_the_deadline() {
        static N: AtomicUsize = AtomicUsize::new(0);
        let l = Limits {
            deadline: None,
            interrupts: Some(&N),
        };
        assert!(l.check(None).is_ok());
        N.store(1, Ordering::SeqCst);
        assert!(matches!(l.check(None), Err(StackError::Interrupted)));
        let past = Limits {
            deadline: Some(Instant::now()),
            interrupts: None,
        };
        assert!(past.check(None).is_ok());
        let what = || "web".to_string();
        assert!(
            matches!(past.check(Some(&what)), Err(StackError::Invalid(m)) if m.contains("timeout waiting for web"))
        );
    }
}
