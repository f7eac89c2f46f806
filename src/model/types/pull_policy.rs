//! Pull policies as the Compose file and the `--pull` / `--policy` flags write them: parsed in
//! the model so that a value nothing understands is refused when the file loads (it would
//! otherwise silently mean `missing`). What a policy leads to is the planner's
//! (`planner::pull_policy`).
use std::time::Duration;

use thiserror::Error;

/// One day, as `daily` means.
pub const DAY: Duration = Duration::from_secs(24 * 3600);

/// When a service's image is pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Every time.
    Always,
    /// When the image is not stored (the default; `if_not_present` is the same).
    Missing,
    /// Never: a missing image is an error.
    Never,
    /// The image is built, never pulled.
    Build,
    /// When missing, or when this reference was last pulled longer ago than this
    /// (`daily`, `weekly`, `every_<duration>`).
    Every(Duration),
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PullPolicyError {
    #[error("invalid pull_policy {0:?}: expected always, missing, never, build, daily, weekly or every_<duration> (e.g. every_12h)")]
    Service(String),
    #[error("invalid pull_policy {value:?}: {why}")]
    Interval { value: String, why: String },
    #[error("invalid --pull {0:?}: expected always, missing or never")]
    Flag(String),
    #[error("invalid --policy {0:?}: expected missing or always")]
    PullCommand(String),
}

impl PullPolicy {
    /// A service's `pull_policy` as the Compose file writes it.
    pub fn parse(value: &str) -> Result<PullPolicy, PullPolicyError> {
        Ok(match value {
            "always" => PullPolicy::Always,
            "missing" | "if_not_present" => PullPolicy::Missing,
            "never" => PullPolicy::Never,
            "build" => PullPolicy::Build,
            "daily" => PullPolicy::Every(DAY),
            "weekly" => PullPolicy::Every(7 * DAY),
            other => {
                let Some(interval) = other.strip_prefix("every_") else {
                    return Err(PullPolicyError::Service(other.to_string()));
                };
                // Compose's duration grammar (Go's, with `d` and `w`), as `every_12h` writes it.
                let d: super::duration::Duration =
                    interval
                        .parse()
                        .map_err(
                            |e: super::duration::DurationError| PullPolicyError::Interval {
                                value: other.to_string(),
                                why: e.to_string(),
                            },
                        )?;
                if d.as_std().is_zero() {
                    return Err(PullPolicyError::Interval {
                        value: other.to_string(),
                        why: "the interval must be longer than zero (use `always`)".to_string(),
                    });
                }
                PullPolicy::Every(d.as_std())
            }
        })
    }

    /// A service's policy: its `pull_policy`, `missing` when it has none.
    pub fn of_service(value: Option<&str>) -> Result<PullPolicy, PullPolicyError> {
        match value {
            None | Some("") => Ok(PullPolicy::Missing),
            Some(v) => PullPolicy::parse(v),
        }
    }

    /// `up`/`create`/`run --pull`: Docker Compose's values (`build` too, which it accepts).
    pub fn parse_flag(value: &str) -> Result<PullPolicy, PullPolicyError> {
        match value {
            "always" => Ok(PullPolicy::Always),
            "missing" | "if_not_present" => Ok(PullPolicy::Missing),
            "never" => Ok(PullPolicy::Never),
            "build" => Ok(PullPolicy::Build),
            other => Err(PullPolicyError::Flag(other.to_string())),
        }
    }

    /// `compose pull --policy`.
    pub fn parse_pull_command(value: &str) -> Result<PullPolicy, PullPolicyError> {
        match value {
            "always" => Ok(PullPolicy::Always),
            "missing" | "if_not_present" => Ok(PullPolicy::Missing),
            other => Err(PullPolicyError::PullCommand(other.to_string())),
        }
    }
}
