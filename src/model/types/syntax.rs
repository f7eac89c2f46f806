//! Syntax the model's types share: the short-or-long forms (`build: ./dir` or a mapping,
//! `secrets: [name]`), `extra_hosts` lists, sorted map output as Go's YAML encoder prints maps,
//! and the `skip_serializing_if` predicates that stand for Go's `omitempty`.

use std::fmt;
use std::marker::PhantomData;

use indexmap::IndexMap;
use serde::de::{self, DeserializeOwned, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::fields::{struct_fields, Extensions, LenientText, ScalarText, StringOrList, TextShape};

/// The field name a struct collects its `x-*` keys under (see [`crate::model::de`]).
const EXTENSIONS_FIELD: &str = crate::model::de::EXTENSIONS_FIELD;

/// `environment`-like mappings: a variable written without a value (`- NAME` or `NAME:`) is
/// `None`, to be resolved from the environment later.
pub type MappingWithEquals = IndexMap<String, Option<String>>;

/// `extra_hosts`: host name -> IP addresses, in the order written. Printed as Docker Compose
/// does: a sorted list of `host=ip` entries.
pub type HostsList = IndexMap<String, Vec<String>>;

fn add_host<E: de::Error>(list: &mut HostsList, host: String, ips: Vec<String>) -> Result<(), E> {
    if host.is_empty() || host.contains([':', '=']) {
        return Err(E::custom(format!("bad host name {host:?}")));
    }
    let ips = ips.into_iter().map(|ip| {
        // `[::1]` -> `::1`: brackets only delimit an IPv6 address.
        match ip.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            Some(inner) if !inner.is_empty() => inner.to_string(),
            _ => ip,
        }
    });
    list.entry(host).or_default().extend(ips);
    Ok(())
}

pub(crate) fn de_hosts<'de, D: Deserializer<'de>>(d: D) -> Result<HostsList, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = HostsList;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of \"HOST:IP\" strings or a mapping of host names to IPs")
        }
        fn visit_unit<E: de::Error>(self) -> Result<HostsList, E> {
            Ok(HostsList::new())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HostsList, A::Error> {
            let mut list = HostsList::new();
            while let Some(entry) = seq.next_element::<String>()? {
                // `=` first: it cannot appear in an IPv6 address, `:` can.
                let split = entry.split_once('=').or_else(|| entry.split_once(':'));
                let Some((host, ip)) = split else {
                    return Err(de::Error::custom(format!(
                        "invalid extra host {entry:?}: expected \"HOST:IP\" or \"HOST=IP\""
                    )));
                };
                let ips = ip.split(',').map(str::to_string).collect();
                add_host(&mut list, host.to_string(), ips)?;
            }
            Ok(list)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HostsList, A::Error> {
            let mut list = HostsList::new();
            while let Some(host) = map.next_key::<String>()? {
                let ips = map.next_value::<StringOrList>()?.0;
                add_host(&mut list, host, ips)?;
            }
            Ok(list)
        }
    }
    d.deserialize_any(V)
}

pub(crate) fn ser_hosts<S: Serializer>(hosts: &HostsList, s: S) -> Result<S::Ok, S::Error> {
    let mut list: Vec<String> = hosts
        .iter()
        .flat_map(|(h, ips)| ips.iter().map(move |ip| format!("{h}={ip}")))
        .collect();
    list.sort();
    list.serialize(s)
}

pub(crate) fn default_true() -> bool {
    true
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

pub(crate) fn is_true(b: &bool) -> bool {
    *b
}

/// Go's `omitempty` on a plain value: absent and zero/empty both print nothing.
pub(crate) fn none_or_default<T: Default + PartialEq>(v: &Option<T>) -> bool {
    v.as_ref().is_none_or(|v| *v == T::default())
}

/// Go's `omitempty` on a struct value: the zero value prints nothing.
pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Serializes a map with its keys sorted, as Go's YAML encoder prints every map.
pub(crate) fn ser_sorted<S: Serializer, V: Serialize>(
    m: &IndexMap<String, V>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut entries: Vec<(&String, &V)> = m.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    s.collect_map(entries)
}

/// Serializes extensions with keys sorted at every level (they are Go maps in Compose).
pub(crate) fn ser_extensions<S: Serializer>(m: &Extensions, s: S) -> Result<S::Ok, S::Error> {
    fn sorted(v: &serde_yaml_ng::Value) -> serde_yaml_ng::Value {
        use serde_yaml_ng::Value as V;
        match v {
            V::Mapping(m) => {
                let mut entries: Vec<_> = m.iter().collect();
                entries.sort_by_key(|(k, _)| key_text(k));
                V::Mapping(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sorted(v)))
                        .collect(),
                )
            }
            V::Sequence(items) => V::Sequence(items.iter().map(sorted).collect()),
            V::Tagged(t) => sorted(&t.value),
            other => other.clone(),
        }
    }
    fn key_text(k: &serde_yaml_ng::Value) -> String {
        match k {
            serde_yaml_ng::Value::String(s) => s.clone(),
            other => serde_yaml_ng::to_string(other).unwrap_or_default(),
        }
    }
    let mut entries: Vec<(&String, serde_yaml_ng::Value)> =
        m.iter().map(|(k, v)| (k, sorted(v))).collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    s.collect_map(entries)
}

/// A CPU count: a number, or a string holding one (`cpus: "0.5"`).
pub(crate) fn de_cpus<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let Some(text) = ScalarText::deserialize(d)?.0 else {
        return Ok(None);
    };
    text.trim()
        .parse::<f64>()
        .map(Some)
        .map_err(|_| de::Error::custom(format!("invalid cpus {text:?}: expected a number")))
}

/// A type with a short scalar syntax besides its mapping form (`build: ./dir`,
/// `secrets: [name]`, `extends: base`, `env_file: [path]`).
pub(crate) trait ShortSyntax: Sized + DeserializeOwned {
    /// Builds the value from the short form.
    fn from_short(s: String) -> Result<Self, String>;
    /// Where `x-*` keys of the mapping form go; `None` when the spec allows none.
    fn extensions_mut(&mut self) -> Option<&mut Extensions>;
}

/// Deserializes a [`ShortSyntax`] type from either form.
pub(crate) struct Short<T>(pub T);

impl<'de, T: ShortSyntax> Deserialize<'de> for Short<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: ShortSyntax> TextShape<'de> for V<T> {
            type Value = Short<T>;
            const BOOL_IS_TEXT: bool = false;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a mapping")
            }
            fn text<E: de::Error>(self, text: String) -> Result<Short<T>, E> {
                T::from_short(text).map(Short).map_err(E::custom)
            }
            fn map<A: MapAccess<'de>>(self, map: A) -> Result<Short<T>, A::Error> {
                struct_from_map::<A, T>(map).map(Short)
            }
        }
        // As a struct, so the loader's deserializer checks the mapping form's keys (located,
        // with a suggestion) and routes its `x-*` keys; it hands scalars to the visitor as they are.
        let visitor = LenientText(V(PhantomData));
        d.deserialize_struct("ShortSyntax", struct_fields::<T>(), visitor)
    }
}

pub(crate) fn de_short_opt<'de, D: Deserializer<'de>, T: ShortSyntax>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Ok(Option::<Short<T>>::deserialize(d)?.map(|s| s.0))
}

pub(crate) fn de_short_vec<'de, D: Deserializer<'de>, T: ShortSyntax>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    let items = Option::<Vec<Short<T>>>::deserialize(d)?.unwrap_or_default();
    Ok(items.into_iter().map(|s| s.0).collect())
}

/// Deserializes `T` (a derived struct) from a mapping handed to a hand-written visitor. A
/// mapping the loader's deserializer already checked passes through unchanged (its `x-*` entry
/// included); from any other deserializer, unknown keys are rejected here and `x-*` keys are
/// collected into `T`'s extensions.
pub(crate) fn struct_from_map<'de, A, T>(map: A) -> Result<T, A::Error>
where
    A: MapAccess<'de>,
    T: ShortSyntax,
{
    let fields = struct_fields::<T>();
    let mut ext = Extensions::new();
    let filtered = FilteredMap {
        inner: map,
        fields,
        ext: &mut ext,
    };
    let mut value = T::deserialize(de::value::MapAccessDeserializer::new(filtered))?;
    if !ext.is_empty() {
        match value.extensions_mut() {
            Some(e) => *e = ext,
            None => {
                let key = ext.keys().next().cloned().unwrap_or_default();
                return Err(de::Error::unknown_field(&key, fields));
            }
        }
    }
    Ok(value)
}

/// Passes a mapping's entries through to a derived struct, diverting `x-*` keys into `ext` and
/// rejecting keys the struct does not have.
struct FilteredMap<'x, A> {
    inner: A,
    fields: &'static [&'static str],
    ext: &'x mut Extensions,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for FilteredMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            let Some(key) = self.inner.next_key::<String>()? else {
                return Ok(None);
            };
            if key.starts_with("x-") && key != EXTENSIONS_FIELD {
                let v = self.inner.next_value::<serde_yaml_ng::Value>()?;
                self.ext.insert(key, v);
                continue;
            }
            if !self.fields.contains(&key.as_str()) {
                return Err(de::Error::unknown_field(&key, self.fields));
            }
            return seed
                .deserialize(IntoDeserializer::<'de, A::Error>::into_deserializer(key))
                .map(Some);
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, A::Error> {
        self.inner.next_value_seed(seed)
    }
}
