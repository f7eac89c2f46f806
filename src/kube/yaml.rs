//! YAML for Kubernetes: what we write must read back as the same values in YAML 1.1, which is
//! what the cluster's tools read (kubectl and the API server through go-yaml v2, Helm, PyYAML).
//!
//! Written here rather than with serde_yaml_ng or yaml-rust2 because both emit YAML 1.2, whose
//! plain scalars a YAML 1.1 reader takes for something else: serde_yaml_ng leaves `no`, `on`,
//! `y` and `1_000` unquoted (read back as `false`, `true`, `true` and `1000`: an environment
//! value `no` became a boolean the API server refuses), and neither quotes `2024-01-01` (a 1.1
//! timestamp). This emitter writes a string plain only when it is plainly a string in both
//! versions and double-quoted (JSON escapes, valid YAML) otherwise; multi-line text as a literal
//! block so config files stay readable. Block style as kubectl writes it: sequences at their
//! key's indentation, two spaces per level.

use serde::Serialize;
use serde_json::{Map, Value};

/// `value` as a YAML document (no `---` line), maps in the order the value serializes them.
pub fn to_string<T: Serialize>(value: &T) -> serde_json::Result<String> {
    let value = serde_json::to_value(value)?;
    let mut out = String::new();
    match &value {
        Value::Object(m) if !m.is_empty() => map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => seq(&mut out, a, 0),
        other => {
            out.push_str(&scalar(other, 0));
            out.push('\n');
        }
    }
    Ok(out)
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn map(out: &mut String, m: &Map<String, Value>, indent: usize) {
    for (k, v) in m {
        pad(out, indent);
        entry(out, k, v, indent);
    }
}

/// `key: value` where the key starts at `indent` (already padded). A key is plain or quoted,
/// never a block.
fn entry(out: &mut String, key: &str, value: &Value, indent: usize) {
    out.push_str(&if is_plain(key) {
        key.to_string()
    } else {
        quoted(key)
    });
    out.push(':');
    match value {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            map(out, m, indent + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            seq(out, a, indent);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other, indent));
            out.push('\n');
        }
    }
}

fn seq(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        pad(out, indent);
        match item {
            Value::Object(m) if !m.is_empty() => {
                out.push_str("- ");
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        pad(out, indent + 2);
                    }
                    entry(out, k, v, indent + 2);
                }
            }
            Value::Array(a) if !a.is_empty() => {
                out.push_str("-\n");
                seq(out, a, indent + 2);
            }
            other => {
                out.push_str("- ");
                out.push_str(&scalar(other, indent));
                out.push('\n');
            }
        }
    }
}

/// A scalar (or an empty collection) whose line starts at `indent`.
fn scalar(value: &Value, indent: usize) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s, indent),
        Value::Array(_) => "[]".to_string(),
        Value::Object(_) => "{}".to_string(),
    }
}

/// A string as a plain scalar, a literal block (content at `indent + 2`) or double-quoted.
fn string(s: &str, indent: usize) -> String {
    if is_plain(s) {
        return s.to_string();
    }
    if let Some(block) = literal(s, indent + 2) {
        return block;
    }
    quoted(s)
}

/// Words YAML 1.1 reads as booleans or null (1.2 reads some of them too).
const WORDS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
    "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~",
];

/// Whether `s` reads back as this same string, plain, in YAML 1.1 and 1.2: ordinary characters
/// only, no indicator at the start, no `: ` or ` #`, not a boolean or null word, and nothing
/// that could be a number, a float special or a timestamp (those start with a digit, a sign or
/// a dot, have a decimal digit, and use only digits, letters of numeric notations and
/// separators).
fn is_plain(s: &str) -> bool {
    let ordinary = |c: char| c.is_ascii_alphanumeric() || "._/-:=+,()@% ".contains(c);
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !s.chars().all(ordinary)
        || !(first.is_ascii_alphanumeric() || "/.+-".contains(first))
        || s.ends_with([' ', ':'])
        || s.starts_with("- ")
        || s.contains(": ")
        || s.contains(" #")
        || WORDS.contains(&s)
    {
        return false;
    }
    if first.is_ascii_digit() || "+-.".contains(first) {
        let numeric = |c: char| c.is_ascii_hexdigit() || "_.:+-xXoObBeE ".contains(c);
        let special = s.trim_start_matches(['+', '-']).to_ascii_lowercase();
        // Every number, timestamp and sexagesimal has a decimal digit (`-c` is plain text).
        let number = s.chars().all(numeric) && s.chars().any(|c| c.is_ascii_digit());
        if number || special == ".inf" || special == ".nan" || s == "-" {
            return false;
        }
    }
    true
}

/// `s` as a literal block (`|`, `|-` or `|+` after how many newlines end it) with its lines at
/// `indent`; `None` when it is one line, or has characters or a shape a block cannot hold
/// (control characters, a first line starting with a space).
fn literal(s: &str, indent: usize) -> Option<String> {
    if !s.contains('\n')
        || s.starts_with([' ', '\n'])
        || s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
        || s.chars()
            .any(|c| c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}')
    {
        return None;
    }
    let body = s.trim_end_matches('\n');
    let chomp = match s.len() - body.len() {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let mut out = format!("|{chomp}");
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.extend(std::iter::repeat_n(' ', indent));
            out.push_str(line);
        }
    }
    for _ in 1..(s.len() - body.len()) {
        out.push('\n');
    }
    Some(out)
}

/// `s` double-quoted: JSON's escapes, which YAML's double-quoted style reads the same.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TRICKY: &[&str] = &[
        "no",
        "yes",
        "on",
        "Off",
        "y",
        "N",
        "True",
        "NULL",
        "~",
        "0x10",
        "1e3",
        "012",
        ".inf",
        "-.Inf",
        ".NaN",
        "1_000",
        "0o17",
        "-",
        "- x",
        "a: b",
        "a #b",
        "#x",
        "@x",
        "2024-01-01",
        "1:20",
        "0",
        "-1",
        "+1",
        "1.5",
        "",
        " lead",
        "trail ",
        "x:",
        "multi\nline\n",
        "two\n",
        "no newline\nat end",
        "many\n\n\n",
        "\n",
        " indented\nfirst",
        "tab\there",
        "cr\r\n",
        "quote\"s and \\",
        "bell\u{7}",
        "{a}",
        "[a]",
        "*ref",
        "&anchor",
        "!tag",
        "|",
        ">",
        "%x",
        "'",
        "`x`",
        "é",
        "1Gi",
        "500m",
        "busybox:1.36",
        "app.kubernetes.io/name",
        "Accounting web app",
        "$(sed -n 's/x/y/p')",
        "-c",
        "+e",
        "-1e",
        "1e",
        ".",
        "-.5",
    ];

    #[test]
    fn every_string_reads_back_as_itself() {
        for s in TRICKY {
            let doc = json!({"k": s, "list": [s], "m": {*s: [{"a": s, "b": s}]}});
            let text = to_string(&doc).unwrap();
            let back: serde_json::Value = serde_yaml_ng::from_str(&text)
                .unwrap_or_else(|e| panic!("{s:?} gave unreadable YAML {text:?}: {e}"));
            assert_eq!(back, doc, "{s:?} as {text}");
        }
    }

    #[test]
    fn what_yaml_1_1_reads_as_no_string_is_quoted() {
        for s in [
            "no",
            "yes",
            "on",
            "off",
            "y",
            "n",
            "1_000",
            "2024-01-01",
            "1:20",
            ".inf",
            "0o17",
        ] {
            assert_eq!(to_string(&json!(s)).unwrap(), format!("\"{s}\"\n"));
        }
        for s in [
            "web",
            "1Gi",
            "500m",
            "busybox:1.36",
            "app.kubernetes.io/name",
            "/data",
            "-c",
            "-e",
        ] {
            assert_eq!(to_string(&json!(s)).unwrap(), format!("{s}\n"));
        }
    }

    #[test]
    fn documents_are_written_as_kubectl_writes_them() {
        let doc = json!({
            "kind": "Deployment",
            "spec": {
                "replicas": 2,
                "empty": {},
                "none": [],
                "containers": [{"name": "web", "args": ["-p", "80"], "tty": true}],
                "nested": [["a"]],
                "data": "line 1\nline 2\n",
            },
        });
        let want = "kind: Deployment\n\
spec:\n  replicas: 2\n  empty: {}\n  none: []\n  containers:\n  - name: web\n    args:\n    - -p\n    - \"80\"\n    tty: true\n  nested:\n  -\n    - a\n  data: |\n    line 1\n    line 2\n";
        assert_eq!(to_string(&doc).unwrap(), want);
    }
}
