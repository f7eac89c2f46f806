//! Rootfs mount planning through the recording [`FakeMounter`]: what is mounted where, in which
//! order and with which flags, for the parts of a typical container.

use std::path::{Path, PathBuf};

use rustix::fs::FileType;
use rustix::mount::{MountFlags as F, MountPropagationFlags as P, UnmountFlags};

use super::*;
use crate::engine::runtime::masks;
use crate::engine::runtime::mounter_fake::{mount, Call, FakeMounter};
use crate::engine::spec::{MountKind, MountSpec, NsMode, RootfsSpec};

const NSD: F = F::NOSUID.union(F::NODEV).union(F::NOEXEC);

fn node(path: &str, block: bool, major: u64, minor: u64, perm: u32) -> Call {
    Call::MakeNode {
        path: path.into(),
        node: Node {
            block,
            major,
            minor,
            perm,
            uid: 0,
            gid: 0,
        },
    }
}

fn link(target: &str, path: &str) -> Call {
    Call::Symlink {
        target: target.into(),
        path: path.into(),
    }
}

fn bind(source: &str, target: &str, recursive: bool) -> Call {
    Call::Bind {
        source: source.into(),
        target: target.into(),
        recursive,
    }
}

fn remount(target: &str, flags: F, data: &str) -> Call {
    Call::Remount {
        target: target.into(),
        flags,
        data: data.into(),
    }
}

fn user_mount(kind: MountKind, destination: &str, read_only: bool) -> MountSpec {
    MountSpec {
        kind,
        destination: destination.into(),
        read_only,
        create_source: false,
    }
}

/// The standard /dev of every container, between the /dev tmpfs and /dev/pts.
fn standard_dev() -> Vec<Call> {
    let mut calls: Vec<Call> = [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .into_iter()
    .map(|(n, major, minor)| node(&format!("/dev/{n}"), false, major, minor, 0o666))
    .collect();
    calls.extend([
        link("/proc/self/fd", "/dev/fd"),
        link("/proc/self/fd/0", "/dev/stdin"),
        link("/proc/self/fd/1", "/dev/stdout"),
        link("/proc/self/fd/2", "/dev/stderr"),
        link("pts/ptmx", "/dev/ptmx"),
        link("/proc/kcore", "/dev/core"),
    ]);
    calls
}

#[test]
fn system_mounts_come_in_order_with_their_flags_and_sys_is_read_only() {
    let m = FakeMounter::default();
    let spec = ContainerSpec {
        shm_size: 64 << 20,
        devices: vec![DeviceSpec {
            path: "/dev/snd/timer".into(),
            kind: 'c',
            major: 116,
            minor: 33,
            file_mode: 0o100660,
            uid: 0,
            gid: 29,
            permissions: "rwm".into(),
        }],
        ..ContainerSpec::default()
    };
    mount_system(&m, &"/merged".to_string(), &spec).expect("planned");
    let mut want = vec![
        mount("proc", "/proc", "proc", NSD, ""),
        mount("sysfs", "/sys", "sysfs", NSD | F::RDONLY, ""),
        mount(
            "tmpfs",
            "/dev",
            "tmpfs",
            F::NOSUID | F::STRICTATIME,
            "mode=755,size=65536k",
        ),
    ];
    let mut dev = standard_dev();
    let links = dev.split_off(6);
    want.extend(dev);
    want.extend([
        Call::Unlink("/dev/snd/timer".into()),
        Call::MakeNode {
            path: "/dev/snd/timer".into(),
            node: Node {
                block: false,
                major: 116,
                minor: 33,
                perm: 0o660,
                uid: 0,
                gid: 29,
            },
        },
    ]);
    want.extend(links);
    want.extend([
        mount(
            "devpts",
            "/dev/pts",
            "devpts",
            F::NOSUID | F::NOEXEC,
            "newinstance,ptmxmode=0666,mode=0620,gid=5",
        ),
        mount("shm", "/dev/shm", "tmpfs", NSD, "mode=1777,size=67108864"),
        mount("mqueue", "/dev/mqueue", "mqueue", NSD, ""),
    ]);
    assert_eq!(m.take(), want);
    // The device's directory is made inside the root like any mount target.
    assert!(m
        .resolved
        .borrow()
        .contains(&("/dev/snd".to_string(), TargetKind::Dir)));
}

#[test]
fn a_privileged_container_gets_a_writable_sys_and_a_shared_ipc_no_shm_of_its_own() {
    let m = FakeMounter::default();
    let mut spec = ContainerSpec {
        privileged: true,
        ..ContainerSpec::default()
    };
    spec.namespaces.ipc = NsMode::Host;
    mount_system(&m, &"/merged".to_string(), &spec).expect("planned");
    let calls = m.take();
    assert_eq!(calls[1], mount("sysfs", "/sys", "sysfs", NSD, ""));
    assert!(!calls
        .iter()
        .any(|c| matches!(c, Call::Mount { target, .. } if target == "/dev/shm")));
    assert_eq!(
        calls.last(),
        Some(&mount("mqueue", "/dev/mqueue", "mqueue", NSD, ""))
    );
}

#[test]
fn overlay_layers_sharing_a_directory_are_named_relative_to_it() {
    let m = FakeMounter::default();
    let spec = ContainerSpec {
        rootfs: RootfsSpec {
            layers: vec![PathBuf::from("/s/layers/b"), PathBuf::from("/s/layers/a")],
            ..RootfsSpec::default()
        },
        ..ContainerSpec::default()
    };
    let dir = Path::new("/s/c/1");
    mount_overlay(&m, &spec, dir, &dir.join("merged")).expect("planned");
    assert_eq!(
        m.take(),
        [
            Call::Chdir("/s/layers".into()),
            mount(
                "overlay",
                "/s/c/1/merged",
                "overlay",
                F::empty(),
                "lowerdir=b:a,upperdir=/s/c/1/upper,workdir=/s/c/1/work"
            ),
        ]
    );

    let spec = ContainerSpec {
        rootfs: RootfsSpec {
            layers: vec![PathBuf::from("/x/a"), PathBuf::from("/y/b")],
            ..RootfsSpec::default()
        },
        ..ContainerSpec::default()
    };
    mount_overlay(&m, &spec, dir, &dir.join("merged")).expect("planned");
    assert_eq!(
        m.take(),
        [mount(
            "overlay",
            "/s/c/1/merged",
            "overlay",
            F::empty(),
            "lowerdir=/x/a:/y/b,upperdir=/s/c/1/upper,workdir=/s/c/1/work"
        )]
    );
}

#[test]
fn an_overlay_without_layers_or_with_a_colon_in_a_layer_mounts_nothing() {
    let m = FakeMounter::default();
    let dir = Path::new("/s/c/1");
    let none = mount_overlay(&m, &ContainerSpec::default(), dir, &dir.join("merged"));
    assert!(none.expect_err("no layers").message.contains("no layers"));
    let spec = ContainerSpec {
        rootfs: RootfsSpec {
            layers: vec![PathBuf::from("/x/a:b"), PathBuf::from("/y/b")],
            ..RootfsSpec::default()
        },
        ..ContainerSpec::default()
    };
    let colon = mount_overlay(&m, &spec, dir, &dir.join("merged"));
    assert!(colon.expect_err("colon").message.contains("':' or ','"));
    assert!(m.take().iter().all(|c| !matches!(c, Call::Mount { .. })));
}

#[test]
fn user_mounts_bind_volume_and_tmpfs_in_spec_order() {
    let m = FakeMounter {
        dirs: ["/host/data", "/v/db/_data"]
            .into_iter()
            .map(String::from)
            .collect(),
        ..FakeMounter::default()
    };
    let spec = ContainerSpec {
        mounts: vec![
            user_mount(
                MountKind::Bind {
                    source: "/host/data".into(),
                    propagation: Some("rshared".into()),
                    recursive: true,
                },
                "/data",
                true,
            ),
            user_mount(
                MountKind::Bind {
                    source: "/host/app.conf".into(),
                    propagation: None,
                    recursive: false,
                },
                "/etc/app.conf",
                false,
            ),
            user_mount(
                MountKind::Volume {
                    volume: "/v/db".into(),
                    subpath: None,
                    copy: false,
                },
                "/var/lib/db",
                false,
            ),
            user_mount(
                MountKind::Tmpfs {
                    size: Some(1 << 20),
                    mode: Some(0o700),
                    options: vec![],
                },
                "/run",
                false,
            ),
        ],
        ..ContainerSpec::default()
    };
    mount_user(&m, &"/merged".to_string(), &spec).expect("planned");
    assert_eq!(
        m.take(),
        [
            bind("/host/data", "/data", true),
            remount("/data", F::BIND | F::RDONLY | F::NOSUID | F::NODEV, ""),
            Call::Propagate {
                target: "/data".into(),
                flags: P::SHARED | P::REC,
            },
            bind("/host/app.conf", "/etc/app.conf", false),
            bind("/v/db/_data", "/var/lib/db", true),
            mount(
                "tmpfs",
                "/run",
                "tmpfs",
                F::NOSUID | F::NODEV,
                "mode=700,size=1048576"
            ),
        ]
    );
    let resolved = m.resolved.borrow();
    assert!(resolved.contains(&("/data".to_string(), TargetKind::Dir)));
    assert!(resolved.contains(&("/etc/app.conf".to_string(), TargetKind::File)));
    assert!(resolved.contains(&("/var/lib/db".to_string(), TargetKind::Dir)));
}

#[test]
fn a_read_only_bind_falls_back_when_the_kernel_keeps_nosuid_and_a_missing_source_is_made() {
    let m = FakeMounter {
        refuse_remount: Some(F::NOSUID),
        missing: ["/host/new".to_string()].into_iter().collect(),
        ..FakeMounter::default()
    };
    let spec = ContainerSpec {
        mounts: vec![MountSpec {
            create_source: true,
            ..user_mount(
                MountKind::Bind {
                    source: "/host/new".into(),
                    propagation: None,
                    recursive: true,
                },
                "/new",
                true,
            )
        }],
        ..ContainerSpec::default()
    };
    mount_user(&m, &"/merged".to_string(), &spec).expect("planned");
    assert_eq!(
        m.take(),
        [
            Call::CreateSourceDir("/host/new".into()),
            bind("/host/new", "/new", true),
            remount("/new", F::BIND | F::RDONLY | F::NOSUID | F::NODEV, ""),
            remount("/new", F::BIND | F::RDONLY, ""),
        ]
    );
}

#[test]
fn etc_files_are_bound_only_when_the_engine_wrote_them() {
    let m = FakeMounter {
        missing: ["/c/1/resolv.conf".to_string()].into_iter().collect(),
        ..FakeMounter::default()
    };
    mount_etc_files(&m, &"/merged".to_string(), Path::new("/c/1"), false).expect("planned");
    assert_eq!(
        m.take(),
        [
            bind("/c/1/hostname", "/etc/hostname", false),
            bind("/c/1/hosts", "/etc/hosts", false),
        ]
    );
    assert!(m
        .resolved
        .borrow()
        .iter()
        .all(|(_, kind)| *kind == TargetKind::File));
}

#[test]
fn v1_cgroups_get_a_tmpfs_each_hierarchy_and_a_read_only_remount() {
    let m = FakeMounter::default();
    let mounts = [
        CgroupMount {
            fstype: "cgroup".into(),
            options: "memory".into(),
            dir: "memory".into(),
        },
        CgroupMount {
            fstype: "cgroup".into(),
            options: "cpu,cpuacct".into(),
            dir: "cpu,cpuacct".into(),
        },
    ];
    mount_cgroups(&m, &"/merged".to_string(), &mounts, false).expect("planned");
    assert_eq!(
        m.take(),
        [
            mount("tmpfs", "/sys/fs/cgroup", "tmpfs", NSD, "mode=755"),
            mount(
                "cgroup",
                "/sys/fs/cgroup/memory",
                "cgroup",
                NSD | F::RDONLY,
                "memory"
            ),
            mount(
                "cgroup",
                "/sys/fs/cgroup/cpu,cpuacct",
                "cgroup",
                NSD | F::RDONLY,
                "cpu,cpuacct"
            ),
            remount("/sys/fs/cgroup", NSD | F::RDONLY, "mode=755"),
        ]
    );
    let unified = [CgroupMount {
        fstype: "cgroup2".into(),
        options: String::new(),
        dir: String::new(),
    }];
    mount_cgroups(&m, &"/merged".to_string(), &unified, true).expect("planned");
    assert_eq!(
        m.take(),
        [mount("cgroup2", "/sys/fs/cgroup", "cgroup2", NSD, "")]
    );
}

#[test]
fn the_pivot_detaches_the_old_root_and_read_only_remounts_slash() {
    let m = FakeMounter::default();
    pivot(&m, Path::new("/c/1/merged")).expect("planned");
    make_root_readonly(&m).expect("planned");
    assert_eq!(
        m.take(),
        [
            Call::Chdir("/c/1/merged".into()),
            Call::PivotRoot {
                new_root: ".".into(),
                put_old: ".".into(),
            },
            Call::Propagate {
                target: ".".into(),
                flags: P::DOWNSTREAM | P::REC,
            },
            Call::Unmount {
                target: ".".into(),
                flags: UnmountFlags::DETACH,
            },
            Call::Chdir("/".into()),
            remount("/", F::BIND | F::RDONLY, ""),
        ]
    );
}

#[test]
fn masked_files_get_the_null_device_dirs_a_tmpfs_and_read_only_paths_a_remount() {
    let m = FakeMounter {
        dirs: ["/proc/acpi".to_string()].into_iter().collect(),
        missing: ["/proc/timer_list".to_string()].into_iter().collect(),
        listing: [(
            "/sys/devices/system/cpu".to_string(),
            vec!["cpu1".to_string(), "cpu0".to_string(), "online".to_string()],
        )]
        .into_iter()
        .collect(),
        ..FakeMounter::default()
    };
    let spec = ContainerSpec {
        masked_paths: vec![
            "/proc/kcore".into(),
            "/proc/acpi".into(),
            "/proc/timer_list".into(),
            "/sys/devices/system/cpu/cpu*/thermal_throttle".into(),
        ],
        readonly_paths: vec!["/proc/sys".into()],
        ..ContainerSpec::default()
    };
    let root = "/".to_string();
    let null = masks::open_null(&m, &root).expect("the null device");
    masks::apply(&m, &spec, &null).expect("planned");
    let tree = |target: &str| Call::BindTree {
        source: "/dev/null".into(),
        target: target.into(),
    };
    assert_eq!(
        m.take(),
        [
            tree("/proc/kcore"),
            mount("tmpfs", "/proc/acpi", "tmpfs", F::RDONLY, "size=0"),
            tree("/sys/devices/system/cpu/cpu0/thermal_throttle"),
            tree("/sys/devices/system/cpu/cpu1/thermal_throttle"),
            bind("/proc/sys", "/proc/sys", true),
            remount(
                "/proc/sys",
                F::BIND | F::RDONLY | F::NOSUID | F::NODEV | F::NOEXEC,
                ""
            ),
        ]
    );
}

#[test]
fn a_dev_null_that_is_not_the_null_device_is_refused() {
    let m = FakeMounter {
        null: Some((FileType::RegularFile, 0)),
        ..FakeMounter::default()
    };
    let err = masks::open_null(&m, &"/merged".to_string()).expect_err("a file");
    assert!(err.message.contains("not the null character device"));
}
