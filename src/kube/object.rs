//! One Kubernetes object of the output, typed, and how objects are ordered and written.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::error::{KubeError, Result};

/// An object of the output. The variants' order is the order they are written in: what others
/// refer to (accounts, config, claims, Services) comes before the workloads that use it, as
/// `kubectl apply -f` of one file wants.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    ServiceAccount(ServiceAccount),
    Role(Role),
    RoleBinding(RoleBinding),
    ConfigMap(ConfigMap),
    Secret(Secret),
    PersistentVolumeClaim(PersistentVolumeClaim),
    Service(Service),
    Job(Job),
    Deployment(Deployment),
    StatefulSet(StatefulSet),
    DaemonSet(DaemonSet),
}

impl Object {
    /// The object's `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Object::ServiceAccount(_) => "ServiceAccount",
            Object::Role(_) => "Role",
            Object::RoleBinding(_) => "RoleBinding",
            Object::ConfigMap(_) => "ConfigMap",
            Object::Secret(_) => "Secret",
            Object::PersistentVolumeClaim(_) => "PersistentVolumeClaim",
            Object::Service(_) => "Service",
            Object::Job(_) => "Job",
            Object::Deployment(_) => "Deployment",
            Object::StatefulSet(_) => "StatefulSet",
            Object::DaemonSet(_) => "DaemonSet",
        }
    }

    /// Position of the kind in the output (see the enum).
    fn rank(&self) -> u8 {
        match self {
            Object::ServiceAccount(_) => 0,
            Object::Role(_) => 1,
            Object::RoleBinding(_) => 2,
            Object::ConfigMap(_) => 3,
            Object::Secret(_) => 4,
            Object::PersistentVolumeClaim(_) => 5,
            Object::Service(_) => 6,
            Object::Job(_) => 7,
            Object::Deployment(_) => 8,
            Object::StatefulSet(_) => 9,
            Object::DaemonSet(_) => 10,
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Object::ServiceAccount(o) => &o.metadata,
            Object::Role(o) => &o.metadata,
            Object::RoleBinding(o) => &o.metadata,
            Object::ConfigMap(o) => &o.metadata,
            Object::Secret(o) => &o.metadata,
            Object::PersistentVolumeClaim(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
            Object::Job(o) => &o.metadata,
            Object::Deployment(o) => &o.metadata,
            Object::StatefulSet(o) => &o.metadata,
            Object::DaemonSet(o) => &o.metadata,
        }
    }

    /// `metadata.name` (every object we make has one).
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// Whether this is a Secret (written to files only the owner can read).
    pub fn is_secret(&self) -> bool {
        matches!(self, Object::Secret(_))
    }

    /// The object as one YAML document (no `---`), keys in the API's field order, maps sorted,
    /// strings quoted wherever a YAML 1.1 reader could take them for something else.
    pub fn to_yaml(&self) -> Result<String> {
        super::yaml::to_string(&self.to_value()?).map_err(|source| self.yaml_error(source))
    }

    /// The object as a YAML value, fields in the API's order.
    pub fn to_value(&self) -> Result<serde_yaml_ng::Value> {
        let r = match self {
            Object::ServiceAccount(o) => serde_yaml_ng::to_value(o),
            Object::Role(o) => serde_yaml_ng::to_value(o),
            Object::RoleBinding(o) => serde_yaml_ng::to_value(o),
            Object::ConfigMap(o) => serde_yaml_ng::to_value(o),
            Object::Secret(o) => serde_yaml_ng::to_value(o),
            Object::PersistentVolumeClaim(o) => serde_yaml_ng::to_value(o),
            Object::Service(o) => serde_yaml_ng::to_value(o),
            Object::Job(o) => serde_yaml_ng::to_value(o),
            Object::Deployment(o) => serde_yaml_ng::to_value(o),
            Object::StatefulSet(o) => serde_yaml_ng::to_value(o),
            Object::DaemonSet(o) => serde_yaml_ng::to_value(o),
        };
        r.map_err(|source| self.yaml_error(source))
    }

    fn yaml_error(&self, source: serde_yaml_ng::Error) -> KubeError {
        KubeError::Yaml {
            kind: self.kind(),
            name: self.name().to_string(),
            source,
        }
    }
}

/// Sorts objects into output order (kind, then name) and refuses two of one kind with one name;
/// `origin` says what each object was made for, for the error.
pub fn sort_and_check(objects: &mut [(Object, String)]) -> Result<()> {
    objects.sort_by(|(a, _), (b, _)| (a.rank(), a.name()).cmp(&(b.rank(), b.name())));
    for pair in objects.windows(2) {
        let ((a, oa), (b, ob)) = (&pair[0], &pair[1]);
        if a.kind() == b.kind() && a.name() == b.name() {
            return Err(KubeError::NameClash {
                kind: a.kind(),
                name: a.name().to_string(),
                first: oa.clone(),
                second: ob.clone(),
            });
        }
    }
    Ok(())
}
