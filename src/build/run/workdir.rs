//! The step's state directory, `<root>/build/runs/<id>/`: what the container's set-up process
//! reads as its container directory (`upper` — a link to the caller's upper dir —, `work`,
//! `merged`, the `hosts` and `resolv.conf` it binds over /etc), the empty lower layer of a
//! `FROM scratch` stage, and what the step's mounts need on the host: overlays with a
//! throw-away upper dir (`--mount=type=bind,from=...`, a writable bind) and private copies
//! (secrets, with their owner and mode; a writable file). [`StepDir::remove`] unmounts and
//! removes all of it; dropping it without does the same and warns.
//!
//! The host mounts go through [`HostMounts`], so the bookkeeping is tested with a fake.

use std::ffi::CString;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, UnmountFlags};

/// The mounts a step makes in the caller's mount namespace (which its container's copies).
pub(super) trait HostMounts {
    /// Mounts an overlay of `lowers` (topmost first) with `upper` and `work` at `target`.
    fn overlay(
        &self,
        lowers: &[PathBuf],
        upper: &Path,
        work: &Path,
        target: &Path,
    ) -> io::Result<()>;
    fn unmount(&self, target: &Path) -> io::Result<()>;
}

/// The kernel's mount(2) and umount2(2).
pub(super) struct KernelMounts;

impl HostMounts for KernelMounts {
    fn overlay(
        &self,
        lowers: &[PathBuf],
        upper: &Path,
        work: &Path,
        target: &Path,
    ) -> io::Result<()> {
        let data = overlay_options(lowers, upper, work)?;
        let data = CString::new(data).map_err(io::Error::other)?;
        rustix::mount::mount(
            "overlay",
            target,
            "overlay",
            MountFlags::NOSUID | MountFlags::NODEV,
            data.as_c_str(),
        )
        .map_err(io::Error::from)
    }

    fn unmount(&self, target: &Path) -> io::Result<()> {
        rustix::mount::unmount(target, UnmountFlags::DETACH).map_err(io::Error::from)
    }
}

/// overlayfs's option string, refusing what it cannot take (a `:` or `,` in a path, more than
/// a page).
pub(super) fn overlay_options(lowers: &[PathBuf], upper: &Path, work: &Path) -> io::Result<String> {
    let all = lowers.iter().map(PathBuf::as_path).chain([upper, work]);
    for p in all {
        if p.to_string_lossy().contains([':', ',']) {
            return Err(io::Error::other(format!(
                "{}: overlayfs cannot take a path with ':' or ','",
                p.display()
            )));
        }
    }
    let lower: Vec<String> = lowers.iter().map(|l| l.display().to_string()).collect();
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        upper.display(),
        work.display()
    );
    if data.len() >= 4095 {
        return Err(io::Error::other(format!(
            "{} layers make an overlay option string over one page",
            lowers.len()
        )));
    }
    Ok(data)
}

/// A step's directory and the host mounts in it.
pub(super) struct StepDir<M: HostMounts> {
    mounts: M,
    dir: PathBuf,
    /// Overlays mounted, in order.
    mounted: Vec<PathBuf>,
    /// Entries made under `mounts/` and `files/` so far.
    made: usize,
    removed: bool,
}

impl<M: HostMounts> StepDir<M> {
    /// Makes `dir` (private, as all of the state root) with the container directory's layout,
    /// its `upper` a link to `upper`; with `scratch`, an empty lower layer too.
    pub(super) fn create(mounts: M, dir: &Path, upper: &Path, scratch: bool) -> io::Result<Self> {
        crate::engine::root::private_dir(dir)?;
        // From here on, a failure removes what was made (when `made` is dropped).
        let made = StepDir {
            mounts,
            dir: dir.to_path_buf(),
            mounted: Vec::new(),
            made: 0,
            removed: false,
        };
        let mut subs = vec!["work", "merged"];
        if scratch {
            subs.push("lower");
        }
        for sub in subs {
            std::fs::create_dir(dir.join(sub))?;
        }
        std::os::unix::fs::symlink(upper, dir.join("upper"))?;
        Ok(made)
    }

    pub(super) fn path(&self) -> &Path {
        &self.dir
    }

    /// The empty lower layer of a `FROM scratch` stage.
    pub(super) fn empty_lower(&self) -> PathBuf {
        self.dir.join("lower")
    }

    /// Writes the /etc files the set-up process binds over the image's.
    pub(super) fn write_etc(&self, hosts: &str, resolv_conf: &str) -> io::Result<()> {
        std::fs::write(self.dir.join("hosts"), hosts)?;
        std::fs::write(self.dir.join("resolv.conf"), resolv_conf)
    }

    /// Mounts an overlay of `lowers` with a throw-away upper dir; returns where.
    pub(super) fn overlay(&mut self, lowers: &[PathBuf]) -> io::Result<PathBuf> {
        let base = self.next("mounts")?;
        let (upper, work, merged) = (base.join("upper"), base.join("work"), base.join("merged"));
        for d in [&upper, &work, &merged] {
            std::fs::create_dir(d)?;
        }
        // An empty lower for no layers: overlayfs needs one.
        let lowers = if lowers.is_empty() {
            let empty = base.join("lower");
            std::fs::create_dir(&empty)?;
            vec![empty]
        } else {
            lowers.to_vec()
        };
        self.mounts.overlay(&lowers, &upper, &work, &merged)?;
        self.mounted.push(merged.clone());
        Ok(merged)
    }

    /// A private copy of the file `source`, with `mode` and owner when given; returns it.
    pub(super) fn copy(
        &mut self,
        source: &Path,
        mode: Option<u32>,
        owner: Option<(u32, u32)>,
    ) -> io::Result<PathBuf> {
        let base = self.next("files")?;
        let file = base.join("file");
        std::fs::copy(source, &file)?;
        if let Some(mode) = mode {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode & 0o7777))?;
        }
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&file, Some(uid), Some(gid))?;
        }
        Ok(file)
    }

    /// A new directory `<dir>/<kind>/<n>`.
    fn next(&mut self, kind: &str) -> io::Result<PathBuf> {
        self.made += 1;
        let p = self.dir.join(kind).join(self.made.to_string());
        std::fs::create_dir_all(&p)?;
        Ok(p)
    }

    /// Unmounts what it mounted and removes the directory; returns what failed. Nothing is
    /// removed beneath a mount that stays (it would reach into the layers behind it).
    pub(super) fn remove(mut self) -> Vec<String> {
        self.teardown()
    }

    fn teardown(&mut self) -> Vec<String> {
        self.removed = true;
        let mut problems = Vec::new();
        while let Some(m) = self.mounted.pop() {
            if let Err(e) = self.mounts.unmount(&m) {
                problems.push(format!("unmounting {}: {e}", m.display()));
            }
        }
        if problems.is_empty() {
            // The `upper` link goes, not what it points to.
            if let Err(e) = std::fs::remove_dir_all(&self.dir) {
                problems.push(format!("removing {}: {e}", self.dir.display()));
            }
        }
        problems
    }
}

impl<M: HostMounts> Drop for StepDir<M> {
    fn drop(&mut self) {
        if !self.removed {
            for p in self.teardown() {
                eprintln!("WARN RUN step: cleaning up: {p}");
            }
        }
    }
}
