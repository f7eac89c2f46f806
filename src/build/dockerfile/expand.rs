//! Variable substitution as BuildKit's shell lexer does it (`frontend/dockerfile/shell`).
//!
//! `$VAR` and `${VAR}`; `${VAR:-word}` (unset or empty: word), `${VAR-word}` (unset: word),
//! `${VAR:+word}` (set and non-empty: word), `${VAR+word}` (set: word), `${VAR:?msg}` and
//! `${VAR?msg}` (an error). Single quotes are literal; double quotes group and expand; the
//! escape character makes the next character literal (inside double quotes only before `"`,
//! `$` and itself). Quotes and escapes are removed from the result, except in raw mode, which
//! heredoc bodies use: there only variables change.

use indexmap::IndexMap;

/// Why a word could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("missing '}}' in {0:?}")]
    MissingBrace(String),
    #[error("bad substitution in {0:?}")]
    BadSubstitution(String),
    #[error("unsupported modifier ({modifier}) in substitution {word:?}")]
    Unsupported { modifier: char, word: String },
    #[error("{name}: {message}")]
    Required { name: String, message: String },
    #[error("unexpected end of statement while looking for matching {quote} in {word:?}")]
    UnterminatedQuote { quote: char, word: String },
}

/// Expands `word` with `env`, removing quotes and escapes, as BuildKit's `ProcessWord`.
pub fn expand(
    word: &str,
    env: &IndexMap<String, String>,
    escape: char,
) -> Result<String, ExpandError> {
    Lexer::new(word, env, escape, false).word()
}

/// Expands variables only, leaving quotes and escapes as written (heredoc bodies).
pub fn expand_raw(
    text: &str,
    env: &IndexMap<String, String>,
    escape: char,
) -> Result<String, ExpandError> {
    Lexer::new(text, env, escape, true).word()
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    env: &'a IndexMap<String, String>,
    escape: char,
    raw: bool,
    word: &'a str,
}

impl<'a> Lexer<'a> {
    fn new(word: &'a str, env: &'a IndexMap<String, String>, escape: char, raw: bool) -> Self {
        Lexer {
            chars: word.chars().collect(),
            pos: 0,
            env,
            escape,
            raw,
            word,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += usize::from(c.is_some());
        c
    }

    fn word(mut self) -> Result<String, ExpandError> {
        let (out, _) = self.until(None)?;
        Ok(out)
    }

    /// Reads up to `stop` (consumed) or the end; says whether `stop` was found.
    fn until(&mut self, stop: Option<char>) -> Result<(String, bool), ExpandError> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.pos += 1;
                return Ok((out, true));
            }
            match c {
                '\'' => self.single_quoted(&mut out)?,
                '"' => self.double_quoted(&mut out)?,
                '$' => {
                    self.pos += 1;
                    out.push_str(&self.dollar()?);
                }
                c if c == self.escape => {
                    self.pos += 1;
                    if self.raw {
                        out.push(c);
                    }
                    out.extend(self.next());
                }
                c => {
                    self.pos += 1;
                    out.push(c);
                }
            }
        }
        Ok((out, false))
    }

    fn unterminated(&self, quote: char) -> ExpandError {
        ExpandError::UnterminatedQuote {
            quote,
            word: self.word.to_string(),
        }
    }

    fn single_quoted(&mut self, out: &mut String) -> Result<(), ExpandError> {
        self.pos += 1;
        if self.raw {
            out.push('\'');
        }
        loop {
            match self.next() {
                None => return Err(self.unterminated('\'')),
                Some('\'') => break,
                Some(c) => out.push(c),
            }
        }
        if self.raw {
            out.push('\'');
        }
        Ok(())
    }

    fn double_quoted(&mut self, out: &mut String) -> Result<(), ExpandError> {
        self.pos += 1;
        if self.raw {
            out.push('"');
        }
        loop {
            match self.next() {
                None => return Err(self.unterminated('"')),
                Some('"') => break,
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) if c == self.escape => match self.next() {
                    None => return Err(self.unterminated('"')),
                    Some(n) if n == '"' || n == '$' || n == self.escape => {
                        if self.raw {
                            out.push(c);
                        }
                        out.push(n);
                    }
                    Some(n) => {
                        out.push(c);
                        out.push(n);
                    }
                },
                Some(c) => out.push(c),
            }
        }
        if self.raw {
            out.push('"');
        }
        Ok(())
    }

    /// After a `$`: a name, `{...}`, or a literal `$` when no name follows.
    fn dollar(&mut self) -> Result<String, ExpandError> {
        if self.peek() == Some('{') {
            self.pos += 1;
            return self.braced();
        }
        let name = self.name();
        if name.is_empty() {
            return Ok("$".to_string());
        }
        Ok(self.env.get(&name).cloned().unwrap_or_default())
    }

    /// A name as BuildKit's `processName` reads it: a run of digits (a positional parameter),
    /// one special parameter character (`$@`, `$$`, ...), or letters, digits and `_`. The
    /// first two are never set in a Dockerfile, so they expand to nothing.
    fn name(&mut self) -> String {
        let mut name = String::new();
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.pos += 1;
                }
            }
            Some(c @ ('@' | '*' | '#' | '?' | '-' | '$' | '!')) => {
                name.push(c);
                self.pos += 1;
            }
            _ => {
                while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
                    name.push(c);
                    self.pos += 1;
                }
            }
        }
        name
    }

    fn braced(&mut self) -> Result<String, ExpandError> {
        let name = self.name();
        if name.is_empty() {
            return Err(ExpandError::BadSubstitution(self.word.to_string()));
        }
        let value = self.env.get(&name).cloned();
        let colon = match self.next() {
            Some('}') => return Ok(value.unwrap_or_default()),
            None => return Err(ExpandError::MissingBrace(self.word.to_string())),
            Some(':') => true,
            Some(_) => {
                self.pos -= 1;
                false
            }
        };
        let modifier = match self.next() {
            Some(m @ ('-' | '+' | '?')) => m,
            Some(other) => {
                let modifier = if colon { ':' } else { other };
                return Err(ExpandError::Unsupported {
                    modifier,
                    word: self.word.to_string(),
                });
            }
            None => return Err(ExpandError::MissingBrace(self.word.to_string())),
        };
        let (word, closed) = self.until(Some('}'))?;
        if !closed {
            return Err(ExpandError::MissingBrace(self.word.to_string()));
        }
        // With `:`, an empty value counts as unset.
        let set = value.as_deref().is_some_and(|v| !colon || !v.is_empty());
        match modifier {
            '-' if set => Ok(value.unwrap_or_default()),
            '-' => Ok(word),
            '+' if set => Ok(word),
            '+' => Ok(String::new()),
            _ if set => Ok(value.unwrap_or_default()),
            _ => {
                let message = if word.is_empty() {
                    "is not allowed to be unset".into()
                } else {
                    word
                };
                Err(ExpandError::Required { name, message })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> IndexMap<String, String> {
        [("A", "apple"), ("EMPTY", ""), ("P", "/usr/bin")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn x(word: &str) -> String {
        expand(word, &env(), '\\').unwrap()
    }

    // Expectations from BuildKit's shell/envVarTest table.
    #[test]
    fn plain_and_braced_variables() {
        assert_eq!(x("$A"), "apple");
        assert_eq!(x("${A}s"), "apples");
        assert_eq!(x("$As"), "");
        assert_eq!(x("a$UNSET-b"), "a-b");
        assert_eq!(x("$"), "$");
        assert_eq!(x("$1x"), "x");
        assert_eq!(x("$12x"), "x");
        assert_eq!(x("a$$b"), "ab");
        assert_eq!(x("${A}$"), "apple$");
        assert_eq!(x("cost $ 5"), "cost $ 5");
    }

    #[test]
    fn modifiers_with_and_without_colon() {
        assert_eq!(x("${UNSET:-d}"), "d");
        assert_eq!(x("${EMPTY:-d}"), "d");
        assert_eq!(x("${EMPTY-d}"), "");
        assert_eq!(x("${UNSET-d}"), "d");
        assert_eq!(x("${A:-d}"), "apple");
        assert_eq!(x("${A:+alt}"), "alt");
        assert_eq!(x("${EMPTY:+alt}"), "");
        assert_eq!(x("${EMPTY+alt}"), "alt");
        assert_eq!(x("${UNSET+alt}"), "");
        assert_eq!(x("${UNSET:-$P/x}"), "/usr/bin/x");
        assert_eq!(x("${UNSET:-'a b'}"), "a b");
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(x("'$A'"), "$A");
        assert_eq!(x("\"$A b\""), "apple b");
        assert_eq!(x("\\$A"), "$A");
        assert_eq!(x("\"\\$A \\x\""), "$A \\x");
        assert_eq!(x("a\\ b"), "a b");
        assert_eq!(expand("`$A", &env(), '`').unwrap(), "$A");
    }

    #[test]
    fn raw_mode_keeps_quotes_and_escapes() {
        assert_eq!(
            expand_raw("echo '$A' \"$A\" \\$A\n", &env(), '\\').unwrap(),
            "echo '$A' \"apple\" \\$A\n"
        );
    }

    #[test]
    fn errors() {
        let e = env();
        assert!(matches!(
            expand("${A", &e, '\\'),
            Err(ExpandError::MissingBrace(_))
        ));
        assert!(matches!(
            expand("${A:-x", &e, '\\'),
            Err(ExpandError::MissingBrace(_))
        ));
        assert!(matches!(
            expand("${}", &e, '\\'),
            Err(ExpandError::BadSubstitution(_))
        ));
        assert!(matches!(
            expand("${A:1}", &e, '\\'),
            Err(ExpandError::Unsupported { .. })
        ));
        assert!(matches!(
            expand("'x", &e, '\\'),
            Err(ExpandError::UnterminatedQuote { quote: '\'', .. })
        ));
        assert_eq!(
            expand("${UNSET:?must be set}", &e, '\\'),
            Err(ExpandError::Required {
                name: "UNSET".into(),
                message: "must be set".into()
            })
        );
        assert_eq!(expand("${A?x}", &e, '\\').unwrap(), "apple");
    }
}
