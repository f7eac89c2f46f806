//! Real-time CPU budgets (`cpu_rt_runtime`, `cpu_rt_period`) on the v1 `cpu` controller.
//!
//! With real-time group scheduling the kernel requires every cgroup's share of real-time time
//! (`cpu.rt_runtime_us / cpu.rt_period_us`) to fit in what its parent grants to its children,
//! and a new cgroup grants nothing. Docker leaves raising the parents to the daemon's
//! `--cpu-rt-runtime`; a daemonless engine has no daemon, so the container's own request
//! raises each of its ancestors just enough, from the top down, and a budget the host's root
//! cannot give is a clear error naming the cgroup. What was raised stays with the parents
//! (they are shared by the project's containers) until the parents are removed.

use std::path::{Path, PathBuf};

use super::{CgroupError, Result};

const RUNTIME: &str = "cpu.rt_runtime_us";
const PERIOD: &str = "cpu.rt_period_us";

fn read_num(path: &Path) -> Result<i64> {
    let text = std::fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    text.trim().parse().map_err(|_| CgroupError::Parse {
        path: path.to_path_buf(),
        detail: format!("{:?} is not a number", text.trim()),
    })
}

fn write_num(path: &Path, value: i64) -> Result<()> {
    std::fs::write(path, value.to_string()).map_err(|source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    })
}

/// `runtime` µs per `period` µs expressed per `to` µs, rounded up.
fn rescale(runtime: i64, period: i64, to: i64) -> i64 {
    if runtime <= 0 || period <= 0 {
        return 0;
    }
    ((runtime as i128 * to as i128 + period as i128 - 1) / period as i128) as i64
}

/// What the children of `dir` other than `except` use, in `dir`'s period.
fn used_by_children(dir: &Path, except: &Path, period: i64) -> Result<i64> {
    let entries = std::fs::read_dir(dir).map_err(|source| CgroupError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut used = 0;
    for e in entries.flatten() {
        let child = e.path();
        if child == except || !child.join(RUNTIME).exists() {
            continue;
        }
        let rt = read_num(&child.join(RUNTIME))?;
        let p = read_num(&child.join(PERIOD))?;
        used += rescale(rt, p, period);
    }
    Ok(used)
}

/// Makes `dir` grant at least `share` (runtime per `period`) to `child`, raising its own
/// runtime, and first its parents', when its children would not fit.
fn make_room(dir: &Path, child: &Path, share: (i64, i64)) -> Result<()> {
    let period = read_num(&dir.join(PERIOD))?;
    let have = read_num(&dir.join(RUNTIME))?;
    let want = used_by_children(dir, child, period)? + rescale(share.0, share.1, period);
    if want <= have {
        return Ok(());
    }
    let Some(parent) = dir.parent().filter(|p| p.join(RUNTIME).exists()) else {
        return Err(CgroupError::Invalid {
            what: "cpu_rt_runtime",
            value: share.0.to_string(),
            reason: format!(
                "the host's real-time budget ({have} µs per {period} µs at {}) is used up",
                dir.display()
            ),
        });
    };
    make_room(parent, dir, (want, period))?;
    write_num(&dir.join(RUNTIME), want)
}

/// Applies `runtime`/`period` to the container's `cpu` cgroup `leaf`.
pub fn apply(leaf: &Path, runtime: Option<i64>, period: Option<u64>) -> Result<()> {
    if !leaf.join(RUNTIME).exists() {
        return Err(CgroupError::Unsupported {
            what:
                "cpu_rt_runtime/cpu_rt_period (real-time group scheduling, CONFIG_RT_GROUP_SCHED)",
            path: leaf.join(RUNTIME),
        });
    }
    if let Some(p) = period {
        let p = i64::try_from(p).unwrap_or(i64::MAX);
        write_num(&leaf.join(PERIOD), p)?;
    }
    let Some(rt) = runtime else {
        return Ok(());
    };
    if rt < -1 {
        return Err(CgroupError::Invalid {
            what: "cpu_rt_runtime",
            value: rt.to_string(),
            reason: "must be -1, 0 or a positive number of microseconds".into(),
        });
    }
    let period = read_num(&leaf.join(PERIOD))?;
    if rt > period {
        return Err(CgroupError::Invalid {
            what: "cpu_rt_runtime",
            value: rt.to_string(),
            reason: format!("must not exceed cpu_rt_period ({period} µs)"),
        });
    }
    if rt > 0 {
        let parent: PathBuf = leaf.parent().map(Path::to_path_buf).unwrap_or_default();
        make_room(&parent, leaf, (rt, period))?;
    }
    write_num(&leaf.join(RUNTIME), rt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_compared_in_the_parents_period_rounding_up() {
        assert_eq!(rescale(400_000, 1_000_000, 1_000_000), 400_000);
        assert_eq!(rescale(1, 3, 10), 4);
        assert_eq!(rescale(0, 1_000_000, 1_000_000), 0);
        assert_eq!(rescale(-1, 1_000_000, 1_000_000), 0);
    }
}
