//! What the runtime leaves in the step's upper dir that the command did not write: the mount
//! points it makes for the step's mounts (and its /etc files, /proc, /sys and /dev) where the
//! image has nothing, and the parent directories overlayfs copies up to hold them. BuildKit's
//! layers hold none of these (a secret's path most of all), so neither do ours.
//!
//! Which paths those are is decided before the run, from the lower layers as overlayfs shows
//! them ([`Lowers`]: whiteouts, opaque directories, symbolic links resolved inside the rootfs,
//! as the runtime resolves a mount target); after the run each of them is removed from the
//! upper dir when it is still what the runtime made: an empty directory or empty file, or a
//! copied-up directory left empty and unchanged ([`Made::remove_from`]).

use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Symbolic links followed in one path before giving up (the kernel's limit).
const MAX_LINKS: usize = 40;

/// A directory's metadata the copy-up keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DirMeta {
    mode: u32,
    uid: u32,
    gid: u32,
}

/// How a path the runtime touches stands in the lower layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Origin {
    /// Missing: the runtime makes it.
    Made,
    /// A directory: overlayfs copies it up to make something inside.
    Dir(DirMeta),
}

/// The paths (relative to the root, parents before children) the runtime makes or copies up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Made {
    pub(super) paths: Vec<(String, Origin)>,
}

/// What one path is in the union of the lower layers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Missing,
    Dir(DirMeta),
    Link(String),
    Other,
}

/// The stage's layers, topmost first, looked up as overlayfs shows them.
pub(super) struct Lowers<'a> {
    layers: &'a [PathBuf],
}

impl<'a> Lowers<'a> {
    pub(super) fn new(layers: &'a [PathBuf]) -> Lowers<'a> {
        Lowers { layers }
    }

    /// The paths the runtime makes or copies up to mount at each of `targets` (absolute paths
    /// inside the container).
    pub(super) fn made_for(&self, targets: &[String]) -> Made {
        let mut made = Made::default();
        for t in targets {
            for p in self.made_for_one(t) {
                if !made.paths.iter().any(|(q, _)| q == &p.0) {
                    made.paths.push(p);
                }
            }
        }
        made
    }

    fn made_for_one(&self, target: &str) -> Vec<(String, Origin)> {
        // The directories walked into so far, each as the lowers have it: overlayfs copies
        // them up to make something inside.
        let mut resolved: Vec<(String, DirMeta)> = Vec::new();
        let mut pending: VecDeque<String> = split(target).collect();
        let mut links = 0;
        while let Some(c) = pending.pop_front() {
            if c == ".." {
                resolved.pop();
                continue;
            }
            let mut here: Vec<String> = resolved.iter().map(|(n, _)| n.clone()).collect();
            here.push(c.clone());
            match self.entry(&here) {
                Entry::Dir(meta) => resolved.push((c, meta)),
                Entry::Link(to) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Vec::new();
                    }
                    if to.starts_with('/') {
                        resolved.clear();
                    }
                    for (i, part) in split(&to).enumerate() {
                        pending.insert(i, part);
                    }
                }
                // An existing file is mounted on as it is (nothing is made, nothing copied
                // up); one in the way of a directory fails the mount.
                Entry::Other => return Vec::new(),
                Entry::Missing => {
                    let mut out = Vec::new();
                    let mut path: Vec<String> = Vec::new();
                    for (name, meta) in resolved {
                        path.push(name);
                        out.push((path.join("/"), Origin::Dir(meta)));
                    }
                    path.push(c);
                    out.push((path.join("/"), Origin::Made));
                    for rest in pending {
                        if rest == ".." {
                            break;
                        }
                        path.push(rest);
                        out.push((path.join("/"), Origin::Made));
                    }
                    return out;
                }
            }
        }
        // The target itself exists: nothing is made for it, nor copied up.
        Vec::new()
    }

    /// What `comps` (a path without links before its last component) is in the union.
    fn entry(&self, comps: &[String]) -> Entry {
        let Some((last, parents)) = comps.split_last() else {
            return Entry::Other;
        };
        'layers: for layer in self.layers {
            let mut dir = layer.clone();
            let mut opaque = false;
            for c in parents {
                if whiteout(&dir, c) {
                    return Entry::Missing;
                }
                dir.push(c);
                match std::fs::symlink_metadata(&dir) {
                    Ok(m) if m.is_dir() => opaque |= is_opaque(&dir),
                    // Something else here hides the lower layers' directory.
                    Ok(_) => return Entry::Missing,
                    Err(_) if opaque => return Entry::Missing,
                    Err(_) => continue 'layers,
                }
            }
            if whiteout(&dir, last) {
                return Entry::Missing;
            }
            let path = dir.join(last);
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_char_device() && m.rdev() == 0 => return Entry::Missing,
                Ok(m) if m.is_dir() => return Entry::Dir(meta(&m)),
                Ok(m) if m.file_type().is_symlink() => {
                    return match std::fs::read_link(&path) {
                        Ok(to) => Entry::Link(to.to_string_lossy().into_owned()),
                        Err(_) => Entry::Other,
                    }
                }
                Ok(_) => return Entry::Other,
                Err(_) if opaque => return Entry::Missing,
                Err(_) => {}
            }
        }
        Entry::Missing
    }
}

impl Made {
    /// Removes from `upper` each path that is still only what the runtime made, deepest first;
    /// returns what could not be removed for another reason than being in use by the step's
    /// own changes.
    ///
    /// The upper dir is the container's work: each path is reached beneath it on descriptors,
    /// never through a symbolic link (a step that turned `etc` into a link to a host directory
    /// must not make us remove what lies there), and a path that cannot be reached so is left.
    pub(super) fn remove_from(&self, upper: &Path) -> Vec<String> {
        let mut paths: Vec<&(String, Origin)> = self.paths.iter().collect();
        paths.sort_by_key(|(p, _)| std::cmp::Reverse(p.matches('/').count()));
        let mut problems = Vec::new();
        let root = match rfs::open(
            upper,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(e) => return vec![format!("opening {}: {e}", upper.display())],
        };
        for (rel, origin) in paths {
            let (parent, name) = match rel.rsplit_once('/') {
                Some((parent, name)) => (parent, name),
                None => ("", rel.as_str()),
            };
            let dir = if parent.is_empty() {
                rustix::io::dup(&root)
            } else {
                rfs::openat2(
                    &root,
                    parent,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                    Mode::empty(),
                    ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_XDEV,
                )
            };
            // Gone, or reached only through a link the step made: not ours to remove.
            let Ok(dir) = dir else {
                continue;
            };
            let Ok(st) = rfs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) else {
                continue;
            };
            let kind = FileType::from_raw_mode(st.st_mode);
            let result = match origin {
                Origin::Made if kind == FileType::RegularFile && st.st_size == 0 => {
                    rfs::unlinkat(&dir, name, AtFlags::empty())
                }
                Origin::Made if kind == FileType::Directory => remove_if_empty(&dir, name),
                Origin::Dir(before)
                    if kind == FileType::Directory
                        && stat_meta(&st) == *before
                        && !opaque_at(&dir, name) =>
                {
                    remove_if_empty(&dir, name)
                }
                _ => Ok(()),
            };
            if let Err(e) = result {
                problems.push(format!("removing {}: {e}", upper.join(rel).display()));
            }
        }
        problems
    }
}

/// Removes the directory `name` of `dir` when it is empty (the step wrote into it otherwise:
/// it stays).
fn remove_if_empty(dir: &OwnedFd, name: &str) -> Result<(), Errno> {
    match rfs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Err(Errno::NOTEMPTY) | Err(Errno::EXIST) => Ok(()),
        r => r,
    }
}

/// A directory's metadata from its `stat`.
fn stat_meta(st: &rfs::Stat) -> DirMeta {
    DirMeta {
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
    }
}

/// Whether the directory `name` of `dir` is opaque (the marker or the xattr), looked at
/// without following a link.
fn opaque_at(dir: &OwnedFd, name: &str) -> bool {
    let Ok(fd) = rfs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    ) else {
        return false;
    };
    if rfs::statat(&fd, ".wh..wh..opq", AtFlags::SYMLINK_NOFOLLOW).is_ok() {
        return true;
    }
    let mut buf = [0u8; 4];
    matches!(
        rfs::fgetxattr(&fd, "trusted.overlay.opaque", &mut buf),
        Ok(1) if buf[0] == b'y'
    )
}

fn split(path: &str) -> impl Iterator<Item = String> + '_ {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(String::from)
}

fn meta(m: &std::fs::Metadata) -> DirMeta {
    DirMeta {
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
    }
}

/// Whether `dir` of one layer holds a whiteout of `name` (the OCI `.wh.` file).
fn whiteout(dir: &Path, name: &str) -> bool {
    std::fs::symlink_metadata(dir.join(format!(".wh.{name}"))).is_ok()
}

/// Whether `dir` hides the lower layers' content: the OCI marker or overlayfs's xattr.
fn is_opaque(dir: &Path) -> bool {
    if std::fs::symlink_metadata(dir.join(".wh..wh..opq")).is_ok() {
        return true;
    }
    let mut buf = [0u8; 4];
    matches!(
        rustix::fs::lgetxattr(dir, "trusted.overlay.opaque", &mut buf),
        Ok(1) if buf[0] == b'y'
    )
}
