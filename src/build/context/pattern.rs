//! One `.dockerignore` glob, compiled and matched as Docker's builder matches it.
//!
//! Docker turns each pattern into a regular expression; this matcher follows that translation
//! rather than a shell or gitignore glob because the two disagree at the edges people hit:
//! `*` and `?` stop at `/`; `**` followed by more pattern stands for "nothing, or anything that
//! ends in `/`" (so `a**b` matches `ab` and `a/x/b` but not `axb`), and `**` at the end matches
//! everything; `[...]` is a regex class (negated with `^`, and a negated class also matches `/`);
//! `{`, `}`, `+`, `(`, `)`, `|` are literal; `\` escapes the next character. `globset` (the
//! usual crate) treats `{a,b}` as alternation, `[!a]` as negation and rejects `a**b`, so it cannot
//! give these answers; the matcher is small enough to own.

/// A class member: one character or an inclusive range.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ClassItem {
    Char(char),
    Range(char, char),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`: one character other than `/`.
    AnyChar,
    /// `*`: any run of characters other than `/`.
    Star,
    /// `**` before more pattern: empty, or any text ending in `/`.
    DirStar,
    /// `**` at the end: anything at all.
    Rest,
    Class {
        negated: bool,
        items: Vec<ClassItem>,
    },
}

/// Why a pattern cannot be compiled (Docker rejects the same patterns).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("unclosed character class `[`")]
    UnclosedClass,
    #[error("trailing backslash")]
    TrailingBackslash,
    #[error("character range {0:?}-{1:?} is out of order")]
    BadRange(char, char),
}

/// A compiled pattern. Matching works on characters, so a name that is not UTF-8 is compared
/// through its lossy text (its invalid bytes can never equal a pattern character anyway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    tokens: Vec<Token>,
}

impl Pattern {
    /// Compiles an already cleaned pattern (see `dockerignore::clean`).
    pub fn compile(text: &str) -> Result<Self, PatternError> {
        let chars: Vec<char> = text.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let ch = chars[i];
            i += 1;
            match ch {
                '*' if chars.get(i) == Some(&'*') => {
                    i += 1;
                    if chars.get(i) == Some(&'/') {
                        i += 1;
                    }
                    tokens.push(if i >= chars.len() {
                        Token::Rest
                    } else {
                        Token::DirStar
                    });
                }
                '*' => tokens.push(Token::Star),
                '?' => tokens.push(Token::AnyChar),
                '\\' => {
                    let next = chars.get(i).ok_or(PatternError::TrailingBackslash)?;
                    tokens.push(Token::Literal(*next));
                    i += 1;
                }
                '[' => {
                    let (class, next) = compile_class(&chars, i)?;
                    tokens.push(class);
                    i = next;
                }
                other => tokens.push(Token::Literal(other)),
            }
        }
        Ok(Pattern {
            text: text.to_string(),
            tokens,
        })
    }

    /// The cleaned pattern text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the whole of `path` (a clean relative path, `/`-separated) matches.
    pub fn matches(&self, path: &str) -> bool {
        let chars: Vec<char> = path.chars().collect();
        match_here(&self.tokens, &chars, false)
    }

    /// Whether some path strictly below the directory `dir` could match: the pattern can consume
    /// `dir/` and still have pattern left. Used to decide whether an excluded directory must
    /// still be walked because an exception may re-include something in it.
    pub fn may_match_below(&self, dir: &str) -> bool {
        let chars: Vec<char> = format!("{dir}/").chars().collect();
        match_here(&self.tokens, &chars, true)
    }
}

/// Reads a class after its `[`; returns the token and the index after the closing `]`. As in a
/// regex class, a `]` first in the class is a member, and `\` escapes the next character.
fn compile_class(chars: &[char], mut i: usize) -> Result<(Token, usize), PatternError> {
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut items = Vec::new();
    let mut first = true;
    loop {
        let mut ch = *chars.get(i).ok_or(PatternError::UnclosedClass)?;
        i += 1;
        if ch == ']' && !first {
            return Ok((Token::Class { negated, items }, i));
        }
        first = false;
        if ch == '\\' {
            ch = *chars.get(i).ok_or(PatternError::UnclosedClass)?;
            i += 1;
        }
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']') {
            let mut hi = chars[i + 1];
            i += 2;
            if hi == '\\' {
                hi = *chars.get(i).ok_or(PatternError::UnclosedClass)?;
                i += 1;
            }
            if hi < ch {
                return Err(PatternError::BadRange(ch, hi));
            }
            items.push(ClassItem::Range(ch, hi));
        } else {
            items.push(ClassItem::Char(ch));
        }
    }
}

fn class_matches(negated: bool, items: &[ClassItem], c: char) -> bool {
    let hit = items.iter().any(|item| match item {
        ClassItem::Char(x) => *x == c,
        ClassItem::Range(lo, hi) => (*lo..=*hi).contains(&c),
    });
    hit != negated
}

/// Backtracking match of `tokens` against `input`. With `prefix`, succeeds when `input` runs out
/// while pattern remains (the pattern could go on to match something longer).
fn match_here(tokens: &[Token], input: &[char], prefix: bool) -> bool {
    let Some((tok, rest)) = tokens.split_first() else {
        return input.is_empty();
    };
    if prefix && input.is_empty() {
        return true;
    }
    match tok {
        Token::Literal(c) => input.first() == Some(c) && match_here(rest, &input[1..], prefix),
        Token::AnyChar => input
            .first()
            .is_some_and(|c| *c != '/' && match_here(rest, &input[1..], prefix)),
        Token::Class { negated, items } => input.first().is_some_and(|c| {
            class_matches(*negated, items, *c) && match_here(rest, &input[1..], prefix)
        }),
        Token::Star => {
            let run = input.iter().take_while(|c| **c != '/').count();
            (0..=run).any(|n| match_here(rest, &input[n..], prefix))
        }
        Token::DirStar => {
            match_here(rest, input, prefix)
                || input
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c == '/')
                    .any(|(n, _)| match_here(rest, &input[n + 1..], prefix))
        }
        Token::Rest => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        Pattern::compile(pattern)
            .unwrap_or_else(|e| panic!("{pattern}: {e}"))
            .matches(path)
    }

    // Expectations below are what Docker's builder decides for the same pattern and path
    // (moby patternmatcher's regex translation).

    #[test]
    fn star_and_question_mark_stop_at_slash() {
        assert!(m("*.go", "main.go"));
        assert!(!m("*.go", "cmd/main.go"));
        assert!(m("*/*.go", "cmd/main.go"));
        assert!(m("file?.txt", "file1.txt"));
        assert!(!m("file?.txt", "file10.txt"));
        assert!(!m("a?b", "a/b"));
        assert!(m("*", "anything"));
        assert!(!m("*", "dir/file"));
    }

    #[test]
    fn double_star_spans_directories() {
        assert!(m("**/*.go", "main.go"), "zero directories");
        assert!(m("**/*.go", "a/b/c/main.go"));
        assert!(m("a/**/b", "a/b"));
        assert!(m("a/**/b", "a/x/y/b"));
        assert!(!m("a/**/b", "a/xb"));
        assert!(m("**", "a/b/c"));
        assert!(m("a/**", "a/b/c"));
        assert!(
            !m("a/**", "a"),
            "the directory itself is matched through its parent rule"
        );
        // `**` glued to text still means "empty or ending in /" in Docker.
        assert!(m("a**b", "ab"));
        assert!(m("a**b", "a/x/b"));
        assert!(!m("a**b", "axb"));
    }

    #[test]
    fn classes_are_regex_classes() {
        assert!(m("[abc].txt", "b.txt"));
        assert!(!m("[abc].txt", "d.txt"));
        assert!(m("[a-c]x", "cx"));
        assert!(!m("[^a-c]x", "cx"));
        assert!(m("[^a-c]x", "dx"));
        assert!(m("a[^x]b", "a/b"), "a negated regex class also matches /");
        assert!(m("[]]", "]"));
        assert!(
            m("[!a]", "!"),
            "`!` does not negate in Docker, it is a member"
        );
        assert!(!m("[!a]", "b"));
    }

    #[test]
    fn regex_metacharacters_and_braces_are_literal() {
        assert!(m("a.b", "a.b"));
        assert!(!m("a.b", "axb"));
        assert!(m("{a,b}", "{a,b}"));
        assert!(!m("{a,b}", "a"));
        assert!(m("a+(b)|$", "a+(b)|$"));
    }

    #[test]
    fn backslash_escapes_the_next_character() {
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "x"));
        assert!(m("a\\?", "a?"));
        assert_eq!(
            Pattern::compile("a\\"),
            Err(PatternError::TrailingBackslash)
        );
    }

    #[test]
    fn bad_patterns_are_rejected() {
        assert_eq!(Pattern::compile("[abc"), Err(PatternError::UnclosedClass));
        assert_eq!(
            Pattern::compile("[z-a]"),
            Err(PatternError::BadRange('z', 'a'))
        );
    }

    #[test]
    fn may_match_below_sees_through_wildcards() {
        let p = Pattern::compile("vendor/keep/*.go").expect("valid");
        assert!(p.may_match_below("vendor"));
        assert!(p.may_match_below("vendor/keep"));
        assert!(!p.may_match_below("vendor/other"));
        assert!(!p.may_match_below("src"));
        let p = Pattern::compile("**/keep.txt").expect("valid");
        assert!(p.may_match_below("any/dir"));
        let p = Pattern::compile("*/keep").expect("valid");
        assert!(p.may_match_below("x"));
        assert!(
            !p.may_match_below("x/keep"),
            "nothing below x/keep can match */keep"
        );
        let p = Pattern::compile("build").expect("valid");
        assert!(!p.may_match_below("build"));
    }
}
