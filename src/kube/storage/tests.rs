use super::*;
use crate::kube::test_support::{keys, warning, yaml, Fixture};

fn pvc(o: &Object) -> &PersistentVolumeClaim {
    match o {
        Object::PersistentVolumeClaim(c) => c,
        other => panic!("not a claim: {other:?}"),
    }
}

#[test]
fn a_mounted_volume_gets_a_default_claim() {
    let f = Fixture::new(
        "services:\n  db:\n    image: postgres\n    volumes: [pg_data:/var/lib/postgresql/data]\n\
         volumes:\n  pg_data:\n    labels: {tier: db, com.example.note: Main data}\n  unused: {}\n",
    );
    let mut w = Warnings::default();
    let objects = claims(&f.ctx(), &mut w).unwrap();
    assert_eq!(objects.len(), 1, "the unused volume gets no claim");
    let c = pvc(&objects[0]);
    assert_eq!(c.metadata.name.as_deref(), Some("pg-data"));
    let labels = c.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["tier"], "db");
    assert_eq!(labels[crate::kube::labels::PART_OF], "demo");
    assert_eq!(
        c.metadata.annotations.as_ref().unwrap()["com.example.note"],
        "Main data"
    );
    let spec = c.spec.as_ref().unwrap();
    assert_eq!(
        spec.access_modes.as_deref(),
        Some(&["ReadWriteOnce".to_string()][..])
    );
    assert_eq!(
        spec.resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"],
        Quantity("1Gi".into())
    );
    assert_eq!(spec.storage_class_name, None);
    assert!(w.is_empty(), "{:?}", w.as_slice());
}

#[test]
fn size_class_and_modes_come_from_x_kubernetes_then_driver_opts() {
    let f = Fixture::new(
        "services:\n  a:\n    image: a\n    volumes: [one:/one, two:/two]\n\
         volumes:\n  one:\n    x-kubernetes: {size: 10Gi, storage_class: fast, access_modes: [ReadWriteMany, ReadWriteMany]}\n    \
         driver_opts: {size: 1g, storage_class: slow}\n  two:\n    driver_opts: {size: 512m, storage_class: slow}\n",
    );
    let mut w = Warnings::default();
    let text = yaml(&claims(&f.ctx(), &mut w).unwrap());
    assert!(text.contains("name: one\n"), "{text}");
    assert!(
        text.contains("accessModes:\n  - ReadWriteMany\n  resources:\n    requests:\n      storage: 10Gi\n  storageClassName: fast\n"),
        "{text}"
    );
    assert!(
        text.contains("requests:\n      storage: 512Mi\n  storageClassName: slow\n"),
        "{text}"
    );
    assert!(w.is_empty(), "{:?}", w.as_slice());
}

#[test]
fn a_size_that_is_no_quantity_is_refused_with_its_key() {
    let f = Fixture::new(
        "services:\n  a:\n    image: a\n    volumes: [data:/data]\nvolumes:\n  data:\n    x-kubernetes: {size: ten gigs}\n",
    );
    let err = claims(&f.ctx(), &mut Warnings::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "volumes.data.x-kubernetes.size: \"ten gigs\" is not a Kubernetes quantity (like 10Gi or 500M)"
    );
    let f = Fixture::new(
        "services:\n  a:\n    image: a\n    volumes: [data:/data]\nvolumes:\n  data:\n    driver_opts: {size: lots}\n",
    );
    let err = claims(&f.ctx(), &mut Warnings::default()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("volumes.data.driver_opts.size: "),
        "{err}"
    );
}

#[test]
fn quantities_follow_kubernetes() {
    for ok in ["1Gi", "500M", "1.5Ti", "100", "1e3", "2E+6", "0.5"] {
        assert_eq!(quantity(ok).as_deref(), Some(ok), "{ok}");
    }
    for bad in ["", "Gi", "1GB", "1gi", "-1Gi", "1.2.3", "1e", "ten"] {
        assert_eq!(quantity(bad), None, "{bad}");
    }
    assert_eq!(byte_quantity("10g").as_deref(), Some("10Gi"));
    assert_eq!(byte_quantity("1536m").as_deref(), Some("1536Mi"));
    assert_eq!(byte_quantity("1000").as_deref(), Some("1000"));
}

#[test]
fn drivers_and_their_options_are_warned_about() {
    let f = Fixture::new(
        "services:\n  a:\n    image: a\n    volumes: [data:/data, ext:/e]\n\
         volumes:\n  data:\n    driver: rexray\n    driver_opts: {type: nfs, o: addr=1.2.3.4, size: 2Gi}\n  \
         ext:\n    external: true\n    x-kubernetes: {size: 5Gi}\n",
    );
    let mut w = Warnings::default();
    let objects = claims(&f.ctx(), &mut w).unwrap();
    assert_eq!(
        objects.len(),
        1,
        "an external volume's claim already exists"
    );
    assert_eq!(
        keys(&w, None),
        [
            "volumes.data.driver",
            "volumes.data.driver_opts.type",
            "volumes.data.driver_opts.o",
            "volumes.ext.x-kubernetes"
        ]
    );
    assert!(warning(&w, "volumes.data.driver")
        .message
        .contains("\"rexray\""));
}

#[test]
fn sharing_a_read_write_once_claim_between_pods_is_warned_about() {
    let f = Fixture::new(
        "services:\n  a:\n    image: a\n    volumes: [data:/data]\n  b:\n    image: b\n    volumes: [data:/data]\n\
         volumes:\n  data: {}\n",
    );
    let mut w = Warnings::default();
    claims(&f.ctx(), &mut w).unwrap();
    assert!(warning(&w, "volumes.data").message.contains("(a, b)"));

    let f = Fixture::new(
        "services:\n  a:\n    image: a\n    deploy: {replicas: 2}\n    x-kubernetes: {kind: deployment}\n    volumes: [data:/data]\n\
         volumes:\n  data:\n    x-kubernetes: {access_modes: [ReadWriteMany]}\n",
    );
    let mut w = Warnings::default();
    claims(&f.ctx(), &mut w).unwrap();
    assert!(
        w.is_empty(),
        "ReadWriteMany can be shared: {:?}",
        w.as_slice()
    );
}

#[test]
fn statefulset_volumes_get_templates_not_claims() {
    let f = Fixture::new(
        "services:\n  db:\n    image: db\n    deploy: {replicas: 3}\n    volumes: [data:/data]\n\
         volumes:\n  data: {}\n",
    );
    let ctx = f.ctx();
    assert_eq!(ctx.kind("db"), WorkloadKind::StatefulSet);
    let mut w = Warnings::default();
    assert!(claims(&ctx, &mut w).unwrap().is_empty());
    assert!(w.is_empty());

    let f = Fixture::new(
        "services:\n  db:\n    image: db\n    deploy: {replicas: 3}\n    volumes: [data:/data]\n  \
         backup:\n    image: b\n    volumes: [data:/data]\nvolumes:\n  data: {}\n",
    );
    let mut w = Warnings::default();
    assert_eq!(claims(&f.ctx(), &mut w).unwrap().len(), 1);
    let msg = &warning(&w, "volumes.data").message;
    assert!(
        msg.starts_with("StatefulSet db gives each replica"),
        "{msg}"
    );
}
