//! `develop`: the watch rules of `compose watch`.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::hooks::ServiceHook;
use crate::model::types::fields::{de_string_or_list, Extensions};
use crate::model::types::syntax::{is_false, none_or_default, ser_extensions};

/// `develop`: watch rules for `compose watch`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DevelopConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watch: Vec<WatchRule>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// What `compose watch` does when a watched path changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum WatchAction {
    Sync,
    Rebuild,
    Restart,
    SyncRestart,
    SyncExec,
}

impl WatchAction {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchAction::Sync => "sync",
            WatchAction::Rebuild => "rebuild",
            WatchAction::Restart => "restart",
            WatchAction::SyncRestart => "sync+restart",
            WatchAction::SyncExec => "sync+exec",
        }
    }
}

impl TryFrom<String> for WatchAction {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "sync" => Ok(WatchAction::Sync),
            "rebuild" => Ok(WatchAction::Rebuild),
            "restart" => Ok(WatchAction::Restart),
            "sync+restart" => Ok(WatchAction::SyncRestart),
            "sync+exec" => Ok(WatchAction::SyncExec),
            _ => Err(format!(
                "invalid watch action {s:?}: expected one of rebuild, sync, restart, \
                 sync+restart, sync+exec"
            )),
        }
    }
}

impl From<WatchAction> for String {
    fn from(a: WatchAction) -> String {
        a.as_str().to_string()
    }
}

/// One `develop.watch` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchRule {
    pub path: String,
    pub action: WatchAction,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ServiceHook>,
    #[serde(
        default,
        deserialize_with = "de_string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub include: Vec<String>,
    #[serde(
        default,
        deserialize_with = "de_string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ignore: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub initial_sync: bool,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}
