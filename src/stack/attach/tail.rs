//! Reading one container's json-file log from where the last read stopped: the rotated files
//! (`container.log.N`) of a backlog first, then `container.log`, followed across rotation and
//! truncation, whole lines only, in bounded chunks.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::target::Target;
use super::AttachError;
use crate::engine::root::StateRoot;
use crate::engine::state;
use crate::stack::LogLine;

/// Reads one container's log from where it last stopped, across rotations.
#[derive(Debug)]
pub(super) struct Tail {
    pub(super) target: Target,
    dir: PathBuf,
    file: Option<File>,
    ino: u64,
    offset: u64,
    partial: Vec<u8>,
    /// Rotated files still to read before `container.log`, oldest first (a backlog).
    rotated: VecDeque<PathBuf>,
    rotated_file: Option<File>,
    /// Lines still to drop before any is returned (`--tail`).
    skip: usize,
    /// Where reading `container.log` stops (`logs` without `-f`: what it held at the start).
    end: Option<u64>,
}

impl Tail {
    pub(super) fn new(root: &Path, target: Target) -> Tail {
        Tail {
            dir: StateRoot::new(root).container(&target.id),
            target,
            file: None,
            ino: 0,
            offset: 0,
            partial: Vec::new(),
            rotated: VecDeque::new(),
            rotated_file: None,
            skip: 0,
            end: None,
        }
    }

    fn read_err(&self, path: &Path) -> impl Fn(io::Error) -> AttachError {
        let container = self.target.name.clone();
        let path = path.to_path_buf();
        move |source| AttachError::Read {
            container: container.clone(),
            path: path.clone(),
            source,
        }
    }

    /// Rotated files, oldest first (`container.log.3`, `.2`, `.1`).
    fn rotated(&self) -> Vec<PathBuf> {
        let base = state::log_path(&self.dir);
        let mut out = Vec::new();
        for n in 1.. {
            let mut p = base.clone().into_os_string();
            p.push(format!(".{n}"));
            let p = PathBuf::from(p);
            if !p.exists() {
                break;
            }
            out.push(p);
        }
        out.reverse();
        out
    }

    /// Reads from the beginning, rotated files first: everything, or with `tail` the last
    /// lines only; with `snapshot`, only what `container.log` holds now. Lines are counted in
    /// bounded chunks, never held.
    pub(super) fn rewind(
        &mut self,
        tail: Option<usize>,
        snapshot: bool,
    ) -> Result<(), AttachError> {
        self.rotated = self.rotated().into();
        self.rotated_file = None;
        self.file = None;
        self.offset = 0;
        self.partial.clear();
        let path = state::log_path(&self.dir);
        let current = match File::open(&path) {
            Ok(f) => {
                let m = f.metadata().map_err(self.read_err(&path))?;
                self.ino = m.ino();
                self.end = snapshot.then_some(m.len());
                self.file = Some(f);
                Some(m.len())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.end = snapshot.then_some(0);
                None
            }
            Err(e) => return Err(self.read_err(&path)(e)),
        };
        self.skip = 0;
        if let Some(n) = tail {
            let mut lines = 0usize;
            let mut buf = vec![0u8; 64 * 1024];
            let mut count = |p: &Path, limit: Option<u64>| -> Result<(), AttachError> {
                let f = match File::open(p) {
                    Ok(f) => f,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(self.read_err(p)(e)),
                };
                let mut r = f.take(limit.unwrap_or(u64::MAX));
                loop {
                    let got = r.read(&mut buf).map_err(self.read_err(p))?;
                    if got == 0 {
                        return Ok(());
                    }
                    lines += buf[..got].iter().filter(|b| **b == b'\n').count();
                }
            };
            for p in self.rotated.clone() {
                count(&p, None)?;
            }
            if let Some(len) = current {
                count(&path, Some(len))?;
            }
            self.skip = lines.saturating_sub(n);
        }
        Ok(())
    }

    /// Reads only what is written from now on (`attach`: output from the moment it attaches,
    /// as `docker attach` shows it): no backlog, `container.log` from its current end.
    pub(super) fn skip_to_end(&mut self) -> Result<(), AttachError> {
        self.rotated.clear();
        self.rotated_file = None;
        self.partial.clear();
        self.skip = 0;
        self.end = None;
        let path = state::log_path(&self.dir);
        match File::open(&path) {
            Ok(mut f) => {
                let m = f.metadata().map_err(self.read_err(&path))?;
                self.ino = m.ino();
                self.offset = f.seek(SeekFrom::End(0)).map_err(self.read_err(&path))?;
                self.file = Some(f);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.file = None;
                self.offset = 0;
            }
            Err(e) => return Err(self.read_err(&path)(e)),
        }
        Ok(())
    }

    /// Whole lines appended since the last read, at most about `limit` bytes of them; true
    /// with them when the limit cut the read short (more is there to read at once).
    pub(super) fn read_new(&mut self, limit: usize) -> Result<(Vec<LogLine>, bool), AttachError> {
        let mut buf = Vec::new();
        let mut more = false;
        if let Some(p) = self.rotated.front().cloned() {
            // The backlog's rotated files first: they hold whole lines and no longer grow.
            if self.rotated_file.is_none() {
                match File::open(&p) {
                    Ok(f) => self.rotated_file = Some(f),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(self.read_err(&p)(e)),
                }
            }
            if let Some(f) = self.rotated_file.as_mut() {
                let n = f
                    .take(limit as u64)
                    .read_to_end(&mut buf)
                    .map_err(self.read_err(&p))?;
                if n >= limit {
                    return Ok((self.lines(buf), true));
                }
            }
            self.rotated.pop_front();
            self.rotated_file = None;
            return Ok((self.lines(buf), true));
        }
        let path = state::log_path(&self.dir);
        // At most twice: the rest of a file rotated away, then the new one.
        for _ in 0..2 {
            if self.file.is_none() {
                if self.end.is_some() {
                    // A snapshot ends with the file it was taken of.
                    break;
                }
                match File::open(&path) {
                    Ok(f) => {
                        self.ino = f.metadata().map_err(self.read_err(&path))?.ino();
                        self.file = Some(f);
                        self.offset = 0;
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(e) => return Err(self.read_err(&path)(e)),
                }
            }
            let mut room = limit.saturating_sub(buf.len()) as u64;
            if let Some(end) = self.end {
                room = room.min(end.saturating_sub(self.offset));
            }
            let Some(f) = self.file.as_mut() else { break };
            let n = f
                .take(room)
                .read_to_end(&mut buf)
                .map_err(self.read_err(&path))?;
            self.offset += n as u64;
            if buf.len() >= limit {
                more = true;
                break;
            }
            if self.end.is_some() {
                break;
            }
            match std::fs::metadata(&path) {
                Ok(m) if m.ino() != self.ino => {
                    // Rotated: what the old file held is read; go on with the new one.
                    self.file = None;
                }
                Ok(m) if m.len() < self.offset => {
                    // Truncated in place: start over.
                    if let Some(f) = self.file.as_mut() {
                        f.seek(SeekFrom::Start(0)).map_err(self.read_err(&path))?;
                    }
                    self.offset = 0;
                    self.partial.clear();
                    buf.clear();
                }
                _ => break,
            }
        }
        Ok((self.lines(buf), more))
    }

    /// The whole lines of what was read (after the partial line kept from the last read),
    /// less those `--tail` drops; a trailing partial line is kept for the next read.
    fn lines(&mut self, buf: Vec<u8>) -> Vec<LogLine> {
        let mut data = std::mem::take(&mut self.partial);
        data.extend_from_slice(&buf);
        let end = data.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        self.partial = data.split_off(end);
        let mut lines = Vec::new();
        parse_lines(&data, &mut lines);
        let drop = self.skip.min(lines.len());
        self.skip -= drop;
        lines.drain(..drop);
        lines
    }
}

fn parse_lines(bytes: &[u8], out: &mut Vec<LogLine>) {
    for raw in bytes.split(|b| *b == b'\n') {
        if raw.is_empty() {
            continue;
        }
        if let Ok(l) = serde_json::from_slice::<LogLine>(raw) {
            out.push(l);
        }
    }
}
