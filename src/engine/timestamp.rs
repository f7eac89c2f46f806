//! Timestamps as Docker writes them in logs, events and `state.json`.

use crate::engine::fsutil;

/// RFC 3339 with nanoseconds, as Docker's json-file logs write their `time`.
pub fn now_rfc3339_nanos() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let base = fsutil::format_rfc3339(now.as_secs() as i64);
    format!("{}.{:09}Z", base.trim_end_matches('Z'), now.subsec_nanos())
}
