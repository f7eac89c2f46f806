//! One instruction line to a typed instruction: arity, forms and flags per instruction.
//!
//! What each instruction accepts follows BuildKit's `instructions/parse.go`: which flags,
//! how many arguments, whether the JSON form is required (SHELL), allowed (RUN, CMD,
//! ENTRYPOINT, COPY, ADD, VOLUME, HEALTHCHECK CMD) or not a form at all (the rest).

use std::str::FromStr;

use crate::model::types::duration::Duration as GoDuration;

use super::error::ErrorKind;
use super::heredoc::{self, Heredoc};
use super::instruction::{
    Arg, Command, Copy, ExposedPort, From, HealthCheck, Healthcheck, InstructionKind, KeyValue,
    Onbuild, Run, RunNetwork, Security, Source,
};
use super::mount::Mount;
use super::words::{self, Flags};

/// A parsed line: a FROM opens a stage, anything else goes into one.
#[derive(Debug)]
pub(super) enum Parsed {
    From(From),
    Other(InstructionKind),
}

/// Parses one instruction; `keyword` is matched case-insensitively.
pub(super) fn instruction(
    keyword: &str,
    args: &str,
    heredocs: Vec<Heredoc>,
    line: usize,
    escape: char,
) -> Result<Parsed, ErrorKind> {
    let keyword = keyword.to_ascii_uppercase();
    if keyword == "FROM" {
        return from(args, line, escape).map(Parsed::From);
    }
    let kind = match keyword.as_str() {
        "RUN" => InstructionKind::Run(run(args, heredocs, escape)?),
        "CMD" => InstructionKind::Cmd(command(no_flags(args, escape)?)?),
        "ENTRYPOINT" => InstructionKind::Entrypoint(command(no_flags(args, escape)?)?),
        "SHELL" => {
            let shell =
                words::json_array(no_flags(args, escape)?).ok_or(ErrorKind::JsonRequired)?;
            if shell.is_empty() {
                return Err(ErrorKind::Arguments("requires at least one argument"));
            }
            InstructionKind::Shell(shell)
        }
        "ENV" => InstructionKind::Env(key_values(no_flags(args, escape)?, escape)?),
        "LABEL" => InstructionKind::Label(key_values(no_flags(args, escape)?, escape)?),
        "ARG" => InstructionKind::Arg(arg(no_flags(args, escape)?, line, escape)?),
        "WORKDIR" => InstructionKind::Workdir(one(no_flags(args, escape)?)?),
        "USER" => InstructionKind::User(one(no_flags(args, escape)?)?),
        "STOPSIGNAL" => InstructionKind::Stopsignal(one(no_flags(args, escape)?)?),
        "MAINTAINER" => InstructionKind::Maintainer(one(no_flags(args, escape)?)?),
        "COPY" => InstructionKind::Copy(copy(args, heredocs, escape, false)?),
        "ADD" => InstructionKind::Add(copy(args, heredocs, escape, true)?),
        "EXPOSE" => InstructionKind::Expose(expose(no_flags(args, escape)?, escape)?),
        "VOLUME" => InstructionKind::Volume(volume(no_flags(args, escape)?, escape)?),
        "HEALTHCHECK" => InstructionKind::Healthcheck(healthcheck(args, escape)?),
        "ONBUILD" => InstructionKind::Onbuild(onbuild(args, line, escape)?),
        _ => return Err(ErrorKind::UnknownInstruction(keyword)),
    };
    Ok(Parsed::Other(kind))
}

/// Leading flags read against the ones the instruction allows; the rest of the text.
fn flagged<'a>(
    args: &'a str,
    escape: char,
    allowed: &[&str],
) -> Result<(Flags, &'a str), ErrorKind> {
    let (flags, rest) = words::take_flags(args, escape);
    Ok((Flags::new(flags, allowed)?, rest))
}

fn no_flags(args: &str, escape: char) -> Result<&str, ErrorKind> {
    flagged(args, escape, &[]).map(|(_, rest)| rest)
}

/// The whole argument text as one value (WORKDIR, USER, STOPSIGNAL, MAINTAINER).
fn one(args: &str) -> Result<String, ErrorKind> {
    let args = args.trim();
    if args.is_empty() {
        return Err(ErrorKind::Arguments("requires exactly one argument"));
    }
    Ok(args.to_string())
}

fn from(args: &str, line: usize, escape: char) -> Result<From, ErrorKind> {
    let (flags, rest) = flagged(args, escape, &["platform"])?;
    let words = words::split(rest, escape);
    let name = match words.as_slice() {
        [_] => None,
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let name = name.to_ascii_lowercase();
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !valid {
                return Err(ErrorKind::StageName(name));
            }
            Some(name)
        }
        _ => {
            return Err(ErrorKind::Arguments(
                "requires either one or three arguments",
            ))
        }
    };
    Ok(From {
        line,
        image: words[0].clone(),
        name,
        platform: flags.string("platform")?,
    })
}

/// The exec form when the text is a JSON string array, else the shell form.
fn command(args: &str) -> Result<Command, ErrorKind> {
    if let Some(exec) = words::json_array(args) {
        return Ok(Command::Exec(exec));
    }
    let shell = args.trim();
    if shell.is_empty() {
        return Err(ErrorKind::Arguments("requires at least one argument"));
    }
    Ok(Command::Shell(shell.to_string()))
}

fn run(args: &str, heredocs: Vec<Heredoc>, escape: char) -> Result<Run, ErrorKind> {
    let (flags, rest) = flagged(args, escape, &["mount", "network", "security"])?;
    let mounts = flags
        .strings("mount")?
        .iter()
        .map(|m| Mount::parse(m))
        .collect::<Result<_, _>>()?;
    let network = match flags.string("network")?.as_deref() {
        None => None,
        Some("default") => Some(RunNetwork::Default),
        Some("none") => Some(RunNetwork::None),
        Some("host") => Some(RunNetwork::Host),
        Some(_) => {
            let message = "expects default, none or host";
            return Err(ErrorKind::FlagValue {
                flag: "network".into(),
                message,
            });
        }
    };
    let security = match flags.string("security")?.as_deref() {
        None => None,
        Some("sandbox") => Some(Security::Sandbox),
        Some("insecure") => Some(Security::Insecure),
        Some(_) => {
            let message = "expects sandbox or insecure";
            return Err(ErrorKind::FlagValue {
                flag: "security".into(),
                message,
            });
        }
    };
    Ok(Run {
        command: command(rest)?,
        heredocs,
        mounts,
        network,
        security,
    })
}

/// ENV and LABEL: `KEY=VALUE ...`, or the legacy `KEY VALUE` (the value is the rest).
fn key_values(args: &str, escape: char) -> Result<Vec<KeyValue>, ErrorKind> {
    let words = words::split(args, escape);
    let Some(first) = words.first() else {
        return Err(ErrorKind::Arguments("requires at least one argument"));
    };
    if !first.contains('=') {
        let Some((key, value)) = args.trim().split_once(char::is_whitespace) else {
            return Err(ErrorKind::Arguments("must have two arguments"));
        };
        let value = value.trim();
        return Ok(vec![KeyValue {
            key: key.to_string(),
            value: value.to_string(),
        }]);
    }
    words
        .iter()
        .map(|word| {
            let (key, value) = word
                .split_once('=')
                .ok_or_else(|| ErrorKind::MissingEquals(word.clone()))?;
            if key.is_empty() {
                return Err(ErrorKind::BlankName);
            }
            Ok(KeyValue {
                key: key.to_string(),
                value: value.to_string(),
            })
        })
        .collect()
}

fn arg(args: &str, line: usize, escape: char) -> Result<Vec<Arg>, ErrorKind> {
    let words = words::split(args, escape);
    if words.is_empty() {
        return Err(ErrorKind::Arguments("requires at least one argument"));
    }
    words
        .into_iter()
        .map(|word| {
            let (name, default) = match word.split_once('=') {
                Some((name, default)) => (name.to_string(), Some(default.to_string())),
                None => (word, None),
            };
            if name.is_empty() {
                return Err(ErrorKind::BlankName);
            }
            Ok(Arg {
                line,
                name,
                default,
            })
        })
        .collect()
}

fn copy(args: &str, heredocs: Vec<Heredoc>, escape: char, add: bool) -> Result<Copy, ErrorKind> {
    let allowed: &[&str] = if add {
        &[
            "chown",
            "chmod",
            "link",
            "exclude",
            "checksum",
            "keep-git-dir",
        ]
    } else {
        &["from", "chown", "chmod", "link", "exclude"]
    };
    let (flags, rest) = flagged(args, escape, allowed)?;
    let mut sources: Vec<Source> = match words::json_array(rest) {
        Some(paths) => paths.into_iter().map(Source::Path).collect(),
        None => {
            let mut heredocs = heredocs.into_iter();
            words::split(rest, escape)
                .into_iter()
                .map(
                    |word| match heredoc::marker(&word).and_then(|_| heredocs.next()) {
                        Some(doc) => Source::Heredoc(doc),
                        None => Source::Path(word),
                    },
                )
                .collect()
        }
    };
    let dest = match (sources.len(), sources.pop()) {
        (2.., Some(Source::Path(dest))) => dest,
        (2.., Some(Source::Heredoc(_))) => {
            return Err(ErrorKind::Arguments("the destination can not be a heredoc"));
        }
        _ => return Err(ErrorKind::Arguments("requires at least two arguments")),
    };
    Ok(Copy {
        sources,
        dest,
        from: if add { None } else { flags.string("from")? },
        chown: flags.string("chown")?,
        chmod: flags.string("chmod")?,
        link: flags.boolean("link")?,
        exclude: flags.strings("exclude")?,
        checksum: if add { flags.string("checksum")? } else { None },
        keep_git_dir: add && flags.boolean("keep-git-dir")?,
    })
}

/// EXPOSE words; those without variables are checked now, the others once expanded.
fn expose(args: &str, escape: char) -> Result<Vec<String>, ErrorKind> {
    let ports = words::split(args, escape);
    if ports.is_empty() {
        return Err(ErrorKind::Arguments("requires at least one argument"));
    }
    if let Some(bad) = ports
        .iter()
        .find(|p| !p.contains('$') && ExposedPort::parse(p).is_none())
    {
        return Err(ErrorKind::Port(bad.clone()));
    }
    Ok(ports)
}

fn volume(args: &str, escape: char) -> Result<Vec<String>, ErrorKind> {
    let volumes = words::json_array(args).unwrap_or_else(|| words::split(args, escape));
    if volumes.is_empty() || volumes.iter().any(|v| v.trim().is_empty()) {
        return Err(ErrorKind::Arguments(
            "requires at least one non-empty argument",
        ));
    }
    Ok(volumes)
}

fn healthcheck(args: &str, escape: char) -> Result<Healthcheck, ErrorKind> {
    let allowed = [
        "interval",
        "timeout",
        "start-period",
        "start-interval",
        "retries",
    ];
    let (flags, rest) = flagged(args, escape, &allowed)?;
    let Some((kind, rest)) = words::next_word(rest, escape) else {
        return Err(ErrorKind::Arguments("requires at least one argument"));
    };
    match kind.to_ascii_uppercase().as_str() {
        "NONE" if rest.trim().is_empty() => Ok(Healthcheck::None),
        "NONE" => Err(ErrorKind::Arguments("NONE takes no arguments")),
        "CMD" => {
            let duration = |flag: &str| -> Result<Option<std::time::Duration>, ErrorKind> {
                let Some(text) = flags.string(flag)? else {
                    return Ok(None);
                };
                let d = GoDuration::from_str(&text).map_err(|source| ErrorKind::Duration {
                    flag: flag.to_string(),
                    source,
                })?;
                Ok(Some(d.as_std()))
            };
            let retries = match flags.string("retries")? {
                None => None,
                Some(text) => Some(text.parse().map_err(|_| ErrorKind::Retries(text))?),
            };
            Ok(Healthcheck::Check(HealthCheck {
                test: command(rest)?,
                interval: duration("interval")?,
                timeout: duration("timeout")?,
                start_period: duration("start-period")?,
                start_interval: duration("start-interval")?,
                retries,
            }))
        }
        other => Err(ErrorKind::HealthcheckType(other.to_string())),
    }
}

fn onbuild(args: &str, line: usize, escape: char) -> Result<Onbuild, ErrorKind> {
    let expression = args.trim();
    let (keyword, rest) = match expression.split_once(char::is_whitespace) {
        Some((keyword, rest)) => (keyword, rest.trim_start()),
        None => (expression, ""),
    };
    if keyword.is_empty() {
        return Err(ErrorKind::Arguments("requires at least one argument"));
    }
    let upper = keyword.to_ascii_uppercase();
    if matches!(upper.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
        return Err(ErrorKind::OnbuildTrigger(upper));
    }
    match instruction(&upper, rest, Vec::new(), line, escape)? {
        Parsed::Other(trigger) => Ok(Onbuild {
            trigger: Box::new(trigger),
            expression: expression.to_string(),
        }),
        Parsed::From(_) => Err(ErrorKind::OnbuildTrigger(upper)),
    }
}
