//! Unpacking one image layer (a tar stream) into a directory laid out as an overlayfs lower
//! layer.
//!
//! Why not `tar::Archive::unpack`: a layer is untrusted input, and every path component must be
//! resolved by us, relative to a directory fd, without ever following a symlink the kernel would
//! resolve against the host. Each parent is opened with `openat(O_NOFOLLOW | O_DIRECTORY)`; a
//! symlink met on the way is followed by us, inside the layer root: an absolute target starts
//! again from the root (`var/run -> /run` makes `var/run/x` land in `run/x`, as Docker's unpack
//! in a chroot of the layer does), a relative one goes on from where the link is, and `..` can
//! never climb above the root (the walk keeps a stack of directory fds). Entries with `..`
//! components, absolute entries, and symlinks whose `..` would leave the root are refused with
//! an error that names the entry; nothing outside the root is ever created, modified or linked
//! to.
//!
//! The root is the layer's own directory, not the union of the layers below it: a layer
//! directory is shared by every image that has that layer, whatever lies under it. A parent that
//! is a symlink in a lower layer only (`var/run` of the base image) is therefore created as a
//! directory in this one, as Docker's overlay2 driver does.
//!
//! OCI whiteouts are converted to the overlayfs representation: `.wh.NAME` becomes a 0/0
//! character device `NAME`, `.wh..wh..opq` sets the opaque xattr on its directory. Whiteouts of
//! `.`, `..` or nothing are refused. Overlayfs' own xattrs (`trusted.overlay.*`,
//! `user.overlay.*`: opaque, redirect, metacopy, origin...) recorded in a layer are dropped: they
//! would change what the merged view shows (hide a lower directory, redirect a path to another
//! lower one) behind the layer's listed content, and build tools write some of them routinely
//! (`user.overlay.origin`). Only a `.wh..wh..opq` entry makes a directory opaque.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, BufRead, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Timespec, Timestamps, XattrFlags};
use rustix::io::Errno;
use thiserror::Error;

/// Symlinks followed while resolving one path, like the kernel's MAXSYMLINKS.
const MAX_SYMLINKS: usize = 40;

/// Xattr overlayfs reads to mark an opaque directory (needs CAP_SYS_ADMIN to set).
pub const OPAQUE_XATTR_TRUSTED: &str = "trusted.overlay.opaque";
/// The same in overlayfs' `userxattr` mode (rootless, user namespaces).
pub const OPAQUE_XATTR_USER: &str = "user.overlay.opaque";
/// Xattr namespaces overlayfs reads its metadata from; never taken from a layer.
const OVERLAY_XATTR_PREFIXES: [&[u8]; 2] = [b"trusted.overlay.", b"user.overlay."];

#[derive(Debug, Error)]
pub enum LayerError {
    #[error("refusing layer entry {entry:?}: {reason}")]
    Unsafe { entry: String, reason: String },
    #[error("layer entry {entry:?}: {step}: {source}")]
    Io {
        entry: String,
        step: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("layer entry {entry:?}: unsupported entry type {kind}")]
    Unsupported { entry: String, kind: String },
    #[error("reading layer tar stream: {0}")]
    Tar(#[source] io::Error),
    #[error("unsupported layer compression: {0}")]
    Compression(&'static str),
}

fn io_err<'a>(entry: &'a str, step: &'static str) -> impl FnOnce(Errno) -> LayerError + 'a {
    move |e| LayerError::Io {
        entry: entry.to_string(),
        step,
        source: e.into(),
    }
}

fn unsafe_entry(entry: &str, reason: impl Into<String>) -> LayerError {
    LayerError::Unsafe {
        entry: entry.to_string(),
        reason: reason.into(),
    }
}

/// Layer compression, told apart by magic bytes (media types are not trusted for this: docker
/// archives carry none, and some tools mislabel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Recognizes gzip and zstd; bzip2 and xz are refused (Docker cannot load them into an
    /// OCI-compatible store either).
    pub fn detect(head: &[u8]) -> Result<Compression, LayerError> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Ok(Compression::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Ok(Compression::Zstd)
        } else if head.starts_with(b"BZh") {
            Err(LayerError::Compression("bzip2"))
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Err(LayerError::Compression("xz"))
        } else {
            Ok(Compression::None)
        }
    }

    /// The OCI media type of a layer blob compressed this way.
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// Wraps `reader` in the decompressor its first bytes call for.
pub fn decompress<'a, R: BufRead + 'a>(mut reader: R) -> Result<Box<dyn Read + 'a>, LayerError> {
    let head = reader.fill_buf().map_err(LayerError::Tar)?;
    Ok(match Compression::detect(head)? {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(reader).map_err(LayerError::Tar)?)
        }
    })
}

#[derive(Debug, Clone)]
pub struct UnpackOptions {
    /// Apply the owners recorded in the tar (lchown). Like GNU tar's default, only when running
    /// as root: an unprivileged user cannot give files away.
    pub same_owner: bool,
    /// Xattr set on opaque directories.
    pub opaque_xattr: &'static str,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        let root = rustix::process::geteuid().is_root();
        UnpackOptions {
            same_owner: root,
            opaque_xattr: if root {
                OPAQUE_XATTR_TRUSTED
            } else {
                OPAQUE_XATTR_USER
            },
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Sum of the sizes of the regular files written (what `docker image ls` counts).
    pub size: u64,
    pub entries: u64,
}

/// Unpacks the (already decompressed) tar stream `reader` into the existing directory `dest`.
/// Reads the archive up to its end-of-archive marker only; a caller hashing the stream drains
/// the rest itself.
pub fn unpack<R: Read>(
    reader: R,
    dest: &Path,
    opts: &UnpackOptions,
) -> Result<UnpackStats, LayerError> {
    let root = rfs::open(
        dest,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io_err(".", "opening the layer directory"))?;
    let mut unpacker = Unpacker {
        root,
        opts: opts.clone(),
        dir_times: Vec::new(),
        stats: UnpackStats::default(),
    };
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(LayerError::Tar)? {
        let mut entry = entry.map_err(LayerError::Tar)?;
        unpacker.entry(&mut entry)?;
    }
    unpacker.finish();
    Ok(unpacker.stats)
}

/// Metadata of one entry, from its header and PAX records.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: Timespec,
    xattrs: Vec<(OsString, Vec<u8>)>,
}

struct Unpacker {
    root: OwnedFd,
    opts: UnpackOptions,
    /// Directory mtimes, applied at the end: creating children changes them.
    dir_times: Vec<(Vec<OsString>, Timespec)>,
    stats: UnpackStats,
}

/// Splits an entry path into its normal components, refusing absolute paths and `..`.
fn components(entry: &str, raw: &[u8]) -> Result<Vec<OsString>, LayerError> {
    let mut out = Vec::new();
    for c in Path::new(OsStr::from_bytes(raw)).components() {
        match c {
            Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_entry(entry, "absolute path"))
            }
            Component::ParentDir => return Err(unsafe_entry(entry, "path has a '..' component")),
            Component::CurDir => {}
            Component::Normal(n) => out.push(n.to_os_string()),
        }
    }
    Ok(out)
}

fn open_dir_nofollow<Fd: AsFd>(dir: Fd, name: &OsStr) -> Result<OwnedFd, Errno> {
    rfs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

fn stat_nofollow<Fd: AsFd>(dir: Fd, name: &OsStr) -> Result<Option<rfs::Stat>, Errno> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes `name` in `dir` and, when it is a directory, everything below it, without following
/// symlinks.
pub(crate) fn remove_all_at<Fd: AsFd>(dir: Fd, name: &OsStr) -> Result<(), Errno> {
    let st = match stat_nofollow(&dir, name)? {
        Some(st) => st,
        None => return Ok(()),
    };
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return rfs::unlinkat(&dir, name, AtFlags::empty());
    }
    let fd = open_dir_nofollow(&dir, name)?;
    let mut names = Vec::new();
    for item in rfs::Dir::read_from(&fd)? {
        let item = item?;
        let n = item.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsString::from_vec(n.to_vec()));
        }
    }
    for n in names {
        remove_all_at(&fd, &n)?;
    }
    rfs::unlinkat(&dir, name, AtFlags::REMOVEDIR)
}

fn ignorable_xattr_error(e: Errno) -> bool {
    // "Where the filesystem allows": no xattr support, or no privilege for the namespace.
    matches!(
        e,
        Errno::NOTSUP | Errno::PERM | Errno::ACCESS | Errno::INVAL
    )
}

impl Unpacker {
    /// Opens the directory `comps` (relative to the root), creating missing directories when
    /// `create` is set. Symlinks on the way are followed only inside the root.
    fn resolve_dir(
        &self,
        entry: &str,
        comps: &[OsString],
        create: bool,
    ) -> Result<OwnedFd, LayerError> {
        let mut stack: Vec<OwnedFd> = vec![open_dir_nofollow(&self.root, OsStr::new("."))
            .map_err(io_err(entry, "opening the layer root"))?];
        let mut queue: VecDeque<OsString> = comps.iter().cloned().collect();
        let mut links = 0;
        while let Some(c) = queue.pop_front() {
            if c.is_empty() || c == "." {
                continue;
            }
            if c == ".." {
                if stack.len() == 1 {
                    return Err(unsafe_entry(
                        entry,
                        "a symlink in its parent path leads outside the layer root",
                    ));
                }
                stack.pop();
                continue;
            }
            let top = stack.last().expect("the stack always holds the root");
            let st = stat_nofollow(top, &c).map_err(io_err(entry, "stat of a parent directory"))?;
            let fd = match st.map(|st| FileType::from_raw_mode(st.st_mode)) {
                None if create => {
                    match rfs::mkdirat(top, &c, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(io_err(entry, "creating a parent directory")(e)),
                    }
                    open_dir_nofollow(top, &c)
                        .map_err(io_err(entry, "opening a parent directory"))?
                }
                None => {
                    return Err(io_err(entry, "resolving a parent directory")(Errno::NOENT));
                }
                Some(FileType::Directory) => open_dir_nofollow(top, &c)
                    .map_err(io_err(entry, "opening a parent directory"))?,
                Some(FileType::Symlink) => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(unsafe_entry(entry, "too many levels of symlinks"));
                    }
                    let target = rfs::readlinkat(top, &c, Vec::new())
                        .map_err(io_err(entry, "reading a symlink in the parent path"))?;
                    let target = target.into_bytes();
                    if target.first() == Some(&b'/') {
                        // Absolute: from the layer root, as the image's own root sees it.
                        stack.truncate(1);
                    }
                    for part in target.split(|&b| b == b'/').rev() {
                        queue.push_front(OsString::from_vec(part.to_vec()));
                    }
                    continue;
                }
                Some(_) => {
                    return Err(io_err(entry, "resolving a parent directory")(Errno::NOTDIR));
                }
            };
            stack.push(fd);
        }
        Ok(stack.pop().expect("the stack always holds the root"))
    }

    fn meta<R: Read>(entry: &mut tar::Entry<'_, R>, name: &str) -> Result<Meta, LayerError> {
        let header = entry.header();
        let bad = |step: &'static str| {
            move |e: io::Error| LayerError::Io {
                entry: name.to_string(),
                step,
                source: e,
            }
        };
        let raw = header.as_old();
        let mode = lenient(header.mode().map(u64::from), &raw.mode)
            .map_err(bad("reading the mode"))? as u32;
        let mut uid = lenient(header.uid(), &raw.uid).map_err(bad("reading the owner"))?;
        let mut gid = lenient(header.gid(), &raw.gid).map_err(bad("reading the group"))?;
        let mut mtime = Timespec {
            tv_sec: lenient(header.mtime(), &raw.mtime).map_err(bad("reading the mtime"))? as i64,
            tv_nsec: 0,
        };
        let mut xattrs = Vec::new();
        if let Some(exts) = entry.pax_extensions().map_err(LayerError::Tar)? {
            for ext in exts {
                let ext = ext.map_err(LayerError::Tar)?;
                let key = ext.key_bytes();
                let value = ext.value_bytes();
                if let Some(x) = key.strip_prefix(b"SCHILY.xattr.") {
                    if OVERLAY_XATTR_PREFIXES.iter().any(|p| x.starts_with(p)) {
                        continue;
                    }
                    xattrs.push((OsString::from_vec(x.to_vec()), value.to_vec()));
                } else if key == b"uid" || key == b"gid" {
                    let n = std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.parse::<u64>().ok())
                        .ok_or_else(|| unsafe_entry(name, "invalid PAX uid/gid record"))?;
                    if key == b"uid" {
                        uid = n;
                    } else {
                        gid = n;
                    }
                } else if key == b"mtime" {
                    if let Some(ts) = std::str::from_utf8(value).ok().and_then(parse_pax_time) {
                        mtime = ts;
                    }
                }
            }
        }
        let uid = u32::try_from(uid).map_err(|_| unsafe_entry(name, "owner id out of range"))?;
        let gid = u32::try_from(gid).map_err(|_| unsafe_entry(name, "group id out of range"))?;
        Ok(Meta {
            mode: mode & 0o7777,
            uid,
            gid,
            mtime,
            xattrs,
        })
    }

    /// Owner, mode and xattrs through an open fd (regular files and directories). The mode is
    /// set after the owner because chown clears set-id bits; xattrs after both because chown
    /// clears `security.capability`.
    fn apply_fd_meta(&self, fd: &OwnedFd, meta: &Meta, name: &str) -> Result<(), LayerError> {
        if self.opts.same_owner {
            rfs::fchown(
                fd,
                Some(rfs::Uid::from_raw(meta.uid)),
                Some(rfs::Gid::from_raw(meta.gid)),
            )
            .map_err(io_err(name, "chown"))?;
        }
        rfs::fchmod(fd, Mode::from_raw_mode(meta.mode)).map_err(io_err(name, "chmod"))?;
        for (key, value) in &meta.xattrs {
            match rfs::fsetxattr(fd, key.as_os_str(), value, XattrFlags::empty()) {
                Ok(()) => {}
                Err(e) if ignorable_xattr_error(e) => {}
                Err(e) => return Err(io_err(name, "setting an xattr")(e)),
            }
        }
        Ok(())
    }

    /// Owner and xattrs of a node that cannot be opened (symlink, device, fifo), by name in
    /// its parent. Xattrs go through the parent's /proc/self/fd link with `lsetxattr`, which
    /// does not follow the final component.
    fn apply_name_meta(
        &self,
        parent: &OwnedFd,
        leaf: &OsStr,
        meta: &Meta,
        name: &str,
    ) -> Result<(), LayerError> {
        if self.opts.same_owner {
            rfs::chownat(
                parent,
                leaf,
                Some(rfs::Uid::from_raw(meta.uid)),
                Some(rfs::Gid::from_raw(meta.gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(io_err(name, "lchown"))?;
        }
        if !meta.xattrs.is_empty() {
            use std::os::fd::AsRawFd;
            let mut path = format!("/proc/self/fd/{}/", parent.as_raw_fd()).into_bytes();
            path.extend_from_slice(leaf.as_bytes());
            let path = OsString::from_vec(path);
            for (key, value) in &meta.xattrs {
                match rfs::lsetxattr(&path, key.as_os_str(), value, XattrFlags::empty()) {
                    Ok(()) => {}
                    Err(e) if ignorable_xattr_error(e) || e == Errno::NOENT => {}
                    Err(e) => return Err(io_err(name, "setting an xattr")(e)),
                }
            }
        }
        rfs::utimensat(
            parent,
            leaf,
            &Timestamps {
                last_access: meta.mtime,
                last_modification: meta.mtime,
            },
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(io_err(name, "setting the mtime"))
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), LayerError> {
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let name = name.as_str();
        let kind = entry.header().entry_type();
        let comps = components(name, &raw)?;
        let meta = Self::meta(entry, name)?;
        self.stats.entries += 1;

        let Some((leaf, parent_comps)) = comps.split_last() else {
            // `./`: the layer root itself.
            if !kind.is_dir() {
                return Err(unsafe_entry(
                    name,
                    "a non-directory entry names the layer root",
                ));
            }
            let root = open_dir_nofollow(&self.root, OsStr::new("."))
                .map_err(io_err(name, "opening the layer root"))?;
            self.apply_fd_meta(&root, &meta, name)?;
            self.dir_times.push((Vec::new(), meta.mtime));
            return Ok(());
        };
        let parent = self.resolve_dir(name, parent_comps, true)?;

        if let Some(target) = leaf.as_bytes().strip_prefix(b".wh.") {
            return self.whiteout(&parent, target, name);
        }

        if let Some(st) = stat_nofollow(&parent, leaf).map_err(io_err(name, "stat"))? {
            let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
            if !(is_dir && kind.is_dir()) {
                remove_all_at(&parent, leaf).map_err(io_err(name, "replacing an earlier entry"))?;
            }
        }

        use tar::EntryType as T;
        match kind {
            T::Regular | T::Continuous | T::GNUSparse => {
                let fd = rfs::openat(
                    &parent,
                    leaf,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(io_err(name, "creating the file"))?;
                let mut file = File::from(fd);
                let n = io::copy(entry, &mut file).map_err(|e| LayerError::Io {
                    entry: name.to_string(),
                    step: "writing the file",
                    source: e,
                })?;
                self.stats.size += n;
                let fd = OwnedFd::from(file);
                self.apply_fd_meta(&fd, &meta, name)?;
                rfs::futimens(
                    &fd,
                    &Timestamps {
                        last_access: meta.mtime,
                        last_modification: meta.mtime,
                    },
                )
                .map_err(io_err(name, "setting the mtime"))?;
            }
            T::Directory => {
                match rfs::mkdirat(&parent, leaf, Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(io_err(name, "creating the directory")(e)),
                }
                let fd = open_dir_nofollow(&parent, leaf)
                    .map_err(io_err(name, "opening the directory"))?;
                self.apply_fd_meta(&fd, &meta, name)?;
                self.dir_times.push((comps.clone(), meta.mtime));
            }
            T::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| unsafe_entry(name, "symlink without a target"))?
                    .into_owned();
                // The target is stored verbatim: it is resolved later inside the container's
                // mount namespace, never by us.
                rfs::symlinkat(OsStr::from_bytes(&target), &parent, leaf)
                    .map_err(io_err(name, "creating the symlink"))?;
                self.apply_name_meta(&parent, leaf, &meta, name)?;
            }
            T::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| unsafe_entry(name, "hard link without a target"))?
                    .into_owned();
                let tname = String::from_utf8_lossy(&target).into_owned();
                let tcomps = components(name, &target).map_err(|_| {
                    unsafe_entry(
                        name,
                        format!("hard link target {tname:?} is outside the layer root"),
                    )
                })?;
                let Some((tleaf, tparent_comps)) = tcomps.split_last() else {
                    return Err(unsafe_entry(name, "hard link to the layer root"));
                };
                if tcomps == comps {
                    return Ok(());
                }
                let tparent =
                    self.resolve_dir(name, tparent_comps, false)
                        .map_err(|e| match e {
                            LayerError::Unsafe { reason, .. } => {
                                unsafe_entry(name, format!("hard link target {tname:?}: {reason}"))
                            }
                            other => other,
                        })?;
                rfs::linkat(&tparent, tleaf, &parent, leaf, AtFlags::empty())
                    .map_err(io_err(name, "creating the hard link"))?;
            }
            T::Char | T::Block | T::Fifo => {
                let (ftype, dev) = match kind {
                    T::Fifo => (FileType::Fifo, 0),
                    _ => {
                        let h = entry.header();
                        let bad = |e: io::Error| LayerError::Io {
                            entry: name.to_string(),
                            step: "reading device numbers",
                            source: e,
                        };
                        let major = h.device_major().map_err(bad)?.unwrap_or(0);
                        let minor = h.device_minor().map_err(bad)?.unwrap_or(0);
                        let ftype = if kind == T::Char {
                            FileType::CharacterDevice
                        } else {
                            FileType::BlockDevice
                        };
                        (ftype, rfs::makedev(major, minor))
                    }
                };
                rfs::mknodat(&parent, leaf, ftype, Mode::from_raw_mode(0o600), dev)
                    .map_err(io_err(name, "mknod"))?;
                self.apply_name_meta(&parent, leaf, &meta, name)?;
                rfs::chmodat(
                    &parent,
                    leaf,
                    Mode::from_raw_mode(meta.mode),
                    AtFlags::empty(),
                )
                .map_err(io_err(name, "chmod"))?;
            }
            other => {
                return Err(LayerError::Unsupported {
                    entry: name.to_string(),
                    kind: format!("{other:?}"),
                })
            }
        }
        Ok(())
    }

    fn whiteout(&mut self, parent: &OwnedFd, target: &[u8], name: &str) -> Result<(), LayerError> {
        if target == b".wh..opq" {
            return match rfs::fsetxattr(parent, self.opts.opaque_xattr, b"y", XattrFlags::empty()) {
                Ok(()) => Ok(()),
                Err(e) => Err(io_err(name, "marking the directory opaque")(e)),
            };
        }
        if target.starts_with(b".wh.") {
            // Other AUFS metadata (`.wh..wh.plnk` etc.) has no meaning for overlayfs.
            return Ok(());
        }
        if matches!(target, b"" | b"." | b"..") {
            // `.wh...` would remove the parent's parent (outside the root at the top), `.wh..`
            // the directory itself.
            return Err(unsafe_entry(
                name,
                format!(
                    "whiteout of {:?}: a whiteout names an entry of its directory",
                    String::from_utf8_lossy(target)
                ),
            ));
        }
        let target = OsStr::from_bytes(target);
        remove_all_at(parent, target).map_err(io_err(name, "removing the whited-out path"))?;
        rfs::mknodat(
            parent,
            target,
            FileType::CharacterDevice,
            Mode::empty(),
            rfs::makedev(0, 0),
        )
        .map_err(io_err(name, "creating the whiteout device"))
    }

    fn finish(&mut self) {
        for (comps, mtime) in std::mem::take(&mut self.dir_times).into_iter().rev() {
            // Best effort: a directory replaced later in the stream may be gone.
            if let Ok(fd) = self.resolve_dir("", &comps, false) {
                let _ = rfs::futimens(
                    &fd,
                    &Timestamps {
                        last_access: mtime,
                        last_modification: mtime,
                    },
                );
            }
        }
    }
}

/// `1700000000.123456789` (PAX `mtime`).
fn parse_pax_time(s: &str) -> Option<Timespec> {
    let (secs, frac) = match s.split_once('.') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    let tv_sec: i64 = secs.parse().ok()?;
    let mut digits: String = frac.chars().take(9).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    while digits.len() < 9 {
        digits.push('0');
    }
    Some(Timespec {
        tv_sec,
        tv_nsec: digits.parse().ok()?,
    })
}

/// A numeric header field, with an empty one (all NUL or spaces) read as 0, as Go's
/// archive/tar reads it: layers written by such tools reach us from registries.
fn lenient(parsed: io::Result<u64>, raw: &[u8]) -> io::Result<u64> {
    match parsed {
        Err(_) if raw.iter().all(|&b| b == 0 || b == b' ') => Ok(0),
        other => other,
    }
}

#[cfg(test)]
mod tests;
