//! End-to-end tests of `compose kube generate`: the real binary, without root, on small projects.
//! What each object holds is tested with the translation (tests/kube.rs and the unit tests);
//! these check the command: what goes to stdout, stderr and which files, exit codes, service
//! selection and profiles, determinism.

mod support {
    #[path = "cli.rs"]
    pub mod cli;
}

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde::Deserialize;
use serde_yaml_ng::Value;
use support::cli::Project;

/// web (published port, a secret, an env file) depends on api, which depends on db (a named
/// volume); debug is in an inactive profile.
const STACK: &str = "services:
  web:
    image: nginx:1.27
    ports: ['8080:80']
    env_file: web.env
    secrets: [db_password]
    depends_on: [api]
  api:
    image: shop/api:1.0
    expose: ['9000']
    depends_on:
      db: {condition: service_healthy}
  db:
    image: postgres:16
    volumes: [data:/var/lib/postgresql/data]
    healthcheck:
      test: [CMD, pg_isready]
  debug:
    image: busybox
    profiles: [debug]
volumes:
  data: {}
secrets:
  db_password:
    file: ./db_password.txt
";

fn stack() -> Project {
    let p = Project::with_compose(STACK);
    p.write("web.env", "MODE=production\n");
    p.write("db_password.txt", "s3cret\n");
    p
}

/// The documents of a YAML stream.
#[track_caller]
fn documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("invalid YAML ({e}):\n{text}")))
        .collect()
}

/// `(kind, name)` of each document.
fn objects(docs: &[Value]) -> Vec<(String, String)> {
    docs.iter()
        .map(|d| {
            let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (s(&d["kind"]), s(&d["metadata"]["name"]))
        })
        .collect()
}

fn has(objects: &[(String, String)], kind: &str, name: &str) -> bool {
    objects.iter().any(|(k, n)| k == kind && n == name)
}

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).expect("read dir") {
            let path = e.expect("dir entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("under root");
                out.push(rel.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The manifests' file name of an object.
fn file_of(kind: &str, name: &str) -> String {
    format!("{name}-{}.yaml", kind.to_ascii_lowercase())
}

#[test]
fn stdout_is_a_stream_of_the_enabled_services_objects() {
    let p = stack();
    let out = p.compose(&["kube", "generate"]);
    let docs = documents(out.ok_with_warnings());
    let objs = objects(&docs);
    for (kind, name) in [
        ("Deployment", "web"),
        ("Service", "web"),
        ("Deployment", "api"),
        ("Service", "api"),
        ("Service", "db"),
        ("PersistentVolumeClaim", "data"),
        ("Secret", "db-password"),
        ("ConfigMap", "web-env"),
    ] {
        assert!(has(&objs, kind, name), "no {kind} {name} in {objs:?}");
    }
    assert!(
        has(&objs, "Deployment", "db") || has(&objs, "StatefulSet", "db"),
        "{objs:?}"
    );
    assert!(
        !objs.iter().any(|(_, n)| n == "debug"),
        "inactive profile: {objs:?}"
    );
    for d in &docs {
        assert_eq!(
            d["metadata"]["labels"]["app.kubernetes.io/part-of"].as_str(),
            Some("app"),
            "{d:?}"
        );
        assert_eq!(
            d["metadata"]["labels"]["app.kubernetes.io/managed-by"].as_str(),
            Some("compose"),
            "{d:?}"
        );
    }
    let with_profile = p.compose(&["--profile", "debug", "kube", "generate"]);
    let objs = objects(&documents(with_profile.ok_with_warnings()));
    assert!(has(&objs, "Deployment", "debug"), "{objs:?}");
}

#[test]
fn named_services_come_with_what_they_depend_on_only() {
    let p = stack();
    let out = p.compose(&["kube", "generate", "api"]);
    let objs = objects(&documents(out.ok_with_warnings()));
    assert!(has(&objs, "Deployment", "api"), "{objs:?}");
    assert!(objs.iter().any(|(_, n)| n == "db"), "{objs:?}");
    assert!(!objs.iter().any(|(_, n)| n == "web"), "{objs:?}");
    assert!(
        !has(&objs, "Secret", "db-password"),
        "web's secret: {objs:?}"
    );
    let err = p
        .compose(&["kube", "generate", "nope"])
        .fails(1)
        .to_string();
    assert!(err.contains("no such service: nope"), "{err}");
}

#[test]
fn output_dir_gets_one_manifest_per_object_and_secrets_stay_private() {
    let p = stack();
    let streamed = p.compose(&["kube", "generate"]);
    let docs = documents(streamed.ok_with_warnings());
    let out = p.compose(&["kube", "generate", "-o", "out/k8s"]);
    assert_eq!(out.ok_with_warnings(), "", "nothing on stdout with -o DIR");
    let dir = p.dir.join("out/k8s");
    let mut want: Vec<String> = objects(&docs).iter().map(|(k, n)| file_of(k, n)).collect();
    want.sort();
    assert_eq!(tree(&dir), want);
    for (doc, (kind, name)) in docs.iter().zip(objects(&docs)) {
        let path = dir.join(file_of(&kind, &name));
        let file = documents(&read(&path));
        assert_eq!(file, std::slice::from_ref(doc), "{}", path.display());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        if kind == "Secret" {
            assert_eq!(mode, 0o600, "{}", path.display());
        } else {
            assert_eq!(mode & 0o022, 0, "{}: {mode:o}", path.display());
        }
    }
}

#[test]
fn helm_chart_templates_every_manifest() {
    let p = stack();
    let manifests = p.compose(&["kube", "generate", "-o", "plain"]);
    manifests.ok_with_warnings();
    let out = p.compose(&["kube", "generate", "--format", "helm", "-o", "chart"]);
    assert_eq!(out.ok_with_warnings(), "");
    let chart = p.dir.join("chart");
    let mut want = vec!["Chart.yaml".to_string(), "values.yaml".to_string()];
    want.extend(
        tree(&p.dir.join("plain"))
            .into_iter()
            .map(|f| format!("templates/{f}")),
    );
    want.sort();
    assert_eq!(tree(&chart), want);
    let meta = documents(&read(&chart.join("Chart.yaml")));
    assert_eq!(meta[0]["apiVersion"].as_str(), Some("v2"));
    assert_eq!(meta[0]["name"].as_str(), Some("app"));
    let values = documents(&read(&chart.join("values.yaml")));
    assert_eq!(
        values[0]["services"]["web"]["image"].as_str(),
        Some("nginx:1.27")
    );
    let web = read(&chart.join("templates/web-deployment.yaml"));
    assert!(
        web.contains("{{ index .Values.services \"web\" \"image\" | quote }}"),
        "{web}"
    );
    let secret = chart.join("templates/db-password-secret.yaml");
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn kustomize_base_lists_every_manifest() {
    let p = stack();
    let out = p.compose(&["kube", "generate", "--format", "kustomize", "-o", "base"]);
    assert_eq!(out.ok_with_warnings(), "");
    let dir = p.dir.join("base");
    let files = tree(&dir);
    assert!(
        files.contains(&"kustomization.yaml".to_string()),
        "{files:?}"
    );
    let k = documents(&read(&dir.join("kustomization.yaml")));
    assert_eq!(
        k[0]["apiVersion"].as_str(),
        Some("kustomize.config.k8s.io/v1beta1")
    );
    assert_eq!(k[0]["kind"].as_str(), Some("Kustomization"));
    let listed: Vec<String> = k[0]["resources"]
        .as_sequence()
        .expect("resources")
        .iter()
        .map(|r| r.as_str().unwrap_or_default().to_string())
        .collect();
    let manifests: Vec<String> = files
        .into_iter()
        .filter(|f| f != "kustomization.yaml")
        .collect();
    assert_eq!(listed, manifests);
}

#[test]
fn chart_and_base_need_a_directory() {
    let p = stack();
    for format in ["helm", "kustomize"] {
        let err = p
            .compose(&["kube", "generate", "--format", format])
            .fails(1)
            .to_string();
        assert!(err.contains(&format!("--format {format}")), "{err}");
        assert!(err.contains("-o DIR"), "{err}");
    }
}

#[test]
fn what_cannot_be_carried_over_is_a_warning_or_with_strict_an_error() {
    let p = Project::with_compose("services:\n  web:\n    image: nginx\n    network_mode: host\n");
    let out = p.compose(&["kube", "generate"]);
    let objs = objects(&documents(out.ok_with_warnings()));
    assert!(has(&objs, "Deployment", "web"), "{objs:?}");
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("WARN[0000] service \"web\": network_mode: ")),
        "{}",
        out.stderr
    );
    let strict = p.compose(&["kube", "generate", "--strict"]);
    let err = strict.fails(1);
    assert!(err.contains("(--strict)"), "{err}");
    assert!(err.contains("service \"web\": network_mode: "), "{err}");
    let p = Project::with_compose("services:\n  web:\n    image: nginx\n    ports: ['80']\n");
    let clean = p.compose(&["kube", "generate", "--strict"]);
    assert!(clean.ok().starts_with("---\n"));
}

#[test]
fn unreadable_x_kubernetes_and_invalid_files_exit_15() {
    let p = Project::with_compose(
        "services:\n  web:\n    image: nginx\n    x-kubernetes:\n      kinds: job\n",
    );
    let err = p.compose(&["kube", "generate"]).fails(15).to_string();
    assert!(
        err.contains("services.web.x-kubernetes") && err.contains("kinds"),
        "{err}"
    );
    let p = Project::with_compose("services:\n  web:\n    imagee: nginx\n");
    let err = p.compose(&["kube", "generate"]).load_error().to_string();
    assert!(err.contains("services.web.imagee"), "{err}");
    let empty = Project::new("empty");
    empty.compose(&["kube", "generate"]).fails(14);
}

#[test]
fn two_runs_give_byte_identical_output() {
    let p = stack();
    let first = p.compose(&["kube", "generate"]);
    let second = p.compose(&["kube", "generate"]);
    assert_eq!(first.ok_with_warnings(), second.ok_with_warnings());
    assert_eq!(first.stderr, second.stderr);
    for format in ["manifests", "helm", "kustomize"] {
        let dirs = ["one", "two"].map(|d| format!("{format}-{d}"));
        for d in &dirs {
            p.compose(&["kube", "generate", "--format", format, "-o", d])
                .ok_with_warnings();
        }
        let [a, b] = dirs.map(|d| p.dir.join(d));
        assert_eq!(tree(&a), tree(&b));
        for f in tree(&a) {
            assert_eq!(read(&a.join(&f)), read(&b.join(&f)), "{format}: {f}");
        }
    }
}
