//! The typed instructions of a Dockerfile.
//!
//! Words are kept as written (quotes included) wherever Docker expands variables later, with
//! the ARG/ENV values of the step that runs them ([`super::scope`]); what is fixed at parse
//! time (flags, mounts, durations, exec forms) is already typed here.

use std::time::Duration;

use super::heredoc::Heredoc;
use super::mount::Mount;

/// One instruction and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub line: usize,
    pub kind: InstructionKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstructionKind {
    Run(Run),
    Cmd(Command),
    Entrypoint(Command),
    /// The shell for later shell forms, always in JSON form.
    Shell(Vec<String>),
    Env(Vec<KeyValue>),
    Label(Vec<KeyValue>),
    Arg(Vec<Arg>),
    Workdir(String),
    User(String),
    Copy(Copy),
    Add(Copy),
    /// `PORT[-PORT][/PROTO]` words; see [`ExposedPort::parse`].
    Expose(Vec<String>),
    Volume(Vec<String>),
    Healthcheck(Healthcheck),
    Stopsignal(String),
    Onbuild(Onbuild),
    /// Deprecated, kept: it sets the image's author.
    Maintainer(String),
}

impl InstructionKind {
    /// The keyword, upper-cased, as errors and progress name it.
    pub fn keyword(&self) -> &'static str {
        match self {
            InstructionKind::Run(_) => "RUN",
            InstructionKind::Cmd(_) => "CMD",
            InstructionKind::Entrypoint(_) => "ENTRYPOINT",
            InstructionKind::Shell(_) => "SHELL",
            InstructionKind::Env(_) => "ENV",
            InstructionKind::Label(_) => "LABEL",
            InstructionKind::Arg(_) => "ARG",
            InstructionKind::Workdir(_) => "WORKDIR",
            InstructionKind::User(_) => "USER",
            InstructionKind::Copy(_) => "COPY",
            InstructionKind::Add(_) => "ADD",
            InstructionKind::Expose(_) => "EXPOSE",
            InstructionKind::Volume(_) => "VOLUME",
            InstructionKind::Healthcheck(_) => "HEALTHCHECK",
            InstructionKind::Stopsignal(_) => "STOPSIGNAL",
            InstructionKind::Onbuild(_) => "ONBUILD",
            InstructionKind::Maintainer(_) => "MAINTAINER",
        }
    }
}

/// A build stage: its FROM and the instructions up to the next FROM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub from: From,
    pub instructions: Vec<Instruction>,
}

/// `FROM [--platform=P] IMAGE [AS NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    pub line: usize,
    /// An image reference, `scratch`, or the name of an earlier stage (unexpanded).
    pub image: String,
    /// The stage name, lower-cased as BuildKit does.
    pub name: Option<String>,
    pub platform: Option<String>,
}

/// The exec (JSON) or shell form of RUN, CMD, ENTRYPOINT and HEALTHCHECK CMD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Exec(Vec<String>),
    /// Run by the stage's SHELL; never expanded by the builder (the shell does it).
    Shell(String),
}

/// `RUN [--mount=...] [--network=...] [--security=...] COMMAND`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub command: Command,
    /// Heredocs of the command line, in order (`RUN <<EOF` runs the first as a script).
    pub heredocs: Vec<Heredoc>,
    pub mounts: Vec<Mount>,
    pub network: Option<RunNetwork>,
    pub security: Option<Security>,
}

/// `RUN --network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunNetwork {
    Default,
    None,
    Host,
}

/// `RUN --security`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Sandbox,
    Insecure,
}

/// A `KEY=VALUE` of ENV or LABEL, both still unexpanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// `ARG NAME[=DEFAULT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    pub line: usize,
    pub name: String,
    /// The default, unexpanded (expanded when the ARG is reached).
    pub default: Option<String>,
}

/// COPY and ADD: sources, destination and flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    pub sources: Vec<Source>,
    pub dest: String,
    /// `--from`: a stage name or index, or an image (COPY only).
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub exclude: Vec<String>,
    /// `--checksum` (ADD only).
    pub checksum: Option<String>,
    /// `--keep-git-dir` (ADD only).
    pub keep_git_dir: bool,
}

/// A COPY/ADD source: a path, glob or URL, or a heredoc that becomes a file of its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Path(String),
    Heredoc(Heredoc),
}

/// `HEALTHCHECK NONE` or `HEALTHCHECK [OPTIONS] CMD ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// Disables a check inherited from the base image.
    None,
    Check(HealthCheck),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub test: Command,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    pub start_interval: Option<Duration>,
    pub retries: Option<u32>,
}

/// `ONBUILD INSTRUCTION`: a trigger for images built FROM this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Onbuild {
    pub trigger: Box<InstructionKind>,
    /// The trigger as written, which the image config stores (`RUN make`).
    pub expression: String,
}

/// One `EXPOSE` word, checked: `80`, `8000-8010/udp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExposedPort {
    pub start: u16,
    pub end: u16,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl ExposedPort {
    /// Parses an expanded EXPOSE word; the protocol defaults to tcp and is case-insensitive.
    pub fn parse(word: &str) -> Option<ExposedPort> {
        let (ports, protocol) = match word.split_once('/') {
            Some((ports, proto)) => (ports, proto.to_ascii_lowercase()),
            None => (word, "tcp".to_string()),
        };
        let protocol = match protocol.as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "sctp" => Protocol::Sctp,
            _ => return None,
        };
        let (start, end) = match ports.split_once('-') {
            Some((start, end)) => (start.parse().ok()?, end.parse().ok()?),
            None => {
                let port = ports.parse().ok()?;
                (port, port)
            }
        };
        (start <= end).then_some(ExposedPort {
            start,
            end,
            protocol,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposed_ports_parse_as_docker_does() {
        let p = ExposedPort::parse("80").unwrap();
        assert_eq!((p.start, p.end, p.protocol), (80, 80, Protocol::Tcp));
        let p = ExposedPort::parse("8000-8010/UDP").unwrap();
        assert_eq!((p.start, p.end, p.protocol), (8000, 8010, Protocol::Udp));
        assert_eq!(ExposedPort::parse("80/http"), None);
        assert_eq!(ExposedPort::parse("90-80"), None);
        assert_eq!(ExposedPort::parse("70000"), None);
    }
}
