//! Pure conversions between Compose/Docker units and the values cgroup v1 and v2 files take.
//! Kept free of I/O so that each one is checked against a table of known values.

use super::CgroupError;

/// Docker's CFS period for `cpus` (100 ms, in µs).
pub const DEFAULT_CPU_PERIOD_US: u64 = 100_000;
/// The kernel's smallest CFS quota (1 ms, in µs).
pub const MIN_CPU_QUOTA_US: i64 = 1_000;
/// cgroup v1 `cpu.shares` range (the kernel's MIN_SHARES / MAX_SHARES).
pub const MIN_CPU_SHARES: u64 = 2;
pub const MAX_CPU_SHARES: u64 = 262_144;
/// cgroup v2 `cpu.weight` range.
pub const MIN_CPU_WEIGHT: u64 = 1;
pub const MAX_CPU_WEIGHT: u64 = 10_000;
/// `blkio.weight` range (v1, also Compose's `blkio_config.weight`).
pub const MIN_BLKIO_WEIGHT: u16 = 10;
pub const MAX_BLKIO_WEIGHT: u16 = 1_000;

/// Compose `cpus: 1.5` → (`cfs_quota_us`, `cfs_period_us`) = (150000, 100000), as Docker does
/// (`--cpus` becomes NanoCPUs; quota = NanoCPUs × period / 10⁹ with a 100 ms period).
pub fn cpus_to_quota(cpus: f64) -> Result<(i64, u64), CgroupError> {
    if !cpus.is_finite() || cpus <= 0.0 {
        return Err(invalid("cpus", cpus, "must be a positive number"));
    }
    let nano = (cpus * 1e9).round();
    if nano > i64::MAX as f64 / DEFAULT_CPU_PERIOD_US as f64 {
        return Err(invalid("cpus", cpus, "too large"));
    }
    let quota = (nano as i64) * DEFAULT_CPU_PERIOD_US as i64 / 1_000_000_000;
    if quota < MIN_CPU_QUOTA_US {
        return Err(invalid("cpus", cpus, "the smallest value is 0.01"));
    }
    Ok((quota, DEFAULT_CPU_PERIOD_US))
}

/// v1 `cpu.shares` → v2 `cpu.weight`, with the conversion runc (≥ 1.3.2, opencontainers/cgroups)
/// and crun (≥ 1.23) use: a quadratic in log2(shares) that maps the ends of both ranges onto each
/// other and the defaults (1024 ↔ 100) too. The older linear formula mapped 1024 to 39, which
/// starved containers next to systemd services that have the default weight of 100.
/// 0 means "unset" and stays 0.
pub fn cpu_shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    if shares <= MIN_CPU_SHARES {
        return MIN_CPU_WEIGHT;
    }
    if shares >= MAX_CPU_SHARES {
        return MAX_CPU_WEIGHT;
    }
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    (10f64.powf(exponent).ceil() as u64).clamp(MIN_CPU_WEIGHT, MAX_CPU_WEIGHT)
}

/// v2 `cpu.weight` → v1 `cpu.shares`: the inverse of [`cpu_shares_to_weight`] (solving its
/// quadratic for log2(shares)), rounded to the nearest share. 0 stays 0 ("unset").
pub fn cpu_weight_to_shares(weight: u64) -> u64 {
    if weight == 0 {
        return 0;
    }
    if weight <= MIN_CPU_WEIGHT {
        return MIN_CPU_SHARES;
    }
    if weight >= MAX_CPU_WEIGHT {
        return MAX_CPU_SHARES;
    }
    // exponent = (l² + 125 l) / 612 − 7/34  ⇒  l² + 125 l − 612 (exponent + 7/34) = 0.
    let c = 612.0 * ((weight as f64).log10() + 7.0 / 34.0);
    let l = (-125.0 + (125.0f64 * 125.0 + 4.0 * c).sqrt()) / 2.0;
    (2f64.powf(l).round() as u64).clamp(MIN_CPU_SHARES, MAX_CPU_SHARES)
}

/// v1 `blkio.weight` (10–1000) → v2 `io.weight` (1–10000), linear as in runc and crun.
/// 0 stays 0 ("unset"); values outside the range are clamped to it first.
pub fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    let w = u64::from(weight.clamp(MIN_BLKIO_WEIGHT, MAX_BLKIO_WEIGHT));
    1 + (w - u64::from(MIN_BLKIO_WEIGHT)) * 9_999 / 990
}

/// v2 `io.weight` (1–10000) → v1 `blkio.weight` (10–1000), the inverse of
/// [`blkio_weight_to_io_weight`] rounded to the nearest value. 0 stays 0.
pub fn io_weight_to_blkio_weight(weight: u64) -> u16 {
    if weight == 0 {
        return 0;
    }
    let w = weight.clamp(1, 10_000);
    // Round to nearest: (w − 1) × 990 / 9999, + half the divisor.
    (u64::from(MIN_BLKIO_WEIGHT) + ((w - 1) * 990 + 9_999 / 2) / 9_999) as u16
}

/// Docker's default for `memswap_limit`: unset with a memory limit means swap equal to the
/// limit (memory + swap = 2 × limit); -1 is unlimited; an explicit value is kept.
pub fn compose_memory_swap(mem_limit: Option<i64>, memswap_limit: Option<i64>) -> Option<i64> {
    match (mem_limit, memswap_limit) {
        (_, Some(0)) | (_, None) => match mem_limit {
            Some(m) if m > 0 => Some(m.saturating_mul(2)),
            _ => None,
        },
        (_, Some(s)) if s < 0 => Some(-1),
        (_, Some(s)) => Some(s),
    }
}

/// What to write to v2 `memory.swap.max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapMax {
    Max,
    Bytes(u64),
}

/// Memory + swap (Docker's/v1's meaning) → v2 swap alone (`memory.swap.max` = swap − memory),
/// as runc does. `None`: leave it. -1: unlimited. A memory+swap below the memory limit, or a swap
/// limit without a memory limit, is refused.
pub fn memory_swap_to_v2(
    memory_swap: Option<i64>,
    memory: Option<i64>,
) -> Result<Option<SwapMax>, CgroupError> {
    let memory = memory.filter(|m| *m != 0);
    match memory_swap {
        None | Some(0) => Ok(match memory {
            // Unlimited memory with swap unset: unlimited both, like v1.
            Some(m) if m < 0 => Some(SwapMax::Max),
            _ => None,
        }),
        Some(s) if s < 0 => Ok(Some(SwapMax::Max)),
        Some(s) => match memory {
            None => Err(invalid(
                "memswap_limit",
                s,
                "a swap limit needs a memory limit",
            )),
            Some(m) if m < 0 => Ok(Some(SwapMax::Bytes(s as u64))),
            Some(m) if s < m => Err(invalid(
                "memswap_limit",
                s,
                "memory+swap must be at least the memory limit",
            )),
            Some(m) => Ok(Some(SwapMax::Bytes((s - m) as u64))),
        },
    }
}

/// A byte limit as v1 takes it: a positive number, or -1 for unlimited.
pub fn v1_limit(value: i64) -> String {
    if value <= 0 {
        "-1".to_string()
    } else {
        value.to_string()
    }
}

/// A limit as v2 takes it: a positive number, or `max`.
pub fn v2_limit(value: i64) -> String {
    if value <= 0 {
        "max".to_string()
    } else {
        value.to_string()
    }
}

/// `cpu.max` for v2: `"<quota> <period>"` or `"max <period>"`; `None` when neither is set.
/// A quota ≤ 0 is unlimited (Docker: -1). A quota without a period uses Docker's 100 ms.
pub fn v2_cpu_max(quota: Option<i64>, period: Option<u64>) -> Option<String> {
    if quota.is_none() && period.is_none() {
        return None;
    }
    let period = period.filter(|p| *p > 0).unwrap_or(DEFAULT_CPU_PERIOD_US);
    Some(match quota {
        Some(q) if q > 0 => format!("{q} {period}"),
        _ => format!("max {period}"),
    })
}

/// A device number `MAJ:MIN` (decimal).
pub fn parse_device_number(s: &str) -> Option<(u32, u32)> {
    let (maj, min) = s.trim().split_once(':')?;
    Some((maj.parse().ok()?, min.parse().ok()?))
}

/// One device-cgroup rule (`c 1:3 rwm`, `b 8:* r`, `a`), Docker's `device_cgroup_rules` syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    /// `a` (all), `b` (block) or `c` (character).
    pub kind: char,
    /// `None` is `*`.
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// Some of `r`, `w`, `m`, in that order.
    pub access: String,
}

impl DeviceRule {
    pub fn parse(rule: &str) -> Result<DeviceRule, CgroupError> {
        let bad = |reason: &str| invalid("device rule", rule, reason);
        let mut parts = rule.split_whitespace();
        let kind = match parts.next() {
            Some("a") => 'a',
            Some("b") => 'b',
            Some("c") => 'c',
            _ => return Err(bad("the type must be a, b or c")),
        };
        let (major, minor) = match parts.next() {
            None if kind == 'a' => (None, None),
            None => return Err(bad("missing MAJOR:MINOR")),
            Some(numbers) => {
                let (maj, min) = numbers
                    .split_once(':')
                    .ok_or_else(|| bad("expected MAJOR:MINOR"))?;
                let num = |s: &str| -> Result<Option<u32>, CgroupError> {
                    if s == "*" {
                        Ok(None)
                    } else {
                        s.parse()
                            .map(Some)
                            .map_err(|_| bad("a device number is not a number or *"))
                    }
                };
                (num(maj)?, num(min)?)
            }
        };
        let access_in = parts.next().unwrap_or("rwm");
        if parts.next().is_some() {
            return Err(bad("too many fields"));
        }
        if access_in.is_empty() || !access_in.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
            return Err(bad("access must be made of r, w and m"));
        }
        let access: String = ['r', 'w', 'm']
            .into_iter()
            .filter(|c| access_in.contains(*c))
            .collect();
        Ok(DeviceRule {
            kind,
            major,
            minor,
            access,
        })
    }

    /// The line `devices.allow` / `devices.deny` take.
    pub fn to_v1(&self) -> String {
        let n = |v: Option<u32>| v.map_or_else(|| "*".to_string(), |v| v.to_string());
        format!(
            "{} {}:{} {}",
            self.kind,
            n(self.major),
            n(self.minor),
            self.access
        )
    }
}

/// The devices every container may use, as runc allows them by default (Docker relies on it):
/// mknod of any node (using one still needs a rule), null, random, full, tty, zero, urandom,
/// console, the devpts ptys, ptmx and tun.
pub const DEFAULT_DEVICE_RULES: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:8 rwm",
    "c 1:7 rwm",
    "c 5:0 rwm",
    "c 1:5 rwm",
    "c 1:9 rwm",
    "c 5:1 rwm",
    "c 136:* rwm",
    "c 5:2 rwm",
    "c 10:200 rwm",
];

pub(crate) fn invalid(what: &'static str, value: impl ToString, reason: &str) -> CgroupError {
    CgroupError::Invalid {
        what,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus_table() {
        for (cpus, want) in [
            (1.5, (150_000, 100_000)),
            (1.0, (100_000, 100_000)),
            (0.5, (50_000, 100_000)),
            (0.01, (1_000, 100_000)),
            (2.25, (225_000, 100_000)),
            (0.333, (33_300, 100_000)),
        ] {
            assert_eq!(cpus_to_quota(cpus).unwrap(), want, "cpus {cpus}");
        }
        for bad in [0.0, -1.0, 0.001, f64::NAN, f64::INFINITY] {
            assert!(cpus_to_quota(bad).is_err(), "cpus {bad}");
        }
    }

    #[test]
    fn shares_to_weight_table() {
        // Values of the runc/crun formula (opencontainers/cgroups tests).
        for (shares, weight) in [
            (0, 0),
            (1, 1),
            (2, 1),
            (3, 2),
            (128, 21),
            (512, 59),
            (1024, 100),
            (2048, 174),
            (262_143, 10_000),
            (262_144, 10_000),
            (1_000_000, 10_000),
        ] {
            assert_eq!(cpu_shares_to_weight(shares), weight, "shares {shares}");
        }
    }

    #[test]
    fn weight_to_shares_table() {
        for (weight, shares) in [
            (0, 0),
            (1, 2),
            (100, 1024),
            (10_000, 262_144),
            (20_000, 262_144),
        ] {
            assert_eq!(cpu_weight_to_shares(weight), shares, "weight {weight}");
        }
        // Round trip through the ceil of the forward formula stays within one weight step.
        for shares in [64u64, 256, 512, 1024, 4096, 65_536] {
            let back = cpu_weight_to_shares(cpu_shares_to_weight(shares));
            let w1 = cpu_shares_to_weight(back);
            assert!(
                w1.abs_diff(cpu_shares_to_weight(shares)) <= 1,
                "shares {shares} -> {back}"
            );
        }
    }

    #[test]
    fn blkio_weight_table() {
        for (blkio, io) in [
            (0u16, 0u64),
            (10, 1),
            (100, 910),
            (500, 4950),
            (1000, 10_000),
            (5, 1),
            (2000, 10_000),
        ] {
            assert_eq!(blkio_weight_to_io_weight(blkio), io, "blkio {blkio}");
        }
        for (io, blkio) in [
            (0u64, 0u16),
            (1, 10),
            (100, 20),
            (4950, 500),
            (10_000, 1000),
        ] {
            assert_eq!(io_weight_to_blkio_weight(io), blkio, "io {io}");
        }
        for w in [10u16, 100, 333, 500, 999, 1000] {
            assert_eq!(io_weight_to_blkio_weight(blkio_weight_to_io_weight(w)), w);
        }
    }

    #[test]
    fn compose_memory_swap_table() {
        const M: i64 = 1 << 20;
        for (mem, swap, want) in [
            (None, None, None),
            (Some(64 * M), None, Some(128 * M)),
            (Some(64 * M), Some(0), Some(128 * M)),
            (Some(64 * M), Some(-1), Some(-1)),
            (Some(64 * M), Some(96 * M), Some(96 * M)),
            (None, Some(-1), Some(-1)),
        ] {
            assert_eq!(compose_memory_swap(mem, swap), want, "{mem:?} {swap:?}");
        }
    }

    #[test]
    fn memory_swap_v2_table() {
        const M: i64 = 1 << 20;
        for (swap, mem, want) in [
            (None, None, None),
            (None, Some(64 * M), None),
            (Some(0), Some(64 * M), None),
            (None, Some(-1), Some(SwapMax::Max)),
            (Some(-1), Some(64 * M), Some(SwapMax::Max)),
            (Some(-1), None, Some(SwapMax::Max)),
            (
                Some(96 * M),
                Some(64 * M),
                Some(SwapMax::Bytes(32 * M as u64)),
            ),
            (Some(64 * M), Some(64 * M), Some(SwapMax::Bytes(0))),
            (Some(96 * M), Some(-1), Some(SwapMax::Bytes(96 * M as u64))),
        ] {
            assert_eq!(
                memory_swap_to_v2(swap, mem).unwrap(),
                want,
                "{swap:?} {mem:?}"
            );
        }
        assert!(memory_swap_to_v2(Some(32 * M), Some(64 * M)).is_err());
        assert!(memory_swap_to_v2(Some(32 * M), None).is_err());
    }

    #[test]
    fn limits_and_cpu_max() {
        assert_eq!(v1_limit(-1), "-1");
        assert_eq!(v1_limit(0), "-1");
        assert_eq!(v1_limit(4096), "4096");
        assert_eq!(v2_limit(-1), "max");
        assert_eq!(v2_limit(4096), "4096");
        assert_eq!(v2_cpu_max(None, None), None);
        assert_eq!(
            v2_cpu_max(Some(150_000), Some(100_000)).as_deref(),
            Some("150000 100000")
        );
        assert_eq!(
            v2_cpu_max(Some(50_000), None).as_deref(),
            Some("50000 100000")
        );
        assert_eq!(v2_cpu_max(Some(-1), None).as_deref(), Some("max 100000"));
        assert_eq!(
            v2_cpu_max(None, Some(250_000)).as_deref(),
            Some("max 250000")
        );
    }

    #[test]
    fn device_rules() {
        for (rule, want) in [
            ("c 1:3 rwm", "c 1:3 rwm"),
            ("b 8:* r", "b 8:* r"),
            ("c *:* m", "c *:* m"),
            ("a", "a *:* rwm"),
            ("c 10:200 mwr", "c 10:200 rwm"),
            ("c 4:5", "c 4:5 rwm"),
        ] {
            assert_eq!(DeviceRule::parse(rule).unwrap().to_v1(), want, "{rule}");
        }
        for bad in [
            "",
            "x 1:3 rwm",
            "c 1 rwm",
            "c a:3 rwm",
            "c 1:3 rwx",
            "c 1:3 r w",
        ] {
            assert!(DeviceRule::parse(bad).is_err(), "{bad:?}");
        }
        for rule in DEFAULT_DEVICE_RULES {
            DeviceRule::parse(rule).unwrap();
        }
        assert_eq!(parse_device_number("8:0"), Some((8, 0)));
        assert_eq!(parse_device_number("254:16"), Some((254, 16)));
        assert_eq!(parse_device_number("/dev/sda"), None);
    }
}
