//! `container.log`: the container's output as Docker's json-file lines, rotated as
//! `logging.options` (`max-size`, `max-file`) ask.
//!
//! A log that cannot be written (a full disk, a file that cannot be opened) never stops the
//! container or its monitor: the lines are dropped, the loss is told once when it starts and
//! once when logging resumes (with how many lines were lost), and every line that is written
//! is whole (a partly written one is cut off again), so `compose logs` reads on.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::engine::timestamp::now_rfc3339_nanos;

/// A line longer than this is logged in pieces (Docker splits at 16 KiB too), so a container
/// that never writes a newline cannot grow the monitor without bound.
pub(super) const MAX_LINE: usize = 16 * 1024;

/// The file operations the log needs: a seam so that a full disk can be faked in unit tests.
pub(super) trait LogFile: Sized {
    /// Opens `path` for appending, creating it private to root.
    fn open(path: &Path) -> io::Result<Self>;
    fn len(&self) -> io::Result<u64>;
    /// Appends `bytes` whole, or fails (possibly after writing part of them).
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    fn rename(from: &Path, to: &Path) -> io::Result<()>;
}

impl LogFile for std::fs::File {
    fn open(path: &Path) -> io::Result<Self> {
        crate::engine::root::append_private(path)
    }

    fn len(&self) -> io::Result<u64> {
        self.metadata().map(|m| m.len())
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }

    fn rename(from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
}

/// Where the log's troubles are told (the monitor has no terminal: `compose events`).
pub(super) type Report = Box<dyn FnMut(&str)>;

/// Lines dropped since the log could last be written.
struct Loss {
    lines: u64,
    /// The first failure, as told.
    error: String,
}

/// `container.log` in Docker's json-file format, rotated at `max_size` keeping `max_file` files
/// (`container.log`, `container.log.1`, ...). Rotation happens between lines, before a line
/// that would take the file past `max_size`, so every file holds whole lines.
pub(super) struct LogWriter<F: LogFile = std::fs::File> {
    /// `None`: a writer that keeps nothing.
    path: Option<PathBuf>,
    /// `None` until opened, and again after a failure that may have left it torn.
    file: Option<F>,
    size: u64,
    max_size: Option<u64>,
    max_file: u32,
    entry: Vec<u8>,
    loss: Option<Loss>,
    /// The last rotation failure told, so that a rotation failing on every line is told once.
    rotate_error: Option<String>,
    report: Report,
}

impl LogWriter {
    /// A writer that keeps nothing.
    pub(super) fn discard() -> LogWriter {
        LogWriter {
            path: None,
            file: None,
            size: 0,
            max_size: None,
            max_file: 1,
            entry: Vec::new(),
            loss: None,
            rotate_error: None,
            report: Box::new(|_| {}),
        }
    }
}

impl<F: LogFile> LogWriter<F> {
    /// A writer to `path`, opened now (or at the first line, if it cannot be now); its
    /// troubles go to `report`.
    pub(super) fn open(
        path: PathBuf,
        max_size: Option<u64>,
        max_file: u32,
        report: Report,
    ) -> LogWriter<F> {
        let mut w = LogWriter {
            path: Some(path),
            file: None,
            size: 0,
            max_size,
            max_file,
            entry: Vec::new(),
            loss: None,
            rotate_error: None,
            report,
        };
        if let Err(e) = w.opened() {
            w.lose(&e);
            // No line is lost yet.
            if let Some(loss) = w.loss.as_mut() {
                loss.lines = 0;
            }
        }
        w
    }

    pub(super) fn write(&mut self, line: &[u8], stream: usize) {
        if self.path.is_none() {
            return;
        }
        self.entry.clear();
        encode_entry(&mut self.entry, line, stream);
        if let Some(max) = self.max_size {
            if self.size > 0 && self.size + self.entry.len() as u64 > max {
                self.rotate();
            }
        }
        match self.append_entry() {
            Ok(()) => {
                self.size += self.entry.len() as u64;
                if let Some(loss) = self.loss.take() {
                    let msg = format!(
                        "{}: logging resumed; {} lines lost ({})",
                        self.shown_path(),
                        loss.lines,
                        loss.error
                    );
                    (self.report)(&msg);
                }
            }
            Err(e) => self.lose(&e),
        }
        // A long line's buffer is not kept for the container's lifetime.
        if self.entry.capacity() > 2 * MAX_LINE {
            self.entry = Vec::new();
        }
    }

    fn shown_path(&self) -> String {
        self.path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// Counts a dropped line; the first of a run is told.
    fn lose(&mut self, e: &io::Error) {
        match &mut self.loss {
            Some(loss) => loss.lines += 1,
            None => {
                let error = format!("writing {}: {e}", self.shown_path());
                (self.report)(&format!(
                    "{error}; the container's output is lost until it can be written again"
                ));
                self.loss = Some(Loss { lines: 1, error });
            }
        }
    }

    /// The open file, opened again if a failure closed it.
    fn opened(&mut self) -> io::Result<&mut F> {
        if self.file.is_none() {
            let Some(path) = self.path.as_deref() else {
                return Err(io::ErrorKind::NotFound.into());
            };
            let f = F::open(path)?;
            self.size = f.len()?;
            self.file = Some(f);
        }
        self.file
            .as_mut()
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }

    fn append_entry(&mut self) -> io::Result<()> {
        let size = self.size;
        let entry = std::mem::take(&mut self.entry);
        let result = self.append_or_cut(&entry, size);
        self.entry = entry;
        result
    }

    fn append_or_cut(&mut self, entry: &[u8], size: u64) -> io::Result<()> {
        let f = self.opened()?;
        let Err(e) = f.append(entry) else {
            return Ok(());
        };
        // Part of the entry may be in the file: cut it off, or the next line would be glued
        // to it. If even that fails, the file is opened afresh (and measured) next time.
        if let Err(te) = f.truncate(size) {
            self.file = None;
            return Err(io::Error::new(
                e.kind(),
                format!("{e} (and cutting off the partial line: {te})"),
            ));
        }
        Err(e)
    }

    fn rotate(&mut self) {
        let result = self.rotated();
        match result {
            Ok(()) => self.rotate_error = None,
            Err(e) => {
                let msg = format!("rotating {}: {e}", self.shown_path());
                if self.rotate_error.as_deref() != Some(msg.as_str()) {
                    (self.report)(&msg);
                    self.rotate_error = Some(msg);
                }
            }
        }
    }

    fn rotated(&mut self) -> io::Result<()> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        if self.max_file <= 1 {
            self.opened()?.truncate(0)?;
            self.size = 0;
            return Ok(());
        }
        let numbered = |k: u32| {
            let mut p = path.clone().into_os_string();
            p.push(format!(".{k}"));
            PathBuf::from(p)
        };
        for k in (1..self.max_file - 1).rev() {
            match F::rename(&numbered(k), &numbered(k + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        F::rename(&path, &numbered(1))?;
        // The next line opens the new file.
        self.file = None;
        self.size = 0;
        Ok(())
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
        let mut w: LogWriter = LogWriter::open(path.clone(), Some(400), 3, Box::new(|_| {}));
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
        let mut w: LogWriter = LogWriter::open(path.clone(), Some(200), 1, Box::new(|_| {}));
        for i in 0..20 {
            w.write(format!("l{i}\n").as_bytes(), 0);
        }
        assert!(std::fs::metadata(&path).expect("size").len() <= 200);
        assert!(!dir.path().join("one.log.1").exists());
        assert_eq!(lines_of(&path).last().map(String::as_str), Some("l19"));
    }
    /// A fake file system with a given amount of free space, per test thread.
    #[derive(Default)]
    struct FakeDisk {
        files: std::collections::HashMap<PathBuf, Vec<u8>>,
        /// Bytes that can still be written; `None`: no limit.
        room: Option<usize>,
        /// Opening fails as if the monitor were out of descriptors.
        no_fds: bool,
        /// Renaming fails.
        no_rename: bool,
    }

    thread_local! {
        static DISK: std::cell::RefCell<FakeDisk> = Default::default();
    }

    struct FakeFile(PathBuf);

    impl LogFile for FakeFile {
        fn open(path: &Path) -> io::Result<Self> {
            DISK.with_borrow_mut(|d| {
                if d.no_fds {
                    return Err(io::Error::from_raw_os_error(libc::EMFILE));
                }
                d.files.entry(path.to_path_buf()).or_default();
                Ok(FakeFile(path.to_path_buf()))
            })
        }

        fn len(&self) -> io::Result<u64> {
            DISK.with_borrow(|d| Ok(d.files.get(&self.0).map_or(0, |f| f.len() as u64)))
        }

        fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
            DISK.with_borrow_mut(|d| {
                let n = d.room.map_or(bytes.len(), |r| r.min(bytes.len()));
                if let Some(r) = d.room.as_mut() {
                    *r -= n;
                }
                d.files
                    .entry(self.0.clone())
                    .or_default()
                    .extend_from_slice(&bytes[..n]);
                if n < bytes.len() {
                    return Err(io::Error::from_raw_os_error(libc::ENOSPC));
                }
                Ok(())
            })
        }

        fn truncate(&mut self, len: u64) -> io::Result<()> {
            DISK.with_borrow_mut(|d| {
                let f = d.files.entry(self.0.clone()).or_default();
                let freed = f.len().saturating_sub(len as usize);
                f.truncate(len as usize);
                if let Some(r) = d.room.as_mut() {
                    *r += freed;
                }
                Ok(())
            })
        }

        fn rename(from: &Path, to: &Path) -> io::Result<()> {
            DISK.with_borrow_mut(|d| {
                if d.no_rename {
                    return Err(io::Error::from_raw_os_error(libc::EBUSY));
                }
                let f = d.files.remove(from).ok_or(io::ErrorKind::NotFound)?;
                d.files.insert(to.to_path_buf(), f);
                Ok(())
            })
        }
    }

    fn fake_lines(path: &Path) -> Vec<String> {
        let body = DISK.with_borrow(|d| d.files.get(path).cloned().unwrap_or_default());
        String::from_utf8(body)
            .expect("utf-8")
            .split_inclusive('\n')
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("whole json line");
                v["log"].as_str().unwrap_or_default().trim_end().to_string()
            })
            .collect()
    }

    fn recorder() -> (Report, std::rc::Rc<std::cell::RefCell<Vec<String>>>) {
        let told = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let sink = told.clone();
        (
            Box::new(move |m: &str| sink.borrow_mut().push(m.to_string())),
            told,
        )
    }

    #[test]
    fn a_full_disk_drops_whole_lines_tells_once_and_logging_resumes() {
        let path = PathBuf::from("/fake/container.log");
        let (report, told) = recorder();
        let mut w: LogWriter<FakeFile> = LogWriter::open(path.clone(), None, 1, report);
        for i in 0..3 {
            w.write(format!("kept {i}\n").as_bytes(), 0);
        }
        // Room for part of the next line only.
        DISK.with_borrow_mut(|d| d.room = Some(10));
        for i in 0..5 {
            w.write(format!("lost {i}\n").as_bytes(), 1);
        }
        assert_eq!(fake_lines(&path), ["kept 0", "kept 1", "kept 2"]);
        assert_eq!(
            *told.borrow(),
            [
                "writing /fake/container.log: No space left on device (os error 28); the \
              container's output is lost until it can be written again"
            ]
        );
        DISK.with_borrow_mut(|d| d.room = None);
        w.write(b"back\n", 0);
        w.write(b"again\n", 0);
        assert_eq!(
            fake_lines(&path),
            ["kept 0", "kept 1", "kept 2", "back", "again"]
        );
        assert_eq!(told.borrow().len(), 2, "{:?}", told.borrow());
        assert_eq!(
            told.borrow()[1],
            "/fake/container.log: logging resumed; 5 lines lost (writing /fake/container.log: \
             No space left on device (os error 28))"
        );
    }

    #[test]
    fn a_log_that_cannot_be_opened_is_opened_at_a_later_line() {
        let path = PathBuf::from("/fake/fds.log");
        DISK.with_borrow_mut(|d| d.no_fds = true);
        let (report, told) = recorder();
        let mut w: LogWriter<FakeFile> = LogWriter::open(path.clone(), None, 1, report);
        w.write(b"one\n", 0);
        w.write(b"two\n", 0);
        assert_eq!(told.borrow().len(), 1);
        assert!(
            told.borrow()[0].contains("Too many open files"),
            "{:?}",
            told.borrow()
        );
        DISK.with_borrow_mut(|d| d.no_fds = false);
        w.write(b"three\n", 0);
        assert_eq!(fake_lines(&path), ["three"]);
        assert!(
            told.borrow()[1].contains("logging resumed; 2 lines lost"),
            "{:?}",
            told.borrow()
        );
    }

    #[test]
    fn a_rotation_that_fails_is_told_once_and_lines_go_on_in_the_file() {
        let path = PathBuf::from("/fake/rot.log");
        let (report, told) = recorder();
        let mut w: LogWriter<FakeFile> = LogWriter::open(path.clone(), Some(100), 2, report);
        DISK.with_borrow_mut(|d| d.no_rename = true);
        for i in 0..10 {
            w.write(format!("line {i}\n").as_bytes(), 0);
        }
        assert_eq!(told.borrow().len(), 1, "{:?}", told.borrow());
        assert!(told.borrow()[0].starts_with("rotating /fake/rot.log: "));
        assert_eq!(fake_lines(&path).len(), 10);
    }
}
