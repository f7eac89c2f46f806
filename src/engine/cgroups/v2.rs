//! cgroup v2 backend (unified hierarchy). Processes live only in leaves; each level above a
//! container's cgroup delegates the controllers it needs through `cgroup.subtree_control`.
//!
//! Device access rules: v2 has no devices controller, so every `create` and `update` attaches
//! an eBPF device program built from the same rules as v1's (Docker's defaults plus
//! `device_rules`; see [`super::v2_devices`]), replacing the previous one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::process::Signal;

use super::convert::{self, SwapMax};
use super::v2_devices::DeviceFilter;
use super::{
    block_device, check_name, keyed, limit_value, Anchor, Birthplace, CgroupError, CgroupManager,
    CgroupStats, ContainerCgroup, Ctx, Layout, LayoutKind, Result,
};
use crate::engine::spec::Resources;

/// Controllers a container's cgroup gets, in the order they are enabled.
const WANTED: &[&str] = &["cpuset", "cpu", "io", "memory", "pids"];

#[derive(Debug)]
pub struct V2Manager {
    ctx: Arc<Ctx>,
    anchor: PathBuf,
    parent: Vec<String>,
}

impl V2Manager {
    pub(crate) fn new(
        layout: &Layout,
        anchor: Anchor,
        parent: Vec<String>,
        ctx: Arc<Ctx>,
    ) -> Result<Self> {
        let h = layout.unified.as_ref().ok_or_else(|| {
            CgroupError::NoHierarchy("no cgroup2 filesystem is mounted".to_string())
        })?;
        let anchor = match anchor {
            Anchor::Root => h.mount_point.clone(),
            Anchor::Own => h.own_dir(),
        };
        Ok(V2Manager {
            ctx,
            anchor,
            parent,
        })
    }

    fn cgroup(&self, project: &str, id: &str) -> Result<V2Cgroup> {
        check_name("project name", project)?;
        check_name("container id", id)?;
        let mut leaf = self.anchor.clone();
        leaf.extend(&self.parent);
        leaf.push(project);
        leaf.push(id);
        Ok(V2Cgroup {
            ctx: self.ctx.clone(),
            leaf,
        })
    }

    /// Enables the wanted controllers that `dir` may delegate (those in `available`, i.e. its
    /// parent's subtree_control or, for the anchor, its cgroup.controllers) and are not enabled
    /// yet. Returns what is now enabled in `dir`'s subtree_control, which is what its children
    /// have.
    fn delegate(
        &self,
        dir: &Path,
        available: &[String],
        warnings: &mut Vec<String>,
    ) -> Result<Vec<String>> {
        let path = dir.join("cgroup.subtree_control");
        let mut enabled: Vec<String> = self
            .ctx
            .read(&path)?
            .split_whitespace()
            .map(|c| c.trim_start_matches('+').to_string())
            .collect();
        let missing: Vec<&str> = WANTED
            .iter()
            .copied()
            .filter(|c| available.iter().any(|a| a == c) && !enabled.iter().any(|e| e == c))
            .collect();
        if missing.is_empty() {
            return Ok(enabled);
        }
        let all: Vec<String> = missing.iter().map(|c| format!("+{c}")).collect();
        if self.ctx.write(&path, &all.join(" ")).is_ok() {
            enabled.extend(missing.iter().map(|c| c.to_string()));
            return Ok(enabled);
        }
        // The kernel refuses the whole write when one controller cannot be enabled (e.g.
        // cpuset or cpu on a cgroup with realtime tasks): enable one by one, keep what works.
        for c in missing {
            match self.ctx.write(&path, &format!("+{c}")) {
                Ok(()) => enabled.push(c.to_string()),
                Err(e) => warnings.push(format!("cannot enable the {c} controller: {e}")),
            }
        }
        Ok(enabled)
    }
}

impl CgroupManager for V2Manager {
    fn kind(&self) -> LayoutKind {
        LayoutKind::Unified
    }

    fn create(
        &self,
        project: &str,
        container_id: &str,
        resources: &Resources,
    ) -> Result<(Box<dyn ContainerCgroup>, Vec<String>)> {
        let cg = self.cgroup(project, container_id)?;
        let mut warnings = Vec::new();
        let made = (|| {
            let available: Vec<String> = self
                .ctx
                .read_opt(&self.anchor.join("cgroup.controllers"))?
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect();
            // Top-down: a controller can be enabled in a cgroup only once its parent has it.
            let mut available = self.delegate(&self.anchor, &available, &mut warnings)?;
            let mut components: Vec<&str> = self.parent.iter().map(String::as_str).collect();
            components.push(project);
            self.ctx
                .mkdir_chain_with(&self.anchor, &components, |level| {
                    available = self.delegate(level, &available, &mut warnings)?;
                    Ok(())
                })?;
            self.ctx
                .mkdir_chain(cg.leaf.parent().unwrap_or(&self.anchor), &[container_id])?;
            let missing: Vec<&str> = WANTED
                .iter()
                .copied()
                .filter(|c| !available.iter().any(|a| a == c))
                .collect();
            if !missing.is_empty() {
                warnings.push(format!(
                    "cgroup v2 controllers not available: {}",
                    missing.join(", ")
                ));
            }
            cg.apply(resources, &mut warnings)
        })();
        match made {
            Ok(()) => Ok((Box::new(cg), warnings)),
            Err(e) => Err(e.with_cleanup(cg.remove())),
        }
    }

    fn open(&self, project: &str, container_id: &str) -> Result<Box<dyn ContainerCgroup>> {
        let cg = self.cgroup(project, container_id)?;
        if !self.ctx.fs.exists(&cg.leaf) {
            return Err(CgroupError::NotFound { path: cg.leaf });
        }
        Ok(Box::new(cg))
    }
}

#[derive(Debug)]
pub struct V2Cgroup {
    ctx: Arc<Ctx>,
    leaf: PathBuf,
}

impl V2Cgroup {
    fn file(&self, name: &str) -> PathBuf {
        self.leaf.join(name)
    }

    /// Writes an interface file of a controller; a missing file means the controller is not
    /// enabled here: warn and discard, as Docker does.
    fn set(&self, name: &str, value: &str, what: &str, w: &mut Vec<String>) -> Result<()> {
        self.ctx.write_or_warn(&self.file(name), value, w, || {
            format!("{name} is missing (controller not enabled): {what} discarded")
        })
    }

    fn apply(&self, r: &Resources, w: &mut Vec<String>) -> Result<()> {
        // Memory.
        if let Some(limit) = r.memory_limit {
            self.set("memory.max", &convert::v2_limit(limit), "mem_limit", w)?;
        }
        if let Some(res) = r.memory_reservation {
            let v = if res > 0 { res.to_string() } else { "0".into() };
            self.set("memory.low", &v, "mem_reservation", w)?;
        }
        if let Some(swap) = convert::memory_swap_to_v2(r.memory_swap, r.memory_limit)? {
            let v = match swap {
                SwapMax::Max => "max".to_string(),
                SwapMax::Bytes(b) => b.to_string(),
            };
            // memory.swap.max exists only with swap accounting; unlimited needs no file.
            if !self.ctx.write_opt(&self.file("memory.swap.max"), &v)? && swap != SwapMax::Max {
                w.push(
                    "memory.swap.max is missing (no swap accounting): memory limited without swap"
                        .into(),
                );
            }
        }
        if r.oom_kill_disable {
            w.push("cgroup v2 cannot disable the OOM killer: oom_kill_disable discarded".into());
        }
        if r.cpu_rt_runtime.is_some() || r.cpu_rt_period.is_some() {
            // No real-time group scheduling on v2: the budget the author asked for cannot hold.
            return Err(CgroupError::Unsupported {
                what: "cpu_rt_runtime/cpu_rt_period (real-time group scheduling needs cgroup v1)",
                path: self.file("cpu.rt_runtime_us"),
            });
        }
        if r.memory_swappiness.is_some() {
            w.push("cgroup v2 has no per-cgroup swappiness: mem_swappiness discarded".into());
        }
        // CPU.
        if let Some(shares) = r.cpu_shares.filter(|s| *s > 0) {
            let weight = convert::cpu_shares_to_weight(shares);
            self.set("cpu.weight", &weight.to_string(), "cpu_shares", w)?;
        }
        if let Some(max) = convert::v2_cpu_max(r.cpu_quota, r.cpu_period) {
            self.set("cpu.max", &max, "cpu quota", w)?;
        }
        if let Some(cpus) = r.cpuset_cpus.as_deref().filter(|s| !s.is_empty()) {
            self.set("cpuset.cpus", cpus, "cpuset", w)?;
        }
        if let Some(mems) = r.cpuset_mems.as_deref().filter(|s| !s.is_empty()) {
            self.set("cpuset.mems", mems, "cpuset mems", w)?;
        }
        // Pids.
        if let Some(limit) = r.pids_limit {
            self.set("pids.max", &convert::v2_limit(limit), "pids_limit", w)?;
        }
        // Block I/O. BFQ's io.bfq.weight takes v1's 1–1000 scale unchanged; io.weight (the
        // io.cost controller) takes 1–10000.
        let bfq = self.file("io.bfq.weight");
        let bfq = self.ctx.fs.exists(&bfq).then_some(bfq);
        if let Some(weight) = r.blkio_weight.filter(|w| *w > 0) {
            match &bfq {
                Some(p) => self.ctx.write(p, &weight.to_string())?,
                None => self.set(
                    "io.weight",
                    &format!("default {}", convert::blkio_weight_to_io_weight(weight)),
                    "blkio weight",
                    w,
                )?,
            }
        }
        for (device, weight) in &r.blkio_weight_device {
            let (maj, min) = block_device(device)?;
            match &bfq {
                Some(p) => self.ctx.write(p, &format!("{maj}:{min} {weight}"))?,
                None => self.set(
                    "io.weight",
                    &format!(
                        "{maj}:{min} {}",
                        convert::blkio_weight_to_io_weight(*weight)
                    ),
                    "blkio weight_device",
                    w,
                )?,
            }
        }
        // io.max takes one device per write, with any of its keys.
        let mut max: BTreeMap<(u32, u32), Vec<String>> = BTreeMap::new();
        for (key, list) in [
            ("rbps", &r.blkio_throttle_read_bps),
            ("wbps", &r.blkio_throttle_write_bps),
            ("riops", &r.blkio_throttle_read_iops),
            ("wiops", &r.blkio_throttle_write_iops),
        ] {
            for (device, value) in list {
                let v = if *value == 0 {
                    "max".to_string()
                } else {
                    value.to_string()
                };
                max.entry(block_device(device)?)
                    .or_default()
                    .push(format!("{key}={v}"));
            }
        }
        for ((maj, min), keys) in max {
            let line = format!("{maj}:{min} {}", keys.join(" "));
            self.set("io.max", &line, "blkio throttle", w)?;
        }
        // Devices: v2 has no devices controller; an eBPF program enforces the same rules.
        let filter = DeviceFilter::for_resources(r)?;
        self.ctx
            .fs
            .set_device_filter(&self.leaf, &filter)
            .map_err(|source| CgroupError::DeviceFilter {
                path: self.leaf.clone(),
                source,
            })?;
        Ok(())
    }

    fn events(&self) -> Result<String> {
        self.ctx.read(&self.file("cgroup.events"))
    }
}

impl ContainerCgroup for V2Cgroup {
    fn update(&self, resources: &Resources) -> Result<Vec<String>> {
        let mut w = Vec::new();
        self.apply(resources, &mut w)?;
        Ok(w)
    }

    fn add_pid(&self, pid: i32) -> Result<()> {
        self.ctx.add_pid(&self.leaf, pid)
    }

    fn birthplace(&self) -> Birthplace {
        Birthplace {
            cgroup2: Some(self.leaf.clone()),
            v1_tasks: Vec::new(),
        }
    }

    fn pids(&self) -> Result<Vec<i32>> {
        self.ctx.read_pids(&self.file("cgroup.procs"))
    }

    fn stats(&self) -> Result<CgroupStats> {
        let mut s = CgroupStats::default();
        let read = |name: &str| self.ctx.read_opt(&self.file(name));
        if let Some(t) = read("cpu.stat")? {
            s.cpu_usage_ns = keyed(&t, "usage_usec").unwrap_or(0).saturating_mul(1000);
        }
        if let Some(t) = read("memory.current")? {
            s.memory_usage = t.trim().parse().unwrap_or(0);
        }
        if let Some(t) = read("memory.max")? {
            s.memory_limit = limit_value(&t);
        }
        if let Some(t) = read("memory.stat")? {
            s.memory_inactive_file = keyed(&t, "inactive_file").unwrap_or(0);
        }
        if let Some(t) = read("pids.current")? {
            s.pids_current = t.trim().parse().unwrap_or(0);
        }
        if let Some(t) = read("pids.max")? {
            s.pids_limit = limit_value(&t);
        }
        if let Some(t) = read("io.stat")? {
            // `8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0` per device.
            for word in t.split_whitespace() {
                if let Some((k, v)) = word.split_once('=') {
                    let v: u64 = v.parse().unwrap_or(0);
                    match k {
                        "rbytes" => s.io_read_bytes += v,
                        "wbytes" => s.io_write_bytes += v,
                        _ => {}
                    }
                }
            }
        }
        Ok(s)
    }

    fn freeze(&self) -> Result<()> {
        let path = self.file("cgroup.freeze");
        if !self.ctx.write_opt(&path, "1")? {
            return Err(CgroupError::Unsupported {
                what: "freezing (kernel ≥ 5.2)",
                path,
            });
        }
        let events = self.file("cgroup.events");
        let waited = self.ctx.wait_for(
            &events,
            "frozen 1",
            |t| keyed(t, "frozen") == Some(1),
            || Ok(()),
        );
        if waited.is_err() {
            let _ = self.ctx.write(&path, "0");
        }
        waited
    }

    fn thaw(&self) -> Result<()> {
        let path = self.file("cgroup.freeze");
        if !self.ctx.write_opt(&path, "0")? {
            return Err(CgroupError::Unsupported {
                what: "freezing (kernel ≥ 5.2)",
                path,
            });
        }
        self.ctx.wait_for(
            &self.file("cgroup.events"),
            "frozen 0",
            |t| keyed(t, "frozen") != Some(1),
            || Ok(()),
        )
    }

    fn is_frozen(&self) -> Result<bool> {
        Ok(keyed(&self.events()?, "frozen") == Some(1))
    }

    fn oom_kills(&self) -> Result<u64> {
        // Without the memory controller there is no memory.events, and no cgroup OOM either.
        Ok(self
            .ctx
            .read_opt(&self.file("memory.events"))?
            .and_then(|t| keyed(&t, "oom_kill"))
            .unwrap_or(0))
    }

    fn kill_all(&self, signal: Signal) -> Result<()> {
        if signal == Signal::KILL {
            // Linux ≥ 5.14: one write kills every task, forks included.
            if self.ctx.write_opt(&self.file("cgroup.kill"), "1")? {
                return Ok(());
            }
            let frozen = self.freeze().is_ok();
            let result = self.ctx.signal_members(&self.file("cgroup.procs"), signal);
            if frozen {
                self.thaw()?;
            }
            return result;
        }
        self.ctx.signal_members(&self.file("cgroup.procs"), signal)
    }

    fn remove(&self) -> Result<()> {
        self.ctx.rmdir_leaf(&self.leaf)?;
        match self.leaf.parent() {
            Some(project) => self.ctx.rmdir_parent(project),
            None => Ok(()),
        }
    }

    fn paths(&self) -> Vec<(String, PathBuf)> {
        vec![(String::new(), self.leaf.clone())]
    }
}
