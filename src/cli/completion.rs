//! `compose completion SHELL` and `compose man --output DIR`: the shell completion script and
//! the manual pages, generated from the same clap definitions the binary parses with, so they
//! never drift from the flags it takes. `make install` calls exactly these two.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, CommandFactory, ValueEnum};

use super::Cli;

/// Shells a completion script is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to write the completion script for
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Directory to write the pages into (made if missing): compose.1 and one
    /// compose-<command>.1 per command and subcommand
    #[arg(short = 'o', long, value_name = "DIR")]
    pub output: PathBuf,
}

/// The completion script for `shell`. Made in memory: the generator panics on a failed
/// write, and standard output may be a closed pipe (`compose completion bash | head`).
pub fn completion_script(shell: Shell) -> Vec<u8> {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "compose", &mut out);
    out
}

/// `completion`: the script on standard output, to be sourced or installed where the shell
/// looks (`/usr/share/bash-completion/completions/compose` and the like).
pub fn completion(args: &CompletionArgs) -> anyhow::Result<i32> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(&completion_script(args.shell))
        .and_then(|()| out.flush())
        .context("writing the completion script")?;
    Ok(0)
}

/// `man`: one roff page per command, named as `man` looks them up (`man compose-volume-ls`).
pub fn man(args: &ManArgs) -> anyhow::Result<i32> {
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    clap_mangen::generate_to(Cli::command(), &args.output)
        .with_context(|| format!("writing manual pages into {}", args.output.display()))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn every_shell_gets_a_script_naming_the_commands() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let text = String::from_utf8(completion_script(shell)).expect("utf-8");
            assert!(text.contains("compose"), "{shell:?}");
            assert!(text.contains("volume"), "{shell:?}: no volume command");
        }
    }

    #[test]
    fn parses_shell_and_man_output() {
        let cli = Cli::try_parse_from(["compose", "completion", "zsh"]).expect("parse");
        assert!(matches!(
            cli.command,
            crate::cli::Command::Completion(CompletionArgs { shell: Shell::Zsh })
        ));
        assert!(Cli::try_parse_from(["compose", "completion", "tcsh"]).is_err());
        let cli = Cli::try_parse_from(["compose", "man", "-o", "/tmp/m"]).expect("parse");
        assert!(matches!(cli.command, crate::cli::Command::Man(_)));
    }

    #[test]
    fn man_writes_one_page_per_command_and_subcommand() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("man1");
        man(&ManArgs {
            output: out.clone(),
        })
        .expect("man");
        for page in [
            "compose.1",
            "compose-up.1",
            "compose-volume-ls.1",
            "compose-image-ls.1",
        ] {
            let text = std::fs::read_to_string(out.join(page)).expect(page);
            assert!(text.contains(".TH"), "{page} has no .TH");
        }
    }
}
