//! The `x-kubernetes` sections: what a Compose file says only for Kubernetes. Compose itself
//! ignores `x-` keys, so the same file still runs with `compose up`. Unknown keys are errors
//! (a misspelt key would otherwise be silently ignored).
//!
//! ```yaml
//! x-kubernetes:              # top level: defaults for the whole project
//!   host_path: false         # bind mounts become hostPath volumes (else a warning)
//! services:
//!   web:
//!     x-kubernetes:
//!       kind: deployment     # deployment | statefulset | job | daemonset (else chosen)
//!       service_type: LoadBalancer   # ClusterIP (default) | NodePort | LoadBalancer
//!       service_annotations: {cloud.example.com/lb: internal}
//!       host_path: true      # this service's bind mounts become hostPath volumes
//!       image_pull_policy: IfNotPresent  # else from pull_policy
//!       gpu_resource: amd.com/gpu        # else from the device request's driver
//! volumes:
//!   data:
//!     x-kubernetes:
//!       size: 10Gi           # else driver_opts.size, else 1Gi
//!       storage_class: fast  # else driver_opts.storage_class, else the cluster's default
//!       access_modes: [ReadWriteOnce]
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use super::error::{KubeError, Result};
use crate::model::types::fields::Extensions;

/// The key, in every section that has one.
pub const KEY: &str = "x-kubernetes";

/// Top-level `x-kubernetes`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectExt {
    #[serde(default)]
    pub host_path: bool,
}

/// The workload kind a service asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KindChoice {
    Deployment,
    StatefulSet,
    Job,
    DaemonSet,
}

/// The Service type a service asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
        }
    }
}

/// `services.<name>.x-kubernetes`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceExt {
    #[serde(default)]
    pub kind: Option<KindChoice>,
    #[serde(default)]
    pub service_type: ServiceType,
    #[serde(default)]
    pub service_annotations: BTreeMap<String, String>,
    /// `None`: the project's `host_path`.
    #[serde(default)]
    pub host_path: Option<bool>,
    #[serde(default)]
    pub image_pull_policy: Option<PullPolicy>,
    #[serde(default)]
    pub gpu_resource: Option<String>,
}

/// `imagePullPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl PullPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }
}

/// `volumes.<name>.x-kubernetes`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeExt {
    #[serde(default)]
    pub size: Option<String>,
    #[serde(default)]
    pub storage_class: Option<String>,
    #[serde(default)]
    pub access_modes: Vec<AccessMode>,
}

/// A claim's access mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum AccessMode {
    ReadWriteOnce,
    ReadOnlyMany,
    ReadWriteMany,
    ReadWriteOncePod,
}

impl AccessMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessMode::ReadWriteOnce => "ReadWriteOnce",
            AccessMode::ReadOnlyMany => "ReadOnlyMany",
            AccessMode::ReadWriteMany => "ReadWriteMany",
            AccessMode::ReadWriteOncePod => "ReadWriteOncePod",
        }
    }
}

/// Reads the `x-kubernetes` key of `extensions` (at `path`, for errors) as `T`; absent is
/// `T::default()`.
pub fn read<T: Default + for<'de> Deserialize<'de>>(
    extensions: &Extensions,
    path: &str,
) -> Result<T> {
    match extensions.get(KEY) {
        None | Some(serde_yaml_ng::Value::Null) => Ok(T::default()),
        Some(v) => serde_yaml_ng::from_value(v.clone()).map_err(|e| KubeError::Extension {
            path: format!("{path}.{KEY}"),
            message: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(yaml: &str) -> Extensions {
        let mut e = Extensions::new();
        e.insert(
            KEY.to_string(),
            serde_yaml_ng::from_str(yaml).expect("yaml"),
        );
        e
    }

    #[test]
    fn sections_are_read_and_typos_refused() {
        let s: ServiceExt = read(
            &ext("{kind: statefulset, service_type: NodePort}"),
            "services.web",
        )
        .unwrap();
        assert_eq!(s.kind, Some(KindChoice::StatefulSet));
        assert_eq!(s.service_type, ServiceType::NodePort);
        let err = read::<ServiceExt>(&ext("{kinds: job}"), "services.web").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("services.web.x-kubernetes: unknown field `kinds`"),
            "{msg}"
        );
        let err = read::<VolumeExt>(&ext("{access_modes: [RWO]}"), "volumes.data").unwrap_err();
        assert!(
            err.to_string().contains("volumes.data.x-kubernetes"),
            "{err}"
        );
        let none: VolumeExt = read(&Extensions::new(), "volumes.data").unwrap();
        assert_eq!(none, VolumeExt::default());
    }
}
