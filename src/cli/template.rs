//! `--format`: the subset of Go templates that Docker's `--format` flags take, shared by every
//! listing command (`ps`, `ls`, `images`, `stats`), so that the format strings scripts already
//! pass to `docker compose` work here: `table` and `json` keywords, `{{.Field}}`, `{{json .}}`,
//! `{{json .Field}}`, literal text, `\t` and `\n` escapes, `{{-`/`-}}` trim markers, and a
//! `table` prefix that adds a header row and aligns columns like Docker's tabwriter.
//!
//! Rows are JSON objects (keys in the order Docker's JSON lists them); a field the command does
//! not have is refused before anything is printed, with Go's message (`can't evaluate field X`).

use std::io::{self, Write};
use std::str::FromStr;

use serde_json::{Map, Value};

/// A template that cannot be used: Docker's messages, so that what a script sees on failure
/// reads the same.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A malformed action (`{{.Name`, `{{}}`).
    #[error("template parsing error: template: :{line}: {message}")]
    Parse { line: usize, message: String },
    /// A field the listed objects do not have (Docker's execution error, checked up front).
    #[error(
        "template parsing error: template: :{line}:{col}: executing \"\" at <.{field}>: can't \
         evaluate field {field} in type {type_name}"
    )]
    UnknownField {
        line: usize,
        col: usize,
        field: String,
        type_name: String,
    },
    #[error("writing the output: {0}")]
    Io(#[from] io::Error),
}

/// What `--format` asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// `table` (or nothing): the command's own table.
    Table,
    /// `json`: the command's JSON (one object per line for `ps`, one array for `ls`/`images`).
    Json,
    /// Anything else: a Go template (with a `table` prefix, a table with a header row).
    Template(Template),
}

impl FromStr for Output {
    type Err = TemplateError;

    /// Docker's keywords first (`table`, `json`, case as given), then a template.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" | "table" => Ok(Output::Table),
            "json" => Ok(Output::Json),
            _ => Ok(Output::Template(s.parse()?)),
        }
    }
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Began with `table`: a header row first, columns aligned.
    pub table: bool,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    /// `{{.Field}}`; `pos` is the field's (line, column) as Go reports it.
    Field {
        name: String,
        pos: (usize, usize),
    },
    /// `{{json .}}` (`None`) or `{{json .Field}}`.
    Json {
        name: Option<String>,
        pos: (usize, usize),
    },
}

impl FromStr for Template {
    type Err = TemplateError;

    /// As Docker's formatter prepares it: a `table` prefix is taken off, spaces around what is
    /// left trimmed, and the two-character escapes `\t` and `\n` made into tabs and newlines
    /// before the template is parsed.
    fn from_str(source: &str) -> Result<Self, Self::Err> {
        let (table, rest) = match source.strip_prefix("table") {
            Some(rest) => (true, rest),
            None => (false, source),
        };
        let text = rest
            .trim_matches(' ')
            .replace("\\t", "\t")
            .replace("\\n", "\n");
        Ok(Template {
            table,
            parts: parse(&text)?,
        })
    }
}

/// (line, column) of byte `offset` in `text` as Go's template errors count them: lines from 1,
/// columns as the byte offset within the line.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = 1 + before.matches('\n').count();
    let col = before.rfind('\n').map_or(offset, |i| offset - i - 1);
    (line, col)
}

fn parse(text: &str) -> Result<Vec<Part>, TemplateError> {
    let mut parts = Vec::new();
    let mut rest = 0;
    let mut literal = String::new();
    while let Some(open) = text[rest..].find("{{").map(|i| rest + i) {
        let mut chunk = &text[rest..open];
        let mut start = open + 2;
        let line = position(text, open).0;
        // `{{- ` trims the white space before the action.
        if text[start..].starts_with("- ") || text[start..].starts_with("-\t") {
            chunk = chunk.trim_end();
            start += 1;
        }
        literal.push_str(chunk);
        let close =
            text[start..]
                .find("}}")
                .map(|i| start + i)
                .ok_or_else(|| TemplateError::Parse {
                    line,
                    message: "unclosed action".into(),
                })?;
        let mut end = close;
        let mut trim_after = false;
        if text[start..close].ends_with(" -") || text[start..close].ends_with("\t-") {
            end -= 1;
            trim_after = true;
        }
        let action = &text[start..end];
        let lead = action.len() - action.trim_start().len();
        let part = action_part(action.trim(), text, start + lead, line)?;
        if !literal.is_empty() {
            parts.push(Part::Text(std::mem::take(&mut literal)));
        }
        parts.push(part);
        rest = close + 2;
        if trim_after {
            let skipped = text[rest..].len() - text[rest..].trim_start().len();
            rest += skipped;
        }
    }
    literal.push_str(&text[rest..]);
    if !literal.is_empty() {
        parts.push(Part::Text(literal));
    }
    Ok(parts)
}

/// One action's content (`.Name`, `json .`, `json .Name`); `at` is its offset in `text`.
fn action_part(action: &str, text: &str, at: usize, line: usize) -> Result<Part, TemplateError> {
    let parse_err = |message: String| TemplateError::Parse { line, message };
    if action.is_empty() {
        return Err(parse_err("missing value for command".into()));
    }
    let words: Vec<&str> = action.split_whitespace().collect();
    match words.as_slice() {
        [field] if field.starts_with('.') => Ok(Part::Field {
            name: field_name(field).map_err(parse_err)?,
            pos: position(text, at),
        }),
        ["json", arg] if arg.starts_with('.') => {
            let arg_at = at + action.find(arg).unwrap_or(0);
            let name = match *arg {
                "." => None,
                _ => Some(field_name(arg).map_err(parse_err)?),
            };
            Ok(Part::Json {
                name,
                pos: position(text, arg_at),
            })
        }
        [func, ..] if !func.starts_with('.') && *func != "json" => Err(parse_err(format!(
            "function {func:?} not defined (this tool's templates know fields, `json .` and \
             `json .Field`)"
        ))),
        _ => Err(parse_err(format!(
            "unsupported action {{{{{action}}}}} (this tool's templates know `.Field`, `json .` \
             and `json .Field`)"
        ))),
    }
}

/// `.Name` → `Name`; `.` alone and nested `.A.B` are not in the subset.
fn field_name(word: &str) -> Result<String, String> {
    let name = &word[1..];
    if name.is_empty() {
        return Err("`{{.}}` is not supported: name a field, or use `{{json .}}`".into());
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "bad field {word:?}: only top-level fields (`.Name`) are supported"
        ));
    }
    Ok(name.to_string())
}

/// What the listed objects are, for headers and errors.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// The type Docker names in "can't evaluate field" (`*formatter.ContainerContext`).
    pub type_name: &'static str,
    /// Every field with its table header, in JSON order.
    pub fields: &'static [(&'static str, &'static str)],
    /// The fields that are Go maps (`docker volume inspect`'s `Labels`): `{{.Labels}}` prints
    /// them `map[k:v ...]`, keys sorted, where other objects are structs (`{v1 v2}`).
    pub maps: &'static [&'static str],
}

impl Schema {
    fn header(&self, field: &str) -> Option<&'static str> {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, h)| *h)
    }
}

impl Template {
    /// Refuses a field that `schema` lacks (Docker fails on the first row; here nothing is
    /// printed, and an empty listing fails the same).
    pub fn check(&self, schema: &Schema) -> Result<(), TemplateError> {
        for part in &self.parts {
            let (name, pos) = match part {
                Part::Field { name, pos } => (name, pos),
                Part::Json {
                    name: Some(name),
                    pos,
                } => (name, pos),
                _ => continue,
            };
            if schema.header(name).is_none() {
                return Err(TemplateError::UnknownField {
                    line: pos.0,
                    col: pos.1,
                    field: name.clone(),
                    type_name: schema.type_name.to_string(),
                });
            }
        }
        Ok(())
    }

    /// One row: the template applied to `row`.
    fn apply(&self, row: &Map<String, Value>, schema: &Schema) -> String {
        let mut s = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => s.push_str(t),
                Part::Field { name, .. } => {
                    let v = row.get(name).unwrap_or(&Value::Null);
                    match v {
                        Value::Object(m) if schema.maps.contains(&name.as_str()) => {
                            s.push_str(&go_map(m))
                        }
                        v => s.push_str(&go_value(v)),
                    }
                }
                Part::Json { name: None, .. } => s.push_str(&object_json(row)),
                Part::Json { name: Some(n), .. } => {
                    s.push_str(&value_json(row.get(n).unwrap_or(&Value::Null)))
                }
            }
        }
        s
    }

    /// The header row: each field's header, literal text as it is (Docker executes the
    /// template on the header names; `{{json .}}` has none).
    fn header(&self, schema: &Schema) -> String {
        let mut s = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => s.push_str(t),
                Part::Field { name, .. }
                | Part::Json {
                    name: Some(name), ..
                } => s.push_str(schema.header(name).unwrap_or_default()),
                Part::Json { name: None, .. } => {}
            }
        }
        s
    }

    /// Writes every row (after the header row and aligned, for a `table` template), each
    /// followed by a newline, as Docker's formatter does. `min_width` is the table's least
    /// column width (10 for Docker's container lists).
    pub fn render(
        &self,
        out: &mut impl Write,
        schema: &Schema,
        rows: &[Map<String, Value>],
        min_width: usize,
    ) -> Result<(), TemplateError> {
        self.check(schema)?;
        let mut text = String::new();
        if self.table {
            text.push_str(&self.header(schema));
            text.push('\n');
        }
        for row in rows {
            text.push_str(&self.apply(row, schema));
            text.push('\n');
        }
        if self.table {
            text = tabwrite(&text, min_width, 3);
        }
        out.write_all(text.as_bytes())?;
        out.flush()?;
        Ok(())
    }
}

/// A value as Go's `fmt` prints it in `{{.Field}}`: strings bare, lists `[a b]`, objects (Go
/// structs) `{v1 v2}` in field order, nothing as `<nil>`.
fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(go_value).collect::<Vec<_>>().join(" ")
            )
        }
        Value::Object(m) => format!(
            "{{{}}}",
            m.values().map(go_value).collect::<Vec<_>>().join(" ")
        ),
    }
}

/// A Go map as `fmt` prints it: `map[k1:v1 k2:v2]`, keys sorted.
fn go_map(m: &Map<String, Value>) -> String {
    let mut pairs: Vec<(&String, &Value)> = m.iter().collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let pairs: Vec<String> = pairs
        .into_iter()
        .map(|(k, v)| format!("{k}:{}", go_value(v)))
        .collect();
    format!("map[{}]", pairs.join(" "))
}

/// `{{json .Field}}`: Docker's template function encodes without HTML escaping.
fn value_json(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// `{{json .}}` and `--format json`: the whole object, keys in the row's order. Docker's
/// objects marshal themselves with Go's `json.Marshal`, which escapes `<`, `>`, `&` (and the
/// line separators U+2028, U+2029) inside strings; done here too so the bytes are the same.
/// Those characters only occur inside JSON strings, so replacing them anywhere is safe.
pub fn object_json(row: &Map<String, Value>) -> String {
    let plain = serde_json::to_string(row).unwrap_or_default();
    let mut s = String::with_capacity(plain.len());
    for c in plain.chars() {
        match c {
            '<' => s.push_str("\\u003c"),
            '>' => s.push_str("\\u003e"),
            '&' => s.push_str("\\u0026"),
            '\u{2028}' => s.push_str("\\u2028"),
            '\u{2029}' => s.push_str("\\u2029"),
            c => s.push(c),
        }
    }
    s
}

/// Go's `text/tabwriter` with a space pad character and no flags, as Docker's tables use it:
/// cells are terminated by tabs; a column is as wide as its widest cell plus `padding` (at
/// least `min_width`) over each block of consecutive lines that have that column; a line's
/// last cell (not tab-terminated) is written as it is. Trailing blanks are kept, as Docker's.
pub fn tabwrite(text: &str, min_width: usize, padding: usize) -> String {
    let ends_with_newline = text.ends_with('\n');
    let body = text.strip_suffix('\n').unwrap_or(text);
    let lines: Vec<Vec<&str>> = body.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut out = String::new();
    let mut widths = Vec::new();
    format_block(
        &lines,
        0,
        lines.len(),
        &mut widths,
        min_width,
        padding,
        &mut out,
    );
    if !ends_with_newline {
        out.pop();
    }
    out
}

/// Go's `Writer.format`: lays out lines `[from, to)` with the column widths found so far.
fn format_block(
    lines: &[Vec<&str>],
    mut from: usize,
    to: usize,
    widths: &mut Vec<usize>,
    min_width: usize,
    padding: usize,
    out: &mut String,
) {
    let column = widths.len();
    let mut this = from;
    while this < to {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        // A block of lines that have a terminated cell in this column begins here.
        write_lines(&lines[from..this], widths, out);
        from = this;
        let mut width = min_width;
        while this < to && column + 1 < lines[this].len() {
            width = width.max(lines[this][column].chars().count() + padding);
            this += 1;
        }
        widths.push(width);
        format_block(lines, from, this, widths, min_width, padding, out);
        widths.pop();
        from = this;
    }
    write_lines(&lines[from..to], widths, out);
}

fn write_lines(lines: &[Vec<&str>], widths: &[usize], out: &mut String) {
    for line in lines {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if let Some(w) = widths.get(j) {
                let n = cell.chars().count();
                out.extend(std::iter::repeat_n(' ', w.saturating_sub(n)));
            }
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: Schema = Schema {
        type_name: "*formatter.ContainerContext",
        fields: &[
            ("Name", "NAME"),
            ("State", "STATE"),
            ("ExitCode", "EXIT CODE"),
            ("Publishers", "PUBLISHERS"),
        ],
        maps: &[],
    };

    fn rows() -> Vec<Map<String, Value>> {
        let row = |v: Value| v.as_object().cloned().expect("object");
        vec![
            row(
                serde_json::json!({"Name": "p-web-1", "State": "running", "ExitCode": 0,
                "Publishers": [{"URL": "0.0.0.0", "TargetPort": 80, "PublishedPort": 8080,
                "Protocol": "tcp"}]}),
            ),
            row(
                serde_json::json!({"Name": "p-database-1", "State": "exited", "ExitCode": 3,
                "Publishers": []}),
            ),
        ]
    }

    fn render(format: &str) -> Result<String, TemplateError> {
        let t: Template = format.parse()?;
        let mut out = Vec::new();
        t.render(&mut out, &SCHEMA, &rows(), 10)?;
        Ok(String::from_utf8(out).expect("utf-8"))
    }

    #[test]
    fn fields_and_literal_text_make_one_line_per_row() {
        assert_eq!(
            render("{{.Name}} is {{ .State }} ({{.ExitCode}})").expect("render"),
            "p-web-1 is running (0)\np-database-1 is exited (3)\n"
        );
    }

    #[test]
    fn escaped_tabs_become_tabs_without_table() {
        // Docker replaces the two characters `\t` before parsing; without `table` nothing is
        // aligned.
        assert_eq!(
            render(r"{{.Name}}\t{{.State}}").expect("render"),
            "p-web-1\trunning\np-database-1\texited\n"
        );
    }

    #[test]
    fn table_adds_headers_and_aligns_columns_like_docker_tabwriter() {
        // Docker: `docker compose ps --format 'table {{.Name}}\t{{.State}}\t{{.ExitCode}}'`
        // (tabwriter min width 10, padding 3; the last column is not padded).
        assert_eq!(
            render(r"table {{.Name}}\t{{.State}}\t{{.ExitCode}}").expect("render"),
            "NAME           STATE     EXIT CODE\n\
             p-web-1        running   0\n\
             p-database-1   exited    3\n"
        );
    }

    #[test]
    fn trailing_blanks_of_an_empty_last_column_are_kept_as_docker_does() {
        let out = tabwrite("A\tB\tC\nlong-cell\tx\t\n", 0, 3);
        assert_eq!(out, "A           B   C\nlong-cell   x   \n");
    }

    #[test]
    fn tabwriter_blocks_restart_where_a_line_has_fewer_columns() {
        // Go's tabwriter aligns each run of lines that have the column, not the whole text.
        let out = tabwrite("a\tb\nno tab here\nlonger\tc\n", 0, 1);
        assert_eq!(out, "a b\nno tab here\nlonger c\n");
    }

    #[test]
    fn json_of_the_object_and_of_a_field() {
        let out = render("{{json .Publishers}}").expect("render");
        assert_eq!(
            out,
            "[{\"URL\":\"0.0.0.0\",\"TargetPort\":80,\"PublishedPort\":8080,\"Protocol\":\"tcp\"}]\n[]\n"
        );
        let out = render("{{json .}}").expect("render");
        let first: Value = serde_json::from_str(out.lines().next().expect("a line")).expect("json");
        assert_eq!(first["Name"], "p-web-1");
    }

    #[test]
    fn lists_and_structs_print_as_go_prints_them() {
        assert_eq!(
            render("{{.Publishers}}").expect("render"),
            "[{0.0.0.0 80 8080 tcp}]\n[]\n"
        );
    }

    #[test]
    fn whole_object_json_escapes_html_characters_as_go_marshal_does() {
        let row = serde_json::json!({"Command": "\"a && b <c>\""});
        assert_eq!(
            object_json(row.as_object().expect("object")),
            r#"{"Command":"\"a \u0026\u0026 b \u003cc\u003e\""}"#
        );
    }

    #[test]
    fn an_unknown_field_is_named_with_docker_s_message() {
        // Docker: `template parsing error: template: :1:2: executing "" at <.Foo>: can't
        // evaluate field Foo in type *formatter.ContainerContext`.
        let err = render("{{.Foo}}").expect_err("unknown field").to_string();
        assert_eq!(
            err,
            "template parsing error: template: :1:2: executing \"\" at <.Foo>: can't evaluate \
             field Foo in type *formatter.ContainerContext"
        );
        let err = render(r"table {{.Name}}\t{{json .Bar}}")
            .expect_err("unknown")
            .to_string();
        assert!(err.contains(":1:17:") && err.contains("field Bar"), "{err}");
        // Refused even with nothing to list.
        let t: Template = "{{.Foo}}".parse().expect("parses");
        assert!(t.render(&mut Vec::new(), &SCHEMA, &[], 10).is_err());
    }

    #[test]
    fn malformed_and_unsupported_actions_are_parse_errors() {
        for bad in [
            "{{.Name",
            "{{}}",
            "{{.}}",
            "{{.A.B}}",
            "{{upper .Name}}",
            "{{json}}",
        ] {
            let err = bad.parse::<Template>().expect_err(bad).to_string();
            assert!(err.starts_with("template parsing error"), "{bad}: {err}");
        }
        let err = "{{upper .Name}}"
            .parse::<Template>()
            .expect_err("upper")
            .to_string();
        assert!(err.contains("function \"upper\" not defined"), "{err}");
    }

    #[test]
    fn trim_markers_remove_white_space_around_the_action() {
        assert_eq!(
            render("[ {{- .Name -}} ]").expect("render"),
            "[p-web-1]\n[p-database-1]\n"
        );
    }

    #[test]
    fn keywords_select_the_command_s_own_formats() {
        assert_eq!("table".parse::<Output>().expect("table"), Output::Table);
        assert_eq!("json".parse::<Output>().expect("json"), Output::Json);
        assert!(matches!(
            "table {{.Name}}".parse::<Output>().expect("template"),
            Output::Template(Template { table: true, .. })
        ));
    }
}
