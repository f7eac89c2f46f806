//! A kustomize base: the manifests and a `kustomization.yaml` listing them, so overlays can patch
//! images, replicas or anything else without touching the generated files.

use std::path::PathBuf;

use serde::Serialize;

use super::{yaml_of, OutputFile};
use crate::kube::error::Result;

/// The file kustomize reads.
const KUSTOMIZATION: &str = "kustomization.yaml";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Kustomization {
    api_version: &'static str,
    kind: &'static str,
    /// Sorted, so the file does not change when objects are made in another order.
    resources: Vec<String>,
}

/// `manifests` and the `kustomization.yaml` naming them. No `labels` or `namePrefix`: the objects
/// carry their labels already, and names must stay what the Compose services call each other.
pub(super) fn base(mut manifests: Vec<OutputFile>) -> Result<Vec<OutputFile>> {
    let mut resources: Vec<String> = manifests
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    resources.sort();
    let kustomization = Kustomization {
        api_version: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources,
    };
    manifests.push(OutputFile {
        path: PathBuf::from(KUSTOMIZATION),
        content: yaml_of(KUSTOMIZATION, &kustomization)?,
        private: false,
    });
    Ok(manifests)
}
