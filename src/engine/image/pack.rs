//! Packing a directory into one image layer (a tar stream, compressed): the inverse of
//! [`super::layer::unpack`]. A build step's result is an overlayfs upper directory; this turns
//! it into the blob and diff id a registry, `image save` and every other tool expect.
//!
//! The directory is container output, hence hostile: it is walked by descriptors only (each
//! directory opened with `openat(O_NOFOLLOW | O_DIRECTORY)` relative to its parent, each file
//! with `O_NOFOLLOW`), so a symlink is recorded as a symlink and never followed, and a path
//! swapped for a symlink between the listing and the open is refused, not read through.
//!
//! The output is a function of the tree alone, so identical inputs give byte-identical layers
//! (the `SOURCE_DATE_EPOCH` promise): entries come in byte order of their names, directory by
//! directory, each directory before its content (as Go's `filepath.Walk` gives them to BuildKit);
//! headers are USTAR with numeric owners, empty user and group names, the mode's permission,
//! set-id and sticky bits, the mtime in whole seconds (clamped to `source_date_epoch` when one
//! is given, BuildKit's `rewrite-timestamp`), no atime or ctime; whatever does not fit a USTAR
//! field (long names and link targets, large ids and sizes, xattrs) goes in a PAX record, never
//! a GNU extension, and the records are sorted by key. gzip is written with no file name and a
//! zero mtime.
//!
//! Overlayfs' representation is converted back to OCI's: a 0/0 character device `NAME` becomes
//! an empty `.wh.NAME`, a directory whose opaque xattr is `y` is followed by a `.wh..wh..opq`
//! entry inside it, right after its own entry. Overlayfs' own xattrs are never written (they
//! describe this upper directory, not the layer); every other xattr is, as
//! `SCHILY.xattr.<name>`. A file with several names is written once, under the first of its
//! names met, and as hard links to it under the others; overlayfs shares one whiteout inode
//! between whiteouts, which stay whiteouts. Sockets have no tar form and are left out, as
//! Docker does.
//!
//! One pass: the uncompressed stream is hashed (the diff id) while it is compressed, and the
//! compressed one hashed (the blob digest) while it is written; nothing is read twice and no
//! file is held in memory.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use sha2::{Digest as _, Sha256};
use thiserror::Error;

use super::layer::{Compression, OPAQUE_XATTR_TRUSTED, OPAQUE_XATTR_USER};
use crate::engine::fsutil;

/// Xattr namespaces that hold overlayfs' metadata about the upper directory.
const OVERLAY_XATTR_PREFIXES: [&[u8]; 2] = [b"trusted.overlay.", b"user.overlay."];
/// The largest xattr list and value Linux has (XATTR_LIST_MAX, XATTR_SIZE_MAX): one buffer of
/// this size never gets ERANGE.
const XATTR_MAX: usize = 64 * 1024;
/// The copy buffer for file content.
const COPY_BUFFER: usize = 256 * 1024;
/// The largest values the USTAR octal fields hold (7 and 11 digits).
const USTAR_ID_MAX: u64 = 0o7777777;
const USTAR_SIZE_MAX: u64 = 0o77777777777;
/// The USTAR name and link name fields.
const USTAR_NAME_LEN: usize = 100;
const BLOCK: usize = 512;
/// What a PAX header entry is called (readers ignore it; fixed, for determinism).
const PAX_HEADER_NAME: &[u8] = b"PaxHeaders.0/entry";
const OPAQUE_WHITEOUT: &[u8] = b".wh..wh..opq";
const WHITEOUT_PREFIX: &[u8] = b".wh.";

#[derive(Debug, Error)]
pub enum PackError {
    #[error("packing {entry:?}: {step}: {source}")]
    Io {
        entry: String,
        step: &'static str,
        #[source]
        source: io::Error,
    },
    /// The tree changed under the walk (a file grew, shrank or was replaced): a build's
    /// directory is packed once its step is over, so this is an error, not a race to win.
    #[error("packing {entry:?}: it changed while being packed")]
    Changed { entry: String },
    #[error("writing the layer: {0}")]
    Write(#[source] io::Error),
}

fn io_err<'a>(entry: &'a [u8], step: &'static str) -> impl FnOnce(Errno) -> PackError + 'a {
    move |e| PackError::Io {
        entry: String::from_utf8_lossy(entry).into_owned(),
        step,
        source: e.into(),
    }
}

/// How to pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackOptions {
    pub compression: Compression,
    /// `SOURCE_DATE_EPOCH`: every later mtime is written as this one.
    pub source_date_epoch: Option<i64>,
}

impl Default for PackOptions {
    fn default() -> Self {
        PackOptions {
            compression: Compression::Gzip,
            source_date_epoch: None,
        }
    }
}

/// What [`pack`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedLayer {
    /// `sha256:<hex>` of the uncompressed tar (`rootfs.diff_ids`).
    pub diff_id: String,
    /// `sha256:<hex>` of the bytes written (the blob).
    pub digest: String,
    /// The blob's OCI media type.
    pub media_type: &'static str,
    /// Bytes written (the blob's size).
    pub compressed_size: u64,
    /// Bytes of the uncompressed tar.
    pub tar_size: u64,
    /// Sum of the regular files' sizes (what [`super::layer::UnpackStats`] counts).
    pub size: u64,
    pub entries: u64,
}

/// Writes the content of `dir` (not `dir` itself) as a layer to `out`, compressed as `opts`
/// says. `out` gets many small writes: give it a buffer.
pub fn pack<W: Write>(dir: &Path, out: W, opts: &PackOptions) -> Result<PackedLayer, PackError> {
    let root = rfs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io_err(b".", "opening the directory"))?;
    let encoder = Encoder::new(opts.compression, HashingWriter::new(out))?;
    let mut packer = Packer {
        out: HashingWriter::new(encoder),
        epoch: opts.source_date_epoch,
        links: HashMap::new(),
        buf: vec![0; COPY_BUFFER],
        xattr_buf: vec![0; XATTR_MAX],
        size: 0,
        entries: 0,
        descend: None,
    };
    packer.walk(root)?;
    // End of archive: two zero blocks.
    packer
        .out
        .write_all(&[0; 2 * BLOCK])
        .map_err(PackError::Write)?;
    let (encoder, diff_id, tar_size) = packer.out.finish();
    let (digest, compressed_size) = {
        let (_, digest, size) = encoder.finish().map_err(PackError::Write)?.finish();
        (digest, size)
    };
    Ok(PackedLayer {
        diff_id,
        digest,
        media_type: opts.compression.media_type(),
        compressed_size,
        tar_size,
        size: packer.size,
        entries: packer.entries,
    })
}

/// Hashes (sha256) and counts what is written through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The writer, `sha256:<hex>` of what went through, and its length.
    fn finish(self) -> (W, String, u64) {
        let digest = format!("sha256:{}", fsutil::hex(&self.hasher.finalize()));
        (self.inner, digest, self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

enum Encoder<W: Write> {
    None(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    fn new(compression: Compression, out: W) -> Result<Self, PackError> {
        Ok(match compression {
            Compression::None => Encoder::None(out),
            // No name, mtime 0: the header says nothing about when or where it was written.
            Compression::Gzip => Encoder::Gzip(
                flate2::GzBuilder::new()
                    .mtime(0)
                    .write(out, flate2::Compression::default()),
            ),
            Compression::Zstd => Encoder::Zstd(
                zstd::stream::write::Encoder::new(out, zstd::DEFAULT_COMPRESSION_LEVEL)
                    .map_err(PackError::Write)?,
            ),
        })
    }

    /// Writes what the compressor still holds and its trailer; returns the writer, flushed.
    fn finish(self) -> io::Result<W> {
        let mut w = match self {
            Encoder::None(w) => w,
            Encoder::Gzip(e) => e.finish()?,
            Encoder::Zstd(e) => e.finish()?,
        };
        w.flush()?;
        Ok(w)
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::None(w) => w.write(buf),
            Encoder::Gzip(w) => w.write(buf),
            Encoder::Zstd(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::None(w) => w.flush(),
            Encoder::Gzip(w) => w.flush(),
            Encoder::Zstd(w) => w.flush(),
        }
    }
}

/// Xattrs as recorded: (name, value), sorted by name.
type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

/// One entry's header fields, before they become USTAR and PAX.
struct Entry<'a> {
    path: &'a [u8],
    kind: tar::EntryType,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: i64,
    size: u64,
    link: &'a [u8],
    device: (u32, u32),
    xattrs: &'a [(Vec<u8>, Vec<u8>)],
}

struct Packer<W: Write> {
    out: HashingWriter<Encoder<HashingWriter<W>>>,
    epoch: Option<i64>,
    /// (dev, ino) of files with several names -> the path they were first written under.
    links: HashMap<(u64, u64), Vec<u8>>,
    buf: Vec<u8>,
    xattr_buf: Vec<u8>,
    size: u64,
    entries: u64,
    /// The directory [`Packer::one`] has just written, with its path (ending in `/`): the
    /// walk goes into it next.
    descend: Option<(OwnedFd, Vec<u8>)>,
}

/// A directory being walked: its fd, its path in the layer (empty or ending in `/`), and the
/// names in it not packed yet.
struct Level {
    fd: OwnedFd,
    prefix: Vec<u8>,
    names: std::vec::IntoIter<OsString>,
}

/// The names in the directory `fd`, sorted bytewise.
fn sorted_names(fd: &OwnedFd, path: &[u8]) -> Result<Vec<OsString>, PackError> {
    let mut names = Vec::new();
    for item in rfs::Dir::read_from(fd).map_err(io_err(path, "listing the directory"))? {
        let item = item.map_err(io_err(path, "listing the directory"))?;
        let n = item.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsString::from_vec(n.to_vec()));
        }
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

impl<W: Write> Packer<W> {
    /// Packs everything below `root`, depth first. A loop over an explicit stack, not
    /// recursion: the tree's depth is the container's to choose, and must not be able to
    /// overflow our stack (an absurdly deep tree ends in EMFILE, an error).
    fn walk(&mut self, root: OwnedFd) -> Result<(), PackError> {
        let mut stack = vec![Level {
            names: sorted_names(&root, b"")?.into_iter(),
            fd: root,
            prefix: Vec::new(),
        }];
        while let Some(level) = stack.last_mut() {
            let Some(name) = level.names.next() else {
                stack.pop();
                continue;
            };
            let mut path = level.prefix.clone();
            path.extend_from_slice(name.as_bytes());
            self.one(&level.fd, &name, &path)?;
            if let Some((fd, prefix)) = self.descend.take() {
                stack.push(Level {
                    names: sorted_names(&fd, &prefix)?.into_iter(),
                    fd,
                    prefix,
                });
            }
        }
        Ok(())
    }

    fn mtime(&self, st: &rfs::Stat) -> i64 {
        // Before 1970 does not fit an unsigned header field; such times are not worth a PAX
        // record.
        let t = st.st_mtime.max(0);
        match self.epoch {
            Some(epoch) if t > epoch => epoch.max(0),
            _ => t,
        }
    }

    /// Packs `name` of `dir`, at `path` in the layer.
    fn one(&mut self, dir: &OwnedFd, name: &OsStr, path: &[u8]) -> Result<(), PackError> {
        let st = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(io_err(path, "stat"))?;
        let ftype = FileType::from_raw_mode(st.st_mode);
        let entry = Entry {
            path,
            kind: tar::EntryType::Regular,
            mode: st.st_mode & 0o7777,
            uid: u64::from(st.st_uid),
            gid: u64::from(st.st_gid),
            mtime: self.mtime(&st),
            size: 0,
            link: b"",
            device: (0, 0),
            xattrs: &[],
        };
        match ftype {
            FileType::CharacterDevice if st.st_rdev == 0 => {
                // An overlayfs whiteout: `.wh.NAME` beside where NAME was.
                let cut = path.len() - name.len();
                let mut wh = path[..cut].to_vec();
                wh.extend_from_slice(WHITEOUT_PREFIX);
                wh.extend_from_slice(name.as_bytes());
                return self.header(&Entry { path: &wh, ..entry });
            }
            FileType::Directory => {
                let fd = rfs::openat(
                    dir,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(io_err(path, "opening the directory"))?;
                same_inode(&fd, &st, path)?;
                let (xattrs, opaque) = self.fd_xattrs(&fd, path)?;
                let mut dir_path = path.to_vec();
                dir_path.push(b'/');
                self.header(&Entry {
                    path: &dir_path,
                    kind: tar::EntryType::Directory,
                    xattrs: &xattrs,
                    ..entry
                })?;
                if opaque {
                    let mut opq = dir_path.clone();
                    opq.extend_from_slice(OPAQUE_WHITEOUT);
                    self.header(&Entry {
                        path: &opq,
                        mode: 0,
                        uid: 0,
                        gid: 0,
                        ..entry
                    })?;
                }
                self.descend = Some((fd, dir_path));
                return Ok(());
            }
            FileType::Socket => return Ok(()),
            FileType::Unknown => {
                return Err(io_err(path, "reading the file type")(Errno::INVAL));
            }
            _ => {}
        }
        if st.st_nlink > 1 {
            let key = (st.st_dev, st.st_ino);
            if let Some(first) = self.links.get(&key) {
                let first = first.clone();
                return self.header(&Entry {
                    kind: tar::EntryType::Link,
                    link: &first,
                    ..entry
                });
            }
            self.links.insert(key, path.to_vec());
        }
        match ftype {
            FileType::RegularFile => {
                let fd = rfs::openat(
                    dir,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(io_err(path, "opening the file"))?;
                same_inode(&fd, &st, path)?;
                let (xattrs, _) = self.fd_xattrs(&fd, path)?;
                let size = st.st_size as u64;
                self.header(&Entry {
                    size,
                    xattrs: &xattrs,
                    ..entry
                })?;
                self.content(File::from(fd), size, path)?;
                self.size += size;
                Ok(())
            }
            FileType::Symlink => {
                let target = rfs::readlinkat(dir, name, Vec::new())
                    .map_err(io_err(path, "reading the symlink"))?
                    .into_bytes();
                let xattrs = self.name_xattrs(dir, name, path)?;
                self.header(&Entry {
                    kind: tar::EntryType::Symlink,
                    link: &target,
                    xattrs: &xattrs,
                    ..entry
                })
            }
            FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo => {
                let xattrs = self.name_xattrs(dir, name, path)?;
                let kind = match ftype {
                    FileType::CharacterDevice => tar::EntryType::Char,
                    FileType::BlockDevice => tar::EntryType::Block,
                    _ => tar::EntryType::Fifo,
                };
                let device = if kind == tar::EntryType::Fifo {
                    (0, 0)
                } else {
                    (rfs::major(st.st_rdev), rfs::minor(st.st_rdev))
                };
                self.header(&Entry {
                    kind,
                    device,
                    xattrs: &xattrs,
                    ..entry
                })
            }
            _ => Err(io_err(path, "reading the file type")(Errno::INVAL)),
        }
    }

    /// Writes exactly `size` bytes of `file` and the padding after them.
    fn content(&mut self, mut file: File, size: u64, path: &[u8]) -> Result<(), PackError> {
        let mut left = size;
        while left > 0 {
            let want = left.min(self.buf.len() as u64) as usize;
            let n = match file.read(&mut self.buf[..want]) {
                Ok(0) => {
                    return Err(PackError::Changed {
                        entry: String::from_utf8_lossy(path).into_owned(),
                    })
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(PackError::Io {
                        entry: String::from_utf8_lossy(path).into_owned(),
                        step: "reading the file",
                        source: e,
                    })
                }
            };
            self.out
                .write_all(&self.buf[..n])
                .map_err(PackError::Write)?;
            left -= n as u64;
        }
        self.pad(size)
    }

    fn pad(&mut self, size: u64) -> Result<(), PackError> {
        let rem = (size % BLOCK as u64) as usize;
        if rem != 0 {
            self.out
                .write_all(&[0; BLOCK][..BLOCK - rem])
                .map_err(PackError::Write)?;
        }
        Ok(())
    }

    /// Writes the entry's PAX header when it needs one, then its USTAR header.
    fn header(&mut self, e: &Entry<'_>) -> Result<(), PackError> {
        let mut records: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        if e.path.len() > USTAR_NAME_LEN {
            records.push((b"path".to_vec(), e.path.to_vec()));
        }
        if e.link.len() > USTAR_NAME_LEN {
            records.push((b"linkpath".to_vec(), e.link.to_vec()));
        }
        for (key, value, max) in [
            (&b"uid"[..], e.uid, USTAR_ID_MAX),
            (b"gid", e.gid, USTAR_ID_MAX),
            (b"size", e.size, USTAR_SIZE_MAX),
        ] {
            if value > max {
                records.push((key.to_vec(), value.to_string().into_bytes()));
            }
        }
        for (key, value) in e.xattrs {
            let mut k = b"SCHILY.xattr.".to_vec();
            k.extend_from_slice(key);
            records.push((k, value.clone()));
        }
        if !records.is_empty() {
            records.sort();
            let data = pax_data(&records);
            let mut h = ustar(PAX_HEADER_NAME, tar::EntryType::XHeader);
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            h.set_cksum();
            self.out.write_all(h.as_bytes()).map_err(PackError::Write)?;
            self.out.write_all(&data).map_err(PackError::Write)?;
            self.pad(data.len() as u64)?;
        }
        let mut h = ustar(e.path, e.kind);
        if e.link.len() <= USTAR_NAME_LEN {
            h.as_old_mut().linkname[..e.link.len()].copy_from_slice(e.link);
        } else {
            h.as_old_mut()
                .linkname
                .copy_from_slice(&e.link[..USTAR_NAME_LEN]);
        }
        h.set_mode(e.mode);
        h.set_uid(if e.uid > USTAR_ID_MAX { 0 } else { e.uid });
        h.set_gid(if e.gid > USTAR_ID_MAX { 0 } else { e.gid });
        h.set_size(if e.size > USTAR_SIZE_MAX { 0 } else { e.size });
        h.set_mtime(e.mtime as u64);
        if matches!(e.kind, tar::EntryType::Char | tar::EntryType::Block) {
            h.set_device_major(e.device.0).map_err(PackError::Write)?;
            h.set_device_minor(e.device.1).map_err(PackError::Write)?;
        }
        h.set_cksum();
        self.out.write_all(h.as_bytes()).map_err(PackError::Write)?;
        self.entries += 1;
        Ok(())
    }

    /// The xattrs to record of an open file or directory, sorted, and whether it is opaque.
    fn fd_xattrs(&mut self, fd: &OwnedFd, path: &[u8]) -> Result<(Xattrs, bool), PackError> {
        let names = match rfs::flistxattr(fd, &mut self.xattr_buf[..]) {
            Ok(n) => self.xattr_buf[..n].to_vec(),
            Err(e) if no_xattrs(e) => return Ok((Vec::new(), false)),
            Err(e) => return Err(io_err(path, "listing xattrs")(e)),
        };
        let buf = &mut self.xattr_buf;
        collect_xattrs(&names, path, |key| {
            match rfs::fgetxattr(fd, key, &mut buf[..]) {
                Ok(n) => Ok(Some(buf[..n].to_vec())),
                Err(Errno::NODATA) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    /// The xattrs of a node that is not opened (symlink, device, fifo), through its parent's
    /// /proc/self/fd link with the `l` calls, which do not follow the last component.
    fn name_xattrs(
        &mut self,
        dir: &OwnedFd,
        name: &OsStr,
        path: &[u8],
    ) -> Result<Xattrs, PackError> {
        let mut p = format!("/proc/self/fd/{}/", dir.as_fd().as_raw_fd()).into_bytes();
        p.extend_from_slice(name.as_bytes());
        let p = OsString::from_vec(p);
        let names = match rfs::llistxattr(&p, &mut self.xattr_buf[..]) {
            Ok(n) => self.xattr_buf[..n].to_vec(),
            Err(e) if no_xattrs(e) => return Ok(Vec::new()),
            Err(e) => return Err(io_err(path, "listing xattrs")(e)),
        };
        let buf = &mut self.xattr_buf;
        let (xattrs, _) = collect_xattrs(&names, path, |key| {
            match rfs::lgetxattr(&p, key, &mut buf[..]) {
                Ok(n) => Ok(Some(buf[..n].to_vec())),
                Err(Errno::NODATA) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        Ok(xattrs)
    }
}

/// A filesystem without xattrs, or none readable: nothing to record.
fn no_xattrs(e: Errno) -> bool {
    matches!(e, Errno::NOTSUP | Errno::PERM | Errno::ACCESS)
}

/// Reads the xattrs `names` (a NUL-separated list) with `get`; keeps those a layer carries,
/// sorted by name, and tells whether overlayfs marked the node opaque.
fn collect_xattrs(
    names: &[u8],
    path: &[u8],
    mut get: impl FnMut(&OsStr) -> Result<Option<Vec<u8>>, Errno>,
) -> Result<(Xattrs, bool), PackError> {
    let mut out = Vec::new();
    let mut opaque = false;
    for key in names.split(|&b| b == 0).filter(|k| !k.is_empty()) {
        let is_opaque_key =
            key == OPAQUE_XATTR_TRUSTED.as_bytes() || key == OPAQUE_XATTR_USER.as_bytes();
        let is_overlay = OVERLAY_XATTR_PREFIXES.iter().any(|p| key.starts_with(p));
        if is_overlay && !is_opaque_key {
            continue;
        }
        // Removed between the listing and the read: nothing to record.
        let Some(value) = get(OsStr::from_bytes(key)).map_err(io_err(path, "reading an xattr"))?
        else {
            continue;
        };
        if is_opaque_key {
            opaque |= value == b"y";
        } else {
            out.push((key.to_vec(), value));
        }
    }
    out.sort();
    Ok((out, opaque))
}

/// Refuses a node that is not the one stat'ed by name (replaced in between).
fn same_inode(fd: &OwnedFd, st: &rfs::Stat, path: &[u8]) -> Result<(), PackError> {
    let now = rfs::fstat(fd).map_err(io_err(path, "stat"))?;
    if now.st_dev != st.st_dev || now.st_ino != st.st_ino || now.st_size != st.st_size {
        return Err(PackError::Changed {
            entry: String::from_utf8_lossy(path).into_owned(),
        });
    }
    Ok(())
}

/// A USTAR header with `path` (its first 100 bytes: a longer one is in the PAX record), the
/// type, and every other field zero.
fn ustar(path: &[u8], kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    let n = path.len().min(USTAR_NAME_LEN);
    h.as_old_mut().name[..n].copy_from_slice(&path[..n]);
    h.set_entry_type(kind);
    h.set_mode(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(0);
    h.set_mtime(0);
    h
}

/// PAX records: `<len> <key>=<value>\n`, `len` counting the whole record, itself included.
fn pax_data(records: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in records {
        let rest = key.len() + value.len() + 3;
        let mut len = rest + 1;
        while rest + len.to_string().len() != len {
            len = rest + len.to_string().len();
        }
        out.extend_from_slice(len.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(key);
        out.push(b'=');
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests;
