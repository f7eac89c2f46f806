use super::probe_fake::FakeHost;
use super::*;

fn features(info: &HostInfo) -> Vec<&str> {
    info.missing.iter().map(|m| m.feature.as_str()).collect()
}

fn disables<'a>(info: &'a HostInfo, feature: &str) -> &'a str {
    info.missing
        .iter()
        .find(|m| m.feature == feature)
        .map(|m| m.disables.as_str())
        .unwrap_or_else(|| panic!("{feature} not reported missing: {:?}", info.missing))
}

#[test]
fn a_complete_host_misses_nothing_and_every_probe_is_asked_once() {
    let host = FakeHost::complete();
    let info = gather(&host);
    assert!(info.missing.is_empty(), "{:?}", info.missing);
    let mut asked = host.asked.borrow().clone();
    asked.sort();
    assert_eq!(
        asked,
        [
            "cgroups",
            "clone3",
            "criu",
            "kernel",
            "mount_setattr",
            "nftables",
            "overlay",
            "pidfd",
            "seccomp",
            "user_namespaces"
        ]
    );
    assert_eq!(info.criu.as_deref(), Some("3.17"));
}

#[test]
fn a_missing_v2_controller_names_the_keys_it_disables() {
    let mut host = FakeHost::complete();
    if let Some(cg) = host.cgroups.as_mut() {
        cg.controllers.retain(|c| c != "memory" && c != "pids");
    }
    let info = gather(&host);
    assert_eq!(
        features(&info),
        ["cgroup controller memory", "cgroup controller pids"]
    );
    assert!(disables(&info, "cgroup controller memory").contains("mem_limit"));
    assert!(disables(&info, "cgroup controller pids").contains("pids_limit"));
}

#[test]
fn v1_is_judged_by_v1_names_freezer_and_devices_included() {
    let mut host = FakeHost::complete();
    host.cgroups = Some(CgroupFacts {
        version: CgroupVersion::V1,
        controllers: [
            "blkio", "cpu", "cpuset", "devices", "hugetlb", "memory", "pids",
        ]
        .iter()
        .map(|c| c.to_string())
        .collect(),
    });
    let info = gather(&host);
    assert_eq!(features(&info), ["cgroup controller freezer"]);
    assert!(disables(&info, "cgroup controller freezer").contains("pause"));
}

#[test]
fn each_missing_feature_says_what_it_disables() {
    let mut host = FakeHost::complete();
    host.clone3 = false;
    host.overlay = None;
    host.cgroups = None;
    host.nftables = false;
    host.seccomp = false;
    host.pidfd = false;
    host.mount_setattr = false;
    host.user_namespaces = false;
    host.criu = None;
    let info = gather(&host);
    assert_eq!(
        features(&info),
        [
            "clone3",
            "overlayfs",
            "cgroups",
            "nftables",
            "seccomp",
            "pidfd",
            "mount_setattr (idmapped mounts)",
            "user namespaces",
            "criu"
        ]
    );
    assert!(disables(&info, "nftables").contains("published ports"));
    assert!(disables(&info, "overlayfs").contains("every container"));
    assert!(disables(&info, "pidfd").contains("exec"));
    assert!(disables(&info, "criu").contains("nothing"));
    assert!(info.missing.iter().all(|m| !m.disables.is_empty()));
}
