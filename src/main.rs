use clap::Parser;

fn main() {
    let cli = compose::cli::Cli::parse();
    match compose::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            // A Compose file that does not load is exit code 15, like Docker Compose.
            let code = if err.downcast_ref::<compose::model::LoadError>().is_some() {
                compose::cli::EXIT_INVALID_PROJECT
            } else {
                1
            };
            eprintln!("{err:#}");
            std::process::exit(code);
        }
    }
}
