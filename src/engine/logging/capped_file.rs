//! A log file that cannot grow without bound: when the next write would take it past its cap,
//! it becomes `NAME.1` (replacing the previous one) and a new file starts, so at most twice
//! the cap is ever kept. For `monitor.log`, written by a process that lives as long as its
//! container.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

/// The most a monitor's `monitor.log` holds before it is rotated (1 MiB; one rotated file).
pub const MONITOR_LOG_CAP: u64 = 1 << 20;

/// Only its owner may read the log: events name paths, addresses and commands.
const LOG_MODE: u32 = 0o600;

/// A file opened on the first write (nothing filtered in, no file) and rotated at `cap`.
#[derive(Debug)]
pub struct CappedFile {
    path: PathBuf,
    cap: u64,
    open: Option<(File, u64)>,
}

impl CappedFile {
    pub fn new(path: PathBuf, cap: u64) -> CappedFile {
        CappedFile {
            path,
            cap,
            open: None,
        }
    }

    /// The file to write `len` more bytes to, rotated first when they would not fit.
    fn file_for(&mut self, len: u64) -> std::io::Result<&mut (File, u64)> {
        self.open()?;
        let full = matches!(&self.open, Some((_, written)) if *written > 0 && written.saturating_add(len) > self.cap);
        if full {
            self.open = None;
            let mut rotated = self.path.clone().into_os_string();
            rotated.push(".1");
            std::fs::rename(&self.path, rotated)?;
            self.open()?;
        }
        self.open
            .as_mut()
            .ok_or_else(|| std::io::Error::other("log file not open"))
    }

    /// Opens the file (appending) unless it is open, counting what it already holds.
    fn open(&mut self) -> std::io::Result<()> {
        if self.open.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(LOG_MODE)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
                .open(&self.path)?;
            let written = file.metadata()?.len();
            self.open = Some((file, written));
        }
        Ok(())
    }
}

impl Write for CappedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let (file, written) = self.file_for(buf.len() as u64)?;
        let n = file.write(buf)?;
        *written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.open {
            Some((file, _)) => file.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn size(p: &std::path::Path) -> u64 {
        std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
    }

    #[test]
    fn nothing_written_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("monitor.log");
        let mut f = CappedFile::new(path.clone(), 100);
        f.flush().unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn created_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("monitor.log");
        let mut f = CappedFile::new(path.clone(), 100);
        f.write_all(b"line\n").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn never_keeps_more_than_twice_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("monitor.log");
        let rotated = dir.path().join("monitor.log.1");
        let mut f = CappedFile::new(path.clone(), 100);
        for i in 0..1000 {
            f.write_all(format!("event number {i}\n").as_bytes())
                .unwrap();
            assert!(size(&path) <= 100, "{} bytes", size(&path));
            assert!(size(&rotated) <= 100);
        }
        let last = std::fs::read_to_string(&path).unwrap();
        assert!(last.ends_with("event number 999\n"), "{last}");
        let entries = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(entries, 2);
    }

    #[test]
    fn a_reopened_log_counts_what_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("monitor.log");
        std::fs::write(&path, [b'x'; 90]).unwrap();
        let mut f = CappedFile::new(path.clone(), 100);
        f.write_all(&[b'y'; 20]).unwrap();
        assert_eq!(size(&path), 20);
        assert_eq!(size(&dir.path().join("monitor.log.1")), 90);
    }
}
