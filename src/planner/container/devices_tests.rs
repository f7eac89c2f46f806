//! Tests of `devices`, through the whole spec builder where the rule shows in the spec.

use super::super::test_support::*;
use crate::engine::runtime::host_devices::DeviceSource;

#[test]
fn device_paths_are_the_absolute_sources_and_privileged_asks_for_dev() {
    let svc = service("devices: ['/dev/snd', 'vendor.com/gpu=all']\nprivileged: true");
    assert_eq!(device_paths(&svc), (vec!["/dev/snd"], true));
    assert_eq!(device_paths(&service("image: x")), (vec![], false));
}

#[test]
fn devices_come_from_the_facts_the_stack_read() {
    let mut facts = DeviceFacts::default();
    facts.sources.insert(
        "/dev/snd".into(),
        Ok(DeviceSource::Dir(vec![
            host_node("/dev/snd/controlC0", 116, 1),
            host_node("/dev/snd/timer", 116, 33),
        ])),
    );
    facts.sources.insert(
        "/dev/fuse".into(),
        Ok(DeviceSource::Node(host_node("/dev/fuse", 10, 229))),
    );
    let spec = build_on("devices: ['/dev/snd:/dev/audio:r', '/dev/fuse']", &facts).unwrap();
    let got: Vec<(&str, u64, u64, u32, u32, &str)> = spec
        .devices
        .iter()
        .map(|d| {
            (
                d.path.as_str(),
                d.major,
                d.minor,
                d.file_mode,
                d.gid,
                d.permissions.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("/dev/audio/controlC0", 116, 1, 0o666, 29, "r"),
            ("/dev/audio/timer", 116, 33, 0o666, 29, "r"),
            ("/dev/fuse", 10, 229, 0o666, 29, "rwm"),
        ]
    );
    assert_eq!(
        spec.resources.device_rules,
        strs(&["c 116:1 r", "c 116:33 r", "c 10:229 rwm"])
    );
}

#[test]
fn device_read_errors_and_unread_paths_fail_the_spec_with_the_path() {
    let mut facts = DeviceFacts::default();
    facts.sources.insert(
        "/dev/gone".into(),
        Err(crate::engine::runtime::host_devices::ReadError {
            path: "/dev/gone".into(),
            source: std::io::Error::from_raw_os_error(libc::ENOENT),
        }),
    );
    let e = build_on("devices: ['/dev/gone']", &facts)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("device /dev/gone: No such file"), "{e}");
    let e = build_on("devices: ['/dev/other']", &facts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("device /dev/other: not read"), "{e}");
    let e = build_on("privileged: true", &facts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("device /dev: not read"), "{e}");
}

#[test]
fn a_privileged_container_gets_the_host_dev_and_the_host_network_its_name() {
    let facts = DeviceFacts {
        dev: Some(Ok(vec![
            host_node("/dev/kmsg", 1, 11),
            host_node("/dev/pts/0", 136, 0),
        ])),
        ..DeviceFacts::default()
    };
    let spec = build_on("privileged: true\nnetwork_mode: host", &facts).unwrap();
    let paths: Vec<&str> = spec.devices.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(paths, ["/dev/kmsg"]);
    assert_eq!(spec.devices[0].file_mode, 0o1666);
    assert_eq!(spec.hostname, "the-host");
    assert_eq!(spec.resources.device_rules, strs(&["a *:* rwm"]));
}
