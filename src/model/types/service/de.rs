//! Readers for the service's own fields whose syntax no sibling shares: lists of strings
//! or numbers, name lists or mappings, `gpus`, microseconds.

use std::fmt;
use std::marker::PhantomData;

use indexmap::IndexMap;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::model::types::deploy::{DeviceCount, DeviceRequest};
use crate::model::types::duration::Duration;
use crate::model::types::fields::{de_list_or_str, ScalarText};

/// A list whose items may be strings or numbers (`expose`, `group_add`), kept as strings.
pub(super) fn de_string_or_number_list<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<String>, D::Error> {
    let items = Option::<Vec<ScalarText>>::deserialize(d)?.unwrap_or_default();
    items
        .into_iter()
        .map(|s| {
            s.0.ok_or_else(|| de::Error::custom("expected a string or number, found null"))
        })
        .collect()
}

/// `networks` and `models` of a service: a list of names (no options) or a mapping of name to
/// options or null.
pub(super) fn de_list_or_map_of_opt<'de, D, T>(
    d: D,
) -> Result<IndexMap<String, Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = IndexMap<String, Option<T>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of names or a mapping")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(IndexMap::new())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = IndexMap::new();
            while let Some(name) = seq.next_element::<String>()? {
                out.insert(name, None);
            }
            Ok(out)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = IndexMap::new();
            while let Some(name) = map.next_key::<String>()? {
                let v = map.next_value::<Option<T>>()?;
                out.insert(name, v);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V(PhantomData))
}

/// `gpus`: `all`, or a list of device requests.
pub(super) fn de_gpus<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<DeviceRequest>, D::Error> {
    de_list_or_str(d, "\"all\" or a list of device requests", |v| {
        if v.eq_ignore_ascii_case("all") {
            Ok(vec![DeviceRequest {
                count: Some(DeviceCount::All),
                ..DeviceRequest::default()
            }])
        } else {
            Err(format!(
                "invalid gpus {v:?}: expected \"all\" or a list of device requests"
            ))
        }
    })
}

/// Microseconds: an integer, or a duration string (`400ms` -> 400000).
pub(super) fn de_micros<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let Some(text) = ScalarText::deserialize(d)?.0 else {
        return Ok(None);
    };
    if let Ok(n) = text.trim().parse::<i64>() {
        return Ok(Some(n));
    }
    let dur: Duration = text.trim().parse().map_err(|e| {
        de::Error::custom(format!(
            "invalid value {text:?}: expected microseconds or a duration ({e})"
        ))
    })?;
    i64::try_from(dur.0.as_micros())
        .map(Some)
        .map_err(|_| de::Error::custom(format!("duration {text:?} is too long")))
}
