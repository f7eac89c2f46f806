//! `healthcheck`: how the engine probes a service, its `test` always in list form.

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize};

use crate::model::types::duration::Duration;
use crate::model::types::fields::{de_list_or_str, Extensions};
use crate::model::types::syntax::{is_false, ser_extensions};

/// `healthcheck`. `test` is always the list form: a string `"curl x"` becomes
/// `["CMD-SHELL", "curl x"]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HealthCheckConfig {
    #[serde(
        default,
        deserialize_with = "de_healthcheck_test",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub test: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable: bool,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// `healthcheck.test`: a string is `["CMD-SHELL", string]`.
fn de_healthcheck_test<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    de_list_or_str(d, "a command string or a list of strings", |v| {
        Ok(vec!["CMD-SHELL".to_string(), v.to_string()])
    })
}
