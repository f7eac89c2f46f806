//! The process: its argv and environment by Docker's merge of service and image, the user it
//! runs as (as written; [`crate::engine::runtime::user`] resolves it), its rlimits and its
//! stop signal.

use indexmap::IndexMap;

use super::error::{Ctx, SpecError};
use super::input::OneOffOverrides;
use crate::engine::spec::Rlimit;
use crate::model::types::service::ServiceConfig;
use crate::model::types::ulimits::Ulimit;

/// Docker's default `PATH` for Linux containers.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The user the process runs as, as written: `run --user`, the service's, the image's.
pub(crate) fn user_text(
    svc: &ServiceConfig,
    run: &OneOffOverrides,
    image: Option<&oci_spec::image::Config>,
) -> Option<String> {
    run.user
        .clone()
        .or_else(|| svc.user.clone())
        .or_else(|| image.and_then(|c| c.user().clone()))
}

/// The process's argv, by Docker's merge rules (see the module documentation); `None` when
/// there is nothing to run.
pub(super) fn argv(
    svc: &ServiceConfig,
    run: &OneOffOverrides,
    image: Option<&oci_spec::image::Config>,
) -> Option<Vec<String>> {
    let (entrypoint, command) = argv_parts(svc, run, image);
    let args: Vec<String> = entrypoint.into_iter().chain(command).collect();
    if args.is_empty() {
        None
    } else {
        Some(args)
    }
}

/// The entrypoint and the command of the process's argv (see [`argv`]).
pub(crate) fn argv_parts(
    svc: &ServiceConfig,
    run: &OneOffOverrides,
    image: Option<&oci_spec::image::Config>,
) -> (Vec<String>, Vec<String>) {
    let mut entrypoint: Option<Vec<String>> = svc.entrypoint.as_ref().map(|c| c.0.clone());
    let mut command: Option<Vec<String>> = svc.command.as_ref().map(|c| c.0.clone());
    if let Some(cmd) = run.command.as_ref().filter(|c| !c.is_empty()) {
        command = Some(cmd.clone());
    }
    if let Some(ep) = &run.entrypoint {
        entrypoint = Some(ep.clone());
        if run.command.as_ref().is_none_or(|c| c.is_empty()) {
            command = Some(Vec::new());
        }
    }
    let image_cmd = image.and_then(|c| c.cmd().clone()).unwrap_or_default();
    let image_ep = image
        .and_then(|c| c.entrypoint().clone())
        .unwrap_or_default();
    if entrypoint.as_ref().is_none_or(|e| e.is_empty()) {
        let command = match command {
            Some(c) if !c.is_empty() => c,
            _ => image_cmd,
        };
        let entrypoint = entrypoint.unwrap_or(image_ep);
        (entrypoint, command)
    } else {
        (entrypoint.unwrap_or_default(), command.unwrap_or_default())
    }
}

fn env_key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(k, _)| k)
}

/// The process environment, by Docker's rules (see the module documentation).
pub(super) fn environment(
    svc: &ServiceConfig,
    run: &OneOffOverrides,
    image: Option<&oci_spec::image::Config>,
    hostname: &str,
    tty: bool,
) -> Vec<String> {
    // The container config's Env: the service's (with `run -e` overriding), then the image's
    // entries for variables the service does not mention.
    let mut service_env: IndexMap<String, Option<String>> = svc.environment.clone();
    for e in &run.env {
        match e.split_once('=') {
            Some((k, v)) => service_env.insert(k.to_string(), Some(v.to_string())),
            None => service_env.insert(e.clone(), None),
        };
    }
    let mut config_env: Vec<String> = service_env
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect();
    for e in image.and_then(|c| c.env().as_ref()).into_iter().flatten() {
        if !service_env.contains_key(env_key(e)) {
            config_env.push(e.clone());
        }
    }

    // Docker's defaults, replaced in place, extended, or removed (entry without `=`).
    let mut env: Vec<Option<String>> = vec![
        Some(format!("PATH={DEFAULT_PATH}")),
        Some(format!("HOSTNAME={hostname}")),
    ];
    if tty {
        env.push(Some("TERM=xterm".to_string()));
    }
    for e in config_env {
        let key = env_key(&e).to_string();
        let pos = env
            .iter()
            .position(|x| x.as_deref().is_some_and(|x| env_key(x) == key));
        match (e.contains('='), pos) {
            (false, Some(i)) => env[i] = None,
            (false, None) => {}
            (true, Some(i)) => env[i] = Some(e),
            (true, None) => env.push(Some(e)),
        }
    }
    env.into_iter().flatten().collect()
}

/// Compose ulimit names and the kernel resources they set.
const RLIMITS: [(&str, &str); 16] = [
    ("as", "RLIMIT_AS"),
    ("core", "RLIMIT_CORE"),
    ("cpu", "RLIMIT_CPU"),
    ("data", "RLIMIT_DATA"),
    ("fsize", "RLIMIT_FSIZE"),
    ("locks", "RLIMIT_LOCKS"),
    ("memlock", "RLIMIT_MEMLOCK"),
    ("msgqueue", "RLIMIT_MSGQUEUE"),
    ("nice", "RLIMIT_NICE"),
    ("nofile", "RLIMIT_NOFILE"),
    ("nproc", "RLIMIT_NPROC"),
    ("rss", "RLIMIT_RSS"),
    ("rtprio", "RLIMIT_RTPRIO"),
    ("rttime", "RLIMIT_RTTIME"),
    ("sigpending", "RLIMIT_SIGPENDING"),
    ("stack", "RLIMIT_STACK"),
];

pub(super) fn rlimits_for(svc: &ServiceConfig, ctx: &Ctx) -> Result<Vec<Rlimit>, SpecError> {
    rlimits(&svc.ulimits).map_err(|m| ctx.err(m))
}

/// Compose `ulimits` (a service's, or a build's for its RUN steps) as kernel resource limits;
/// the error names the limit at fault.
pub fn rlimits(ulimits: &IndexMap<String, Ulimit>) -> Result<Vec<Rlimit>, String> {
    let mut out = Vec::new();
    for (name, limit) in ulimits {
        let resource = RLIMITS
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.to_string())
            .ok_or_else(|| format!("invalid ulimit type: {name}"))?;
        let (soft, hard) = limit.limits();
        let value = |v: i64| -> Result<u64, String> {
            match v {
                -1 => Ok(u64::MAX),
                v if v >= 0 => Ok(v as u64),
                v => Err(format!("ulimit {name}: invalid value {v}")),
            }
        };
        let (soft, hard) = (value(soft)?, value(hard)?);
        if soft > hard {
            return Err(format!(
                "ulimit {name}: soft limit {soft} is above the hard limit {hard}"
            ));
        }
        out.push(Rlimit {
            resource,
            soft,
            hard,
        });
    }
    Ok(out)
}

/// Signal names Linux knows, by number (1..=31).
const SIGNALS: [&str; 31] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

/// `TERM`, `sigterm`, `SIGTERM`, `15` -> `SIGTERM`; `SIGRTMIN+3`, `36` -> `SIGRTMIN+2`...
/// (the real-time range starts at 34 with glibc). `None` when unknown.
pub fn normalize_signal(s: &str) -> Option<String> {
    let up = s.trim().to_ascii_uppercase();
    if let Ok(n) = up.parse::<u32>() {
        return match n {
            1..=31 => Some(format!("SIG{}", SIGNALS[n as usize - 1])),
            34..=64 => Some(format!("SIGRTMIN+{}", n - 34)),
            _ => None,
        };
    }
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if SIGNALS.contains(&name) {
        return Some(format!("SIG{name}"));
    }
    let rt = |base: &str, sign: char, max: u32| -> Option<String> {
        let rest = name.strip_prefix(base)?;
        if rest.is_empty() {
            return Some(format!("SIG{base}"));
        }
        let n: u32 = rest.strip_prefix(sign)?.parse().ok()?;
        (n <= max).then(|| format!("SIG{base}{sign}{n}"))
    };
    rt("RTMIN", '+', 30).or_else(|| rt("RTMAX", '-', 30))
}
#[cfg(test)]
#[path = "process_tests.rs"]
mod tests;
