//! Writing a translation: plain manifests, a Helm chart, or a kustomize base.
//!
//! SKELETON: the output helper fills this module (see /work/wt/briefs/kube-output.md).

use super::error::Result;
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
    pub path: std::path::PathBuf,
    pub content: String,
    /// Holds a Secret: written readable by its owner only.
    pub private: bool,
}

/// The files of `generated` in `format`.
pub fn files(generated: &Generated, format: Format) -> Result<Vec<OutputFile>> {
    let _ = (generated, format);
    unimplemented!("kube output files")
}

/// All objects as one multi-document YAML stream (`-o -`, manifests only).
pub fn stream(generated: &Generated) -> Result<String> {
    let _ = generated;
    unimplemented!("kube output stream")
}
