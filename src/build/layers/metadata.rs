//! What a path of the view is: the `lstat` of the entry that wins in the merged view.

use rustix::fs::{FileType, Stat, Timespec};

/// The kind of an entry. Whiteouts never appear: they hide entries instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
}

/// The metadata a copy carries over, with the identity (`dev`, `ino`, `nlink`) that tells hard
/// links apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    pub kind: NodeKind,
    /// Permission bits with setuid, setgid and sticky (`st_mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: Timespec,
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
    /// The device number of a character or block device.
    pub rdev: u64,
}

impl Metadata {
    /// `None` for a type the kernel does not name (never seen on Linux file systems).
    pub fn from_stat(st: &Stat) -> Option<Metadata> {
        let kind = match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => NodeKind::File,
            FileType::Directory => NodeKind::Dir,
            FileType::Symlink => NodeKind::Symlink,
            FileType::Fifo => NodeKind::Fifo,
            FileType::Socket => NodeKind::Socket,
            FileType::CharacterDevice => NodeKind::CharDevice,
            FileType::BlockDevice => NodeKind::BlockDevice,
            FileType::Unknown => return None,
        };
        Some(Metadata {
            kind,
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            size: if kind == NodeKind::File {
                st.st_size as u64
            } else {
                0
            },
            mtime: Timespec {
                tv_sec: st.st_mtime,
                tv_nsec: st.st_mtime_nsec as _,
            },
            dev: st.st_dev,
            ino: st.st_ino,
            nlink: st.st_nlink,
            rdev: st.st_rdev,
        })
    }
}
