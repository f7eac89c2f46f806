//! Pull policies: a service's `pull_policy`, the `--pull` flag of `up`/`create`/`run` and
//! `compose pull --policy`, and the decision they lead to for one service.
//!
//! Pure (the caller says whether the image is stored and when its reference was last pulled,
//! and what time it is), so every rule is unit-tested here. The rules are Docker Compose's:
//! `--pull` replaces every service's policy; `compose pull` skips `never` and `build`, and
//! `missing` when the image is there; `up` pulls `always`, a missing image under `missing`, and
//! under `daily`/`weekly`/`every_<d>` an image missing or last pulled longer ago than that.
use std::time::SystemTime;

pub use crate::model::types::pull_policy::{PullPolicy, PullPolicyError};

/// What the image facts are for one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageFacts {
    /// The reference resolves in the store.
    pub stored: bool,
    /// When this reference was last pulled, if ever.
    pub last_pulled: Option<SystemTime>,
}

/// What `up`, `create` and `run` do about one service's image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Pull it (before anything is created).
    Pull,
    /// Run the stored image.
    UseStored,
    /// Nothing can run: the message says why (the caller adds service and image).
    Fail(String),
}

/// `up`/`create`/`run`: `flag` (`--pull`) replaces the service's policy, as Docker Compose does.
pub fn decide(
    service_policy: PullPolicy,
    flag: Option<PullPolicy>,
    facts: ImageFacts,
    now: SystemTime,
) -> Decision {
    match flag.unwrap_or(service_policy) {
        PullPolicy::Always => Decision::Pull,
        PullPolicy::Missing if facts.stored => Decision::UseStored,
        PullPolicy::Missing => Decision::Pull,
        PullPolicy::Never if facts.stored => Decision::UseStored,
        PullPolicy::Never => Decision::Fail("not found and pull_policy is never".to_string()),
        // `build` never pulls: a stored image is used here, and the stack builds the service
        // (a missing image of a service without `build:` is this error).
        PullPolicy::Build if facts.stored => Decision::UseStored,
        PullPolicy::Build => Decision::Fail(
            "not found and pull_policy is build: it is built, never pulled".to_string(),
        ),
        PullPolicy::Every(_) if !facts.stored => Decision::Pull,
        PullPolicy::Every(interval) => match facts.last_pulled {
            // Loaded by hand, never pulled: refreshed now, so that the interval starts.
            None => Decision::Pull,
            Some(at) => match now.duration_since(at) {
                Ok(age) if age < interval => Decision::UseStored,
                Ok(_) => Decision::Pull,
                // Pulled "in the future" (the clock went back): not stale.
                Err(_) => Decision::UseStored,
            },
        },
    }
}

/// What `compose pull` does about one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullCommandDecision {
    Pull,
    /// Skipped; the text says why, as Docker Compose shows it.
    Skip(&'static str),
}

/// `compose pull`: `policy` (`--policy`) replaces the service's (`None`: the service sets
/// none). As Docker Compose: `never` and `build` are skipped, `missing` is skipped when the
/// image is stored, anything else is pulled (no policy, and `daily` and the like: an explicit
/// `pull` refreshes).
pub fn decide_pull_command(
    service_policy: Option<PullPolicy>,
    policy: Option<PullPolicy>,
    stored: bool,
) -> PullCommandDecision {
    let Some(policy) = policy.or(service_policy) else {
        return PullCommandDecision::Pull;
    };
    match policy {
        PullPolicy::Never | PullPolicy::Build => PullCommandDecision::Skip("Skipped"),
        PullPolicy::Missing if stored => {
            PullCommandDecision::Skip("Skipped - Image is already present locally")
        }
        _ => PullCommandDecision::Pull,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::types::pull_policy::DAY;
    use std::time::Duration;

    const HOUR: Duration = Duration::from_secs(3600);

    fn facts(stored: bool, pulled_ago: Option<Duration>, now: SystemTime) -> ImageFacts {
        ImageFacts {
            stored,
            last_pulled: pulled_ago.map(|a| now - a),
        }
    }

    #[test]
    fn service_policies_parse_as_the_compose_spec_writes_them() {
        for (text, want) in [
            ("always", PullPolicy::Always),
            ("missing", PullPolicy::Missing),
            ("if_not_present", PullPolicy::Missing),
            ("never", PullPolicy::Never),
            ("build", PullPolicy::Build),
            ("daily", PullPolicy::Every(24 * HOUR)),
            ("weekly", PullPolicy::Every(7 * 24 * HOUR)),
            ("every_12h", PullPolicy::Every(12 * HOUR)),
            ("every_30m", PullPolicy::Every(Duration::from_secs(1800))),
            (
                "every_1h30m",
                PullPolicy::Every(HOUR + Duration::from_secs(1800)),
            ),
            ("every_2d", PullPolicy::Every(48 * HOUR)),
        ] {
            assert_eq!(PullPolicy::parse(text), Ok(want), "{text}");
        }
        assert_eq!(PullPolicy::of_service(None), Ok(PullPolicy::Missing));
    }

    #[test]
    fn bad_service_policies_say_what_is_expected() {
        let e = PullPolicy::parse("sometimes").unwrap_err().to_string();
        assert!(
            e.contains("\"sometimes\"") && e.contains("every_<duration>"),
            "{e}"
        );
        for bad in [
            "every_",
            "every_12",
            "every_12x",
            "every_-1h",
            "every_0s",
            "Always",
        ] {
            assert!(PullPolicy::parse(bad).is_err(), "{bad}");
        }
        let e = PullPolicy::parse("every_12x").unwrap_err().to_string();
        assert!(e.contains("every_12x") && e.contains("unit"), "{e}");
    }

    #[test]
    fn flags_accept_docker_compose_values_only() {
        assert_eq!(PullPolicy::parse_flag("always"), Ok(PullPolicy::Always));
        assert_eq!(PullPolicy::parse_flag("missing"), Ok(PullPolicy::Missing));
        assert_eq!(PullPolicy::parse_flag("never"), Ok(PullPolicy::Never));
        assert!(PullPolicy::parse_flag("daily").is_err());
        assert_eq!(
            PullPolicy::parse_pull_command("missing"),
            Ok(PullPolicy::Missing)
        );
        assert_eq!(
            PullPolicy::parse_pull_command("always"),
            Ok(PullPolicy::Always)
        );
        let e = PullPolicy::parse_pull_command("never").unwrap_err();
        assert!(e.to_string().contains("--policy"), "{e}");
    }

    #[test]
    fn up_decides_from_policy_and_store() {
        let now = SystemTime::now();
        let stored = facts(true, None, now);
        let absent = facts(false, None, now);
        assert_eq!(
            decide(PullPolicy::Always, None, stored, now),
            Decision::Pull
        );
        assert_eq!(
            decide(PullPolicy::Missing, None, stored, now),
            Decision::UseStored
        );
        assert_eq!(
            decide(PullPolicy::Missing, None, absent, now),
            Decision::Pull
        );
        assert_eq!(
            decide(PullPolicy::Never, None, stored, now),
            Decision::UseStored
        );
        match decide(PullPolicy::Never, None, absent, now) {
            Decision::Fail(m) => assert!(m.contains("pull_policy is never"), "{m}"),
            d => panic!("{d:?}"),
        }
        match decide(PullPolicy::Build, None, absent, now) {
            Decision::Fail(m) => assert!(m.contains("it is built, never pulled")),
            d => panic!("{d:?}"),
        }
        assert_eq!(
            decide(PullPolicy::Build, None, stored, now),
            Decision::UseStored
        );
    }

    /// Docker Compose: `--pull` replaces every service's `pull_policy`.
    #[test]
    fn the_pull_flag_overrides_the_service_policy_as_docker_compose() {
        let now = SystemTime::now();
        let stored = facts(true, None, now);
        let absent = facts(false, None, now);
        assert_eq!(
            decide(PullPolicy::Missing, Some(PullPolicy::Always), stored, now),
            Decision::Pull
        );
        assert_eq!(
            decide(PullPolicy::Always, Some(PullPolicy::Never), stored, now),
            Decision::UseStored
        );
        assert!(matches!(
            decide(PullPolicy::Always, Some(PullPolicy::Never), absent, now),
            Decision::Fail(_)
        ));
        assert_eq!(
            decide(PullPolicy::Never, Some(PullPolicy::Missing), absent, now),
            Decision::Pull
        );
    }

    #[test]
    fn refresh_policies_pull_when_older_than_their_interval() {
        let now = SystemTime::now();
        let daily = PullPolicy::Every(24 * HOUR);
        assert_eq!(
            decide(daily, None, facts(true, Some(23 * HOUR), now), now),
            Decision::UseStored
        );
        assert_eq!(
            decide(daily, None, facts(true, Some(25 * HOUR), now), now),
            Decision::Pull
        );
        assert_eq!(
            decide(daily, None, facts(false, Some(HOUR), now), now),
            Decision::Pull
        );
        // Loaded with `image load`, never pulled: pulled once to start the interval.
        assert_eq!(
            decide(daily, None, facts(true, None, now), now),
            Decision::Pull
        );
        // A clock set back does not make a fresh pull stale.
        let future = ImageFacts {
            stored: true,
            last_pulled: Some(now + HOUR),
        };
        assert_eq!(decide(daily, None, future, now), Decision::UseStored);
        let every_30m = PullPolicy::parse("every_30m").unwrap();
        assert_eq!(
            decide(every_30m, None, facts(true, Some(HOUR), now), now),
            Decision::Pull
        );
    }

    /// Docker Compose's `compose pull`: never/build skipped, missing skipped when present.
    #[test]
    fn compose_pull_skips_as_docker_compose() {
        use PullCommandDecision::*;
        // No pull_policy at all: `compose pull` pulls, present or not.
        assert_eq!(decide_pull_command(None, None, true), Pull);
        assert_eq!(
            decide_pull_command(Some(PullPolicy::Missing), None, false),
            Pull
        );
        assert!(matches!(
            decide_pull_command(Some(PullPolicy::Missing), None, true),
            Skip(_)
        ));
        assert_eq!(
            decide_pull_command(Some(PullPolicy::Always), None, true),
            Pull
        );
        assert!(matches!(
            decide_pull_command(Some(PullPolicy::Never), None, false),
            Skip(_)
        ));
        assert!(matches!(
            decide_pull_command(Some(PullPolicy::Build), None, false),
            Skip(_)
        ));
        assert_eq!(
            decide_pull_command(Some(PullPolicy::Every(DAY)), None, true),
            Pull
        );
        assert_eq!(
            decide_pull_command(Some(PullPolicy::Missing), Some(PullPolicy::Always), true),
            Pull
        );
        assert!(matches!(
            decide_pull_command(Some(PullPolicy::Always), Some(PullPolicy::Missing), true),
            Skip(_)
        ));
    }
}
