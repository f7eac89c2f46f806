//! Seccomp profiles in Docker's JSON format (`security_opt: ["seccomp=/path/profile.json"]`):
//! the rules, their conditions and when they apply.

use serde::Deserialize;

use super::error::SeccompError;

/// A seccomp profile in Docker's JSON format. Unknown fields (`architectures`, `archMap`,
/// `flags`, `listenerPath`, ...) are accepted and ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: String,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub syscalls: Vec<SyscallRule>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    #[serde(default)]
    pub names: Vec<String>,
    /// The old single-name form.
    #[serde(default)]
    pub name: Option<String>,
    pub action: String,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Vec<ArgCondition>,
    #[serde(default)]
    pub includes: RuleFilter,
    #[serde(default)]
    pub excludes: RuleFilter,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgCondition {
    pub index: u8,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    /// `SCMP_CMP_EQ`, `SCMP_CMP_NE`, `SCMP_CMP_LT`, `SCMP_CMP_LE`, `SCMP_CMP_GE`, `SCMP_CMP_GT`,
    /// `SCMP_CMP_MASKED_EQ` (argument & value == valueTwo).
    pub op: String,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleFilter {
    /// `CAP_SYS_ADMIN` etc.
    #[serde(default)]
    pub caps: Vec<String>,
    /// Docker's architecture names: `amd64`, `arm64`, `x86`, `x32`, `arm`, ...
    #[serde(default)]
    pub arches: Vec<String>,
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// Reads a profile file in Docker's JSON format.
pub fn load_profile(path: &std::path::Path) -> Result<Profile, SeccompError> {
    let text = std::fs::read_to_string(path).map_err(|source| SeccompError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_profile(&text, &path.display().to_string())
}

/// Parses a profile in Docker's JSON format; `origin` names it in errors.
pub fn parse_profile(text: &str, origin: &str) -> Result<Profile, SeccompError> {
    serde_json::from_str(text).map_err(|source| SeccompError::Parse {
        path: origin.to_string(),
        source,
    })
}
