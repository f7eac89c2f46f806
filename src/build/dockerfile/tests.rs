//! Whole-file tests: every instruction, stages, errors with their location, ARG/ENV scoping,
//! and a feed of random and truncated inputs that must never panic. Expectations follow
//! BuildKit's behaviour (its parser and dockerfile2llb tests), as noted per test.

use std::time::Duration;

use indexmap::IndexMap;

use super::*;

fn ok(text: &str) -> Dockerfile {
    match parse(text, "Dockerfile") {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    }
}

fn fail(text: &str) -> String {
    match parse(text, "Dockerfile") {
        Ok(d) => panic!("parsed: {d:?}"),
        Err(e) => e.to_string(),
    }
}

fn kinds(d: &Dockerfile, stage: usize) -> Vec<InstructionKind> {
    d.stages[stage]
        .instructions
        .iter()
        .map(|i| i.kind.clone())
        .collect()
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
    }
}

#[test]
fn every_instruction_with_its_line() {
    let d = ok(r#"# syntax=docker/dockerfile:1
ARG BASE=alpine
FROM --platform=linux/amd64 ${BASE} AS Build
RUN --mount=type=cache,target=/c --network=none make
CMD ["run", "x"]
ENTRYPOINT /bin/app -v
SHELL ["/bin/bash", "-c"]
ENV A=1 B="two words"
ENV LEGACY value with spaces
LABEL a=b "c d"=e
ARG X Y=2
WORKDIR /app
USER 1000:1000
COPY --from=build --chown=1:1 --chmod=0644 --link a b /dst/
ADD --checksum=sha256:00 https://example.com/x /x
EXPOSE 80 53/udp
VOLUME ["/data"]
VOLUME /a /b
HEALTHCHECK --interval=30s --timeout=1m30s --retries=3 CMD curl -f http://x/
STOPSIGNAL SIGTERM
ONBUILD RUN make
MAINTAINER someone
"#);
    assert_eq!(d.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(
        d.args_before_from,
        [Arg {
            line: 2,
            name: "BASE".into(),
            default: Some("alpine".into())
        }]
    );
    let from = &d.stages[0].from;
    assert_eq!(
        (from.line, from.image.as_str(), from.name.as_deref()),
        (3, "${BASE}", Some("build"))
    );
    assert_eq!(from.platform.as_deref(), Some("linux/amd64"));
    let lines: Vec<usize> = d.stages[0].instructions.iter().map(|i| i.line).collect();
    assert_eq!(lines, (4..=22).collect::<Vec<_>>());
    let k = kinds(&d, 0);
    let InstructionKind::Run(run) = &k[0] else {
        panic!("{:?}", k[0])
    };
    assert_eq!(run.command, Command::Shell("make".into()));
    assert_eq!(run.network, Some(RunNetwork::None));
    assert!(matches!(&run.mounts[..], [Mount::Cache(c)] if c.target == "/c"));
    assert_eq!(
        k[1],
        InstructionKind::Cmd(Command::Exec(vec!["run".into(), "x".into()]))
    );
    assert_eq!(
        k[2],
        InstructionKind::Entrypoint(Command::Shell("/bin/app -v".into()))
    );
    assert_eq!(
        k[3],
        InstructionKind::Shell(vec!["/bin/bash".into(), "-c".into()])
    );
    assert_eq!(
        k[4],
        InstructionKind::Env(vec![kv("A", "1"), kv("B", "\"two words\"")])
    );
    assert_eq!(
        k[5],
        InstructionKind::Env(vec![kv("LEGACY", "value with spaces")])
    );
    assert_eq!(
        k[6],
        InstructionKind::Label(vec![kv("a", "b"), kv("\"c d\"", "e")])
    );
    assert!(
        matches!(&k[7], InstructionKind::Arg(a) if a.len() == 2 && a[1].default.as_deref() == Some("2"))
    );
    assert_eq!(k[8], InstructionKind::Workdir("/app".into()));
    assert_eq!(k[9], InstructionKind::User("1000:1000".into()));
    let InstructionKind::Copy(copy) = &k[10] else {
        panic!("{:?}", k[10])
    };
    assert_eq!(
        copy.sources,
        [Source::Path("a".into()), Source::Path("b".into())]
    );
    assert_eq!(
        (copy.dest.as_str(), copy.from.as_deref()),
        ("/dst/", Some("build"))
    );
    assert_eq!(
        (copy.chown.as_deref(), copy.chmod.as_deref(), copy.link),
        (Some("1:1"), Some("0644"), true)
    );
    let InstructionKind::Add(add) = &k[11] else {
        panic!("{:?}", k[11])
    };
    assert_eq!(add.checksum.as_deref(), Some("sha256:00"));
    assert_eq!(
        k[12],
        InstructionKind::Expose(vec!["80".into(), "53/udp".into()])
    );
    assert_eq!(k[13], InstructionKind::Volume(vec!["/data".into()]));
    assert_eq!(
        k[14],
        InstructionKind::Volume(vec!["/a".into(), "/b".into()])
    );
    let InstructionKind::Healthcheck(Healthcheck::Check(hc)) = &k[15] else {
        panic!("{:?}", k[15])
    };
    assert_eq!(hc.test, Command::Shell("curl -f http://x/".into()));
    assert_eq!(
        (hc.interval, hc.timeout),
        (Some(Duration::from_secs(30)), Some(Duration::from_secs(90)))
    );
    assert_eq!((hc.retries, hc.start_period), (Some(3), None));
    assert_eq!(k[16], InstructionKind::Stopsignal("SIGTERM".into()));
    let InstructionKind::Onbuild(onbuild) = &k[17] else {
        panic!("{:?}", k[17])
    };
    assert_eq!(onbuild.expression, "RUN make");
    assert_eq!(
        *onbuild.trigger,
        InstructionKind::Run(Run {
            command: Command::Shell("make".into()),
            heredocs: vec![],
            mounts: vec![],
            network: None,
            security: None,
        })
    );
    assert_eq!(k[18], InstructionKind::Maintainer("someone".into()));
}

// Keywords are case-insensitive; stage names are lower-cased and found by name or index.
#[test]
fn multi_stage_and_lookup() {
    let d = ok("from scratch AS One\ncopy a b\nFROM one\nFROM 0\n");
    assert_eq!(d.stages.len(), 3);
    assert_eq!(d.stage("ONE").map(|s| s.from.line), Some(1));
    assert_eq!(d.stage("2").map(|s| s.from.image.as_str()), Some("0"));
    assert!(d.stage("missing").is_none());
}

#[test]
fn heredocs_in_run_and_copy() {
    let d = ok("FROM x\nRUN <<EOF\necho $HOME\nEOF\nCOPY <<-\"A\" /a <<B /dir/\n\tx\n\tA\ny\nB\n");
    let k = kinds(&d, 0);
    let InstructionKind::Run(run) = &k[0] else {
        panic!("{:?}", k[0])
    };
    assert_eq!(run.command, Command::Shell("<<EOF".into()));
    assert_eq!(run.heredocs[0].content, "echo $HOME\n");
    let InstructionKind::Copy(copy) = &k[1] else {
        panic!("{:?}", k[1])
    };
    assert_eq!(copy.dest, "/dir/");
    let [Source::Heredoc(a), Source::Path(p), Source::Heredoc(b)] = &copy.sources[..] else {
        panic!("{:?}", copy.sources)
    };
    assert_eq!(
        (a.name.as_str(), a.content.as_str(), a.expand, a.chomp),
        ("A", "x\n", false, true)
    );
    assert_eq!(p, "/a");
    assert_eq!(
        (b.name.as_str(), b.content.as_str(), b.expand),
        ("B", "y\n", true)
    );
    assert_eq!(d.stages[0].instructions[1].line, 5);
}

// `# escape=`` ` `` makes the backtick continue lines and leaves `\` alone (Windows paths).
#[test]
fn escape_directive_changes_continuations() {
    let d = ok("# escape=`\nFROM x\nRUN dir c:\\ `\n  /s\nWORKDIR c:\\app\n");
    assert_eq!(d.directives.escape, '`');
    let k = kinds(&d, 0);
    assert!(
        matches!(&k[0], InstructionKind::Run(r) if r.command == Command::Shell("dir c:\\   /s".into()))
    );
    assert_eq!(k[1], InstructionKind::Workdir("c:\\app".into()));
}

#[test]
fn mounts_and_security_flags() {
    let d = ok("FROM x\nRUN --mount=type=secret,id=tok --mount=type=tmpfs,target=/t --security=insecure --network=host [\"a\"]\n");
    let InstructionKind::Run(run) = &kinds(&d, 0)[0] else {
        panic!()
    };
    assert_eq!(run.mounts.len(), 2);
    assert_eq!(
        (run.network, run.security),
        (Some(RunNetwork::Host), Some(Security::Insecure))
    );
    assert_eq!(run.command, Command::Exec(vec!["a".into()]));
}

#[test]
fn healthcheck_none_and_errors() {
    let d = ok("FROM x\nHEALTHCHECK NONE\nHEALTHCHECK --start-period=5s --start-interval=500ms CMD [\"true\"]\n");
    let k = kinds(&d, 0);
    assert_eq!(k[0], InstructionKind::Healthcheck(Healthcheck::None));
    let InstructionKind::Healthcheck(Healthcheck::Check(hc)) = &k[1] else {
        panic!()
    };
    assert_eq!(
        (hc.start_period, hc.start_interval),
        (
            Some(Duration::from_secs(5)),
            Some(Duration::from_millis(500))
        )
    );
    assert_eq!(
        fail("FROM x\nHEALTHCHECK NONE x"),
        "Dockerfile:2: HEALTHCHECK: NONE takes no arguments"
    );
    assert!(fail("FROM x\nHEALTHCHECK --interval=5 CMD x")
        .starts_with("Dockerfile:2: HEALTHCHECK: --interval: invalid duration"));
    assert!(fail("FROM x\nHEALTHCHECK --retries=-1 CMD x").contains("--retries"));
    assert!(fail("FROM x\nHEALTHCHECK RUN x").contains("unknown HEALTHCHECK type"));
}

// Error texts as BuildKit locates them: file, line, instruction.
#[test]
fn errors_name_file_line_and_instruction() {
    assert_eq!(
        fail("FROM x\n\n# c\n\nRUN a\n\nCOPY onlyone\n"),
        "Dockerfile:7: COPY: requires at least two arguments"
    );
    assert_eq!(
        fail("FROM x\nFOO bar"),
        "Dockerfile:2: FOO: unknown instruction: FOO"
    );
    assert_eq!(
        fail("RUN x\nFROM y"),
        "Dockerfile:1: RUN: only ARG may come before the first FROM"
    );
    assert_eq!(
        fail("# just a comment\n"),
        "Dockerfile:1: the Dockerfile has no FROM instruction"
    );
    assert_eq!(
        fail("FROM x\nCOPY --nope a b"),
        "Dockerfile:2: COPY: unknown flag: --nope"
    );
    assert_eq!(
        fail("FROM x\nADD --from=y a b"),
        "Dockerfile:2: ADD: unknown flag: --from"
    );
    assert_eq!(fail("FROM x\nSHELL /bin/sh -c").as_str(), "Dockerfile:2: SHELL: requires the arguments to be in JSON form, e.g. [\"/bin/sh\", \"-c\"]");
    assert!(fail("FROM a b").starts_with("Dockerfile:1: FROM: requires either one or three"));
    assert!(fail("FROM a AS 1x").contains("invalid name for build stage"));
    assert!(
        fail("FROM a AS x\nFROM b AS X").starts_with("Dockerfile:2: FROM: duplicate stage name")
    );
    assert!(fail("FROM x\nENV =v").contains("names can not be blank"));
    assert!(fail("FROM x\nENV A=1 B").contains("can't find = in \"B\""));
    assert!(fail("FROM x\nENV A").contains("must have two arguments"));
    assert!(fail("FROM x\nEXPOSE 80/http").contains("invalid port"));
    assert!(fail("FROM x\nONBUILD FROM y").contains("FROM isn't allowed as an ONBUILD trigger"));
    assert!(fail("FROM x\nONBUILD ONBUILD RUN y").contains("ONBUILD isn't allowed"));
    assert!(fail("FROM x\nRUN --mount=type=ssh a").contains("unsupported mount type"));
    assert!(fail("FROM x\nRUN --network=bridge a").contains("--network"));
    assert!(fail("FROM x\nRUN <<EOF\nnever closed\n")
        .starts_with("Dockerfile:2: RUN: unterminated heredoc"));
    assert!(fail("# escape=x\nFROM x").starts_with("Dockerfile:1: invalid escape"));
    assert!(fail("FROM x\nWORKDIR").contains("WORKDIR: requires exactly one argument"));
    let err = read(Path::new("/nonexistent/Dockerfile")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/Dockerfile: cannot read"),
        "{err}"
    );
}

fn arm() -> Platform {
    Platform {
        os: "linux".into(),
        architecture: "arm".into(),
        variant: Some("v7".into()),
    }
}

fn build_args(pairs: &[(&str, &str)]) -> IndexMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn applied(d: &Dockerfile, args: &IndexMap<String, String>) -> Vec<InstructionKind> {
    let global = GlobalScope::new(d, args, &arm()).unwrap();
    let mut stage = global.stage(IndexMap::new());
    d.stages[0]
        .instructions
        .iter()
        .map(|i| stage.apply(i).unwrap().kind)
        .collect()
}

// BuildKit: a global ARG is seen by FROM only; redeclared without a default it takes the
// global value; a build arg beats a default; ENV beats ARG; one ENV line sees the values
// from before it.
#[test]
fn arg_and_env_scoping() {
    let d = ok("ARG V=1\nARG IMG=base:$V\nFROM $IMG\nWORKDIR /w$V\nARG V\nWORKDIR /w$V\nARG D=dflt\nUSER $D\nENV D=env X=$D\nUSER $D:$X\nARG D=again\nUSER $D\n");
    let none = IndexMap::new();
    let global = GlobalScope::new(&d, &none, &arm()).unwrap();
    assert_eq!(global.from(&d.stages[0].from).unwrap().image, "base:1");
    let k = applied(&d, &none);
    assert_eq!(k[0], InstructionKind::Workdir("/w".into()));
    assert_eq!(k[2], InstructionKind::Workdir("/w1".into()));
    assert_eq!(k[4], InstructionKind::User("dflt".into()));
    assert_eq!(
        k[5],
        InstructionKind::Env(vec![kv("D", "env"), kv("X", "dflt")])
    );
    assert_eq!(k[6], InstructionKind::User("env:dflt".into()));
    assert_eq!(k[8], InstructionKind::User("env".into()));

    let args = build_args(&[("V", "9"), ("D", "cli")]);
    let global = GlobalScope::new(&d, &args, &arm()).unwrap();
    assert_eq!(global.from(&d.stages[0].from).unwrap().image, "base:9");
    let k = applied(&d, &args);
    assert_eq!(k[2], InstructionKind::Workdir("/w9".into()));
    assert_eq!(k[4], InstructionKind::User("cli".into()));
}

#[test]
fn expands_only_where_docker_does() {
    let d = ok("FROM x\nARG N=v\nRUN echo $N\nCMD echo $N\nLABEL \"k$N\"=\"$N\"\nEXPOSE ${P:-8080}/tcp\nVOLUME /d/$N\nSTOPSIGNAL SIG$N\nCOPY --chown=$N <<EOF <<'Q' /$N/\n$N\nEOF\n$N\nQ\n");
    let k = applied(&d, &IndexMap::new());
    assert!(
        matches!(&k[1], InstructionKind::Run(r) if r.command == Command::Shell("echo $N".into()))
    );
    assert_eq!(k[2], InstructionKind::Cmd(Command::Shell("echo $N".into())));
    assert_eq!(k[3], InstructionKind::Label(vec![kv("kv", "v")]));
    assert_eq!(k[4], InstructionKind::Expose(vec!["8080/tcp".into()]));
    assert_eq!(k[5], InstructionKind::Volume(vec!["/d/v".into()]));
    assert_eq!(k[6], InstructionKind::Stopsignal("SIGv".into()));
    let InstructionKind::Copy(copy) = &k[7] else {
        panic!()
    };
    assert_eq!(
        (copy.dest.as_str(), copy.chown.as_deref()),
        ("/v/", Some("v"))
    );
    let contents: Vec<&str> = copy
        .sources
        .iter()
        .filter_map(|s| match s {
            Source::Heredoc(h) => Some(h.content.as_str()),
            Source::Path(_) => None,
        })
        .collect();
    assert_eq!(contents, ["v\n", "$N\n"]);
}

#[test]
fn expansion_errors_are_located() {
    let d = ok("FROM x\nEXPOSE $P\nWORKDIR ${W:?needs W}\n");
    let none = IndexMap::new();
    let global = GlobalScope::new(&d, &none, &arm()).unwrap();
    let mut stage = global.stage(IndexMap::new());
    let err = stage.apply(&d.stages[0].instructions[0]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Dockerfile:2: EXPOSE: invalid port \"\": expected PORT[-PORT][/tcp|udp|sctp]"
    );
    let err = stage.apply(&d.stages[0].instructions[1]).unwrap_err();
    assert_eq!(err.to_string(), "Dockerfile:3: WORKDIR: W: needs W");
}

// Proxy args reach RUN's environment undeclared, but are not expanded in the Dockerfile.
#[test]
fn proxy_args_reach_run_env_only() {
    let d = ok("FROM x\nENV E=$HTTP_PROXY\n");
    let args = build_args(&[("HTTP_PROXY", "http://p:3128"), ("OTHER", "o")]);
    let global = GlobalScope::new(&d, &args, &arm()).unwrap();
    let mut stage = global.stage(build_args(&[("PATH", "/bin")]));
    let env = stage.apply(&d.stages[0].instructions[0]).unwrap();
    assert_eq!(env.kind, InstructionKind::Env(vec![kv("E", "")]));
    let run_env = stage.run_env();
    assert_eq!(
        run_env.get("HTTP_PROXY").map(String::as_str),
        Some("http://p:3128")
    );
    assert_eq!(run_env.get("PATH").map(String::as_str), Some("/bin"));
    assert!(!run_env.contains_key("OTHER"));
}

// BuildKit: the automatic platform args are global; a stage sees them only once declared.
#[test]
fn platform_args_are_global() {
    let d = ok("FROM --platform=$BUILDPLATFORM img-$TARGETARCH$TARGETVARIANT\nWORKDIR /$TARGETOS\nARG TARGETOS\nWORKDIR /$TARGETOS/$TARGETPLATFORM\n");
    let none = IndexMap::new();
    let global = GlobalScope::new(&d, &none, &arm()).unwrap();
    let from = global.from(&d.stages[0].from).unwrap();
    assert_eq!(
        (from.image.as_str(), from.platform.as_deref()),
        ("img-armv7", Some("linux/arm/v7"))
    );
    let k = applied(&d, &none);
    assert_eq!(k[0], InstructionKind::Workdir("/".into()));
    assert_eq!(k[2], InstructionKind::Workdir("/linux/".into()));
    assert_eq!(Platform::host().os, "linux");
}

/// A small deterministic generator, so that a failure can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

// Nothing panics on any input: random token soup and every prefix of a rich Dockerfile.
#[test]
fn random_and_truncated_inputs_never_panic() {
    let rich = "# syntax=x\n# escape=\\\nARG A=${B:-c}\nFROM --platform=$P img AS s\nRUN --mount=type=cache,target=/c,\"id=x\" <<-'E' cat && 2<<F\n\tbody $A\n\tE\nf\nF\nCOPY --from=s [\"a\", \"b\"] /d\nHEALTHCHECK --interval=1s CMD [\"x\"]\nONBUILD ADD a b\nENV K=\"v \\\n w\" L='x'\nEXPOSE 1-2/udp\n";
    let none = IndexMap::new();
    let exercise = |text: &str| {
        if let Ok(d) = parse(text, "F") {
            if let Ok(global) = GlobalScope::new(&d, &none, &arm()) {
                for stage in &d.stages {
                    let _ = global.from(&stage.from);
                    let mut scope = global.stage(IndexMap::new());
                    for i in &stage.instructions {
                        let _ = scope.apply(i);
                    }
                }
            }
        }
    };
    for end in (0..=rich.len()).filter(|&i| rich.is_char_boundary(i)) {
        exercise(&rich[..end]);
    }
    let tokens = [
        "FROM",
        "RUN",
        "COPY",
        "ADD",
        "ENV",
        "ARG",
        "HEALTHCHECK",
        "ONBUILD",
        "SHELL",
        "EXPOSE",
        "CMD",
        "x",
        " ",
        "\n",
        "\t",
        "\\",
        "`",
        "\"",
        "'",
        "$",
        "{",
        "}",
        ":-",
        ":+",
        "-",
        "+",
        "?",
        "=",
        "--",
        "--mount=",
        "type=cache",
        ",",
        "<<",
        "<<-",
        "EOF",
        "[",
        "]",
        "#",
        "AS",
        "NONE",
        "é",
        "\r\n",
        "0",
        "/",
    ];
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..5000 {
        let len = (rng.next() % 40) as usize;
        let text: String = (0..len)
            .map(|_| tokens[(rng.next() % tokens.len() as u64) as usize])
            .collect();
        exercise(&text);
        for word in text.split('\n') {
            let _ = expand(word, &none, '\\');
            let _ = Mount::parse(word);
        }
    }
}
