//! `logging`: the log driver and its options.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::model::types::fields::{de_options, Extensions};
use crate::model::types::syntax::{none_or_default, ser_extensions, ser_sorted};

/// `logging`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LoggingConfig {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub driver: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_options",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub options: IndexMap<String, String>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}
