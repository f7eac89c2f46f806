//! `credential_spec` (Windows only; kept so `config` prints it).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::model::types::fields::Extensions;
use crate::model::types::syntax::{none_or_default, ser_extensions};

/// `credential_spec` (Windows).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CredentialSpecConfig {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub config: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub registry: Option<String>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}
