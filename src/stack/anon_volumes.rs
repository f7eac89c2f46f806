//! Anonymous volumes (`volumes: [/data]`, the image's `VOLUME`s) across a container's life, as
//! Docker handles them: the container that replaces another on `up` takes its anonymous volumes
//! at the same destinations (so a recreated database keeps its data), `up -V` gives fresh ones,
//! `down -v` and `rm -v` remove them with their container, a plain `down` keeps them.
//!
//! Their directories are `<root>/volumes/<id>-<n>`, named after the container that made them; a
//! handed-over one keeps its name, so the record lists them ([`ContainerRecord::anonymous_volumes`]).

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::StackError;
use crate::engine::spec::MountKind;
use crate::engine::state::ContainerRecord;
use crate::planner::container::is_own_anonymous_volume;

/// The anonymous volumes of `rec` by destination. A record from before they were recorded has
/// only its own (`<id>-<n>`) ones, found in its mounts.
pub fn of(rec: &ContainerRecord) -> IndexMap<String, PathBuf> {
    if !rec.anonymous_volumes.is_empty() {
        return rec.anonymous_volumes.clone();
    }
    rec.spec
        .mounts
        .iter()
        .filter_map(|m| match &m.kind {
            MountKind::Volume { volume, .. } if is_own_anonymous_volume(volume, &rec.id) => {
                let dest = m.destination.trim_end_matches('/');
                let dest = if dest.is_empty() { "/" } else { dest };
                Some((dest.to_string(), volume.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Removes the anonymous volumes of the removed container `rec` (with `down -v`, `rm -v`), and
/// any other `<id>-<n>` directory of it (one made before a creation failed).
pub fn remove_of(root: &Path, rec: &ContainerRecord) -> Result<(), StackError> {
    let dir = root.join("volumes");
    let mut doomed: Vec<PathBuf> = of(rec).into_values().collect();
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if is_own_anonymous_volume(&e.path(), &rec.id) {
            doomed.push(e.path());
        }
    }
    remove(&dir, doomed.iter().map(PathBuf::as_path))
}

/// Removes the volume directories `volumes`; only plain entries of `volumes_dir` are touched
/// (the record is ours, but a path from it is never trusted to point elsewhere).
pub fn remove<'a>(
    volumes_dir: &Path,
    volumes: impl IntoIterator<Item = &'a Path>,
) -> Result<(), StackError> {
    let mut errors = Vec::new();
    for v in volumes {
        let Some(name) = v.file_name() else { continue };
        if v.parent() != Some(volumes_dir) || name == "." || name == ".." {
            continue;
        }
        // remove_dir_all does not follow the symbolic links a container planted inside.
        match std::fs::remove_dir_all(v) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => errors.push(format!("{}: {e}", v.display())),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StackError::Failed {
            context: "anonymous volumes".into(),
            message: format!("cannot remove {}", errors.join("; ")),
        })
    }
}
