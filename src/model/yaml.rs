//! The YAML layer: Compose files parsed into a tree of [`Node`]s that remember where they came from.
//!
//! serde_yaml_ng's `Value` carries no source positions, yet every load error must name its file
//! and line, and the loading steps (interpolation, `extends`, `include`, merging several files)
//! run on the untyped tree before anything is typed. So the tree is built here from yaml-rust2's
//! marked event stream, with YAML 1.2 core-schema scalar resolution (as Go's yaml.v3, which Docker
//! Compose uses, does: `yes`/`on` are strings, `8080:80` is a string), anchors and aliases,
//! `<<` merge keys, and Compose's `!reset` / `!override` tags kept on the node for the merge step.
//! The typed model is then deserialized from [`Node::to_value`].

use std::path::Path;
use std::sync::Arc;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::error::{ErrorKind, LoadError, Result, Span};
pub use super::node::{format_float, Key, Mapping, MergeTag, Node, Value};

/// Parses YAML text into one node per document. An empty file gives no document.
pub fn parse_documents(src: &str, file: Option<&Path>) -> Result<Vec<Node>> {
    let file: Option<Arc<Path>> = file.map(Arc::from);
    // A UTF-8 byte order mark is allowed at the start of a Compose file.
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let mut builder = Builder {
        file: file.clone(),
        stack: Vec::new(),
        anchors: Vec::new(),
        docs: Vec::new(),
        error: None,
    };
    let mut parser = Parser::new_from_str(src);
    if let Err(e) = parser.load(&mut builder, true) {
        let m = e.marker();
        return Err(LoadError::new(
            Span::new(file, m.line() as u32, m.col() as u32 + 1),
            "",
            ErrorKind::Yaml(e.info().to_string()),
        ));
    }
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.docs)
}

/// Parses a single-document YAML file; an empty file is an empty mapping.
pub fn parse_file_text(src: &str, file: Option<&Path>) -> Result<Node> {
    let span = Span::new(file.map(Arc::from), 1, 1);
    let mut docs = parse_documents(src, file)?;
    match docs.len() {
        0 => Ok(Node::map(Mapping::new(), span)),
        1 => Ok(docs
            .pop()
            .unwrap_or_else(|| Node::map(Mapping::new(), span))),
        _ => {
            // Several documents in one file are merged in order, as Docker Compose does.
            let mut iter = docs.into_iter();
            let mut acc = iter
                .next()
                .unwrap_or_else(|| Node::map(Mapping::new(), span));
            for d in iter {
                acc = super::merge::merge_nodes(acc, d, "")?;
            }
            Ok(acc)
        }
    }
}

// One frame per open collection, on a stack as deep as the document: size does not matter.
#[allow(clippy::large_enum_variant)]
enum Frame {
    Seq {
        anchor: usize,
        tag: Option<MergeTag>,
        span: Span,
        items: Vec<Node>,
    },
    Map {
        anchor: usize,
        tag: Option<MergeTag>,
        span: Span,
        entries: Mapping,
        pending_key: Option<Node>,
        merges: Vec<Node>,
        /// Where the first key was written: yaml-rust2 marks a block mapping's start after it.
        first_key: Option<Span>,
    },
}

struct Builder {
    file: Option<Arc<Path>>,
    stack: Vec<Frame>,
    anchors: Vec<(usize, Node)>,
    docs: Vec<Node>,
    error: Option<LoadError>,
}

impl Builder {
    fn span(&self, mark: &Marker) -> Span {
        Span::new(self.file.clone(), mark.line() as u32, mark.col() as u32 + 1)
    }

    fn fail(&mut self, span: Span, msg: String) {
        if self.error.is_none() {
            self.error = Some(LoadError::new(span, "", ErrorKind::Yaml(msg)));
        }
    }

    fn register_anchor(&mut self, anchor: usize, node: &Node) {
        if anchor > 0 {
            self.anchors.retain(|(id, _)| *id != anchor);
            self.anchors.push((anchor, node.clone()));
        }
    }

    fn push_node(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                merges,
                first_key,
                ..
            }) => match pending_key.take() {
                None => {
                    // `node` is a key.
                    if first_key.is_none() {
                        *first_key = Some(node.span.clone());
                    }
                    *pending_key = Some(node);
                }
                Some(key) => {
                    let key_is_merge =
                        matches!(&key.value, Value::Str(s) if s == "<<") && key.tag.is_none();
                    if key_is_merge {
                        merges.push(node);
                        return;
                    }
                    let name = match &key.value {
                        Value::Str(s) => s.clone(),
                        Value::Int(i) => i.to_string(),
                        Value::Float(f) => format_float(*f),
                        Value::Bool(b) => b.to_string(),
                        Value::Null => "null".to_string(),
                        _ => {
                            let span = key.span.clone();
                            self.fail(span, "mapping keys must be scalars".into());
                            return;
                        }
                    };
                    if let Some((existing, _)) = entries.get_key_value(name.as_str()) {
                        let msg = format!(
                            "mapping key {name:?} already defined at line {}",
                            existing.span.line
                        );
                        let span = key.span.clone();
                        self.fail(span, msg);
                        return;
                    }
                    entries.insert(Key::new(name, key.span), node);
                }
            },
        }
    }
}

fn merge_tag(tag: &Option<Tag>) -> Option<MergeTag> {
    match tag {
        Some(t) if t.handle == "!" && t.suffix == "reset" => Some(MergeTag::Reset),
        Some(t) if t.handle == "!" && t.suffix == "override" => Some(MergeTag::Override),
        _ => None,
    }
}

/// The YAML 1.2 core tag a scalar carries explicitly (`!!str`), if any.
fn core_tag(tag: &Option<Tag>) -> Option<&str> {
    match tag {
        Some(t) if t.handle == "tag:yaml.org,2002:" || t.handle == "!!" => Some(&t.suffix),
        _ => None,
    }
}

/// Resolves a plain scalar by the YAML 1.2 core schema.
pub fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let bytes = s.as_bytes();
    let (sign, digits) = match bytes[0] {
        b'-' | b'+' => (&s[..1], &s[1..]),
        _ => ("", s),
    };
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        // Go's yaml.v3, which Docker Compose reads files with, takes a leading 0 as octal:
        // `mode: 0440` is 288, as users of file modes expect.
        if digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|b| b < b'8') {
            if let Ok(i) = i64::from_str_radix(digits, 8) {
                return Value::Int(if sign == "-" { -i } else { i });
            }
        }
        if let Ok(i) = s.parse::<i64>() {
            return Value::Int(i);
        }
        if let Ok(f) = s.parse::<f64>() {
            return Value::Float(f);
        }
    }
    if sign.is_empty() {
        if let Some(oct) = s.strip_prefix("0o") {
            if !oct.is_empty() {
                if let Ok(i) = i64::from_str_radix(oct, 8) {
                    return Value::Int(i);
                }
            }
        }
        if let Some(hex) = s.strip_prefix("0x") {
            if !hex.is_empty() {
                if let Ok(i) = i64::from_str_radix(hex, 16) {
                    return Value::Int(i);
                }
            }
        }
    }
    if is_core_float(digits) {
        if let Ok(f) = s.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::Str(s.to_string())
}

/// `( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
fn is_core_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp == 0 {
            return false;
        }
        i += exp;
    }
    i == b.len()
}

fn resolve_scalar(text: String, style: TScalarStyle, tag: &Option<Tag>) -> Value {
    if let Some(core) = core_tag(tag) {
        return match core {
            "str" => Value::Str(text),
            "null" => Value::Null,
            "bool" | "int" | "float" => match resolve_plain(&text) {
                Value::Str(s) => Value::Str(s),
                v => v,
            },
            _ => Value::Str(text),
        };
    }
    if style != TScalarStyle::Plain {
        return Value::Str(text);
    }
    // `!reset` / `!override` and unknown local tags leave the scalar resolved as usual.
    resolve_plain(&text)
}

/// Applies `<<` merge keys: entries of the merged mappings that the mapping does not set itself.
/// Earlier sources in a `<<: [*a, *b]` list take precedence over later ones.
fn apply_merges(entries: &mut Mapping, merges: Vec<Node>) -> std::result::Result<(), Span> {
    for src in merges {
        let sources: Vec<Node> = match src.value {
            Value::Map(_) => vec![src],
            Value::Seq(items) => items,
            _ => return Err(src.span),
        };
        for s in sources {
            let span = s.span.clone();
            let Value::Map(m) = s.value else {
                return Err(span);
            };
            for (k, v) in m {
                if !entries.contains_key(k.name.as_str()) {
                    entries.insert(k, v);
                }
            }
        }
    }
    Ok(())
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
            Event::Alias(id) => {
                let span = self.span(&mark);
                match self.anchors.iter().rev().find(|(a, _)| *a == id) {
                    Some((_, node)) => {
                        let node = node.clone();
                        self.push_node(node);
                    }
                    None => self.fail(span, "unknown anchor".into()),
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let span = self.span(&mark);
                let value = resolve_scalar(text, style, &tag);
                let mut node = Node::new(value, span);
                node.tag = merge_tag(&tag);
                self.register_anchor(anchor, &node);
                self.push_node(node);
            }
            Event::SequenceStart(anchor, tag) => {
                let span = self.span(&mark);
                self.stack.push(Frame::Seq {
                    anchor,
                    tag: merge_tag(&tag),
                    span,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(anchor, tag) => {
                let span = self.span(&mark);
                self.stack.push(Frame::Map {
                    anchor,
                    tag: merge_tag(&tag),
                    span,
                    entries: Mapping::new(),
                    pending_key: None,
                    merges: Vec::new(),
                    first_key: None,
                });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq {
                    anchor,
                    tag,
                    span,
                    items,
                }) = self.stack.pop()
                {
                    let mut node = Node::seq(items, span);
                    node.tag = tag;
                    self.register_anchor(anchor, &node);
                    self.push_node(node);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    anchor,
                    tag,
                    span,
                    mut entries,
                    merges,
                    first_key,
                    ..
                }) = self.stack.pop()
                {
                    // A block mapping starts where its first key is written.
                    let span = match first_key {
                        Some(k) if (k.line, k.col) < (span.line, span.col) => k,
                        _ => span,
                    };
                    if let Err(bad) = apply_merges(&mut entries, merges) {
                        self.fail(
                            bad,
                            "merge key `<<` expects a mapping or a sequence of mappings".into(),
                        );
                        return;
                    }
                    let mut node = Node::map(entries, span);
                    node.tag = tag;
                    self.register_anchor(anchor, &node);
                    self.push_node(node);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Node {
        parse_file_text(s, Some(Path::new("compose.yaml"))).expect("parses")
    }

    #[test]
    fn scalars_resolve_like_yaml_1_2() {
        let n = parse("a: yes\nb: 8080:80\nc: 10\nd: 1.5\ne: ~\nf: true\ng: '10'\nh: 0o17\ni: 1e3\nj: .5\nk: 1_000\n");
        assert_eq!(n.get("a").unwrap().value, Value::Str("yes".into()));
        assert_eq!(n.get("b").unwrap().value, Value::Str("8080:80".into()));
        assert_eq!(n.get("c").unwrap().value, Value::Int(10));
        assert_eq!(n.get("d").unwrap().value, Value::Float(1.5));
        assert_eq!(n.get("e").unwrap().value, Value::Null);
        assert_eq!(n.get("f").unwrap().value, Value::Bool(true));
        assert_eq!(n.get("g").unwrap().value, Value::Str("10".into()));
        assert_eq!(n.get("h").unwrap().value, Value::Int(15));
        assert_eq!(n.get("i").unwrap().value, Value::Float(1000.0));
        assert_eq!(n.get("j").unwrap().value, Value::Float(0.5));
        assert_eq!(n.get("k").unwrap().value, Value::Str("1_000".into()));
        let n = parse("mode: 0440\nb: 09\nc: -010\n");
        assert_eq!(n.get("mode").unwrap().value, Value::Int(0o440));
        assert_eq!(n.get("b").unwrap().value, Value::Int(9));
        assert_eq!(n.get("c").unwrap().value, Value::Int(-8));
    }

    #[test]
    fn positions_are_recorded() {
        let n = parse("services:\n  web:\n    image: nginx\n    ports:\n      - 80\n");
        let img = n.locate("services.web.image");
        assert_eq!((img.span.line, img.span.col), (3, 12));
        assert_eq!(n.locate("services.web.ports[0]").span.line, 5);
        assert_eq!(n.locate_key_span("services.web.ports").line, 4);
        assert_eq!(n.locate_key_span("services.web.ports").col, 5);
        assert_eq!(
            n.locate("services.web").span.file.as_deref(),
            Some(Path::new("compose.yaml"))
        );
    }

    #[test]
    fn block_mappings_start_at_their_first_key() {
        let n = parse("ulimits:\n  nofile:\n    soft: 3\n    hard: 2\nflow: {a: 1}\n");
        let m = n.locate("ulimits.nofile");
        assert_eq!((m.span.line, m.span.col), (3, 5));
        assert_eq!((n.span.line, n.span.col), (1, 1));
        let f = n.locate("flow");
        assert_eq!((f.span.line, f.span.col), (5, 7));
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let n = parse(
            "x-base: &base\n  image: busybox\n  environment: {A: '1'}\nservices:\n  a:\n    <<: *base\n    image: alpine\n  b: *base\n  c:\n    <<: [*base, {user: root}]\n",
        );
        let a = n.locate("services.a");
        assert_eq!(a.get("image").unwrap().as_str(), Some("alpine"));
        assert_eq!(a.locate("environment.A").as_str(), Some("1"));
        assert_eq!(n.locate("services.b.image").as_str(), Some("busybox"));
        assert_eq!(n.locate("services.c.user").as_str(), Some("root"));
        assert!(a.get("<<").is_none());
    }

    #[test]
    fn merge_tags_are_kept() {
        let n = parse(
            "services:\n  a:\n    ports: !reset []\n    environment: !override\n      A: b\n",
        );
        assert_eq!(n.locate("services.a.ports").tag, Some(MergeTag::Reset));
        assert_eq!(
            n.locate("services.a.environment").tag,
            Some(MergeTag::Override)
        );
        let n = parse("a: !reset null\nb: !!str 10\n");
        assert_eq!(n.get("a").unwrap().tag, Some(MergeTag::Reset));
        assert_eq!(n.get("b").unwrap().value, Value::Str("10".into()));
    }

    #[test]
    fn duplicate_keys_are_errors_with_lines() {
        let err = parse_file_text("a: 1\nb: 2\na: 3\n", Some(Path::new("x.yaml"))).unwrap_err();
        assert_eq!(err.span.line, 3);
        assert!(
            err.to_string().contains("already defined at line 1"),
            "{err}"
        );
        assert!(err.to_string().starts_with("x.yaml:3"), "{err}");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err =
            parse_file_text("services:\n  a: [1, 2\n", Some(Path::new("x.yaml"))).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::Yaml(_)));
        assert!(err.span.line >= 2, "{err}");
    }

    #[test]
    fn empty_file_is_empty_mapping_and_bom_is_skipped() {
        assert_eq!(parse("").as_map().map(|m| m.len()), Some(0));
        assert_eq!(
            parse("\u{feff}a: 1\n").get("a").unwrap().value,
            Value::Int(1)
        );
    }

    #[test]
    fn to_value_round_trips() {
        let n = parse("a: [1, x, true, null]\nb: {c: 1.5}\n");
        let v = n.to_value();
        let back = Node::from_value(&v, &Span::default());
        assert_eq!(back, n);
    }
}
