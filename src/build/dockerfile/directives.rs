//! Parser directives: `# syntax=...`, `# escape=...`, `# check=...` at the top of the file.
//!
//! BuildKit reads them only until the first line that is not a directive (a comment, an empty
//! line or an instruction); a directive it does not know is ignored like a comment but does not
//! end the header, and a known one given twice is an error.

use super::error::ErrorKind;

/// The parser directives of a Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    /// The frontend image `# syntax=` names; recorded, never fetched: our parser is built in.
    pub syntax: Option<String>,
    /// The line-continuation and escape character: `\` unless `# escape=`` ` ``.
    pub escape: char,
    /// The `# check=` lint configuration, recorded as written.
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            syntax: None,
            escape: '\\',
            check: None,
        }
    }
}

/// Reads the directives from the first lines; errors carry the 1-based line.
pub(super) fn parse(lines: &[&str]) -> Result<Directives, (usize, ErrorKind)> {
    let mut directives = Directives::default();
    let mut seen_escape = false;
    for (index, line) in lines.iter().enumerate() {
        let Some((name, value)) = directive(line) else {
            break;
        };
        let duplicate = match name.as_str() {
            "syntax" => directives.syntax.replace(value.to_string()).is_some(),
            "check" => directives.check.replace(value.to_string()).is_some(),
            "escape" => {
                directives.escape = match value {
                    "\\" => '\\',
                    "`" => '`',
                    other => return Err((index + 1, ErrorKind::InvalidEscape(other.to_string()))),
                };
                std::mem::replace(&mut seen_escape, true)
            }
            _ => false,
        };
        if duplicate {
            return Err((index + 1, ErrorKind::DuplicateDirective(name)));
        }
    }
    Ok(directives)
}

/// `# name = value` with a name of letters and digits, lower-cased; anything else is `None`.
fn directive(line: &str) -> Option<(String, &str)> {
    let rest = line.trim().strip_prefix('#')?;
    let (name, value) = rest.split_once('=')?;
    let name = name.trim();
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    let value = value.trim();
    (valid && !value.is_empty()).then(|| (name.to_ascii_lowercase(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    // BuildKit: directives are case-insensitive, whitespace around `=` is allowed.
    #[test]
    fn reads_syntax_escape_and_check() {
        let d = parse(&[
            "# syntax=docker/dockerfile:1",
            "#ESCAPE = `",
            "# check=skip=all",
            "FROM x",
        ])
        .unwrap();
        assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(d.escape, '`');
        assert_eq!(d.check.as_deref(), Some("skip=all"));
    }

    // BuildKit stops looking after a comment or an empty line: a later `# escape` is a comment.
    #[test]
    fn stops_at_first_non_directive() {
        let d = parse(&["# a comment", "# escape=`"]).unwrap();
        assert_eq!(d.escape, '\\');
        let d = parse(&["", "# escape=`"]).unwrap();
        assert_eq!(d.escape, '\\');
        let d = parse(&["# unknowndirective=1", "# escape=`"]).unwrap();
        assert_eq!(d.escape, '`');
    }

    #[test]
    fn rejects_bad_escape_and_duplicates() {
        assert!(matches!(
            parse(&["# escape=x"]),
            Err((1, ErrorKind::InvalidEscape(_)))
        ));
        assert!(matches!(
            parse(&["# syntax=a", "# syntax=b"]),
            Err((2, ErrorKind::DuplicateDirective(n))) if n == "syntax"
        ));
    }
}
