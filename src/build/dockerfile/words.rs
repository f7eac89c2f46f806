//! Splitting instruction arguments into words, the JSON (exec) form, and leading `--flags`.
//!
//! BuildKit splits arguments on unquoted whitespace and keeps the quotes in each word: they are
//! removed later, when the word goes through variable expansion ([`super::expand`]). Flags are
//! the words starting with `--` before the first other word; their quotes are removed at once.

use super::error::ErrorKind;

/// Splits `s` into words on whitespace outside quotes; quotes and escapes stay in the words.
pub(super) fn split(s: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = s;
    while let Some((word, next)) = next_word(rest, escape) {
        words.push(word.to_string());
        rest = next;
    }
    words
}

/// The next word of `s` (as written) and the text after it; `None` when only blanks are left.
/// An unterminated quote runs to the end of the text, as BuildKit's word splitter lets it.
pub(super) fn next_word(s: &str, escape: char) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    let mut quote: Option<char> = None;
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match quote {
            None if c.is_whitespace() => return Some((&s[..i], &s[i..])),
            None if c == '\'' || c == '"' => quote = Some(c),
            Some(q) if c == q => quote = None,
            Some('\'') => {}
            _ if c == escape => {
                chars.next();
            }
            _ => {}
        }
    }
    Some((s, ""))
}

/// Removes quotes and escapes from a flag word, without expanding variables.
fn unquote(word: &str, escape: char) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match quote {
            None if c == '\'' || c == '"' => quote = Some(c),
            Some(q) if c == q => quote = None,
            Some('\'') => out.push(c),
            _ if c == escape => out.extend(chars.next()),
            _ => out.push(c),
        }
    }
    out
}

/// The exec form: a JSON array of strings. Anything else (even broken JSON) is the shell form,
/// as BuildKit falls back to it.
pub(super) fn json_array(s: &str) -> Option<Vec<String>> {
    let s = s.trim();
    if !s.starts_with('[') {
        return None;
    }
    serde_json::from_str(s).ok()
}

/// A `--name[=value]` flag before an instruction's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Flag {
    pub name: String,
    pub value: Option<String>,
}

/// Takes the leading flags off `args`; `--` alone ends them. Returns the flags and the rest of
/// the text, untouched, so that exec forms and heredoc markers can still be read from it.
pub(super) fn take_flags(args: &str, escape: char) -> (Vec<Flag>, &str) {
    let mut flags = Vec::new();
    let mut rest = args.trim_start();
    while let Some((word, next)) = next_word(rest, escape) {
        let Some(body) = word.strip_prefix("--") else {
            break;
        };
        rest = next.trim_start();
        if body.is_empty() {
            break;
        }
        let body = unquote(body, escape);
        let flag = match body.split_once('=') {
            Some((name, value)) => Flag {
                name: name.to_string(),
                value: Some(value.to_string()),
            },
            None => Flag {
                name: body,
                value: None,
            },
        };
        flags.push(flag);
    }
    (flags, rest)
}

/// The flags an instruction accepts, read one by one; unknown and repeated flags are errors.
pub(super) struct Flags {
    flags: Vec<Flag>,
}

impl Flags {
    /// Fails on the first flag whose name is not in `allowed`.
    pub fn new(flags: Vec<Flag>, allowed: &[&str]) -> Result<Self, ErrorKind> {
        if let Some(unknown) = flags.iter().find(|f| !allowed.contains(&f.name.as_str())) {
            return Err(ErrorKind::UnknownFlag(unknown.name.clone()));
        }
        Ok(Flags { flags })
    }

    /// A flag given at most once, with a value.
    pub fn string(&self, name: &str) -> Result<Option<String>, ErrorKind> {
        let mut found = self.flags.iter().filter(|f| f.name == name);
        let Some(first) = found.next() else {
            return Ok(None);
        };
        if found.next().is_some() {
            return Err(ErrorKind::DuplicateFlag(name.to_string()));
        }
        match &first.value {
            Some(value) => Ok(Some(value.clone())),
            None => Err(ErrorKind::FlagValue {
                flag: name.to_string(),
                message: "needs a value",
            }),
        }
    }

    /// Every value of a repeatable flag (`--mount`, `--exclude`).
    pub fn strings(&self, name: &str) -> Result<Vec<String>, ErrorKind> {
        self.flags
            .iter()
            .filter(|f| f.name == name)
            .map(|f| {
                f.value.clone().ok_or_else(|| ErrorKind::FlagValue {
                    flag: name.to_string(),
                    message: "needs a value",
                })
            })
            .collect()
    }

    /// A boolean flag: `--link`, `--link=true`, `--link=false`.
    pub fn boolean(&self, name: &str) -> Result<bool, ErrorKind> {
        let mut found = self.flags.iter().filter(|f| f.name == name);
        let Some(first) = found.next() else {
            return Ok(false);
        };
        if found.next().is_some() {
            return Err(ErrorKind::DuplicateFlag(name.to_string()));
        }
        match first
            .value
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(ErrorKind::FlagValue {
                flag: name.to_string(),
                message: "expects true or false",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // BuildKit's parseWords: quotes group words and are kept; the escape keeps a blank in a word.
    #[test]
    fn splits_words_keeping_quotes() {
        assert_eq!(
            split(r#"a "b c" 'd e'  f\ g"#, '\\'),
            ["a", "\"b c\"", "'d e'", "f\\ g"]
        );
        assert_eq!(split("a` b c", '`'), ["a` b", "c"]);
        assert_eq!(split("   ", '\\'), Vec::<String>::new());
    }

    #[test]
    fn exec_form_needs_a_json_string_array() {
        assert_eq!(
            json_array(r#" ["a", "b c"] "#),
            Some(vec!["a".into(), "b c".into()])
        );
        assert_eq!(json_array("[a, b]"), None);
        assert_eq!(json_array("[1]"), None);
        assert_eq!(json_array("echo [a]"), None);
    }

    #[test]
    fn takes_leading_flags_only() {
        let (flags, rest) = take_flags(r#"--from=build --chown="1:2" --link a --b c"#, '\\');
        assert_eq!(
            flags,
            [
                Flag {
                    name: "from".into(),
                    value: Some("build".into())
                },
                Flag {
                    name: "chown".into(),
                    value: Some("1:2".into())
                },
                Flag {
                    name: "link".into(),
                    value: None
                },
            ]
        );
        assert_eq!(rest, "a --b c");
        let (flags, rest) = take_flags("-- --not-a-flag", '\\');
        assert!(flags.is_empty());
        assert_eq!(rest, "--not-a-flag");
    }

    #[test]
    fn flags_reject_unknown_duplicate_and_valueless() {
        let (flags, _) = take_flags("--from=a --from=b x", '\\');
        let flags = Flags::new(flags, &["from"]).unwrap();
        assert!(matches!(
            flags.string("from"),
            Err(ErrorKind::DuplicateFlag(_))
        ));
        let (flags, _) = take_flags("--nope x", '\\');
        assert!(
            matches!(Flags::new(flags, &["from"]), Err(ErrorKind::UnknownFlag(n)) if n == "nope")
        );
        let (flags, _) = take_flags("--from x", '\\');
        let flags = Flags::new(flags, &["from"]).unwrap();
        assert!(matches!(
            flags.string("from"),
            Err(ErrorKind::FlagValue { .. })
        ));
        let (flags, _) = take_flags("--link=false x", '\\');
        assert!(!Flags::new(flags, &["link"])
            .unwrap()
            .boolean("link")
            .unwrap());
    }
}
