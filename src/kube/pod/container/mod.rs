//! A service's main container (without its volume mounts, which the pod adds) and the pod-level
//! security settings that come from container keys.
//!
//! One file per group of Compose keys: [`process`] (image, command, environment, ports, working
//! directory, terminal), [`resources`] (CPU, memory, pids, GPUs), [`security`] (user,
//! capabilities, `security_opt`, `group_add`, `sysctls`), [`probes`] (`healthcheck`),
//! [`lifecycle`] (hooks, `stop_signal`) and [`unsupported`] (keys Kubernetes has no place for,
//! each warned about by name).

mod lifecycle;
mod probes;
mod process;
mod resources;
mod security;
mod unsupported;

use k8s_openapi::api::core::v1::{Container, PodSecurityContext};

use crate::kube::context::Context;
use crate::kube::error::Result;
use crate::kube::names;
use crate::kube::warning::Warnings;

/// The main container of service `name`, without `volumeMounts`.
pub fn main(ctx: &Context<'_>, name: &str, w: &mut Warnings) -> Result<Container> {
    let svc = ctx.service(name);
    let (image, image_pull_policy) = process::image(ctx, name, w)?;
    let (command, args) = process::command(svc, name, w);
    let (env, env_from) = process::environment(ctx, name, w);
    let probes = probes::from_healthcheck(svc, name, w);
    unsupported::warn(svc, name, w);
    Ok(Container {
        name: names::workload(name),
        image: Some(image),
        image_pull_policy: Some(image_pull_policy.as_str().to_string()),
        command,
        args,
        env,
        env_from,
        ports: process::ports(ctx, name, w),
        working_dir: svc.working_dir.clone().filter(|d| !d.is_empty()),
        tty: svc.tty.then_some(true),
        stdin: svc.stdin_open.then_some(true),
        resources: resources::requirements(ctx, name, w),
        security_context: security::container(svc, name, w),
        readiness_probe: probes.readiness,
        liveness_probe: probes.liveness,
        startup_probe: probes.startup,
        lifecycle: lifecycle::hooks(svc, name, w),
        ..Container::default()
    })
}

/// The pod security context from `group_add` and `sysctls`; `None` when neither is set.
pub fn pod_security(
    ctx: &Context<'_>,
    name: &str,
    w: &mut Warnings,
) -> Result<Option<PodSecurityContext>> {
    Ok(security::pod(ctx.service(name), name, w))
}

#[cfg(test)]
mod tests;
