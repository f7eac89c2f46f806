//! Issue 12 item 9: a key that cannot be honoured is refused (nothing starts) or warned about in
//! one line naming service and key, never accepted and ignored. Each test drives `up` (or
//! `run`) over the real engine with its own state root, project and cgroup parent; the table
//! that decides is `planner::support::SERVICE_KEYS` (its guard test is a unit test there).

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use support::engine::{ok, text, Fixture};

/// A project of one service `web` (busybox, sleeping) with `extra` added to it.
fn project(extra: &str) -> String {
    let mut y = String::from("services:\n  web:\n    image: busybox\n    command: [sleep, '60']\n");
    for line in extra.lines() {
        y.push_str("    ");
        y.push_str(line);
        y.push('\n');
    }
    y
}

/// `up -d` fails naming `service web: KEY:` with `why` in the message, and no container exists.
fn refused(extra: &str, key: &str, why: &str) {
    let mut f = Fixture::new(&project(extra));
    let o = f.compose(&["up", "-d"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{extra}: up must fail: {}", text(&o));
    assert!(
        err.contains(&format!("service web: {key}: ")) && err.contains(why),
        "{extra}: the error must name service, key and why: {}",
        text(&o)
    );
    let ps = ok(&f, &["ps", "-a", "-q"]);
    assert!(
        ps.trim().is_empty(),
        "{extra}: nothing may be created: {ps}"
    );
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn runtime_other_than_runc_is_refused() {
    require_engine!();
    refused("runtime: runsc", "runtime", "\"runsc\" is not available");
}

#[test]
#[ignore = "needs root"]
fn runtime_runc_is_the_embedded_engine_and_runs() {
    require_engine!();
    // Docker's default runtime, by its name or its containerd shim's: what the engine does.
    for rt in ["runc", "io.containerd.runc.v2"] {
        let mut f = Fixture::new(&project(&format!("runtime: {rt}")));
        let out = ok(&f, &["run", "--rm", "-T", "web", "echo", "ran"]);
        assert_eq!(out.trim(), "ran", "{rt}");
        f.assert_clean();
    }
}

#[test]
#[ignore = "needs root"]
fn isolation_other_than_default_is_refused_as_docker_on_linux_does() {
    require_engine!();
    refused("isolation: hyperv", "isolation", "only `default` isolation");
}

#[test]
#[ignore = "needs root"]
fn storage_opt_is_refused_the_storage_cannot_limit_size() {
    require_engine!();
    refused(
        "storage_opt:\n  size: 1G",
        "storage_opt",
        "cannot limit a container's size",
    );
}

#[test]
#[ignore = "needs root"]
fn platform_the_stored_image_is_not_is_refused() {
    require_engine!();
    // The store keeps the host's variant of the image, and `pull_policy: never` forbids
    // pulling the other (with `missing` it would be pulled: tests/pull_policy.rs).
    let other = if compose::engine::image::host_arch() == "arm64" {
        "linux/amd64"
    } else {
        "linux/arm64"
    };
    refused(
        &format!("platform: {other}\npull_policy: never"),
        "platform",
        "has no such variant",
    );
    let host = format!("linux/{}", compose::engine::image::host_arch());
    let mut f = Fixture::new(&project(&format!("platform: {host}")));
    let out = ok(&f, &["run", "--rm", "-T", "web", "echo", "ran"]);
    assert_eq!(out.trim(), "ran");
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn use_api_socket_is_refused_there_is_no_docker_api() {
    require_engine!();
    refused(
        "use_api_socket: true",
        "use_api_socket",
        "no Docker API socket",
    );
}

#[test]
#[ignore = "needs root"]
fn gpus_are_refused_until_devices_are_supported() {
    require_engine!();
    refused("gpus: all", "gpus", "GPUs are not supported yet");
}

#[test]
#[ignore = "needs root"]
fn device_reservations_are_refused_until_devices_are_supported() {
    require_engine!();
    refused(
        "deploy:\n  resources:\n    reservations:\n      devices:\n        - capabilities: [gpu]\n          driver: nvidia",
        "deploy.resources.reservations.devices",
        "device requests",
    );
}

#[test]
#[ignore = "needs root"]
fn selinux_label_type_is_refused_not_silently_unconfined() {
    require_engine!();
    refused(
        "security_opt: ['label=type:svirt_apache_t']",
        "security_opt",
        "SELinux labels are not applied",
    );
}

#[test]
#[ignore = "needs root"]
fn apparmor_profile_is_refused_not_silently_unconfined() {
    require_engine!();
    refused(
        "security_opt: ['apparmor=my-profile']",
        "security_opt",
        "AppArmor profiles are not applied",
    );
}

#[test]
#[ignore = "needs root"]
fn label_disable_and_apparmor_unconfined_are_what_runs_anyway() {
    require_engine!();
    let mut f = Fixture::new(&project(
        "security_opt: ['label=disable', 'apparmor=unconfined']",
    ));
    let o = f.compose(&["run", "--rm", "-T", "web", "echo", "ran"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "ran");
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("security_opt"),
        "{}",
        text(&o)
    );
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn run_refuses_as_up_does() {
    require_engine!();
    let mut f = Fixture::new(&project("use_api_socket: true"));
    let o = f.compose(&["run", "--rm", "-T", "web", "true"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("service web: use_api_socket: "),
        "{}",
        text(&o)
    );
    let ps = ok(&f, &["ps", "-a", "-q"]);
    assert!(ps.trim().is_empty(), "nothing may be created: {ps}");
    f.assert_clean();
}

/// Whether this host's cgroups can weight block I/O (what the warning depends on).
fn host_weights_block_io() -> bool {
    compose::engine::cgroups::Layout::detect()
        .map(|l| l.block_io_weight())
        .unwrap_or(false)
}

#[test]
#[ignore = "needs root"]
fn blkio_weight_without_kernel_support_is_warned_like_docker_and_the_service_runs() {
    require_engine!();
    let mut f = Fixture::new(&project("blkio_config:\n  weight: 300"));
    let o = f.compose(&["up", "-d"]);
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let warned: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("service web: blkio_config.weight: "))
        .collect();
    if host_weights_block_io() {
        assert!(warned.is_empty(), "the kernel can weight: {}", text(&o));
    } else {
        // Docker: "Your kernel does not support Block I/O weight ... Weight discarded."
        assert_eq!(warned.len(), 1, "one line: {}", text(&o));
        assert!(
            warned[0].contains("cannot weight block I/O"),
            "{}",
            warned[0]
        );
    }
    let ps = ok(&f, &["ps", "-q"]);
    assert_eq!(ps.lines().count(), 1, "the service runs: {ps}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// `label_file` was accepted and ignored; Docker Compose (compose-go) reads each file's
/// `KEY=VALUE` lines under the service's labels, which win, and fails on a missing file.
#[test]
fn label_file_labels_reach_the_service_as_docker_compose_reads_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("a.labels"),
        "com.example.tier=back\ncom.example.team=ops\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("b.labels"), "com.example.team=dev\n").expect("write");
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  web:\n    image: busybox\n    label_file: [a.labels, b.labels]\n    labels: {com.example.tier: front}\n",
    )
    .expect("write");
    let config = |dir: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_compose"))
            .current_dir(dir)
            .args(["config", "--format", "json"])
            .env_remove("COMPOSE_FILE")
            .env_remove("COMPOSE_PROJECT_NAME")
            .output()
            .expect("run compose")
    };
    let o = config(dir.path());
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let labels = &v["services"]["web"]["labels"];
    assert_eq!(
        labels["com.example.tier"], "front",
        "the service's own label wins: {v}"
    );
    assert_eq!(labels["com.example.team"], "dev", "a later file wins: {v}");
    assert!(
        v["services"]["web"].get("label_file").is_none(),
        "consumed: {v}"
    );

    std::fs::remove_file(dir.path().join("b.labels")).expect("remove");
    let o = config(dir.path());
    assert!(
        !o.status.success(),
        "a missing label file is an error: {}",
        text(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("b.labels"),
        "{}",
        text(&o)
    );
}

/// The other keys the table refuses, through `up` over one fixture (the file rewritten for
/// each): the error names service and key, and nothing is created.
#[test]
#[ignore = "needs root"]
fn other_refused_keys_name_service_and_key_and_create_nothing() {
    require_engine!();
    let mut f = Fixture::new(&project(""));
    for (extra, key, top) in [
        ("credential_spec: {file: spec.json}", "credential_spec", ""),
        ("models: [m]", "models", "models:\n  m:\n    model: ai/smollm2\n"),
        ("provider: {type: awesomecloud}", "provider", ""),
        ("pre_start: [{command: [\"true\"]}]", "pre_start", ""),
        (
            "networks: {default: {interface_name: wan0}}",
            "networks.*.interface_name",
            "",
        ),
        (
            "volumes: [{type: image, source: busybox, target: /img}]",
            "volumes[].type",
            "",
        ),
        (
            "volumes: [{type: bind, source: ., target: /x, read_only: true, bind: {recursive: readonly}}]",
            "volumes[].bind.recursive",
            "",
        ),
    ] {
        std::fs::write(
            f.project_dir.join("compose.yaml"),
            project(extra) + top,
        )
        .expect("write compose.yaml");
        let o = f.compose(&["up", "-d"]);
        assert!(!o.status.success(), "{extra}: up must fail: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(&format!("service web: {key}: ")),
            "{extra}: {}",
            text(&o)
        );
        let ps = ok(&f, &["ps", "-a", "-q"]);
        assert!(ps.trim().is_empty(), "{extra}: nothing may be created: {ps}");
    }
    f.assert_clean();
}

/// The other keys the table warns about: one line each naming service and key, and the
/// service runs.
#[test]
#[ignore = "needs root"]
fn other_warned_keys_give_one_line_each_and_the_service_runs() {
    require_engine!();
    let mut f = Fixture::new(&project(
        "cpu_count: 2\n\
         pull_refresh_after: daily\n\
         logging: {driver: json-file, options: {max-size: 1m, compress: 'true'}}\n\
         networks: {default: {driver_opts: {com.docker.network.endpoint.sysctls: 'net.ipv4.conf.IFNAME.log_martians=1'}}}\n\
         volumes: [{type: bind, source: ., target: /x, bind: {selinux: z}}, {type: volume, target: /v, volume: {labels: {a: b}}}]",
    ));
    let o = f.compose(&["up", "-d"]);
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for key in [
        "cpu_count",
        "pull_refresh_after",
        "logging.options",
        "networks.*.driver_opts",
        "volumes[].bind.selinux",
        "volumes[].volume.labels",
    ] {
        let n = err
            .lines()
            .filter(|l| l.contains(&format!("service web: {key}: ")))
            .count();
        assert_eq!(n, 1, "{key}: one warning line: {}", text(&o));
    }
    assert_eq!(ok(&f, &["ps", "-q"]).lines().count(), 1, "the service runs");
    ok(&f, &["down", "-t", "0", "-v"]);
    f.assert_clean();
}
