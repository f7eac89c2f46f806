use super::Pool;
use crate::engine::network::ipam::test_support::*;
use crate::engine::network::ipam::Subnet;

#[test]
fn pool_walks_around_taken_prefixes() {
    let docker = Pool::new("172.17.0.0/12", 16).unwrap();
    assert_eq!(docker.first_free(&[]), Some(sn("172.17.0.0/16")));
    // Docker's docker0.
    assert_eq!(
        docker.first_free(&[sn("172.17.0.0/16")]),
        Some(sn("172.18.0.0/16"))
    );
    // A smaller prefix inside a candidate blocks the whole candidate.
    assert_eq!(
        docker.first_free(&[sn("172.17.0.0/16"), sn("172.18.3.0/24")]),
        Some(sn("172.19.0.0/16"))
    );
    // A bigger prefix skips several candidates at once.
    assert_eq!(
        docker.first_free(&[sn("172.16.0.0/14")]),
        Some(sn("172.20.0.0/16"))
    );
    // The whole pool taken.
    assert_eq!(docker.first_free(&[sn("172.16.0.0/12")]), None);
    // 172.16.0.0/16 is not part of the pool (Docker starts at 172.17).
    let all: Vec<Subnet> = (17..=31).map(|i| sn(&format!("172.{i}.0.0/16"))).collect();
    assert_eq!(docker.first_free(&all), None);

    let small = Pool::new("192.168.0.0/16", 20).unwrap();
    assert_eq!(
        small.first_free(&[sn("192.168.0.0/24"), sn("192.168.16.5/32")]),
        Some(sn("192.168.32.0/20"))
    );

    // Podman's 10.88.0.0/16 in a pool over 10.88.0.0/14.
    let p = Pool::new("10.88.0.0/14", 16).unwrap();
    assert_eq!(
        p.first_free(&[sn("10.88.0.0/16"), sn("10.89.0.0/24")]),
        Some(sn("10.90.0.0/16"))
    );

    // IPv6: jumps, never iterates the 2^16 /64s.
    let v6 = Pool::new("fd00:1::/48", 64).unwrap();
    assert_eq!(
        v6.first_free(&[sn("fd00:1::/50")]),
        Some(sn("fd00:1:0:4000::/64"))
    );
    assert_eq!(v6.first_free(&[sn("fd00::/16")]), None);

    assert!(Pool::new("10.0.0.0/16", 8).is_err());
    assert!(Pool::new("10.0.0.0/16", 33).is_err());
    assert_eq!(docker.to_string(), "172.17.0.0/12 split into /16");
}
