//! `post_start` and `pre_stop` as lifecycle hooks, and `stop_signal`, which Kubernetes 1.30
//! cannot set (it always sends SIGTERM).

use k8s_openapi::api::core::v1::{ExecAction, Lifecycle, LifecycleHandler};

use crate::kube::warning::Warnings;
use crate::model::types::service::{ServiceConfig, ServiceHook};

/// The container's lifecycle; `None` without hooks.
pub fn hooks(svc: &ServiceConfig, name: &str, w: &mut Warnings) -> Option<Lifecycle> {
    if let Some(sig) = svc.stop_signal.as_deref().filter(|s| !is_sigterm(s)) {
        w.service(
            name,
            "stop_signal",
            format!("Kubernetes 1.30 always stops containers with SIGTERM, not {sig}: have the process handle SIGTERM (or add a preStop hook sending {sig})"),
        );
    }
    let post_start = handler(&svc.post_start, "post_start", name, w);
    let pre_stop = handler(&svc.pre_stop, "pre_stop", name, w);
    if post_start.is_none() && pre_stop.is_none() {
        return None;
    }
    Some(Lifecycle {
        post_start,
        pre_stop,
        ..Lifecycle::default()
    })
}

fn is_sigterm(sig: &str) -> bool {
    let s = sig.to_ascii_uppercase();
    matches!(s.as_str(), "SIGTERM" | "TERM" | "15")
}

/// The first hook of the list as an exec handler (Kubernetes has one per event); what it cannot
/// carry (its user, privileges, environment, working directory, later hooks) is warned about.
fn handler(
    hooks: &[ServiceHook],
    key: &str,
    name: &str,
    w: &mut Warnings,
) -> Option<LifecycleHandler> {
    for i in 1..hooks.len() {
        w.service(
            name,
            format!("{key}[{i}]"),
            "Kubernetes runs one hook per event: only the first is kept; chain the commands in one",
        );
    }
    let hook = hooks.first()?;
    let at = |field: &str| format!("{key}[0].{field}");
    if hook.user.as_deref().is_some_and(|u| !u.is_empty()) {
        w.service(
            name,
            at("user"),
            "a hook runs as the container's user in Kubernetes: left out",
        );
    }
    if hook.privileged {
        w.service(
            name,
            at("privileged"),
            "a hook has the container's privileges in Kubernetes: left out",
        );
    }
    if !hook.environment.is_empty() {
        w.service(name, at("environment"), "a hook has the container's environment in Kubernetes: left out; set the variables in the command");
    }
    if hook.working_dir.as_deref().is_some_and(|d| !d.is_empty()) {
        w.service(name, at("working_dir"), "a hook runs in the container's working directory in Kubernetes: left out; `cd` in the command");
    }
    let Some(command) = hook
        .command
        .as_ref()
        .map(|c| c.0.clone())
        .filter(|c| !c.is_empty())
    else {
        w.service(
            name,
            at("command"),
            "a hook without a command does nothing: left out",
        );
        return None;
    };
    Some(LifecycleHandler {
        exec: Some(ExecAction {
            command: Some(command),
        }),
        ..LifecycleHandler::default()
    })
}
