//! The PID, IPC, UTS and cgroup namespaces a container shares with the host or with another
//! container (`pid`, `ipc`, `uts`, `cgroup`).
//!
//! A namespace of another container is entered through `/proc/<pid>/ns/<kind>` of its PID 1,
//! whose PID comes from that container's recorded state (checked against its start time by the
//! caller), never from a path a container could have written. The PID namespace must be chosen
//! before the container's first process exists (a process never changes its own PID namespace):
//! the spawner enters it for its children just around `clone3` ([`PidForChildren`]). The IPC
//! namespace and the other container's /dev/shm are taken by the set-up process itself.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::mount;
use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};

use super::error::{InitError, Step};
use super::mounter::{target_in_root, TargetKind};
use crate::engine::spec::{Namespaces, NsMode};

/// The `clone3` flags for the namespaces of `ns` that are new (the mount namespace and, unless
/// the network is shared, the network one are the caller's business).
pub fn clone_flags(ns: &Namespaces) -> libc::c_int {
    let mut flags = 0;
    for (mode, flag) in [
        (&ns.pid, libc::CLONE_NEWPID),
        (&ns.ipc, libc::CLONE_NEWIPC),
        (&ns.uts, libc::CLONE_NEWUTS),
    ] {
        if *mode == NsMode::Private {
            flags |= flag;
        }
    }
    flags
}

/// Whether the container mounts a /dev/shm of its own (not with `ipc: none`, `host` or a shared
/// IPC namespace, whose /dev/shm comes from [`mount_shared_shm`]).
pub fn own_shm(ns: &Namespaces) -> bool {
    ns.ipc == NsMode::Private && !ns.no_shm
}

/// Whether the set-up process makes a cgroup namespace of its own.
pub fn own_cgroupns(ns: &Namespaces) -> bool {
    ns.cgroup != NsMode::Host
}

/// Whether the container has a hostname of its own to set.
pub fn own_uts(ns: &Namespaces) -> bool {
    ns.uts == NsMode::Private
}

/// Fills in the PID 1 of each container joined, by its id (`None` when it is not running), just
/// before the start: it changes with each of the other container's restarts.
pub fn resolve_joins(ns: &mut Namespaces, live_pid: impl Fn(&str) -> Option<i32>) {
    for mode in [&mut ns.pid, &mut ns.ipc, &mut ns.uts, &mut ns.cgroup] {
        if let NsMode::Join { container, pid } = mode {
            *pid = live_pid(container);
        }
    }
}

/// `/proc/<pid>/ns/<kind>` of the container `mode` joins; an error when it is not running.
fn join_path(mode: &NsMode, kind: &str) -> Result<Option<PathBuf>, InitError> {
    match mode {
        NsMode::Join { container, pid } => match pid {
            Some(pid) => Ok(Some(PathBuf::from(format!("/proc/{pid}/ns/{kind}")))),
            None => Err(InitError::msg(
                Step::Namespaces,
                None,
                format!("container {container} to share the {kind} namespace of is not running"),
            )),
        },
        _ => Ok(None),
    }
}

fn open_ns(path: &Path) -> Result<OwnedFd, InitError> {
    rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| InitError::sys(Step::Namespaces, Some(path), e))
}

/// While alive, the calling thread's children are created in another container's PID namespace
/// (`pid: service:NAME`); [`PidForChildren::restore`] puts the thread back.
#[must_use = "the thread must be put back into its own PID namespace"]
pub struct PidForChildren {
    own: OwnedFd,
}

impl PidForChildren {
    /// Enters the PID namespace `ns` joins for the children of this thread; `None` when it
    /// joins none.
    pub fn enter(ns: &Namespaces) -> Result<Option<Self>, InitError> {
        let Some(path) = join_path(&ns.pid, "pid")? else {
            return Ok(None);
        };
        let theirs = open_ns(&path)?;
        let own = open_ns(Path::new("/proc/thread-self/ns/pid_for_children"))?;
        move_into_link_name_space(theirs.as_fd(), Some(LinkNameSpaceType::ProcessID))
            .map_err(|e| InitError::sys(Step::Namespaces, Some(&path), e))?;
        Ok(Some(PidForChildren { own }))
    }

    pub fn restore(self) -> Result<(), InitError> {
        move_into_link_name_space(self.own.as_fd(), Some(LinkNameSpaceType::ProcessID)).map_err(
            |e| {
                InitError::sys(
                    Step::Namespaces,
                    Some(Path::new("/proc/thread-self/ns/pid_for_children")),
                    e,
                )
            },
        )
    }
}

/// In the set-up process, before anything is mounted: enters the IPC namespace of the container
/// that `ipc: service:NAME` names.
pub fn join_ipc(ns: &Namespaces) -> Result<(), InitError> {
    let Some(path) = join_path(&ns.ipc, "ipc")? else {
        return Ok(());
    };
    let fd = open_ns(&path)?;
    move_into_link_name_space(
        fd.as_fd(),
        Some(LinkNameSpaceType::InterProcessCommunication),
    )
    .map_err(|e| InitError::sys(Step::Namespaces, Some(&path), e))
}

/// The /dev/shm of a shared IPC namespace, as Docker mounts it: the host's (`ipc: host`) or the
/// other container's own mount (`ipc: service:NAME`), so POSIX shared memory is shared as well as
/// System V's. The other container's mount is cloned from inside its mount namespace, found
/// beneath its root without following any symlink it may have planted, then moved onto ours
/// by descriptor.
pub fn mount_shared_shm(root: &OwnedFd, ns: &Namespaces) -> Result<(), InitError> {
    let shm = Path::new("/dev/shm");
    let fail = |e| InitError::sys(Step::Mounts, Some(shm), e);
    let tree = match &ns.ipc {
        NsMode::Private => return Ok(()),
        NsMode::Host => {
            // Still the host's mount table: the pivot has not happened.
            let src = rustix::fs::open(
                shm,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(fail)?;
            clone_tree(&src).map_err(fail)?
        }
        NsMode::Join { .. } => {
            let Some(path) = join_path(&ns.ipc, "mnt")? else {
                return Ok(());
            };
            let theirs = open_ns(&path)?;
            let own = open_ns(Path::new("/proc/self/ns/mnt"))?;
            move_into_link_name_space(theirs.as_fd(), Some(LinkNameSpaceType::Mount))
                .map_err(|e| InitError::sys(Step::Namespaces, Some(&path), e))?;
            let tree = their_shm();
            // Back home before looking at the result, whatever it was.
            move_into_link_name_space(own.as_fd(), Some(LinkNameSpaceType::Mount)).map_err(
                |e| InitError::sys(Step::Namespaces, Some(Path::new("/proc/self/ns/mnt")), e),
            )?;
            tree.map_err(|e| InitError::sys(Step::Mounts, Some(shm), e))?
        }
    };
    let target = target_in_root(root, "/dev/shm", TargetKind::Dir)?;
    mount::move_mount(
        &tree,
        "",
        &target,
        "",
        mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH
            | mount::MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(fail)
}

/// In the other container's mount namespace: a detached copy of its /dev/shm mount.
fn their_shm() -> Result<OwnedFd, rustix::io::Errno> {
    let root = rustix::fs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let shm = rustix::fs::openat2(
        &root,
        "dev/shm",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )?;
    clone_tree(&shm)
}

fn clone_tree(fd: &OwnedFd) -> Result<OwnedFd, rustix::io::Errno> {
    mount::open_tree(
        fd,
        "",
        mount::OpenTreeFlags::OPEN_TREE_CLONE
            | mount::OpenTreeFlags::OPEN_TREE_CLOEXEC
            | mount::OpenTreeFlags::AT_EMPTY_PATH,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join() -> NsMode {
        NsMode::Join {
            container: "c".into(),
            pid: Some(1),
        }
    }

    #[test]
    fn private_namespaces_are_new_and_shared_ones_are_not() {
        let all = libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
        assert_eq!(clone_flags(&Namespaces::default()), all);
        let ns = Namespaces {
            pid: NsMode::Host,
            ipc: join(),
            uts: NsMode::Host,
            ..Default::default()
        };
        assert_eq!(clone_flags(&ns), 0);
        assert!(!own_shm(&ns));
        assert!(!own_uts(&ns));
        let none = Namespaces {
            no_shm: true,
            ..Default::default()
        };
        assert!(!own_shm(&none));
        assert!(own_shm(&Namespaces::default()));
        assert!(!own_cgroupns(&Namespaces {
            cgroup: NsMode::Host,
            ..Default::default()
        }));
    }

    #[test]
    fn joining_a_stopped_container_is_an_error() {
        let mode = NsMode::Join {
            container: "abc".into(),
            pid: None,
        };
        let e = join_path(&mode, "pid").unwrap_err();
        assert!(e.message.contains("abc"), "{e}");
        assert_eq!(
            join_path(&join(), "ipc").unwrap(),
            Some(PathBuf::from("/proc/1/ns/ipc"))
        );
    }
}
