use std::fs;
use std::net::IpAddr;

use crate::engine::network::ipam::test_support::*;
use crate::engine::network::ipam::*;

fn tmpdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("compose-test-ipam-")
        .tempdir()
        .unwrap()
}

#[test]
fn store_persists_and_refuses() {
    let dir = tmpdir();
    let store = IpamStore::open(dir.path()).unwrap();
    let host = [route("172.17.0.0/16", "docker0")];
    let a = store
        .create_network("p_default", &[], v4only(), &host)
        .unwrap();
    assert_eq!(a.subnets[0].subnet, sn("172.18.0.0/16"));
    let b = store
        .create_network("p_back", &[], v4only(), &host)
        .unwrap();
    assert_eq!(b.subnets[0].subnet, sn("172.19.0.0/16"));
    assert!(matches!(
        store.create_network("p_back", &[], v4only(), &host),
        Err(IpamError::NetworkExists(_))
    ));
    assert_eq!(
        store
            .create_network("p_x", &[explicit("172.19.4.0/24")], v4only(), &host)
            .unwrap_err()
            .to_string(),
        "network p_x: subnet 172.19.4.0/24 overlaps subnet 172.19.0.0/16 of network p_back"
    );
    assert!(store.create_network("../x", &[], v4only(), &host).is_err());

    let got = store
        .allocate("p_default", "c1", &AddrRequest::default())
        .unwrap();
    assert_eq!(got.ipv4.unwrap().addr, ip("172.18.0.2"));
    // A second store on the same dir (another process) sees the allocation.
    let again = IpamStore::open(dir.path()).unwrap();
    let rec = again.get("p_default").unwrap().unwrap();
    assert_eq!(rec.allocations["c1"], vec![ip("172.18.0.2")]);
    assert_eq!(
        again
            .allocate("p_default", "c2", &AddrRequest::default())
            .unwrap()
            .ipv4
            .unwrap()
            .addr,
        ip("172.18.0.3")
    );
    let names: Vec<String> = store.list().unwrap().into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["p_back", "p_default"]);

    assert!(matches!(
        store.remove_network("p_default"),
        Err(IpamError::NetworkInUse { .. })
    ));
    assert!(store.release("p_default", "c1").unwrap());
    assert!(!store.release("p_default", "c1").unwrap());
    assert!(store.release("p_default", "c2").unwrap());
    assert!(store.remove_network("p_default").unwrap());
    assert!(!store.remove_network("p_default").unwrap());
    assert!(matches!(
        store.allocate("p_default", "c1", &AddrRequest::default()),
        Err(IpamError::NetworkNotFound(_))
    ));
    // Its subnet is free again.
    let c = store.create_network("p_new", &[], v4only(), &host).unwrap();
    assert_eq!(c.subnets[0].subnet, sn("172.18.0.0/16"));
    // The file is the documented JSON.
    let text = fs::read_to_string(dir.path().join("p_new.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["subnets"][0]["subnet"], "172.18.0.0/16");
    assert_eq!(v["subnets"][0]["gateway"], "172.18.0.1");
}

#[test]
fn concurrent_allocation_never_duplicates() {
    let dir = tmpdir();
    let store = IpamStore::open(dir.path()).unwrap();
    store
        .create_network("p_default", &[explicit("10.40.0.0/24")], v4only(), &[])
        .unwrap();
    let handles: Vec<_> = (0..2)
        .map(|t| {
            let path = dir.path().to_path_buf();
            std::thread::spawn(move || {
                // Each thread has its own store and lock fd, as two processes would.
                let store = IpamStore::open(&path).unwrap();
                (0..50)
                    .map(|i| {
                        store
                            .allocate("p_default", &format!("t{t}-{i}"), &AddrRequest::default())
                            .unwrap()
                            .ipv4
                            .unwrap()
                            .addr
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<IpAddr> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(all.len(), 100);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 100, "duplicate addresses handed out");
    let rec = store.get("p_default").unwrap().unwrap();
    assert_eq!(rec.allocations.len(), 100);

    // Subnets too: two threads creating networks at once get disjoint subnets.
    let handles: Vec<_> = (0..2)
        .map(|t| {
            let path = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let store = IpamStore::open(&path).unwrap();
                (0..6)
                    .map(|i| {
                        store
                            .create_network(&format!("n{t}_{i}"), &[], v4only(), &[])
                            .unwrap()
                            .subnets[0]
                            .subnet
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let subnets: Vec<Subnet> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    for (i, a) in subnets.iter().enumerate() {
        for b in &subnets[i + 1..] {
            assert!(!a.overlaps(b), "{a} and {b} handed out twice");
        }
    }
}
