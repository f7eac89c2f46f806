//! Helpers the value types of this folder share, so each shape Compose reads is written once:
//! - lenient scalars: [`Scalar`] (type kept, for conversions with checks) and [`ScalarText`]
//!   (any scalar as its text), both on top of [`LenientText`], the one visitor that turns
//!   numbers and booleans into the strings Compose reads them as;
//! - the recurring syntaxes: [`StringOrList`] (`string_or_list`), a list or one string that
//!   stands for it ([`de_list_or_str`]), the `list_or_dict` readers ([`de_labels`],
//!   [`de_mapping_with_equals`]) and [`de_options`];
//! - long-syntax mappings read by hand: key checking with `x-` extensions ([`read_map`]) and
//!   printing them back ([`serialize_extensions`]);
//! - [`struct_fields`], the keys a derived struct accepts;
//! - for the tests of this folder, [`test_support`]: loading YAML through the loader, expected
//!   errors, and schema coverage.

use std::fmt;
use std::marker::PhantomData;

use indexmap::IndexMap;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Unexpected,
    Visitor,
};
use serde::ser::SerializeMap;
use serde::Deserialize;

use crate::model::yaml::format_float;

/// `x-*` keys of a mapping, kept verbatim in file order and printed back after the known keys
/// (the output step flattens a struct's `x-*` field back into its parent).
pub type Extensions = IndexMap<String, serde_yaml_ng::Value>;

// ---------------------------------------------------------------------------------------------
// Scalars read as text
// ---------------------------------------------------------------------------------------------

/// A shape whose scalars Compose reads as text: a string as is, an integer in decimal, a float
/// as Compose prints it (`1.5`), and a boolean as `true`/`false` where [`Self::BOOL_IS_TEXT`].
/// Other kinds of value are a type error unless the shape overrides the method that reads them.
/// [`LenientText`] is the one serde visitor for every such shape.
pub(crate) trait TextShape<'de>: Sized {
    type Value;
    /// Whether a boolean reads as text; otherwise it is a type error.
    const BOOL_IS_TEXT: bool;

    /// What the shape accepts, for "expected ..." in type errors.
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;

    /// The value from a scalar's text.
    fn text<E: de::Error>(self, text: String) -> Result<Self::Value, E>;

    fn null<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::invalid_type(Unexpected::Unit, &Expecting(&self)))
    }

    fn none<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::invalid_type(Unexpected::Option, &Expecting(&self)))
    }

    fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let _ = seq;
        Err(de::Error::invalid_type(Unexpected::Seq, &Expecting(&self)))
    }

    fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let _ = map;
        Err(de::Error::invalid_type(Unexpected::Map, &Expecting(&self)))
    }
}

/// A shape's `expecting` as a [`de::Expected`], for the type errors it raises itself.
struct Expecting<'a, S>(&'a S);

impl<'de, S: TextShape<'de>> de::Expected for Expecting<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }
}

/// The visitor of a [`TextShape`].
pub(crate) struct LenientText<S>(pub S);

impl<'de, S: TextShape<'de>> Visitor<'de> for LenientText<S> {
    type Value = S::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<S::Value, E> {
        self.0.text(v.to_string())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<S::Value, E> {
        self.0.text(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<S::Value, E> {
        self.0.text(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<S::Value, E> {
        self.0.text(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<S::Value, E> {
        self.0.text(format_float(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<S::Value, E> {
        if S::BOOL_IS_TEXT {
            self.0.text(v.to_string())
        } else {
            Err(E::invalid_type(Unexpected::Bool(v), &self))
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<S::Value, E> {
        self.0.null()
    }
    fn visit_none<E: de::Error>(self) -> Result<S::Value, E> {
        self.0.none()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<S::Value, A::Error> {
        self.0.seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<S::Value, A::Error> {
        self.0.map(map)
    }
}

/// A scalar read as text, as Compose does where it expects a string (`8080` -> `"8080"`,
/// `true` -> `"true"`); `null` is `None`.
pub(crate) struct ScalarText(pub Option<String>);

impl TextShape<'_> for ScalarText {
    type Value = ScalarText;
    const BOOL_IS_TEXT: bool = true;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number, boolean or null")
    }
    fn text<E: de::Error>(self, text: String) -> Result<ScalarText, E> {
        Ok(ScalarText(Some(text)))
    }
    fn null<E: de::Error>(self) -> Result<ScalarText, E> {
        Ok(ScalarText(None))
    }
    fn none<E: de::Error>(self) -> Result<ScalarText, E> {
        Ok(ScalarText(None))
    }
}

impl From<ScalarText> for Option<String> {
    fn from(s: ScalarText) -> Self {
        s.0
    }
}

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientText(ScalarText(None)))
    }
}

/// `string_or_list`: one string (or number) is a one-item list; null is empty.
pub(crate) struct StringOrList(pub Vec<String>);

impl<'de> TextShape<'de> for StringOrList {
    type Value = StringOrList;
    const BOOL_IS_TEXT: bool = false;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a list of strings")
    }
    fn text<E: de::Error>(self, text: String) -> Result<StringOrList, E> {
        Ok(StringOrList(vec![text]))
    }
    fn null<E: de::Error>(self) -> Result<StringOrList, E> {
        Ok(StringOrList(Vec::new()))
    }
    fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<StringOrList, A::Error> {
        seq_to_vec(seq).map(StringOrList)
    }
}

impl<'de> Deserialize<'de> for StringOrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientText(StringOrList(Vec::new())))
    }
}

pub(crate) fn de_string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    StringOrList::deserialize(d).map(|l| l.0)
}

/// Reads every remaining item of a sequence.
pub(crate) fn seq_to_vec<'de, T, A>(mut seq: A) -> Result<Vec<T>, A::Error>
where
    T: Deserialize<'de>,
    A: SeqAccess<'de>,
{
    let mut out = Vec::new();
    while let Some(item) = seq.next_element()? {
        out.push(item);
    }
    Ok(out)
}

/// Reads a list that may also be written as one string (`env_file: .env`, `gpus: all`); null is
/// empty. `from_str` turns the string into the list, or says why it cannot; `expecting` names
/// the shape in type errors.
pub(crate) fn de_list_or_str<'de, D, T, F>(
    d: D,
    expecting: &'static str,
    from_str: F,
) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
    F: FnOnce(&str) -> Result<Vec<T>, String>,
{
    struct V<T, F>(&'static str, F, PhantomData<T>);
    impl<'de, T, F> Visitor<'de> for V<T, F>
    where
        T: Deserialize<'de>,
        F: FnOnce(&str) -> Result<Vec<T>, String>,
    {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
            (self.1)(v).map_err(E::custom)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Vec<T>, A::Error> {
            seq_to_vec(seq)
        }
    }
    d.deserialize_any(V::<T, F>(expecting, from_str, PhantomData))
}

// ---------------------------------------------------------------------------------------------
// list_or_dict
// ---------------------------------------------------------------------------------------------

/// Reads `list_or_dict`: a list of `KEY=VALUE` strings or a mapping of scalars, each read as
/// an `S` (null is empty). `on_item` gets the value: `None` for `KEY` without `=` or a null
/// mapping value. `expecting` names the shape in type errors.
pub(crate) fn de_list_or_dict<'de, D, S, T, F>(
    d: D,
    expecting: &'static str,
    on_item: F,
) -> Result<IndexMap<String, T>, D::Error>
where
    D: Deserializer<'de>,
    S: Deserialize<'de> + Into<Option<String>>,
    F: Fn(Option<String>) -> T,
{
    struct V<S, T, F>(&'static str, F, PhantomData<(S, T)>);
    impl<'de, S, T, F> Visitor<'de> for V<S, T, F>
    where
        S: Deserialize<'de> + Into<Option<String>>,
        F: Fn(Option<String>) -> T,
    {
        type Value = IndexMap<String, T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(IndexMap::new())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = IndexMap::new();
            while let Some(item) = seq.next_element::<String>()? {
                match item.split_once('=') {
                    Some((k, v)) => out.insert(k.to_string(), (self.1)(Some(v.to_string()))),
                    None => out.insert(item, (self.1)(None)),
                };
            }
            Ok(out)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = IndexMap::new();
            while let Some(k) = map.next_key::<String>()? {
                let v = map.next_value::<S>()?;
                out.insert(k, (self.1)(v.into()));
            }
            Ok(out)
        }
    }
    d.deserialize_any(V::<S, T, F>(expecting, on_item, PhantomData))
}

const LIST_OR_DICT: &str = "a list of \"KEY=VALUE\" strings or a mapping";

/// `environment`, `build.args`: a variable without a value stays `None`.
pub(crate) fn de_mapping_with_equals<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<IndexMap<String, Option<String>>, D::Error> {
    de_list_or_dict::<D, ScalarText, _, _>(d, LIST_OR_DICT, |v| v)
}

/// `labels`, `annotations`, `sysctls`, ...: a key without a value is the empty string.
pub(crate) fn de_labels<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<IndexMap<String, String>, D::Error> {
    de_list_or_dict::<D, ScalarText, _, _>(d, LIST_OR_DICT, Option::unwrap_or_default)
}

/// `driver_opts`, `logging.options`: a mapping of scalars, kept as strings.
pub(crate) fn de_options<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<IndexMap<String, String>, D::Error> {
    let m = Option::<IndexMap<String, ScalarText>>::deserialize(d)?.unwrap_or_default();
    Ok(m.into_iter()
        .map(|(k, v)| (k, v.0.unwrap_or_default()))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Typed scalars and hand-read mappings
// ---------------------------------------------------------------------------------------------

/// A scalar as Compose reads it before converting: interpolation leaves strings where
/// numbers and booleans are meant (`target: "${PORT}"`), and YAML gives numbers where
/// strings are meant (`published: 8080`), so conversions go through this type.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl Scalar {
    /// How the value reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Scalar::Null => "null".to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => format_float(*f),
            Scalar::Str(s) => format!("{s:?}"),
        }
    }

    /// The value as text (`8080` -> `"8080"`); null is "not set".
    pub fn into_string<E: de::Error>(self, _key: &str) -> Result<Option<String>, E> {
        Ok(self.into())
    }

    /// A boolean, also from the strings Go's `strconv.ParseBool` accepts (`"true"`, `"0"`).
    pub fn into_bool<E: de::Error>(self, key: &str) -> Result<Option<bool>, E> {
        match self {
            Scalar::Null => Ok(None),
            Scalar::Bool(b) => Ok(Some(b)),
            Scalar::Str(s) => match s.as_str() {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(Some(true)),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(Some(false)),
                _ => Err(E::custom(format!(
                    "invalid value {s:?} for `{key}`: expected a boolean (true or false)"
                ))),
            },
            other => Err(E::custom(format!(
                "invalid value {} for `{key}`: expected a boolean (true or false)",
                other.describe()
            ))),
        }
    }

    /// An integer, also from a decimal string (`"65535"`).
    pub fn into_i64<E: de::Error>(self, key: &str) -> Result<Option<i64>, E> {
        let bad = |v: &Scalar| {
            E::custom(format!(
                "invalid value {} for `{key}`: expected an integer",
                v.describe()
            ))
        };
        match self {
            Scalar::Null => Ok(None),
            Scalar::Int(i) => Ok(Some(i)),
            Scalar::Str(ref s) => s.trim().parse().map(Some).map_err(|_| bad(&self)),
            ref other => Err(bad(other)),
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a number or a boolean")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(i64::try_from(v).map_or(Scalar::Float(v as f64), Scalar::Int))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar::Str(v))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl From<Scalar> for Option<String> {
    fn from(s: Scalar) -> Self {
        match s {
            Scalar::Null => None,
            Scalar::Bool(b) => Some(b.to_string()),
            Scalar::Int(i) => Some(i.to_string()),
            Scalar::Float(f) => Some(format_float(f)),
            Scalar::Str(s) => Some(s),
        }
    }
}

/// A mapping key that must be one of `allowed` or an `x-` extension. Checked while the key
/// is read, so the loader points the error at the key itself.
struct KeySeed<'a>(&'a [&'a str]);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        let key = String::deserialize(d)?;
        if self.0.contains(&key.as_str()) || key.starts_with("x-") {
            Ok(key)
        } else {
            Err(de::Error::custom(format!(
                "unknown key `{key}`, expected one of: {}",
                self.0.join(", ")
            )))
        }
    }
}

/// Walks a long-syntax mapping: `field` is called with each known key and must read its
/// value; `x-` keys are collected and returned; any other key is an error.
pub fn read_map<'de, A, F>(
    map: &mut A,
    allowed: &[&str],
    mut field: F,
) -> Result<Extensions, A::Error>
where
    A: MapAccess<'de>,
    F: FnMut(&str, &mut A) -> Result<(), A::Error>,
{
    let mut extensions = Extensions::new();
    while let Some(key) = map.next_key_seed(KeySeed(allowed))? {
        if key.starts_with("x-") {
            let value: serde_yaml_ng::Value = map.next_value()?;
            extensions.insert(key, value);
        } else {
            field(&key, map)?;
        }
    }
    Ok(extensions)
}

pub fn serialize_extensions<M: SerializeMap>(
    m: &mut M,
    extensions: &Extensions,
) -> Result<(), M::Error> {
    for (k, v) in extensions {
        m.serialize_entry(k, v)?;
    }
    Ok(())
}

/// The field names a derived `Deserialize` struct accepts (serde passes them to
/// `deserialize_struct`; a probe deserializer captures them).
pub(crate) fn struct_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("field probe"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("field probe"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// What the tests of this folder share: loading a value from YAML text through the loader's
/// deserializer, and checking a struct against the Compose schema.
#[cfg(test)]
pub(crate) mod test_support {
    use std::path::Path;

    use serde::de::DeserializeOwned;

    use crate::model::de::from_node;
    use crate::model::yaml::parse_file_text;
    use crate::model::LoadError;

    /// Deserializes `src`, read as the file `file`, with the loader's located errors.
    pub fn load_file<T: DeserializeOwned>(file: &str, src: &str) -> Result<T, LoadError> {
        let node = parse_file_text(src, Some(Path::new(file))).expect("valid YAML");
        from_node(&node)
    }

    /// Asserts that each YAML text fails to deserialize as `T` (through serde_yaml_ng, whose
    /// messages end with a location) with an error starting with the text given.
    pub fn assert_yaml_errors<'a, T, W>(cases: impl IntoIterator<Item = (&'a str, W)>)
    where
        T: DeserializeOwned + std::fmt::Debug,
        W: AsRef<str>,
    {
        for (yaml, want) in cases {
            let err = serde_yaml_ng::from_str::<T>(yaml).unwrap_err().to_string();
            assert!(err.starts_with(want.as_ref()), "{yaml}: {err}");
        }
    }

    /// [`load_file`] of `compose.yaml`.
    pub fn load<T: DeserializeOwned>(src: &str) -> Result<T, LoadError> {
        load_file("compose.yaml", src)
    }

    /// The conformance corpus's Compose JSON schema; `None`, with the reason printed, when the
    /// corpus is not present.
    pub fn compose_schema() -> Option<serde_json::Value> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/compose-spec/schema/compose-spec.json"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("skipped: {path} is not present");
            return None;
        };
        Some(serde_json::from_str(&text).expect("schema JSON"))
    }

    /// Asserts that every property of the schema definition `def` is a field of `T`.
    pub fn assert_fields_cover<T: DeserializeOwned>(def: &serde_json::Value, what: &str) {
        let fields = super::struct_fields::<T>();
        let props = def["properties"].as_object().expect(what);
        for key in props.keys() {
            assert!(
                fields.contains(&key.as_str()),
                "{what}: schema key `{key}` has no field"
            );
        }
    }
}
