//! `export SERVICE`: a service container's filesystem as one tar archive, as `docker export`
//! writes it: the root's entries named from the top (`bin/`, `etc/passwd`), the container's
//! mounts (volumes, binds, `/proc`, `/dev`, the bound `/etc` files) left out as empty mount
//! points. A running container is read through its PID 1's root, a stopped one from its
//! layers mounted detached (as `cp` reads them); either way the tree is a container's, hence
//! hostile, and is walked by descriptors with `O_NOFOLLOW` one component at a time (see
//! [`super::cp_stream`]), so no link it holds leads the walk out of it.

use std::io::{self, Write};
use std::path::Path;

use super::cp::{container_of, cp_err, Side};
use super::cp_stream::{append, mount_id};
use super::StackError;

/// Writes replica `index` of `service`'s filesystem to `out`.
pub fn export(
    root: &Path,
    project: &str,
    service: &str,
    index: u32,
    out: &mut dyn Write,
) -> Result<(), StackError> {
    let o = container_of(root, project, service, index)?;
    // A stopped container's layers are mounted for the walk under the project's lock, so it
    // is not started on the same upper directory meanwhile.
    let _lock;
    let side = if o.state.live_pid().is_some() {
        Side::container(&o)?
    } else {
        _lock = crate::engine::state::lock_project(root, project)?;
        let o = container_of(root, project, service, index)?;
        if o.state.live_pid().is_some() {
            Side::container(&o)?
        } else {
            Side::stopped(root, &o)?
        }
    };
    let Side::Container { name, root: fd, .. } = &side else {
        return Err(super::invalid("export needs a container".to_string()));
    };
    let what = format!("{name}:/");
    let top = mount_id(fd, &what)?;
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    append(&mut tar, fd, "", &what, Some(top))?;
    tar.into_inner()
        .and_then(|w| w.flush())
        .map_err(|e: io::Error| cp_err("writing the archive".into(), e))?;
    Ok(())
}
