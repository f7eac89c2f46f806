//! Services: one per Compose service so its DNS name keeps working, extra ones for network
//! aliases; and warnings for the network settings a cluster network cannot express.
//!
//! SKELETON: the objects helper fills this module (see /work/wt/briefs/kube-objects.md).

use super::context::Context;
use super::error::Result;
use super::object::Object;
use super::warning::Warnings;

/// The Services of service `name`.
pub fn objects(ctx: &Context<'_>, name: &str, warnings: &mut Warnings) -> Result<Vec<Object>> {
    let _ = (ctx, name, warnings);
    unimplemented!("kube services")
}

/// Warnings for networks and per-service network keys.
pub fn network_warnings(ctx: &Context<'_>, warnings: &mut Warnings) {
    let _ = (ctx, warnings);
    unimplemented!("kube network warnings")
}
