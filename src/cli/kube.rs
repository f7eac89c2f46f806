//! `compose kube generate`: the project as Kubernetes objects (Podman's verb).
//!
//! Loads and translates through [`crate::stack::kube`], prints what cannot be carried over as
//! warnings on stderr, and writes the objects to stdout (`-o -`) or as files to a directory.
//! Exit codes follow `compose config`: 14 without a Compose file, 15 for a file that does not load
//! and for `x-kubernetes` sections or values the translation cannot read, 1 otherwise (`--strict`
//! with something that cannot be carried over included).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};

use super::project::load_options;
use super::{GlobalOptions, EXIT_INVALID_PROJECT};
use crate::kube::output::{self, Format, OutputFile};
use crate::kube::{GenerateOptions, KubeError};
use crate::stack::kube::{generate as translate, KubeGenerateError};

#[derive(Debug, Args)]
pub struct KubeArgs {
    #[command(subcommand)]
    pub command: KubeCommand,
}

#[derive(Debug, Subcommand)]
pub enum KubeCommand {
    /// Generate Kubernetes objects from the Compose file
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Where to write: a directory, or "-" for standard output (manifests only)
    #[arg(
        short = 'o',
        long = "output",
        value_name = "DIR|-",
        default_value = "-"
    )]
    pub output: PathBuf,
    /// What to write
    #[arg(long, value_enum, default_value_t = FormatArg::Manifests)]
    pub format: FormatArg,
    /// Fail when anything cannot be carried over, instead of warning
    #[arg(long)]
    pub strict: bool,
    /// Services to translate (default: all enabled), with what they depend on
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Manifests,
    Helm,
    Kustomize,
}

impl FormatArg {
    fn format(self) -> Format {
        match self {
            FormatArg::Manifests => Format::Manifests,
            FormatArg::Helm => Format::Helm,
            FormatArg::Kustomize => Format::Kustomize,
        }
    }

    /// As written on the command line.
    fn name(self) -> &'static str {
        match self {
            FormatArg::Manifests => "manifests",
            FormatArg::Helm => "helm",
            FormatArg::Kustomize => "kustomize",
        }
    }
}

/// Runs `kube`; returns the exit code.
pub fn run(global: &GlobalOptions, args: &KubeArgs) -> anyhow::Result<i32> {
    match &args.command {
        KubeCommand::Generate(g) => generate(global, g),
    }
}

fn generate(global: &GlobalOptions, args: &GenerateArgs) -> anyhow::Result<i32> {
    let format = args.format.format();
    let to_stdout = args.output.as_path() == Path::new("-");
    if to_stdout && format != Format::Manifests {
        bail!(
            "--format {} writes a directory of files: name one with -o DIR",
            args.format.name()
        );
    }
    let opts = load_options(global, &args.services)?;
    let options = GenerateOptions {
        strict: args.strict,
    };
    let (generated, load_warnings) = match translate(&opts, options) {
        Ok(done) => done,
        // The loader's own error, so main maps it as for every command (14, 15, or 1).
        Err(KubeGenerateError::Load(e)) => return Err(e.into()),
        // The file loads but says what Kubernetes cannot hold: an invalid project for this
        // command, as a file that does not load is for `config`.
        Err(KubeGenerateError::Kube(
            e @ (KubeError::Extension { .. }
            | KubeError::Invalid { .. }
            | KubeError::NameClash { .. }),
        )) => {
            eprintln!("{e}");
            return Ok(EXIT_INVALID_PROJECT);
        }
        Err(e) => return Err(e.into()),
    };
    for w in &load_warnings {
        eprintln!("WARN[0000] {w}");
    }
    for w in &generated.warnings {
        eprintln!("WARN[0000] {w}");
    }
    if to_stdout {
        let text = output::stream(&generated)?;
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
    } else {
        write_files(&args.output, &output::files(&generated, format)?)?;
    }
    Ok(0)
}

/// Writes `files` under `dir` (made with its parents), each replaced whole: a failure leaves the
/// previous file or none, never half a manifest. Secrets are readable by their owner only.
/// Files of an earlier run that this one does not make are left as they are.
fn write_files(dir: &Path, files: &[OutputFile]) -> anyhow::Result<()> {
    for f in files {
        let path = dir.join(&f.path);
        let parent = path.parent().unwrap_or(dir);
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let mode = if f.private { 0o600 } else { 0o644 };
        replace(&path, f.content.as_bytes(), mode)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// Writes `bytes` to a new file beside `path` and renames it over `path` (which replaces a link
/// planted there rather than writing through it).
fn replace(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        if let Err(e) = fs::remove_file(&tmp) {
            eprintln!("WARN[0000] removing {}: {e}", tmp.display());
        }
    }
    written
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{symlink, PermissionsExt};

    use super::*;

    fn file(path: &str, content: &str, private: bool) -> OutputFile {
        OutputFile {
            path: PathBuf::from(path),
            content: content.to_string(),
            private,
        }
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_are_written_under_new_folders_with_secrets_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out/chart");
        write_files(
            &dir,
            &[
                file("Chart.yaml", "apiVersion: v2\n", false),
                file("templates/db-secret.yaml", "kind: Secret\n", true),
            ],
        )
        .unwrap();
        assert_eq!(
            fs::read_to_string(dir.join("Chart.yaml")).unwrap(),
            "apiVersion: v2\n"
        );
        let secret = dir.join("templates/db-secret.yaml");
        assert_eq!(fs::read_to_string(&secret).unwrap(), "kind: Secret\n");
        assert_eq!(mode(&secret), 0o600);
        assert_eq!(mode(&dir.join("Chart.yaml")) & 0o600, 0o600);
        let mut left: Vec<String> = fs::read_dir(dir.join("templates"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["db-secret.yaml"], "no temporary file left behind");
    }

    #[test]
    fn a_rewrite_replaces_the_file_and_never_writes_through_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        fs::create_dir(&dir).unwrap();
        let victim = tmp.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        symlink(&victim, dir.join("db-secret.yaml")).unwrap();
        fs::write(dir.join("web-service.yaml"), "old").unwrap();
        fs::set_permissions(
            dir.join("web-service.yaml"),
            fs::Permissions::from_mode(0o666),
        )
        .unwrap();
        write_files(
            &dir,
            &[
                file("db-secret.yaml", "secret", true),
                file("web-service.yaml", "new", false),
            ],
        )
        .unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        let secret = dir.join("db-secret.yaml");
        assert!(!fs::symlink_metadata(&secret).unwrap().is_symlink());
        assert_eq!(fs::read_to_string(&secret).unwrap(), "secret");
        assert_eq!(mode(&secret), 0o600);
        assert_eq!(
            fs::read_to_string(dir.join("web-service.yaml")).unwrap(),
            "new"
        );
        assert_eq!(
            mode(&dir.join("web-service.yaml")) & 0o002,
            0,
            "new file's mode"
        );
    }

    #[test]
    fn a_failed_write_leaves_what_was_there_and_no_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        // A folder where the file should go: the rename fails after the data is written.
        fs::create_dir_all(dir.join("web-service.yaml/inner")).unwrap();
        let err = write_files(&dir, &[file("web-service.yaml", "new", false)]).unwrap_err();
        assert!(
            format!("{err:#}").starts_with(&format!(
                "cannot write {}",
                dir.join("web-service.yaml").display()
            )),
            "{err:#}"
        );
        assert!(dir.join("web-service.yaml/inner").is_dir());
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["web-service.yaml"]);
    }
}
