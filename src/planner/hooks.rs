//! A service's `post_start` and `pre_stop` hooks resolved into what the engine runs
//! ([`crate::engine::hooks`]): pure, so the rules are tested without a container.
//!
//! A hook without a command is refused when the container is created: Docker Compose would
//! only fail when the hook runs, after the container started.

use crate::engine::spec::{HookSpec, Hooks};
use crate::model::types::service::{ServiceConfig, ServiceHook};

/// The container's hooks; the error names the hook and what is wrong with it.
pub fn hooks(svc: &ServiceConfig) -> Result<Hooks, String> {
    let resolve = |key: &str, list: &[ServiceHook]| -> Result<Vec<HookSpec>, String> {
        list.iter()
            .enumerate()
            .map(|(i, h)| one(h).map_err(|m| format!("{key}[{i}]: {m}")))
            .collect()
    };
    Ok(Hooks {
        post_start: resolve("post_start", &svc.post_start)?,
        pre_stop: resolve("pre_stop", &svc.pre_stop)?,
    })
}

fn one(h: &ServiceHook) -> Result<HookSpec, String> {
    let args = h.command.as_ref().map(|c| c.0.clone()).unwrap_or_default();
    if args.is_empty() {
        return Err("command is required (a string or a list of strings)".into());
    }
    if let Some(w) = h.working_dir.as_deref().filter(|w| !w.starts_with('/')) {
        return Err(format!("working_dir {w:?} must be an absolute path"));
    }
    Ok(HookSpec {
        args,
        // A variable listed without a value and not set where the file was loaded is left out,
        // as for the service's own environment.
        env: h
            .environment
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect(),
        user: h.user.clone().filter(|u| !u.is_empty()),
        workdir: h.working_dir.clone().filter(|w| !w.is_empty()),
        privileged: h.privileged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(yaml: &str) -> ServiceConfig {
        serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
    }

    #[test]
    fn hooks_keep_their_settings_and_order() {
        let h = hooks(&service(
            "image: x\npost_start:\n  - command: [touch, /a]\n    user: '1000:1000'\n    \
             privileged: true\n    working_dir: /tmp\n    environment: {A: '1', GONE: null}\n  \
             - command: echo 'two words'\npre_stop:\n  - command: [sh, -c, 'exit 0']\n",
        ))
        .expect("valid hooks");
        assert_eq!(h.post_start.len(), 2);
        let first = &h.post_start[0];
        assert_eq!(first.args, ["touch", "/a"]);
        assert_eq!(first.user.as_deref(), Some("1000:1000"));
        assert!(first.privileged);
        assert_eq!(first.workdir.as_deref(), Some("/tmp"));
        assert_eq!(first.env, ["A=1"]);
        assert_eq!(h.post_start[1].args, ["echo", "two words"]);
        assert_eq!(h.pre_stop[0].args, ["sh", "-c", "exit 0"]);
        assert!(!h.pre_stop[0].privileged);
    }

    #[test]
    fn a_hook_without_a_command_is_refused_by_name() {
        let e = hooks(&service("image: x\npre_stop:\n  - user: root\n")).unwrap_err();
        assert!(e.starts_with("pre_stop[0]: command is required"), "{e}");
        let e = hooks(&service(
            "image: x\npost_start:\n  - command: [true]\n    working_dir: rel\n",
        ))
        .unwrap_err();
        assert!(e.contains("post_start[0]: working_dir \"rel\""), "{e}");
    }

    #[test]
    fn no_hooks_is_empty() {
        assert!(hooks(&service("image: x\n")).expect("no hooks").is_empty());
    }
}
