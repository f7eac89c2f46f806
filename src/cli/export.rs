//! `export SERVICE`: Docker Compose's `export` (a service container's filesystem as a tar
//! archive, on standard output or into `--output`); the walk is [`crate::stack::export`].

use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;

use super::GlobalOptions;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Index of the container if service has multiple replicas
    #[arg(long, default_value_t = 0)]
    pub index: u32,
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The service whose container is exported
    pub service: String,
}

pub fn export(global: &GlobalOptions, args: &ExportArgs) -> anyhow::Result<i32> {
    let (name, _) = super::manage::project(global, std::slice::from_ref(&args.service))?;
    let index = args.index.max(1);
    match &args.output {
        Some(path) => {
            // Written beside its destination and renamed into place, so a failed export
            // leaves no half archive under the name asked for.
            let file_name = path
                .file_name()
                .with_context(|| format!("{}: not a file name", path.display()))?;
            let tmp = path.with_file_name(format!(
                ".{}.{}.tmp",
                file_name.to_string_lossy(),
                std::process::id()
            ));
            let written = (|| -> anyhow::Result<()> {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&tmp)
                    .with_context(|| format!("creating {}", tmp.display()))?;
                let mut out = BufWriter::new(file);
                crate::stack::export::export(&global.root, &name, &args.service, index, &mut out)?;
                let file = out.into_inner().context("writing the archive")?;
                file.sync_all().context("syncing the archive")?;
                std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
            })();
            if written.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            written?;
        }
        None => {
            // Docker refuses to write an archive to a terminal.
            if std::io::stdout().is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            crate::stack::export::export(&global.root, &name, &args.service, index, &mut out)?;
            out.flush().context("writing the archive")?;
        }
    }
    Ok(0)
}
