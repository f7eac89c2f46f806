//! Anonymous volumes for the commands: the engine keeps them ([`crate::engine::anon_volumes`]);
//! here their failures become the commands' errors.

use std::path::Path;

use super::StackError;

pub use crate::engine::anon_volumes::of;

/// See [`crate::engine::anon_volumes::remove`].
pub fn remove<'a>(
    volumes_dir: &Path,
    volumes: impl IntoIterator<Item = &'a Path>,
) -> Result<(), StackError> {
    Ok(crate::engine::anon_volumes::remove(volumes_dir, volumes)?)
}
