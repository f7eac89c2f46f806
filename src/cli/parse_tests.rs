//! Every short flag of every command means what it means in Docker Compose (cmd/compose/*.go),
//! now that the global options are global only before the command; and the global options'
//! own rules: before the command only, the last of a repeated one wins, `-v` is the version.

use clap::Parser;

use super::image::ImageCommand;
use super::network::NetworkCommand;
use super::{Cli, Command};

fn parse(line: &str) -> Cli {
    let argv = std::iter::once("compose").chain(line.split_whitespace());
    Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("compose {line}: {e}"))
}

fn refused(line: &str) -> clap::error::Error {
    let argv = std::iter::once("compose").chain(line.split_whitespace());
    match Cli::try_parse_from(argv) {
        Ok(cli) => panic!("compose {line} parsed: {:?}", cli.command),
        Err(e) => e,
    }
}

/// One row: a command line and what Docker Compose makes of it.
type Row = (&'static str, fn(&Cli) -> bool);

/// Short flags after the command, each with its Docker Compose meaning (long name in the
/// comment), and the global options left at their defaults.
const SHORT_FLAGS: &[Row] = &[
    // rm: -f --force, -s --stop, -v --volumes
    ("rm -f", |c| matches!(&c.command, Command::Rm(a) if a.force)),
    (
        "rm -f web",
        |c| matches!(&c.command, Command::Rm(a) if a.force && a.services == ["web"]),
    ),
    (
        "rm -s -v -f",
        |c| matches!(&c.command, Command::Rm(a) if a.stop && a.volumes && a.force),
    ),
    (
        "rm -sfv",
        |c| matches!(&c.command, Command::Rm(a) if a.stop && a.volumes && a.force),
    ),
    // up: -d --detach, -V --renew-anon-volumes, -t --timeout, -y --yes
    (
        "up -d -V",
        |c| matches!(&c.command, Command::Up(a) if a.detach && a.renew_anon_volumes),
    ),
    (
        "up -t 3 -y",
        |c| matches!(&c.command, Command::Up(a) if a.timeout == Some(3) && a.yes),
    ),
    // create: -y --yes
    (
        "create -y",
        |c| matches!(&c.command, Command::Create(a) if a.yes),
    ),
    // down: -v --volumes, -t --timeout
    (
        "down -v -t 0",
        |c| matches!(&c.command, Command::Down(a) if a.volumes && a.timeout == Some(0)),
    ),
    // stop/restart: -t --timeout
    (
        "stop -t 5 web",
        |c| matches!(&c.command, Command::Stop(a) if a.timeout == Some(5) && a.services == ["web"]),
    ),
    (
        "restart -t 5",
        |c| matches!(&c.command, Command::Restart(a) if a.timeout == Some(5)),
    ),
    // kill: -s --signal
    (
        "kill -s SIGTERM",
        |c| matches!(&c.command, Command::Kill(a) if a.signal == "SIGTERM"),
    ),
    // run: -d -e -i -l -P -p -T -t -u -v -w -q
    (
        "run -p 8080:80 app",
        |c| matches!(&c.command, Command::Run(a) if a.publish == ["8080:80"] && a.service == "app"),
    ),
    (
        "run -P app",
        |c| matches!(&c.command, Command::Run(a) if a.service_ports),
    ),
    ("run -d -e A=1 -l k=v -u 1000 -v /a:/b -w /w app", |c| {
        matches!(&c.command, Command::Run(a) if a.detach
            && a.env == ["A=1"]
            && a.labels == ["k=v"]
            && a.user.as_deref() == Some("1000")
            && a.volumes == ["/a:/b"]
            && a.workdir.as_deref() == Some("/w"))
    }),
    (
        "run -T -i -q app",
        |c| matches!(&c.command, Command::Run(a) if a.no_tty && a.interactive && a.quiet),
    ),
    (
        "run -it app sh",
        |c| matches!(&c.command, Command::Run(a) if a.interactive && a.tty && a.command == ["sh"]),
    ),
    (
        "run --rm --name one --entrypoint sh --cap-add NET_ADMIN --cap-drop CHOWN app",
        |c| {
            matches!(&c.command, Command::Run(a) if a.rm
            && a.name.as_deref() == Some("one")
            && a.entrypoint.as_deref() == Some("sh")
            && a.cap_add == ["NET_ADMIN"]
            && a.cap_drop == ["CHOWN"])
        },
    ),
    // A flag after the service is the command's.
    (
        "run app ls -p -f",
        |c| matches!(&c.command, Command::Run(a) if a.command == ["ls", "-p", "-f"] && a.publish.is_empty()),
    ),
    // exec: -d -e -T -t -i -u -w
    ("exec -d -e A=1 -T -u 0 -w /tmp web ls", |c| {
        matches!(&c.command, Command::Exec(a) if a.detach
            && a.env == ["A=1"]
            && a.no_tty
            && a.user.as_deref() == Some("0")
            && a.workdir.as_deref() == Some("/tmp")
            && a.command == ["ls"])
    }),
    (
        "exec -it web sh",
        |c| matches!(&c.command, Command::Exec(a) if a.interactive && a.tty),
    ),
    // logs: -f --follow, -t --timestamps, -n --tail
    (
        "logs -f -t -n 5 web",
        |c| matches!(&c.command, Command::Logs(a) if a.follow && a.timestamps && a.tail == "5"),
    ),
    // config: -q --quiet, -o --output
    ("config -q -o out.yaml", |c| {
        matches!(&c.command, Command::Config(a) if a.quiet
            && a.output.as_deref() == Some(std::path::Path::new("out.yaml")))
    }),
    // cp: -a --archive, -L --follow-link
    (
        "cp -a -L web:/a b",
        |c| matches!(&c.command, Command::Cp(a) if a.archive && a.follow_link),
    ),
    // pull/push/build: -q --quiet
    (
        "pull -q",
        |c| matches!(&c.command, Command::Pull(a) if a.quiet),
    ),
    (
        "push -q",
        |c| matches!(&c.command, Command::Push(a) if a.quiet),
    ),
    (
        "build -q",
        |c| matches!(&c.command, Command::Build(a) if a.quiet),
    ),
    // ps: -a --all, -q --quiet; images: -q; ls: -a -q; stats: -a
    (
        "ps -a -q",
        |c| matches!(&c.command, Command::Ps(a) if a.all && a.quiet),
    ),
    (
        "images -q",
        |c| matches!(&c.command, Command::Images(a) if a.quiet),
    ),
    (
        "ls -a -q",
        |c| matches!(&c.command, Command::Ls(a) if a.all && a.quiet),
    ),
    (
        "stats -a",
        |c| matches!(&c.command, Command::Stats(a) if a.all),
    ),
    // image rm -f, image prune -a -f, builder prune -a -f, network prune -f
    ("image rm -f busybox", |c| {
        matches!(&c.command, Command::Image(i)
            if matches!(&i.command, ImageCommand::Rm(a) if a.force && a.images == ["busybox"]))
    }),
    ("image prune -a -f", |c| {
        matches!(&c.command, Command::Image(i)
            if matches!(&i.command, ImageCommand::Prune(a) if a.all && a.force))
    }),
    ("builder prune -a -f", |c| {
        matches!(&c.command, Command::Builder(b)
            if matches!(&b.command, super::build::BuilderCommand::Prune(a) if a.all && a.force))
    }),
    ("network prune -f", |c| {
        matches!(&c.command, Command::Network(n)
            if matches!(&n.command, NetworkCommand::Prune(a) if a.force))
    }),
    // image load -i -q, image save -o, image ls -q, image pull/push -q
    ("image load -i a.tar -q", |c| {
        matches!(&c.command, Command::Image(i)
            if matches!(&i.command, ImageCommand::Load(a) if a.quiet && a.input.is_some()))
    }),
    ("image save -o a.tar busybox", |c| {
        matches!(&c.command, Command::Image(i)
            if matches!(&i.command, ImageCommand::Save(a) if a.output.is_some()))
    }),
    ("image pull -q busybox", |c| {
        matches!(&c.command, Command::Image(i)
            if matches!(&i.command, ImageCommand::Pull(a) if a.quiet))
    }),
];

#[test]
fn every_short_flag_after_the_command_is_the_commands_own() {
    for (line, check) in SHORT_FLAGS {
        let cli = parse(line);
        assert!(check(&cli), "compose {line}: {:?}", cli.command);
        // Nothing reached the global options.
        assert!(
            cli.global.files.is_empty(),
            "compose {line}: -f read as --file"
        );
        assert!(
            cli.global.project_name.is_none(),
            "compose {line}: -p read as --project-name"
        );
    }
}

#[test]
fn global_options_go_before_the_command_only() {
    let cli =
        parse("-f a.yaml -f b.yaml -p demo --profile x --env-file e --project-directory d up -d");
    assert_eq!(cli.global.files.len(), 2);
    assert_eq!(cli.global.project_name.as_deref(), Some("demo"));
    assert_eq!(cli.global.profiles, ["x"]);
    assert!(matches!(cli.command, Command::Up(ref a) if a.detach));
    // After the command they are unknown there (Docker Compose: "unknown flag").
    for line in [
        "config --project-name x",
        "config --file a.yaml",
        "config --services --log-level debug",
        "up --profile x",
        "ps --env-file e",
        "ps -p x",
    ] {
        let e = refused(line);
        assert!(
            matches!(
                e.kind(),
                clap::error::ErrorKind::UnknownArgument | clap::error::ErrorKind::ArgumentConflict
            ),
            "compose {line}: {e}"
        );
    }
}

/// Docker Compose: `--dry-run` is the one flag taken anywhere.
#[test]
fn dry_run_is_taken_anywhere() {
    assert!(parse("--dry-run up -d").global.dry_run);
    assert!(parse("up -d --dry-run").global.dry_run);
    assert!(parse("rm -f --dry-run web").global.dry_run);
}

#[test]
fn a_repeated_global_option_takes_the_last() {
    let cli = parse("-p first -p second ps");
    assert_eq!(cli.global.project_name.as_deref(), Some("second"));
    let cli = parse("--progress plain --progress quiet ps");
    assert_eq!(cli.global.progress, super::Progress::Quiet);
}

#[test]
fn v_at_the_root_is_the_version() {
    let e = refused("-v");
    assert_eq!(e.kind(), clap::error::ErrorKind::DisplayVersion);
    assert!(e.to_string().contains(env!("CARGO_PKG_VERSION")), "{e}");
    let e = refused("--version");
    assert_eq!(e.kind(), clap::error::ErrorKind::DisplayVersion);
}

#[test]
fn unknown_flags_are_errors() {
    for line in [
        "up --no-such-flag",
        "rm -x",
        "--no-such-flag ps",
        "run -Z app",
    ] {
        let e = refused(line);
        assert_eq!(
            e.kind(),
            clap::error::ErrorKind::UnknownArgument,
            "compose {line}: {e}"
        );
    }
}

/// Docker Compose refuses these combinations (cmd/compose/up.go, run.go).
#[test]
fn incompatible_flags_are_refused() {
    for line in [
        "up --attach web --attach-dependencies",
        "up -d --attach-dependencies",
        "up --wait --attach-dependencies",
        "run -P -p 80:80 app",
        "run -t -T app",
        "exec -t -T web sh",
    ] {
        let e = refused(line);
        assert_eq!(
            e.kind(),
            clap::error::ErrorKind::ArgumentConflict,
            "compose {line}: {e}"
        );
    }
}

#[test]
fn long_forms_of_the_new_flags() {
    let cli = parse(
        "up --quiet-pull --quiet-build --attach-dependencies --yes --no-start --pull always web",
    );
    let Command::Up(a) = &cli.command else {
        panic!("not up")
    };
    assert!(a.quiet_pull && a.quiet_build && a.attach_dependencies && a.yes && a.no_start);
    assert_eq!(a.pull.as_deref(), Some("always"));
    let cli = parse("restart --no-deps db");
    assert!(matches!(&cli.command, Command::Restart(a) if a.no_deps && a.services == ["db"]));
    let cli = parse("run --service-ports --label a=b --quiet-pull --quiet-build --pull never --build --use-aliases --env-from-file e.env app");
    let Command::Run(a) = &cli.command else {
        panic!("not run")
    };
    assert!(a.service_ports && a.quiet_pull && a.quiet_build && a.build && a.use_aliases);
    assert_eq!(a.labels, ["a=b"]);
    assert_eq!(a.env_from_file.len(), 1);
    let cli = parse("create --quiet-pull --yes");
    assert!(matches!(&cli.command, Command::Create(a) if a.quiet_pull && a.yes));
    let cli = parse("events --since 5m --until 2024-01-01T00:00:00Z --json");
    assert!(matches!(&cli.command, Command::Events(a)
        if a.json && a.since.as_deref() == Some("5m") && a.until.is_some()));
    let cli = parse("kill --remove-orphans");
    assert!(matches!(&cli.command, Command::Kill(a) if a.remove_orphans));
    let cli = parse("cp --all web:/a b");
    assert!(matches!(&cli.command, Command::Cp(a) if a.all));
    // Docker Compose's legacy spelling of -T.
    let cli = parse("exec --no-TTY web sh");
    assert!(matches!(&cli.command, Command::Exec(a) if a.no_tty));
    let cli = parse("run --no-tty app");
    assert!(matches!(&cli.command, Command::Run(a) if a.no_tty));
}

/// No help text explains how the parser works inside, and each command's help lists its own
/// options, not the global ones.
#[test]
fn help_texts_speak_of_flags_not_of_the_parser() {
    use clap::CommandFactory;
    let mut root = Cli::command();
    root.build();
    let mut texts = vec![root.clone().render_long_help().to_string()];
    for sub in root.get_subcommands_mut() {
        texts.push(sub.render_long_help().to_string());
        for subsub in sub.get_subcommands_mut() {
            texts.push(subsub.render_long_help().to_string());
        }
    }
    for t in &texts {
        for word in [
            "clap",
            "shadow",
            "accepted for compatibility",
            "global `--file`",
        ] {
            assert!(!t.contains(word), "help mentions {word:?}:\n{t}");
        }
    }
    let rm = Cli::command()
        .find_subcommand_mut("rm")
        .expect("rm")
        .render_long_help()
        .to_string();
    assert!(rm.contains("-f, --force"), "{rm}");
    assert!(!rm.contains("--project-name"), "{rm}");
}
