//! Writing a translation: plain manifests, a Helm chart, or a kustomize base.
//!
//! Pure like the rest of [`crate::kube`]: it turns a [`Generated`] into text ([`stream`]) or into
//! [`OutputFile`]s with paths relative to the output directory ([`files`]); the CLI writes them.
//! Every format holds the same objects, one file each, named so that `ls` groups an object's
//! files by name (`web-deployment.yaml`, `web-service.yaml`), and every output is deterministic:
//! objects come in [`Generated`]'s order, maps are sorted.

mod helm;
mod kustomize;

use std::path::PathBuf;

use super::error::{KubeError, Result};
use super::object::Object;
use super::Generated;

/// The output format (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Manifests,
    Helm,
    Kustomize,
}

/// One file of the output, its path relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    pub path: PathBuf,
    pub content: String,
    /// Holds a Secret: written readable by its owner only.
    pub private: bool,
}

/// The files of `generated` in `format`: one manifest per object, plus `kustomization.yaml`
/// (kustomize) or `Chart.yaml` and `values.yaml` with the manifests under `templates/` (Helm).
pub fn files(generated: &Generated, format: Format) -> Result<Vec<OutputFile>> {
    match format {
        Format::Manifests => manifests(generated),
        Format::Kustomize => kustomize::base(manifests(generated)?),
        Format::Helm => helm::chart(generated),
    }
}

/// All objects as one multi-document YAML stream (`-o -`, manifests only): each object a
/// document opened by `---`, as `kubectl apply -f -` reads them.
pub fn stream(generated: &Generated) -> Result<String> {
    let mut out = String::new();
    for object in &generated.objects {
        out.push_str("---\n");
        out.push_str(&object.to_yaml()?);
    }
    Ok(out)
}

/// One file per object, in the objects' order.
fn manifests(generated: &Generated) -> Result<Vec<OutputFile>> {
    generated
        .objects
        .iter()
        .map(|o| {
            Ok(OutputFile {
                path: PathBuf::from(file_name(o)),
                content: o.to_yaml()?,
                private: o.is_secret(),
            })
        })
        .collect()
}

/// `<name>-<kind>.yaml`. Names are unique within a kind and no kind has a `-`, so file names are
/// unique too.
fn file_name(object: &Object) -> String {
    format!(
        "{}-{}.yaml",
        object.name(),
        object.kind().to_ascii_lowercase()
    )
}

/// `value` as YAML, for the files that are not objects (`Chart.yaml`, `values.yaml`,
/// `kustomization.yaml`), named by `file` in the error.
fn yaml_of<T: serde::Serialize>(file: &str, value: &T) -> Result<String> {
    crate::kube::yaml::to_string(value).map_err(|source| KubeError::Yaml {
        kind: "file",
        name: file.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests;
