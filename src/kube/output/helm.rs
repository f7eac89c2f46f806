//! A Helm chart: `Chart.yaml`, `values.yaml` and the manifests as `templates/`.
//!
//! The templates are the plain manifests with two kinds of value taken from `values.yaml`: each
//! workload's main image and, where the workload has them, its replicas
//! (`services.<workload>.image`, `services.<workload>.replicas`; the key is the workload's name,
//! which is the Compose service's name made a DNS label). Nothing else is templated, so
//! `helm template` with the default values gives back the manifests, and no `helm` is needed to
//! check it: the expressions are plain `{{ index .Values.services "web" "image" }}` lookups.
//!
//! The expressions are not spliced into YAML text by searching for the image: the object is
//! serialized with a unique placeholder string at the field, and the placeholder, which appears
//! nowhere else, is replaced. Any `{{` already in the text (a config file's own templates) is
//! escaped so Helm writes it out as it is.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::PodSpec;
use serde::Serialize;
use serde_yaml_ng::Value;

use super::{file_name, yaml_of, OutputFile};
use crate::kube::error::{KubeError, Result};
use crate::kube::names;
use crate::kube::object::Object;
use crate::kube::Generated;

/// Where the templates go in the chart.
const TEMPLATES: &str = "templates";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Chart {
    api_version: &'static str,
    name: String,
    description: String,
    #[serde(rename = "type")]
    chart_type: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Values {
    services: BTreeMap<String, ServiceValues>,
}

/// What `values.yaml` sets for one workload.
#[derive(Serialize, Default)]
struct ServiceValues {
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replicas: Option<i32>,
}

/// The chart's files: `Chart.yaml`, `values.yaml`, then one template per object in the objects'
/// order.
pub(super) fn chart(generated: &Generated) -> Result<Vec<OutputFile>> {
    let mut values = BTreeMap::new();
    let mut templates = Vec::with_capacity(generated.objects.len());
    for object in &generated.objects {
        let content = match workload_values(object) {
            Some((pod, replicas)) => workload_template(object, pod, replicas, &mut values)?,
            None => escape(&object.to_yaml()?),
        };
        templates.push(OutputFile {
            path: PathBuf::from(TEMPLATES).join(file_name(object)),
            content,
            private: object.is_secret(),
        });
    }
    let chart = Chart {
        api_version: "v2",
        name: names::dns_label(&generated.project),
        description: format!(
            "The Compose project {:?} on Kubernetes (made by compose kube generate)",
            generated.project
        ),
        chart_type: "application",
        version: "0.1.0",
    };
    let mut files = vec![
        OutputFile {
            path: PathBuf::from("Chart.yaml"),
            content: yaml_of("Chart.yaml", &chart)?,
            private: false,
        },
        OutputFile {
            path: PathBuf::from("values.yaml"),
            content: format!(
                "# Per workload (the Compose service's name as a DNS label): the image of its main\n\
                 # container and, where the workload has them, its replicas.\n{}",
                yaml_of("values.yaml", &Values { services: values })?
            ),
            private: false,
        },
    ];
    files.extend(templates);
    Ok(files)
}

/// A workload's pod spec and replicas; `None` for objects that are not workloads.
fn workload_values(object: &Object) -> Option<(Option<&PodSpec>, Option<i32>)> {
    match object {
        Object::Deployment(d) => d
            .spec
            .as_ref()
            .map(|s| (s.template.spec.as_ref(), s.replicas)),
        Object::StatefulSet(s) => s
            .spec
            .as_ref()
            .map(|s| (s.template.spec.as_ref(), s.replicas)),
        Object::Job(j) => j.spec.as_ref().map(|s| (s.template.spec.as_ref(), None)),
        Object::DaemonSet(d) => d.spec.as_ref().map(|s| (s.template.spec.as_ref(), None)),
        _ => None,
    }
}

/// One step of a path into a YAML value.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The template of a workload whose main container (the one named after the workload) and
/// replicas come from `values`, which this fills with their current values.
fn workload_template(
    object: &Object,
    pod: Option<&PodSpec>,
    replicas: Option<i32>,
    values: &mut BTreeMap<String, ServiceValues>,
) -> Result<String> {
    let name = object.name();
    let text = object.to_yaml()?;
    let mut doc: Value = object.to_value()?;
    let mut entry = ServiceValues::default();
    let mut slots: Vec<(String, String)> = Vec::new();
    let mut next = 0;
    let mut placeholder = |doc: &mut Value, path: &[Step], field: &str, quote: bool| {
        let (token, after) = unused_token(&text, next);
        next = after;
        if let Some(slot) = at(doc, path) {
            *slot = Value::String(token.clone());
            let pipe = if quote { " | quote" } else { "" };
            slots.push((
                token,
                format!("{{{{ index .Values.services {name:?} {field:?}{pipe} }}}}"),
            ));
        }
    };
    let main = pod.and_then(|p| {
        p.containers
            .iter()
            .position(|c| c.name == name)
            .map(|i| (i, p.containers[i].image.clone()))
    });
    if let Some((index, Some(image))) = main {
        let path = [
            Step::Key("spec"),
            Step::Key("template"),
            Step::Key("spec"),
            Step::Key("containers"),
            Step::Index(index),
            Step::Key("image"),
        ];
        placeholder(&mut doc, &path, "image", true);
        entry.image = Some(image);
    }
    if let Some(n) = replicas {
        placeholder(
            &mut doc,
            &[Step::Key("spec"), Step::Key("replicas")],
            "replicas",
            false,
        );
        entry.replicas = Some(n);
    }
    let text = crate::kube::yaml::to_string(&doc).map_err(|source| KubeError::Yaml {
        kind: object.kind(),
        name: name.to_string(),
        source,
    })?;
    let mut text = escape(&text);
    for (token, expression) in slots {
        text = text.replace(&token, &expression);
    }
    if entry.image.is_some() || entry.replicas.is_some() {
        values.insert(name.to_string(), entry);
    }
    Ok(text)
}

/// The value at `path` in `doc`, when there is one.
fn at<'v>(doc: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    path.iter().try_fold(doc, |v, step| match step {
        Step::Key(k) => v.get_mut(*k),
        Step::Index(i) => v.get_mut(*i),
    })
}

/// The first placeholder from number `from` on that `text` does not contain (so replacing it
/// touches nothing else), and the number to look from for the next one. Placeholders are plain
/// YAML (written without quotes), free of `{{`, and none is part of another (the `-end`).
fn unused_token(text: &str, from: usize) -> (String, usize) {
    let mut i = from;
    loop {
        let token = format!("compose-helm-value-{i}-end");
        i += 1;
        if !text.contains(&token) {
            return (token, i);
        }
    }
}

/// `text` with every `{{` written as a template action that prints `{{`, so Helm leaves the
/// text as it is.
fn escape(text: &str) -> String {
    text.replace("{{", "{{ \"{{\" }}")
}
