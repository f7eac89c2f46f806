//! cgroup v1 backend: one directory per controller hierarchy (legacy and hybrid hosts). On hybrid
//! hosts the container also gets a cgroup in the controller-less cgroup2 hierarchy, which gives
//! an atomic `cgroup.kill` (no task can fork away while being killed).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::process::Signal;

use super::convert::{self, DeviceRule, DEFAULT_DEVICE_RULES};
use super::{
    block_device, check_name, keyed, limit_value, Anchor, Birthplace, CgroupError, CgroupManager,
    CgroupStats, ContainerCgroup, Ctx, Layout, LayoutKind, Result,
};
use crate::engine::spec::Resources;

/// The controllers a container gets a cgroup in, when the host has them.
const WANTED: &[&str] = &[
    "cpuset", "cpu", "cpuacct", "memory", "pids", "blkio", "devices", "freezer",
];

#[derive(Debug, Clone)]
struct Base {
    controllers: Vec<String>,
    /// `<anchor>/<parent>` directory: the anchor plus the parent components.
    anchor: PathBuf,
}

#[derive(Debug)]
pub struct V1Manager {
    ctx: Arc<Ctx>,
    kind: LayoutKind,
    parent: Vec<String>,
    bases: Vec<Base>,
    /// The cgroup2 anchor on hybrid hosts.
    unified: Option<PathBuf>,
}

impl V1Manager {
    pub(crate) fn new(
        layout: &Layout,
        anchor: Anchor,
        parent: Vec<String>,
        ctx: Arc<Ctx>,
    ) -> Result<Self> {
        let at = |h: &super::Hierarchy| match anchor {
            Anchor::Root => h.mount_point.clone(),
            Anchor::Own => h.own_dir(),
        };
        let bases: Vec<Base> = layout
            .v1
            .iter()
            .filter(|h| h.controllers.iter().any(|c| WANTED.contains(&c.as_str())))
            .map(|h| Base {
                controllers: h.controllers.clone(),
                anchor: at(h),
            })
            .collect();
        if bases.is_empty() {
            return Err(CgroupError::NoHierarchy(format!(
                "none of the v1 controllers {WANTED:?} is mounted"
            )));
        }
        let unified = match layout.kind {
            LayoutKind::Hybrid => layout.unified.as_ref().map(at),
            _ => None,
        };
        Ok(V1Manager {
            ctx,
            kind: layout.kind,
            parent,
            bases,
            unified,
        })
    }

    fn components<'a>(&'a self, project: &'a str, id: &'a str) -> Vec<&'a str> {
        let mut c: Vec<&str> = self.parent.iter().map(String::as_str).collect();
        c.push(project);
        c.push(id);
        c
    }

    fn cgroup(&self, project: &str, id: &str) -> Result<V1Cgroup> {
        check_name("project name", project)?;
        check_name("container id", id)?;
        let rel: PathBuf = self.components(project, id).iter().collect();
        let dirs = self
            .bases
            .iter()
            .map(|b| Dir {
                controllers: b.controllers.clone(),
                leaf: b.anchor.join(&rel),
            })
            .collect();
        Ok(V1Cgroup {
            ctx: self.ctx.clone(),
            dirs,
            unified: self.unified.as_ref().map(|u| u.join(&rel)),
        })
    }
}

impl CgroupManager for V1Manager {
    fn kind(&self) -> LayoutKind {
        self.kind
    }

    fn create(
        &self,
        project: &str,
        container_id: &str,
        resources: &Resources,
    ) -> Result<(Box<dyn ContainerCgroup>, Vec<String>)> {
        let cg = self.cgroup(project, container_id)?;
        let components = self.components(project, container_id);
        let made = (|| {
            for base in &self.bases {
                let levels = self.ctx.mkdir_chain(&base.anchor, &components)?;
                if base.controllers.iter().any(|c| c == "cpuset") {
                    // A new cpuset cgroup starts with empty cpus/mems, and no task can join it
                    // until they are set: copy them down from the anchor, level by level.
                    let mut parent = base.anchor.clone();
                    for level in &levels {
                        self.copy_cpuset(&parent, level)?;
                        parent = level.clone();
                    }
                }
            }
            if let Some(u) = &self.unified {
                self.ctx.mkdir_chain(u, &components)?;
            }
            cg.apply(resources)
        })();
        match made {
            Ok(warnings) => Ok((Box::new(cg), warnings)),
            Err(e) => Err(e.with_cleanup(cg.remove())),
        }
    }

    fn open(&self, project: &str, container_id: &str) -> Result<Box<dyn ContainerCgroup>> {
        let cg = self.cgroup(project, container_id)?;
        let first = &cg.dirs[0].leaf;
        if !self.ctx.fs.exists(first) {
            return Err(CgroupError::NotFound {
                path: first.clone(),
            });
        }
        Ok(Box::new(cg))
    }
}

impl V1Manager {
    fn copy_cpuset(&self, parent: &Path, child: &Path) -> Result<()> {
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let mine = self.ctx.read(&child.join(file))?;
            if mine.trim().is_empty() {
                let theirs = self.ctx.read(&parent.join(file))?;
                self.ctx.write(&child.join(file), theirs.trim())?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Dir {
    controllers: Vec<String>,
    leaf: PathBuf,
}

#[derive(Debug)]
pub struct V1Cgroup {
    ctx: Arc<Ctx>,
    dirs: Vec<Dir>,
    unified: Option<PathBuf>,
}

impl V1Cgroup {
    fn dir(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|d| d.controllers.iter().any(|c| c == controller))
            .map(|d| d.leaf.as_path())
    }

    fn need(&self, controller: &'static str) -> Result<&Path> {
        self.dir(controller)
            .ok_or_else(|| CgroupError::NoHierarchy(format!("{controller} is not mounted")))
    }

    /// The cgroup.procs listing membership: the freezer's (it is what freezing acts on), else
    /// any hierarchy's.
    fn procs(&self) -> PathBuf {
        self.dir("freezer")
            .unwrap_or(&self.dirs[0].leaf)
            .join("cgroup.procs")
    }

    fn apply(&self, r: &Resources) -> Result<Vec<String>> {
        let mut w = Vec::new();
        self.apply_memory(r, &mut w)?;
        self.apply_cpu(r, &mut w)?;
        self.apply_v1_only(r)?;
        self.apply_pids(r, &mut w)?;
        self.apply_blkio(r, &mut w)?;
        self.apply_devices(r, &mut w)?;
        Ok(w)
    }

    /// `oom_kill_disable` and the real-time CPU budget, which only v1 has; the author relies
    /// on them, so a host that cannot apply them is an error.
    fn apply_v1_only(&self, r: &Resources) -> Result<()> {
        if r.oom_kill_disable {
            self.ctx
                .write(&self.need("memory")?.join("memory.oom_control"), "1")?;
        }
        if r.cpu_rt_runtime.is_some() || r.cpu_rt_period.is_some() {
            super::rt::apply(self.need("cpu")?, r.cpu_rt_runtime, r.cpu_rt_period)?;
        }
        Ok(())
    }

    fn apply_memory(&self, r: &Resources, w: &mut Vec<String>) -> Result<()> {
        let any = r.memory_limit.is_some()
            || r.memory_reservation.is_some()
            || r.memory_swap.is_some()
            || r.memory_swappiness.is_some();
        let Some(dir) = self.dir("memory") else {
            if any {
                w.push("memory controller not mounted: memory limits discarded".to_string());
            }
            return Ok(());
        };
        let limit_path = dir.join("memory.limit_in_bytes");
        let memsw_path = dir.join("memory.memsw.limit_in_bytes");
        let limit = r.memory_limit.map(convert::v1_limit);
        let mut swap = match (r.memory_swap, r.memory_limit) {
            (Some(s), _) if s < 0 => Some("-1".to_string()),
            (Some(s), _) if s > 0 => Some(s.to_string()),
            // Unlimited memory with swap unset: unlimited both, as runc does.
            (_, Some(m)) if m < 0 => Some("-1".to_string()),
            _ => None,
        };
        if swap.is_some() && !self.ctx.fs.exists(&memsw_path) {
            if r.memory_swap.is_some_and(|s| s > 0) {
                w.push(
                    "the kernel has no swap accounting (memory.memsw.*): memory limited without swap"
                        .to_string(),
                );
            }
            swap = None;
        }
        match (&limit, &swap) {
            (Some(l), Some(s)) => {
                // memory ≤ memory+swap must hold after each write: raise memsw first when the
                // new value is above the current one.
                let current = self.ctx.read(&memsw_path)?;
                let current: u64 = current.trim().parse().unwrap_or(u64::MAX);
                let new: u64 = if s == "-1" {
                    u64::MAX
                } else {
                    s.parse().unwrap_or(u64::MAX)
                };
                if new >= current {
                    self.ctx.write(&memsw_path, s)?;
                    self.ctx.write(&limit_path, l)?;
                } else {
                    self.ctx.write(&limit_path, l)?;
                    self.ctx.write(&memsw_path, s)?;
                }
            }
            (Some(l), None) => self.ctx.write(&limit_path, l)?,
            (None, Some(s)) => self.ctx.write(&memsw_path, s)?,
            (None, None) => {}
        }
        if let Some(res) = r.memory_reservation {
            self.ctx.write(
                &dir.join("memory.soft_limit_in_bytes"),
                &convert::v1_limit(res),
            )?;
        }
        if let Some(s) = r.memory_swappiness {
            if s > 100 {
                return Err(convert::invalid("mem_swappiness", s, "must be 0 to 100"));
            }
            self.ctx
                .write_or_warn(&dir.join("memory.swappiness"), &s.to_string(), w, || {
                    "memory.swappiness is missing: mem_swappiness discarded".to_string()
                })?;
        }
        Ok(())
    }

    fn apply_cpu(&self, r: &Resources, w: &mut Vec<String>) -> Result<()> {
        let any = r.cpu_shares.is_some() || r.cpu_quota.is_some() || r.cpu_period.is_some();
        match self.dir("cpu") {
            None if any => w.push("cpu controller not mounted: cpu limits discarded".into()),
            None => {}
            Some(dir) => {
                if let Some(shares) = r.cpu_shares.filter(|s| *s > 0) {
                    self.ctx
                        .write(&dir.join("cpu.shares"), &shares.to_string())?;
                }
                let period = r.cpu_period.filter(|p| *p > 0).map(|p| p.to_string());
                let quota = r
                    .cpu_quota
                    .map(|q| if q > 0 { q.to_string() } else { "-1".into() });
                let period_path = dir.join("cpu.cfs_period_us");
                let quota_path = dir.join("cpu.cfs_quota_us");
                match (&period, &quota) {
                    (Some(p), Some(q)) => {
                        // The kernel checks quota against period on each write: if the period
                        // is refused with the old quota, set the quota first.
                        if self.ctx.write(&period_path, p).is_err() {
                            self.ctx.write(&quota_path, q)?;
                            self.ctx.write(&period_path, p)?;
                        } else {
                            self.ctx.write(&quota_path, q)?;
                        }
                    }
                    (Some(p), None) => self.ctx.write(&period_path, p)?,
                    (None, Some(q)) => self.ctx.write(&quota_path, q)?,
                    (None, None) => {}
                }
            }
        }
        let any = r.cpuset_cpus.is_some() || r.cpuset_mems.is_some();
        match self.dir("cpuset") {
            None if any => w.push("cpuset controller not mounted: cpuset discarded".into()),
            None => {}
            Some(dir) => {
                if let Some(cpus) = r.cpuset_cpus.as_deref().filter(|s| !s.is_empty()) {
                    self.ctx.write(&dir.join("cpuset.cpus"), cpus)?;
                }
                if let Some(mems) = r.cpuset_mems.as_deref().filter(|s| !s.is_empty()) {
                    self.ctx.write(&dir.join("cpuset.mems"), mems)?;
                }
            }
        }
        Ok(())
    }

    fn apply_pids(&self, r: &Resources, w: &mut Vec<String>) -> Result<()> {
        let Some(limit) = r.pids_limit else {
            return Ok(());
        };
        match self.dir("pids") {
            None => w.push("pids controller not mounted: pids_limit discarded".into()),
            Some(dir) => self
                .ctx
                .write(&dir.join("pids.max"), &convert::v2_limit(limit))?,
        }
        Ok(())
    }

    fn apply_blkio(&self, r: &Resources, w: &mut Vec<String>) -> Result<()> {
        let throttles = [
            ("blkio.throttle.read_bps_device", &r.blkio_throttle_read_bps),
            (
                "blkio.throttle.write_bps_device",
                &r.blkio_throttle_write_bps,
            ),
            (
                "blkio.throttle.read_iops_device",
                &r.blkio_throttle_read_iops,
            ),
            (
                "blkio.throttle.write_iops_device",
                &r.blkio_throttle_write_iops,
            ),
        ];
        let any = r.blkio_weight.is_some()
            || !r.blkio_weight_device.is_empty()
            || throttles.iter().any(|(_, l)| !l.is_empty());
        if !any {
            return Ok(());
        }
        let Some(dir) = self.dir("blkio") else {
            w.push("blkio controller not mounted: blkio_config discarded".into());
            return Ok(());
        };
        // Weights need CFQ (blkio.weight) or BFQ (blkio.bfq.weight, which also takes
        // `MAJ:MIN weight` lines).
        let weight_file = ["blkio.weight", "blkio.bfq.weight"]
            .into_iter()
            .map(|f| dir.join(f))
            .find(|p| self.ctx.fs.exists(p));
        let weight_device_file = ["blkio.weight_device", "blkio.bfq.weight"]
            .into_iter()
            .map(|f| dir.join(f))
            .find(|p| self.ctx.fs.exists(p));
        if let Some(weight) = r.blkio_weight.filter(|w| *w > 0) {
            check_blkio_weight(weight)?;
            match &weight_file {
                Some(p) => self.ctx.write(p, &weight.to_string())?,
                None => w.push(
                    "no block I/O weight support (needs the CFQ or BFQ scheduler): blkio weight discarded"
                        .into(),
                ),
            }
        }
        for (device, weight) in &r.blkio_weight_device {
            check_blkio_weight(*weight)?;
            let (maj, min) = block_device(device)?;
            match &weight_device_file {
                Some(p) => self.ctx.write(p, &format!("{maj}:{min} {weight}"))?,
                None => w.push(format!(
                    "no block I/O weight support: weight_device for {device} discarded"
                )),
            }
        }
        for (file, limits) in throttles {
            for (device, value) in limits {
                let (maj, min) = block_device(device)?;
                self.ctx.write_or_warn(
                    &dir.join(file),
                    &format!("{maj}:{min} {value}"),
                    w,
                    || format!("{file} is missing: throttle for {device} discarded"),
                )?;
            }
        }
        Ok(())
    }

    fn apply_devices(&self, r: &Resources, w: &mut Vec<String>) -> Result<()> {
        let rules = r
            .device_rules
            .iter()
            .map(|rule| DeviceRule::parse(rule))
            .collect::<Result<Vec<_>>>()?;
        let Some(dir) = self.dir("devices") else {
            w.push("devices controller not mounted: device access is not restricted".into());
            return Ok(());
        };
        self.ctx.write(&dir.join("devices.deny"), "a")?;
        let allow = dir.join("devices.allow");
        for rule in DEFAULT_DEVICE_RULES {
            self.ctx.write(&allow, rule)?;
        }
        for rule in rules {
            self.ctx.write(&allow, &rule.to_v1())?;
        }
        Ok(())
    }

    fn freezer_state(&self) -> Result<String> {
        let dir = self.need("freezer")?;
        Ok(self
            .ctx
            .read(&dir.join("freezer.state"))?
            .trim()
            .to_string())
    }
}

fn check_blkio_weight(weight: u16) -> Result<()> {
    if (convert::MIN_BLKIO_WEIGHT..=convert::MAX_BLKIO_WEIGHT).contains(&weight) {
        Ok(())
    } else {
        Err(convert::invalid(
            "blkio weight",
            weight,
            "must be 10 to 1000",
        ))
    }
}

impl ContainerCgroup for V1Cgroup {
    fn update(&self, resources: &Resources) -> Result<Vec<String>> {
        self.apply(resources)
    }

    fn add_pid(&self, pid: i32) -> Result<()> {
        for d in &self.dirs {
            self.ctx.add_pid(&d.leaf, pid)?;
        }
        if let Some(u) = &self.unified {
            self.ctx.add_pid(u, pid)?;
        }
        Ok(())
    }

    fn birthplace(&self) -> Birthplace {
        Birthplace {
            cgroup2: self.unified.clone(),
            v1_tasks: self.dirs.iter().map(|d| d.leaf.join("tasks")).collect(),
        }
    }

    fn pids(&self) -> Result<Vec<i32>> {
        self.ctx.read_pids(&self.procs())
    }

    fn stats(&self) -> Result<CgroupStats> {
        let mut s = CgroupStats::default();
        let num = |dir: &Path, file: &str| -> Result<Option<String>> {
            self.ctx.read_opt(&dir.join(file))
        };
        if let Some(dir) = self.dir("cpuacct") {
            if let Some(t) = num(dir, "cpuacct.usage")? {
                s.cpu_usage_ns = t.trim().parse().unwrap_or(0);
            }
        }
        if let Some(dir) = self.dir("memory") {
            if let Some(t) = num(dir, "memory.usage_in_bytes")? {
                s.memory_usage = t.trim().parse().unwrap_or(0);
            }
            if let Some(t) = num(dir, "memory.limit_in_bytes")? {
                s.memory_limit = limit_value(&t);
            }
            if let Some(t) = num(dir, "memory.stat")? {
                s.memory_inactive_file = keyed(&t, "total_inactive_file").unwrap_or(0);
            }
        }
        if let Some(dir) = self.dir("pids") {
            if let Some(t) = num(dir, "pids.current")? {
                s.pids_current = t.trim().parse().unwrap_or(0);
            }
            if let Some(t) = num(dir, "pids.max")? {
                s.pids_limit = limit_value(&t);
            }
        }
        if let Some(dir) = self.dir("blkio") {
            let text = match num(dir, "blkio.throttle.io_service_bytes_recursive")? {
                Some(t) => Some(t),
                None => num(dir, "blkio.io_service_bytes_recursive")?,
            };
            // `8:0 Read 4096` lines, plus a `Total` line.
            for line in text.as_deref().unwrap_or("").lines() {
                let mut f = line.split_whitespace();
                let (Some(_dev), Some(op), Some(v)) = (f.next(), f.next(), f.next()) else {
                    continue;
                };
                let v: u64 = v.parse().unwrap_or(0);
                match op {
                    "Read" => s.io_read_bytes += v,
                    "Write" => s.io_write_bytes += v,
                    _ => {}
                }
            }
        }
        Ok(s)
    }

    fn freeze(&self) -> Result<()> {
        let path = self.need("freezer")?.join("freezer.state");
        self.ctx.write(&path, "FROZEN")?;
        // FREEZING until every task is frozen; writing FROZEN again retries tasks that were
        // busy (as runc does).
        let waited = self.ctx.wait_for(
            &path,
            "FROZEN",
            |t| t.trim() == "FROZEN",
            || self.ctx.write(&path, "FROZEN"),
        );
        if waited.is_err() {
            // Do not leave a half-frozen container behind.
            let _ = self.ctx.write(&path, "THAWED");
        }
        waited
    }

    fn thaw(&self) -> Result<()> {
        let path = self.need("freezer")?.join("freezer.state");
        self.ctx.write(&path, "THAWED")?;
        self.ctx
            .wait_for(&path, "THAWED", |t| t.trim() == "THAWED", || Ok(()))
    }

    fn is_frozen(&self) -> Result<bool> {
        Ok(self.freezer_state()? == "FROZEN")
    }

    fn oom_kills(&self) -> Result<u64> {
        let dir = self.need("memory")?;
        let control = self.ctx.read(&dir.join("memory.oom_control"))?;
        if let Some(n) = keyed(&control, "oom_kill") {
            return Ok(n);
        }
        // Kernels before 4.13 have no oom_kill counter: the limit having been hit is the best
        // evidence there is.
        let failcnt = self.ctx.read(&dir.join("memory.failcnt"))?;
        Ok(u64::from(failcnt.trim().parse::<u64>().unwrap_or(0) > 0))
    }

    fn kill_all(&self, signal: Signal) -> Result<()> {
        if signal == Signal::KILL {
            if let Some(u) = &self.unified {
                if self.ctx.write_opt(&u.join("cgroup.kill"), "1")? {
                    return Ok(());
                }
            }
            // Freeze first so no task forks away between listing and signalling; frozen tasks
            // die when thawed.
            let frozen = self.dir("freezer").is_some() && self.freeze().is_ok();
            let result = self.ctx.signal_members(&self.procs(), signal);
            if frozen {
                self.thaw()?;
            }
            return result;
        }
        self.ctx.signal_members(&self.procs(), signal)
    }

    fn remove(&self) -> Result<()> {
        let mut first_error = None;
        let leaves = self
            .dirs
            .iter()
            .map(|d| d.leaf.clone())
            .chain(self.unified.clone());
        for leaf in leaves {
            let result = self
                .ctx
                .rmdir_leaf(&leaf)
                .and_then(|()| match leaf.parent() {
                    Some(project) => self.ctx.rmdir_parent(project),
                    None => Ok(()),
                });
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn paths(&self) -> Vec<(String, PathBuf)> {
        self.dirs
            .iter()
            .map(|d| (d.controllers.join(","), d.leaf.clone()))
            .chain(self.unified.iter().map(|u| (String::new(), u.clone())))
            .collect()
    }
}
