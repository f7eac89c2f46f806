//! What cannot be carried over to Kubernetes, per service and key: printed by `kube generate`,
//! an error with `--strict`.

use std::fmt;

/// One thing the translation had to drop or change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Warning {
    /// The service it concerns; `None` for top-level keys (`volumes.data`, `networks.back`).
    pub service: Option<String>,
    /// The Compose key, as written in the file (`network_mode`, `volumes[2]`, `ulimits.nofile`).
    pub key: String,
    /// What happened, and what to do instead where there is something.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.service {
            Some(s) => write!(f, "service {s:?}: {}: {}", self.key, self.message),
            None => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

/// The warnings of one translation, in the order they were found; deduplicated and sorted when
/// the translation ends, so output is deterministic.
#[derive(Debug, Default)]
pub struct Warnings(Vec<Warning>);

impl Warnings {
    /// A warning about `key` of `service`.
    pub fn service(&mut self, service: &str, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Warning {
            service: Some(service.to_string()),
            key: key.into(),
            message: message.into(),
        });
    }

    /// A warning about a top-level `key` (`volumes.data`, `networks.back`).
    pub fn top(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Warning {
            service: None,
            key: key.into(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sorted and deduplicated.
    pub fn finish(mut self) -> Vec<Warning> {
        self.0.sort();
        self.0.dedup();
        self.0
    }

    /// The warnings so far, for tests.
    pub fn as_slice(&self) -> &[Warning] {
        &self.0
    }
}
