//! A service's pod template: its container, the init containers that wait for its
//! dependencies, its volumes, and the pod-level settings.
//!
//! SKELETON: the pod helper fills this module (see /work/wt/briefs/kube-pod.md).

pub mod container;

use k8s_openapi::api::core::v1::PodTemplateSpec;

use super::context::Context;
use super::error::Result;
use super::warning::Warnings;

/// The pod template of service `name`, with the standard labels and the selector's labels.
pub fn template(ctx: &Context<'_>, name: &str, warnings: &mut Warnings) -> Result<PodTemplateSpec> {
    let _ = (ctx, name, warnings);
    unimplemented!("kube pod template")
}
