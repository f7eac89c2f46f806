//! The times `logs` and attached `up` work with: nanoseconds since the epoch, parsed from log
//! lines' RFC 3339 stamps and from `--since`/`--until`/`--tail` as Docker takes them.

use std::time::{SystemTime, UNIX_EPOCH};

use super::AttachError;
use crate::engine::fsutil;

/// Nanoseconds since the epoch now.
pub fn now_nanos() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    d.as_secs() as i64 * 1_000_000_000 + i64::from(d.subsec_nanos())
}

/// Nanoseconds since the epoch of an RFC 3339 time with optional fraction
/// (`2024-01-02T03:04:05.123456789Z`, `…+02:00`), as log lines and `--since` carry them.
pub fn parse_log_time(s: &str) -> Option<i64> {
    let secs = fsutil::parse_rfc3339(s)?;
    let mut nanos = 0i64;
    if let Some(frac) = s.get(19..).and_then(|r| r.strip_prefix('.')) {
        let digits: String = frac.chars().take_while(char::is_ascii_digit).collect();
        for (i, c) in digits.chars().take(9).enumerate() {
            nanos += i64::from(c.to_digit(10)?) * 10i64.pow(8 - i as u32);
        }
    }
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// A Go duration (`10m`, `1h30m`, `1.5s`, `300ms`) in nanoseconds, as Docker's `--since`
/// takes relative times.
pub fn parse_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let whole: i128 = if int_len == 0 {
            0
        } else {
            rest[..int_len].parse().ok()?
        };
        rest = &rest[int_len..];
        let mut frac_digits = "";
        if let Some(r) = rest.strip_prefix('.') {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            frac_digits = &r[..n];
            rest = &r[n..];
        }
        if int_len == 0 && frac_digits.is_empty() {
            return None;
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let unit: i128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        let mut value = whole.checked_mul(unit)?;
        let mut scale = unit;
        for c in frac_digits.chars().take(18) {
            scale /= 10;
            value += i128::from(c.to_digit(10)?) * scale;
        }
        total = total.checked_add(value)?;
    }
    let total = i64::try_from(total).ok()?;
    Some(if neg { -total } else { total })
}

/// `--since`/`--until`: an RFC 3339 time, a duration before `now` (`10m`, `1h30m`), or Unix
/// seconds (`1700000000.5`); nanoseconds since the epoch.
pub fn parse_time_arg(flag: &'static str, value: &str, now: i64) -> Result<i64, AttachError> {
    if let Some(d) = parse_duration(value) {
        return Ok(now.saturating_sub(d));
    }
    if let Some(t) = parse_log_time(value) {
        return Ok(t);
    }
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    if !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
    {
        if let Ok(s) = secs.parse::<i64>() {
            let mut nanos = 0i64;
            for (i, c) in frac.bytes().take(9).enumerate() {
                nanos += i64::from(c - b'0') * 10i64.pow(8 - i as u32);
            }
            return Ok(s.saturating_mul(1_000_000_000).saturating_add(nanos));
        }
    }
    Err(AttachError::InvalidArg {
        flag,
        value: value.to_string(),
        reason: "expected an RFC 3339 time (2024-01-02T15:04:05Z), a duration (10m, 1h30m) or Unix seconds".into(),
    })
}

/// `--tail`: `all` (or a negative number) is everything; otherwise that many lines.
pub fn parse_tail(value: &str) -> Result<Option<usize>, AttachError> {
    if value == "all" || (value.starts_with('-') && value[1..].parse::<u64>().is_ok()) {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| AttachError::InvalidArg {
            flag: "--tail",
            value: value.to_string(),
            reason: "expected a number or \"all\"".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_times_keep_nanoseconds_and_offsets() {
        assert_eq!(
            parse_log_time("1970-01-01T00:00:01.5Z"),
            Some(1_500_000_000)
        );
        assert_eq!(
            parse_log_time("1970-01-01T00:00:01.000000002Z"),
            Some(1_000_000_002)
        );
        assert_eq!(parse_log_time("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_log_time("yesterday"), None);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("10m"), Some(600_000_000_000));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("5x"), None);
    }

    #[test]
    fn since_accepts_durations_times_and_unix_seconds() {
        let now = 10_000 * 1_000_000_000;
        assert_eq!(
            parse_time_arg("--since", "10s", now).ok(),
            Some(now - 10_000_000_000)
        );
        assert_eq!(
            parse_time_arg("--since", "1970-01-01T00:00:02Z", now).ok(),
            Some(2_000_000_000)
        );
        assert_eq!(
            parse_time_arg("--since", "3.25", now).ok(),
            Some(3_250_000_000)
        );
        assert!(parse_time_arg("--since", "soon", now).is_err());
    }

    #[test]
    fn tail_values() {
        assert_eq!(parse_tail("all").ok(), Some(None));
        assert_eq!(parse_tail("-1").ok(), Some(None));
        assert_eq!(parse_tail("2").ok(), Some(Some(2)));
        assert!(parse_tail("two").is_err());
    }
}
