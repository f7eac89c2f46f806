//! A serde `Deserializer` over the loader's [`Node`] tree, so the typed model is built straight
//! from positioned nodes and every error it raises carries the file, line and key path where it
//! happened.
//!
//! It also does, once and for every type, the two things Compose needs from typed loading:
//! - **Lenient scalars.** Interpolation yields strings (`"${PORT}"` -> `"8080"`), and YAML gives
//!   numbers where strings are meant (`VERSION: 1.0`), so a string is accepted for a number or a
//!   boolean and a number or boolean for a string, as compose-go casts them.
//! - **Key checking.** A struct's known fields are the `fields` serde passes to
//!   `deserialize_struct`; any other key is an "unknown key" error at the key's own line, with a
//!   suggestion. `x-` keys are extensions: they go to the struct's field named `x-*` if it has one
//!   and are otherwise ignored. Mappings that hold user data (labels, environment) are deserialized
//!   as maps, not structs, so their `x-` keys stay data.

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

use super::error::{join_index, join_key, ErrorKind, LoadError, Span};
use super::yaml::{format_float, Key, Node, Value};

/// The field name under which a struct collects its `x-` extension keys.
pub const EXTENSIONS_FIELD: &str = "x-*";

/// Deserializes a typed value from a node tree; `path` is the node's key path for messages.
pub fn from_node_at<T: DeserializeOwned>(node: &Node, path: &str) -> Result<T, LoadError> {
    T::deserialize(NodeDe {
        node,
        path: path.to_string(),
    })
    .map_err(|e| e.into_load_error(&node.span, path))
}

/// Deserializes a typed value from the root of a node tree.
pub fn from_node<T: DeserializeOwned>(node: &Node) -> Result<T, LoadError> {
    from_node_at(node, "")
}

/// A deserialization error; located by the innermost node that saw it. Boxed to keep results
/// small on the hot path.
#[derive(Debug)]
pub struct DeError(Box<DeErrorInner>);

#[derive(Debug)]
struct DeErrorInner {
    located: Option<(Span, String)>,
    kind: ErrorKind,
}

impl DeError {
    fn new(located: Option<(Span, String)>, kind: ErrorKind) -> Self {
        DeError(Box::new(DeErrorInner { located, kind }))
    }
}

impl DeError {
    fn at(mut self, span: &Span, path: &str) -> Self {
        if self.0.located.is_none() {
            self.0.located = Some((span.clone(), path.to_string()));
        }
        self
    }

    fn into_load_error(self, span: &Span, path: &str) -> LoadError {
        let DeErrorInner { located, kind } = *self.0;
        let (span, path) = located.unwrap_or_else(|| (span.clone(), path.to_string()));
        LoadError::new(span, path, kind)
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.kind)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(None, ErrorKind::Other(msg.to_string()))
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::new(
            None,
            ErrorKind::WrongType {
                expected: exp.to_string(),
                found: describe(&unexp),
            },
        )
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::custom(format_args!(
            "invalid value {}, expected {}",
            describe(&unexp),
            exp
        ))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError::custom(format_args!(
            "invalid value {variant:?}, expected one of: {}",
            expected.join(", ")
        ))
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::custom(format_args!("missing required key `{field}`"))
    }
}

/// Names what was found the way Compose users read it (`null`, not serde's "unit value").
fn describe(unexp: &de::Unexpected<'_>) -> String {
    use de::Unexpected as U;
    match unexp {
        U::Unit | U::Option => "null".into(),
        U::Bool(b) => format!("boolean {b}"),
        U::Unsigned(n) => format!("integer {n}"),
        U::Signed(n) => format!("integer {n}"),
        U::Float(n) => format!("number {}", format_float(*n)),
        U::Str(s) => format!("string {s:?}"),
        U::Seq => "a sequence".into(),
        U::Map => "a mapping".into(),
        other => other.to_string(),
    }
}

/// Closest known name to a mistyped key, for "did you mean" hints.
fn suggest(key: &str, fields: &[&str]) -> Option<String> {
    fields
        .iter()
        .filter(|f| **f != EXTENSIONS_FIELD)
        .map(|f| (edit_distance(key, f), *f))
        .filter(|(d, f)| *d <= 2.max(f.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

struct NodeDe<'de> {
    node: &'de Node,
    path: String,
}

impl<'de> NodeDe<'de> {
    fn locate<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| e.at(&self.node.span, &self.path))
    }

    fn visit_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Seq(items) => visitor.visit_seq(SeqAcc {
                items: items.iter(),
                path: &self.path,
                index: 0,
            }),
            Value::Map(m) => visitor.visit_map(MapAcc::new(m.iter().collect(), &self.path)),
        };
        self.locate(r)
    }

    fn parse_str<T: std::str::FromStr>(&self) -> Option<T> {
        match &self.node.value {
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// Compose's reading of a string as a boolean (compose-go accepts YAML 1.1's spellings here).
fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

macro_rules! deserialize_int {
    ($($method:ident => $visit:ident : $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            if let Some(v) = self.parse_str::<$ty>() {
                return self.locate(visitor.$visit(v));
            }
            self.visit_any(visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.visit_any(visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if let Value::Str(s) = &self.node.value {
            if let Some(b) = parse_bool(s) {
                return self.locate(visitor.visit_bool(b));
            }
        }
        self.visit_any(visitor)
    }

    deserialize_int! {
        deserialize_i8 => visit_i64: i64,
        deserialize_i16 => visit_i64: i64,
        deserialize_i32 => visit_i64: i64,
        deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u64: u64,
        deserialize_u16 => visit_u64: u64,
        deserialize_u32 => visit_u64: u64,
        deserialize_u64 => visit_u64: u64,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Int(i) => self.locate(visitor.visit_f64(*i as f64)),
            Value::Str(_) => match self.parse_str::<f64>() {
                Some(f) => self.locate(visitor.visit_f64(f)),
                None => self.visit_any(visitor),
            },
            _ => self.visit_any(visitor),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Str(s) => self.locate(visitor.visit_borrowed_str(s)),
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                let text = self.node.scalar_text().unwrap_or_default();
                self.locate(visitor.visit_string(text))
            }
            _ => self.visit_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Null => self.locate(visitor.visit_none()),
            _ => {
                let span = self.node.span.clone();
                let path = self.path.clone();
                visitor.visit_some(self).map_err(|e| e.at(&span, &path))
            }
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.visit_any(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.visit_any(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let span = self.node.span.clone();
        let path = self.path.clone();
        visitor
            .visit_newtype_struct(self)
            .map_err(|e| e.at(&span, &path))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.visit_any(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.visit_any(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.visit_any(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.visit_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        static EMPTY: std::sync::OnceLock<super::yaml::Mapping> = std::sync::OnceLock::new();
        let map = match &self.node.value {
            Value::Map(m) => m,
            // `volumes: {data: }`: a null where a struct is expected means "all defaults".
            Value::Null => EMPTY.get_or_init(super::yaml::Mapping::new),
            _ => return self.visit_any(visitor),
        };
        let wants_ext = fields.contains(&EXTENSIONS_FIELD);
        let mut entries = Vec::with_capacity(map.len());
        let mut ext = Vec::new();
        for (k, v) in map {
            if fields.contains(&k.name.as_str()) && k.name != EXTENSIONS_FIELD {
                entries.push((k, v));
            } else if k.name.starts_with("x-") {
                if wants_ext {
                    ext.push((k, v));
                }
            } else {
                return Err(DeError::new(
                    Some((k.span.clone(), join_key(&self.path, &k.name))),
                    ErrorKind::UnknownKey {
                        key: k.name.clone(),
                        hint: suggest(&k.name, fields).map(|s| format!("did you mean `{s}`?")),
                    },
                ));
            }
        }
        let mut acc = MapAcc::new(entries, &self.path);
        if wants_ext && !ext.is_empty() {
            acc.extensions = Some(ext);
        }
        self.locate(visitor.visit_map(acc))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Str(s) => {
                let de: de::value::StrDeserializer<'_, DeError> = s.as_str().into_deserializer();
                self.locate(visitor.visit_enum(de))
            }
            Value::Map(m) if m.len() == 1 => {
                let (k, v) = m.iter().next().expect("one entry");
                let r = visitor.visit_enum(EnumAcc {
                    key: k,
                    value: v,
                    path: join_key(&self.path, &k.name),
                });
                self.locate(r)
            }
            _ => self.visit_any(visitor),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

struct SeqAcc<'de, 'p> {
    items: std::slice::Iter<'de, Node>,
    path: &'p str,
    index: usize,
}

impl<'de> de::SeqAccess<'de> for SeqAcc<'de, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(node) = self.items.next() else {
            return Ok(None);
        };
        let path = join_index(self.path, self.index);
        self.index += 1;
        let r = seed.deserialize(NodeDe {
            node,
            path: path.clone(),
        });
        r.map(Some).map_err(|e| e.at(&node.span, &path))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapAcc<'de, 'p> {
    entries: std::vec::IntoIter<(&'de Key, &'de Node)>,
    current: Option<(&'de Key, &'de Node)>,
    extensions: Option<Vec<(&'de Key, &'de Node)>>,
    /// Set once the synthetic `x-*` key has been handed out and its value is due.
    ext_value_due: Option<Vec<(&'de Key, &'de Node)>>,
    path: &'p str,
}

impl<'de, 'p> MapAcc<'de, 'p> {
    fn new(entries: Vec<(&'de Key, &'de Node)>, path: &'p str) -> Self {
        MapAcc {
            entries: entries.into_iter(),
            current: None,
            extensions: None,
            ext_value_due: None,
            path,
        }
    }
}

impl<'de> de::MapAccess<'de> for MapAcc<'de, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        if let Some((k, v)) = self.entries.next() {
            self.current = Some((k, v));
            let key_path = join_key(self.path, &k.name);
            let de: de::value::BorrowedStrDeserializer<'de, DeError> =
                de::value::BorrowedStrDeserializer::new(&k.name);
            return seed
                .deserialize(de)
                .map(Some)
                .map_err(|e| e.at(&k.span, &key_path));
        }
        if let Some(ext) = self.extensions.take() {
            self.ext_value_due = Some(ext);
            let de: de::value::StrDeserializer<'_, DeError> = EXTENSIONS_FIELD.into_deserializer();
            return seed.deserialize(de).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        if let Some(ext) = self.ext_value_due.take() {
            return seed.deserialize(ExtDe {
                entries: ext,
                path: self.path,
            });
        }
        let (k, node) = self
            .current
            .take()
            .ok_or_else(|| <DeError as de::Error>::custom("value requested before key"))?;
        let path = join_key(self.path, &k.name);
        seed.deserialize(NodeDe {
            node,
            path: path.clone(),
        })
        .map_err(|e| e.at(&node.span, &path))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len() + usize::from(self.extensions.is_some()))
    }
}

/// The value of the synthetic `x-*` key: a mapping of a struct's extension keys.
struct ExtDe<'de, 'p> {
    entries: Vec<(&'de Key, &'de Node)>,
    path: &'p str,
}

impl<'de> de::Deserializer<'de> for ExtDe<'de, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(MapAcc::new(self.entries, self.path))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct EnumAcc<'de> {
    key: &'de Key,
    value: &'de Node,
    path: String,
}

impl<'de> de::EnumAccess<'de> for EnumAcc<'de> {
    type Error = DeError;
    type Variant = NodeDe<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, NodeDe<'de>), DeError> {
        let de: de::value::BorrowedStrDeserializer<'de, DeError> =
            de::value::BorrowedStrDeserializer::new(&self.key.name);
        let v = seed.deserialize(de)?;
        Ok((
            v,
            NodeDe {
                node: self.value,
                path: self.path,
            },
        ))
    }
}

impl<'de> de::VariantAccess<'de> for NodeDe<'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_struct(self, "", fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::yaml::parse_file_text;
    use indexmap::IndexMap;
    use serde::Deserialize;
    use std::path::Path;

    #[derive(Debug, Deserialize, PartialEq, Default)]
    #[serde(default)]
    struct Svc {
        image: Option<String>,
        replicas: Option<u32>,
        cpus: Option<f64>,
        tty: bool,
        labels: IndexMap<String, String>,
        command: Vec<String>,
        #[serde(rename = "x-*")]
        extensions: IndexMap<String, serde_yaml_ng::Value>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Top {
        services: IndexMap<String, Svc>,
    }

    fn load<T: DeserializeOwned>(src: &str) -> Result<T, LoadError> {
        let node = parse_file_text(src, Some(Path::new("compose.yaml"))).expect("yaml");
        from_node(&node)
    }

    #[test]
    fn lenient_scalars() {
        let t: Top = load(
            "services:\n  a:\n    image: 10\n    replicas: '3'\n    cpus: '0.5'\n    tty: 'true'\n    labels: {n: 1, b: false}\n",
        )
        .unwrap();
        let a = &t.services["a"];
        assert_eq!(a.image.as_deref(), Some("10"));
        assert_eq!(a.replicas, Some(3));
        assert_eq!(a.cpus, Some(0.5));
        assert!(a.tty);
        assert_eq!(a.labels["n"], "1");
        assert_eq!(a.labels["b"], "false");
    }

    #[test]
    fn unknown_key_is_located_with_suggestion() {
        let err = load::<Top>("services:\n  a:\n    image: x\n    imagee: y\n").unwrap_err();
        assert_eq!(err.span.line, 4);
        assert_eq!(err.span.col, 5);
        assert_eq!(err.path, "services.a.imagee");
        assert_eq!(
            err.to_string(),
            "compose.yaml:4:5: services.a.imagee: unknown key `imagee`, did you mean `image`?"
        );
    }

    #[test]
    fn extensions_are_collected_and_labels_keep_x_keys() {
        let t: Top =
            load("services:\n  a:\n    x-foo: {bar: 1}\n    labels:\n      x-keep: v\n").unwrap();
        let a = &t.services["a"];
        assert_eq!(a.labels["x-keep"], "v");
        assert!(a.extensions.contains_key("x-foo"));
    }

    #[test]
    fn type_errors_name_line_path_and_expectation() {
        let err = load::<Top>("services:\n  a:\n    command:\n      - [nested]\n").unwrap_err();
        assert_eq!(err.span.line, 4);
        assert_eq!(err.path, "services.a.command[0]");
        assert_eq!(
            err.to_string(),
            "compose.yaml:4:9: services.a.command[0]: expected a string, found a sequence"
        );
        let err = load::<Top>("services:\n  a:\n    replicas: lots\n").unwrap_err();
        assert_eq!(err.span.line, 3);
        assert!(err.to_string().contains("found string \"lots\""), "{err}");
        let err = load::<Top>("services:\n  a: 3\n").unwrap_err();
        assert_eq!(err.path, "services.a");
        assert!(
            err.to_string()
                .ends_with("expected struct Svc, found integer 3"),
            "{err}"
        );
    }

    #[test]
    fn custom_errors_from_deserialize_with_are_located() {
        fn even<'de, D: de::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
            let n = u32::deserialize(d)?;
            if n % 2 == 1 {
                return Err(de::Error::custom(format!(
                    "invalid count {n}: expected an even number"
                )));
            }
            Ok(n)
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct E {
            #[serde(deserialize_with = "even")]
            n: u32,
        }
        let err = load::<IndexMap<String, E>>("a:\n  n: 2\nb:\n  n: 3\n").unwrap_err();
        assert_eq!(err.span.line, 4);
        assert_eq!(err.path, "b.n");
        assert!(err
            .to_string()
            .ends_with("invalid count 3: expected an even number"));
    }

    #[test]
    fn null_struct_is_default_and_missing_field_is_named() {
        let t: Top = load("services:\n  a:\n").unwrap();
        assert_eq!(t.services["a"], Svc::default());
        let err = load::<Top>("other: 1\n").unwrap_err();
        assert!(err.to_string().contains("unknown key `other`"), "{err}");
        let err = load::<Top>("{}\n").unwrap_err();
        assert!(
            err.to_string().contains("missing required key `services`"),
            "{err}"
        );
    }
}
