//! Tests of `security`, through the whole spec builder where the rule shows in the spec.

use super::super::test_support::*;
use super::*;
use crate::engine::runtime::caps as capabilities;

#[test]
fn capabilities_and_security() {
    let img = serde_json::json!({"Cmd": ["sh"]});
    let spec = build("image: x", img.clone()).unwrap();
    let defaults = strs(&capabilities::DEFAULT_CAPABILITIES);
    assert_eq!(spec.process.capabilities.effective, defaults);
    assert!(spec.seccomp.is_some());
    assert!(!spec.process.no_new_privileges);
    assert_eq!(spec.masked_paths.len(), 13);
    assert!(spec.masked_paths.contains(&"/proc/kcore".to_string()));
    assert!(spec
        .masked_paths
        .contains(&"/sys/devices/system/cpu/cpu*/thermal_throttle".to_string()));
    assert_eq!(spec.readonly_paths, strs(&DOCKER_READONLY_PATHS));
    // Non-root: bounding only.
    let spec = build("user: app\ncap_add: [net_admin]", img.clone()).unwrap();
    assert!(spec.process.capabilities.effective.is_empty());
    assert!(spec
        .process
        .capabilities
        .bounding
        .contains(&"NET_ADMIN".to_string()));
    let spec = build(
        "security_opt: [no-new-privileges, 'seccomp=unconfined', 'label=disable', 'apparmor=x']",
        img.clone(),
    )
    .unwrap();
    assert!(spec.process.no_new_privileges);
    assert!(spec.seccomp.is_none());
    let spec = build("security_opt: ['no-new-privileges:false']", img.clone()).unwrap();
    assert!(!spec.process.no_new_privileges);
    let spec = build("privileged: true", img.clone()).unwrap();
    assert!(spec.privileged && spec.seccomp.is_none());
    assert!(spec.masked_paths.is_empty() && spec.readonly_paths.is_empty());
    assert_eq!(spec.process.capabilities.bounding.len(), 41);
    assert_eq!(spec.resources.device_rules, strs(&["a *:* rwm"]));
    let spec = build("security_opt: ['systempaths=unconfined']", img.clone()).unwrap();
    assert!(spec.masked_paths.is_empty());
    // A profile file.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.json");
    std::fs::write(
        &p,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mount"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let spec = build(&format!("security_opt: ['seccomp={}']", p.display()), img).unwrap();
    let default_spec = build("image: x", serde_json::json!({"Cmd": ["sh"]})).unwrap();
    assert!(spec.seccomp.is_some() && spec.seccomp != default_spec.seccomp);
    assert!(err("cap_add: [NOPE]").contains("unknown capability"));
    assert!(err("security_opt: [bogus]").contains("invalid security_opt"));
    assert!(err("security_opt: ['no-new-privileges=maybe']").contains("invalid"));
}
