use super::*;
use crate::kube::test_support::{keys, warning, yaml, Fixture};

fn made(text: &str, name: &str) -> (String, Warnings) {
    let f = Fixture::new(text);
    let mut w = Warnings::default();
    let objects = objects(&f.ctx(), name, &mut w).unwrap();
    (yaml(&objects), w)
}

#[test]
fn ports_make_a_cluster_ip_service_on_the_container_ports() {
    let (text, w) = made(
        "services:\n  web:\n    image: w\n    ports: ['8080:80', {target: 443, published: '8443', name: https, app_protocol: https}]\n    expose: ['9000/udp']\n",
        "web",
    );
    assert!(
        text.contains(
            "  ports:\n  - name: tcp-80\n    port: 80\n    protocol: TCP\n    targetPort: 80\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  - appProtocol: https\n    name: https\n    port: 443\n"),
        "{text}"
    );
    assert!(
        text.contains("  - name: udp-9000\n    port: 9000\n    protocol: UDP\n"),
        "{text}"
    );
    assert!(
        !text.contains("clusterIP") && !text.contains("type:"),
        "{text}"
    );
    assert!(w.is_empty(), "{:?}", w.as_slice());
}

#[test]
fn node_ports_come_from_published_ports_in_range() {
    let (text, w) = made(
        "services:\n  web:\n    image: w\n    ports: ['30080:80', '8443:443', '127.0.0.1:9000:9000']\n    x-kubernetes: {service_type: NodePort}\n",
        "web",
    );
    assert!(text.contains("  - name: tcp-80\n    nodePort: 30080\n    port: 80\n    protocol: TCP\n    targetPort: 80\n"), "{text}");
    assert!(
        text.contains("  - name: tcp-443\n    port: 443\n"),
        "{text}"
    );
    assert!(text.contains("  type: NodePort\n"), "{text}");
    assert_eq!(keys(&w, Some("web")), ["ports[2]", "ports", "ports"]);
}

#[test]
fn no_ports_or_a_statefulset_make_a_headless_service() {
    let (text, _) = made("services:\n  worker:\n    image: w\n", "worker");
    assert!(
        text.contains("spec:\n  clusterIP: None\n  selector:\n"),
        "{text}"
    );
    assert!(!text.contains("ports"), "{text}");
    let (text, _) = made(
        "services:\n  db:\n    image: d\n    x-kubernetes: {kind: statefulset}\n    expose: ['5432']\n",
        "db",
    );
    assert!(text.contains("  clusterIP: None\n  ports:\n"), "{text}");
}

#[test]
fn aliases_and_links_get_services_once() {
    let text = "services:\n  db:\n    image: d\n    expose: ['5432']\n    networks:\n      back: {aliases: [database, db, web]}\n      front: {aliases: [database]}\n  \
                web:\n    image: w\n    links: ['db:pg', 'db:database', 'db']\n    external_links: [other]\n  \
                job:\n    image: j\n  waiter:\n    image: x\n    links: ['job:j']\n    depends_on: {job: {condition: service_completed_successfully}}\n\
                networks: {back: {}, front: {}}\n";
    let (db, w) = made(text, "db");
    assert_eq!(db.matches("kind: Service\n").count(), 2, "{db}");
    assert!(db.contains("  name: database\n"), "{db}");
    assert!(warning(&w, "networks.back.aliases")
        .message
        .contains("another service's name"));
    let (web, w) = made(text, "web");
    assert!(web.contains("  name: pg\n"), "{web}");
    assert!(
        !web.contains("name: database\n"),
        "made once, for db: {web}"
    );
    assert_eq!(keys(&w, Some("web")), ["external_links"]);
    let (_, w) = made(text, "waiter");
    assert!(warning(&w, "links").message.contains("is a Job"));
}

#[test]
fn network_settings_a_cluster_cannot_hold_are_warned_about() {
    let f = Fixture::new(
        "services:\n  a:\n    image: a\n    networks:\n      back: {ipv4_address: 10.0.0.2}\n      front:\n\
         networks:\n  back: {driver: overlay, internal: true}\n  front: {}\n  unused: {driver: macvlan}\n",
    );
    let mut w = Warnings::default();
    network_warnings(&f.ctx(), &mut w);
    assert_eq!(keys(&w, Some("a")), ["networks.back.ipv4_address"]);
    assert_eq!(
        keys(&w, None),
        ["networks.back.driver", "networks.back.internal", "networks"]
    );
}

#[test]
fn a_load_balancer_offers_the_published_port_and_says_so() {
    let (text, w) = made(
        "services:\n  web:\n    image: w\n    ports: ['8080:80', '443:443']\n    x-kubernetes: {service_type: LoadBalancer}\n",
        "web",
    );
    assert!(
        text.contains("  - name: tcp-80\n    port: 8080\n    protocol: TCP\n    targetPort: 80\n"),
        "{text}"
    );
    assert!(
        text.contains("  - name: tcp-443\n    port: 443\n"),
        "{text}"
    );
    assert!(text.contains("  type: LoadBalancer\n"), "{text}");
    assert_eq!(keys(&w, Some("web")), ["ports"]);
    assert!(warning(&w, "ports")
        .message
        .contains("callers that used 80 must use 8080"));
}
