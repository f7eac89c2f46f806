//! `compose version`.

use clap::{Args, ValueEnum};

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Format the output
    #[arg(long, value_enum, default_value_t = VersionFormat::Pretty)]
    pub format: VersionFormat,
    /// Shows only Compose's version number
    #[arg(long)]
    pub short: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VersionFormat {
    Pretty,
    Json,
}

pub fn run(args: &VersionArgs) -> anyhow::Result<i32> {
    let version = env!("CARGO_PKG_VERSION");
    if args.short {
        println!("{version}");
    } else if args.format == VersionFormat::Json {
        println!("{}", serde_json::json!({ "version": version }));
    } else {
        println!("compose version {version}");
    }
    Ok(0)
}
