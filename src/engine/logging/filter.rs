//! Which events are shown: `--log-level` wins over `COMPOSE_LOG`, which is a level or full
//! `tracing-subscriber` directives; neither means `warn`, so commands print what they always
//! printed.

/// The filter when neither `--log-level` nor `COMPOSE_LOG` is given.
pub const DEFAULT_FILTER: &str = "warn";

/// The levels `--log-level` takes, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Level {
    /// The directive that shows this level and above, from every crate.
    pub fn directive(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("invalid {var} `{value}` (expected a level, error|warn|info|debug|trace, or directives such as `compose::engine::network=debug`)")]
    Invalid {
        var: &'static str,
        value: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
}

/// The directives to run under: `flag` when given, else `env` (the value of `COMPOSE_LOG`, an
/// empty value counting as unset), else [`DEFAULT_FILTER`]. `env` is checked only when used.
pub fn resolve(flag: Option<Level>, env: Option<&str>) -> Result<String, FilterError> {
    if let Some(level) = flag {
        return Ok(level.directive().to_string());
    }
    match env.map(str::trim).filter(|v| !v.is_empty()) {
        Some(value) => {
            env_filter(value)?;
            Ok(value.to_string())
        }
        None => Ok(DEFAULT_FILTER.to_string()),
    }
}

/// `directives` when they are one level and nothing else (`debug`, not `compose=debug`).
pub(super) fn bare_level(directives: &str) -> Option<tracing_subscriber::filter::LevelFilter> {
    let d = directives.trim();
    if d.contains(['=', ',', '[']) {
        return None;
    }
    d.parse().ok()
}

/// `directives` as a filter; events no directive names are shown from `warn` up, so
/// `COMPOSE_LOG=compose::engine::network=debug` adds to the default rather than silencing the
/// rest.
pub(super) fn env_filter(directives: &str) -> Result<tracing_subscriber::EnvFilter, FilterError> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let has_level = directives
        .split(',')
        .any(|d| LEVELS.contains(&d.trim().to_ascii_lowercase().as_str()));
    let full = if has_level {
        directives.to_string()
    } else {
        format!("{DEFAULT_FILTER},{directives}")
    };
    tracing_subscriber::EnvFilter::builder()
        .parse(&full)
        .map_err(|source| FilterError::Invalid {
            var: super::LOG_ENV,
            value: directives.to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_over_the_variable() {
        let got = resolve(Some(Level::Debug), Some("compose=trace")).unwrap();
        assert_eq!(got, "debug");
    }

    #[test]
    fn the_flag_wins_even_over_a_bad_variable() {
        assert_eq!(
            resolve(Some(Level::Error), Some("=,=bogus[")).unwrap(),
            "error"
        );
    }

    #[test]
    fn the_variable_may_be_directives() {
        let got = resolve(None, Some(" compose::engine::network=debug ")).unwrap();
        assert_eq!(got, "compose::engine::network=debug");
    }

    #[test]
    fn nothing_or_empty_means_warn() {
        assert_eq!(resolve(None, None).unwrap(), "warn");
        assert_eq!(resolve(None, Some("  ")).unwrap(), "warn");
    }

    #[test]
    fn only_a_lone_level_is_bare() {
        use tracing_subscriber::filter::LevelFilter;
        assert_eq!(bare_level(" debug "), Some(LevelFilter::DEBUG));
        assert_eq!(bare_level("warn"), Some(LevelFilter::WARN));
        assert_eq!(bare_level("compose=debug"), None);
        assert_eq!(bare_level("warn,compose=debug"), None);
        assert_eq!(bare_level("compose"), None);
    }

    #[test]
    fn a_bad_variable_is_refused_with_its_name() {
        let err = resolve(None, Some("compose=loud")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("COMPOSE_LOG"), "{text}");
        assert!(text.contains("compose=loud"), "{text}");
    }

    #[test]
    fn a_target_directive_keeps_warnings_from_elsewhere() {
        use tracing_subscriber::layer::SubscriberExt;
        let filter = env_filter("compose::engine::network=debug").unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry()
            .with(filter)
            .with(Recorder(seen.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "compose::engine::network::ipam", "net debug");
            tracing::debug!(target: "compose::engine::image", "image debug");
            tracing::warn!(target: "compose::engine::image", "image warn");
        });
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            ["compose::engine::network::ipam", "compose::engine::image"]
        );
    }

    /// Records the target of every event that passes the filter.
    struct Recorder(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Recorder {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            if let Ok(mut seen) = self.0.lock() {
                seen.push(event.metadata().target().to_string());
            }
        }
    }
}
