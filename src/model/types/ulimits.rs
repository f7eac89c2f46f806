//! Resource limits (`services.*.ulimits`, `build.ulimits`): one integer for both limits
//! (`nproc: 65535`) or a `{soft, hard}` mapping (both required). Strings holding integers are
//! accepted, since interpolation produces them. Printed back in the shape it was written.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use super::fields::{self, Scalar};

/// A ulimit: either `single` (soft = hard) or `soft` and `hard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ulimit {
    pub single: Option<i64>,
    pub soft: Option<i64>,
    pub hard: Option<i64>,
}

impl Ulimit {
    pub fn single(value: i64) -> Self {
        Ulimit {
            single: Some(value),
            ..Ulimit::default()
        }
    }

    pub fn soft_hard(soft: i64, hard: i64) -> Self {
        Ulimit {
            single: None,
            soft: Some(soft),
            hard: Some(hard),
        }
    }

    /// The effective (soft, hard) pair.
    pub fn limits(&self) -> (i64, i64) {
        match self.single {
            Some(v) => (v, v),
            None => (self.soft.unwrap_or(0), self.hard.unwrap_or(0)),
        }
    }
}

/// Whether `soft` may go with `hard`: -1 means unlimited.
fn soft_within_hard(soft: i64, hard: i64) -> bool {
    hard == -1 || (soft != -1 && soft <= hard)
}

struct UlimitVisitor;

impl<'de> Visitor<'de> for UlimitVisitor {
    type Value = Ulimit;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer or a mapping with `soft` and `hard`")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ulimit, E> {
        Ok(Ulimit::single(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ulimit, E> {
        i64::try_from(v)
            .map(Ulimit::single)
            .map_err(|_| E::custom(format!("invalid ulimit {v}: too large")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Ulimit, E> {
        v.trim().parse().map(Ulimit::single).map_err(|_| {
            E::custom(format!(
                "invalid ulimit {v:?}: expected an integer or a mapping with `soft` and `hard`"
            ))
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ulimit, A::Error> {
        let (mut soft, mut hard) = (None, None);
        // `x-` keys are allowed but, as in Compose, not kept.
        fields::read_map(&mut map, &["soft", "hard"], |key, map| {
            let value = map.next_value::<Scalar>()?.into_i64(key)?;
            if key == "soft" {
                soft = value;
            } else {
                hard = value;
            }
            Ok(())
        })?;
        let soft = soft.ok_or_else(|| de::Error::missing_field("soft"))?;
        let hard = hard.ok_or_else(|| de::Error::missing_field("hard"))?;
        if !soft_within_hard(soft, hard) {
            return Err(de::Error::custom(format!(
                "invalid ulimit: soft limit {soft} is greater than hard limit {hard}"
            )));
        }
        Ok(Ulimit::soft_hard(soft, hard))
    }
}

impl<'de> Deserialize<'de> for Ulimit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UlimitVisitor)
    }
}

impl Serialize for Ulimit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Some(v) = self.single {
            return serializer.serialize_i64(v);
        }
        let mut m = serializer.serialize_map(Some(2))?;
        if let Some(soft) = self.soft {
            m.serialize_entry("soft", &soft)?;
        }
        if let Some(hard) = self.hard {
            m.serialize_entry("hard", &hard)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::types::fields::test_support::{assert_yaml_errors, load_file};
    use indexmap::IndexMap;

    type Ulimits = IndexMap<String, Ulimit>;

    #[test]
    fn deserializes_both_shapes() {
        let cases: &[(&str, Ulimit)] = &[
            ("nproc: 65535", Ulimit::single(65535)),
            ("nproc: '65535'", Ulimit::single(65535)),
            ("nproc: -1", Ulimit::single(-1)),
            (
                "nofile: {soft: 20000, hard: 40000}",
                Ulimit::soft_hard(20000, 40000),
            ),
            (
                "nofile: {soft: '1024', hard: '2048', x-note: a}",
                Ulimit::soft_hard(1024, 2048),
            ),
            ("nofile: {soft: 5, hard: 5}", Ulimit::soft_hard(5, 5)),
            ("memlock: {soft: -1, hard: -1}", Ulimit::soft_hard(-1, -1)),
            ("memlock: {soft: 100, hard: -1}", Ulimit::soft_hard(100, -1)),
        ];
        for (yaml, want) in cases {
            let u: Ulimits = serde_yaml_ng::from_str(yaml).unwrap();
            assert_eq!(u.values().next(), Some(want), "{yaml}");
        }
    }

    #[test]
    fn rejects_invalid_ulimits() {
        let cases: &[(&str, &str)] = &[
            ("nofile: {soft: 2048, hard: 1024}", "invalid ulimit: soft limit 2048 is greater than hard limit 1024"),
            ("nofile: {soft: -1, hard: 1024}", "invalid ulimit: soft limit -1 is greater than hard limit 1024"),
            ("nofile: {soft: 1024}", "missing field `hard`"),
            ("nofile: {hard: 1024}", "missing field `soft`"),
            ("nofile: {soft: 1, hard: 2, max: 3}", "unknown key `max`, expected one of: soft, hard"),
            ("nofile: {soft: lots, hard: 2}", "invalid value \"lots\" for `soft`: expected an integer"),
            ("nofile: unlimited", "invalid ulimit \"unlimited\": expected an integer or a mapping with `soft` and `hard`"),
            ("nofile: [1]", "invalid type: sequence, expected an integer or a mapping with `soft` and `hard`"),
        ];
        let cases = cases
            .iter()
            .map(|(yaml, want)| (*yaml, format!("nofile: {want}")));
        assert_yaml_errors::<Ulimits, _>(cases);
    }

    #[test]
    fn serializes_in_the_written_shape() {
        let u: Ulimits =
            serde_yaml_ng::from_str("nproc: 65535\nnofile: {soft: 1, hard: 2}\n").unwrap();
        assert_eq!(
            serde_yaml_ng::to_string(&u).unwrap(),
            "nproc: 65535\nnofile:\n  soft: 1\n  hard: 2\n"
        );
        assert_eq!(Ulimit::single(7).limits(), (7, 7));
        assert_eq!(Ulimit::soft_hard(1, 2).limits(), (1, 2));
    }

    #[test]
    fn deserializes_from_node_with_locations() {
        let load = |src: &str| load_file::<Ulimits>("c.yaml", src);
        let u = load("nproc: \"10\"\nnofile:\n  soft: 1\n  hard: \"2\"\n").unwrap();
        assert_eq!(u["nproc"], Ulimit::single(10));
        assert_eq!(u["nofile"], Ulimit::soft_hard(1, 2));
        // Located at the mapping (its column is the YAML layer's business).
        let err = load("nofile:\n  soft: 3\n  hard: 2\n").unwrap_err();
        assert_eq!(err.span.line, 2);
        assert_eq!(err.path, "nofile");
        assert_eq!(
            err.kind.to_string(),
            "invalid ulimit: soft limit 3 is greater than hard limit 2"
        );
        let err = load("nofile:\n  soft: 1\n  hrad: 2\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.yaml:3:3: nofile.hrad: unknown key `hrad`, expected one of: soft, hard"
        );
    }
}
