//! `provider`: a service that an external component manages instead of a container.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, SeqAccess};
use serde::{Deserialize, Deserializer, Serialize};

use crate::model::types::fields::{seq_to_vec, Extensions, LenientText, ScalarText, TextShape};
use crate::model::types::syntax::{ser_extensions, ser_sorted};

/// `provider`: a service managed by an external component instead of a container.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceProviderConfig {
    #[serde(rename = "type")]
    pub kind: String,
    /// Each option may repeat; a single value is a one-item list.
    #[serde(
        default,
        deserialize_with = "de_multi_options",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub options: IndexMap<String, Vec<String>>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// `provider.options`: each value a scalar or a list of scalars.
fn de_multi_options<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<IndexMap<String, Vec<String>>, D::Error> {
    struct Item(Vec<String>);
    impl<'de> TextShape<'de> for Item {
        type Value = Item;
        const BOOL_IS_TEXT: bool = true;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a scalar or a list of scalars")
        }
        fn text<E: de::Error>(self, text: String) -> Result<Item, E> {
            Ok(Item(vec![text]))
        }
        fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Item, A::Error> {
            let items: Vec<ScalarText> = seq_to_vec(seq)?;
            Ok(Item(
                items.into_iter().map(|s| s.0.unwrap_or_default()).collect(),
            ))
        }
    }
    impl<'de> Deserialize<'de> for Item {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(LenientText(Item(Vec::new())))
        }
    }
    let m = Option::<IndexMap<String, Item>>::deserialize(d)?.unwrap_or_default();
    Ok(m.into_iter().map(|(k, v)| (k, v.0)).collect())
}
