//! Why a Dockerfile was rejected, located as BuildKit locates it: file, line, instruction.

use crate::model::types::duration::DurationError;

use super::expand::ExpandError;
use super::mount::MountError;

/// A rejected Dockerfile: `Dockerfile:7: COPY: requires at least two arguments`.
#[derive(Debug, thiserror::Error)]
#[error("{}{}{kind}", location(.file, *.line), instruction_prefix(.instruction))]
pub struct DockerfileError {
    pub file: String,
    /// 1-based line of the instruction (its first line when it spans several); 0 when the
    /// file itself could not be read.
    pub line: usize,
    /// The instruction keyword, upper-cased; `None` for file-level problems.
    pub instruction: Option<String>,
    /// Boxed: the error travels up through every `Result` of a build, keep it small.
    pub kind: Box<ErrorKind>,
}

fn location(file: &str, line: usize) -> String {
    if line == 0 {
        format!("{file}: ")
    } else {
        format!("{file}:{line}: ")
    }
}

fn instruction_prefix(instruction: &Option<String>) -> String {
    instruction
        .as_ref()
        .map(|i| format!("{i}: "))
        .unwrap_or_default()
}

/// What was wrong, without the location.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error("cannot read the Dockerfile: {0}")]
    Read(#[source] std::io::Error),
    #[error("invalid escape parser directive {0:?}: must be ` or \\")]
    InvalidEscape(String),
    #[error("only one {0} parser directive can be used")]
    DuplicateDirective(String),
    #[error("unterminated heredoc: no line {0:?} closes it")]
    UnterminatedHeredoc(String),
    #[error("unknown instruction: {0}")]
    UnknownInstruction(String),
    #[error("the Dockerfile has no FROM instruction")]
    NoStage,
    #[error("only ARG may come before the first FROM")]
    BeforeFrom,
    #[error("{0}")]
    Arguments(&'static str),
    #[error("unknown flag: --{0}")]
    UnknownFlag(String),
    #[error("duplicate flag specified: --{0}")]
    DuplicateFlag(String),
    #[error("flag --{flag} {message}")]
    FlagValue { flag: String, message: &'static str },
    #[error("{0}")]
    Mount(#[from] MountError),
    #[error("{0}")]
    Expand(#[from] ExpandError),
    #[error("--{flag}: {source}")]
    Duration { flag: String, source: DurationError },
    #[error("invalid --retries value {0:?}: expected a non-negative integer")]
    Retries(String),
    #[error("invalid port {0:?}: expected PORT[-PORT][/tcp|udp|sctp]")]
    Port(String),
    #[error("invalid name for build stage {0:?}: it must start with a letter and hold only letters, digits, '-', '_' and '.'")]
    StageName(String),
    #[error("duplicate stage name {0:?}")]
    DuplicateStage(String),
    #[error("requires the arguments to be in JSON form, e.g. [\"/bin/sh\", \"-c\"]")]
    JsonRequired,
    #[error("{0} isn't allowed as an ONBUILD trigger")]
    OnbuildTrigger(String),
    #[error("can't find = in {0:?}: must be of the form name=value")]
    MissingEquals(String),
    #[error("names can not be blank")]
    BlankName,
    #[error("unknown HEALTHCHECK type {0:?} (try CMD or NONE)")]
    HealthcheckType(String),
}
