//! Tests of `extra_hosts`, through the whole spec builder where the rule shows in the spec.

use super::super::test_support::*;

#[test]
fn dns_and_extra_hosts() {
    let s = build(
        "dns: [1.1.1.1]\ndns_search: [svc.local]\ndns_opt: [ndots:2]\nextra_hosts: ['db:10.0.0.5', 'v6=[::1]']\n",
        serde_json::json!({"Cmd": ["sh"]}),
    )
    .unwrap();
    assert_eq!(s.dns, strs(&["1.1.1.1"]));
    assert_eq!(s.dns_search, strs(&["svc.local"]));
    assert_eq!(s.dns_options, strs(&["ndots:2"]));
    assert_eq!(
        s.extra_hosts,
        vec![
            ("db".to_string(), "10.0.0.5".to_string()),
            ("v6".to_string(), "::1".to_string())
        ]
    );
    assert_eq!(
        err("extra_hosts: ['gw:host-gateway']"),
        "service web: extra_hosts gw=host-gateway needs a network gateway, and this container has no network"
    );
}
