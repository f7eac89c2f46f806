//! Variable substitution in Compose files (`${VAR:-default}` and friends), with the exact
//! semantics of compose-go's `template` package, which Docker Compose uses.
//!
//! compose-go recognizes `$$`, `$NAME` and `${...}` with one case-insensitive regular
//! expression (a braced operator's argument being a greedy `.*` up to a `}`), then re-splits
//! each braced match at its first balanced `}`. That regular expression has
//! consequences users rely on, which the hand-written scanner here reproduces:
//!
//! - `$` followed by anything other than `$`, a name or `{` stays a literal `$` (`a $ b`, `^x$`).
//! - Names are ASCII `[_a-zA-Z][_a-zA-Z0-9]*`; `$FOO-bar` is `$FOO` followed by `-bar`, and
//!   `${FOO.bar}` is invalid.
//! - `${` not followed by `NAME}` or `NAME` + operator + text + `}` on the same line is an error.
//! - An operator's argument runs to the first *balanced* `}`, so `${A:-${B:-x}}` nests; the
//!   argument is itself interpolated, but only when it is used (a default is not evaluated when
//!   the variable is set).

use super::error::{ErrorKind, LoadError, Span};
use super::yaml::{Node, Value};

/// Why a template could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolationError {
    /// `${NAME:?message}` / `${NAME?message}` with the variable missing (or empty, for `:?`).
    /// `message` is the user's text, already interpolated; it may be empty.
    #[error("required variable {name} is missing a value{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    MissingRequired { name: String, message: String },
    /// A `${` that does not start a valid expression (`${}`, `${ FOO}`, `${FOO`, `${FOO!}`).
    /// `template` is the text that was being interpolated.
    #[error("invalid interpolation format for {template:?}: you may need to escape any $ with another $")]
    InvalidSyntax { template: String },
}

/// One variable a Compose file uses, as `docker compose config --variables` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    /// Used with `:?` or `?` somewhere.
    pub required: bool,
    /// The raw (uninterpolated) text after `:-` / `-`; `None` when there is none or it is empty.
    pub default_value: Option<String>,
    /// The raw text after `:+` / `+`; `None` when there is none or it is empty.
    pub alternate_value: Option<String>,
}

/// Substitutes every variable reference in `template`. `lookup` returns `None` for an unset
/// variable, which is not the same as an empty one (`${A-x}` keeps an empty `A`).
/// Unset variables without a default become empty strings, as in Docker Compose.
pub fn substitute(
    template: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolationError> {
    substitute_with(template, lookup, &mut |_| {})
}

/// [`substitute`], calling `on_missing` with the name of each unset variable that is replaced by
/// an empty string (`$FOO`, `${FOO}`), so the caller can warn the way Docker Compose does
/// ("The \"FOO\" variable is not set. Defaulting to a blank string.").
pub fn substitute_with(
    template: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    on_missing: &mut dyn FnMut(&str),
) -> Result<String, InterpolationError> {
    let mut out = String::with_capacity(template.len());
    let mut pos = 0;
    while let Some(off) = template[pos..].find('$') {
        let start = pos + off;
        out.push_str(&template[pos..start]);
        let (m, end) = match_at(template, start);
        match m {
            Match::Literal => out.push('$'),
            Match::Escaped => out.push('$'),
            Match::Invalid => {
                return Err(InterpolationError::InvalidSyntax {
                    template: template.to_string(),
                })
            }
            Match::Plain(name) => match lookup(name) {
                Some(v) => out.push_str(&v),
                None => on_missing(name),
            },
            Match::Operator { name, op, arg, .. } => {
                out.push_str(&apply_operator(name, op, arg, lookup, on_missing)?);
            }
        }
        // For an operator expression, scanning resumes right after its closing brace: the text
        // up to the end of the regular-expression match is interpolated as compose-go does
        // with its separate "rest" pass, which gives the same result.
        pos = end;
    }
    out.push_str(&template[pos..]);
    Ok(out)
}

fn apply_operator(
    name: &str,
    op: Op,
    arg: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    on_missing: &mut dyn FnMut(&str),
) -> Result<String, InterpolationError> {
    let value = lookup(name);
    let set = value.is_some();
    let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
    let mut nested = |text: &str| substitute_with(text, lookup, on_missing);
    Ok(match op {
        Op::DefaultIfEmptyOrUnset if !non_empty => nested(arg)?,
        Op::DefaultIfUnset if !set => nested(arg)?,
        Op::AlternateIfNonEmpty if non_empty => nested(arg)?,
        Op::AlternateIfSet if set => nested(arg)?,
        Op::RequiredNonEmpty if !non_empty => {
            return Err(InterpolationError::MissingRequired {
                name: name.to_string(),
                message: nested(arg)?,
            })
        }
        Op::Required if !set => {
            return Err(InterpolationError::MissingRequired {
                name: name.to_string(),
                message: nested(arg)?,
            })
        }
        _ => value.unwrap_or_default(),
    })
}

/// Interpolates every string scalar of the tree (values only, never mapping keys). An error is
/// located at the string's node, with its key path (`path` is the path of `node` itself).
pub fn interpolate_node(
    node: &mut Node,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), LoadError> {
    interpolate_node_with(node, path, lookup, &mut |_| {})
}

/// [`interpolate_node`], reporting each unset variable that became an empty string (see
/// [`substitute_with`]). A variable used several times is reported each time.
pub fn interpolate_node_with(
    node: &mut Node,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    on_missing: &mut dyn FnMut(&str),
) -> Result<(), LoadError> {
    node.walk_strings_mut(path, &mut |p: &str, s: &mut String, span: &Span| {
        if !s.contains('$') {
            return Ok(());
        }
        match substitute_with(s, lookup, on_missing) {
            Ok(v) => {
                *s = v;
                Ok(())
            }
            Err(e) => Err(LoadError::new(
                span.clone(),
                p,
                ErrorKind::Interpolation(e.to_string()),
            )),
        }
    })
}

/// Every variable the string values of a tree use (mapping keys are not interpolated, so they
/// are not looked at), sorted by name, one entry a name. A variable used several times is
/// required when any use is, and keeps the first non-empty default and alternate value found,
/// as compose-go's `ExtractVariables` does.
pub fn variables(node: &Node) -> Vec<Variable> {
    let mut found: Vec<Variable> = Vec::new();
    collect_node(node, &mut found);
    let mut merged: std::collections::BTreeMap<String, Variable> = Default::default();
    for v in found {
        match merged.get_mut(&v.name) {
            None => {
                merged.insert(v.name.clone(), v);
            }
            Some(existing) => {
                existing.required |= v.required;
                if existing.default_value.is_none() {
                    existing.default_value = v.default_value;
                }
                if existing.alternate_value.is_none() {
                    existing.alternate_value = v.alternate_value;
                }
            }
        }
    }
    merged.into_values().collect()
}

fn collect_node(node: &Node, out: &mut Vec<Variable>) {
    match &node.value {
        Value::Str(s) => collect_string(s, out),
        Value::Seq(items) => items.iter().for_each(|n| collect_node(n, out)),
        Value::Map(m) => m.values().for_each(|n| collect_node(n, out)),
        _ => {}
    }
}

/// The variables of one string, in compose-go's order: for an operator expression, the ones
/// after its closing brace (still inside the same match) first, then the expression's own
/// variable, then those nested in its argument.
fn collect_string(s: &str, out: &mut Vec<Variable>) {
    let mut pos = 0;
    while let Some(off) = s[pos..].find('$') {
        let start = pos + off;
        let (m, end) = match_at(s, start);
        match m {
            Match::Literal | Match::Escaped | Match::Invalid => {}
            Match::Plain(name) => out.push(Variable {
                name: name.to_string(),
                required: false,
                default_value: None,
                alternate_value: None,
            }),
            Match::Operator {
                name,
                op,
                arg,
                rest,
            } => {
                collect_string(rest, out);
                let non_empty = |a: &str| (!a.is_empty()).then(|| a.to_string());
                out.push(Variable {
                    name: name.to_string(),
                    required: matches!(op, Op::Required | Op::RequiredNonEmpty),
                    default_value: match op {
                        Op::DefaultIfEmptyOrUnset | Op::DefaultIfUnset => non_empty(arg),
                        _ => None,
                    },
                    alternate_value: match op {
                        Op::AlternateIfNonEmpty | Op::AlternateIfSet => non_empty(arg),
                        _ => None,
                    },
                });
                collect_string(arg, out);
            }
        }
        // An operator expression's match runs to the last `}` of its line; compose-go's
        // extraction does not scan inside it again except through `rest` above.
        pos = match m {
            Match::Operator { rest, .. } => end + rest.len(),
            _ => end,
        };
    }
}

/// The six operators of a braced expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `:-`
    DefaultIfEmptyOrUnset,
    /// `-`
    DefaultIfUnset,
    /// `:?`
    RequiredNonEmpty,
    /// `?`
    Required,
    /// `:+`
    AlternateIfNonEmpty,
    /// `+`
    AlternateIfSet,
}

/// What starts at a `$`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match<'a> {
    /// A `$` that starts nothing: kept as is.
    Literal,
    /// `$$`.
    Escaped,
    /// `$NAME` or `${NAME}`.
    Plain(&'a str),
    /// `${NAME<op><arg>}`. `rest` is the text between the expression's closing brace and the
    /// end of compose-go's regular-expression match (the last `}` on the line).
    Operator {
        name: &'a str,
        op: Op,
        arg: &'a str,
        rest: &'a str,
    },
    /// `${` that starts no valid expression.
    Invalid,
}

fn is_name_start(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphabetic()
}

fn is_name_char(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric()
}

/// Recognizes what starts at `t[start] == '$'`. Returns the match and the byte offset where
/// scanning resumes: right after the expression (for an operator expression, after its own
/// closing brace; the caller decides what to do with `rest`).
fn match_at(t: &str, start: usize) -> (Match<'_>, usize) {
    let b = t.as_bytes();
    let Some(&next) = b.get(start + 1) else {
        return (Match::Literal, start + 1);
    };
    if next == b'$' {
        return (Match::Escaped, start + 2);
    }
    if is_name_start(next) {
        let end = name_end(b, start + 1);
        return (Match::Plain(&t[start + 1..end]), end);
    }
    if next != b'{' {
        return (Match::Literal, start + 1);
    }
    let name_start = start + 2;
    if !b.get(name_start).copied().is_some_and(is_name_start) {
        return (Match::Invalid, start + 2);
    }
    let name_end = name_end(b, name_start);
    let name = &t[name_start..name_end];
    let (op, arg_start) = match (b.get(name_end), b.get(name_end + 1)) {
        (Some(b'}'), _) => return (Match::Plain(name), name_end + 1),
        (Some(b':'), Some(b'-')) => (Op::DefaultIfEmptyOrUnset, name_end + 2),
        (Some(b':'), Some(b'?')) => (Op::RequiredNonEmpty, name_end + 2),
        (Some(b':'), Some(b'+')) => (Op::AlternateIfNonEmpty, name_end + 2),
        (Some(b'-'), _) => (Op::DefaultIfUnset, name_end + 1),
        (Some(b'?'), _) => (Op::Required, name_end + 1),
        (Some(b'+'), _) => (Op::AlternateIfSet, name_end + 1),
        _ => return (Match::Invalid, start + 2),
    };
    // The regular expression's `(.*)}` is greedy and `.` stops at a newline: the match ends at
    // the last `}` of the line.
    let line_end = t[arg_start..].find('\n').map_or(t.len(), |i| arg_start + i);
    let Some(last_close) = t[arg_start..line_end].rfind('}').map(|i| arg_start + i) else {
        return (Match::Invalid, start + 2);
    };
    let whole = &t[start..=last_close];
    match first_balanced_close(whole) {
        Some(k) => {
            let close = start + k;
            (
                Match::Operator {
                    name,
                    op,
                    arg: &t[arg_start..close],
                    rest: &t[close + 1..=last_close],
                },
                close + 1,
            )
        }
        None => (
            Match::Operator {
                name,
                op,
                arg: &t[arg_start..last_close],
                rest: "",
            },
            last_close + 1,
        ),
    }
}

fn name_end(b: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < b.len() && is_name_char(b[i]) {
        i += 1;
    }
    i
}

/// compose-go's `getFirstBraceClosingIndex`: counts `{` (skipping the byte after each) and `}`,
/// and returns the index of the `}` that closes the first one.
fn first_balanced_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth: i64 = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'}' {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
        if b[i] == b'{' {
            depth += 1;
            i += 1;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::yaml::parse_file_text;
    use std::path::Path;

    /// compose-go's test mapping: FOO is set, BAR is set but empty, anything else is unset.
    fn env(name: &str) -> Option<String> {
        match name {
            "FOO" => Some("first".into()),
            "BAR" => Some(String::new()),
            _ => None,
        }
    }

    fn sub(t: &str) -> Result<String, InterpolationError> {
        substitute(t, &env)
    }

    #[test]
    fn substitutes_every_form() {
        let cases: &[(&str, &str)] = &[
            ("foo", "foo"),
            ("$${foo}", "${foo}"),
            ("$$FOO", "$FOO"),
            ("This $FOO var", "This first var"),
            ("This ${FOO} var", "This first var"),
            ("This ${missing} var", "This  var"),
            ("This ${BAR} var", "This  var"),
            ("$FOO-bar", "first-bar"),
            ("$FOO.bar", "first.bar"),
            ("${FOO}${FOO}", "firstfirst"),
            ("$foo_BAR9x", ""),
            // :- default when unset or empty
            ("ok ${missing:-def}", "ok def"),
            ("ok ${BAR:-def}", "ok def"),
            ("ok ${FOO:-def}", "ok first"),
            ("ok ${missing:-}", "ok "),
            // - default only when unset
            ("ok ${missing-def}", "ok def"),
            ("ok ${BAR-def}", "ok "),
            ("ok ${FOO-def}", "ok first"),
            // :+ alternate when set and non-empty
            ("ok ${FOO:+presence_value}", "ok presence_value"),
            ("ok ${BAR:+presence_value}", "ok "),
            ("ok ${UNSET_VAR:+presence_value}", "ok "),
            // + alternate when set
            ("ok ${FOO+presence_value}", "ok presence_value"),
            ("ok ${BAR+presence_value}", "ok presence_value"),
            ("ok ${UNSET_VAR+presence_value}", "ok "),
            // required forms that are satisfied
            ("ok ${FOO:?err}", "ok first"),
            ("ok ${FOO?err}", "ok first"),
            ("ok ${BAR?err}", "ok "),
            // operator text inside a default is literal
            ("ok ${BAR:-/non:-alphanumeric}", "ok /non:-alphanumeric"),
            ("${UNSET_VAR-myerror?msg}", "myerror?msg"),
            ("${FOO?bar-baz}", "first"),
            // text around the expression does not change the operator
            ("-ok ${BAR:-defaultValue}", "-ok defaultValue"),
            ("+ok ${UNSET:-${BAR-defaultValue}}", "+ok "),
            (":-ok ${UNSET-defaultValue}", ":-ok defaultValue"),
            (":?ok ${BAR-defaultValue}", ":?ok "),
            ("?ok ${BAR:-defaultValue}", "?ok defaultValue"),
            // nested expressions
            ("ok ${UNSET_VAR-$FOO}", "ok first"),
            ("ok ${UNSET_VAR-${FOO}}", "ok first"),
            ("ok ${UNSET_VAR-${FOO} ${FOO}}", "ok first first"),
            ("ok ${BAR:-${FOO} ${FOO}}", "ok first first"),
            ("ok ${BAR+$FOO ${FOO:+second}}", "ok first second"),
            ("${A:-${B:-x}}", "x"),
            ("${A:-${B:-${FOO}}}!", "first!"),
            // several expressions after an operator expression on the same line
            ("${A:-a} and ${FOO} and ${B:-b}", "a and first and b"),
            ("${A:-x}}", "x}"),
            ("${A:-{x}y}", "{x}y"),
            // a default is only evaluated when used
            ("${FOO:-${A:?boom}}", "first"),
            ("${FOO-${}", "first"),
            // a `$` that starts nothing is kept
            ("a $ string", "a $ string"),
            ("^REGEX$", "^REGEX$"),
            ("$}", "$}"),
            ("$", "$"),
            ("$1 $-x", "$1 $-x"),
            ("100$ $ä", "100$ $ä"),
            // multi-line values: each line is its own world
            ("${A:-x}\n${B:-y}", "x\ny"),
            ("é ${FOO} ü", "é first ü"),
        ];
        for (template, expected) in cases {
            assert_eq!(
                sub(template).as_deref(),
                Ok(*expected),
                "template {template:?}"
            );
        }
    }

    #[test]
    fn invalid_templates_are_errors() {
        let cases: &[(&str, &str)] = &[
            ("${", "${"),
            ("${}", "${}"),
            ("${ }", "${ }"),
            ("${ foo}", "${ foo}"),
            ("${foo }", "${foo }"),
            ("${foo!}", "${foo!}"),
            ("${foo.bar}", "${foo.bar}"),
            ("${FOO:x}", "${FOO:x}"),
            ("${FOO:-x", "${FOO:-x"),
            ("${FOO:-x\n}", "${FOO:-x\n}"),
            ("${1}", "${1}"),
            ("prefix ${FOO} ${", "prefix ${FOO} ${"),
            // errors in a used default name the default, as compose-go does
            ("${UNSET:-${}}", "${}"),
        ];
        for (template, reported) in cases {
            assert_eq!(
                sub(template),
                Err(InterpolationError::InvalidSyntax {
                    template: reported.to_string()
                }),
                "template {template:?}"
            );
        }
        assert_eq!(
            sub("${foo!}").unwrap_err().to_string(),
            "invalid interpolation format for \"${foo!}\": you may need to escape any $ with another $"
        );
    }

    #[test]
    fn required_variables_report_their_message() {
        let cases: &[(&str, &str)] = &[
            (
                "not ok ${UNSET_VAR:?Mandatory Variable Unset}",
                "required variable UNSET_VAR is missing a value: Mandatory Variable Unset",
            ),
            (
                "not ok ${BAR:?Mandatory Variable Empty}",
                "required variable BAR is missing a value: Mandatory Variable Empty",
            ),
            (
                "not ok ${UNSET_VAR:?}",
                "required variable UNSET_VAR is missing a value",
            ),
            (
                "not ok ${UNSET_VAR?Mandatory Variable Unset}",
                "required variable UNSET_VAR is missing a value: Mandatory Variable Unset",
            ),
            (
                "not ok ${UNSET_VAR?}",
                "required variable UNSET_VAR is missing a value",
            ),
            (
                "not ok ${UNSET_VAR:?Mandatory Variable ${FOO}}",
                "required variable UNSET_VAR is missing a value: Mandatory Variable first",
            ),
            (
                "not ok ${UNSET_VAR?Mandatory Variable ${FOO}}",
                "required variable UNSET_VAR is missing a value: Mandatory Variable first",
            ),
            (
                "${UNSET_VAR?bar-baz}",
                "required variable UNSET_VAR is missing a value: bar-baz",
            ),
            (
                "${FOO} then ${A:-${B:?inner}}",
                "required variable B is missing a value: inner",
            ),
        ];
        for (template, message) in cases {
            let err = sub(template).unwrap_err();
            assert!(
                matches!(err, InterpolationError::MissingRequired { .. }),
                "{template:?}: {err:?}"
            );
            assert_eq!(err.to_string(), *message, "template {template:?}");
        }
        assert_eq!(
            sub("${BAR:?must be set}"),
            Err(InterpolationError::MissingRequired {
                name: "BAR".into(),
                message: "must be set".into()
            })
        );
    }

    #[test]
    fn unset_variables_are_reported() {
        let mut missing = Vec::new();
        let out = substitute_with("$A ${B} ${C:-x} ${FOO} ${D-} $$E ${F:+y}", &env, &mut |n| {
            missing.push(n.to_string())
        })
        .unwrap();
        assert_eq!(out, "  x first  $E ");
        assert_eq!(missing, ["A", "B"]);
    }

    fn tree(src: &str) -> Node {
        parse_file_text(src, Some(Path::new("compose.yaml"))).expect("parses")
    }

    #[test]
    fn interpolates_string_values_but_not_keys() {
        let mut n = tree(
            "services:\n  ${FOO}:\n    image: ${FOO:-x}:$FOO\n    ports: [\"${PORT:-80}:80\", 443]\n    environment:\n      K: $$LIT\n    x-n: 10\n",
        );
        interpolate_node(&mut n, "", &env).unwrap();
        let svc = n.locate("services.${FOO}");
        assert_eq!(svc.get("image").unwrap().as_str(), Some("first:first"));
        assert_eq!(n.locate("services.${FOO}.ports[0]").as_str(), Some("80:80"));
        assert_eq!(n.locate("services.${FOO}.ports[1]").value, Value::Int(443));
        assert_eq!(
            n.locate("services.${FOO}.environment.K").as_str(),
            Some("$LIT")
        );
    }

    #[test]
    fn interpolation_errors_are_located() {
        let mut n = tree(
            "services:\n  web:\n    image: nginx\n    command: [\"echo\", \"${NOPE:?set NOPE}\"]\n",
        );
        let err = interpolate_node(&mut n, "", &env).unwrap_err();
        assert_eq!((err.span.line, err.span.col), (4, 23));
        assert_eq!(err.path, "services.web.command[1]");
        assert_eq!(
            err.to_string(),
            "compose.yaml:4:23: services.web.command[1]: required variable NOPE is missing a value: set NOPE"
        );

        let mut n = tree("services:\n  web:\n    image: \"${oops\"\n");
        let err = interpolate_node(&mut n, "", &env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "compose.yaml:3:12: services.web.image: invalid interpolation format for \"${oops\": you may need to escape any $ with another $"
        );
        assert!(matches!(err.kind, ErrorKind::Interpolation(_)));

        // A sub-tree is reported under the path it was given.
        let mut n = tree("image: ${X?}\n");
        let err = interpolate_node(&mut n, "services.db", &env).unwrap_err();
        assert_eq!(err.path, "services.db.image");
    }

    fn var(name: &str, required: bool, default: Option<&str>, alt: Option<&str>) -> Variable {
        Variable {
            name: name.into(),
            required,
            default_value: default.map(String::from),
            alternate_value: alt.map(String::from),
        }
    }

    #[test]
    fn lists_variables() {
        let cases: &[(&str, Vec<Variable>)] = &[
            ("a: bar", vec![]),
            ("a: $bar", vec![var("bar", false, None, None)]),
            ("a: ${bar}", vec![var("bar", false, None, None)]),
            ("a: ${bar?:foo}", vec![var("bar", true, None, None)]),
            ("a: ${bar?foo}", vec![var("bar", true, None, None)]),
            ("a: ${bar:-foo}", vec![var("bar", false, Some("foo"), None)]),
            ("a: ${bar-foo}", vec![var("bar", false, Some("foo"), None)]),
            ("a: ${bar:+foo}", vec![var("bar", false, None, Some("foo"))]),
            ("a: ${bar+foo}", vec![var("bar", false, None, Some("foo"))]),
            ("a: $$bar ${", vec![]),
            (
                "foo: ${bar:-foo}\nbar: {foo: '${fruit:-banana}', bar: vegetable}\nbaz: [foo, '$docker:${project:-cli}', $toto]\n${key}: 1\n",
                vec![
                    var("bar", false, Some("foo"), None),
                    var("docker", false, None, None),
                    var("fruit", false, Some("banana"), None),
                    var("project", false, Some("cli"), None),
                    var("toto", false, None, None),
                ],
            ),
            (
                "domainname: ${SUBDOMAIN:-redis}.${ROOTDOMAIN:?}",
                vec![
                    var("ROOTDOMAIN", true, None, None),
                    var("SUBDOMAIN", false, Some("redis"), None),
                ],
            ),
            (
                "domainname: ${SUBDOMAIN:-$ROOTDOMAIN}",
                vec![
                    var("ROOTDOMAIN", false, None, None),
                    var("SUBDOMAIN", false, Some("$ROOTDOMAIN"), None),
                ],
            ),
            (
                "a: ${A:?${MSG}}\nb: ${B:+${C:-c}}",
                vec![
                    var("A", true, None, None),
                    var("B", false, None, Some("${C:-c}")),
                    var("C", false, Some("c"), None),
                    var("MSG", false, None, None),
                ],
            ),
            // a plain use does not erase what another use declares
            (
                "a: ${X}\nb: ${X:-d}\nc: ${X:?}\nd: ${X:-other}",
                vec![var("X", true, Some("d"), None)],
            ),
        ];
        for (src, expected) in cases {
            assert_eq!(&variables(&tree(src)), expected, "{src:?}");
        }
    }
}
