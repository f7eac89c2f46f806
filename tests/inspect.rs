//! End-to-end tests of `compose inspect` (issue 12, item 8: `annotations` are stored and shown
//! by `inspect`). Docker Compose v2 has no `inspect` command; the JSON is in the shape of
//! `docker inspect` of a Compose container, where Docker shows a service's annotations under
//! `HostConfig.Annotations`. Over real containers (root; skipped with a reason otherwise).

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use std::time::{Duration, Instant};

use serde_json::Value;
use support::engine::{ok_all, text, Fixture};

const PROJECT: &str = "\
services:
  web:
    image: busybox
    command: [sleep, \"1000\"]
    stop_grace_period: 1s
    annotations:
      com.example.note: ${NOTE}
      com.example.plain: yes-plain
    labels:
      com.example.label: lab
    environment:
      GREETING: hello
    ports: ['18080:80']
    volumes: ['data:/data']
  job:
    image: busybox
    command: [sh, -c, 'exit 3']
volumes:
  data:
";

/// `inspect ARGS` parsed: the JSON array it prints.
fn inspect(f: &Fixture, args: &[&str]) -> Vec<Value> {
    let all: Vec<&str> = ["inspect"]
        .iter()
        .copied()
        .chain(args.iter().copied())
        .collect();
    let o = f.compose(&all);
    assert!(o.status.success(), "inspect {args:?}: {}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("inspect json: {e}: {}", text(&o)))
}

fn only(f: &Fixture, name: &str) -> Value {
    let mut v = inspect(f, &[name]);
    assert_eq!(v.len(), 1, "one container for {name}: {v:?}");
    v.remove(0)
}

/// Issue 12 item 8: the service's annotations (interpolated) are stored with the container and
/// shown by `inspect` under HostConfig.Annotations, as `docker inspect` shows them for a
/// Docker Compose container, with the rest of `docker inspect`'s fields this engine has.
#[test]
#[ignore = "needs root"]
fn inspect_shows_annotations_state_mounts_and_network_like_docker_inspect() {
    require_engine!();
    let mut f = Fixture::new(PROJECT);
    std::fs::write(f.project_dir.join(".env"), "NOTE=from-dotenv\n").expect(".env");
    ok_all(&f, &["up", "-d"]);

    let web = only(&f, "web");
    assert_eq!(
        web["HostConfig"]["Annotations"],
        serde_json::json!({"com.example.note": "from-dotenv", "com.example.plain": "yes-plain"}),
        "{web:#}"
    );
    assert_eq!(web["Name"], format!("/{}-web-1", f.project));
    assert_eq!(web["State"]["Status"], "running");
    assert_eq!(web["State"]["Running"], true);
    assert!(web["State"]["Pid"].as_i64().unwrap_or(0) > 0, "{web:#}");
    assert_eq!(web["Path"], "sleep");
    assert_eq!(web["Args"], serde_json::json!(["1000"]));
    assert_eq!(web["Config"]["Labels"]["com.example.label"], "lab");
    assert_eq!(web["Config"]["Labels"]["com.docker.compose.service"], "web");
    let env: Vec<&str> = (web["Config"]["Env"].as_array().expect("Env").iter())
        .filter_map(Value::as_str)
        .collect();
    assert!(env.contains(&"GREETING=hello"), "{env:?}");
    assert_eq!(
        web["HostConfig"]["PortBindings"]["80/tcp"],
        serde_json::json!([{"HostIp": "", "HostPort": "18080"}])
    );
    assert_eq!(
        web["NetworkSettings"]["Ports"]["80/tcp"],
        serde_json::json!([{"HostIp": "0.0.0.0", "HostPort": "18080"}])
    );
    let mounts = web["Mounts"].as_array().expect("Mounts");
    let data = (mounts.iter())
        .find(|m| m["Destination"] == "/data")
        .unwrap_or_else(|| panic!("no /data mount: {mounts:?}"));
    assert_eq!(data["Type"], "volume");
    assert_eq!(data["Name"], format!("{}_data", f.project));
    assert_eq!(data["RW"], true);
    let net = &web["NetworkSettings"]["Networks"][format!("{}_default", f.project)];
    let ip: std::net::Ipv4Addr = (net["IPAddress"].as_str())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no IPv4 address: {web:#}"));
    assert!(!ip.is_unspecified());
    assert!(!net["Gateway"].as_str().unwrap_or("").is_empty(), "{net}");
    assert_eq!(
        web["HostConfig"]["NetworkMode"],
        format!("{}_default", f.project)
    );

    // By container name and by a short id: the same container.
    let by_name = only(&f, &format!("{}-web-1", f.project));
    let id = web["Id"].as_str().expect("Id").to_string();
    assert_eq!(by_name["Id"], id.as_str());
    assert_eq!(only(&f, &id[..12])["Id"], id.as_str());

    // The job exited with 3: shown stopped, with its exit code; no PID.
    let deadline = Instant::now() + Duration::from_secs(10);
    let job = loop {
        let job = only(&f, "job");
        if job["State"]["Status"] == "exited" || Instant::now() > deadline {
            break job;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(job["State"]["Status"], "exited", "{job:#}");
    assert_eq!(job["State"]["Running"], false);
    assert_eq!(job["State"]["ExitCode"], 3);
    assert_eq!(job["State"]["Pid"], 0);
    assert_eq!(job["HostConfig"]["Annotations"], serde_json::json!({}));

    // Every container of the project without names, in name order.
    let all = inspect(&f, &[]);
    let names: Vec<&str> = all.iter().filter_map(|c| c["Name"].as_str()).collect();
    assert_eq!(
        names,
        [
            format!("/{}-job-1", f.project),
            format!("/{}-web-1", f.project)
        ]
    );

    // A changed annotation changes the configuration hash: `up` recreates, as Docker Compose.
    std::fs::write(f.project_dir.join(".env"), "NOTE=changed\n").expect(".env");
    ok_all(&f, &["up", "-d", "web"]);
    let web2 = only(&f, "web");
    assert_ne!(web2["Id"], id.as_str(), "not recreated");
    assert_eq!(
        web2["HostConfig"]["Annotations"]["com.example.note"],
        "changed"
    );

    ok_all(&f, &["down", "-v", "-t", "0"]);
    f.assert_clean();
}

/// A name that is neither a service nor a container of the project fails with exit 1 and
/// says so (as `docker inspect nosuch` fails), printing nothing on standard output.
#[test]
#[ignore = "needs root"]
fn inspect_of_an_unknown_name_fails_with_exit_1() {
    require_engine!();
    let mut f = Fixture::new(PROJECT);
    std::fs::write(f.project_dir.join(".env"), "NOTE=x\n").expect(".env");
    let o = f.compose(&["inspect", "nosuch"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no such service or container: nosuch"),
        "{}",
        text(&o)
    );
    assert!(o.stdout.is_empty(), "{}", text(&o));
    // A service of the file with no container yet selects nothing: an empty array.
    assert_eq!(inspect(&f, &["web"]), Vec::<Value>::new());
    f.assert_clean();
}
