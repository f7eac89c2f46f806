//! Why a project cannot be turned into Kubernetes objects.

use super::warning::Warning;

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// An `x-kubernetes` section that does not say what we can read.
    #[error("{path}: {message}")]
    Extension { path: String, message: String },
    /// A value Kubernetes cannot hold (a name, a quantity), named by its key path.
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    /// Two objects of one kind would get the same name.
    #[error(
        "{kind} {name:?} would be made twice: for {first} and for {second}; rename one of them"
    )]
    NameClash {
        kind: &'static str,
        name: String,
        first: String,
        second: String,
    },
    /// `--strict`: what cannot be carried over is an error.
    #[error("{} thing(s) cannot be carried over to Kubernetes (--strict):\n{}", .0.len(), list(.0))]
    Strict(Vec<Warning>),
    /// An object could not be written as YAML.
    #[error("cannot write {kind} {name:?} as YAML: {source}")]
    Yaml {
        kind: &'static str,
        name: String,
        #[source]
        source: serde_yaml_ng::Error,
    },
}

fn list(warnings: &[Warning]) -> String {
    warnings
        .iter()
        .map(|w| format!("  {w}"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub type Result<T> = std::result::Result<T, KubeError>;
