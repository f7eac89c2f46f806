//! Tests of `mounts`, through the whole spec builder where the rule shows in the spec.

use super::super::test_support::*;
use super::super::{is_own_anonymous_volume, DEFAULT_SHM_SIZE};
use super::proc_destination_allowed;
use crate::engine::runtime::host_files::{HostFile, HostFiles};
use crate::engine::spec::MountSpec;

#[test]
fn mounts_volumes_tmpfs() {
    let img = serde_json::json!({"Cmd": ["sh"], "Volumes": {"/data": {}, "/cache": {}}});
    let svc = service(
        "volumes:\n\
         - /host/src:/src:ro\n\
         - named:/data\n\
         - /anon\n\
         - {type: tmpfs, target: /scratch, tmpfs: {size: 1m, mode: 0o700}}\n\
         - {type: bind, source: /host/x, target: /src/x, bind: {propagation: rshared}}\n\
         tmpfs: ['/run:size=64m,mode=1777', /tmp]",
    );
    let run = OneOffOverrides {
        volumes: strs(&["/host/extra:/extra"]),
        ..Default::default()
    };
    let spec = build_with(&svc, &image(img), Some(&run)).unwrap();
    let got: Vec<(String, MountKind, bool)> = spec
        .mounts
        .iter()
        .map(|m| (m.destination.clone(), m.kind.clone(), m.read_only))
        .collect();
    let bind = |s: &str, prop: Option<&str>| MountKind::Bind {
        source: s.into(),
        propagation: prop.map(String::from),
        recursive: true,
    };
    let volume = |v: &str| MountKind::Volume {
        volume: v.into(),
        subpath: None,
        copy: true,
    };
    let want = vec![
        ("/src".to_string(), bind("/host/src", None), true),
        ("/data".into(), volume("/VOL/proj_named"), false),
        ("/anon".into(), volume(&format!("/VOL/{ID}-1")), false),
        (
            "/scratch".into(),
            MountKind::Tmpfs {
                size: Some(1 << 20),
                mode: Some(0o700),
                options: vec!["noexec".into()],
            },
            false,
        ),
        ("/extra".into(), bind("/host/extra", None), false),
        (
            "/run".into(),
            MountKind::Tmpfs {
                size: Some(64 << 20),
                mode: Some(0o1777),
                options: vec!["noexec".into()],
            },
            false,
        ),
        (
            "/tmp".into(),
            MountKind::Tmpfs {
                size: None,
                mode: None,
                options: vec!["noexec".into()],
            },
            false,
        ),
        // The image's /cache VOLUME gets an anonymous volume; /data is covered.
        ("/cache".into(), volume(&format!("/VOL/{ID}-2")), false),
        ("/src/x".into(), bind("/host/x", Some("rshared")), false),
    ];
    assert_eq!(got, want);
    assert!(err("volumes: ['/a:/x', '/b:/x']").contains("duplicate mount point: /x"));
    assert!(err("tmpfs: ['/t:size=oops']").contains("invalid tmpfs"));
    assert!(err("tmpfs: ['/t:bogus']").contains("unknown option"));
    assert_eq!(
        build("shm_size: 1g", serde_json::json!({"Cmd": ["sh"]}))
            .unwrap()
            .shm_size,
        1 << 30
    );
    assert_eq!(
        build("image: x", serde_json::json!({"Cmd": ["sh"]}))
            .unwrap()
            .shm_size,
        DEFAULT_SHM_SIZE
    );
}

#[test]
fn a_replacing_container_takes_the_anonymous_volumes_at_the_same_destinations() {
    let mut f = fixture();
    let old = f.volumes_dir.join("f".repeat(64) + "-1");
    f.inherited.insert("/data".into(), old.clone());
    let svc = service("volumes: [/data/, /other]");
    let img = image(serde_json::json!({"Cmd": ["sh"], "Volumes": {"/cache": {}}}));
    let spec = build_container_spec(&ContainerInput {
        project: "proj",
        service_name: "web",
        service: &svc,
        image: &img,
        layers: &f.layers,
        rootfs_files: &f.files,
        container_id: ID,
        container_name: "proj-web-1",
        number: 1,
        volumes_dir: &f.volumes_dir,
        inherited_volumes: &f.inherited,
        volume_names: &f.names,
        one_off: None,
        host: &f.host,
        devices: &DeviceFacts::default(),
        host_files: &HostFiles::default(),
        host_gateway: None,
        join_container: None,
        file_mounts: &[],
        volumes_from: &[],
    })
    .unwrap();
    let got: Vec<(&str, PathBuf)> = spec
        .mounts
        .iter()
        .filter_map(|m| match &m.kind {
            MountKind::Volume { volume, .. } => Some((m.destination.as_str(), volume.clone())),
            _ => None,
        })
        .collect();
    let own = |n: u32| f.volumes_dir.join(format!("{ID}-{n}"));
    assert_eq!(
        got,
        vec![
            ("/data", old.clone()),
            ("/other", own(1)),
            ("/cache", own(2))
        ]
    );
    assert!(is_own_anonymous_volume(&own(2), ID));
    assert!(!is_own_anonymous_volume(&old, ID));
    assert!(!is_own_anonymous_volume(
        &f.volumes_dir.join(format!("{ID}-")),
        ID
    ));
    assert!(!is_own_anonymous_volume(
        &f.volumes_dir.join(format!("{ID}-1x")),
        ID
    ));
}

#[test]
fn volume_subpath_and_nocopy() {
    let img = serde_json::json!({"Cmd": ["sh"]});
    let spec = build(
        "volumes:\n\
         - {type: volume, source: named, target: /a, volume: {subpath: x/y}}\n\
         - {type: volume, source: named, target: /b, volume: {nocopy: true}}\n\
         - named:/c:nocopy",
        img,
    )
    .unwrap();
    let kinds: Vec<MountKind> = spec.mounts.iter().map(|m| m.kind.clone()).collect();
    let volume = |subpath: Option<&str>| MountKind::Volume {
        volume: "/VOL/proj_named".into(),
        subpath: subpath.map(String::from),
        copy: false,
    };
    assert_eq!(kinds, vec![volume(Some("x/y")), volume(None), volume(None)]);
    for bad in ["/abs", "a/../../b", ".."] {
        let e = err(&format!(
            "volumes: [{{type: volume, source: named, target: /a, volume: {{subpath: '{bad}'}}}}]"
        ));
        assert!(
            e.contains("must be relative and stay inside the volume"),
            "{e}"
        );
    }
}

#[test]
fn nothing_is_mounted_over_proc_but_binds_of_lxcfs_files() {
    let m = |kind: MountKind, dest: &str| MountSpec {
        kind,
        destination: dest.into(),
        read_only: false,
        create_source: false,
    };
    let bind = || MountKind::Bind {
        source: "/var/lib/lxcfs/proc/meminfo".into(),
        propagation: None,
        recursive: true,
    };
    let vol = || MountKind::Volume {
        volume: "/v".into(),
        subpath: None,
        copy: true,
    };
    let tmpfs = || MountKind::Tmpfs {
        size: None,
        mode: None,
        options: Vec::new(),
    };
    for dest in [
        "/proc",
        "/proc/",
        "/proc/sys",
        "/x/../proc/self",
        "//proc/./1",
    ] {
        assert!(proc_destination_allowed(&m(vol(), dest)).is_err(), "{dest}");
        assert!(
            proc_destination_allowed(&m(tmpfs(), dest)).is_err(),
            "{dest}"
        );
        assert!(
            proc_destination_allowed(&m(bind(), dest)).is_err(),
            "{dest}"
        );
    }
    assert!(proc_destination_allowed(&m(bind(), "/proc/meminfo")).is_ok());
    assert!(proc_destination_allowed(&m(bind(), "/proc/./meminfo")).is_ok());
    assert!(proc_destination_allowed(&m(vol(), "/proc/meminfo")).is_err());
    for dest in ["/procedures", "/data/proc", "/"] {
        assert!(proc_destination_allowed(&m(vol(), dest)).is_ok(), "{dest}");
    }
    // In the Compose file, and in a hostile image's VOLUMEs.
    let e = err("volumes: ['data:/proc/sys']");
    assert!(e.contains("over the container's /proc"), "{e}");
    let img = serde_json::json!({"Cmd": ["sh"], "Volumes": {"/proc/self": {}}});
    let e = build("image: x", img).unwrap_err().to_string();
    assert!(e.contains("VOLUME at /proc/self"), "{e}");
}

#[test]
fn a_bind_inside_a_volume_is_resolved_beneath_it() {
    let vols = Path::new("/var/lib/compose/volumes");
    let inside = |s: &str| crate::engine::spec::inside_volume(vols, Path::new(s));
    assert_eq!(inside("/srv/data"), Ok(None));
    assert_eq!(inside("/var/lib/compose/volumes/v"), Ok(None));
    assert_eq!(inside("/var/lib/compose/volumes/v/other/x"), Ok(None));
    assert_eq!(
        inside("/var/lib/compose/volumes/v/_data"),
        Ok(Some((vols.join("v"), None)))
    );
    assert_eq!(
        inside("/var/lib/compose/volumes//v/./_data/a/b/"),
        Ok(Some((vols.join("v"), Some("a/b".into()))))
    );
    assert!(inside("/var/lib/compose/volumes/v/_data/a/../..").is_err());
}

#[test]
fn secrets_and_volumes_from_join_the_mounts() {
    let f = fixture();
    let svc = service("volumes: ['/host/a:/own']");
    let img = image(serde_json::json!({"Cmd": ["sh"], "Volumes": {"/shared": {}}}));
    let bind = |src: &str, dest: &str| MountSpec {
        kind: MountKind::Bind {
            source: src.into(),
            propagation: None,
            recursive: true,
        },
        destination: dest.into(),
        read_only: true,
        create_source: false,
    };
    let build = |files: &[MountSpec], from: &[MountSpec]| {
        build_container_spec(&ContainerInput {
            project: "proj",
            service_name: "web",
            service: &svc,
            image: &img,
            layers: &f.layers,
            rootfs_files: &f.files,
            container_id: ID,
            container_name: "proj-web-1",
            number: 1,
            volumes_dir: &f.volumes_dir,
            inherited_volumes: &f.inherited,
            volume_names: &f.names,
            one_off: None,
            host: &f.host,
            devices: &DeviceFacts::default(),
            host_files: &HostFiles::default(),
            host_gateway: None,
            join_container: None,
            file_mounts: files,
            volumes_from: from,
        })
    };
    let spec = build(
        &[bind("/c/files/0", "/run/secrets/s")],
        &[
            bind("/other/own", "/own"),
            bind("/other/shared", "/shared/"),
        ],
    )
    .unwrap();
    let got: Vec<(&str, &MountKind)> = spec
        .mounts
        .iter()
        .map(|m| (m.destination.as_str(), &m.kind))
        .collect();
    // The service's own /own wins; /shared comes from the other container, so the image's
    // VOLUME there gets no anonymous volume.
    assert_eq!(got.len(), 3);
    assert!(
        matches!(got[0], ("/own", MountKind::Bind { source, .. }) if source == Path::new("/host/a"))
    );
    assert!(
        matches!(got[1], ("/shared/", MountKind::Bind { source, .. }) if source == Path::new("/other/shared"))
    );
    assert_eq!(got[2].0, "/run/secrets/s");
    // A secret where the service mounts something already is an error, as in Docker.
    let err = build(&[bind("/c/files/0", "/own")], &[]).unwrap_err();
    assert_eq!(err.to_string(), "service web: duplicate mount point: /own");
}

/// A bind's source that may not be created must exist by the facts the stack read: a path
/// that is not on this host passes when the facts say it exists, and nothing stats it.
#[test]
fn a_bind_source_exists_by_the_host_facts() {
    let f = fixture();
    let svc = service(
        "volumes:\n  - {type: bind, source: /facts/x, target: /x, bind: {create_host_path: false}}\n",
    );
    let run = OneOffOverrides {
        volumes: vec!["/facts/y:/y".into(), "named:/n".into()],
        ..OneOffOverrides::default()
    };
    assert_eq!(
        bind_sources(&svc, Some(&run)),
        [PathBuf::from("/facts/x"), PathBuf::from("/facts/y")]
    );
    let img = image(serde_json::json!({"Cmd": ["sh"]}));
    let build = |host: &HostFiles| {
        build_container_spec(&ContainerInput {
            project: "proj",
            service_name: "web",
            service: &svc,
            image: &img,
            layers: &f.layers,
            rootfs_files: &f.files,
            container_id: ID,
            container_name: "proj-web-1",
            number: 1,
            volumes_dir: &f.volumes_dir,
            inherited_volumes: &f.inherited,
            volume_names: &f.names,
            one_off: None,
            host: &f.host,
            devices: &DeviceFacts::default(),
            host_files: host,
            host_gateway: None,
            join_container: None,
            file_mounts: &[],
            volumes_from: &[],
        })
    };
    let e = build(&HostFiles::default()).unwrap_err().to_string();
    assert!(
        e.contains("bind mount source path /facts/x does not exist"),
        "{e}"
    );
    let mut host = HostFiles::default();
    let fact = HostFile {
        mode: 0o755,
        uid: 0,
        gid: 0,
        is_dir: true,
    };
    host.files.insert("/facts/x".into(), Ok(fact));
    let spec = build(&host).unwrap();
    assert!(spec.mounts.iter().any(|m| m.destination == "/x"));
}
