//! End-to-end tests of `compose network ls|inspect|rm|prune`: the real binary with its own
//! `--root` in a temporary directory. The binary acts on the host's network namespace, so it is
//! only given commands that read records or are refused before touching the kernel; networks
//! are made (and removed) by the library inside a throw-away namespace.

use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Command, Stdio};

use compose::engine::network::ipam::AddrRequest;
use compose::engine::network::link::create_netns;
use compose::engine::network::manager::{NetworkDef, Networks};
use compose::engine::network::nft::Nft;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        &self.stdout
    }
}

fn compose(root: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_compose"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("COMPOSE_ROOT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("running compose");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("compose-test-network-cli-")
        .tempdir()
        .unwrap()
}

#[test]
fn empty_root() {
    let dir = tmp();
    let root = dir.path();
    assert_eq!(
        compose(root, &["network", "ls"]).ok(),
        "NETWORK ID   NAME      DRIVER    SCOPE\n"
    );
    assert_eq!(compose(root, &["network", "ls", "-q"]).ok(), "");
    assert_eq!(
        compose(root, &["network", "ls", "--format", "json"]).ok(),
        ""
    );

    let rm = compose(root, &["network", "rm", "nosuch"]);
    assert_eq!(rm.code, 1, "{}", rm.stderr);
    assert_eq!(rm.stdout, "");
    assert_eq!(rm.stderr, "Error: network nosuch not found\n");

    let inspect = compose(root, &["network", "inspect", "nosuch"]);
    assert_eq!(inspect.code, 1);
    assert_eq!(inspect.stdout, "[]\n");
    assert_eq!(inspect.stderr, "Error: network nosuch not found\n");

    assert_eq!(compose(root, &["network", "prune", "--force"]).ok(), "");
    // Reading commands create nothing under the root.
    assert!(!root.join("networks").exists());

    // With the networks directory present (another network came and went).
    std::fs::create_dir_all(root.join("networks")).unwrap();
    let rm = compose(root, &["network", "rm", "nosuch", "../bad"]);
    assert_eq!(rm.code, 1);
    assert!(
        rm.stderr
            .starts_with("Error: network nosuch not found\nError: invalid network name \"../bad\""),
        "{}",
        rm.stderr
    );
}

#[test]
#[ignore = "needs root"]
fn lists_inspects_and_refuses_removal_of_networks_in_use() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root (network namespaces, nftables)");
        return;
    }
    let dir = tmp();
    let root = dir.path();
    let ns = create_netns().unwrap();
    struct Cleanup<'a>(&'a std::os::fd::OwnedFd);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            if let Ok(mut nft) = Nft::new_in(self.0.as_fd()) {
                let _ = nft.delete_table();
            }
        }
    }
    let _cleanup = Cleanup(&ns);
    let nets = Networks::open_in(root, ns.as_fd()).unwrap();
    let mut front = NetworkDef::bridge("myproj_front");
    front.project = Some("myproj".into());
    front
        .labels
        .insert("com.docker.compose.network".into(), "front".into());
    front.mtu = Some(1400);
    let a = nets.ensure(&front).unwrap();
    let b = nets.ensure(&NetworkDef::bridge("myproj_default")).unwrap();
    let ca = nets
        .allocate("myproj_front", "c1", &AddrRequest::default())
        .unwrap();
    nets.allocate("myproj_default", "c2", &AddrRequest::default())
        .unwrap();

    let ls = compose(root, &["network", "ls"]);
    let lines: Vec<&str> = ls.ok().lines().collect();
    assert_eq!(lines.len(), 3, "{}", ls.stdout);
    assert!(lines[0].starts_with("NETWORK ID     NAME"), "{}", lines[0]);
    assert!(lines[1].contains(" myproj_default ") && lines[1].ends_with("bridge    local"));
    assert!(lines[2].contains(" myproj_front "));
    let ids = compose(root, &["network", "ls", "-q"]);
    let ids: Vec<&str> = ids.ok().lines().collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|i| i.len() == 12));
    let json = compose(root, &["network", "ls", "--format", "json"]);
    let first: serde_json::Value = serde_json::from_str(json.ok().lines().next().unwrap()).unwrap();
    assert_eq!(first["Name"], "myproj_default");
    assert_eq!(first["Scope"], "local");
    assert_eq!(first["Driver"], "bridge");

    let inspect = compose(root, &["network", "inspect", "myproj_front"]);
    let v: serde_json::Value = serde_json::from_str(inspect.ok()).unwrap();
    let n = &v[0];
    assert_eq!(n["Name"], "myproj_front");
    assert_eq!(n["Id"].as_str().unwrap().len(), 64);
    assert!(n["Id"].as_str().unwrap().starts_with(ids[1]));
    assert_eq!(n["Driver"], "bridge");
    assert_eq!(n["Internal"], false);
    assert_eq!(n["EnableIPv6"], false);
    let v4 = ca.ipv4.unwrap();
    assert_eq!(
        n["IPAM"]["Config"][0]["Subnet"],
        a.addrs.subnets[0].subnet.to_string()
    );
    assert_eq!(
        n["IPAM"]["Config"][0]["Gateway"],
        a.addrs.subnets[0].gateway.to_string()
    );
    assert_eq!(
        n["Containers"]["c1"]["IPv4Address"],
        format!("{}/{}", v4.addr, v4.subnet.prefix_len())
    );
    assert_eq!(n["Labels"]["com.docker.compose.network"], "front");
    assert_eq!(n["Options"]["com.docker.network.bridge.name"], a.bridge);
    assert_eq!(n["Options"]["com.docker.network.driver.mtu"], "1400");

    // In use: refused before anything is touched.
    let rm = compose(root, &["network", "rm", "myproj_front", "nosuch"]);
    assert_eq!(rm.code, 1);
    assert_eq!(
        rm.stderr,
        "Error: error while removing network: network myproj_front has active endpoints (containers c1)\n\
         Error: network nosuch not found\n"
    );
    // Prune keeps networks in use; without --force it asks and stdin (empty) says no.
    let prune = compose(root, &["network", "prune"]);
    assert_eq!(
        prune.ok(),
        "WARNING! This will remove all custom networks not used by at least one container.\n\
         Are you sure you want to continue? [y/N] \n"
    );
    assert_eq!(compose(root, &["network", "prune", "--force"]).ok(), "");
    assert_eq!(nets.list().unwrap().len(), 2);

    for (net, c, info) in [("myproj_front", "c1", &a), ("myproj_default", "c2", &b)] {
        assert!(nets.release(net, c).unwrap());
        assert!(nets.remove(net).unwrap(), "{}", info.def.name);
    }
    assert_eq!(
        compose(root, &["network", "ls"]).ok(),
        "NETWORK ID   NAME      DRIVER    SCOPE\n"
    );
}
