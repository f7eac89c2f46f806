//! The options of a tmpfs mount (`tmpfs:` entries and volumes of type tmpfs): mount flags and
//! tmpfs data options, read once here so that the planner validates exactly what the runtime
//! applies, and nothing a user writes is accepted and then ignored.
//!
//! Every tmpfs starts from `nosuid,nodev`; the planner adds Docker's `noexec` in front of the
//! user's options (moby mounts each tmpfs `noexec,nosuid,nodev` unless told otherwise), so a
//! later `exec`, `suid` or `dev` undoes it as in Docker.

use rustix::mount::MountFlags;

/// What one option does to the mount flags: set them (`true`) or clear them (`false`).
fn flag(opt: &str) -> Option<(MountFlags, bool)> {
    Some(match opt {
        "rw" => (MountFlags::RDONLY, false),
        "suid" => (MountFlags::NOSUID, false),
        "nosuid" => (MountFlags::NOSUID, true),
        "dev" => (MountFlags::NODEV, false),
        "nodev" => (MountFlags::NODEV, true),
        "exec" => (MountFlags::NOEXEC, false),
        "noexec" => (MountFlags::NOEXEC, true),
        "sync" => (MountFlags::SYNCHRONOUS, true),
        "async" => (MountFlags::SYNCHRONOUS, false),
        "dirsync" => (MountFlags::DIRSYNC, true),
        "atime" => (MountFlags::NOATIME, false),
        "noatime" => (MountFlags::NOATIME, true),
        "diratime" => (MountFlags::NODIRATIME, false),
        "nodiratime" => (MountFlags::NODIRATIME, true),
        "relatime" => (MountFlags::RELATIME, true),
        "norelatime" => (MountFlags::RELATIME, false),
        "strictatime" => (MountFlags::STRICTATIME, true),
        "nostrictatime" => (MountFlags::STRICTATIME, false),
        _ => return None,
    })
}

/// Whether `opt` is a tmpfs data option (`uid=0`, `nr_inodes=10k`, `mpol=bind:0-3`) with a
/// value the kernel can be given: the value cannot end the option string early nor add another.
fn data_option(opt: &str) -> Result<bool, String> {
    let Some((key, value)) = opt.split_once('=') else {
        return Ok(false);
    };
    let ok = match key {
        "uid" | "gid" => !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()),
        "nr_inodes" | "nr_blocks" => {
            let digits = value.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G', '%']);
            !digits.is_empty()
                && digits.len() + 1 >= value.len()
                && digits.bytes().all(|b| b.is_ascii_digit())
        }
        "mpol" => {
            !value.is_empty()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'-')
        }
        _ => return Ok(false),
    };
    if ok {
        Ok(true)
    } else {
        Err(format!("invalid value in {opt:?}"))
    }
}

/// Checks one option the way [`apply`] will read it: `Err` names what is wrong.
pub fn check(opt: &str) -> Result<(), String> {
    if flag(opt).is_some() || data_option(opt)? {
        return Ok(());
    }
    match opt {
        // The defaults: the tmpfs starts empty; no mandatory locks (Linux 5.15 removed them).
        "notmpcopyup" | "nomand" => Ok(()),
        "mand" => Err("option \"mand\" (mandatory locking) is not supported by Linux".into()),
        "tmpcopyup" => Err(
            "option \"tmpcopyup\" (copying the image's content into the tmpfs) is not supported"
                .into(),
        ),
        _ => Err(format!("unknown option {opt:?}")),
    }
}

/// The mount flags and the data string for a tmpfs with `options` (validated by [`check`];
/// anything else is skipped), over `nosuid,nodev`, with `base_data` (`mode=...,size=...`) first.
pub fn apply(options: &[String], read_only: bool, base_data: String) -> (MountFlags, String) {
    let mut flags = MountFlags::NOSUID | MountFlags::NODEV;
    let mut data = base_data;
    for opt in options {
        if let Some((f, set)) = flag(opt) {
            if set {
                flags |= f;
            } else {
                flags &= !f;
            }
        } else if data_option(opt).unwrap_or(false) {
            data.push(',');
            data.push_str(opt);
        }
    }
    if read_only {
        flags |= MountFlags::RDONLY;
    }
    (flags, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn docker_defaults_and_what_undoes_them() {
        let (f, d) = apply(&opts(&["noexec"]), false, "mode=1777".into());
        assert_eq!(
            f,
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC
        );
        assert_eq!(d, "mode=1777");
        let (f, _) = apply(
            &opts(&["noexec", "exec", "suid", "dev"]),
            false,
            String::new(),
        );
        assert_eq!(f, MountFlags::empty());
        let (f, _) = apply(&opts(&["noexec", "noatime", "sync"]), true, String::new());
        assert!(f.contains(MountFlags::NOATIME | MountFlags::SYNCHRONOUS | MountFlags::RDONLY));
    }

    #[test]
    fn data_options_reach_the_kernel_and_bad_values_do_not() {
        let (_, d) = apply(
            &opts(&["uid=1000", "gid=5", "nr_inodes=10k", "mpol=bind:0-1"]),
            false,
            "mode=700".into(),
        );
        assert_eq!(d, "mode=700,uid=1000,gid=5,nr_inodes=10k,mpol=bind:0-1");
        assert!(check("uid=abc").is_err());
        assert!(check("nr_blocks=1kk").is_err());
        assert!(check("mpol=a b").is_err());
        assert!(check("bogus").unwrap_err().contains("unknown option"));
        assert!(check("tmpcopyup").unwrap_err().contains("not supported"));
        assert!(check("notmpcopyup").is_ok());
        assert!(check("noexec").is_ok());
    }
}
