use std::path::Path;

use super::*;
use crate::engine::network::ipam::{IpamRequest, IpamStore, NetworkOptions};
use crate::engine::state::{BridgeRef, ContainerRecord, Endpoint};

/// One endpoint of a test container: network, the bridge's gateways (with prefixes), address.
type On<'a> = (&'a str, &'a [(&'a str, u8)], &'a str);

/// A container record of project `p` with one endpoint on each of `on`.
fn container(root: &Path, id: &str, on: &[On<'_>]) {
    let mut rec: ContainerRecord = serde_json::from_value(serde_json::json!({
        "id": id, "name": format!("p-{id}-1"), "project": "p", "service": id, "number": 1,
        "one_off": false, "config_hash": "", "image": "busybox", "image_id": "", "created": 0,
        "spec": crate::engine::spec::ContainerSpec::default(), "cgroup_parent": "compose",
        "dns": null, "restart": "No", "stop_grace_period": 10,
    }))
    .expect("a valid record");
    for (network, gateways, addr) in on {
        rec.endpoints.push(Endpoint {
            network: network.to_string(),
            bridge: BridgeRef {
                name: "br".into(),
                mtu: None,
                gateways: gateways
                    .iter()
                    .map(|(g, p)| (g.parse().expect("ip"), *p))
                    .collect(),
            },
            host_if: "veth".into(),
            container_if: "eth0".into(),
            mac: None,
            addresses: vec![(addr.parse().expect("ip"), 24)],
            default_gateways: Vec::new(),
            dns_names: Vec::new(),
            link_local: Vec::new(),
        });
    }
    state::write_record(root, &rec).expect("record");
}

#[test]
fn a_torn_address_record_is_rebuilt_from_the_containers_records() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let nets = Networks::open(root).expect("open");
    let ipam =
        IpamStore::open(&crate::engine::root::StateRoot::new(root).networks()).expect("ipam");
    let asked = IpamRequest {
        subnet: Some("10.9.0.0/24".parse().expect("subnet")),
        ..IpamRequest::default()
    };
    let opts = NetworkOptions::default();
    ipam.create_network("p_default", &[], opts, &[])
        .expect("net");
    ipam.create_network("p_fixed", std::slice::from_ref(&asked), opts, &[])
        .expect("fixed");
    // The definition says which subnet was asked for.
    let mut fixed_def = crate::engine::network::manager::NetworkDef::bridge("p_fixed");
    fixed_def.ipam = vec![asked.clone()];
    std::fs::create_dir_all(&nets.defs).expect("defs");
    nets.write_record(&crate::engine::network::manager::def::Record {
        def: fixed_def,
        bridge: "br-fixed".into(),
        created: 0,
    })
    .expect("def");
    let auto = ipam.get("p_default").expect("get").expect("some").subnets[0].clone();
    let auto_gw = auto.gateway.to_string();
    let prefix = auto.subnet.prefix_len();
    let a = ipam
        .allocate("p_default", "a", &Default::default())
        .expect("a");
    let a = a.ipv4.expect("v4").addr.to_string();
    container(
        root,
        "a",
        &[("p_default", &[(auto_gw.as_str(), prefix)], &a)],
    );
    container(root, "b", &[("p_fixed", &[("10.9.0.1", 24)], "10.9.0.7")]);
    let before = ipam.get("p_default").expect("get").expect("some");
    let path = ipam_path(root, "p_default");
    std::fs::write(&path, &std::fs::read(&path).expect("read")[..20]).expect("tear");

    // Planning another network is not stopped by it.
    ipam.create_network("q_default", &[], opts, &[])
        .expect("another network");
    // Reading it through the manager rebuilds it: the same subnet, the same holder.
    let got = nets
        .with_repair("p_default", false, || ipam.get("p_default"))
        .expect("repaired")
        .expect("some");
    assert_eq!(got.subnets[0].subnet, before.subnets[0].subnet);
    assert_eq!(got.subnets[0].gateway, before.subnets[0].gateway);
    assert!(got.subnets[0].automatic);
    assert_eq!(got.allocations, before.allocations);
    assert_eq!(ipam.get("p_default").expect("whole on disk"), Some(got));

    // A subnet asked for keeps being one asked for; release works through the repair.
    std::fs::write(ipam_path(root, "p_fixed"), b"").expect("empty");
    assert!(nets.release("p_fixed", "b").expect("release"));
    let fixed = ipam.get("p_fixed").expect("get").expect("some");
    assert_eq!(fixed.subnets[0].subnet, asked.subnet.expect("subnet"));
    assert!(!fixed.subnets[0].automatic);
    assert!(fixed.allocations.is_empty());
}

#[test]
fn a_torn_address_record_nobody_uses_is_removed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let nets = Networks::open(root).expect("open");
    let ipam =
        IpamStore::open(&crate::engine::root::StateRoot::new(root).networks()).expect("ipam");
    ipam.create_network("p_default", &[], NetworkOptions::default(), &[])
        .expect("net");
    std::fs::write(ipam_path(root, "p_default"), b"{\"name\":").expect("tear");
    assert!(ipam.list().expect("list").is_empty());
    // No definition, no container: nothing to keep.
    assert!(!nets.release("p_default", "x").expect("release"));
    assert!(!ipam_path(root, "p_default").exists());
}

#[test]
fn a_torn_definition_reads_as_absent() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let nets = Networks::open(tmp.path()).expect("open");
    std::fs::create_dir_all(&nets.defs).expect("defs");
    std::fs::write(nets.def_path("p_default"), b"{\"def\": {").expect("tear");
    assert!(nets.read_record("p_default").expect("read").is_none());
    assert!(nets.list().expect("list").is_empty());
}

fn ipam_path(root: &Path, name: &str) -> std::path::PathBuf {
    crate::engine::root::StateRoot::new(root)
        .networks()
        .join(format!("{name}.json"))
}
