//! Tests of `sysctls`, through the whole spec builder where the rule shows in the spec.

use super::super::test_support::*;
use super::*;

#[test]
fn only_sysctls_of_the_containers_own_namespaces_are_allowed() {
    for key in [
        "kernel.msgmax",
        "kernel.sem",
        "kernel.shmmax",
        "kernel.shm_rmid_forced",
        "fs.mqueue.msg_max",
        "net.ipv4.ip_forward",
        "net.core.somaxconn",
    ] {
        assert_eq!(sysctl_refusal(key, false), None, "{key}");
    }
    assert_eq!(sysctl_refusal("kernel.shmmax", true), None);
    for (key, host) in [
        ("net.ipv4.ip_forward", true),
        ("vm.swappiness", false),
        ("kernel.panic", false),
        ("kernel.core_pattern", false),
        ("kernel.shm_next_id", false),
        ("kernel.hostname", false),
        ("kernel.domainname", false),
        ("fs.file-max", false),
        ("net", false),
        ("net./ipv4", false),
    ] {
        assert!(sysctl_refusal(key, host).is_some(), "{key}");
    }
    let svc = service("network_mode: host\nsysctls: {kernel.sem: '1', net.core.somaxconn: '1'}");
    let e = check_sysctls("web", &svc).unwrap_err().to_string();
    assert!(e.contains("web") && e.contains("net.core.somaxconn"), "{e}");
    assert!(check_sysctls("web", &service("sysctls: {net.core.somaxconn: '1'}")).is_ok());
}
