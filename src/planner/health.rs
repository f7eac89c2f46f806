//! A service's healthcheck and log rotation, resolved from the model (and the image) into what
//! the container's monitor applies: pure, so Docker's merging rules are tested without a
//! container.
//!
//! Healthcheck: the service's `healthcheck` overrides the image's `HEALTHCHECK` field by field (a
//! field left unset or zero keeps the image's, as Docker's daemon merges them); `disable: true` or
//! a test of `["NONE"]` turns it off. Logging: only the drivers that write `container.log`
//! (`json-file`, and `local`, which Docker rotates by default) can be honoured by a daemonless
//! engine whose `logs` reads that file.

use crate::engine::image::ImageHealthcheck;
use crate::engine::state::HealthSpec;
use crate::model::types::bytes::ByteSize;
use crate::model::types::service::ServiceConfig;

/// Docker's defaults (`defaultProbeInterval`, ...).
pub const DEFAULT_INTERVAL_MS: u64 = 30_000;
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_RETRIES: u32 = 3;
pub const DEFAULT_START_INTERVAL_MS: u64 = 5_000;

/// The `local` driver's defaults when no option is given (Docker rotates it always).
pub const LOCAL_MAX_SIZE: u64 = 20 << 20;
pub const LOCAL_MAX_FILE: u32 = 5;

/// Milliseconds, rounded up so that a sub-millisecond setting still means "set".
fn ms_of(d: std::time::Duration) -> u64 {
    let ms = d.as_millis() as u64;
    if ms == 0 && !d.is_zero() {
        1
    } else {
        ms
    }
}

/// Nanoseconds (the image config's unit) to milliseconds, rounded up.
fn ms_of_ns(ns: u64) -> u64 {
    ns.div_ceil(1_000_000)
}

/// The first non-zero of the service's value, the image's, and the default.
fn pick(svc: Option<u64>, image: Option<u64>, default: u64) -> u64 {
    svc.filter(|v| *v != 0)
        .or(image.filter(|v| *v != 0))
        .unwrap_or(default)
}

/// The container's healthcheck: `None` when there is none (no test anywhere, `disable`, or
/// `NONE`). The error names what is wrong with the test.
pub fn healthcheck(
    svc: &ServiceConfig,
    image: Option<&ImageHealthcheck>,
) -> Result<Option<HealthSpec>, String> {
    let hc = svc.healthcheck.as_ref();
    if hc.is_some_and(|h| h.disable) {
        return Ok(None);
    }
    let test: &[String] = match hc.map(|h| h.test.as_slice()) {
        Some(t) if !t.is_empty() => t,
        _ => image.map(|i| i.test.as_slice()).unwrap_or_default(),
    };
    let Some((kind, rest)) = test.split_first() else {
        return Ok(None);
    };
    let command = match kind.as_str() {
        "NONE" => return Ok(None),
        "CMD" => {
            if rest.is_empty() {
                return Err("healthcheck test [\"CMD\"] names no command".into());
            }
            rest.to_vec()
        }
        "CMD-SHELL" => {
            if rest.is_empty() {
                return Err("healthcheck test [\"CMD-SHELL\"] names no command".into());
            }
            let mut c = vec!["/bin/sh".to_string(), "-c".to_string()];
            c.extend(rest.iter().cloned());
            c
        }
        other => {
            return Err(format!(
                "healthcheck test must start with CMD, CMD-SHELL or NONE, not {other:?}"
            ))
        }
    };
    let dur = |f: fn(&crate::model::types::service::HealthCheckConfig) -> Option<_>| {
        hc.and_then(f)
            .map(|d: crate::model::types::duration::Duration| ms_of(d.as_std()))
    };
    let img = |f: fn(&ImageHealthcheck) -> Option<u64>| image.and_then(f).map(ms_of_ns);
    let retries = hc.and_then(|h| h.retries).filter(|r| *r != 0);
    let retries = match retries {
        Some(r) => u32::try_from(r).map_err(|_| format!("healthcheck retries {r} is too large"))?,
        None => image
            .and_then(|i| i.retries)
            .filter(|r| *r != 0)
            .unwrap_or(DEFAULT_RETRIES),
    };
    Ok(Some(HealthSpec {
        test: command,
        interval_ms: pick(
            dur(|h| h.interval),
            img(|i| i.interval),
            DEFAULT_INTERVAL_MS,
        ),
        timeout_ms: pick(dur(|h| h.timeout), img(|i| i.timeout), DEFAULT_TIMEOUT_MS),
        retries,
        start_period_ms: pick(dur(|h| h.start_period), img(|i| i.start_period), 0),
        start_interval_ms: pick(
            dur(|h| h.start_interval),
            img(|i| i.start_interval),
            DEFAULT_START_INTERVAL_MS,
        ),
    }))
}

/// `(max_size, max_file)` of the container's log: both `None` when it is never rotated.
pub fn log_rotation(svc: &ServiceConfig) -> Result<(Option<u64>, Option<u32>), String> {
    let Some(logging) = svc.logging.as_ref() else {
        return Ok((None, None));
    };
    let driver = logging.driver.as_deref().unwrap_or("json-file");
    let known: &[&str] = match driver {
        "json-file" => &[
            "max-size",
            "max-file",
            "compress",
            "labels",
            "labels-regex",
            "env",
            "env-regex",
            "tag",
            "max-buffer-size",
            "mode",
        ],
        "local" => &[
            "max-size",
            "max-file",
            "compress",
            "max-buffer-size",
            "mode",
        ],
        // No log at all (`ContainerRecord::log_disabled`).
        "none" => return Ok((None, None)),
        other => {
            return Err(format!(
                "logging driver {other:?} is not supported (only json-file and local write the \
                 container's log here)"
            ))
        }
    };
    if let Some(k) = logging
        .options
        .keys()
        .find(|k| !known.contains(&k.as_str()))
    {
        return Err(format!("unknown log option {k:?} for the {driver} driver"));
    }
    let size = match logging.options.get("max-size").map(|s| s.trim()) {
        // Docker: -1 (or nothing) is "never rotate".
        None | Some("-1") | Some("") => None,
        Some(s) => {
            let b: ByteSize = s
                .parse()
                .map_err(|e| format!("logging option max-size: {e}"))?;
            if b.bytes() <= 0 {
                return Err(format!("logging option max-size {s:?} must be positive"));
            }
            Some(b.bytes() as u64)
        }
    };
    let files = match logging.options.get("max-file") {
        None => None,
        Some(s) => {
            let n: u32 = s.trim().parse().map_err(|_| {
                format!("logging option max-file {s:?}: expected a positive number")
            })?;
            if n < 1 {
                return Err("logging option max-file cannot be less than 1".into());
            }
            Some(n)
        }
    };
    Ok(match (driver, size, files) {
        ("local", None, f) if logging.options.get("max-size").is_none() => {
            (Some(LOCAL_MAX_SIZE), Some(f.unwrap_or(LOCAL_MAX_FILE)))
        }
        ("local", s, f) => (s, s.map(|_| f.unwrap_or(LOCAL_MAX_FILE))),
        // max-file alone changes nothing: there is no size to rotate at.
        (_, None, _) => (None, None),
        (_, Some(s), f) => (Some(s), Some(f.unwrap_or(1))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(yaml: &str) -> ServiceConfig {
        crate::model::types::fields::test_support::load(yaml).expect("service")
    }

    fn image(test: &[&str]) -> ImageHealthcheck {
        ImageHealthcheck {
            test: test.iter().map(|s| s.to_string()).collect(),
            interval: Some(2_000_000_000),
            timeout: Some(500_000_000),
            start_period: None,
            start_interval: None,
            retries: Some(7),
        }
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn shell_and_exec_forms_with_docker_defaults() {
        let h = healthcheck(&svc("image: x\nhealthcheck: {test: curl -f x}\n"), None)
            .expect("ok")
            .expect("some");
        assert_eq!(h.test, strs(&["/bin/sh", "-c", "curl -f x"]));
        assert_eq!(
            (
                h.interval_ms,
                h.timeout_ms,
                h.retries,
                h.start_period_ms,
                h.start_interval_ms
            ),
            (30_000, 30_000, 3, 0, 5_000)
        );
        let h = healthcheck(
            &svc(
                "image: x\nhealthcheck: {test: [CMD, cat, /tmp/ok], interval: 200ms, retries: 2}\n",
            ),
            None,
        )
        .expect("ok")
        .expect("some");
        assert_eq!(h.test, strs(&["cat", "/tmp/ok"]));
        assert_eq!((h.interval_ms, h.retries), (200, 2));
        let h = healthcheck(
            &svc("image: x\nhealthcheck: {test: [CMD-SHELL, 'exit 0']}\n"),
            None,
        )
        .expect("ok")
        .expect("some");
        assert_eq!(h.test, strs(&["/bin/sh", "-c", "exit 0"]));
    }

    #[test]
    fn disable_and_none_turn_it_off_even_over_the_image() {
        let img = image(&["CMD", "true"]);
        for body in [
            "image: x\nhealthcheck: {disable: true}\n",
            "image: x\nhealthcheck: {test: [NONE]}\n",
        ] {
            assert_eq!(healthcheck(&svc(body), Some(&img)), Ok(None), "{body}");
        }
        assert_eq!(healthcheck(&svc("image: x\n"), None), Ok(None));
        assert_eq!(
            healthcheck(&svc("image: x\n"), Some(&image(&["NONE"]))),
            Ok(None)
        );
    }

    #[test]
    fn the_service_overrides_the_image_field_by_field() {
        let img = image(&["CMD-SHELL", "check"]);
        let h = healthcheck(&svc("image: x\n"), Some(&img))
            .expect("ok")
            .expect("the image's");
        assert_eq!(h.test, strs(&["/bin/sh", "-c", "check"]));
        assert_eq!((h.interval_ms, h.timeout_ms, h.retries), (2_000, 500, 7));
        // Only the interval and retries are the service's; the test and timeout stay the image's.
        let h = healthcheck(
            &svc("image: x\nhealthcheck: {interval: 1s, retries: 1, start_period: 0s}\n"),
            Some(&img),
        )
        .expect("ok")
        .expect("merged");
        assert_eq!(h.test, strs(&["/bin/sh", "-c", "check"]));
        assert_eq!((h.interval_ms, h.timeout_ms, h.retries), (1_000, 500, 1));
        let h = healthcheck(
            &svc("image: x\nhealthcheck: {test: [CMD, other]}\n"),
            Some(&img),
        )
        .expect("ok")
        .expect("merged");
        assert_eq!(h.test, strs(&["other"]));
        assert_eq!(h.interval_ms, 2_000);
    }

    #[test]
    fn malformed_tests_are_errors() {
        for t in [&["CMD"][..], &["CMD-SHELL"], &["RUN", "x"]] {
            assert!(
                healthcheck(&svc("image: x\n"), Some(&image(t))).is_err(),
                "{t:?}"
            );
        }
    }

    #[test]
    fn json_file_rotation_options() {
        assert_eq!(log_rotation(&svc("image: x\n")), Ok((None, None)));
        assert_eq!(
            log_rotation(&svc(
                "image: x\nlogging: {driver: json-file, options: {max-size: 10m, max-file: '3'}}\n"
            )),
            Ok((Some(10 << 20), Some(3)))
        );
        assert_eq!(
            log_rotation(&svc("image: x\nlogging: {options: {max-size: 1k}}\n")),
            Ok((Some(1024), Some(1)))
        );
        assert_eq!(
            log_rotation(&svc("image: x\nlogging: {options: {max-size: 1.5g}}\n")),
            Ok((Some(3 << 29), Some(1)))
        );
        assert_eq!(
            log_rotation(&svc("image: x\nlogging: {options: {max-file: '4'}}\n")),
            Ok((None, None))
        );
        assert_eq!(
            log_rotation(&svc("image: x\nlogging: {driver: local}\n")),
            Ok((Some(LOCAL_MAX_SIZE), Some(LOCAL_MAX_FILE)))
        );
    }

    #[test]
    fn unsupported_drivers_and_bad_options_are_errors() {
        let e = log_rotation(&svc("image: x\nlogging: {driver: syslog}\n")).expect_err("syslog");
        assert!(
            e.contains("\"syslog\"") && e.contains("not supported"),
            "{e}"
        );
        for body in [
            "logging: {options: {max-size: 10x}}\n",
            "logging: {options: {max-size: 1m, max-file: '0'}}\n",
            "logging: {options: {max-size: 1m, max-file: many}}\n",
            "logging: {options: {max-sise: 1m}}\n",
        ] {
            assert!(
                log_rotation(&svc(&format!("image: x\n{body}"))).is_err(),
                "{body}"
            );
        }
    }
}
