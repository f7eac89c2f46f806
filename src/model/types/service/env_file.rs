//! `env_file`: files of variables, each a path or `{path, required, format}`.

use serde::{Deserialize, Deserializer, Serialize};

use crate::model::types::fields::{de_list_or_str, Extensions};
use crate::model::types::syntax::{default_true, is_true, none_or_default, Short, ShortSyntax};

/// One `env_file` entry. A plain path is `{path, required: true}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvFile {
    pub path: String,
    /// Printed only when `false`, as Docker Compose does (an opt-out flag).
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub format: Option<String>,
}

/// `env_file`: a path, or a list of paths and `{path, required, format}` entries.
pub(super) fn de_env_files<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<EnvFile>, D::Error> {
    let expecting = "a path or a list of paths and {path, required, format} entries";
    let items = de_list_or_str(d, expecting, |v| {
        Ok(vec![Short(EnvFile::from_short(v.to_string())?)])
    })?;
    Ok(items.into_iter().map(|Short(e)| e).collect())
}

impl ShortSyntax for EnvFile {
    fn from_short(path: String) -> Result<Self, String> {
        Ok(EnvFile {
            path,
            required: true,
            format: None,
        })
    }
    fn extensions_mut(&mut self) -> Option<&mut Extensions> {
        None
    }
}
