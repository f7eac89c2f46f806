//! ARG and ENV scoping, and expanding the instructions Docker expands.
//!
//! BuildKit's rules: ARGs before the first FROM are visible in FROM lines only, unless a stage
//! declares them again (`ARG NAME` without a default takes the global value); a build arg
//! (`--build-arg`) overrides an ARG's default, but only for an ARG that is declared; ENV
//! overrides an ARG of the same name from then on; the values of one ENV line are expanded with
//! the variables as they were before that line. The predefined proxy args (`HTTP_PROXY` and
//! the like) reach RUN's environment from build args without a declaration, but are not
//! expanded in the Dockerfile unless declared. Only ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL
//! USER VOLUME WORKDIR (and ARG defaults) are expanded; RUN, CMD and ENTRYPOINT are left to the
//! shell, and an ONBUILD trigger is expanded by the build that fires it. The automatic
//! platform args (`TARGETPLATFORM`, `BUILDARCH` and the rest) are global: FROM lines see them,
//! a stage only once it declares them.

use indexmap::IndexMap;

use crate::engine::image::host_arch;

use super::error::{DockerfileError, ErrorKind};
use super::expand::{expand, expand_raw, ExpandError};
use super::instruction::{
    Arg, Copy, ExposedPort, From, Instruction, InstructionKind, KeyValue, Source,
};
use super::Dockerfile;

/// Build args usable without an ARG declaration (in RUN's environment only).
pub const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The platform the automatic platform args describe. We build for the host only (another
/// platform is refused before a build starts), so BUILD* and TARGET* are the same platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    /// GOARCH spelling: `amd64`, `arm64`.
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// This machine's platform.
    pub fn host() -> Self {
        Platform {
            os: "linux".into(),
            architecture: host_arch().into(),
            variant: None,
        }
    }

    /// `os/arch[/variant]`, as `--platform` writes it.
    pub fn spec(&self) -> String {
        match &self.variant {
            Some(variant) => format!("{}/{}/{variant}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }

    /// `<PREFIX>PLATFORM`, `<PREFIX>OS`, `<PREFIX>ARCH`, `<PREFIX>VARIANT`.
    fn args(&self, prefix: &str) -> [(String, String); 4] {
        [
            (format!("{prefix}PLATFORM"), self.spec()),
            (format!("{prefix}OS"), self.os.clone()),
            (format!("{prefix}ARCH"), self.architecture.clone()),
            (
                format!("{prefix}VARIANT"),
                self.variant.clone().unwrap_or_default(),
            ),
        ]
    }
}

/// The variables of the FROM lines: the ARGs before the first FROM, with build args applied.
#[derive(Debug, Clone)]
pub struct GlobalScope<'a> {
    file: String,
    escape: char,
    build_args: &'a IndexMap<String, String>,
    args: IndexMap<String, String>,
}

impl<'a> GlobalScope<'a> {
    /// Resolves the global ARGs of `dockerfile` in order, each default seeing the ones before
    /// and the platform args of `platform`.
    pub fn new(
        dockerfile: &Dockerfile,
        build_args: &'a IndexMap<String, String>,
        platform: &Platform,
    ) -> Result<Self, DockerfileError> {
        let mut scope = GlobalScope {
            file: dockerfile.file.clone(),
            escape: dockerfile.directives.escape,
            build_args,
            args: platform
                .args("BUILD")
                .into_iter()
                .chain(platform.args("TARGET"))
                .collect(),
        };
        for arg in &dockerfile.args_before_from {
            let value = resolve_arg(arg, build_args, &scope.args, scope.escape, None)
                .map_err(|e| error(&scope.file, arg.line, "ARG", e))?;
            if let Some(value) = value {
                scope.args.insert(arg.name.clone(), value);
            }
        }
        Ok(scope)
    }

    /// The FROM line with its image and platform expanded.
    pub fn from(&self, from: &From) -> Result<From, DockerfileError> {
        let x = |word: &str| {
            expand(word, &self.args, self.escape)
                .map_err(|e| error(&self.file, from.line, "FROM", e))
        };
        let platform = from.platform.as_deref().map(x).transpose()?;
        Ok(From {
            line: from.line,
            image: x(&from.image)?,
            name: from.name.clone(),
            platform,
        })
    }

    /// The scope of a stage whose base image (or parent stage) sets `image_env`.
    pub fn stage(&self, image_env: IndexMap<String, String>) -> StageScope<'_> {
        StageScope {
            global: self,
            args: IndexMap::new(),
            env: image_env,
        }
    }
}

/// The variables inside one stage: its declared ARGs and its ENV (base image's included).
#[derive(Debug, Clone)]
pub struct StageScope<'g> {
    global: &'g GlobalScope<'g>,
    args: IndexMap<String, String>,
    env: IndexMap<String, String>,
}

impl StageScope<'_> {
    /// What `$NAME` means here: declared ARGs, overridden by ENV.
    pub fn vars(&self) -> IndexMap<String, String> {
        let mut vars = self.args.clone();
        vars.extend(self.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        vars
    }

    /// The environment of a RUN: the variables plus undeclared proxy build args.
    pub fn run_env(&self) -> IndexMap<String, String> {
        let mut env = self.vars();
        for name in PROXY_ARGS {
            if let (Some(value), false) = (self.global.build_args.get(name), env.contains_key(name))
            {
                env.insert(name.to_string(), value.clone());
            }
        }
        env
    }

    /// The stage's ENV, which the image config records.
    pub fn env(&self) -> &IndexMap<String, String> {
        &self.env
    }

    /// Expands `instruction` where Docker does, and applies its ARG or ENV to the scope.
    pub fn apply(&mut self, instruction: &Instruction) -> Result<Instruction, DockerfileError> {
        let keyword = instruction.kind.keyword();
        let kind = self
            .expand_kind(&instruction.kind)
            .map_err(|e| error(&self.global.file, instruction.line, keyword, e))?;
        Ok(Instruction {
            line: instruction.line,
            kind,
        })
    }

    fn expand_kind(&mut self, kind: &InstructionKind) -> Result<InstructionKind, ErrorKind> {
        let vars = self.vars();
        let escape = self.global.escape;
        let x = |word: &str| expand(word, &vars, escape);
        let words = |words: &[String]| words.iter().map(|w| x(w)).collect::<Result<Vec<_>, _>>();
        let pairs = |pairs: &[KeyValue]| {
            pairs
                .iter()
                .map(|kv| {
                    Ok(KeyValue {
                        key: x(&kv.key)?,
                        value: x(&kv.value)?,
                    })
                })
                .collect::<Result<Vec<_>, ExpandError>>()
        };
        Ok(match kind {
            InstructionKind::Env(env) => {
                let env = pairs(env)?;
                for kv in &env {
                    self.env.insert(kv.key.clone(), kv.value.clone());
                }
                InstructionKind::Env(env)
            }
            InstructionKind::Arg(args) => {
                let mut resolved = Vec::new();
                for arg in args {
                    let value = resolve_arg(
                        arg,
                        self.global.build_args,
                        &vars,
                        escape,
                        self.global.args.get(&arg.name),
                    )?;
                    if let Some(value) = &value {
                        self.args.insert(arg.name.clone(), value.clone());
                    }
                    resolved.push(Arg {
                        line: arg.line,
                        name: arg.name.clone(),
                        default: value,
                    });
                }
                InstructionKind::Arg(resolved)
            }
            InstructionKind::Label(labels) => InstructionKind::Label(pairs(labels)?),
            InstructionKind::Workdir(w) => InstructionKind::Workdir(x(w)?),
            InstructionKind::User(u) => InstructionKind::User(x(u)?),
            InstructionKind::Stopsignal(s) => InstructionKind::Stopsignal(x(s)?),
            InstructionKind::Volume(v) => InstructionKind::Volume(words(v)?),
            InstructionKind::Expose(ports) => {
                let ports = words(ports)?;
                if let Some(bad) = ports.iter().find(|p| ExposedPort::parse(p).is_none()) {
                    return Err(ErrorKind::Port(bad.clone()));
                }
                InstructionKind::Expose(ports)
            }
            InstructionKind::Copy(copy) => InstructionKind::Copy(expand_copy(copy, &vars, escape)?),
            InstructionKind::Add(copy) => InstructionKind::Add(expand_copy(copy, &vars, escape)?),
            other => other.clone(),
        })
    }
}

/// An ARG's value: the build arg, else its expanded default, else the global value.
fn resolve_arg(
    arg: &Arg,
    build_args: &IndexMap<String, String>,
    vars: &IndexMap<String, String>,
    escape: char,
    global: Option<&String>,
) -> Result<Option<String>, ExpandError> {
    if let Some(value) = build_args.get(&arg.name) {
        return Ok(Some(value.clone()));
    }
    match &arg.default {
        Some(default) => expand(default, vars, escape).map(Some),
        None => Ok(global.cloned()),
    }
}

fn expand_copy(
    copy: &Copy,
    vars: &IndexMap<String, String>,
    escape: char,
) -> Result<Copy, ExpandError> {
    let x = |word: &str| expand(word, vars, escape);
    let opt = |word: &Option<String>| word.as_deref().map(x).transpose();
    let sources = copy
        .sources
        .iter()
        .map(|source| match source {
            Source::Path(path) => x(path).map(Source::Path),
            Source::Heredoc(doc) if doc.expand => {
                let mut doc = doc.clone();
                doc.content = expand_raw(&doc.content, vars, escape)?;
                Ok(Source::Heredoc(doc))
            }
            Source::Heredoc(doc) => Ok(Source::Heredoc(doc.clone())),
        })
        .collect::<Result<_, _>>()?;
    Ok(Copy {
        sources,
        dest: x(&copy.dest)?,
        from: opt(&copy.from)?,
        chown: opt(&copy.chown)?,
        chmod: opt(&copy.chmod)?,
        link: copy.link,
        exclude: copy
            .exclude
            .iter()
            .map(|e| x(e))
            .collect::<Result<_, _>>()?,
        checksum: opt(&copy.checksum)?,
        keep_git_dir: copy.keep_git_dir,
    })
}

fn error(file: &str, line: usize, keyword: &str, kind: impl Into<ErrorKind>) -> DockerfileError {
    DockerfileError {
        file: file.to_string(),
        line,
        instruction: Some(keyword.to_string()),
        kind: Box::new(kind.into()),
    }
}
