//! A service's options on the project's top-level networks and models.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::model::types::fields::{de_options, Extensions};
use crate::model::types::syntax::{none_or_default, ser_extensions, ser_sorted};

/// A service's options on one network.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceNetworkConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(
        default,
        deserialize_with = "de_options",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub driver_opts: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub gw_priority: Option<i64>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub interface_name: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub ipv4_address: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub ipv6_address: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link_local_ips: Vec<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub mac_address: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub priority: Option<i64>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// A service's use of a top-level model.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceModelConfig {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub endpoint_var: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub model_var: Option<String>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}
