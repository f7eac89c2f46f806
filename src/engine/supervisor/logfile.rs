//! `container.log`: the container's output as Docker's json-file lines, rotated as
//! `logging.options` (`max-size`, `max-file`) ask.

use std::io::Write;
use std::path::PathBuf;

use crate::engine::timestamp::now_rfc3339_nanos;

/// A line longer than this is logged in pieces (Docker splits at 16 KiB too), so a container
/// that never writes a newline cannot grow the monitor without bound.
pub(super) const MAX_LINE: usize = 16 * 1024;

/// `container.log` in Docker's json-file format, rotated at `max_size` keeping `max_file` files
/// (`container.log`, `container.log.1`, ...). Rotation happens between lines, before a line
/// that would take the file past `max_size`, so every file holds whole lines.
pub(super) struct LogWriter {
    path: PathBuf,
    file: Option<std::fs::File>,
    size: u64,
    max_size: Option<u64>,
    max_file: u32,
    entry: Vec<u8>,
}

impl LogWriter {
    /// A writer that keeps nothing.
    pub(super) fn discard() -> LogWriter {
        LogWriter {
            path: PathBuf::new(),
            file: None,
            size: 0,
            max_size: None,
            max_file: 1,
            entry: Vec::new(),
        }
    }

    pub(super) fn open(path: PathBuf, max_size: Option<u64>, max_file: u32) -> LogWriter {
        let file = crate::engine::root::append_private(&path).ok();
        let size = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        LogWriter {
            path,
            file,
            size,
            max_size,
            max_file,
            entry: Vec::new(),
        }
    }

    pub(super) fn write(&mut self, line: &[u8], stream: usize) {
        self.entry.clear();
        encode_entry(&mut self.entry, line, stream);
        if let Some(max) = self.max_size {
            if self.size > 0 && self.size + self.entry.len() as u64 > max {
                self.rotate();
            }
        }
        if let Some(f) = self.file.as_mut() {
            if f.write_all(&self.entry).is_ok() {
                self.size += self.entry.len() as u64;
            }
        }
        // A long line's buffer is not kept for the container's lifetime.
        if self.entry.capacity() > 2 * MAX_LINE {
            self.entry = Vec::new();
        }
    }

    fn rotate(&mut self) {
        if self.max_file <= 1 {
            if let Some(f) = self.file.as_ref() {
                let _ = f.set_len(0);
            }
            self.size = 0;
            return;
        }
        let numbered = |k: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{k}"));
            PathBuf::from(p)
        };
        for k in (1..self.max_file - 1).rev() {
            let _ = std::fs::rename(numbered(k), numbered(k + 1));
        }
        let _ = std::fs::rename(&self.path, numbered(1));
        self.file = crate::engine::root::append_private(&self.path).ok();
        self.size = 0;
    }
}

/// One json-file line: `{"log":...,"stream":...,"time":...}` and a newline.
fn encode_entry(out: &mut Vec<u8>, line: &[u8], stream: usize) {
    out.extend_from_slice(b"{\"log\":");
    let text = String::from_utf8_lossy(line);
    let _ = serde_json::to_writer(&mut *out, &*text);
    out.extend_from_slice(if stream == 0 {
        b",\"stream\":\"stdout\",\"time\":\""
    } else {
        b",\"stream\":\"stderr\",\"time\":\""
    });
    out.extend_from_slice(now_rfc3339_nanos().as_bytes());
    out.extend_from_slice(b"\"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn log_entries_are_dockers_json_file_lines() {
        let mut out = Vec::new();
        encode_entry(&mut out, b"a \"q\"\n", 1);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(v["log"], "a \"q\"\n");
        assert_eq!(v["stream"], "stderr");
        assert!(v["time"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(out.last(), Some(&b'\n'));
    }

    fn lines_of(p: &Path) -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("whole json line");
                v["log"].as_str().unwrap_or_default().trim_end().to_string()
            })
            .collect()
    }

    #[test]
    fn logs_rotate_between_lines_keeping_max_file_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("container.log");
        let mut w = LogWriter::open(path.clone(), Some(400), 3);
        for i in 0..40 {
            w.write(format!("line {i:02}\n").as_bytes(), 0);
        }
        drop(w);
        let names: Vec<_> = {
            let mut n: Vec<_> = std::fs::read_dir(dir.path())
                .expect("dir")
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            n.sort();
            n
        };
        assert_eq!(
            names,
            ["container.log", "container.log.1", "container.log.2"]
        );
        let mut all = Vec::new();
        for n in names.iter().rev() {
            let p = dir.path().join(n);
            assert!(std::fs::metadata(&p).expect("size").len() <= 400, "{n}");
            all.extend(lines_of(&p));
        }
        // The newest lines, in order, none cut.
        let last = all.last().cloned();
        assert_eq!(last.as_deref(), Some("line 39"));
        for pair in all.windows(2) {
            let a: u32 = pair[0][5..].parse().expect("n");
            let b: u32 = pair[1][5..].parse().expect("n");
            assert_eq!(a + 1, b);
        }

        // max-file 1: the log is truncated in place.
        let path = dir.path().join("one.log");
        let mut w = LogWriter::open(path.clone(), Some(200), 1);
        for i in 0..20 {
            w.write(format!("l{i}\n").as_bytes(), 0);
        }
        assert!(std::fs::metadata(&path).expect("size").len() <= 200);
        assert!(!dir.path().join("one.log.1").exists());
        assert_eq!(lines_of(&path).last().map(String::as_str), Some("l19"));
    }
}
