use super::*;
use crate::model::types::fields::test_support::{assert_yaml_errors, load_file};

fn bind(source: &str, target: &str) -> ServiceVolume {
    ServiceVolume {
        source: Some(source.into()),
        bind: Some(BindOptions {
            create_host_path: Some(true),
            ..BindOptions::default()
        }),
        ..ServiceVolume::new(VolumeType::Bind, target)
    }
}

fn named(source: Option<&str>, target: &str) -> ServiceVolume {
    ServiceVolume {
        source: source.map(str::to_string),
        volume: Some(VolumeOptions::default()),
        ..ServiceVolume::new(VolumeType::Volume, target)
    }
}

#[test]
fn parses_short_syntax() {
    let ro = |mut v: ServiceVolume| {
        v.read_only = true;
        v
    };
    let with_bind = |mut v: ServiceVolume, f: &dyn Fn(&mut BindOptions)| {
        f(v.bind.as_mut().unwrap());
        v
    };
    let cases: Vec<(&str, ServiceVolume)> = vec![
        ("/data", named(None, "/data")),
        ("/data/", named(None, "/data")),
        ("/a", ServiceVolume::new(VolumeType::Volume, "/a")),
        ("./src:/app", bind("./src", "/app")),
        ("./src:/app/./x/../y", bind("./src", "/app/y")),
        ("./src:/app:ro", ro(bind("./src", "/app"))),
        ("./src:/app:rw", bind("./src", "/app")),
        ("../src:/app:cached", bind("../src", "/app")),
        ("~/x:/y", bind("~/x", "/y")),
        (
            "/host:/c:ro,z",
            ro(with_bind(bind("/host", "/c"), &|b| {
                b.selinux = Some("z".into())
            })),
        ),
        (
            "/host:/c:Z,rshared",
            with_bind(bind("/host", "/c"), &|b| {
                b.selinux = Some("Z".into());
                b.propagation = Some("rshared".into());
            }),
        ),
        ("data:/var/lib/data", named(Some("data"), "/var/lib/data")),
        (
            "data:/var/lib/data:ro",
            ro(named(Some("data"), "/var/lib/data")),
        ),
        (
            "data:/var/lib/data:nocopy",
            ServiceVolume {
                volume: Some(VolumeOptions {
                    nocopy: true,
                    ..Default::default()
                }),
                ..named(Some("data"), "/var/lib/data")
            },
        ),
        ("C:\\path:/c", bind("C:\\path", "/c")),
        ("C:\\path:D:\\c:ro", ro(bind("C:\\path", "D:\\c"))),
        (
            "\\\\.\\pipe\\docker_engine:\\\\.\\pipe\\docker_engine",
            bind("\\\\.\\pipe\\docker_engine", "\\\\.\\pipe\\docker_engine"),
        ),
        ("${VOL:-x}:/data", named(Some("${VOL:-x}"), "/data")),
        ("data:/d:delegated,unknownopt", named(Some("data"), "/d")),
        // A one-letter field before a colon is read as a Windows drive, as Compose does.
        ("vol:/b:c:d", named(Some("vol"), "/b")),
        ("a:/b", named(None, "a:/b")),
    ];
    for (spec, want) in cases {
        assert_eq!(parse_short(spec).as_ref(), Ok(&want), "{spec}");
    }
}

#[test]
fn rejects_bad_short_syntax() {
    let cases: &[(&str, &str)] = &[
            ("", "invalid volume \"\": empty spec, expected [SOURCE:]TARGET[:MODE]"),
            ("::/data", "invalid volume \"::/data\": empty section between colons, expected [SOURCE:]TARGET[:MODE]"),
            ("./a::ro", "invalid volume \"./a::ro\": empty section between colons, expected [SOURCE:]TARGET[:MODE]"),
            ("./a:/b:", "invalid volume \"./a:/b:\": empty section between colons, expected [SOURCE:]TARGET[:MODE]"),
            ("./a:/b:ro:x", "invalid volume \"./a:/b:ro:x\": too many colons, expected [SOURCE:]TARGET[:MODE]"),
        ];
    for (spec, want) in cases {
        assert_eq!(parse_short(spec), Err(want.to_string()), "{spec}");
    }
}

#[test]
fn cleans_paths_like_go() {
    let cases = [
        ("/a/b/../c", "/a/c"),
        ("/../a", "/a"),
        ("a/../..", ".."),
        ("a/./b//c/", "a/b/c"),
        ("/", "/"),
        ("a/..", "."),
    ];
    for (input, want) in cases {
        assert_eq!(clean_path(input), want, "{input}");
    }
}

#[derive(Debug, Deserialize, Serialize, PartialEq)]
struct Svc {
    volumes: Vec<ServiceVolume>,
}

#[test]
fn deserializes_long_syntax() {
    let yaml = "volumes:\n\
            - type: bind\n  source: ./cfg\n  target: /etc/cfg\n  read_only: 'true'\n  bind:\n    propagation: rslave\n    selinux: z\n\
            - type: bind\n  source: /x\n  target: /y\n  bind: {create_host_path: false, recursive: readonly}\n\
            - type: volume\n  source: data\n  target: /data\n  volume: {nocopy: true, subpath: sub, labels: [a=1, b]}\n  x-z: 1\n\
            - type: tmpfs\n  target: /tmp\n  tmpfs: {size: 64m, mode: '01777'}\n\
            - {type: tmpfs, target: /run, tmpfs: {size: 1024, mode: 448}}\n\
            - {type: image, source: alpine, target: /img, image: {subpath: etc}}\n\
            - {type: npipe, source: '\\\\.\\pipe\\x', target: '\\\\.\\pipe\\x', consistency: cached}\n";
    let svc: Svc = serde_yaml_ng::from_str(yaml).unwrap();
    let mut labels = IndexMap::new();
    labels.insert("a".to_string(), "1".to_string());
    labels.insert("b".to_string(), String::new());
    let mut ext = Extensions::new();
    ext.insert("x-z".into(), serde_yaml_ng::Value::from(1));
    let want = vec![
        ServiceVolume {
            source: Some("./cfg".into()),
            read_only: true,
            bind: Some(BindOptions {
                propagation: Some("rslave".into()),
                selinux: Some("z".into()),
                create_host_path: Some(true),
                ..Default::default()
            }),
            ..ServiceVolume::new(VolumeType::Bind, "/etc/cfg")
        },
        ServiceVolume {
            source: Some("/x".into()),
            bind: Some(BindOptions {
                create_host_path: Some(false),
                recursive: Some("readonly".into()),
                ..Default::default()
            }),
            ..ServiceVolume::new(VolumeType::Bind, "/y")
        },
        ServiceVolume {
            source: Some("data".into()),
            volume: Some(VolumeOptions {
                labels,
                nocopy: true,
                subpath: Some("sub".into()),
                ..Default::default()
            }),
            extensions: ext,
            ..ServiceVolume::new(VolumeType::Volume, "/data")
        },
        ServiceVolume {
            tmpfs: Some(TmpfsOptions {
                size: Some(ByteSize(64 << 20)),
                mode: Some(0o1777),
                ..Default::default()
            }),
            ..ServiceVolume::new(VolumeType::Tmpfs, "/tmp")
        },
        ServiceVolume {
            tmpfs: Some(TmpfsOptions {
                size: Some(ByteSize(1024)),
                mode: Some(448),
                ..Default::default()
            }),
            ..ServiceVolume::new(VolumeType::Tmpfs, "/run")
        },
        ServiceVolume {
            source: Some("alpine".into()),
            image: Some(ImageOptions {
                subpath: Some("etc".into()),
                ..Default::default()
            }),
            ..ServiceVolume::new(VolumeType::Image, "/img")
        },
        ServiceVolume {
            source: Some("\\\\.\\pipe\\x".into()),
            consistency: Some("cached".into()),
            ..ServiceVolume::new(VolumeType::Npipe, "\\\\.\\pipe\\x")
        },
    ];
    assert_eq!(svc.volumes, want);
}

#[test]
fn serializes_like_compose_config() {
    let svc: Svc = serde_yaml_ng::from_str(
            "volumes:\n- ./src:/app:ro,z\n- data:/data\n- /anon\n- {type: tmpfs, target: /t, tmpfs: {size: 1k}}\n- {type: volume, source: v, target: /v, volume: {nocopy: true}}\n",
        )
        .unwrap();
    assert_eq!(
            serde_yaml_ng::to_string(&svc).unwrap(),
            "volumes:\n\
             - type: bind\n  source: ./src\n  target: /app\n  read_only: true\n  bind:\n    selinux: z\n    create_host_path: true\n\
             - type: volume\n  source: data\n  target: /data\n  volume: {}\n\
             - type: volume\n  target: /anon\n  volume: {}\n\
             - type: tmpfs\n  target: /t\n  tmpfs:\n    size: '1024'\n\
             - type: volume\n  source: v\n  target: /v\n  volume:\n    nocopy: true\n"
        );
}

#[test]
fn rejects_bad_long_syntax() {
    let cases: &[(&str, &str)] = &[
            ("volumes:\n- {type: disk, target: /x}\n", "volumes[0]: invalid volume type \"disk\", expected one of: bind, volume, tmpfs, npipe, cluster, image"),
            ("volumes:\n- {source: x, target: /x}\n", "volumes[0]: missing field `type`"),
            ("volumes:\n- {type: volume, source: x}\n", "volumes[0]: missing field `target`"),
            ("volumes:\n- {type: volume, target: /x, readonly: true}\n", "volumes[0]: unknown key `readonly`, expected one of: type, source, target, read_only, consistency, bind, volume, tmpfs, image"),
            ("volumes:\n- {type: bind, target: /x, bind: {propagate: shared}}\n", "volumes[0].bind: unknown key `propagate`, expected one of: propagation, create_host_path, selinux, recursive"),
            ("volumes:\n- {type: bind, target: /x, read_only: yes}\n", "volumes[0]: invalid value \"yes\" for `read_only`: expected a boolean (true or false)"),
            ("volumes:\n- {type: bind, target: /x, bind: {selinux: y}}\n", "volumes[0].bind: invalid selinux \"y\", expected z or Z"),
            ("volumes:\n- {type: tmpfs, target: /x, tmpfs: {mode: rwx}}\n", "volumes[0].tmpfs: invalid tmpfs mode \"rwx\": expected file mode bits such as \"01777\""),
            ("volumes:\n- {type: tmpfs, target: /x, tmpfs: {size: huge}}\n", "volumes[0].tmpfs.size: invalid size \"huge\""),
            ("volumes:\n- 42\n", "volumes[0]: invalid type: integer `42`, expected a string [SOURCE:]TARGET[:MODE] or a mapping with `type` and `target`"),
            ("volumes:\n- ./a::b\n", "volumes[0]: invalid volume \"./a::b\": empty section between colons"),
        ];
    assert_yaml_errors::<Svc, _>(cases.iter().copied());
}

#[test]
fn deserializes_from_node_with_locations() {
    let load = |src: &str| load_file::<Svc>("c.yaml", src);
    let svc = load("volumes:\n  - ./a:/a\n  - type: volume\n    source: v\n    target: /v\n    read_only: true\n    x-k: v\n").unwrap();
    let mut long = named(Some("v"), "/v");
    long.volume = None;
    long.read_only = true;
    long.extensions
        .insert("x-k".into(), serde_yaml_ng::Value::from("v"));
    assert_eq!(svc.volumes, vec![bind("./a", "/a"), long]);

    let err = load("volumes:\n  - ./a:/a\n  - type: bind\n    target: /b\n    bind:\n      create_host_paths: true\n").unwrap_err();
    assert_eq!(
            err.to_string(),
            "c.yaml:6:7: volumes[1].bind.create_host_paths: unknown key `create_host_paths`, expected one of: propagation, create_host_path, selinux, recursive"
        );
    let err = load("volumes:\n  - vol:/b:ro:x\n").unwrap_err();
    assert_eq!(
            err.to_string(),
            "c.yaml:2:5: volumes[0]: invalid volume \"vol:/b:ro:x\": too many colons, expected [SOURCE:]TARGET[:MODE]"
        );
}
