//! Version 1 -> 2: container records written before volumes had a mount kind of their own
//! describe a volume as a bind of its data directory (`<root>/volumes/<name>/_data`, a
//! `subpath` joined on), which the set-up would bind by host path, following whatever link a
//! container planted in the volume. Such mounts become volume mounts, resolved beneath the
//! volume like new ones; never filled again (those containers filled them on their first
//! start). Done once here rather than on every read of a record.
//!
//! The record is edited as JSON, not read as a container record: only `spec.mounts` is
//! touched, so a field this step does not know survives. A record that is not JSON is left to
//! the state module (which reports it torn).

use std::path::Path;

use serde_json::Value;

use super::super::layout::{StateRoot, CONTAINER_RECORD};
use super::super::RootError;
use crate::engine::json_store::{self, Layout};
use crate::engine::spec::{inside_volume, MountKind, MountSpec};

/// Upgrades every container record under `root`; what could not be read or written is
/// returned as warnings.
pub(super) fn upgrade_records(root: &Path) -> Result<Vec<String>, RootError> {
    let layout = StateRoot::new(root);
    let containers = layout.containers();
    let entries = match std::fs::read_dir(&containers) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Ok(vec![format!("listing {}: {e}", containers.display())]),
    };
    let mut warnings = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path().join(CONTAINER_RECORD);
        let mut record = match json_store::read::<Value>(&path) {
            Ok(Some(r)) => r,
            Ok(None) | Err(json_store::StoreError::Corrupt { .. }) => continue,
            Err(e) => {
                warnings.push(e.to_string());
                continue;
            }
        };
        let Some(mounts) = record.pointer_mut("/spec/mounts") else {
            continue;
        };
        let Ok(mut specs) = serde_json::from_value::<Vec<MountSpec>>(mounts.clone()) else {
            continue;
        };
        if !upgrade(&layout.volumes(), &mut specs) {
            continue;
        }
        match serde_json::to_value(&specs) {
            Ok(v) => *mounts = v,
            Err(e) => {
                warnings.push(format!("{}: {e}", path.display()));
                continue;
            }
        }
        if let Err(e) = json_store::write(&path, &record, Layout::Pretty) {
            warnings.push(e.to_string());
        }
    }
    Ok(warnings)
}

/// Turns binds of volume data in `mounts` into volume mounts; whether any was.
fn upgrade(volumes: &Path, mounts: &mut [MountSpec]) -> bool {
    let mut changed = false;
    for m in mounts {
        let MountKind::Bind { source, .. } = &m.kind else {
            continue;
        };
        // A `..` inside a volume never came from the planner (it refused one in a subpath).
        if let Ok(Some((volume, subpath))) = inside_volume(volumes, source) {
            m.kind = MountKind::Volume {
                volume,
                subpath,
                copy: false,
            };
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(source: &str) -> MountSpec {
        MountSpec {
            kind: MountKind::Bind {
                source: source.into(),
                propagation: None,
                recursive: true,
            },
            destination: "/d".into(),
            read_only: false,
            create_source: true,
        }
    }

    #[test]
    fn a_record_from_before_volume_mounts_binds_no_volume_by_host_path() {
        let root = Path::new("/var/lib/compose");
        let mut mounts = vec![
            bind("/var/lib/compose/volumes/p_data/_data"),
            bind("/var/lib/compose/volumes/p_data/_data/sub/dir"),
            bind("/srv/site"),
        ];
        assert!(upgrade(&StateRoot::new(root).volumes(), &mut mounts));
        let kinds: Vec<&MountKind> = mounts.iter().map(|m| &m.kind).collect();
        assert_eq!(
            kinds[0],
            &MountKind::Volume {
                volume: "/var/lib/compose/volumes/p_data".into(),
                subpath: None,
                copy: false
            }
        );
        assert_eq!(
            kinds[1],
            &MountKind::Volume {
                volume: "/var/lib/compose/volumes/p_data".into(),
                subpath: Some("sub/dir".into()),
                copy: false
            }
        );
        assert_eq!(kinds[2], &bind("/srv/site").kind);
    }

    /// On disk: the record is rewritten with its other fields as they were, a second run
    /// changes nothing, and torn or foreign records are left alone.
    #[test]
    fn records_on_disk_are_upgraded_once_and_keep_their_other_fields() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        let layout = StateRoot::new(root);
        let data = layout.volume("p_data").join("_data");
        let record = serde_json::json!({
            "id": "abc",
            "future_field": {"kept": true},
            "spec": {"mounts": [serde_json::to_value(bind(data.to_str().expect("utf-8"))).expect("json")]},
        });
        for (id, text) in [
            ("abc", serde_json::to_string(&record).expect("json")),
            ("torn", "{\"spec\": {\"mou".to_string()),
            ("nomounts", "{\"id\": \"nomounts\"}".to_string()),
        ] {
            std::fs::create_dir_all(layout.container(id)).expect("mkdir");
            std::fs::write(layout.container(id).join(CONTAINER_RECORD), text).expect("write");
        }
        assert!(upgrade_records(root).expect("upgrade").is_empty());
        let path = layout.container("abc").join(CONTAINER_RECORD);
        let got: Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        assert_eq!(got["future_field"], record["future_field"]);
        let mounts: Vec<MountSpec> =
            serde_json::from_value(got["spec"]["mounts"].clone()).expect("mounts");
        assert_eq!(
            mounts[0].kind,
            MountKind::Volume {
                volume: layout.volume("p_data"),
                subpath: None,
                copy: false
            }
        );
        let before = std::fs::read(&path).expect("read");
        assert!(upgrade_records(root).expect("again").is_empty());
        assert_eq!(std::fs::read(&path).expect("read"), before);
        assert_eq!(
            std::fs::read_to_string(layout.container("torn").join(CONTAINER_RECORD)).expect("torn"),
            "{\"spec\": {\"mou"
        );
    }
}
