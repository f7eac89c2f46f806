use clap::{CommandFactory, FromArgMatches};

fn main() {
    // The container set-up process: must run before anything else (single-threaded, no clap).
    if std::env::args_os().nth(1).as_deref()
        == Some(std::ffi::OsStr::new(
            compose::engine::runtime::init::INIT_ARG,
        ))
    {
        compose::engine::runtime::init::main();
    }
    // A container's monitor (see engine::supervisor): a fresh single-threaded process too.
    if compose::engine::supervisor::invoked_as_monitor() {
        compose::engine::supervisor::main();
    }
    // `compose exec`'s helper (see engine::runtime::exec): a fresh single-threaded process too.
    if std::env::args_os().nth(1).as_deref()
        == Some(std::ffi::OsStr::new(
            compose::engine::runtime::exec::EXEC_ARG,
        ))
    {
        compose::engine::runtime::exec::main();
    }
    let matches = compose::cli::Cli::command().get_matches();
    let cli = compose::cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Err(err) = compose::cli::init_logging(&cli.global) {
        eprintln!("{err:#}");
        std::process::exit(1);
    }
    // One span for the whole command; the loader records the project's name in it once known.
    let project = cli.global.project_name.clone();
    let name = matches.subcommand_name().unwrap_or_default();
    let span = tracing::info_span!("command", name, project = project.as_deref()).entered();
    tracing::debug!(version = env!("CARGO_PKG_VERSION"), root = %cli.global.root.display(), "command starting");
    let result = compose::cli::run(cli);
    tracing::debug!(ok = result.is_ok(), "command finished");
    drop(span);
    match result {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            // Docker Compose's exit codes: 14 when no Compose file is found, 15 when one does
            // not load, 1 otherwise (a service the project does not have included).
            let code = match err.downcast_ref::<compose::model::LoadError>() {
                Some(e) if matches!(e.kind, compose::model::ErrorKind::NoConfigFile { .. }) => {
                    compose::cli::EXIT_NO_CONFIG_FILE
                }
                Some(e) if matches!(e.kind, compose::model::ErrorKind::NoSuchService(_)) => 1,
                Some(_) => compose::cli::EXIT_INVALID_PROJECT,
                None => 1,
            };
            eprintln!("{}", compose::cli::report::error_line(&err));
            std::process::exit(code);
        }
    }
}
