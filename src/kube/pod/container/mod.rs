//! A service's main container (without its volume mounts, which the pod adds) and the pod-level
//! security settings that come from container keys.
//!
//! SKELETON: the container helper fills this module (see /work/wt/briefs/kube-arch.md).

use k8s_openapi::api::core::v1::{Container, PodSecurityContext};

use crate::kube::context::Context;
use crate::kube::error::Result;
use crate::kube::warning::Warnings;

/// The main container of service `name`, without `volumeMounts`.
pub fn main(ctx: &Context<'_>, name: &str, w: &mut Warnings) -> Result<Container> {
    let _ = (ctx, name, w);
    unimplemented!("kube main container")
}

/// The pod security context from `group_add` and `sysctls`; `None` when neither is set.
pub fn pod_security(
    ctx: &Context<'_>,
    name: &str,
    w: &mut Warnings,
) -> Result<Option<PodSecurityContext>> {
    let _ = (ctx, name, w);
    unimplemented!("kube pod security")
}
