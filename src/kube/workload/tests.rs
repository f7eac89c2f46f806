use k8s_openapi::api::core::v1::{PersistentVolumeClaimVolumeSource, Volume};

use super::*;
use crate::kube::test_support::{keys, pod, warning, yaml, Fixture};

fn wrapped(yaml_text: &str, name: &str, pod: PodTemplateSpec) -> (Object, Warnings) {
    let f = Fixture::new(yaml_text);
    let mut w = Warnings::default();
    let o = wrap(&f.ctx(), name, pod, &mut w).unwrap();
    (o, w)
}

#[test]
fn a_deployment_rolls_as_update_config_says() {
    let (o, w) = wrapped(
        "services:\n  web:\n    image: w\n    deploy:\n      replicas: 3\n      labels: {tier: front, com.example.note: a b}\n      \
         update_config: {parallelism: 2, delay: 1500ms, order: start-first, monitor: 10s}\n      \
         rollback_config: {parallelism: 1}\n      placement:\n        constraints: [node.labels.disk == ssd, node.role == manager, node.platform.arch == x86_64]\n        \
         preferences: [{spread: node.labels.zone}]\n",
        "web",
        pod(),
    );
    let Object::Deployment(d) = &o else {
        panic!("{o:?}")
    };
    let text = yaml(std::slice::from_ref(&o));
    assert!(
        text.contains("  annotations:\n    com.example.note: a b\n"),
        "{text}"
    );
    assert!(text.contains("    tier: front\n  name: web\n"), "{text}");
    let spec = d.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(3));
    assert_eq!(spec.min_ready_seconds, Some(2));
    assert!(
        text.contains("  strategy:\n    rollingUpdate:\n      maxSurge: 2\n      maxUnavailable: 0\n    type: RollingUpdate\n"),
        "{text}"
    );
    assert!(text.contains("  selector:\n    matchLabels:\n      app.kubernetes.io/name: web\n      app.kubernetes.io/part-of: demo\n"), "{text}");
    let ns = spec
        .template
        .spec
        .as_ref()
        .unwrap()
        .node_selector
        .as_ref()
        .unwrap();
    assert_eq!(ns["disk"], "ssd");
    assert_eq!(ns["kubernetes.io/arch"], "amd64");
    assert_eq!(ns.len(), 2);
    assert_eq!(
        keys(&w, Some("web")),
        [
            "deploy.placement.constraints[1]",
            "deploy.placement.preferences",
            "deploy.rollback_config",
            "deploy.update_config.monitor"
        ]
    );
}

#[test]
fn stop_first_is_the_default_order() {
    let (o, w) = wrapped(
        "services:\n  web:\n    image: w\n    deploy: {update_config: {parallelism: 0}}\n",
        "web",
        pod(),
    );
    let text = yaml(&[o]);
    assert!(
        text.contains("maxSurge: 0\n      maxUnavailable: 100%\n"),
        "{text}"
    );
    assert!(w.is_empty());
}

#[test]
fn a_statefulset_turns_project_claims_into_templates() {
    let mut p = pod();
    let claim = |vol: &str, claim: &str| Volume {
        name: names::pod_volume(vol),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim.to_string(),
            read_only: None,
        }),
        ..Volume::default()
    };
    p.spec.as_mut().unwrap().volumes = Some(vec![
        claim("db_data", &names::claim("db_data")),
        claim("shared", "shared-in-cluster"),
        Volume {
            name: "cache".into(),
            ..Volume::default()
        },
    ]);
    let (o, w) = wrapped(
        "services:\n  db:\n    image: db\n    deploy: {replicas: 2}\n    volumes: [db_data:/var/lib/db, shared:/shared]\n\
         volumes:\n  db_data:\n    x-kubernetes: {size: 5Gi}\n  shared:\n    external: true\n    name: shared-in-cluster\n",
        "db",
        p,
    );
    let Object::StatefulSet(s) = &o else {
        panic!("{o:?}")
    };
    let spec = s.spec.as_ref().unwrap();
    assert_eq!(spec.service_name.as_deref(), Some("db"));
    assert_eq!(spec.replicas, Some(2));
    let names_left: Vec<&str> = spec
        .template
        .spec
        .as_ref()
        .unwrap()
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(
        names_left,
        ["shared", "cache"],
        "the external claim stays shared"
    );
    let templates = spec.volume_claim_templates.as_ref().unwrap();
    assert_eq!(templates.len(), 1);
    assert_eq!(templates[0].metadata.name.as_deref(), Some("db-data"));
    let text = yaml(std::slice::from_ref(&o));
    assert!(text.contains("storage: 5Gi"), "{text}");
    assert!(w.is_empty(), "{:?}", w.as_slice());
}

#[test]
fn an_awaited_service_is_a_job_counting_attempts() {
    let (o, w) = wrapped(
        "services:\n  migrate:\n    image: m\n    scale: 2\n    deploy:\n      restart_policy: {max_attempts: 4, delay: 5s}\n  \
         web:\n    image: w\n    depends_on: {migrate: {condition: service_completed_successfully}}\n",
        "migrate",
        pod(),
    );
    let Object::Job(j) = &o else { panic!("{o:?}") };
    let spec = j.spec.as_ref().unwrap();
    assert_eq!(
        (spec.backoff_limit, spec.completions, spec.parallelism),
        (Some(4), Some(2), Some(2))
    );
    // `delay` is warned by the pod part, with `condition`.
    assert!(keys(&w, Some("migrate")).is_empty());
}

#[test]
fn a_global_service_is_a_daemonset_without_replicas() {
    let (o, w) = wrapped(
        "services:\n  agent:\n    image: a\n    deploy: {mode: global, replicas: 2, update_config: {parallelism: 3}}\n",
        "agent",
        pod(),
    );
    let text = yaml(&[o]);
    assert!(text.contains("kind: DaemonSet\n"), "{text}");
    assert!(text.contains("maxUnavailable: 3\n"), "{text}");
    assert!(!text.contains("replicas"), "{text}");
    assert!(warning(&w, "deploy.replicas")
        .message
        .contains("one pod per node"));
}

#[test]
fn a_deployment_with_a_single_node_claim_is_recreated_not_rolled() {
    let rwo = "services:\n  db:\n    image: d\n    volumes: ['data:/data']\nvolumes:\n  data: {}\n";
    let (o, _) = wrapped(rwo, "db", pod());
    assert!(yaml(&[o]).contains("  strategy:\n    type: Recreate\n"));
    let rwx = "services:\n  db:\n    image: d\n    volumes: ['data:/data']\nvolumes:\n  data:\n    x-kubernetes: {access_modes: [ReadWriteMany]}\n";
    let (o, _) = wrapped(rwx, "db", pod());
    assert!(!yaml(&[o]).contains("strategy"));
    let rolled = "services:\n  db:\n    image: d\n    volumes: ['data:/data']\n    deploy: {update_config: {order: start-first}}\nvolumes:\n  data: {}\n";
    let (o, _) = wrapped(rolled, "db", pod());
    assert!(
        yaml(&[o]).contains("type: RollingUpdate"),
        "update_config wins"
    );
}
