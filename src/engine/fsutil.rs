//! Small durable-filesystem helpers the engine shares (image store, container state): sha256 while streaming, unique temporary
//! names, atomic replace (temp file, fsync, rename, fsync of the directory), the store lock, and
//! the time and size formats Docker prints.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};

/// Directories nobody but root enters (why: see [`crate::engine::root`]).
pub const PRIVATE_DIR: u32 = 0o700;
/// Files nobody but root reads: records, logs, locks, image metadata. Every file written
/// here gets it.
pub const PRIVATE_FILE: u32 = 0o600;

/// A reader that hashes (sha256) and counts what passes through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Reads to the end (so trailing bytes are hashed too), then returns `sha256:<hex>` and
    /// the byte count.
    pub fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((
            format!("sha256:{}", hex(&self.hasher.finalize())),
            self.count,
        ))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(data)))
}

/// A name no other process or thread will pick: pid, time and a counter.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// How much of a [`write_atomic_as`] must be on disk before it returns. Every kind is atomic for
/// readers (they see the old content or the new, never a mix); they differ in what a crash of
/// the machine may leave, and in the syncs paid for it (each one milliseconds on a busy disk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Content and name on disk: the new content survives a crash once the write returns.
    Durable,
    /// The content reaches the disk before the name points at it, the name is not waited for:
    /// after a crash the file holds the old content or the new, or (for a new name) is absent,
    /// never torn. For a record that is removed when its command ends (`run --rm`), whose
    /// absence the next command reconciles.
    ContentOnly,
    /// Nothing waited for: after a crash the file may be absent, empty or torn. Only for files
    /// whose readers treat an unreadable file as "nothing recorded" and which lose their
    /// meaning at a crash anyway (a `run --rm` container's run state).
    Volatile,
}

/// Replaces `path` with `data` so that readers see the old or the new content, never a mix,
/// and the new content survives a crash once this returns. The file is root's alone (0600):
/// everything written this way is state under `--root` (see [`super::root`]).
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    write_atomic_as(path, data, Durability::Durable)
}

/// [`write_atomic`] with the syncs that `durability` needs and no more.
pub fn write_atomic_as(path: &Path, data: &[u8], durability: Durability) -> io::Result<()> {
    write_atomic_mode(path, data, durability, PRIVATE_FILE)
}

/// [`write_atomic`] for a file a container's processes read through a bind mount (its
/// `hosts`, `hostname` and `resolv.conf`), which any user in it must be able to read: 0644.
/// Written before it is mounted (a rename under a bind mount would leave the container the old
/// file).
pub fn write_atomic_shared(path: &Path, data: &[u8]) -> io::Result<()> {
    write_atomic_mode(path, data, Durability::Durable, 0o644)
}

/// Renames `from` to `to` and syncs `to`'s directory, so that the new name survives a crash
/// once this returns: for content (a blob, synced by its writer) that records written later
/// refer to by name.
pub fn rename_durable(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::rename(from, to)?;
    match to.parent() {
        Some(dir) => fsync_dir(dir),
        None => Ok(()),
    }
}

fn write_atomic_mode(
    path: &Path,
    data: &[u8],
    durability: Durability,
    mode: u32,
) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path without a parent"))?;
    let tmp = dir.join(unique_name(".tmp-"));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have taken bits away.
        if mode != PRIVATE_FILE {
            rustix::fs::fchmod(&f, rustix::fs::Mode::from_raw_mode(mode))?;
        }
        f.write_all(data)?;
        if durability != Durability::Volatile {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        match durability {
            Durability::Durable => fsync_dir(dir),
            Durability::ContentOnly | Durability::Volatile => Ok(()),
        }
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// An exclusive `flock` on the store's lock file, released on drop (when the fd closes, also
/// when the process dies).
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    pub fn exclusive(path: &Path) -> io::Result<StoreLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(PRIVATE_FILE)
            .open(path)?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
        Ok(StoreLock { _file: file })
    }
}

/// Seconds since the epoch now.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Seconds since the epoch of an RFC 3339 time (`2024-01-02T03:04:05.123Z`, `…+02:00`).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(|c| c.is_ascii_digit()).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset)
}

/// `2024-01-02T03:04:05Z`.
pub fn format_rfc3339(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86400));
    let t = secs.rem_euclid(86400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// Go's `time.Time.String()` in UTC, as `docker image ls --format json` prints `CreatedAt`.
pub fn format_go_time(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86400));
    let t = secs.rem_euclid(86400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} +0000 UTC",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// go-units `HumanDuration`, which Docker uses for "CREATED".
pub fn human_duration(secs: i64) -> String {
    let seconds = secs.max(0);
    let minutes = seconds / 60;
    let hours = (seconds as f64 / 3600.0 + 0.5) as i64;
    if seconds < 1 {
        "Less than a second".into()
    } else if seconds == 1 {
        "1 second".into()
    } else if seconds < 60 {
        format!("{seconds} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", seconds / 3600 / 24 / 365)
    }
}

/// go-units `HumanSizeWithPrecision(size, 3)`: decimal units, 3 significant digits
/// (`4.26MB`, `925B`, `1.2kB`).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut value = bytes as f64;
    let mut i = 0;
    while value >= 1000.0 && i < UNITS.len() - 1 {
        value /= 1000.0;
        i += 1;
    }
    // %.3g: three significant digits, trailing zeros dropped.
    let decimals = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    let mut s = format!("{value:.decimals$}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "1000" && i < UNITS.len() - 1 {
        return format!("1{}", UNITS[i + 1]);
    }
    format!("{s}{}", UNITS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_durability_replaces_the_file_whole_and_leaves_no_temporary_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state.json");
        for (n, d) in [
            Durability::Durable,
            Durability::ContentOnly,
            Durability::Volatile,
        ]
        .into_iter()
        .enumerate()
        {
            let data = format!("{{\"n\":{n}}}");
            write_atomic_as(&path, data.as_bytes(), d).expect("write");
            assert_eq!(std::fs::read_to_string(&path).expect("read"), data, "{d:?}");
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{d:?}");
            let names: Vec<_> = std::fs::read_dir(dir.path())
                .expect("list")
                .flatten()
                .map(|e| e.file_name())
                .collect();
            assert_eq!(names, ["state.json"], "{d:?}");
        }
    }

    #[test]
    fn a_shared_file_is_replaced_whole_and_readable_by_all() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("hosts");
        std::fs::write(&path, "old, longer than the new content\n").expect("old");
        write_atomic_shared(&path, b"new\n").expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new\n");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["hosts"]);
    }

    #[test]
    fn a_durable_rename_moves_the_file_and_fails_as_rename_does() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (a, b) = (dir.path().join("a"), dir.path().join("sub/b"));
        std::fs::write(&a, "blob").expect("write");
        assert!(rename_durable(&a, &b).is_err(), "no such directory");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        rename_durable(&a, &b).expect("rename");
        assert!(!a.exists());
        assert_eq!(std::fs::read_to_string(&b).expect("read"), "blob");
    }

    #[test]
    fn rfc3339_roundtrip() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2024-01-01T00:00:00Z"), Some(1_704_067_200));
        assert_eq!(
            parse_rfc3339("2024-01-01T02:00:00.123456789+02:00"),
            Some(1_704_067_200)
        );
        assert_eq!(format_rfc3339(1_704_067_200), "2024-01-01T00:00:00Z");
        assert_eq!(
            format_go_time(1_704_067_261),
            "2024-01-01 00:01:01 +0000 UTC"
        );
        assert_eq!(parse_rfc3339("garbage"), None);
    }

    #[test]
    fn go_units_formats() {
        assert_eq!(human_size(925), "925B");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(1200), "1.2kB");
        assert_eq!(human_size(4_261_550), "4.26MB");
        assert_eq!(human_size(77_830_000), "77.8MB");
        assert_eq!(human_size(999_999), "1MB");
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(30), "30 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(3 * 3600), "3 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
        assert_eq!(human_duration(20 * 86400), "2 weeks");
        assert_eq!(human_duration(100 * 86400), "3 months");
        assert_eq!(human_duration(800 * 86400), "2 years");
    }

    #[test]
    fn hashing_reader_hashes_all() {
        let r = HashingReader::new(&b"abc"[..]);
        let (d, n) = r.finish().unwrap();
        assert_eq!(n, 3);
        assert_eq!(d, sha256_digest(b"abc"));
        assert!(d.ends_with("ad"));
    }
}
