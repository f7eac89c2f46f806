//! Lifecycle hooks: commands run in the container (`post_start`, `pre_stop`) and ephemeral
//! containers run before the service starts (`pre_start`).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::shell::ShellCommand;
use crate::model::types::fields::{de_mapping_with_equals, Extensions};
use crate::model::types::syntax::{
    is_false, none_or_default, ser_extensions, ser_sorted, MappingWithEquals,
};

/// A `post_start` / `pre_stop` hook, or a watch rule's `exec`: a command run in the container.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceHook {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<ShellCommand>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub working_dir: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_mapping_with_equals",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub environment: MappingWithEquals,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// A `pre_start` step: an ephemeral container run to completion before the service starts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PreStartHook {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<ShellCommand>,
    /// Defaults to the service's image.
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub working_dir: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_mapping_with_equals",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub environment: MappingWithEquals,
    /// Run once per replica instead of once for the service.
    #[serde(default, skip_serializing_if = "is_false")]
    pub per_replica: bool,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}
