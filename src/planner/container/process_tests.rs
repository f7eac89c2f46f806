//! Tests of `process`, through the whole spec builder where the rule shows in the spec.

use super::super::test_support::*;
use super::*;
use crate::engine::spec::Rlimit;

#[test]
fn argv_combines_like_docker() {
    let img = serde_json::json!({"Entrypoint": ["/ep"], "Cmd": ["cmd", "arg"]});
    let cases: Vec<(&str, Option<OneOffOverrides>, Vec<&str>)> = vec![
        ("image: x", None, vec!["/ep", "cmd", "arg"]),
        ("command: run me", None, vec!["/ep", "run", "me"]),
        ("command: []", None, vec!["/ep", "cmd", "arg"]),
        // A service entrypoint resets the image's Cmd.
        ("entrypoint: /other", None, vec!["/other"]),
        (
            "entrypoint: /other\ncommand: [a]",
            None,
            vec!["/other", "a"],
        ),
        // `entrypoint: []` drops the image's entrypoint, keeps its Cmd.
        ("entrypoint: []", None, vec!["cmd", "arg"]),
        ("entrypoint: ''\ncommand: [x]", None, vec!["x"]),
        (
            "command: [a]",
            Some(OneOffOverrides {
                command: Some(strs(&["b", "c"])),
                ..Default::default()
            }),
            vec!["/ep", "b", "c"],
        ),
        // run --entrypoint without a command clears the service's command.
        (
            "command: [a]",
            Some(OneOffOverrides {
                entrypoint: Some(strs(&["sh", "-c"])),
                ..Default::default()
            }),
            vec!["sh", "-c"],
        ),
        (
            "command: [a]",
            Some(OneOffOverrides {
                entrypoint: Some(vec![]),
                command: Some(strs(&["ls"])),
                ..Default::default()
            }),
            vec!["ls"],
        ),
    ];
    for (yaml, run, want) in cases {
        let got = build_with(&service(yaml), &image(img.clone()), run.as_ref()).unwrap();
        assert_eq!(got.process.args, strs(&want), "{yaml} {run:?}");
    }
    let e = build("entrypoint: []", serde_json::json!({"Entrypoint": ["/ep"]}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no command specified"), "{e}");
}

#[test]
fn environment_like_docker() {
    let img = serde_json::json!({
        "Cmd": ["sh"],
        "Env": ["PATH=/img/bin", "A=image", "B=image", "GONE=image"],
    });
    let spec = build(
        "environment: {B: service, C: service, GONE: null, D: service}",
        img.clone(),
    )
    .unwrap();
    assert_eq!(
        spec.process.env,
        strs(&[
            "PATH=/img/bin",
            "HOSTNAME=0123456789ab",
            "B=service",
            "C=service",
            "D=service",
            "A=image",
            "HOME=/root",
        ])
    );
    let run = OneOffOverrides {
        env: strs(&["C=run", "E=run", "B"]),
        tty: Some(true),
        user: Some("app".into()),
        ..Default::default()
    };
    let spec = build_with(
        &service("environment: {C: service, HOME: /h}"),
        &image(serde_json::json!({"Cmd": ["sh"]})),
        Some(&run),
    )
    .unwrap();
    assert_eq!(
        spec.process.env,
        strs(&[
            &format!("PATH={DEFAULT_PATH}"),
            "HOSTNAME=0123456789ab",
            "TERM=xterm",
            "C=run",
            "HOME=/h",
            "E=run",
        ])
    );
    assert!(spec.process.terminal);
    // HOME from passwd for the user.
    let spec = build("user: app", img).unwrap();
    assert_eq!(spec.process.env.last().unwrap(), "HOME=/home/app");
}

/// `stdin_open` reaches the process spec; `run -i` applies over it, as Docker Compose's
/// `run` does.
#[test]
fn stdin_open_from_the_service_or_run() {
    let img = || image(serde_json::json!({"Cmd": ["cat"]}));
    let spec = build_with(&service("image: x"), &img(), None).unwrap();
    assert!(!spec.process.stdin_open);
    let spec = build_with(&service("stdin_open: true"), &img(), None).unwrap();
    assert!(spec.process.stdin_open);
    let run = OneOffOverrides {
        stdin_open: Some(true),
        ..Default::default()
    };
    let spec = build_with(&service("image: x"), &img(), Some(&run)).unwrap();
    assert!(spec.process.stdin_open);
    let run = OneOffOverrides {
        stdin_open: Some(false),
        ..Default::default()
    };
    let spec = build_with(&service("stdin_open: true"), &img(), Some(&run)).unwrap();
    assert!(!spec.process.stdin_open);
}

#[test]
fn user_workdir_hostname() {
    let img = serde_json::json!({"Cmd": ["sh"], "User": "app", "WorkingDir": "/srv"});
    let spec = build("image: x", img.clone()).unwrap();
    assert_eq!((spec.process.user.uid, spec.process.user.gid), (1000, 1000));
    assert_eq!(spec.process.user.additional_gids, vec![1000, 50]);
    assert_eq!(spec.process.cwd, "/srv");
    assert_eq!(spec.hostname, "0123456789ab");
    assert_eq!(spec.domainname, None);
    let spec = build(
        "user: '0:50'\nworking_dir: /w\nhostname: h\ndomainname: example.org",
        img.clone(),
    )
    .unwrap();
    assert_eq!((spec.process.user.uid, spec.process.user.gid), (0, 50));
    assert_eq!(spec.process.cwd, "/w");
    assert_eq!(spec.hostname, "h");
    assert_eq!(spec.domainname.as_deref(), Some("example.org"));
    let run = OneOffOverrides {
        user: Some("1234".into()),
        workdir: Some("/tmp".into()),
        ..Default::default()
    };
    let spec = build_with(&service("user: app"), &image(img), Some(&run)).unwrap();
    assert_eq!(spec.process.user.uid, 1234);
    assert_eq!(spec.process.cwd, "/tmp");
    let spec = build("image: x", serde_json::json!({"Cmd": ["sh"]})).unwrap();
    assert_eq!(spec.process.cwd, "/");
    assert_eq!(spec.process.user.uid, 0);
    assert_eq!(
        err("user: nobody"),
        "unable to find user nobody: no matching entries in passwd file"
    );
    assert!(err("working_dir: rel").contains("absolute"));
}

#[test]
fn limits_signals_sysctls_devices() {
    let img = serde_json::json!({"Cmd": ["sh"], "StopSignal": "SIGQUIT"});
    let spec = build(
        "ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 65535, core: -1}\n\
         sysctls: {net.core.somaxconn: '1024', kernel.shmmax: '1'}\n\
         oom_score_adj: -500\ninit: true\nread_only: true\n\
         devices: ['/dev/null:/dev/mynull:rw']",
        img.clone(),
    )
    .unwrap();
    assert_eq!(
        spec.process.rlimits,
        vec![
            Rlimit {
                resource: "RLIMIT_NOFILE".into(),
                soft: 1024,
                hard: 2048
            },
            Rlimit {
                resource: "RLIMIT_NPROC".into(),
                soft: 65535,
                hard: 65535
            },
            Rlimit {
                resource: "RLIMIT_CORE".into(),
                soft: u64::MAX,
                hard: u64::MAX
            },
        ]
    );
    assert_eq!(spec.sysctls.len(), 2);
    assert_eq!(spec.process.oom_score_adj, Some(-500));
    assert!(spec.init && spec.rootfs.read_only);
    assert_eq!(spec.process.stop_signal.as_deref(), Some("SIGQUIT"));
    assert_eq!(spec.devices.len(), 1);
    let d = &spec.devices[0];
    assert_eq!(
        (d.path.as_str(), d.kind, d.major, d.minor),
        ("/dev/mynull", 'c', 1, 3)
    );
    assert_eq!(d.permissions, "rw");
    assert_eq!(spec.resources.device_rules, strs(&["c 1:3 rw"]));
    let spec = build("stop_signal: usr1", img.clone()).unwrap();
    assert_eq!(spec.process.stop_signal.as_deref(), Some("SIGUSR1"));
    let spec = build("image: x", serde_json::json!({"Cmd": ["sh"]})).unwrap();
    assert_eq!(spec.process.stop_signal.as_deref(), Some("SIGTERM"));
    for (s, want) in [
        ("9", Some("SIGKILL")),
        ("SIGRTMIN+3", Some("SIGRTMIN+3")),
        ("36", Some("SIGRTMIN+2")),
        ("SIGNOPE", None),
        ("0", None),
    ] {
        assert_eq!(normalize_signal(s).as_deref(), want, "{s}");
    }
    assert!(err("sysctls: {vm.swappiness: '1'}").contains("not namespaced"));
    assert!(err("sysctls: {kernel.hostname: x}").contains("set `hostname` instead"));
    for bad in ["net/ipv4/ip_forward", "net..x", "net.ipv4.", ".net.x"] {
        let e = err(&format!("sysctls: {{'{bad}': '1'}}"));
        assert!(e.contains("dot-separated"), "{bad}: {e}");
    }
    assert!(
        err("network_mode: host\nsysctls: {net.core.somaxconn: '1'}")
            .contains("host's network namespace")
    );
    assert!(err("ulimits: {bogus: 1}").contains("invalid ulimit type: bogus"));
    // The model refuses soft > hard already; the planner checks again for hand-built input.
    let mut svc = service("image: x");
    svc.ulimits.insert(
        "nofile".into(),
        crate::model::types::ulimits::Ulimit::soft_hard(10, 5),
    );
    let e = build_with(&svc, &image(serde_json::json!({"Cmd": ["sh"]})), None);
    assert!(e.unwrap_err().to_string().contains("above the hard"));
    assert!(err("oom_score_adj: 1001").contains("out of range"));
    assert!(err("devices: ['/nonexistent-compose-test']").contains("/nonexistent"));
    assert!(err("devices: ['/etc/hostname']").contains("not a character or block"));
    assert!(err("devices: ['/dev/null:/dev/null:rwx']").contains("invalid permissions"));
}
