//! Container events (`create`, `start`, `die`, `stop`, `kill`, `destroy`, `health_status`, …)
//! without a daemon to broadcast them: whoever causes one (a command, a container's monitor)
//! appends a JSON line to `<root>/events.jsonl`, and `compose events` follows that file. Appends
//! of one short line with `O_APPEND` are atomic, so concurrent writers never interleave.
//! The file is trimmed to its newer half when it grows past [`MAX_SIZE`].

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Size at which the event log is trimmed.
pub const MAX_SIZE: u64 = 4 << 20;

/// One event, as `events --json` prints it (Docker Compose's shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// RFC 3339 with nanoseconds.
    pub time: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub action: String,
    pub id: String,
    pub project: String,
    pub service: String,
    #[serde(default)]
    pub attributes: indexmap::IndexMap<String, String>,
}

pub fn path(root: &Path) -> PathBuf {
    crate::engine::root::StateRoot::new(root).events()
}

/// Appends a container event; failures are ignored (events are informational).
pub fn emit(
    root: &Path,
    rec: &crate::engine::state::ContainerRecord,
    action: &str,
    extra: &[(&str, String)],
) {
    emit_about(root, &Subject::from(rec), action, extra);
}

/// What an event names of its container. A long-lived holder (a monitor's log writer, which
/// reports a full disk) keeps this, not a clone of the whole record: the record's spec (the
/// seccomp profile) is over 100 KiB, and a monitor's memory is the per-container overhead.
#[derive(Debug, Clone)]
pub struct Subject {
    pub id: String,
    pub name: String,
    pub project: String,
    pub service: String,
    pub image: String,
}

impl From<&crate::engine::state::ContainerRecord> for Subject {
    fn from(rec: &crate::engine::state::ContainerRecord) -> Subject {
        Subject {
            id: rec.id.clone(),
            name: rec.name.clone(),
            project: rec.project.clone(),
            service: rec.service.clone(),
            image: rec.image.clone(),
        }
    }
}

/// [`emit`] for a container known by its [`Subject`].
pub fn emit_about(root: &Path, rec: &Subject, action: &str, extra: &[(&str, String)]) {
    let mut attributes = indexmap::IndexMap::new();
    attributes.insert("image".to_string(), rec.image.clone());
    attributes.insert("name".to_string(), rec.name.clone());
    for (k, v) in extra {
        attributes.insert(k.to_string(), v.clone());
    }
    let ev = Event {
        time: crate::engine::timestamp::now_rfc3339_nanos(),
        kind: "container".into(),
        action: action.into(),
        id: rec.id.clone(),
        project: rec.project.clone(),
        service: rec.service.clone(),
        attributes,
    };
    let Ok(mut line) = serde_json::to_vec(&ev) else {
        return;
    };
    line.push(b'\n');
    let p = path(root);
    if let Ok(mut f) = crate::engine::root::append_private(&p) {
        let _ = f.write_all(&line);
        if f.metadata().map(|m| m.len() > MAX_SIZE).unwrap_or(false) {
            trim(&p);
        }
    }
}

/// Keeps the newer half of the log (whole lines).
fn trim(p: &Path) {
    let Ok(data) = std::fs::read(p) else { return };
    let half = data.len() / 2;
    let start = data[half..]
        .iter()
        .position(|b| *b == b'\n')
        .map(|i| half + i + 1)
        .unwrap_or(data.len());
    let _ = crate::engine::fsutil::write_atomic(p, &data[start..]);
}

/// Reads the events after byte `offset`; returns them with the new offset (whole lines only).
pub fn read_from(root: &Path, offset: u64) -> (Vec<Event>, u64) {
    let Ok(data) = std::fs::read(path(root)) else {
        return (Vec::new(), offset);
    };
    // Trimmed since: start over from the beginning.
    let offset = if offset > data.len() as u64 {
        0
    } else {
        offset
    };
    let rest = &data[offset as usize..];
    let end = rest
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let events = rest[..end]
        .split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    (events, offset + end as u64)
}

/// The current end of the log (where a new `events` starts following).
pub fn end(root: &Path) -> u64 {
    std::fs::metadata(path(root)).map(|m| m.len()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_appended_and_read_from_an_offset() {
        let dir = tempfile::tempdir().expect("tmp");
        let rec: crate::engine::state::ContainerRecord =
            serde_json::from_value(serde_json::json!({
                "id": "abc", "name": "p-web-1", "project": "p", "service": "web", "number": 1,
                "one_off": false, "config_hash": "h", "image": "busybox", "image_id": "sha256:x",
                "created": 0, "spec": crate::engine::spec::ContainerSpec::default(),
                "cgroup_parent": "c", "dns": null, "restart": "No",
                "stop_grace_period": 10
            }))
            .expect("record");
        assert_eq!(end(dir.path()), 0);
        emit(dir.path(), &rec, "create", &[]);
        let mid = end(dir.path());
        emit(dir.path(), &rec, "start", &[("exitCode", "0".into())]);
        let (all, off) = read_from(dir.path(), 0);
        assert_eq!(
            all.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            vec!["create", "start"]
        );
        assert_eq!(off, end(dir.path()));
        let (later, _) = read_from(dir.path(), mid);
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].attributes["name"], "p-web-1");
        assert_eq!(later[0].attributes["exitCode"], "0");
    }
}
