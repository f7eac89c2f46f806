//! PersistentVolumeClaims for the project's named volumes that services mount (outside
//! StatefulSets, whose claims are templates).
//!
//! SKELETON: the objects helper fills this module (see /work/wt/briefs/kube-objects.md).

use super::context::Context;
use super::error::Result;
use super::object::Object;
use super::warning::Warnings;

/// The claims of the project.
pub fn claims(ctx: &Context<'_>, warnings: &mut Warnings) -> Result<Vec<Object>> {
    let _ = (ctx, warnings);
    unimplemented!("kube claims")
}
