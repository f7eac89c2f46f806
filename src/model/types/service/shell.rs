//! Command lines: a command in exec form, a string split by shell quoting rules as Compose
//! splits it.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::model::types::fields::seq_to_vec;

/// A command (`command`, `entrypoint`, hook commands) in exec (list) form. A string is split
/// into words with shell quoting rules, the way Compose does (go-shellwords): quotes group,
/// backslash escapes, and an unquoted `;`, `&`, `|`, `<` or `>` ends the command — Compose
/// silently drops everything from there, so `a && b` runs `a` (write `sh -c "a && b"`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct ShellCommand(pub Vec<String>);

impl<'de> Deserialize<'de> for ShellCommand {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ShellCommand;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a command string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ShellCommand, E> {
                split_shell_words(v)
                    .map(ShellCommand)
                    .map_err(|e| E::custom(format!("invalid command {v:?}: {e}")))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ShellCommand, A::Error> {
                seq_to_vec(seq).map(ShellCommand)
            }
        }
        d.deserialize_any(V)
    }
}

/// Splits a command line into words like go-shellwords (environment and backtick expansion
/// off), which is how Compose turns `command: a "b c"` into `["a", "b c"]`.
pub fn split_shell_words(line: &str) -> Result<Vec<String>, String> {
    #[derive(PartialEq)]
    enum Got {
        No,
        Single,
        Quoted,
    }
    let mut args = Vec::new();
    let mut buf = String::new();
    let (mut escaped, mut dq, mut sq, mut backq, mut dollarq) = (false, false, false, false, false);
    let mut got = Got::No;
    for r in line.chars() {
        if escaped {
            escaped = false;
            if backq || dollarq {
                buf.push('\\');
                buf.push(r);
                got = Got::Single;
                continue;
            }
            buf.push(match r {
                't' => '\t',
                'n' => '\n',
                other => other,
            });
            got = Got::Single;
            continue;
        }
        if r == '\\' {
            if sq {
                buf.push(r);
            } else {
                escaped = true;
            }
            continue;
        }
        if matches!(r, ' ' | '\t' | '\r' | '\n') {
            if sq || dq || backq || dollarq {
                buf.push(r);
            } else if got != Got::No {
                args.push(std::mem::take(&mut buf));
                got = Got::No;
            }
            continue;
        }
        match r {
            '`' if !sq && !dq && !dollarq => backq = !backq,
            ')' if !sq && !dq && !backq => {
                if !dollarq {
                    return Err("unbalanced `)`".into());
                }
                buf.push(r);
                dollarq = false;
                got = Got::Single;
                continue;
            }
            '(' if !sq && !dq && !backq => {
                if !dollarq && buf.ends_with('$') && !buf.ends_with("\\$") {
                    dollarq = true;
                    buf.push('(');
                    continue;
                }
                return Err("unexpected `(`".into());
            }
            '"' if !sq && !dollarq && !backq => {
                if dq {
                    got = Got::Quoted;
                }
                dq = !dq;
                continue;
            }
            '\'' if !dq && !dollarq && !backq => {
                if sq {
                    got = Got::Quoted;
                }
                sq = !sq;
                continue;
            }
            ';' | '&' | '|' | '<' | '>' if !(sq || dq || backq || dollarq) => {
                // A redirection's file-descriptor number (`2>`) is not a word of its own.
                if r == '>' && !buf.is_empty() && buf.bytes().all(|b| b.is_ascii_digit()) {
                    got = Got::No;
                }
                break;
            }
            _ => {}
        }
        got = Got::Single;
        buf.push(r);
    }
    if got != Got::No {
        args.push(buf);
    }
    if escaped || sq || dq || backq || dollarq {
        return Err("unterminated quote or escape".into());
    }
    Ok(args)
}

#[cfg(test)]
#[path = "shell_tests.rs"]
mod tests;
