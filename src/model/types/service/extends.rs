//! `extends`: the service this one is based on.

use serde::{Deserialize, Serialize};

use crate::model::types::fields::Extensions;
use crate::model::types::syntax::{none_or_default, ShortSyntax};

/// `extends`: a service name, or `{service, file}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ExtendsConfig {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub file: Option<String>,
    pub service: String,
}

impl ShortSyntax for ExtendsConfig {
    fn from_short(service: String) -> Result<Self, String> {
        Ok(ExtendsConfig {
            file: None,
            service,
        })
    }
    fn extensions_mut(&mut self) -> Option<&mut Extensions> {
        None
    }
}
