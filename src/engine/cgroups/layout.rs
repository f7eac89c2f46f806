//! Which cgroup hierarchies this host has and where they are mounted, detected once per process
//! from `/proc/self/mountinfo` (and `/proc/self/cgroup`, for the process's own cgroups).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::CgroupError;

/// The three layouts hosts run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutKind {
    /// cgroup2 only (at /sys/fs/cgroup): what current distributions run.
    Unified,
    /// cgroup v1 controllers only.
    Legacy,
    /// cgroup v1 controllers plus a cgroup2 hierarchy without controllers (usually at
    /// /sys/fs/cgroup/unified), which systemd uses for process tracking.
    Hybrid,
}

/// One mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// v1 controllers bound to it (`["cpu", "cpuacct"]` when co-mounted); empty for cgroup2.
    pub controllers: Vec<String>,
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The cgroup the mount shows at `mount_point` (mountinfo's 4th field; `/` except in
    /// containers and bind mounts).
    pub root: String,
    /// This process's cgroup in the hierarchy (from /proc/self/cgroup), when known.
    pub own: Option<String>,
}

impl Hierarchy {
    /// The directory of a cgroup path of this hierarchy (as `/proc/<pid>/cgroup` spells it),
    /// or `None` when the mount does not show it (it lies outside the mount's root).
    pub fn dir_of(&self, cgroup: &str) -> Option<PathBuf> {
        let root = self.root.trim_end_matches('/');
        let rest = cgroup.strip_prefix(root)?;
        if !rest.is_empty() && !rest.starts_with('/') {
            return None;
        }
        let rest = rest.trim_start_matches('/');
        Some(if rest.is_empty() {
            self.mount_point.clone()
        } else {
            self.mount_point.join(rest)
        })
    }

    /// This process's own cgroup directory, falling back to the mount point.
    pub fn own_dir(&self) -> PathBuf {
        self.own
            .as_deref()
            .and_then(|own| self.dir_of(own))
            .unwrap_or_else(|| self.mount_point.clone())
    }

    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// The detected layout. Detect once ([`Layout::detect`]) and pass it around: it costs two file
/// reads, which container start-up should not repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub kind: LayoutKind,
    /// v1 hierarchies that have at least one controller (named ones like `name=systemd` are left
    /// out), one entry per hierarchy.
    pub v1: Vec<Hierarchy>,
    /// The cgroup2 hierarchy, if mounted.
    pub unified: Option<Hierarchy>,
}

/// v1 controllers the kernel knows; everything else in a cgroup mount's options is an option.
const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

impl Layout {
    /// Reads this process's mountinfo and cgroup membership.
    pub fn detect() -> Result<Layout, CgroupError> {
        let read = |path: &str| {
            std::fs::read_to_string(path).map_err(|source| CgroupError::Read {
                path: PathBuf::from(path),
                source,
            })
        };
        let mountinfo = read("/proc/self/mountinfo")?;
        // Membership is optional: without it the anchor falls back to the mount points.
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        Layout::from_mountinfo(&mountinfo, &own)
    }

    /// Layout from the text of a mountinfo file and of a `/proc/<pid>/cgroup` file.
    pub fn from_mountinfo(mountinfo: &str, proc_cgroup: &str) -> Result<Layout, CgroupError> {
        let mut v1: Vec<Hierarchy> = Vec::new();
        let mut unified: Option<Hierarchy> = None;
        for (n, line) in mountinfo.lines().enumerate() {
            let Some(mount) = parse_mountinfo_line(line) else {
                if line.trim().is_empty() {
                    continue;
                }
                return Err(CgroupError::Parse {
                    path: PathBuf::from("/proc/self/mountinfo"),
                    detail: format!("line {}: {line:?}", n + 1),
                });
            };
            match mount.fstype.as_str() {
                "cgroup2" => {
                    let h = Hierarchy {
                        controllers: Vec::new(),
                        mount_point: mount.mount_point,
                        root: mount.root,
                        own: None,
                    };
                    unified = Some(better(unified, h));
                }
                "cgroup" => {
                    let mut controllers: Vec<String> = mount
                        .super_options
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o))
                        .map(str::to_string)
                        .collect();
                    if controllers.is_empty() {
                        continue;
                    }
                    controllers.sort();
                    let h = Hierarchy {
                        controllers,
                        mount_point: mount.mount_point,
                        root: mount.root,
                        own: None,
                    };
                    // The same hierarchy mounted twice: keep the mount that shows the most.
                    match v1.iter().position(|o| o.controllers == h.controllers) {
                        Some(i) => {
                            let old = v1.remove(i);
                            v1.insert(i, better(Some(old), h));
                        }
                        None => v1.push(h),
                    }
                }
                _ => {}
            }
        }
        // Own membership: "id:ctrl,ctrl:/path" for v1, "0::/path" for cgroup2.
        for line in proc_cgroup.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if ctrls.is_empty() {
                if let Some(u) = unified.as_mut() {
                    u.own = Some(path.to_string());
                }
                continue;
            }
            let mut ctrls: Vec<&str> = ctrls.split(',').filter(|c| !c.contains('=')).collect();
            ctrls.sort_unstable();
            if let Some(h) = v1.iter_mut().find(|h| h.controllers == ctrls) {
                h.own = Some(path.to_string());
            }
        }
        let kind = match (v1.is_empty(), unified.is_some()) {
            (false, true) => LayoutKind::Hybrid,
            (false, false) => LayoutKind::Legacy,
            (true, true) => LayoutKind::Unified,
            (true, false) => {
                return Err(CgroupError::NoHierarchy(
                    "no cgroup or cgroup2 filesystem is mounted".to_string(),
                ))
            }
        };
        Ok(Layout { kind, v1, unified })
    }

    /// A unified layout rooted at `dir` (tests: a temporary directory laid out like cgroupfs).
    pub fn unified_at(dir: &Path) -> Layout {
        Layout {
            kind: LayoutKind::Unified,
            v1: Vec::new(),
            unified: Some(Hierarchy {
                controllers: Vec::new(),
                mount_point: dir.to_path_buf(),
                root: "/".to_string(),
                own: None,
            }),
        }
    }

    /// A legacy layout with each controller mounted at `dir/<controller>`.
    pub fn legacy_at(dir: &Path, controllers: &[&str]) -> Layout {
        Layout {
            kind: LayoutKind::Legacy,
            v1: controllers
                .iter()
                .map(|c| Hierarchy {
                    controllers: vec![c.to_string()],
                    mount_point: dir.join(c),
                    root: "/".to_string(),
                    own: None,
                })
                .collect(),
            unified: None,
        }
    }

    /// The v1 hierarchy a controller is bound to.
    pub fn v1_hierarchy(&self, controller: &str) -> Option<&Hierarchy> {
        self.v1.iter().find(|h| h.has(controller))
    }

    /// Whether block I/O can be weighted here: v1's `blkio.weight` (CFQ) or `blkio.bfq.weight`
    /// (BFQ), or v2's io controller. Asked before a service with `blkio_config.weight` starts,
    /// so the weight is warned about rather than dropped in the monitor unseen.
    pub fn block_io_weight(&self) -> bool {
        if let Some(h) = self.v1_hierarchy("blkio") {
            let dir = h.own_dir();
            return ["blkio.weight", "blkio.bfq.weight"]
                .iter()
                .any(|f| dir.join(f).exists() || h.mount_point.join(f).exists());
        }
        self.unified.as_ref().is_some_and(|u| {
            std::fs::read_to_string(u.mount_point.join("cgroup.controllers"))
                .is_ok_and(|c| c.split_whitespace().any(|c| c == "io"))
        })
    }
}

/// Of two mounts of one hierarchy, the one that shows more of it (the shortest root), the
/// first one on a tie.
fn better(old: Option<Hierarchy>, new: Hierarchy) -> Hierarchy {
    match old {
        Some(old) if old.root.len() <= new.root.len() => old,
        _ => new,
    }
}

struct Mount {
    root: String,
    mount_point: PathBuf,
    fstype: String,
    super_options: String,
}

/// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
fn parse_mountinfo_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let mut l = left.split(' ');
    let _id = l.next()?;
    let _parent = l.next()?;
    let _dev = l.next()?;
    let root = unescape(l.next()?);
    let mount_point = PathBuf::from(unescape(l.next()?));
    let mut r = right.split(' ');
    let fstype = r.next()?.to_string();
    let _source = r.next()?;
    let super_options = r.next().unwrap_or("").to_string();
    Some(Mount {
        root,
        mount_point,
        fstype,
        super_options,
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo` octal.
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            let oct = &bytes[i + 1..i + 4];
            if oct.iter().all(|b| (b'0'..=b'7').contains(b)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One cgroup filesystem to mount under the container's /sys/fs/cgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupMount {
    /// `cgroup` (v1) or `cgroup2`.
    pub fstype: String,
    /// Mount options: the v1 controllers (`memory`, `cpu,cpuacct`, `none,name=systemd`).
    pub options: String,
    /// Directory under /sys/fs/cgroup (`memory`); empty for a unified host's cgroup2 itself.
    pub dir: String,
}

impl CgroupMount {
    /// The mounts matching the host's layout.
    pub fn for_layout(layout: &Layout) -> Vec<CgroupMount> {
        let name = |h: &Hierarchy| {
            h.mount_point
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let mut out: Vec<CgroupMount> = layout
            .v1
            .iter()
            .filter(|h| !h.controllers.is_empty())
            .map(|h| {
                let named_only = h.controllers.iter().all(|c| c.starts_with("name="));
                let options = if named_only {
                    format!("none,{}", h.controllers.join(","))
                } else {
                    h.controllers.join(",")
                };
                CgroupMount {
                    fstype: "cgroup".into(),
                    options,
                    dir: name(h),
                }
            })
            .collect();
        if let Some(u) = &layout.unified {
            out.push(CgroupMount {
                fstype: "cgroup2".into(),
                options: String::new(),
                dir: if layout.kind == LayoutKind::Unified {
                    String::new()
                } else {
                    name(u)
                },
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const HYBRID_SELF: &str = "\
9:name=systemd:/
8:pids:/
4:memory:/process_api/5934
1:cpu:/
0::/
";

    #[test]
    fn hybrid() {
        let l = Layout::from_mountinfo(HYBRID, HYBRID_SELF).unwrap();
        assert_eq!(l.kind, LayoutKind::Hybrid);
        assert_eq!(l.v1.len(), 8);
        let mem = l.v1_hierarchy("memory").unwrap();
        assert_eq!(mem.mount_point, Path::new("/sys/fs/cgroup/memory"));
        assert_eq!(
            mem.own_dir(),
            Path::new("/sys/fs/cgroup/memory/process_api/5934")
        );
        assert_eq!(
            l.v1_hierarchy("pids").unwrap().own_dir(),
            Path::new("/sys/fs/cgroup/pids")
        );
        let u = l.unified.as_ref().unwrap();
        assert_eq!(u.mount_point, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(u.own.as_deref(), Some("/"));
        assert!(l.v1_hierarchy("hugetlb").is_none());
    }

    #[test]
    fn unified_legacy_and_comounted() {
        let unified = "25 20 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let l = Layout::from_mountinfo(unified, "0::/user.slice/x.scope\n").unwrap();
        assert_eq!(l.kind, LayoutKind::Unified);
        assert_eq!(
            l.unified.unwrap().own_dir(),
            Path::new("/sys/fs/cgroup/user.slice/x.scope")
        );

        let legacy = "\
30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
32 25 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
";
        let l = Layout::from_mountinfo(legacy, "3:cpuacct,cpu:/a\n2:memory:/b\n").unwrap();
        assert_eq!(l.kind, LayoutKind::Legacy);
        assert_eq!(l.v1.len(), 2);
        let cpu = l.v1_hierarchy("cpuacct").unwrap();
        assert_eq!(cpu.controllers, ["cpu", "cpuacct"]);
        assert_eq!(cpu.own_dir(), Path::new("/sys/fs/cgroup/cpu,cpuacct/a"));

        assert!(matches!(
            Layout::from_mountinfo("1 0 8:1 / / rw - ext4 /dev/sda rw\n", ""),
            Err(CgroupError::NoHierarchy(_))
        ));
        assert!(Layout::from_mountinfo("garbage\n", "").is_err());
    }

    #[test]
    fn mount_root_is_taken_into_account() {
        // Inside a container: the hierarchy is mounted from /docker/abc, and mounted twice.
        let info = "\
50 40 0:30 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory
51 40 0:30 /docker/abc/sub /mnt/mem rw - cgroup cgroup rw,memory
52 40 0:38 /docker/abc /sys/fs/cgroup/my\\040dir rw - cgroup2 cgroup2 rw
";
        let l =
            Layout::from_mountinfo(info, "2:memory:/docker/abc/inner\n0::/elsewhere\n").unwrap();
        let mem = l.v1_hierarchy("memory").unwrap();
        assert_eq!(mem.root, "/docker/abc");
        assert_eq!(mem.own_dir(), Path::new("/sys/fs/cgroup/memory/inner"));
        assert_eq!(mem.dir_of("/docker/abcdef"), None);
        assert_eq!(
            mem.dir_of("/docker/abc"),
            Some(PathBuf::from("/sys/fs/cgroup/memory"))
        );
        let u = l.unified.unwrap();
        assert_eq!(u.mount_point, Path::new("/sys/fs/cgroup/my dir"));
        // Own cgroup outside the mount's root: fall back to the mount point.
        assert_eq!(u.own_dir(), Path::new("/sys/fs/cgroup/my dir"));
    }

    #[test]
    fn detect_here() {
        let l = Layout::detect().unwrap();
        println!("detected {:?}", l.kind);
    }
}
