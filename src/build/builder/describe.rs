//! An instruction as progress lines and the image history show it (`RUN make`,
//! `COPY --from=build /out /app`), from its expanded form.

use crate::build::dockerfile::{Command, Copy, InstructionKind, Source};

fn command(c: &Command) -> String {
    match c {
        Command::Shell(text) => text.clone(),
        Command::Exec(args) => json_list(args),
    }
}

/// `["a", "b"]`, as the exec form is usually written (and BuildKit shows it).
fn json_list(words: &[String]) -> String {
    let quoted: Vec<String> = words
        .iter()
        .map(|w| serde_json::Value::String(w.clone()).to_string())
        .collect();
    format!("[{}]", quoted.join(", "))
}

fn copy(keyword: &str, c: &Copy) -> String {
    let mut words = vec![keyword.to_string()];
    if let Some(from) = &c.from {
        words.push(format!("--from={from}"));
    }
    if let Some(chown) = &c.chown {
        words.push(format!("--chown={chown}"));
    }
    if let Some(chmod) = &c.chmod {
        words.push(format!("--chmod={chmod}"));
    }
    if c.link {
        words.push("--link".into());
    }
    for s in &c.sources {
        words.push(match s {
            Source::Path(p) => p.clone(),
            Source::Heredoc(h) => format!("<<{}", h.name),
        });
    }
    words.push(c.dest.clone());
    words.join(" ")
}

/// `KEYWORD args` for `kind`.
pub fn describe(kind: &InstructionKind) -> String {
    let kw = kind.keyword();
    let kv = |pairs: &[crate::build::dockerfile::KeyValue]| {
        pairs
            .iter()
            .map(|p| format!("{}={}", p.key, p.value))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let rest = match kind {
        InstructionKind::Run(r) => command(&r.command),
        InstructionKind::Cmd(c) | InstructionKind::Entrypoint(c) => command(c),
        InstructionKind::Shell(s) => json_list(s),
        InstructionKind::Env(e) | InstructionKind::Label(e) => kv(e),
        InstructionKind::Arg(args) => args
            .iter()
            .map(|a| match &a.default {
                Some(d) => format!("{}={d}", a.name),
                None => a.name.clone(),
            })
            .collect::<Vec<_>>()
            .join(" "),
        InstructionKind::Workdir(w) => w.clone(),
        InstructionKind::User(u) => u.clone(),
        InstructionKind::Copy(c) => return copy("COPY", c),
        InstructionKind::Add(c) => return copy("ADD", c),
        InstructionKind::Expose(p) | InstructionKind::Volume(p) => p.join(" "),
        InstructionKind::Healthcheck(_) => "...".into(),
        InstructionKind::Stopsignal(s) => s.clone(),
        InstructionKind::Onbuild(o) => o.expression.clone(),
        InstructionKind::Maintainer(m) => m.clone(),
    };
    format!("{kw} {rest}")
}

/// Whether the step shows as a numbered step in progress (BuildKit's vertices: the ones that
/// touch the filesystem).
pub fn numbered(kind: &InstructionKind) -> bool {
    matches!(
        kind,
        InstructionKind::Run(_) | InstructionKind::Copy(_) | InstructionKind::Add(_)
    )
}
