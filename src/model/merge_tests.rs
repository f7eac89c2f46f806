use super::*;
use crate::model::yaml::parse_file_text;
use std::path::Path;

fn parse(src: &str, file: &str) -> Node {
    parse_file_text(src, Some(Path::new(file))).expect("test YAML parses")
}

/// Merges `over` onto `base` as two files and compares with `want` (positions ignored).
fn merged(base: &str, over: &str) -> Node {
    let mut n = merge_nodes(parse(base, "a.yaml"), parse(over, "b.yaml"), "").expect("merges");
    apply_reset_tags(&mut n);
    n
}

#[test]
fn merge_rules_table() {
    let cases: &[(&str, &str, &str, &str)] = &[
            (
                "scalars are replaced, mappings merged",
                "services: {web: {image: a, user: root}}",
                "services: {web: {image: b, hostname: h}}",
                "services: {web: {image: b, user: root, hostname: h}}",
            ),
            (
                "null override keeps the earlier value",
                "services: {web: {image: a}}",
                "services: {web: {image: }}",
                "services: {web: {image: a}}",
            ),
            (
                "plain sequences are appended",
                "services: {web: {volumes_from: [a]}}",
                "services: {web: {volumes_from: [b, a]}}",
                "services: {web: {volumes_from: [a, b, a]}}",
            ),
            (
                "command and entrypoint are replaced",
                "services: {web: {command: [a, b], entrypoint: sh, healthcheck: {test: [CMD, x], interval: 1s}}}",
                "services: {web: {command: [c], entrypoint: [bash, -c], healthcheck: {test: [CMD, y]}}}",
                "services: {web: {command: [c], entrypoint: [bash, -c], healthcheck: {test: [CMD, y], interval: 1s}}}",
            ),
            (
                "environment list and mapping merge by key",
                "services: {web: {environment: [A=1, B=2, C]}}",
                "services: {web: {environment: {A: 3, D: x}}}",
                "services: {web: {environment: {A: 3, B: '2', C: null, D: x}}}",
            ),
            (
                "a bare name in the override unsets the value",
                "services: {web: {environment: {A: '1'}}}",
                "services: {web: {environment: [A]}}",
                "services: {web: {environment: {A: null}}}",
            ),
            (
                "labels, sysctls and build args too",
                "services: {web: {labels: {a.b: x}, sysctls: [net.x=1], build: {context: ., args: [V=1]}}}",
                "services: {web: {labels: [a.b=y, c=z], sysctls: {net.x: 2}, build: {args: {W: 2}}}}",
                "services: {web: {labels: {a.b: y, c: z}, sysctls: {net.x: 2}, build: {context: ., args: {V: '1', W: 2}}}}",
            ),
            (
                "ports are unique by parsed host, published, target and protocol",
                "services: {web: {ports: ['8080:80', '0.0.0.0:9000:90', 53/udp, '[::1]:22:22']}}",
                "services: {web: {ports: [{target: 80, published: '8080'}, '9000:90', 53, '[::1]:22:22', 81]}}",
                "services: {web: {ports: [{target: 80, published: '8080'}, '9000:90', 53/udp, '[::1]:22:22', 53, 81]}}",
            ),
            (
                "volumes are unique by target",
                "services: {web: {volumes: ['./a:/data', 'logs:/logs:ro', /anon]}}",
                "services: {web: {volumes: [{type: bind, source: ./b, target: /data}, '/anon', 'C:\\x:/win']}}",
                "services: {web: {volumes: [{type: bind, source: ./b, target: /data}, 'logs:/logs:ro', /anon, 'C:\\x:/win']}}",
            ),
            (
                "secrets and configs are unique by mount target",
                "services: {web: {secrets: [s1, {source: s2, target: /etc/s2}], configs: [c1]}}",
                "services: {web: {secrets: [{source: other, target: s1}, s2], configs: [{source: c1, mode: 0440}]}}",
                "services: {web: {secrets: [{source: other, target: s1}, {source: s2, target: /etc/s2}, s2], configs: [{source: c1, mode: 0440}]}}",
            ),
            (
                "string-or-list sets: dns, env_file, tmpfs, cap_add, expose, devices",
                "services: {web: {dns: 8.8.8.8, env_file: [a.env, {path: b.env}], tmpfs: /run, cap_add: [NET_ADMIN], expose: [80], devices: ['/dev/a:/dev/x']}}",
                "services: {web: {dns: [8.8.8.8, 1.1.1.1], env_file: [b.env, c.env], tmpfs: [/tmp, /run], cap_add: [NET_ADMIN, SYS_TIME], expose: ['80', 81], devices: ['/dev/b:/dev/x']}}",
                "services: {web: {dns: [8.8.8.8, 1.1.1.1], env_file: [a.env, b.env, c.env], tmpfs: [/run, /tmp], cap_add: [NET_ADMIN, SYS_TIME], expose: ['80', 81], devices: ['/dev/b:/dev/x']}}",
            ),
            (
                "extra_hosts union, mapping form converted",
                "services: {web: {extra_hosts: ['a:1.1.1.1', 'b=2.2.2.2']}}",
                "services: {web: {extra_hosts: {a: 1.1.1.1, c: [3.3.3.3, '::1']}}}",
                "services: {web: {extra_hosts: ['a:1.1.1.1', 'b=2.2.2.2', 'c=3.3.3.3', 'c=::1']}}",
            ),
            (
                "networks list and mapping merge, aliases unique",
                "services: {web: {networks: [front, back]}}",
                "services: {web: {networks: {back: {aliases: [x]}, other: null}}}",
                "services: {web: {networks: {front: null, back: {aliases: [x]}, other: null}}}",
            ),
            (
                "network aliases appended uniquely",
                "services: {web: {networks: {n: {aliases: [a, b]}}}}",
                "services: {web: {networks: {n: {aliases: [c, a]}}}}",
                "services: {web: {networks: {n: {aliases: [a, b, c]}}}}",
            ),
            (
                "depends_on list gets the default condition",
                "services: {web: {depends_on: [db]}}",
                "services: {web: {depends_on: {cache: {condition: service_healthy}}}}",
                "services: {web: {depends_on: {db: {condition: service_started, required: true}, cache: {condition: service_healthy}}}}",
            ),
            (
                "build string is a context",
                "services: {web: {build: ./dir}}",
                "services: {web: {build: {dockerfile: Other}}}",
                "services: {web: {build: {context: ./dir, dockerfile: Other}}}",
            ),
            (
                "logging options merge for the same driver only",
                "services: {a: {logging: {driver: json-file, options: {max-size: 1m}}}, b: {logging: {driver: syslog, options: {x: y}}}}",
                "services: {a: {logging: {options: {max-file: '3'}}}, b: {logging: {driver: json-file, options: {z: w}}}}",
                "services: {a: {logging: {driver: json-file, options: {max-size: 1m, max-file: '3'}}}, b: {logging: {driver: json-file, options: {z: w}}}}",
            ),
            (
                "each ulimit is replaced whole",
                "services: {web: {ulimits: {nofile: {soft: 1, hard: 2}, nproc: 5}}}",
                "services: {web: {ulimits: {nofile: {soft: 3}}}}",
                "services: {web: {ulimits: {nofile: {soft: 3}, nproc: 5}}}",
            ),
            (
                "ipam config merged by subnet",
                "networks: {n: {ipam: {config: [{subnet: 10.0.0.0/24, gateway: 10.0.0.1}, {subnet: 10.1.0.0/24}]}}}",
                "networks: {n: {ipam: {config: [{subnet: 10.0.0.0/24, ip_range: 10.0.0.0/25}]}}}",
                "networks: {n: {ipam: {config: [{subnet: 10.0.0.0/24, gateway: 10.0.0.1, ip_range: 10.0.0.0/25}]}}}",
            ),
            (
                "!reset removes, !override replaces",
                "services: {web: {image: a, ports: ['80:80'], environment: {A: '1', B: '2'}, labels: [x=1]}}",
                "services: {web: {image: !reset null, ports: !reset [], environment: !override {C: '3'}, labels: {x: !reset }}}",
                "services: {web: {environment: {C: '3'}, labels: {}}}",
            ),
            (
                "x- extensions merge like anything else",
                "x-common: {a: 1}\nservices: {}",
                "x-common: {b: 2}",
                "x-common: {a: 1, b: 2}\nservices: {}",
            ),
        ];
    for (name, base, over, want) in cases {
        let got = merged(base, over);
        let want = parse(want, "want.yaml");
        assert_eq!(got.to_value(), want.to_value(), "case: {name}");
    }
}

#[test]
fn merge_errors_are_located() {
    let cases: &[(&str, &str, &str, &str)] = &[
            (
                "services:\n  web:\n    ports: ['80:80']\n",
                "services:\n  web:\n    ports: {a: b}\n",
                "b.yaml:3:12: services.web.ports: expected a sequence, found a mapping",
                "ports mapping",
            ),
            (
                "services:\n  web:\n    deploy: {replicas: 1}\n",
                "services:\n  web:\n    deploy: [x]\n",
                "b.yaml:3:13: services.web.deploy: cannot override a mapping (defined at a.yaml:3:13) with a sequence",
                "mapping vs sequence",
            ),
            (
                "services:\n  web:\n    environment: [A=1]\n",
                "services:\n  web:\n    environment:\n      - [x]\n",
                "b.yaml:4:9: services.web.environment[0]: expected a string, found a sequence",
                "environment entry",
            ),
            (
                "services:\n  web:\n    volumes: [/a]\n",
                "services:\n  web:\n    volumes:\n      - {type: volume, source: x}\n",
                "b.yaml:4:9: services.web.volumes[0]: service volume is missing a mount target",
                "volume target",
            ),
        ];
    for (base, over, want, name) in cases {
        let err = merge_nodes(parse(base, "a.yaml"), parse(over, "b.yaml"), "").unwrap_err();
        assert_eq!(err.to_string(), *want, "case: {name}");
    }
}

#[test]
fn three_files_with_reset_override_and_positions() {
    let a = parse(
            "services:\n  web:\n    image: nginx\n    ports:\n      - 80:80\n    environment:\n      A: '1'\n    command: [a]\n",
            "a.yaml",
        );
    let b = parse(
            "services:\n  web:\n    ports: !reset []\n    environment: !override\n      B: '2'\n    command: !reset null\n  db:\n    image: pg\n",
            "b.yaml",
        );
    let c = parse(
        "services:\n  web:\n    ports:\n      - 8080:80\n    environment:\n      - C=3\n",
        "c.yaml",
    );
    let ab = merge_nodes(a, b, "").unwrap();
    let mut abc = merge_nodes(ab, c, "").unwrap();
    apply_reset_tags(&mut abc);
    let want = parse(
            "services:\n  web:\n    image: nginx\n    ports: ['8080:80']\n    environment: {B: '2', C: '3'}\n  db:\n    image: pg\n",
            "want.yaml",
        );
    assert_eq!(abc.to_value(), want.to_value());
    let at = |p: &str| {
        let n = abc.locate(p);
        (
            n.span.file.as_deref().map(|f| f.display().to_string()),
            n.span.line,
        )
    };
    assert_eq!(at("services.web.image"), (Some("a.yaml".into()), 3));
    assert_eq!(at("services.web.ports[0]"), (Some("c.yaml".into()), 4));
    assert_eq!(at("services.web.environment.B"), (Some("b.yaml".into()), 5));
    assert_eq!(at("services.web.environment.C"), (Some("c.yaml".into()), 6));
    assert_eq!(at("services.db.image"), (Some("b.yaml".into()), 8));
    // The key of a redefined entry points at the file that set it last.
    let key = abc.locate_key_span("services.web.environment");
    assert_eq!(
        (key.file.as_deref(), key.line),
        (Some(Path::new("c.yaml")), 5)
    );
}

#[test]
fn reset_tags_in_a_single_file_are_applied() {
    let mut n = parse(
            "services:\n  web:\n    image: a\n    ports: !reset [80]\n    labels: !override {a: b}\n    dns:\n      - !reset 1.1.1.1\n      - 8.8.8.8\n",
            "a.yaml",
        );
    apply_reset_tags(&mut n);
    let want = parse(
        "services: {web: {image: a, labels: {a: b}, dns: [8.8.8.8]}}",
        "w.yaml",
    );
    assert_eq!(n, want);
    assert_eq!(n.locate("services.web.labels").tag, None);
}

#[test]
fn base_tags_are_applied_before_merging() {
    // `a.yaml` resets its own key: the value is gone before `b.yaml` adds to it.
    let got = merged(
        "services: {web: {ports: !reset ['1:1'], dns: [a]}}",
        "services: {web: {ports: ['2:2'], dns: [b]}}",
    );
    let want = parse("services: {web: {ports: ['2:2'], dns: [a, b]}}", "w.yaml");
    assert_eq!(got, want);
}

#[test]
fn multi_document_file_merges_in_order() {
    let n = parse(
            "services:\n  web:\n    image: a\n    ports: ['80:80']\n---\nservices:\n  web:\n    image: b\n    ports: ['80:80', '81:81']\n",
            "m.yaml",
        );
    let want = parse(
        "services: {web: {image: b, ports: ['80:80', '81:81']}}",
        "w.yaml",
    );
    assert_eq!(n, want);
    assert_eq!(n.locate("services.web.image").span.line, 8);
}

#[test]
fn enforce_unique_dedupes_a_single_file() {
    let mut n = parse(
            "services:\n  web:\n    ports: ['80:80', '8080:80', '80:80/tcp']\n    environment: [A=1, B=2, A=3]\n    volumes_from: [x, x]\n",
            "a.yaml",
        );
    enforce_unique(&mut n).unwrap();
    let want = parse(
            "services: {web: {ports: ['80:80/tcp', '8080:80'], environment: [A=3, B=2], volumes_from: [x, x]}}",
            "w.yaml",
        );
    assert_eq!(n, want);
    let mut bad = parse(
        "services:\n  web:\n    ports:\n      - {published: 80}\n",
        "a.yaml",
    );
    let err = enforce_unique(&mut bad).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a.yaml:4:9: services.web.ports[0]: port is missing a target port"
    );
}

#[test]
fn merge_service_uses_service_rules() {
    let base = parse("image: a\ncommand: [x, y]\nports: ['80:80']\n", "base.yaml");
    let over = parse("command: z\nports: ['80:80']\n", "over.yaml");
    let got = merge_service(base, over, "web").unwrap();
    let want = parse("image: a\ncommand: z\nports: ['80:80']\n", "w.yaml");
    assert_eq!(got, want);
}

#[test]
fn key_paths_split_like_errors_print_them() {
    assert_eq!(path_segments(""), Vec::<String>::new());
    assert_eq!(
        path_segments("services.web.ports[0]"),
        vec!["services", "web", "ports"]
    );
}
