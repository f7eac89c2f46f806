//! The output formats, on hand-built translations. The Helm chart is checked without `helm`: a
//! small renderer of the only expressions the chart uses (value look-ups and the `{{` escape)
//! renders the templates with `values.yaml`, and the result must be the plain manifests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec,
};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, EnvVar, PodSpec, PodTemplateSpec, Secret, Service, ServicePort,
    ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::ByteString;
use serde_yaml_ng::Value;

use super::{files, stream, Format, OutputFile};
use crate::kube::{labels, Generated, Object};

const PROJECT: &str = "My Shop";

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        labels: Some(labels::standard(PROJECT, Some(name))),
        ..Default::default()
    }
}

fn selector(name: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels::selector(PROJECT, name)),
        ..Default::default()
    }
}

/// A pod whose main container is named after the workload, with a waiting init container and a
/// sidecar whose images must stay as they are.
fn pod(name: &str, image: &str) -> PodTemplateSpec {
    let container = |n: &str, image: &str| Container {
        name: n.to_string(),
        image: Some(image.to_string()),
        ..Default::default()
    };
    let mut main = container(name, image);
    // A value that looks like the chart's placeholders: it must come out unchanged.
    main.env = Some(vec![EnvVar {
        name: "TOKEN".to_string(),
        value: Some("compose-helm-value-0-end".to_string()),
        ..Default::default()
    }]);
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels::selector(PROJECT, name)),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            init_containers: Some(vec![container("wait-db", "busybox:1.36")]),
            containers: vec![container("log-shipper", "fluent-bit:3"), main],
            ..Default::default()
        }),
    }
}

fn generated() -> Generated {
    let mut config = BTreeMap::new();
    config.insert(
        "app_config".to_string(),
        "greeting: {{ .Values.greeting }}\nodd: {{{x}}}\n".to_string(),
    );
    let mut secret = BTreeMap::new();
    secret.insert("db_password".to_string(), ByteString(b"s3cret".to_vec()));
    let objects = vec![
        Object::ConfigMap(ConfigMap {
            metadata: meta("app-config"),
            data: Some(config),
            ..Default::default()
        }),
        Object::Secret(Secret {
            metadata: meta("db-password"),
            data: Some(secret),
            type_: Some("Opaque".to_string()),
            ..Default::default()
        }),
        Object::Service(Service {
            metadata: meta("web"),
            spec: Some(ServiceSpec {
                selector: Some(labels::selector(PROJECT, "web")),
                ports: Some(vec![ServicePort {
                    port: 80,
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }),
        Object::Job(Job {
            metadata: meta("migrate"),
            spec: Some(JobSpec {
                template: pod("migrate", "shop/migrate:1.0"),
                ..Default::default()
            }),
            ..Default::default()
        }),
        Object::Deployment(Deployment {
            metadata: meta("web"),
            spec: Some(DeploymentSpec {
                replicas: Some(3),
                selector: selector("web"),
                template: pod("web", "nginx:1.27"),
                ..Default::default()
            }),
            ..Default::default()
        }),
        Object::StatefulSet(StatefulSet {
            metadata: meta("db"),
            spec: Some(StatefulSetSpec {
                replicas: Some(1),
                service_name: Some("db".to_string()),
                selector: selector("db"),
                template: pod("db", "postgres:16"),
                ..Default::default()
            }),
            ..Default::default()
        }),
        Object::DaemonSet(DaemonSet {
            metadata: meta("agent"),
            spec: Some(DaemonSetSpec {
                selector: selector("agent"),
                template: pod("agent", "agent:latest"),
                ..Default::default()
            }),
            ..Default::default()
        }),
    ];
    Generated {
        project: PROJECT.to_string(),
        objects,
        warnings: Vec::new(),
    }
}

fn yaml(text: &str) -> Value {
    serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("invalid YAML ({e}):\n{text}"))
}

fn paths(files: &[OutputFile]) -> Vec<String> {
    files.iter().map(|f| f.path.display().to_string()).collect()
}

fn file<'a>(files: &'a [OutputFile], path: &str) -> &'a OutputFile {
    files
        .iter()
        .find(|f| f.path == Path::new(path))
        .unwrap_or_else(|| panic!("no {path} in {:?}", paths(files)))
}

const MANIFESTS: [&str; 7] = [
    "app-config-configmap.yaml",
    "db-password-secret.yaml",
    "web-service.yaml",
    "migrate-job.yaml",
    "web-deployment.yaml",
    "db-statefulset.yaml",
    "agent-daemonset.yaml",
];

#[test]
fn stream_holds_every_object_as_a_document_in_order() {
    let g = generated();
    let text = stream(&g).unwrap();
    assert!(text.starts_with("---\napiVersion: v1\nkind: ConfigMap\n"));
    let docs: Vec<&str> = text.split("---\n").skip(1).collect();
    assert_eq!(docs.len(), g.objects.len());
    for (doc, object) in docs.iter().zip(&g.objects) {
        assert_eq!(*doc, object.to_yaml().unwrap());
        let v = yaml(doc);
        assert_eq!(v["kind"].as_str(), Some(object.kind()));
        assert_eq!(v["metadata"]["name"].as_str(), Some(object.name()));
    }
    assert_eq!(stream(&g).unwrap(), text, "deterministic");
}

#[test]
fn manifests_are_one_file_per_object_with_secrets_private() {
    let g = generated();
    let out = files(&g, Format::Manifests).unwrap();
    assert_eq!(paths(&out), MANIFESTS);
    for (f, object) in out.iter().zip(&g.objects) {
        assert_eq!(f.content, object.to_yaml().unwrap());
        assert_eq!(f.private, object.kind() == "Secret", "{}", f.path.display());
    }
    assert_eq!(files(&g, Format::Manifests).unwrap(), out, "deterministic");
}

#[test]
fn kustomize_base_lists_every_manifest_sorted() {
    let g = generated();
    let out = files(&g, Format::Kustomize).unwrap();
    let mut want: Vec<String> = MANIFESTS.iter().map(|s| s.to_string()).collect();
    want.push("kustomization.yaml".to_string());
    assert_eq!(paths(&out), want);
    assert_eq!(
        &out[..MANIFESTS.len()],
        &files(&g, Format::Manifests).unwrap()[..]
    );
    let k = file(&out, "kustomization.yaml");
    assert!(!k.private);
    assert_eq!(
        k.content,
        "apiVersion: kustomize.config.k8s.io/v1beta1\n\
         kind: Kustomization\n\
         resources:\n\
         - agent-daemonset.yaml\n\
         - app-config-configmap.yaml\n\
         - db-password-secret.yaml\n\
         - db-statefulset.yaml\n\
         - migrate-job.yaml\n\
         - web-deployment.yaml\n\
         - web-service.yaml\n"
    );
}

/// Renders `template` as Helm would, for the expressions the chart uses:
/// `{{ index .Values.services "<workload>" "<field>" [| quote] }}` and the escape `{{ "{{" }}`.
fn render(template: &str, values: &Value) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = start
            + rest[start..]
                .find("}}")
                .unwrap_or_else(|| panic!("unclosed action in:\n{template}"));
        let action = rest[start + 2..end].trim();
        out.push_str(&evaluate(action, values));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

fn evaluate(action: &str, values: &Value) -> String {
    if action == "\"{{\"" {
        return "{{".to_string();
    }
    let (lookup, quote) = match action.split_once(" | ") {
        Some((l, "quote")) => (l, true),
        Some((_, f)) => panic!("unexpected function {f:?} in {action:?}"),
        None => (action, false),
    };
    let words: Vec<&str> = lookup.split_whitespace().collect();
    let ["index", ".Values.services", service, field] = words[..] else {
        panic!("unexpected action {action:?}");
    };
    let unquote = |s: &str| s.trim_matches('"').to_string();
    let v = &values["services"][unquote(service).as_str()][unquote(field).as_str()];
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("no value for {action:?}: {other:?}"),
    };
    if quote {
        format!("{text:?}")
    } else {
        text
    }
}

fn helm_paths() -> Vec<String> {
    let mut want = vec!["Chart.yaml".to_string(), "values.yaml".to_string()];
    want.extend(
        MANIFESTS
            .iter()
            .map(|m| PathBuf::from("templates").join(m).display().to_string()),
    );
    want
}

#[test]
fn helm_templates_with_default_values_render_to_the_manifests() {
    let g = generated();
    let out = files(&g, Format::Helm).unwrap();
    assert_eq!(paths(&out), helm_paths());
    let values = yaml(&file(&out, "values.yaml").content);
    for (object, name) in g.objects.iter().zip(MANIFESTS) {
        let t = file(&out, &format!("templates/{name}"));
        assert_eq!(t.private, object.is_secret(), "{name}");
        let rendered = render(&t.content, &values);
        assert_eq!(
            yaml(&rendered),
            yaml(&object.to_yaml().unwrap()),
            "{name} renders to its manifest:\n{rendered}"
        );
    }
    // The workloads' images and replicas are what the values set; the rest is plain text.
    let deployment = &file(&out, "templates/web-deployment.yaml").content;
    assert!(deployment.contains("image: {{ index .Values.services \"web\" \"image\" | quote }}"));
    assert!(deployment.contains("replicas: {{ index .Values.services \"web\" \"replicas\" }}"));
    let config = &file(&out, "templates/app-config-configmap.yaml").content;
    assert!(
        config.contains("{{ \"{{\" }} .Values.greeting }}"),
        "{config}"
    );
}

#[test]
fn helm_values_set_each_workloads_main_image_and_replicas() {
    let out = files(&generated(), Format::Helm).unwrap();
    let values = &file(&out, "values.yaml").content;
    assert!(values.starts_with("# "), "{values}");
    assert_eq!(
        yaml(values),
        yaml(
            "services:\n  \
               agent: {image: agent:latest}\n  \
               db: {image: postgres:16, replicas: 1}\n  \
               migrate: {image: shop/migrate:1.0}\n  \
               web: {image: nginx:1.27, replicas: 3}\n"
        )
    );
    let chart = yaml(&file(&out, "Chart.yaml").content);
    assert_eq!(chart["apiVersion"].as_str(), Some("v2"));
    assert_eq!(chart["name"].as_str(), Some("my-shop"));
    assert_eq!(chart["version"].as_str(), Some("0.1.0"));
    assert_eq!(chart["type"].as_str(), Some("application"));
}

#[test]
fn helm_values_given_at_install_reach_the_workloads_only_where_they_belong() {
    let out = files(&generated(), Format::Helm).unwrap();
    let values = yaml(
        "services:\n  \
           agent: {image: agent:latest}\n  \
           db: {image: postgres:16, replicas: 1}\n  \
           migrate: {image: shop/migrate:1.0}\n  \
           web: {image: registry.example/nginx:2, replicas: 7}\n",
    );
    let rendered = render(
        &file(&out, "templates/web-deployment.yaml").content,
        &values,
    );
    let d: Deployment = serde_yaml_ng::from_str(&rendered).unwrap();
    let spec = d.spec.unwrap();
    assert_eq!(spec.replicas, Some(7));
    let pod = spec.template.spec.unwrap();
    let images: Vec<(&str, Option<&str>)> = pod
        .containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
        .map(|c| (c.name.as_str(), c.image.as_deref()))
        .collect();
    assert_eq!(
        images,
        [
            ("log-shipper", Some("fluent-bit:3")),
            ("web", Some("registry.example/nginx:2")),
            ("wait-db", Some("busybox:1.36")),
        ]
    );
    let env = pod.containers[1].env.as_ref().unwrap();
    assert_eq!(env[0].value.as_deref(), Some("compose-helm-value-0-end"));
}
