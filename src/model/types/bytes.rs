//! Byte sizes (`mem_limit: 512m`, `shm_size: 1gb`, `tmpfs.size: 100k`).
//!
//! Docker Compose reads a string with go-units' `RAMInBytes`: a decimal number (fractions
//! allowed, `1.5g`), optionally a space, then an optional case-insensitive unit `b`, `k`, `m`,
//! `g`, `t` or `p`, which may be followed by `b` or `ib`; every unit is a binary multiple
//! (`1kb` = `1kib` = 1024). A YAML integer is a byte count as is, and may be negative
//! (`memswap_limit: -1` means unlimited swap), while a negative string is rejected.
//! `docker compose config` prints the byte count as a quoted string (`mem_limit: "536870912"`).

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub i64);

impl ByteSize {
    pub fn bytes(self) -> i64 {
        self.0
    }
}

/// Why a size string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ByteSizeError {
    #[error("invalid size {0:?}: expected a number of bytes with an optional unit b, k, m, g, t or p (e.g. \"512m\", \"1.5g\")")]
    Syntax(String),
    #[error("invalid size {input:?}: unknown unit {unit:?}, expected b, k, m, g, t or p, optionally followed by b or ib")]
    Unit { input: String, unit: String },
    #[error("invalid size {0:?}: a size cannot be negative")]
    Negative(String),
    #[error("invalid size {0:?}: too large")]
    Overflow(String),
}

fn unit_multiplier(unit: u8) -> Option<i64> {
    Some(match unit {
        b'k' => 1 << 10,
        b'm' => 1 << 20,
        b'g' => 1 << 30,
        b't' => 1 << 40,
        b'p' => 1 << 50,
        _ => return None,
    })
}

impl FromStr for ByteSize {
    type Err = ByteSizeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let syntax = || ByteSizeError::Syntax(input.to_string());
        // The number ends at the last digit, dot or space; the unit is what follows (a single
        // space between them is allowed and dropped).
        let sep = input
            .rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')
            .ok_or_else(syntax)?;
        let (num, unit) = if input.as_bytes()[sep] == b' ' {
            (&input[..sep], &input[sep + 1..])
        } else {
            (&input[..sep + 1], &input[sep + 1..])
        };
        // Go's ParseFloat grammar, minus the forms a size cannot have (inf, nan, hex).
        let valid_num = !num.is_empty()
            && num
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
            && num.bytes().any(|b| b.is_ascii_digit());
        let size: f64 = if valid_num {
            num.parse().map_err(|_| syntax())?
        } else {
            return Err(syntax());
        };
        if size < 0.0 {
            return Err(ByteSizeError::Negative(input.to_string()));
        }
        let bad_unit = || ByteSizeError::Unit {
            input: input.to_string(),
            unit: unit.to_string(),
        };
        let lower = unit.to_ascii_lowercase();
        let mult = match lower.as_bytes() {
            [] | [b'b'] => 1,
            [u] | [u, b'b'] | [u, b'i', b'b'] => unit_multiplier(*u).ok_or_else(bad_unit)?,
            _ => return Err(bad_unit()),
        };
        let bytes = size * mult as f64;
        // i64::MAX as f64 rounds up to 2^63, which is already out of range.
        if bytes >= i64::MAX as f64 {
            return Err(ByteSizeError::Overflow(input.to_string()));
        }
        Ok(ByteSize(bytes as i64))
    }
}

impl fmt::Display for ByteSize {
    /// The byte count, which is how Compose prints sizes back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for ByteSize {
    /// As a string, like compose-go's `UnitBytes` (YAML output quotes it: `"536870912"`).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

struct ByteSizeVisitor;

impl Visitor<'_> for ByteSizeVisitor {
    type Value = ByteSize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a size in bytes, as a number or a string such as \"512m\"")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
        Ok(ByteSize(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
        i64::try_from(v)
            .map(ByteSize)
            .map_err(|_| E::custom(format!("invalid size {v}: too large")))
    }

    /// A YAML float is read like the same number written as a string: whole bytes, rounded down.
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<ByteSize, E> {
        if !v.is_finite() || v >= i64::MAX as f64 || v < i64::MIN as f64 {
            return Err(E::custom(format!(
                "invalid size {v}: expected a number of bytes"
            )));
        }
        Ok(ByteSize(v as i64))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
        v.parse().map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ByteSizeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: i64 = 1024;
    const M: i64 = 1024 * K;
    const G: i64 = 1024 * M;

    #[test]
    fn parses_valid_sizes() {
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("1024", 1024),
            ("32", 32),
            ("32b", 32),
            ("32B", 32),
            ("100k", 100 * K),
            ("32kb", 32 * K),
            ("32Kb", 32 * K),
            ("32kib", 32 * K),
            ("32KiB", 32 * K),
            ("512m", 512 * M),
            ("512M", 512 * M),
            ("512mb", 512 * M),
            ("1g", G),
            ("1gb", G),
            ("1GB", G),
            ("1.5g", 3 * G / 2),
            ("0.5k", 512),
            (".5k", 512),
            ("1.", 1),
            ("32.3", 32),
            ("2t", 2 * 1024 * G),
            ("1p", 1 << 50),
            ("1 m", M),
            ("1e3", 1000),
            ("1e3k", 1000 * K),
            ("1 ", 1),
        ];
        for (input, want) in cases {
            assert_eq!(input.parse::<ByteSize>(), Ok(ByteSize(*want)), "{input}");
        }
    }

    #[test]
    fn rejects_invalid_sizes() {
        let syntax = |s: &str| {
            format!("invalid size {s:?}: expected a number of bytes with an optional unit b, k, m, g, t or p (e.g. \"512m\", \"1.5g\")")
        };
        let unit = |s: &str, u: &str| {
            format!("invalid size {s:?}: unknown unit {u:?}, expected b, k, m, g, t or p, optionally followed by b or ib")
        };
        let cases: Vec<(&str, String)> = vec![
            ("", syntax("")),
            ("abc", syntax("abc")),
            ("k", syntax("k")),
            (" k", syntax(" k")),
            ("1..5k", syntax("1..5k")),
            ("inf", syntax("inf")),
            ("1x", unit("1x", "x")),
            ("1kk", unit("1kk", "kk")),
            ("1bb", unit("1bb", "bb")),
            ("1kbb", unit("1kbb", "kbb")),
            ("1kab", unit("1kab", "kab")),
            ("1  k", syntax("1  k")),
            (
                "-1",
                "invalid size \"-1\": a size cannot be negative".to_string(),
            ),
            (
                "-5m",
                "invalid size \"-5m\": a size cannot be negative".to_string(),
            ),
            (
                "9000000p",
                "invalid size \"9000000p\": too large".to_string(),
            ),
        ];
        for (input, want) in cases {
            let err = input.parse::<ByteSize>().expect_err(input);
            assert_eq!(err.to_string(), want, "{input}");
        }
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Svc {
        mem_limit: ByteSize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        memswap_limit: Option<ByteSize>,
    }

    #[test]
    fn deserializes_numbers_and_strings_and_prints_strings() {
        let s: Svc = serde_yaml_ng::from_str("mem_limit: 512m\nmemswap_limit: -1\n").unwrap();
        assert_eq!(
            s,
            Svc {
                mem_limit: ByteSize(512 * M),
                memswap_limit: Some(ByteSize(-1))
            }
        );
        assert_eq!(
            serde_yaml_ng::to_string(&s).unwrap(),
            "mem_limit: '536870912'\nmemswap_limit: '-1'\n"
        );
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"mem_limit":"536870912","memswap_limit":"-1"}"#
        );
        let s: Svc = serde_yaml_ng::from_str("mem_limit: 1073741824\n").unwrap();
        assert_eq!(s.mem_limit, ByteSize(G));
        let s: Svc = serde_yaml_ng::from_str("mem_limit: 1.5\n").unwrap();
        assert_eq!(s.mem_limit, ByteSize(1));
        let err = serde_yaml_ng::from_str::<Svc>("mem_limit: 12q\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("mem_limit: invalid size \"12q\": unknown unit \"q\""),
            "{err}"
        );
        let err = serde_yaml_ng::from_str::<Svc>("mem_limit: [1]\n").unwrap_err();
        assert!(
            err.to_string().starts_with(
                "mem_limit: invalid type: sequence, expected a size in bytes, as a number or a string such as \"512m\""
            ),
            "{err}"
        );
    }

    #[test]
    fn deserializes_from_node_with_location() {
        use crate::model::de::from_node;
        use crate::model::yaml::parse_file_text;
        use std::path::Path;
        let node = parse_file_text(
            "mem_limit: 2g\nmemswap_limit: '1.5'\n",
            Some(Path::new("c.yaml")),
        )
        .unwrap();
        assert_eq!(
            from_node::<Svc>(&node).unwrap(),
            Svc {
                mem_limit: ByteSize(2 * G),
                memswap_limit: Some(ByteSize(1))
            }
        );
        let node = parse_file_text(
            "mem_limit: 2g\nmemswap_limit: lots\n",
            Some(Path::new("c.yaml")),
        )
        .unwrap();
        assert_eq!(
            from_node::<Svc>(&node).unwrap_err().to_string(),
            "c.yaml:2:16: memswap_limit: invalid size \"lots\": expected a number of bytes with an optional unit b, k, m, g, t or p (e.g. \"512m\", \"1.5g\")"
        );
    }
}
