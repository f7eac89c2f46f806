//! `depends_on`: which services start first, and what each dependent waits for.

use std::fmt;

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize};

use super::de::de_list_or_map_of_opt;
use crate::model::types::fields::Extensions;
use crate::model::types::syntax::{default_true, is_false, ser_extensions};

/// What a dependent service waits for (`depends_on.<service>.condition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DependencyCondition {
    #[default]
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

impl DependencyCondition {
    pub fn as_str(self) -> &'static str {
        match self {
            DependencyCondition::ServiceStarted => "service_started",
            DependencyCondition::ServiceHealthy => "service_healthy",
            DependencyCondition::ServiceCompletedSuccessfully => "service_completed_successfully",
        }
    }
}

impl TryFrom<String> for DependencyCondition {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "service_started" => Ok(DependencyCondition::ServiceStarted),
            "service_healthy" => Ok(DependencyCondition::ServiceHealthy),
            "service_completed_successfully" => {
                Ok(DependencyCondition::ServiceCompletedSuccessfully)
            }
            _ => Err(format!(
                "invalid condition {s:?}: expected one of service_started, service_healthy, \
                 service_completed_successfully"
            )),
        }
    }
}

impl From<DependencyCondition> for String {
    fn from(c: DependencyCondition) -> String {
        c.as_str().to_string()
    }
}

impl fmt::Display for DependencyCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `depends_on` entry, always in long form (`condition` and `required` always printed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceDependency {
    #[serde(default)]
    pub condition: DependencyCondition,
    #[serde(default, skip_serializing_if = "is_false")]
    pub restart: bool,
    #[serde(default = "default_true")]
    pub required: bool,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

impl Default for ServiceDependency {
    /// What the short (list) syntax means: wait for the service to start; it is required.
    fn default() -> Self {
        ServiceDependency {
            condition: DependencyCondition::ServiceStarted,
            restart: false,
            required: true,
            extensions: Extensions::new(),
        }
    }
}

/// `depends_on`: a list of service names (each `service_started`, required) or a mapping.
pub(super) fn de_depends_on<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<IndexMap<String, ServiceDependency>, D::Error> {
    let m = de_list_or_map_of_opt::<D, ServiceDependency>(d)?;
    Ok(m.into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect())
}
