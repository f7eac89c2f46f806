//! Tests of `resources`, through the whole spec builder where the rule shows in the spec.

use super::super::test_support::*;

#[test]
fn resources_from_service_and_deploy() {
    let img = serde_json::json!({"Cmd": ["sh"]});
    let spec = build(
        "mem_limit: 512m\nmem_reservation: 128m\nmemswap_limit: -1\nmem_swappiness: 10\n\
         cpu_shares: 512\ncpus: 1.5\ncpuset: 0-1\npids_limit: 100\n\
         blkio_config: {weight: 300, device_read_bps: [{path: /dev/sda, rate: 1m}]}",
        img.clone(),
    )
    .unwrap();
    let r = &spec.resources;
    assert_eq!(r.memory_limit, Some(512 << 20));
    assert_eq!(r.memory_reservation, Some(128 << 20));
    assert_eq!(r.memory_swap, Some(-1));
    assert_eq!(r.memory_swappiness, Some(10));
    assert_eq!(r.cpu_shares, Some(512));
    assert_eq!((r.cpu_quota, r.cpu_period), (Some(150_000), Some(100_000)));
    assert_eq!(r.cpuset_cpus.as_deref(), Some("0-1"));
    assert_eq!(r.pids_limit, Some(100));
    assert_eq!(r.blkio_weight, Some(300));
    assert_eq!(
        r.blkio_throttle_read_bps,
        vec![("/dev/sda".to_string(), 1 << 20)]
    );
    let spec = build(
        "mem_limit: 512m\npids_limit: 100\n\
         deploy: {resources: {limits: {cpus: '0.5', memory: 1g, pids: 7}, reservations: {memory: 64m}}}",
        img.clone(),
    )
    .unwrap();
    let r = &spec.resources;
    assert_eq!(r.memory_limit, Some(1 << 30));
    // No memswap_limit: as much swap as memory (Docker's memory + swap = 2 x limit).
    assert_eq!(r.memory_swap, Some(2 << 30));
    assert_eq!(r.memory_reservation, Some(64 << 20));
    assert_eq!(r.pids_limit, Some(7));
    assert_eq!(r.cpu_quota, Some(50_000));
    let spec = build("cpu_quota: 20000\ncpu_period: 50000", img).unwrap();
    assert_eq!(
        (spec.resources.cpu_quota, spec.resources.cpu_period),
        (Some(20_000), Some(50_000))
    );
    assert!(err("cpus: 1\ncpu_quota: 1000").contains("conflicting"));
    let spec = build(
        "oom_kill_disable: true\ncpu_rt_runtime: 10ms\ncpu_rt_period: 500000",
        serde_json::json!({"Cmd": ["sh"]}),
    )
    .unwrap();
    let r = &spec.resources;
    assert!(r.oom_kill_disable);
    assert_eq!(
        (r.cpu_rt_runtime, r.cpu_rt_period),
        (Some(10_000), Some(500_000))
    );
    assert!(err("cpu_rt_period: -5").contains("cpu_rt_period -5 is negative"));
}
