//! The per-service configuration hash (`config --hash`), which the reconciler records on each
//! container and compares to decide whether a container must be recreated.
//!
//! It covers what shapes the running container and nothing else: keys that only steer the tool
//! (`build`, `pull_policy`, `scale`/`deploy.replicas`, `depends_on`, `profiles`, `develop`) are left
//! out, so scaling or editing a build step never recreates a running container. Mapping keys are
//! sorted first: reordering `environment` in the file is not a change.

use sha2::{Digest, Sha256};

use super::types::service::ServiceConfig;

/// Keys left out of the hash (see the module docs).
const IGNORED: &[&str] = &[
    "build",
    "pull_policy",
    "scale",
    "depends_on",
    "profiles",
    "develop",
];

/// Hex SHA-256 of the service's canonical JSON.
pub fn service_hash(service: &ServiceConfig) -> String {
    let mut v = serde_json::to_value(service).unwrap_or(serde_json::Value::Null);
    if let Some(obj) = v.as_object_mut() {
        for k in IGNORED {
            obj.remove(*k);
        }
        if let Some(deploy) = obj.get_mut("deploy").and_then(|d| d.as_object_mut()) {
            deploy.remove("replicas");
        }
    }
    sort_keys(&mut v);
    let bytes = serde_json::to_vec(&v).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn sort_keys(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.sort_keys();
            for (_, child) in m.iter_mut() {
                sort_keys(child);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(sort_keys),
        _ => {}
    }
}
