//! Durations as Compose writes them (`healthcheck.interval: 1m30s`, `stop_grace_period: 10s`).
//!
//! Docker Compose parses these with Go's duration grammar extended with days and weeks
//! (`str2duration`): a sequence of decimal numbers, each with an optional fraction and a unit
//! (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`, `d`, `w`), e.g. `1h30m`, `1.5s`, or the bare `0`. It
//! prints them back with Go's `time.Duration.String()` (`1m0s`, `1.5s`, `500ms`, `0s`), which is
//! what `docker compose config` shows, so [`Duration`]'s `Display` and `Serialize` do the same.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A non-negative duration in Compose's text form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const ZERO: Duration = Duration(std::time::Duration::ZERO);

    pub fn from_secs(secs: u64) -> Self {
        Duration(std::time::Duration::from_secs(secs))
    }

    pub fn as_std(self) -> std::time::Duration {
        self.0
    }
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Self {
        Duration(d)
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.0
    }
}

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("invalid duration {0:?}: expected numbers with units, such as \"10s\", \"1m30s\" or \"500ms\"")]
    Syntax(String),
    #[error("invalid duration {0:?}: missing unit, expected one of ns, us, ms, s, m, h, d, w (e.g. \"10s\")")]
    MissingUnit(String),
    #[error("invalid duration {input:?}: unknown unit {unit:?}, expected one of ns, us, ms, s, m, h, d, w")]
    UnknownUnit { input: String, unit: String },
    #[error("invalid duration {0:?}: negative durations are not allowed")]
    Negative(String),
    #[error("invalid duration {0:?}: too large")]
    Overflow(String),
}

const NANOS_PER_MICRO: u64 = 1_000;
const NANOS_PER_MILLI: u64 = 1_000_000;
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The unit suffixes Compose accepts and their length in nanoseconds. Both micro signs (U+00B5
/// and U+03BC) are accepted, as Go does.
fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => NANOS_PER_MICRO,
        "ms" => NANOS_PER_MILLI,
        "s" => NANOS_PER_SEC,
        "m" => 60 * NANOS_PER_SEC,
        "h" => 3_600 * NANOS_PER_SEC,
        "d" => 86_400 * NANOS_PER_SEC,
        "w" => 7 * 86_400 * NANOS_PER_SEC,
        _ => return None,
    })
}

/// Go durations are an int64 of nanoseconds; anything larger is out of range there too.
const MAX_NANOS: u64 = i64::MAX as u64;

/// Consumes leading decimal digits. `None` when the value overflows an int64.
fn leading_int(s: &str) -> Option<(u64, &str)> {
    let end = s
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    let mut x: u64 = 0;
    for b in s[..end].bytes() {
        x = x.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        if x > MAX_NANOS + 1 {
            return None;
        }
    }
    Some((x, &s[end..]))
}

/// Consumes the digits after a decimal point as `f / scale`; digits beyond what fits are dropped
/// (they are below nanosecond precision anyway).
fn leading_fraction(s: &str) -> (u64, f64, &str) {
    let end = s
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    let (mut f, mut scale, mut overflow) = (0u64, 1f64, false);
    for b in s[..end].bytes() {
        if overflow {
            continue;
        }
        match f
            .checked_mul(10)
            .and_then(|y| y.checked_add(u64::from(b - b'0')))
        {
            Some(y) if y <= MAX_NANOS => {
                f = y;
                scale *= 10.0;
            }
            _ => overflow = true,
        }
    }
    (f, scale, &s[end..])
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let syntax = || DurationError::Syntax(input.to_string());
        let overflow = || DurationError::Overflow(input.to_string());
        let mut s = input;
        let mut negative = false;
        if let Some(rest) = s.strip_prefix('-') {
            negative = true;
            s = rest;
        } else if let Some(rest) = s.strip_prefix('+') {
            s = rest;
        }
        if s == "0" {
            return Ok(Duration::ZERO);
        }
        if s.is_empty() {
            return Err(syntax());
        }
        let mut total: u64 = 0;
        while !s.is_empty() {
            if !s.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
                return Err(syntax());
            }
            let before = s.len();
            let (mut v, rest) = leading_int(s).ok_or_else(syntax)?;
            let has_int = rest.len() != before;
            s = rest;
            let (mut frac, mut scale, mut has_frac) = (0u64, 1f64, false);
            if let Some(rest) = s.strip_prefix('.') {
                let (f, sc, rest2) = leading_fraction(rest);
                has_frac = rest2.len() != rest.len();
                (frac, scale, s) = (f, sc, rest2);
            }
            if !has_int && !has_frac {
                return Err(syntax());
            }
            let unit_end = s
                .find(|c: char| c == '.' || c.is_ascii_digit())
                .unwrap_or(s.len());
            if unit_end == 0 {
                return Err(DurationError::MissingUnit(input.to_string()));
            }
            let unit = &s[..unit_end];
            s = &s[unit_end..];
            let per = unit_nanos(unit).ok_or_else(|| DurationError::UnknownUnit {
                input: input.to_string(),
                unit: unit.to_string(),
            })?;
            v = v
                .checked_mul(per)
                .filter(|v| *v <= MAX_NANOS + 1)
                .ok_or_else(overflow)?;
            if frac > 0 {
                // Same float arithmetic as Go, so `1.1s` rounds exactly as Compose rounds it.
                let extra = (frac as f64 * (per as f64 / scale)) as u64;
                v = v
                    .checked_add(extra)
                    .filter(|v| *v <= MAX_NANOS + 1)
                    .ok_or_else(overflow)?;
            }
            total = total
                .checked_add(v)
                .filter(|t| *t <= MAX_NANOS + 1)
                .ok_or_else(overflow)?;
        }
        if negative && total > 0 {
            return Err(DurationError::Negative(input.to_string()));
        }
        if total > MAX_NANOS {
            return Err(overflow());
        }
        Ok(Duration(std::time::Duration::from_nanos(total)))
    }
}

/// Splits `v` into its integer part and the text of its fraction at `prec` decimal digits
/// (`.5`, `.25`; empty when there is no fraction), trailing zeros dropped, as Go prints it.
fn split_frac(v: u128, prec: u32) -> (u128, String) {
    let pow = 10u128.pow(prec);
    let frac = v % pow;
    if frac == 0 {
        return (v / pow, String::new());
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    (v / pow, format!(".{}", digits.trim_end_matches('0')))
}

impl fmt::Display for Duration {
    /// Go's `time.Duration.String()`: `0s`, `100ns`, `1.5µs`, `500ms`, `1.5s`, `1m30s`, `1h0m0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        if nanos < u128::from(NANOS_PER_SEC) {
            let (prec, unit) = if nanos < u128::from(NANOS_PER_MICRO) {
                (0, "ns")
            } else if nanos < u128::from(NANOS_PER_MILLI) {
                (3, "\u{b5}s")
            } else {
                (6, "ms")
            };
            let (int, frac) = split_frac(nanos, prec);
            return write!(f, "{int}{frac}{unit}");
        }
        let (secs, frac) = split_frac(nanos, 9);
        let (mins, secs) = (secs / 60, secs % 60);
        if mins == 0 {
            return write!(f, "{secs}{frac}s");
        }
        let (hours, mins) = (mins / 60, mins % 60);
        if hours == 0 {
            return write!(f, "{mins}m{secs}{frac}s");
        }
        write!(f, "{hours}h{mins}m{secs}{frac}s")
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The Compose schema types durations as strings, so a bare number is rejected (there is
        // no unit to read it in).
        f.write_str("a duration string such as \"10s\" or \"1m30s\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        v.parse().map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration as Std;

    fn ns(n: u64) -> Duration {
        Duration(Std::from_nanos(n))
    }

    #[test]
    fn parses_valid_durations() {
        let s = NANOS_PER_SEC;
        let cases: &[(&str, Duration)] = &[
            ("0", ns(0)),
            ("-0", ns(0)),
            ("+0", ns(0)),
            ("0s", ns(0)),
            ("10s", ns(10 * s)),
            ("+10s", ns(10 * s)),
            ("1m30s", ns(90 * s)),
            ("1h", ns(3600 * s)),
            ("1h30m", ns(5400 * s)),
            ("500ms", ns(500 * NANOS_PER_MILLI)),
            ("1.5s", ns(1_500_000_000)),
            (".5s", ns(500_000_000)),
            ("1.s", ns(s)),
            ("2us", ns(2_000)),
            ("2\u{b5}s", ns(2_000)),
            ("2\u{3bc}s", ns(2_000)),
            ("100ns", ns(100)),
            ("1d", ns(86_400 * s)),
            ("1w2d", ns(9 * 86_400 * s)),
            ("1h1m1s1ms1us1ns", ns(3661 * s + 1_001_001)),
            ("1.000000001s", ns(s + 1)),
            ("1.0000000001s", ns(s)),
            ("0.1m", ns(6 * s)),
            ("2562047h47m16.854775807s", ns(i64::MAX as u64)),
        ];
        for (input, want) in cases {
            assert_eq!(input.parse::<Duration>().as_ref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn rejects_invalid_durations() {
        let cases: &[(&str, &str)] = &[
            ("", "invalid duration \"\": expected numbers with units, such as \"10s\", \"1m30s\" or \"500ms\""),
            ("abc", "invalid duration \"abc\": expected numbers with units, such as \"10s\", \"1m30s\" or \"500ms\""),
            (".s", "invalid duration \".s\": expected numbers with units, such as \"10s\", \"1m30s\" or \"500ms\""),
            ("-", "invalid duration \"-\": expected numbers with units, such as \"10s\", \"1m30s\" or \"500ms\""),
            ("1s ", "invalid duration \"1s \": unknown unit \"s \", expected one of ns, us, ms, s, m, h, d, w"),
            ("10", "invalid duration \"10\": missing unit, expected one of ns, us, ms, s, m, h, d, w (e.g. \"10s\")"),
            ("1m30", "invalid duration \"1m30\": missing unit, expected one of ns, us, ms, s, m, h, d, w (e.g. \"10s\")"),
            ("10x", "invalid duration \"10x\": unknown unit \"x\", expected one of ns, us, ms, s, m, h, d, w"),
            ("1S", "invalid duration \"1S\": unknown unit \"S\", expected one of ns, us, ms, s, m, h, d, w"),
            ("-1s", "invalid duration \"-1s\": negative durations are not allowed"),
            ("2562047h47m16.854775808s", "invalid duration \"2562047h47m16.854775808s\": too large"),
            ("99999999999999999999s", "invalid duration \"99999999999999999999s\": expected numbers with units, such as \"10s\", \"1m30s\" or \"500ms\""),
            ("100000w", "invalid duration \"100000w\": too large"),
        ];
        for (input, want) in cases {
            let err = input.parse::<Duration>().expect_err(input);
            assert_eq!(err.to_string(), *want, "{input}");
        }
    }

    #[test]
    fn displays_like_go() {
        let s = NANOS_PER_SEC;
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (100, "100ns"),
            (1_500, "1.5\u{b5}s"),
            (2_000, "2\u{b5}s"),
            (500 * NANOS_PER_MILLI, "500ms"),
            (1_500_000, "1.5ms"),
            (s, "1s"),
            (1_500_000_000, "1.5s"),
            (s + 1, "1.000000001s"),
            (10 * s, "10s"),
            (60 * s, "1m0s"),
            (90 * s, "1m30s"),
            (3600 * s, "1h0m0s"),
            (5400 * s, "1h30m0s"),
            (86_400 * s, "24h0m0s"),
            (3661 * s + 500_000_000, "1h1m1.5s"),
        ];
        for (n, want) in cases {
            assert_eq!(ns(*n).to_string(), *want, "{n}ns");
        }
    }

    #[test]
    fn round_trips_through_text() {
        for text in [
            "1m30s",
            "1.5s",
            "500ms",
            "0s",
            "1h0m0s",
            "2\u{b5}s",
            "100ns",
            "26h3m4.05s",
        ] {
            let d: Duration = text.parse().unwrap();
            assert_eq!(d.to_string(), text);
        }
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Hc {
        interval: Duration,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<Duration>,
    }

    #[test]
    fn deserializes_and_serializes_yaml() {
        let hc: Hc = serde_yaml_ng::from_str("interval: 1m\ntimeout: 1.5s\n").unwrap();
        assert_eq!(hc.interval, Duration::from_secs(60));
        assert_eq!(hc.timeout, Some(ns(1_500_000_000)));
        assert_eq!(
            serde_yaml_ng::to_string(&hc).unwrap(),
            "interval: 1m0s\ntimeout: 1.5s\n"
        );
        assert_eq!(
            serde_json::to_string(&hc).unwrap(),
            r#"{"interval":"1m0s","timeout":"1.5s"}"#
        );

        let err = serde_yaml_ng::from_str::<Hc>("interval: 10\n").unwrap_err();
        assert!(
            err.to_string().starts_with(
                "interval: invalid type: integer `10`, expected a duration string such as \"10s\" or \"1m30s\""
            ),
            "{err}"
        );
        let err = serde_yaml_ng::from_str::<Hc>("interval: 10y\n").unwrap_err();
        assert!(
            err.to_string().starts_with(
                "interval: invalid duration \"10y\": unknown unit \"y\", expected one of ns, us, ms, s, m, h, d, w"
            ),
            "{err}"
        );
    }

    #[test]
    fn deserializes_from_node_with_location() {
        use crate::model::de::from_node;
        use crate::model::yaml::parse_file_text;
        use std::path::Path;
        let node =
            parse_file_text("interval: 2m\ntimeout: 5\n", Some(Path::new("c.yaml"))).unwrap();
        let err = from_node::<Hc>(&node).unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.yaml:2:10: timeout: expected a duration string such as \"10s\" or \"1m30s\", found integer 5"
        );
        let node =
            parse_file_text("interval: 2m\ntimeout: 1h5\n", Some(Path::new("c.yaml"))).unwrap();
        let err = from_node::<Hc>(&node).unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.yaml:2:10: timeout: invalid duration \"1h5\": missing unit, expected one of ns, us, ms, s, m, h, d, w (e.g. \"10s\")"
        );
        let node = parse_file_text("interval: 2m\n", Some(Path::new("c.yaml"))).unwrap();
        assert_eq!(
            from_node::<Hc>(&node).unwrap(),
            Hc {
                interval: Duration::from_secs(120),
                timeout: None
            }
        );
    }
}
