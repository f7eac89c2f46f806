//! Capabilities: Docker's default set, `cap_add`/`cap_drop`/`privileged` applied to it exactly as
//! Docker's `TweakCapabilities` does, the resulting process sets as Docker writes them into the
//! OCI spec, and applying those sets to the current process (the container's setup process,
//! just before exec).
//!
//! Docker gives a root process the capabilities in its bounding, effective and permitted sets;
//! for a non-root user it sets only the bounding set, so the process has no capabilities (as
//! `execve` of a non-setuid binary by a non-root user gives none), while setuid binaries inside
//! can still gain those of the bounding set. Inheritable and ambient sets stay empty (Docker
//! stopped filling inheritable after CVE-2022-24769).

use std::collections::HashSet;
use std::str::FromStr;

use ::caps::{CapSet, Capability, CapsHashSet};

use crate::engine::spec::Capabilities;

/// Docker's default capabilities (moby `oci/caps.DefaultCapabilities`), kernel names without
/// the `CAP_` prefix, in Docker's order.
pub const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    #[error("unknown capability: {0:?}")]
    Unknown(String),
    #[error("reading /proc/sys/kernel/cap_last_cap: {0}")]
    LastCap(String),
    #[error("capabilities: {step} {cap}: {source}")]
    Apply {
        step: &'static str,
        cap: String,
        #[source]
        source: ::caps::errors::CapsError,
    },
}

/// The number of the last capability the running kernel knows (`/proc/sys/kernel/cap_last_cap`).
pub fn kernel_last_cap() -> Result<u8, CapsError> {
    let text = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .map_err(|e| CapsError::LastCap(e.to_string()))?;
    text.trim()
        .parse()
        .map_err(|e: std::num::ParseIntError| CapsError::LastCap(format!("{text:?}: {e}")))
}

/// The capability's name without `CAP_` (`NET_ADMIN`).
fn short_name(cap: Capability) -> String {
    let s = cap.to_string();
    s.strip_prefix("CAP_").unwrap_or(&s).to_string()
}

/// Every capability up to `last_cap`, in kernel number order, without `CAP_`: what a
/// privileged container or `cap_add: [ALL]` gets.
pub fn all_capabilities(last_cap: u8) -> Vec<String> {
    let mut all: Vec<Capability> = ::caps::all()
        .into_iter()
        .filter(|c| c.index() <= last_cap)
        .collect();
    all.sort_by_key(|c| c.index());
    all.into_iter().map(short_name).collect()
}

/// Normalizes one `cap_add`/`cap_drop` entry: case-insensitive, `CAP_` optional, `ALL` kept.
/// Returns the name without `CAP_`.
pub fn normalize(name: &str) -> Result<String, CapsError> {
    let upper = name.trim().to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(upper);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    Capability::from_str(&full)
        .map(short_name)
        .map_err(|_| CapsError::Unknown(name.to_string()))
}

/// The container's capability list, as Docker's `TweakCapabilities` computes it from the
/// defaults: privileged gets all; `ALL` in `cap_add` means all but `cap_drop`; `ALL` in
/// `cap_drop` means only `cap_add`; otherwise defaults minus `cap_drop` plus `cap_add`.
/// Names are checked even when privileged, so a typo is reported either way.
pub fn container_capabilities(
    cap_add: &[String],
    cap_drop: &[String],
    privileged: bool,
    last_cap: u8,
) -> Result<Vec<String>, CapsError> {
    let add = cap_add
        .iter()
        .map(|c| normalize(c))
        .collect::<Result<Vec<_>, _>>()?;
    let drop = cap_drop
        .iter()
        .map(|c| normalize(c))
        .collect::<Result<Vec<_>, _>>()?;
    let all = all_capabilities(last_cap);
    let known = |c: &String| all.contains(c);
    let mut caps: Vec<String> = if privileged {
        all.clone()
    } else if add.iter().any(|c| c == "ALL") {
        all.iter().filter(|c| !drop.contains(c)).cloned().collect()
    } else if drop.iter().any(|c| c == "ALL") {
        add.clone()
    } else {
        DEFAULT_CAPABILITIES
            .iter()
            .map(|c| c.to_string())
            .filter(|c| !drop.contains(c))
            .chain(add.iter().cloned())
            .collect()
    };
    // A capability the running kernel lacks cannot be given; duplicates are dropped.
    let mut seen = HashSet::new();
    caps.retain(|c| c != "ALL" && known(c) && seen.insert(c.clone()));
    Ok(caps)
}

/// The process's capability sets for `caps`, as Docker writes them into the OCI spec: all of
/// bounding/effective/permitted for root (uid 0), only bounding otherwise.
pub fn process_capabilities(caps: &[String], uid: u32) -> Capabilities {
    let list = caps.to_vec();
    if uid == 0 {
        Capabilities {
            bounding: list.clone(),
            effective: list.clone(),
            permitted: list,
            inheritable: Vec::new(),
            ambient: Vec::new(),
        }
    } else {
        Capabilities {
            bounding: list,
            ..Capabilities::default()
        }
    }
}

fn to_set(names: &[String]) -> Result<CapsHashSet, CapsError> {
    names
        .iter()
        .map(|n| {
            Capability::from_str(&format!("CAP_{n}")).map_err(|_| CapsError::Unknown(n.clone()))
        })
        .collect()
}

/// Drops from the bounding set every capability not in `caps.bounding`. Needs CAP_SETPCAP, so
/// it runs before switching to the container's user (runc's order: bounding set, keep-caps,
/// setuid/setgid, then [`apply_process_sets`]).
pub fn drop_bounding(caps: &Capabilities) -> Result<(), CapsError> {
    let keep = to_set(&caps.bounding)?;
    let last = kernel_last_cap()?;
    for cap in ::caps::all() {
        if cap.index() > last || keep.contains(&cap) {
            continue;
        }
        ::caps::drop(None, CapSet::Bounding, cap).map_err(|source| CapsError::Apply {
            step: "dropping from the bounding set",
            cap: cap.to_string(),
            source,
        })?;
    }
    Ok(())
}

/// Sets the effective, inheritable and permitted sets, then the ambient set. Runs after the
/// switch to the container's user (with `PR_SET_KEEPCAPS` so that permitted survives setuid).
pub fn apply_process_sets(caps: &Capabilities) -> Result<(), CapsError> {
    let err = |step: &'static str| {
        move |source| CapsError::Apply {
            step,
            cap: String::new(),
            source,
        }
    };
    // Effective first (it must stay a subset of permitted), permitted last (it can only shrink).
    ::caps::set(None, CapSet::Effective, &to_set(&caps.effective)?)
        .map_err(err("setting the effective set"))?;
    ::caps::set(None, CapSet::Inheritable, &to_set(&caps.inheritable)?)
        .map_err(err("setting the inheritable set"))?;
    ::caps::set(None, CapSet::Permitted, &to_set(&caps.permitted)?)
        .map_err(err("setting the permitted set"))?;
    ::caps::clear(None, CapSet::Ambient).map_err(err("clearing the ambient set"))?;
    for cap in to_set(&caps.ambient)? {
        ::caps::raise(None, CapSet::Ambient, cap).map_err(|source| CapsError::Apply {
            step: "raising in the ambient set",
            cap: cap.to_string(),
            source,
        })?;
    }
    Ok(())
}

/// [`drop_bounding`] then [`apply_process_sets`], for a process that does not change user.
pub fn apply(caps: &Capabilities) -> Result<(), CapsError> {
    drop_bounding(caps)?;
    apply_process_sets(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn defaults() -> Vec<String> {
        v(&DEFAULT_CAPABILITIES)
    }

    /// CAP_CHECKPOINT_RESTORE (40) is the last capability of Linux 5.9+.
    const LAST: u8 = 40;

    #[test]
    fn tweak_like_docker() {
        let with = |extra: &[&str]| {
            let mut d = defaults();
            d.extend(v(extra));
            d
        };
        let without = |gone: &[&str]| -> Vec<String> {
            defaults()
                .into_iter()
                .filter(|c| !gone.contains(&c.as_str()))
                .collect()
        };
        let all = all_capabilities(LAST);
        assert_eq!(all.len(), 41);
        assert_eq!(all[0], "CHOWN");
        assert_eq!(all[40], "CHECKPOINT_RESTORE");
        type Case<'a> = (&'a [&'a str], &'a [&'a str], bool, Vec<String>);
        let cases: Vec<Case> = vec![
            (&[], &[], false, defaults()),
            (&["NET_ADMIN"], &[], false, with(&["NET_ADMIN"])),
            (&["cap_sys_admin"], &[], false, with(&["SYS_ADMIN"])),
            (&["Sys_Ptrace"], &["net_raw"], false, {
                let mut d = without(&["NET_RAW"]);
                d.push("SYS_PTRACE".into());
                d
            }),
            (&["CHOWN"], &[], false, defaults()),
            (
                &[],
                &["CAP_CHOWN", "MKNOD"],
                false,
                without(&["CHOWN", "MKNOD"]),
            ),
            (&[], &["all"], false, vec![]),
            (
                &["NET_BIND_SERVICE"],
                &["ALL"],
                false,
                v(&["NET_BIND_SERVICE"]),
            ),
            (&["ALL"], &[], false, all.clone()),
            (
                &["ALL"],
                &["SYS_ADMIN"],
                false,
                all.iter().filter(|c| *c != "SYS_ADMIN").cloned().collect(),
            ),
            (&[], &["ALL"], true, all.clone()),
        ];
        for (add, drop, privileged, want) in cases {
            let got = container_capabilities(&v(add), &v(drop), privileged, LAST).unwrap();
            assert_eq!(
                got, want,
                "add {add:?} drop {drop:?} privileged {privileged}"
            );
        }
    }

    #[test]
    fn old_kernels_limit_all() {
        // Linux 5.4: CAP_AUDIT_READ (37) is the last.
        let all = container_capabilities(&v(&["ALL"]), &[], false, 37).unwrap();
        assert_eq!(all.len(), 38);
        assert!(!all.contains(&"BPF".to_string()));
        let got = container_capabilities(&v(&["BPF"]), &[], false, 37).unwrap();
        assert_eq!(got, defaults());
    }

    #[test]
    fn unknown_names_are_rejected() {
        for bad in ["NET_ADMINN", "CAP_", "", "CAP_ALL"] {
            let err = container_capabilities(&v(&[bad]), &[], false, LAST).unwrap_err();
            assert_eq!(err.to_string(), format!("unknown capability: {bad:?}"));
            assert!(container_capabilities(&[], &v(&[bad]), true, LAST).is_err());
        }
    }

    #[test]
    fn sets_for_root_and_non_root() {
        let caps = defaults();
        let root = process_capabilities(&caps, 0);
        assert_eq!(root.bounding, caps);
        assert_eq!(root.effective, caps);
        assert_eq!(root.permitted, caps);
        assert!(root.inheritable.is_empty() && root.ambient.is_empty());
        let user = process_capabilities(&caps, 1000);
        assert_eq!(user.bounding, caps);
        assert!(user.effective.is_empty() && user.permitted.is_empty());
        assert!(user.inheritable.is_empty() && user.ambient.is_empty());
    }

    #[test]
    fn kernel_last_cap_is_readable() {
        let last = kernel_last_cap().unwrap();
        assert!(last >= 36, "cap_last_cap {last}");
    }
}
