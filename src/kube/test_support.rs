//! Test helpers shared by the translation's unit tests: a project parsed from YAML text and the
//! [`Context`] over it, as `kube generate` would build them (without reading any file).

use std::path::Path;

use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};

use super::context::{Contents, Context, Input};
use super::object::Object;
use super::warning::{Warning, Warnings};
use crate::model::de::from_node;
use crate::model::types::resources::Project;
use crate::model::yaml::parse_file_text;

/// The project name every fixture uses.
pub const PROJECT: &str = "demo";

/// A project and the contents read for it: what a [`Context`] borrows.
pub struct Fixture {
    pub project: Project,
    pub contents: Contents,
}

impl Fixture {
    /// The project of Compose text `yaml` (typed as the loader types it, not normalized).
    pub fn new(yaml: &str) -> Self {
        let tree = parse_file_text(yaml, Some(Path::new("compose.yaml"))).expect("valid YAML");
        Fixture {
            project: from_node(&tree).expect("valid project"),
            contents: Contents::default(),
        }
    }

    /// The translation's context over the fixture.
    pub fn ctx(&self) -> Context<'_> {
        Context::new(Input {
            name: PROJECT,
            project: &self.project,
            contents: &self.contents,
        })
        .expect("valid x-kubernetes sections")
    }
}

/// A pod template with no volumes.
pub fn pod() -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: None,
        spec: Some(PodSpec::default()),
    }
}

/// The warnings' keys, for `service` (`None`: top-level ones).
pub fn keys(warnings: &Warnings, service: Option<&str>) -> Vec<String> {
    warnings
        .as_slice()
        .iter()
        .filter(|w| w.service.as_deref() == service)
        .map(|w| w.key.clone())
        .collect()
}

/// The one warning about `key`.
pub fn warning<'a>(warnings: &'a Warnings, key: &str) -> &'a Warning {
    let found: Vec<&Warning> = warnings
        .as_slice()
        .iter()
        .filter(|w| w.key == key)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one warning about {key}: {:?}",
        warnings.as_slice()
    );
    found[0]
}

/// The objects as one YAML text (for assertions on shape).
pub fn yaml(objects: &[Object]) -> String {
    objects
        .iter()
        .map(|o| o.to_yaml().expect("serializable"))
        .collect::<Vec<_>>()
        .join("---\n")
}
