//! The workload around a service's pod template: Deployment, StatefulSet, Job or DaemonSet.
//!
//! SKELETON: the objects helper fills this module (see /work/wt/briefs/kube-objects.md).

use k8s_openapi::api::core::v1::PodTemplateSpec;

use super::context::Context;
use super::error::Result;
use super::object::Object;
use super::warning::Warnings;

/// The workload of service `name` running `pod`.
pub fn wrap(
    ctx: &Context<'_>,
    name: &str,
    pod: PodTemplateSpec,
    warnings: &mut Warnings,
) -> Result<Object> {
    let _ = (ctx, name, pod, warnings);
    unimplemented!("kube workload")
}
