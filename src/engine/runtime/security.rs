//! The last steps before the user's command: user and groups, capabilities, no_new_privs and the
//! seccomp filter, in the order runc found that works.
//!
//! The bounding set is reduced while we are still fully privileged; a seccomp filter is installed
//! before the switch of user when `no_new_privileges` is off (without it, installing one needs
//! CAP_SYS_ADMIN, which the process is about to lose) and as the very last step otherwise; the
//! capability sets are set after the user switch (which clears the effective set), with
//! PR_SET_KEEPCAPS keeping the permitted set across it.

use std::path::Path;

use super::error::{InitError, Step};
use super::{caps, seccomp};
use crate::engine::spec::ContainerSpec;

pub fn enter(spec: &ContainerSpec) -> Result<(), InitError> {
    let p = &spec.process;
    let capfail = |e: caps::CapsError| InitError::msg(Step::Capabilities, None, e.to_string());
    let capabilities = grantable(&p.capabilities)?;
    caps::drop_bounding(&capabilities).map_err(capfail)?;
    if p.no_new_privileges {
        rustix::thread::set_no_new_privs(true)
            .map_err(|e| InitError::sys(Step::Seccomp, None, e))?;
    }
    if !p.no_new_privileges {
        if let Some(f) = &spec.seccomp {
            seccomp::install(f).map_err(|e| InitError::io(Step::Seccomp, None, &e))?;
        }
    }

    rustix::thread::set_keep_capabilities(true).map_err(|e| InitError::sys(Step::User, None, e))?;
    let groups: Vec<rustix::process::Gid> = p
        .user
        .additional_gids
        .iter()
        .map(|g| rustix::process::Gid::from_raw(*g))
        .collect();
    rustix::thread::set_thread_groups(&groups).map_err(|e| InitError::sys(Step::User, None, e))?;
    let gid = rustix::process::Gid::from_raw(p.user.gid);
    let uid = rustix::process::Uid::from_raw(p.user.uid);
    // The raw syscalls act on the whole (single-threaded) process, as setresgid(2) does.
    rustix::thread::set_thread_res_gid(gid, gid, gid)
        .map_err(|e| InitError::sys(Step::User, None, e))?;
    rustix::thread::set_thread_res_uid(uid, uid, uid)
        .map_err(|e| InitError::sys(Step::User, None, e))?;
    rustix::thread::set_keep_capabilities(false)
        .map_err(|e| InitError::sys(Step::User, None, e))?;
    caps::apply_process_sets(&capabilities).map_err(capfail)?;

    if p.no_new_privileges {
        if let Some(f) = &spec.seccomp {
            seccomp::install(f)
                .map_err(|e| InitError::io(Step::Seccomp, Some(Path::new("seccomp")), &e))?;
        }
    }
    Ok(())
}

/// The requested sets less what this process cannot grant: a capability outside our own bounding
/// set (a host that runs us with a reduced one, as some sandboxes do) cannot be given to a
/// container, and asking the kernel for it fails the whole start (`privileged`, `cap_add: [ALL]`).
fn grantable(
    requested: &crate::engine::spec::Capabilities,
) -> Result<crate::engine::spec::Capabilities, InitError> {
    use std::str::FromStr;
    let ours = ::caps::read(None, ::caps::CapSet::Bounding)
        .map_err(|e| InitError::msg(Step::Capabilities, None, e.to_string()))?;
    let keep = |list: &[String]| -> Vec<String> {
        list.iter()
            .filter(|n| {
                ::caps::Capability::from_str(&format!("CAP_{n}"))
                    .map(|c| ours.contains(&c))
                    .unwrap_or(false)
            })
            .cloned()
            .collect()
    };
    Ok(crate::engine::spec::Capabilities {
        bounding: keep(&requested.bounding),
        effective: keep(&requested.effective),
        permitted: keep(&requested.permitted),
        inheritable: keep(&requested.inheritable),
        ambient: keep(&requested.ambient),
    })
}
