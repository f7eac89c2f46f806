//! The `.env` dialect exactly as Docker Compose reads it (compose-go's `dotenv` package).
//!
//! It is not the dialect of the `dotenv` crates. What users' files rely on:
//!
//! - `KEY=value` and YAML-style `KEY: value` (whichever of `=` / `:` comes first ends the key),
//!   an optional `export ` prefix, blank lines and `#` comment lines.
//! - Keys are letters, digits, `_`, `.`, `-`, `[`, `]`; a key with a space is an error.
//! - Unquoted values run to the end of the line, lose trailing whitespace and a ` #` comment, and
//!   are interpolated (`$VAR`, `${VAR:-default}`, ...), but keep backslashes as typed.
//! - Single-quoted values are literal (only `\'` is unescaped) and may span lines.
//! - Double-quoted values may span lines, expand the escapes `\a \b \f \n \r \t \v \\ \" \$` and
//!   `\0NNN` (octal), then are interpolated.
//! - A line with only `KEY` takes `KEY` from the environment and is left out when it is unset.
//! - Interpolation looks a variable up in the environment first, then in the keys the file
//!   defined earlier (the environment wins over the file, so `A=1` then `B=${A}` gives
//!   `B` = `$A` from the environment when it is set there).
//!
//! One deliberate difference: a bare `KEY` on the file's last line without a final newline is
//! read like any other bare `KEY`; compose-go instead stores the text under an empty key.

use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;

use super::error::{ErrorKind, LoadError, Span};
use super::interpolate::substitute_with;

/// A `.env` file that cannot be read: the 1-based line of the statement and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct DotenvError {
    pub line: usize,
    pub message: String,
    /// The value was well-formed but interpolating it failed (e.g. `${VAR:?message}`).
    interpolation: bool,
}

impl DotenvError {
    fn syntax(line: usize, message: String) -> Self {
        DotenvError {
            line,
            message,
            interpolation: false,
        }
    }

    /// Whether this is an interpolation failure rather than a syntax error.
    pub fn is_interpolation(&self) -> bool {
        self.interpolation
    }
}

/// Parses `.env` text into its variables, in file order (a key defined twice keeps its first
/// position and its last value). `lookup` resolves variables from outside the file (the OS
/// environment): it serves bare `KEY` lines and takes precedence in interpolation.
pub fn parse(
    content: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<IndexMap<String, String>, DotenvError> {
    parse_with(content, lookup, &mut |_| {})
}

/// [`parse`], calling `on_missing` with each unset variable that interpolation replaced by an
/// empty string, for the warning Docker Compose prints.
pub fn parse_with(
    content: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    on_missing: &mut dyn FnMut(&str),
) -> Result<IndexMap<String, String>, DotenvError> {
    // Editors on Windows like to start files with a byte order mark.
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    let mut cursor = Cursor {
        rest: content,
        line: 1,
    };
    let mut out: IndexMap<String, String> = IndexMap::new();
    while cursor.skip_to_statement() {
        let line = cursor.line;
        let (key, inherited, after_key) = locate_key(cursor.rest, line)?;
        cursor.advance_to(after_key);
        if inherited {
            if let Some(v) = lookup(&key) {
                out.insert(key, v);
            }
            continue;
        }
        let (raw, style, after_value) = extract_value(cursor.rest, line)?;
        cursor.advance_to(after_value);
        let value = match style {
            Quoting::Single => raw,
            Quoting::None | Quoting::Double => {
                let text = if style == Quoting::Double {
                    expand_escapes(&raw)
                } else {
                    raw
                };
                let resolve = |name: &str| lookup(name).or_else(|| out.get(name).cloned());
                substitute_with(&text, &resolve, on_missing).map_err(|e| DotenvError {
                    line,
                    message: e.to_string(),
                    interpolation: true,
                })?
            }
        };
        out.insert(key, value);
    }
    Ok(out)
}

/// Reads and parses a `.env` file. Errors are located at `file:line`.
pub fn read_file(
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<IndexMap<String, String>, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| LoadError::io(path, &e))?;
    // Go reads bytes; invalid UTF-8 should not make a file unreadable.
    let text = String::from_utf8_lossy(&bytes);
    parse(&text, lookup).map_err(|e| {
        let kind = if e.is_interpolation() {
            ErrorKind::Interpolation(e.message)
        } else {
            ErrorKind::Dotenv(e.message)
        };
        LoadError::new(Span::new(Some(Arc::from(path)), e.line as u32, 0), "", kind)
    })
}

/// compose-go's notion of blank inside a line: whitespace that is not a line break.
fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    )
}

/// The unparsed rest of the file and the line it starts on.
struct Cursor<'a> {
    rest: &'a str,
    line: usize,
}

impl<'a> Cursor<'a> {
    /// Moves to `rest`, a suffix of the current rest, counting the lines skipped.
    fn advance_to(&mut self, rest: &'a str) {
        let skipped = &self.rest[..self.rest.len() - rest.len()];
        self.line += skipped.bytes().filter(|&b| b == b'\n').count();
        self.rest = rest;
    }

    /// Skips whitespace and comment lines. Returns false at the end of the file.
    fn skip_to_statement(&mut self) -> bool {
        loop {
            let trimmed = self.rest.trim_start_matches(char::is_whitespace);
            self.advance_to(trimmed);
            if trimmed.is_empty() {
                return false;
            }
            if !trimmed.starts_with('#') {
                return true;
            }
            match trimmed.find('\n') {
                Some(nl) => self.advance_to(&trimmed[nl..]),
                None => {
                    self.advance_to("");
                    return false;
                }
            }
        }
    }
}

/// Reads the key of the statement at the start of `src`. Returns the key, whether it stands
/// alone (a bare `KEY` line, inherited from the environment) and the text after the key's
/// terminator with leading blanks removed.
fn locate_key(src: &str, line: usize) -> Result<(String, bool, &str), DotenvError> {
    let mut src = src;
    // `export` followed by whitespace (Go's `\s`: tab, newline, form feed, carriage return,
    // space) is a prefix; `exportFOO` and `export.FOO` are keys.
    if let Some(after) = src.strip_prefix("export") {
        if after.starts_with(['\t', '\n', '\u{c}', '\r', ' ']) {
            src = after.trim_start_matches(is_space);
        }
    }
    let mut terminator = None;
    for (i, c) in src.char_indices() {
        if is_space(c) {
            continue;
        }
        match c {
            '=' | ':' | '\n' => {
                terminator = Some((i, c));
                break;
            }
            '_' | '.' | '-' | '[' | ']' => {}
            c if c.is_alphabetic() || c.is_numeric() => {}
            c => {
                let first_line = src.split('\n').next().unwrap_or_default();
                return Err(DotenvError::syntax(
                    line,
                    format!(
                        "unexpected character {:?} in variable name {first_line:?}",
                        c.to_string()
                    ),
                ));
            }
        }
    }
    if src.is_empty() {
        return Err(DotenvError::syntax(line, "zero length string".into()));
    }
    let (key, inherited, after) = match terminator {
        Some((i, c)) => (&src[..i], c == '\n', &src[i + c.len_utf8()..]),
        // The last line of a file without a final newline.
        None => (src, true, ""),
    };
    let key = key.trim_end();
    if key.contains(' ') {
        return Err(DotenvError::syntax(
            line,
            "key cannot contain a space".into(),
        ));
    }
    Ok((
        key.to_string(),
        inherited,
        after.trim_start_matches(is_space),
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    None,
    Single,
    Double,
}

/// Reads the value at the start of `src`: the raw text (quotes removed, escaped quotes
/// unescaped, nothing else processed), how it was quoted, and the text after it.
fn extract_value(src: &str, line: usize) -> Result<(String, Quoting, &str), DotenvError> {
    let quote = match src.chars().next() {
        Some('\'') => '\'',
        Some('"') => '"',
        _ => {
            let (value, rest) = src.split_once('\n').unwrap_or((src, ""));
            // An inline comment needs a space before its `#`: `a#b` is a value.
            let value = value.split_once(" #").map_or(value, |(v, _)| v);
            return Ok((value.trim_end().to_string(), Quoting::None, rest));
        }
    };
    let mut value = String::new();
    let mut escaped = false;
    for (i, c) in src.char_indices().skip(1) {
        if escaped {
            escaped = false;
            // An escaped quote loses its backslash; any other escaped character keeps it (for
            // double quotes, escapes are expanded later).
            if c != quote {
                value.push('\\');
            }
            value.push(c);
            continue;
        }
        if c == '\\' {
            escaped = true;
        } else if c == quote {
            let style = if quote == '"' {
                Quoting::Double
            } else {
                Quoting::Single
            };
            return Ok((value, style, &src[i + 1..]));
        } else {
            value.push(c);
        }
    }
    let first_line = src.split('\n').next().unwrap_or_default();
    Err(DotenvError::syntax(
        line,
        format!("unterminated quoted value {first_line}"),
    ))
}

/// Expands the escapes of a double-quoted value: the POSIX `echo` set (`\a \b \f \n \r \t \v
/// \\`), `\"`, `\0NNN` octal, and `\$` (kept as `$$` so that interpolation leaves a literal `$`).
/// Any other backslash is kept as typed.
fn expand_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&(_, next)) = chars.peek() else {
            out.push('\\');
            break;
        };
        let simple = match next {
            'a' => Some("\u{7}"),
            'b' => Some("\u{8}"),
            'f' => Some("\u{c}"),
            'n' => Some("\n"),
            'r' => Some("\r"),
            't' => Some("\t"),
            'v' => Some("\u{b}"),
            '"' => Some("\""),
            '\\' => Some("\\"),
            '$' => Some("$$"),
            // In compose-go's escape set but not a Go escape: kept as typed.
            'c' => Some("\\c"),
            _ => None,
        };
        if let Some(text) = simple {
            chars.next();
            out.push_str(text);
            continue;
        }
        if next == '0' {
            chars.next();
            // Up to three more digits belong to the escape; `\0` is dropped from it and the
            // remaining `\NNN` decodes when it is a valid octal byte, else stays as `\NNN`.
            let digits_start = i + 2;
            let digits: String = s[digits_start..]
                .chars()
                .take(3)
                .take_while(char::is_ascii_digit)
                .collect();
            for _ in 0..digits.len() {
                chars.next();
            }
            let decoded = (digits.len() == 3)
                .then(|| u32::from_str_radix(&digits, 8).ok())
                .flatten()
                .filter(|v| *v <= 0xff)
                .and_then(char::from_u32);
            match decoded {
                Some(ch) => out.push(ch),
                None => {
                    out.push('\\');
                    out.push_str(&digits);
                }
            }
            continue;
        }
        out.push('\\');
    }
    out
}

#[cfg(test)]
#[path = "dotenv_tests.rs"]
mod tests;
