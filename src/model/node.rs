//! The positioned tree Compose files are parsed into ([`super::yaml`]) and that the loading
//! steps (interpolation, `extends`, `include`, [`super::merge`]) work on: every [`Node`] remembers
//! the file and line it came from.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

use indexmap::IndexMap;

use super::error::{ErrorKind, LoadError, Result, Span};

/// A mapping key: compared and hashed by its text only, it also remembers where it was written so
/// that "unknown key" errors point at the key itself.
#[derive(Debug, Clone)]
pub struct Key {
    pub name: String,
    pub span: Span,
}

impl Key {
    pub fn new(name: impl Into<String>, span: Span) -> Self {
        Key {
            name: name.into(),
            span,
        }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for Key {}
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state)
    }
}
impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        &self.name
    }
}

pub type Mapping = IndexMap<Key, Node>;

/// Compose's merge tags (`!reset`, `!override`), which change how a later file replaces this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeTag {
    /// `!reset`: the value is removed (or emptied) from the merged result.
    Reset,
    /// `!override`: the value replaces the earlier one instead of being merged with it.
    Override,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Mapping),
}

#[derive(Debug, Clone)]
pub struct Node {
    pub value: Value,
    pub span: Span,
    pub tag: Option<MergeTag>,
}

impl PartialEq for Node {
    /// Nodes are equal when their values are; where they were written does not matter.
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value && self.tag == other.tag
    }
}

impl Node {
    pub fn new(value: Value, span: Span) -> Self {
        Node {
            value,
            span,
            tag: None,
        }
    }

    pub fn null(span: Span) -> Self {
        Node::new(Value::Null, span)
    }
    pub fn string(s: impl Into<String>, span: Span) -> Self {
        Node::new(Value::Str(s.into()), span)
    }
    pub fn map(m: Mapping, span: Span) -> Self {
        Node::new(Value::Map(m), span)
    }
    pub fn seq(s: Vec<Node>, span: Span) -> Self {
        Node::new(Value::Seq(s), span)
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_map(&self) -> Option<&Mapping> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_map_mut(&mut self) -> Option<&mut Mapping> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_seq_mut(&mut self) -> Option<&mut Vec<Node>> {
        match &mut self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The entry `key` of a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map().and_then(|m| m.get(key))
    }
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.as_map_mut().and_then(|m| m.get_mut(key))
    }

    /// A scalar rendered as text, as Compose does when a string is expected (`8080` -> "8080").
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(format_float(*f)),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => None,
            _ => None,
        }
    }

    /// How the node's type reads in an error: "a mapping", "a string", ...
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a sequence",
            Value::Map(_) => "a mapping",
        }
    }

    /// An error of the shape "expected X, found Y" located at this node.
    pub fn type_error(&self, path: &str, expected: &str) -> LoadError {
        LoadError::new(
            self.span.clone(),
            path,
            ErrorKind::WrongType {
                expected: expected.to_string(),
                found: self.kind_name().to_string(),
            },
        )
    }

    /// The mapping at this node, or a located type error.
    pub fn expect_map(&self, path: &str) -> Result<&Mapping> {
        self.as_map()
            .ok_or_else(|| self.type_error(path, "a mapping"))
    }

    /// Finds the node under a key path as errors print it (`services.web.ports[0]`), for
    /// locating errors that were found on the typed model. Returns the deepest node reached.
    pub fn locate(&self, path: &str) -> &Node {
        let mut node = self;
        for seg in split_path(path) {
            let next = match seg {
                PathSeg::Key(k) => node.as_map().and_then(|m| m.get(k)),
                PathSeg::Index(i) => node.as_seq().and_then(|s| s.get(i)),
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        node
    }

    /// The span of the key `path` names (its last segment), falling back to its value's span.
    pub fn locate_key_span(&self, path: &str) -> Span {
        let segs = split_path(path);
        let mut node = self;
        for (i, seg) in segs.iter().enumerate() {
            match seg {
                PathSeg::Key(k) => {
                    let Some(m) = node.as_map() else { break };
                    let Some((key, value)) = m.get_key_value(*k) else {
                        break;
                    };
                    if i + 1 == segs.len() {
                        return key.span.clone();
                    }
                    node = value;
                }
                PathSeg::Index(idx) => match node.as_seq().and_then(|s| s.get(*idx)) {
                    Some(n) => node = n,
                    None => break,
                },
            }
        }
        node.span.clone()
    }

    /// Converts to serde_yaml_ng's value for typed deserialization and output. Merge tags must
    /// have been applied by then; they are dropped here.
    pub fn to_value(&self) -> serde_yaml_ng::Value {
        use serde_yaml_ng::Value as V;
        match &self.value {
            Value::Null => V::Null,
            Value::Bool(b) => V::Bool(*b),
            Value::Int(i) => V::Number((*i).into()),
            Value::Float(f) => V::Number((*f).into()),
            Value::Str(s) => V::String(s.clone()),
            Value::Seq(s) => V::Sequence(s.iter().map(Node::to_value).collect()),
            Value::Map(m) => V::Mapping(
                m.iter()
                    .map(|(k, v)| (V::String(k.name.clone()), v.to_value()))
                    .collect(),
            ),
        }
    }

    /// Builds a node from a serde value (used for values synthesized by the loader), giving every
    /// node the same span.
    pub fn from_value(value: &serde_yaml_ng::Value, span: &Span) -> Node {
        use serde_yaml_ng::Value as V;
        let v = match value {
            V::Null => Value::Null,
            V::Bool(b) => Value::Bool(*b),
            V::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else {
                    Value::Float(n.as_f64().unwrap_or(0.0))
                }
            }
            V::String(s) => Value::Str(s.clone()),
            V::Sequence(s) => Value::Seq(s.iter().map(|v| Node::from_value(v, span)).collect()),
            V::Mapping(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| {
                        let name = match k {
                            V::String(s) => s.clone(),
                            other => serde_yaml_ng::to_string(other)
                                .unwrap_or_default()
                                .trim_end()
                                .to_string(),
                        };
                        (Key::new(name, span.clone()), Node::from_value(v, span))
                    })
                    .collect(),
            ),
            V::Tagged(t) => return Node::from_value(&t.value, span),
        };
        Node::new(v, span.clone())
    }

    /// Walks every string scalar, mutably, with its key path (used by interpolation and path
    /// resolution). The path is built in one reused buffer: this runs over every node of every
    /// file, and formatting a path per node was a tenth of the load time of a large file.
    pub fn walk_strings_mut(
        &mut self,
        path: &str,
        f: &mut dyn FnMut(&str, &mut String, &Span) -> Result<()>,
    ) -> Result<()> {
        let mut buf = String::with_capacity(64);
        buf.push_str(path);
        self.walk_strings_in(&mut buf, f)
    }

    fn walk_strings_in(
        &mut self,
        path: &mut String,
        f: &mut dyn FnMut(&str, &mut String, &Span) -> Result<()>,
    ) -> Result<()> {
        match &mut self.value {
            Value::Str(s) => f(path, s, &self.span),
            Value::Seq(items) => {
                let len = path.len();
                for (i, item) in items.iter_mut().enumerate() {
                    use std::fmt::Write as _;
                    let _ = write!(path, "[{i}]");
                    let r = item.walk_strings_in(path, f);
                    path.truncate(len);
                    r?;
                }
                Ok(())
            }
            Value::Map(m) => {
                let len = path.len();
                for (k, v) in m.iter_mut() {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(&k.name);
                    let r = v.walk_strings_in(path, f);
                    path.truncate(len);
                    r?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Go's `%v` of a float64, which is what Compose prints for a YAML float used as a string.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let s = format!("{f}");
    s
}

enum PathSeg<'a> {
    Key(&'a str),
    Index(usize),
}

fn split_path(path: &str) -> Vec<PathSeg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(PathSeg::Key(key));
        }
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            if let Ok(i) = idx.trim_end_matches(']').parse() {
                out.push(PathSeg::Index(i));
            }
        }
    }
    out
}
