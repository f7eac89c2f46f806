//! Containers' output as `logs` and attached `up` show it: reading the json-file logs the
//! monitors write (`container.log`, rotated `container.log.N`), following them while containers
//! run, merging containers in time order, and printing Docker Compose's prefixed, colored lines.
//!
//! Following polls the files: a monitor appends whole lines, so a short interval with one
//! `read` per file costs next to nothing and needs no inotify watch per container (containers
//! come and go while we follow). Exits are read from `state.json`, which the monitor writes
//! only after it has copied the container's last output, so an exit is never reported before
//! the lines that preceded it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustix::process::Signal;

use super::{LogLine, PlainReporter, Reporter};
use crate::engine::container::{Container, ContainerError};
use crate::engine::fsutil;
use crate::engine::root::StateRoot;
use crate::engine::state::{self, Observed, Status};
use crate::engine::supervisor;

/// How often files and states are looked at while following: short enough that lines show up
/// as they come, long enough to cost no measurable CPU.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How often the project's containers are listed again for new ones (recreated, scaled).
const DISCOVER_EVERY: Duration = Duration::from_millis(500);

/// Why reading or following logs, or an attached `up`, failed.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error(transparent)]
    Supervise(#[from] supervisor::SuperviseError),
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error("reading the log of container {container} ({}): {source}", path.display())]
    Read {
        container: String,
        path: PathBuf,
        source: io::Error,
    },
    #[error("invalid value {value:?} for {flag}: {reason}")]
    InvalidArg {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("container {container}: {message}")]
    Stop { container: String, message: String },
    #[error("installing the SIGINT/SIGTERM handler: {0}")]
    Signal(io::Error),
}

// ---------------------------------------------------------------------------------------------
// Times
// ---------------------------------------------------------------------------------------------

/// Nanoseconds since the epoch now.
pub fn now_nanos() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    d.as_secs() as i64 * 1_000_000_000 + i64::from(d.subsec_nanos())
}

/// Nanoseconds since the epoch of an RFC 3339 time with optional fraction
/// (`2024-01-02T03:04:05.123456789Z`, `…+02:00`), as log lines and `--since` carry them.
pub fn parse_log_time(s: &str) -> Option<i64> {
    let secs = fsutil::parse_rfc3339(s)?;
    let mut nanos = 0i64;
    if let Some(frac) = s.get(19..).and_then(|r| r.strip_prefix('.')) {
        let digits: String = frac.chars().take_while(char::is_ascii_digit).collect();
        for (i, c) in digits.chars().take(9).enumerate() {
            nanos += i64::from(c.to_digit(10)?) * 10i64.pow(8 - i as u32);
        }
    }
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// A Go duration (`10m`, `1h30m`, `1.5s`, `300ms`) in nanoseconds, as Docker's `--since`
/// takes relative times.
pub fn parse_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let whole: i128 = if int_len == 0 {
            0
        } else {
            rest[..int_len].parse().ok()?
        };
        rest = &rest[int_len..];
        let mut frac_digits = "";
        if let Some(r) = rest.strip_prefix('.') {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            frac_digits = &r[..n];
            rest = &r[n..];
        }
        if int_len == 0 && frac_digits.is_empty() {
            return None;
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let unit: i128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        let mut value = whole.checked_mul(unit)?;
        let mut scale = unit;
        for c in frac_digits.chars().take(18) {
            scale /= 10;
            value += i128::from(c.to_digit(10)?) * scale;
        }
        total = total.checked_add(value)?;
    }
    let total = i64::try_from(total).ok()?;
    Some(if neg { -total } else { total })
}

/// `--since`/`--until`: an RFC 3339 time, a duration before `now` (`10m`, `1h30m`), or Unix
/// seconds (`1700000000.5`); nanoseconds since the epoch.
pub fn parse_time_arg(flag: &'static str, value: &str, now: i64) -> Result<i64, AttachError> {
    if let Some(d) = parse_duration(value) {
        return Ok(now.saturating_sub(d));
    }
    if let Some(t) = parse_log_time(value) {
        return Ok(t);
    }
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    if !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
    {
        if let Ok(s) = secs.parse::<i64>() {
            let mut nanos = 0i64;
            for (i, c) in frac.bytes().take(9).enumerate() {
                nanos += i64::from(c - b'0') * 10i64.pow(8 - i as u32);
            }
            return Ok(s.saturating_mul(1_000_000_000).saturating_add(nanos));
        }
    }
    Err(AttachError::InvalidArg {
        flag,
        value: value.to_string(),
        reason: "expected an RFC 3339 time (2024-01-02T15:04:05Z), a duration (10m, 1h30m) or Unix seconds".into(),
    })
}

/// `--tail`: `all` (or a negative number) is everything; otherwise that many lines.
pub fn parse_tail(value: &str) -> Result<Option<usize>, AttachError> {
    if value == "all" || (value.starts_with('-') && value[1..].parse::<u64>().is_ok()) {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| AttachError::InvalidArg {
            flag: "--tail",
            value: value.to_string(),
            reason: "expected a number or \"all\"".into(),
        })
}

// ---------------------------------------------------------------------------------------------
// Containers and their files
// ---------------------------------------------------------------------------------------------

/// A container whose log is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: String,
    /// As Docker Compose shows it: `web-1` for `<project>-web-1`, else the full name.
    pub name: String,
    pub service: String,
    pub number: u32,
}

impl Target {
    pub fn of(o: &Observed) -> Target {
        Target {
            id: o.record.id.clone(),
            name: display_name(&o.record.project, &o.record.service, &o.record.name),
            service: o.record.service.clone(),
            number: o.record.number,
        }
    }
}

/// The name Docker Compose prefixes lines with: the container name without `<project>-` when
/// it is the generated `<project>-<service>-N`; a `container_name` stays whole.
pub fn display_name(project: &str, service: &str, name: &str) -> String {
    let generated = format!("{project}-{service}-");
    if name.starts_with(&generated) {
        name[project.len() + 1..].to_string()
    } else {
        name.to_string()
    }
}

/// Which containers of a project are read: not one-off ones (as Docker Compose's `logs`).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only these services; empty: all.
    pub services: Vec<String>,
    /// Only the container with this number (`--index`).
    pub index: Option<u32>,
}

impl Selection {
    fn matches(&self, o: &Observed) -> bool {
        !o.record.one_off
            && (self.services.is_empty() || self.services.contains(&o.record.service))
            && self.index.is_none_or(|i| i == o.record.number)
    }
}

/// One line of a container's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The container's display name.
    pub container: String,
    pub service: String,
    /// Nanoseconds since the epoch (0 when the line's time does not parse).
    pub time: i64,
    pub line: LogLine,
}

impl Entry {
    pub fn is_stderr(&self) -> bool {
        self.line.stream == "stderr"
    }
}

/// At most this much of one container's log is read per poll, so following a fast writer
/// holds a bounded amount in memory; a poll that hit it says so and the caller reads on
/// without sleeping (its blocking writes to standard output are the backpressure).
pub const READ_CHUNK: usize = 256 * 1024;

/// Reads one container's log from where it last stopped, across rotations.
#[derive(Debug)]
struct Tail {
    target: Target,
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
    fn new(root: &Path, target: Target) -> Tail {
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
    fn rewind(&mut self, tail: Option<usize>, snapshot: bool) -> Result<(), AttachError> {
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

    /// Whole lines appended since the last read, at most about `limit` bytes of them; true
    /// with them when the limit cut the read short (more is there to read at once).
    fn read_new(&mut self, limit: usize) -> Result<(Vec<LogLine>, bool), AttachError> {
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

/// Whether a container is stopped for good: exited (or never started, or removed) and no
/// monitor left that would start it again.
pub fn stopped_for_good(root: &Path, id: &str) -> bool {
    let dir = StateRoot::new(root).container(id);
    if !state::record_path(&dir).exists() {
        return true;
    }
    let st = state::read_state(&dir).observed();
    matches!(st.status, Status::Exited | Status::Dead | Status::Created)
        && st.live_monitor().is_none()
}

/// Reads and follows the logs of a project's containers.
#[derive(Debug)]
pub struct LogFollower {
    root: PathBuf,
    project: String,
    selection: Selection,
    tails: BTreeMap<String, Tail>,
    since: Option<i64>,
    until: Option<i64>,
}

impl LogFollower {
    pub fn new(root: &Path, project: &str, selection: Selection) -> LogFollower {
        LogFollower {
            root: root.to_path_buf(),
            project: project.to_string(),
            selection,
            tails: BTreeMap::new(),
            since: None,
            until: None,
        }
    }

    /// Only lines at or after `since` and at or before `until` (nanoseconds since the epoch).
    pub fn with_window(mut self, since: Option<i64>, until: Option<i64>) -> LogFollower {
        self.since = since;
        self.until = until;
        self
    }

    /// Follows `target` too (its log from the beginning, as filtered by the time window).
    pub fn add(&mut self, target: Target) -> bool {
        if self.tails.contains_key(&target.id) {
            return false;
        }
        self.tails
            .insert(target.id.clone(), Tail::new(&self.root, target));
        true
    }

    /// Lists the project's containers and follows the selected ones not followed yet
    /// (recreated or scaled up since); returns those.
    pub fn discover(&mut self) -> Result<Vec<Target>, AttachError> {
        let mut new = Vec::new();
        for o in state::list(&self.root, Some(&self.project))? {
            if self.selection.matches(&o) {
                let t = Target::of(&o);
                if self.add(t.clone()) {
                    new.push(t);
                }
            }
        }
        Ok(new)
    }

    /// The followed containers, by id.
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.tails.values().map(|t| &t.target)
    }

    /// Reads every followed container's log from its beginning again (with `tail`, its last
    /// lines only; with `snapshot`, up to what it holds now): the following polls return it,
    /// in bounded chunks, before anything newer.
    pub fn rewind(&mut self, tail: Option<usize>, snapshot: bool) -> Result<(), AttachError> {
        for t in self.tails.values_mut() {
            t.rewind(tail, snapshot)?;
        }
        Ok(())
    }

    /// Lines written since the last read, at most [`READ_CHUNK`] bytes of each container's
    /// log, merged in time order; with them, the ids of the containers that have more to read
    /// at once (whose exits must wait for those lines).
    pub fn poll(&mut self) -> Result<(Vec<Entry>, BTreeSet<String>), AttachError> {
        let mut out = Vec::new();
        let mut behind = BTreeSet::new();
        for (id, t) in self.tails.iter_mut() {
            let (lines, more) = t.read_new(READ_CHUNK)?;
            if more {
                behind.insert(id.clone());
            }
            out.extend(entries(&t.target, lines));
        }
        Ok((self.window(out), behind))
    }

    fn window(&self, mut out: Vec<Entry>) -> Vec<Entry> {
        out.retain(|e| {
            self.since.is_none_or(|s| e.time >= s) && self.until.is_none_or(|u| e.time <= u)
        });
        // Stable: lines of one container with equal times keep their order.
        out.sort_by_key(|e| e.time);
        out
    }

    /// Whether every followed container is stopped for good (see [`stopped_for_good`]).
    pub fn all_stopped(&self) -> bool {
        self.tails.keys().all(|id| stopped_for_good(&self.root, id))
    }
}

fn entries<'a>(target: &'a Target, lines: Vec<LogLine>) -> impl Iterator<Item = Entry> + 'a {
    lines.into_iter().map(move |line| Entry {
        container: target.name.clone(),
        service: target.service.clone(),
        time: parse_log_time(&line.time).unwrap_or(0),
        line,
    })
}

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

/// How lines are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatOptions {
    /// ANSI colors per container (a terminal, `--ansi always`, and no `--no-color`).
    pub color: bool,
    /// `name  | ` before each line (off with `--no-log-prefix`).
    pub prefix: bool,
    /// The line's time before its text (`-t`).
    pub timestamps: bool,
}

impl Default for FormatOptions {
    fn default() -> Self {
        FormatOptions {
            color: false,
            prefix: true,
            timestamps: false,
        }
    }
}

/// Docker Compose's palette, in the order it hands colors to containers: cyan, yellow, green,
/// magenta, blue, then the same bold.
const RAINBOW: [&str; 10] = [
    "36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1",
];

/// Prefixes and colors lines as Docker Compose does: `name  | text`, the name padded to the
/// longest registered one plus one, each container in its own color.
#[derive(Debug, Default)]
pub struct Formatter {
    opts: FormatOptions,
    names: Vec<(String, &'static str)>,
    width: usize,
}

impl Formatter {
    pub fn new(opts: FormatOptions) -> Formatter {
        Formatter {
            opts,
            names: Vec::new(),
            width: 0,
        }
    }

    /// Gives `name` the next color and widens the prefix for it (names seen first in a line
    /// are registered then).
    pub fn register(&mut self, name: &str) {
        if self.names.iter().any(|(n, _)| n == name) {
            return;
        }
        let color = RAINBOW[self.names.len() % RAINBOW.len()];
        self.names.push((name.to_string(), color));
        self.width = self.width.max(name.len() + 1);
    }

    fn paint(&self, name: &str, s: &str) -> String {
        if !self.opts.color {
            return s.to_string();
        }
        let code = self
            .names
            .iter()
            .find(|(n, _)| n == name)
            .map_or("0", |(_, c)| *c);
        format!("\x1b[{code}m{s}\x1b[0m")
    }

    /// One log line, newline included.
    pub fn line(&mut self, e: &Entry) -> String {
        self.register(&e.container);
        // A `\r` stays (as Docker keeps it): progress bars and CRLF output are the writer's.
        let text = e.line.log.strip_suffix('\n').unwrap_or(&e.line.log);
        let mut s = String::new();
        if self.opts.prefix {
            let width = self.width;
            s.push_str(&self.paint(&e.container, &format!("{:<width$} | ", e.container)));
        }
        if self.opts.timestamps {
            s.push_str(&e.line.time);
            s.push(' ');
        }
        s.push_str(text);
        s.push('\n');
        s
    }

    /// A status line about a container (`web-1 exited with code 0`), newline included.
    pub fn status(&mut self, name: &str, msg: &str) -> String {
        self.register(name);
        let reset_line = if self.opts.color { "\r\x1b[K" } else { "" };
        self.paint(name, &format!("{reset_line}{name} {msg}\n"))
    }
}

// ---------------------------------------------------------------------------------------------
// `logs`
// ---------------------------------------------------------------------------------------------

/// Options of `logs`.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    pub selection: Selection,
    pub follow: bool,
    /// Last lines of each container; `None`: all.
    pub tail: Option<usize>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub format: FormatOptions,
}

/// Writes an entry to standard output, whichever stream it came from (as Docker Compose does:
/// `logs | grep` and `logs > file` keep every line); false when the reader is gone (a closed
/// pipe), which ends `logs`.
fn emit(f: &mut Formatter, e: &Entry, out: &mut dyn Write) -> bool {
    out.write_all(f.line(e).as_bytes()).is_ok()
}

/// Writes entries, then flushes; false when the reader is gone.
fn emit_all(f: &mut Formatter, entries: &[Entry], out: &mut dyn Write) -> bool {
    entries.iter().all(|e| emit(f, e, out)) && out.flush().is_ok()
}

/// The followed containers that exited (again) at or after `since` and whose exit is not in
/// `reported` yet: each with its exit code and `finished_at`, to be recorded there once the
/// lines before it are printed.
fn new_exits(
    root: &Path,
    follower: &LogFollower,
    reported: &BTreeMap<String, String>,
    since: i64,
) -> Vec<(Target, i32, String)> {
    let mut out = Vec::new();
    for t in follower.targets() {
        let st = state::read_state(&StateRoot::new(root).container(&t.id));
        if let Some(f) = st.finished_at {
            if reported.get(&t.id) != Some(&f) && parse_log_time(&f).is_some_and(|t| t >= since) {
                out.push((t.clone(), st.exit_code.unwrap_or(0), f));
            }
        }
    }
    out
}

/// `logs`: prints what the selected containers logged; with `follow`, goes on printing new
/// lines (of containers started meanwhile too) and Docker Compose's `<name> exited with code
/// N` for each exit, until every followed container is stopped for good, `until` has passed,
/// or `interrupted` turns non-zero. Logs are read in bounded chunks and printed with blocking
/// writes, so a fast writer and a slow reader cost no memory.
pub fn logs(
    root: &Path,
    project: &str,
    opts: &LogsOptions,
    interrupted: &AtomicUsize,
    out: &mut dyn Write,
) -> Result<(), AttachError> {
    let started = now_nanos();
    let mut follower =
        LogFollower::new(root, project, opts.selection.clone()).with_window(opts.since, opts.until);
    let mut fmt = Formatter::new(opts.format);
    for t in follower.discover()? {
        fmt.register(&t.name);
    }
    follower.rewind(opts.tail, !opts.follow)?;
    loop {
        let (entries, behind) = follower.poll()?;
        if !emit_all(&mut fmt, &entries, out) {
            return Ok(());
        }
        if behind.is_empty() {
            break;
        }
    }
    if !opts.follow {
        return Ok(());
    }
    let mut reported: BTreeMap<String, String> = BTreeMap::new();
    let mut last_discover = Instant::now();
    // Stopped for good since: a `restart` leaves a moment with nothing running.
    let mut idle_since: Option<Instant> = None;
    loop {
        if interrupted.load(Ordering::SeqCst) > 0 {
            return Ok(());
        }
        if last_discover.elapsed() >= DISCOVER_EVERY {
            for t in follower.discover()? {
                fmt.register(&t.name);
            }
            last_discover = Instant::now();
        }
        // Stopped-ness and exits are read before the lines: a monitor records the exit after
        // the output.
        let stopped = follower.all_stopped();
        let exits = new_exits(root, &follower, &reported, started);
        let (entries, behind) = follower.poll()?;
        if !emit_all(&mut fmt, &entries, out) {
            return Ok(());
        }
        // An exit waits for the lines before it.
        for (t, code, finished) in exits.into_iter().filter(|e| !behind.contains(&e.0.id)) {
            let line = fmt.status(&t.name, &format!("exited with code {code}"));
            if out
                .write_all(line.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
            {
                return Ok(());
            }
            reported.insert(t.id, finished);
        }
        if !behind.is_empty() {
            // Behind the writers: read on at once.
            continue;
        }
        if opts.until.is_some_and(|u| now_nanos() > u) {
            return Ok(());
        }
        if stopped {
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= DISCOVER_EVERY {
                // One more look for containers that replaced the stopped ones.
                let new = follower.discover()?;
                if new.is_empty() && follower.all_stopped() {
                    // Anything still unread or unreported is shown by the next rounds, which
                    // end here again once nothing is left.
                    let (entries, behind) = follower.poll()?;
                    if !emit_all(&mut fmt, &entries, out) {
                        return Ok(());
                    }
                    if behind.is_empty()
                        && new_exits(root, &follower, &reported, started).is_empty()
                    {
                        return Ok(());
                    }
                    continue;
                }
                for t in new {
                    fmt.register(&t.name);
                }
                idle_since = None;
            }
        } else {
            idle_since = None;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

// ---------------------------------------------------------------------------------------------
// Attached `up`
// ---------------------------------------------------------------------------------------------

static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_interrupt(_sig: libc::c_int) {
    INTERRUPTS.fetch_add(1, Ordering::SeqCst);
}

/// Counts SIGINT and SIGTERM instead of dying of them, so an attached `up` stops its
/// containers gracefully on the first and kills them on the second; returns the counter.
pub fn catch_interrupts() -> Result<&'static AtomicUsize, AttachError> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only touches an atomic (async-signal-safe); the struct is
        // zero-initialised as sigaction expects.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_interrupt as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                return Err(AttachError::Signal(io::Error::last_os_error()));
            }
        }
    }
    Ok(&INTERRUPTS)
}

/// When an attached `up` stops everything because a container exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cascade {
    #[default]
    Ignore,
    /// `--abort-on-container-exit` (and `--exit-code-from`).
    Exit,
    /// `--abort-on-container-failure`: on a non-zero exit only.
    Failure,
}

/// Options of an attached `up`, after `stack::up` has started the containers.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// Services whose logs are shown (`--attach`, else the services asked for, else all;
    /// minus `--no-attach`).
    pub attach: Vec<String>,
    /// Services `up` started: stopped on Ctrl-C or an abort, and watched for exits when
    /// nothing is attached.
    pub scope: Vec<String>,
    pub cascade: Cascade,
    /// `--exit-code-from`: its first exit code is `up`'s.
    pub exit_code_from: Option<String>,
    /// Services whose exit 0 is what they are for (see [`super::Expectations`]): it aborts
    /// nothing.
    pub one_shots: BTreeSet<String>,
    /// `-t/--timeout` for stopping; else each container's `stop_grace_period`.
    pub timeout: Option<u64>,
    /// Each service's level in the dependency graph ([`super::service_levels`]): the graceful
    /// stop takes the highest (dependents) first.
    pub levels: BTreeMap<String, usize>,
    /// Lines before this time (the start of this `up`) are not shown.
    pub since: i64,
    pub format: FormatOptions,
}

/// What the exits of one watched container look like so far.
#[derive(Debug, Default)]
struct ExitWatch {
    /// `finished_at` of the last exit reported.
    reported: Option<String>,
}

/// Stops the project's containers of `scope` (all with an empty scope) as `stop` does: in
/// waves by `levels`, dependents before the services they depend on (as Docker Compose's
/// graceful stop), each wave signalled first, then waited for together. Each wave is listed
/// afresh, so containers a second Ctrl-C killed meanwhile are not stopped again.
fn stop_all(
    root: &Path,
    project: &str,
    scope: &[String],
    levels: &BTreeMap<String, usize>,
    timeout: Option<u64>,
    rep: &mut dyn Reporter,
) -> Result<(), AttachError> {
    let _lock = state::lock_project(root, project)?;
    // Services no level is known for go first, as with `stop`.
    let first = levels.values().copied().max().map_or(0, |m| m + 1);
    let level_of = |service: &str| levels.get(service).copied().unwrap_or(first);
    for wave in (0..=first).rev() {
        let mut stopping = Vec::new();
        for o in state::list(root, Some(project))? {
            if o.record.one_off
                || !(scope.is_empty() || scope.contains(&o.record.service))
                || level_of(&o.record.service) != wave
            {
                continue;
            }
            if o.state.pid.is_none() && o.state.live_monitor().is_none() {
                continue;
            }
            let c = Container::of(root, &o.record);
            let sig = c.stop_signal().map_err(|m| AttachError::Stop {
                container: o.record.name.clone(),
                message: m,
            })?;
            let grace = Duration::from_secs(timeout.unwrap_or(o.record.stop_grace_period));
            rep.event("Container", &o.record.name, "Stopping");
            super::hooks::pre_stop(root, &o, rep);
            stopping.push((o.record.name.clone(), c.begin_stop(sig, grace)?));
        }
        for (name, s) in stopping {
            s.finish()?;
            rep.event("Container", &name, "Stopped");
        }
    }
    Ok(())
}

/// Kills the project's containers of `scope` at once (a second Ctrl-C); a stop under way
/// then sees them gone.
fn kill_all(root: &Path, project: &str, scope: &[String]) -> Result<(), AttachError> {
    for o in state::list(root, Some(project))? {
        if o.record.one_off || !(scope.is_empty() || scope.contains(&o.record.service)) {
            continue;
        }
        if o.state.live_pid().is_some() || o.state.live_monitor().is_some() {
            drop(Container::of(root, &o.record).begin_stop(Signal::KILL, Duration::ZERO)?);
        }
    }
    Ok(())
}

/// The message Docker Compose prints on the first Ctrl-C.
pub const GRACEFUL_MESSAGE: &str = "Gracefully Stopping... press Ctrl+C again to force";
/// The exit code of an attached `up` stopped by Ctrl-C or SIGTERM, as Docker Compose's
/// (128 + SIGINT).
pub const INTERRUPTED_EXIT_CODE: i32 = 130;
/// The message Docker Compose prints when a container's exit stops everything.
pub const ABORT_MESSAGE: &str = "Aborting on container exit...";

/// Attached `up`, once the containers are started: prints the attached containers' output and
/// `<name> exited with code N` for each exit, stops everything on the first interrupt (counted
/// in `interrupts`) or on an exit that `cascade` aborts on, kills on the second interrupt, and
/// returns once every watched container is stopped for good, with Docker Compose's exit code:
/// `exit_code_from`'s exit code, else that of the container that caused an abort, else 0.
pub fn attached_up(
    root: &Path,
    project: &str,
    opts: &AttachOptions,
    interrupts: &AtomicUsize,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, AttachError> {
    let mut watched: BTreeSet<String> = if opts.attach.is_empty() {
        opts.scope.iter().cloned().collect()
    } else {
        opts.attach.iter().cloned().collect()
    };
    if let Some(s) = &opts.exit_code_from {
        watched.insert(s.clone());
    }
    let selection = Selection {
        services: watched.into_iter().collect(),
        index: None,
    };
    let mut follower =
        LogFollower::new(root, project, selection).with_window(Some(opts.since), None);
    let mut fmt = Formatter::new(opts.format);
    let shown = |service: &str| opts.attach.iter().any(|a| a == service);
    let targets = follower.discover()?;
    let names: Vec<&str> = targets
        .iter()
        .filter(|t| shown(&t.service))
        .map(|t| t.name.as_str())
        .collect();
    for n in &names {
        fmt.register(n);
    }
    if !names.is_empty() {
        let _ = writeln!(out, "Attaching to {}", names.join(", "));
        let _ = out.flush();
    }
    let mut exits: BTreeMap<String, ExitWatch> = BTreeMap::new();
    let mut stopper: Option<std::thread::JoinHandle<Result<(), AttachError>>> = None;
    let mut handled_interrupts = 0usize;
    let mut killed = false;
    let mut aborted_with: Option<i32> = None;
    // Stopped by an interrupt (not by an abort under way): `up` exits 130, as Docker Compose.
    let mut interrupted = false;
    let mut code_from: Option<i32> = None;
    let mut last_discover = Instant::now();
    let start_stop = |stopper: &mut Option<std::thread::JoinHandle<Result<(), AttachError>>>| {
        if stopper.is_none() {
            let (root, project, scope, levels, timeout) = (
                root.to_path_buf(),
                project.to_string(),
                opts.scope.clone(),
                opts.levels.clone(),
                opts.timeout,
            );
            *stopper = Some(std::thread::spawn(move || {
                stop_all(
                    &root,
                    &project,
                    &scope,
                    &levels,
                    timeout,
                    &mut PlainReporter,
                )
            }));
        }
    };
    loop {
        let n = interrupts.load(Ordering::SeqCst);
        if n > handled_interrupts {
            if handled_interrupts == 0 {
                let _ = writeln!(err, "{GRACEFUL_MESSAGE}");
                interrupted = aborted_with.is_none();
                start_stop(&mut stopper);
            }
            if n >= 2 && !killed {
                killed = true;
                kill_all(root, project, &opts.scope)?;
            }
            handled_interrupts = n;
        }
        if last_discover.elapsed() >= DISCOVER_EVERY {
            for t in follower.discover()? {
                if shown(&t.service) {
                    fmt.register(&t.name);
                }
            }
            last_discover = Instant::now();
        }
        // States before lines: a monitor records an exit only after the output before it.
        let mut exited_now = Vec::new();
        let mut all_stopped = true;
        for t in follower.targets() {
            let dir = StateRoot::new(root).container(&t.id);
            let st = state::read_state(&dir);
            let w = exits.entry(t.id.clone()).or_default();
            if let Some(f) = &st.finished_at {
                let new = w.reported.as_ref() != Some(f)
                    && parse_log_time(f).is_some_and(|t| t >= opts.since);
                if new {
                    exited_now.push((t.clone(), st.exit_code.unwrap_or(0), f.clone()));
                }
            }
            if !stopped_for_good(root, &t.id) {
                all_stopped = false;
            }
        }
        let (lines, behind) = follower.poll()?;
        for e in lines.iter().filter(|e| shown(&e.service)) {
            let _ = emit(&mut fmt, e, out);
        }
        let _ = out.flush();
        // An exit waits for the lines before it (a container read in chunks).
        exited_now.retain(|(t, _, _)| !behind.contains(&t.id));
        for (t, code, finished) in exited_now {
            exits.entry(t.id.clone()).or_default().reported = Some(finished);
            let _ = out.write_all(
                fmt.status(&t.name, &format!("exited with code {code}"))
                    .as_bytes(),
            );
            let _ = out.flush();
            if opts.exit_code_from.as_deref() == Some(t.service.as_str()) && code_from.is_none() {
                code_from = Some(code);
            }
            let one_shot_done = code == 0 && opts.one_shots.contains(&t.service);
            let aborts = match opts.cascade {
                Cascade::Ignore => false,
                Cascade::Exit => !one_shot_done,
                Cascade::Failure => code != 0,
            };
            if aborts && aborted_with.is_none() {
                aborted_with = Some(code);
                if handled_interrupts == 0 {
                    let _ = writeln!(err, "{ABORT_MESSAGE}");
                }
                start_stop(&mut stopper);
            }
        }
        // What the logs still hold is shown, unless interrupted: Ctrl-C ends it now.
        if all_stopped && (behind.is_empty() || handled_interrupts > 0) {
            break;
        }
        if behind.is_empty() {
            std::thread::sleep(POLL_INTERVAL);
        }
    }
    if let Some(h) = stopper {
        match h.join() {
            Ok(r) => r?,
            Err(_) => {
                return Err(AttachError::Stop {
                    container: project.to_string(),
                    message: "the stopping thread panicked".into(),
                })
            }
        }
    }
    if interrupted {
        return Ok(INTERRUPTED_EXIT_CODE);
    }
    Ok(match (&opts.exit_code_from, code_from, aborted_with) {
        (Some(_), Some(c), _) => c,
        (Some(_), None, _) => 0,
        (None, _, Some(c)) => c,
        (None, _, None) => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, time: &str) -> String {
        serde_json::json!({"log": format!("{text}\n"), "stream": "stdout", "time": time})
            .to_string()
            + "\n"
    }

    #[test]
    fn log_times_keep_nanoseconds_and_offsets() {
        assert_eq!(
            parse_log_time("1970-01-01T00:00:01.5Z"),
            Some(1_500_000_000)
        );
        assert_eq!(
            parse_log_time("1970-01-01T00:00:01.000000002Z"),
            Some(1_000_000_002)
        );
        assert_eq!(parse_log_time("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_log_time("yesterday"), None);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("10m"), Some(600_000_000_000));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("5x"), None);
    }

    #[test]
    fn since_accepts_durations_times_and_unix_seconds() {
        let now = 10_000 * 1_000_000_000;
        assert_eq!(
            parse_time_arg("--since", "10s", now).ok(),
            Some(now - 10_000_000_000)
        );
        assert_eq!(
            parse_time_arg("--since", "1970-01-01T00:00:02Z", now).ok(),
            Some(2_000_000_000)
        );
        assert_eq!(
            parse_time_arg("--since", "3.25", now).ok(),
            Some(3_250_000_000)
        );
        assert!(parse_time_arg("--since", "soon", now).is_err());
    }

    #[test]
    fn tail_values() {
        assert_eq!(parse_tail("all").ok(), Some(None));
        assert_eq!(parse_tail("-1").ok(), Some(None));
        assert_eq!(parse_tail("2").ok(), Some(Some(2)));
        assert!(parse_tail("two").is_err());
    }

    #[test]
    fn display_names_drop_the_project_only_for_generated_names() {
        assert_eq!(display_name("p", "web", "p-web-1"), "web-1");
        assert_eq!(display_name("p", "web", "my-web"), "my-web");
    }

    fn entry(name: &str, text: &str) -> Entry {
        Entry {
            container: name.into(),
            service: name.into(),
            time: 0,
            line: LogLine {
                log: format!("{text}\n"),
                stream: "stdout".into(),
                time: "2024-01-01T00:00:00.000000000Z".into(),
            },
        }
    }

    #[test]
    fn prefixes_are_padded_to_the_longest_name_and_colored_in_palette_order() {
        let mut f = Formatter::new(FormatOptions::default());
        f.register("web-1");
        f.register("db-1");
        assert_eq!(f.line(&entry("db-1", "hi")), "db-1   | hi\n");
        assert_eq!(f.line(&entry("web-1", "yo")), "web-1  | yo\n");
        assert_eq!(
            f.status("web-1", "exited with code 3"),
            "web-1 exited with code 3\n"
        );
        let mut c = Formatter::new(FormatOptions {
            color: true,
            prefix: true,
            timestamps: true,
        });
        c.register("a-1");
        c.register("b-1");
        assert_eq!(
            c.line(&entry("b-1", "x")),
            "\x1b[33mb-1  | \x1b[0m2024-01-01T00:00:00.000000000Z x\n"
        );
        let mut n = Formatter::new(FormatOptions {
            color: false,
            prefix: false,
            timestamps: false,
        });
        assert_eq!(n.line(&entry("a-1", "plain")), "plain\n");
    }

    fn target(id: &str, name: &str) -> Target {
        Target {
            id: id.into(),
            name: name.into(),
            service: name.into(),
            number: 1,
        }
    }

    /// Polls until nothing more is there to read at once.
    fn drain(f: &mut LogFollower) -> Vec<Entry> {
        let mut all = Vec::new();
        loop {
            let (lines, behind) = f.poll().expect("poll");
            all.extend(lines);
            if behind.is_empty() {
                return all;
            }
        }
    }

    #[test]
    fn follower_merges_in_time_order_tails_and_follows_rotation() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        for id in ["a", "b"] {
            std::fs::create_dir_all(StateRoot::new(root).container(id)).expect("dir");
        }
        let log_a = state::log_path(&StateRoot::new(root).container("a"));
        let log_b = state::log_path(&StateRoot::new(root).container("b"));
        std::fs::write(
            &log_a,
            line("a1", "2024-01-01T00:00:01.000000000Z")
                + &line("a3", "2024-01-01T00:00:03.000000000Z"),
        )
        .expect("write");
        std::fs::write(&log_b, line("b2", "2024-01-01T00:00:02.000000000Z")).expect("write");
        let mut f = LogFollower::new(root, "p", Selection::default());
        f.add(target("a", "a-1"));
        f.add(target("b", "b-1"));
        let texts = |v: Vec<Entry>| -> Vec<String> {
            v.into_iter()
                .map(|e| e.line.log.trim_end().to_string())
                .collect()
        };
        f.rewind(None, false).expect("rewind");
        assert_eq!(texts(f.poll().expect("backlog").0), ["a1", "b2", "a3"]);
        assert!(f.poll().expect("poll").0.is_empty());

        // A partial line waits for its end.
        let full = line("a4", "2024-01-01T00:00:04.000000000Z");
        let (head, rest) = full.split_at(10);
        let mut fa = std::fs::OpenOptions::new()
            .append(true)
            .open(&log_a)
            .expect("open");
        fa.write_all(head.as_bytes()).expect("write");
        assert!(f.poll().expect("poll").0.is_empty());
        fa.write_all(rest.as_bytes()).expect("write");
        assert_eq!(texts(f.poll().expect("poll").0), ["a4"]);

        // Rotation: the rest of the old file, then the new one.
        fa.write_all(line("a5", "2024-01-01T00:00:05.000000000Z").as_bytes())
            .expect("write");
        drop(fa);
        let rotated = log_a.with_extension("log.1");
        std::fs::rename(&log_a, &rotated).expect("rotate");
        std::fs::write(&log_a, line("a6", "2024-01-01T00:00:06.000000000Z")).expect("write");
        assert_eq!(texts(f.poll().expect("poll").0), ["a5", "a6"]);

        // A new reader sees rotated files first; --tail counts per container; --since cuts.
        let mut g = LogFollower::new(root, "p", Selection::default()).with_window(
            parse_log_time("2024-01-01T00:00:02Z"),
            parse_log_time("2024-01-01T00:00:05.5Z"),
        );
        g.add(target("a", "a-1"));
        g.add(target("b", "b-1"));
        g.rewind(None, false).expect("rewind");
        assert_eq!(texts(drain(&mut g)), ["b2", "a3", "a4", "a5"]);
        let mut h = LogFollower::new(root, "p", Selection::default());
        h.add(target("a", "a-1"));
        h.add(target("b", "b-1"));
        h.rewind(Some(2), false).expect("rewind");
        assert_eq!(texts(drain(&mut h)), ["b2", "a5", "a6"]);
    }

    #[test]
    fn a_big_log_is_read_in_bounded_chunks_and_a_snapshot_ends_where_it_was_taken() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::create_dir_all(StateRoot::new(root).container("a")).expect("dir");
        let log_a = state::log_path(&StateRoot::new(root).container("a"));
        let one = line("y", "2024-01-01T00:00:01.000000000Z");
        let count = 3 * READ_CHUNK / one.len() + 7;
        std::fs::write(&log_a, one.repeat(count)).expect("write");
        let mut f = LogFollower::new(root, "p", Selection::default());
        f.add(target("a", "a-1"));
        f.rewind(None, true).expect("rewind");
        let mut got = 0;
        let mut polls = 0;
        loop {
            let (lines, behind) = f.poll().expect("poll");
            assert!(lines.len() <= READ_CHUNK / one.len() + 1, "{}", lines.len());
            got += lines.len();
            polls += 1;
            if behind.is_empty() {
                break;
            }
        }
        assert_eq!(got, count);
        assert!(polls >= 4, "{polls}");
        // Lines written after the snapshot are not part of it.
        let mut fa = std::fs::OpenOptions::new()
            .append(true)
            .open(&log_a)
            .expect("open");
        fa.write_all(one.as_bytes()).expect("write");
        assert!(f.poll().expect("poll").0.is_empty());
        // `--tail` counts lines without holding them.
        let mut g = LogFollower::new(root, "p", Selection::default());
        g.add(target("a", "a-1"));
        g.rewind(Some(3), false).expect("rewind");
        assert_eq!(drain(&mut g).len(), 3);
    }

    #[test]
    fn carriage_returns_are_kept() {
        let mut f = Formatter::new(FormatOptions::default());
        assert_eq!(f.line(&entry("a-1", "50%\r100%\r")), "a-1  | 50%\r100%\r\n");
    }
}
