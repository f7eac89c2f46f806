use super::Subnet;
use crate::engine::network::ipam::test_support::*;

#[test]
fn subnet_parse_display_and_math() {
    let s = sn("172.28.0.0/16");
    assert_eq!(s.to_string(), "172.28.0.0/16");
    assert_eq!(s.prefix_len(), 16);
    assert_eq!(s.size(), 65536);
    assert_eq!(s.last(), ip("172.28.255.255"));
    assert_eq!(s.nth(1), Some(ip("172.28.0.1")));
    assert_eq!(s.nth(65536), None);
    assert!(s.contains(ip("172.28.5.3")));
    assert!(!s.contains(ip("172.29.0.0")));
    assert!(!s.contains(ip("::1")));
    assert!(s.overlaps(&sn("172.28.5.0/24")));
    assert!(sn("172.28.5.0/24").overlaps(&s));
    assert!(s.overlaps(&sn("172.0.0.0/8")));
    assert!(!s.overlaps(&sn("172.29.0.0/16")));
    assert!(!s.overlaps(&sn("::/0")));
    assert!(s.contains_subnet(&sn("172.28.5.0/24")));
    assert!(!sn("172.28.5.0/24").contains_subnet(&s));
    assert_eq!("10.1.2.3/8".parse::<Subnet>().unwrap(), sn("10.0.0.0/8"));
    assert_eq!(sn("0.0.0.0/0").size(), 1 << 32);
    assert_eq!(sn("::/0").size(), u128::MAX);

    let v6 = sn("fd00:1::/64");
    assert_eq!(v6.to_string(), "fd00:1::/64");
    assert_eq!(v6.last(), ip("fd00:1::ffff:ffff:ffff:ffff"));
    assert!(v6.contains(ip("fd00:1::abcd")));
    assert!(v6.overlaps(&sn("fd00::/16")));
    assert!(!v6.overlaps(&sn("fd00:2::/64")));

    let err = Subnet::parse_exact("172.28.5.0/16").unwrap_err();
    assert!(err.to_string().contains("172.28.0.0/16"), "{err}");
    for bad in [
        "172.28.0.0",
        "172.28.0.0/33",
        "nope/16",
        "10.0.0.0/x",
        "::/129",
    ] {
        assert!(Subnet::parse_exact(bad).is_err(), "{bad}");
    }
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(json, "\"172.28.0.0/16\"");
    assert_eq!(serde_json::from_str::<Subnet>(&json).unwrap(), s);
}
