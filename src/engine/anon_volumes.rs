//! Anonymous volumes (`volumes: [/data]`, the image's `VOLUME`s) across a container's life, as
//! Docker handles them: the container that replaces another on `up` takes its anonymous volumes
//! at the same destinations (so a recreated database keeps its data), `up -V` gives fresh ones,
//! `down -v` and `rm -v` remove them with their container, a plain `down` keeps them.
//!
//! Their directories are `<root>/volumes/<id>-<n>`, named after the container that made them; a
//! handed-over one keeps its name, so the record lists them ([`ContainerRecord::anonymous_volumes`]).

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::engine::spec::MountKind;
use crate::engine::state::ContainerRecord;

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
pub fn remove_of(root: &Path, rec: &ContainerRecord) -> Result<(), RemoveError> {
    let dir = crate::engine::root::StateRoot::new(root).volumes();
    let mut doomed: Vec<PathBuf> = of(rec).into_values().collect();
    doomed.extend(named_after(&dir, &rec.id));
    remove(&dir, doomed.iter().map(PathBuf::as_path))
}

/// Removes the `<id>-<n>` volume directories of container `id` whose record is gone: a
/// creation or a removal cut short (a killed command) leaves them with only its id to name
/// them, and `down -v` takes them away with the container's directory.
pub fn remove_named_after(root: &Path, id: &str) -> Result<(), RemoveError> {
    let dir = crate::engine::root::StateRoot::new(root).volumes();
    remove(&dir, named_after(&dir, id).iter().map(PathBuf::as_path))
}

/// The `<id>-<n>` directories of `volumes_dir`.
fn named_after(volumes_dir: &Path, id: &str) -> Vec<PathBuf> {
    std::fs::read_dir(volumes_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_own_anonymous_volume(p, id))
        .collect()
}

/// Removes the volume directories `volumes`; only plain entries of `volumes_dir` are touched
/// (the record is ours, but a path from it is never trusted to point elsewhere).
pub fn remove<'a>(
    volumes_dir: &Path,
    volumes: impl IntoIterator<Item = &'a Path>,
) -> Result<(), RemoveError> {
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
        Err(RemoveError(errors.join("; ")))
    }
}

/// Volume directories that could not be removed, each with its path and why.
#[derive(Debug, thiserror::Error)]
#[error("cannot remove anonymous volumes: {0}")]
pub struct RemoveError(String);

/// Whether `volume` is an anonymous volume directory of container `id` (`<id>-<n>`).
pub fn is_own_anonymous_volume(volume: &Path, id: &str) -> bool {
    volume
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix(id))
        .and_then(|n| n.strip_prefix('-'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_volumes_named_after_a_gone_container_go_and_no_other() {
        let root = tempfile::tempdir().expect("temp dir");
        let volumes = crate::engine::root::StateRoot::new(root.path()).volumes();
        let id = "c".repeat(64);
        let other = "d".repeat(64);
        for name in [
            format!("{id}-1"),
            format!("{id}-2"),
            format!("{id}-x"),
            format!("{other}-1"),
            "data".to_string(),
        ] {
            std::fs::create_dir_all(volumes.join(name).join("_data")).expect("volume");
        }
        remove_named_after(root.path(), &id).expect("removed");
        let mut left: Vec<String> = std::fs::read_dir(&volumes)
            .expect("volumes")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [format!("{id}-x"), "data".into(), format!("{other}-1")]
        );
    }
}
