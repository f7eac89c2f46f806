//! A [`Mounter`] that performs nothing and records every call, so tests assert the mounts the
//! set-up would make (order, targets, flags, data) without root. Targets are the paths they
//! name inside the container; what exists there and what it is comes from the fake's fields.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rustix::fs::FileType;
use rustix::io::Errno;
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};

use super::error::InitError;
use super::mounter::{Mounter, Node, TargetKind};

/// One call the code under test made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Chdir(String),
    Mount {
        source: String,
        target: String,
        fstype: String,
        flags: MountFlags,
        data: String,
    },
    Bind {
        source: String,
        target: String,
        recursive: bool,
    },
    BindTree {
        source: String,
        target: String,
    },
    Remount {
        target: String,
        flags: MountFlags,
        data: String,
    },
    Propagate {
        target: String,
        flags: MountPropagationFlags,
    },
    PivotRoot {
        new_root: String,
        put_old: String,
    },
    Unmount {
        target: String,
        flags: UnmountFlags,
    },
    MakeNode {
        path: String,
        node: Node,
    },
    Unlink(String),
    Symlink {
        target: String,
        path: String,
    },
    CreateSourceDir(String),
}

/// The recording fake. Every path exists as a regular file unless listed in `dirs` (a
/// directory) or `missing`; /dev/null is the null device unless `null` says otherwise.
#[derive(Debug, Default)]
pub struct FakeMounter {
    pub calls: RefCell<Vec<Call>>,
    /// Every target resolved inside the root, with the kind it would be created as.
    pub resolved: RefCell<Vec<(String, TargetKind)>>,
    /// Paths (in the container, or a host bind source, or a volume's data) that are directories.
    pub dirs: BTreeSet<String>,
    /// Paths that do not exist (not found by `open_no_follow`, host sources not there).
    pub missing: BTreeSet<String>,
    /// The names `list_dir` returns, by directory.
    pub listing: BTreeMap<String, Vec<String>>,
    /// A remount whose flags contain all of these fails with `EPERM` (as on a mount the kernel
    /// keeps `nosuid`, which refuses dropping it).
    pub refuse_remount: Option<MountFlags>,
    /// Type and device number /dev/null stats as (`None`: the null device).
    pub null: Option<(FileType, u64)>,
}

fn show(p: &Path) -> String {
    p.display().to_string()
}

impl FakeMounter {
    pub fn record(&self, call: Call) {
        self.calls.borrow_mut().push(call);
    }

    /// The calls made so far, leaving the record empty.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.borrow_mut())
    }
}

/// `Call::Mount` in one line, for expected lists.
pub fn mount(source: &str, target: &str, fstype: &str, flags: MountFlags, data: &str) -> Call {
    Call::Mount {
        source: source.into(),
        target: target.into(),
        fstype: fstype.into(),
        flags,
        data: data.into(),
    }
}

impl Mounter for FakeMounter {
    type Target = String;

    fn chdir(&self, dir: &Path) -> Result<(), Errno> {
        self.record(Call::Chdir(show(dir)));
        Ok(())
    }

    fn open_root(&self, dir: &Path) -> Result<String, Errno> {
        Ok(show(dir))
    }

    fn resolve(&self, _root: &String, path: &str, kind: TargetKind) -> Result<String, InitError> {
        self.resolved.borrow_mut().push((path.to_string(), kind));
        Ok(path.to_string())
    }

    fn open_no_follow(&self, _root: &String, path: &str) -> Result<Option<String>, Errno> {
        Ok((!self.missing.contains(path)).then(|| path.to_string()))
    }

    fn stat(&self, target: &String) -> Result<(FileType, u64), Errno> {
        if target == "/dev/null" {
            return Ok(self
                .null
                .unwrap_or((FileType::CharacterDevice, rustix::fs::makedev(1, 3))));
        }
        if self.dirs.contains(target) {
            Ok((FileType::Directory, 0))
        } else {
            Ok((FileType::RegularFile, 0))
        }
    }

    fn list_dir(&self, dir: &Path) -> Vec<String> {
        self.listing.get(&show(dir)).cloned().unwrap_or_default()
    }

    fn source_path(&self, target: &String) -> PathBuf {
        PathBuf::from(target)
    }

    fn mount_at(
        &self,
        source: &str,
        target: &Path,
        fstype: &str,
        flags: MountFlags,
        data: &str,
    ) -> Result<(), Errno> {
        self.record(mount(source, &show(target), fstype, flags, data));
        Ok(())
    }

    fn mount(
        &self,
        source: &str,
        target: &String,
        fstype: &str,
        flags: MountFlags,
        data: &str,
    ) -> Result<(), Errno> {
        self.record(mount(source, target, fstype, flags, data));
        Ok(())
    }

    fn bind(&self, source: &Path, target: &String, recursive: bool) -> Result<(), Errno> {
        self.record(Call::Bind {
            source: show(source),
            target: target.clone(),
            recursive,
        });
        Ok(())
    }

    fn bind_tree(&self, source: &String, target: &String) -> Result<(), Errno> {
        self.record(Call::BindTree {
            source: source.clone(),
            target: target.clone(),
        });
        Ok(())
    }

    fn remount(&self, target: &String, flags: MountFlags, data: &str) -> Result<(), Errno> {
        self.record(Call::Remount {
            target: target.clone(),
            flags,
            data: data.into(),
        });
        match self.refuse_remount {
            Some(refused) if flags.contains(refused) => Err(Errno::PERM),
            _ => Ok(()),
        }
    }

    fn remount_at(&self, target: &Path, flags: MountFlags, data: &str) -> Result<(), Errno> {
        self.remount(&show(target), flags, data)
    }

    fn propagate(&self, target: &String, flags: MountPropagationFlags) -> Result<(), Errno> {
        self.record(Call::Propagate {
            target: target.clone(),
            flags,
        });
        Ok(())
    }

    fn propagate_at(&self, target: &Path, flags: MountPropagationFlags) -> Result<(), Errno> {
        self.propagate(&show(target), flags)
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno> {
        self.record(Call::PivotRoot {
            new_root: show(new_root),
            put_old: show(put_old),
        });
        Ok(())
    }

    fn unmount_at(&self, target: &Path, flags: UnmountFlags) -> Result<(), Errno> {
        self.record(Call::Unmount {
            target: show(target),
            flags,
        });
        Ok(())
    }

    fn open_dir(&self, target: &String) -> Result<String, Errno> {
        Ok(target.clone())
    }

    fn make_node(&self, dir: &String, name: &str, node: Node) -> Result<(), Errno> {
        self.record(Call::MakeNode {
            path: format!("{dir}/{name}"),
            node,
        });
        Ok(())
    }

    fn unlink(&self, dir: &String, name: &str) -> Result<(), Errno> {
        self.record(Call::Unlink(format!("{dir}/{name}")));
        Ok(())
    }

    fn symlink(&self, target: &str, dir: &String, name: &str) -> Result<(), Errno> {
        self.record(Call::Symlink {
            target: target.into(),
            path: format!("{dir}/{name}"),
        });
        Ok(())
    }

    fn source_exists(&self, source: &Path) -> bool {
        !self.missing.contains(&show(source))
    }

    fn create_source_dir(&self, source: &Path) -> std::io::Result<()> {
        self.record(Call::CreateSourceDir(show(source)));
        Ok(())
    }

    fn source_is_dir(&self, source: &Path) -> std::io::Result<bool> {
        Ok(self.dirs.contains(&show(source)))
    }

    fn open_volume(
        &self,
        volume: &Path,
        subpath: Option<&str>,
        _create: bool,
    ) -> Result<String, InitError> {
        let data = volume.join(crate::engine::spec::VOLUME_DATA);
        Ok(show(&subpath.map_or(data.clone(), |s| data.join(s))))
    }
}
