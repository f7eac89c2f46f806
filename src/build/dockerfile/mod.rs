//! The Dockerfile front end: text to typed, validated stages; no execution.
//!
//! Our own parser, after BuildKit's (`frontend/dockerfile/parser`, `instructions`, `shell`):
//! the maintained Rust crates either stop at syntax (raw ARG/ENV text, untyped flags, no
//! variable expansion) or miss heredocs and instructions. The steps, one module each:
//! [`directives`] at the top, [`lines`] (continuations, comments, heredoc bodies), [`words`]
//! and flags, [`dispatch`] to typed [`instruction`]s (with [`mount`] for `RUN --mount`), then,
//! when a build runs, [`scope`] resolves ARG/ENV and [`expand`]s the words Docker expands.
//! Parsing reads nothing but its text; [`read`] is the one entry point that opens a file.

mod directives;
mod dispatch;
mod error;
pub mod expand;
mod heredoc;
mod instruction;
mod lines;
mod mount;
pub mod scope;
mod words;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use directives::Directives;
pub use error::{DockerfileError, ErrorKind};
pub use expand::{expand, ExpandError};
pub use heredoc::Heredoc;
pub use instruction::{
    Arg, Command, Copy, ExposedPort, From, HealthCheck, Healthcheck, Instruction, InstructionKind,
    KeyValue, Onbuild, Protocol, Run, RunNetwork, Security, Source, Stage,
};
pub use mount::{CacheMount, Mount, MountError, Sharing};
pub use scope::{GlobalScope, Platform, StageScope};

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The name errors use for it (`Dockerfile`, `web.Dockerfile`).
    pub file: String,
    pub directives: Directives,
    /// The ARGs before the first FROM, which only FROM lines see.
    pub args_before_from: Vec<Arg>,
    /// At least one.
    pub stages: Vec<Stage>,
}

impl Dockerfile {
    /// The stage a `--from`, `--target` or `FROM` names: a stage name or an index.
    pub fn stage(&self, name_or_index: &str) -> Option<&Stage> {
        let name = name_or_index.to_ascii_lowercase();
        self.stages
            .iter()
            .find(|s| s.from.name.as_deref() == Some(name.as_str()))
            .or_else(|| {
                name_or_index
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| self.stages.get(i))
            })
    }
}

/// Reads and parses the Dockerfile at `path`; errors name it as given.
pub fn read(path: &Path) -> Result<Dockerfile, DockerfileError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| DockerfileError {
        file: file.clone(),
        line: 0,
        instruction: None,
        kind: Box::new(ErrorKind::Read(e)),
    })?;
    parse(&text, &file)
}

/// Parses Dockerfile `text`; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Dockerfile, DockerfileError> {
    let err = |line: usize, instruction: Option<String>, kind: ErrorKind| DockerfileError {
        file: file.to_string(),
        line,
        instruction,
        kind: Box::new(kind),
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    let directives = directives::parse(&lines).map_err(|(line, kind)| err(line, None, kind))?;
    let escape = directives.escape;
    let instruction_lines = lines::instructions(&lines, escape)
        .map_err(|(line, keyword, kind)| err(line, Some(keyword), kind))?;
    let mut args_before_from = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for il in instruction_lines {
        let keyword = il.keyword.to_ascii_uppercase();
        let parsed = dispatch::instruction(&il.keyword, &il.args, il.heredocs, il.line, escape)
            .map_err(|kind| err(il.line, Some(keyword.clone()), kind))?;
        match parsed {
            dispatch::Parsed::From(from) => {
                if let Some(name) = &from.name {
                    if stages.iter().any(|s| s.from.name.as_ref() == Some(name)) {
                        return Err(err(
                            il.line,
                            Some(keyword),
                            ErrorKind::DuplicateStage(name.clone()),
                        ));
                    }
                }
                stages.push(Stage {
                    from,
                    instructions: Vec::new(),
                });
            }
            dispatch::Parsed::Other(kind) => match (stages.last_mut(), kind) {
                (Some(stage), kind) => stage.instructions.push(Instruction {
                    line: il.line,
                    kind,
                }),
                (None, InstructionKind::Arg(args)) => args_before_from.extend(args),
                (None, _) => return Err(err(il.line, Some(keyword), ErrorKind::BeforeFrom)),
            },
        }
    }
    if stages.is_empty() {
        return Err(err(lines.len().max(1), None, ErrorKind::NoStage));
    }
    Ok(Dockerfile {
        file: file.to_string(),
        directives,
        args_before_from,
        stages,
    })
}
