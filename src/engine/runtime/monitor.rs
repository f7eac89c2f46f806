//! The json-file log format shared by everything that writes a container's output (its monitor,
//! see [`crate::engine::supervisor`]): one `{"log":…,"stream":…,"time":…}` object a line, as
//! Docker's json-file driver writes, which existing tools read.

use std::io::Write;

use crate::engine::fsutil;

/// RFC 3339 with nanoseconds, as Docker's json-file logs write their `time`.
pub fn now_rfc3339_nanos() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let base = fsutil::format_rfc3339(now.as_secs() as i64);
    format!("{}.{:09}Z", base.trim_end_matches('Z'), now.subsec_nanos())
}

/// Appends one log line; `stream` 0 is stdout, 1 stderr.
pub fn write_log_line(log: &mut std::fs::File, line: &[u8], stream: usize) {
    let entry = serde_json::json!({
        "log": String::from_utf8_lossy(line),
        "stream": if stream == 0 { "stdout" } else { "stderr" },
        "time": now_rfc3339_nanos(),
    });
    let _ = writeln!(log, "{entry}");
}
