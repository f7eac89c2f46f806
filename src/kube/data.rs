//! ConfigMaps and Secrets: services' env files, the project's configs and secrets.
//!
//! SKELETON: the objects helper fills this module (see /work/wt/briefs/kube-objects.md).

use super::context::Context;
use super::error::Result;
use super::object::Object;
use super::warning::Warnings;

/// The ConfigMaps and Secrets of the project.
pub fn objects(ctx: &Context<'_>, warnings: &mut Warnings) -> Result<Vec<Object>> {
    let _ = (ctx, warnings);
    unimplemented!("kube data")
}
