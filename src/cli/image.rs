//! `compose image load|ls|rm|inspect|save|tag`: the image store under `<--root>/images`,
//! with Docker's flags and output.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use serde_json::json;

use crate::engine::fsutil::{self, human_duration, human_size};
use crate::engine::image::{ImageStore, Reference, RemoveEvent};

#[derive(Debug, Args)]
pub struct ImageArgs {
    #[command(subcommand)]
    pub command: ImageCommand,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Load images from a tar archive (OCI layout or docker archive) or STDIN
    Load(LoadArgs),
    /// List images
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Display detailed information on one or more images
    Inspect(InspectArgs),
    /// Save one or more images to a tar archive (OCI layout; streamed to STDOUT by default)
    Save(SaveArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Download an image from a registry
    Pull(super::pull::ImagePullArgs),
    /// Remove unused images
    Prune(super::image_prune::PruneArgs),
    /// Upload an image to a registry
    Push(super::push::ImagePushArgs),
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LsFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Format output: table (default) or json (one object per line, like docker)
    #[arg(long, value_enum, default_value_t = LsFormat::Table)]
    pub format: LsFormat,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests (the registry's digest of each name, `<none>` for images not pulled)
    #[arg(long)]
    pub digests: bool,
    /// Don't truncate output (full image IDs)
    #[arg(long)]
    pub no_trunc: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force removal of the image
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    #[arg(value_name = "SOURCE_IMAGE")]
    pub source: String,
    #[arg(value_name = "TARGET_IMAGE")]
    pub target: String,
}

pub fn run(global: &super::GlobalOptions, args: &ImageArgs) -> anyhow::Result<i32> {
    let store = super::image_store::open_store(global)?;
    match &args.command {
        ImageCommand::Load(a) if global.dry_run => dry_load(a),
        ImageCommand::Load(a) => load(&store, a, false),
        ImageCommand::Ls(a) => ls(&store, a),
        ImageCommand::Rm(a) => rm(&store, a, global.dry_run),
        ImageCommand::Inspect(a) => inspect(&store, a),
        ImageCommand::Save(SaveArgs {
            output: Some(path),
            images,
        }) if global.dry_run => {
            // The archive made in full and thrown away: what would be written, nothing written.
            store.save(images, io::sink())?;
            let line = format!("Writing {}", path.display());
            println!("{}", super::progress::dry_line(true, &line));
            Ok(0)
        }
        ImageCommand::Save(a) => save(&store, a),
        ImageCommand::Tag(a) if global.dry_run => {
            // Checked as `tag` checks them: the new name parses, the image exists.
            Reference::parse(&a.target)?;
            let image = store.resolve(&a.source)?;
            let line = format!("Tagged {} as {}", image.id, a.target);
            println!("{}", super::progress::dry_line(true, &line));
            Ok(0)
        }
        ImageCommand::Tag(a) => {
            store.tag(&a.source, &a.target)?;
            Ok(0)
        }
        ImageCommand::Pull(a) => super::pull::image_pull(global, a),
        ImageCommand::Prune(a) => super::image_prune::run(global, &store, a),
        ImageCommand::Push(a) => super::push::image_push(&store, a, global.dry_run),
    }
}

/// `image load --dry-run`: the archive is read and checked in full, into a scratch store
/// outside the state root that is deleted afterwards, so the lines are those of the real load
/// and a bad archive fails the same way; the state root's store is not touched.
fn dry_load(args: &LoadArgs) -> anyhow::Result<i32> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let scratch = std::env::temp_dir().join(format!(
        "compose-dry-run-load-{}-{nanos}",
        std::process::id()
    ));
    let result = ImageStore::open(&scratch)
        .with_context(|| format!("opening a scratch image store {}", scratch.display()))
        .and_then(|store| load(&store, args, true));
    if let Err(e) = std::fs::remove_dir_all(&scratch) {
        eprintln!("WARN[0000] removing {}: {e}", scratch.display());
    }
    result
}

fn load(store: &ImageStore, args: &LoadArgs, dry_run: bool) -> anyhow::Result<i32> {
    let loaded = match &args.input {
        Some(path) => {
            let file =
                std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            store.load_archive(io::BufReader::with_capacity(256 * 1024, file))?
        }
        None => {
            let stdin = io::stdin();
            if stdin.is_terminal() {
                anyhow::bail!("requested load from stdin, but stdin is a terminal (use -i FILE)");
            }
            store.load_archive(io::BufReader::with_capacity(256 * 1024, stdin.lock()))?
        }
    };
    let mut out = io::stdout().lock();
    for image in loaded {
        if image.names.is_empty() {
            let line = format!("Loaded image ID: {}", image.id);
            writeln!(out, "{}", super::progress::dry_line(dry_run, &line))?;
        }
        for name in image.names {
            let line = format!("Loaded image: {}", name.familiar());
            writeln!(out, "{}", super::progress::dry_line(dry_run, &line))?;
        }
    }
    Ok(0)
}

/// One row of `image ls`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct LsRow {
    containers: &'static str,
    created_at: String,
    created_since: String,
    digest: String,
    #[serde(rename = "ID")]
    id: String,
    repository: String,
    shared_size: &'static str,
    size: String,
    tag: String,
    unique_size: &'static str,
    virtual_size: String,
}

/// The (repository, tag, digest) rows of one image, as Docker's formatter makes them: a row
/// per tag, repeated per digest of the same repository when digests are shown (the digests
/// being the `name@sha256:…` names a pull recorded); a repository known only by digest gets
/// a `<none>` tag row; an image with no name at all one `<none>` row.
fn name_rows(names: &[Reference], show_digests: bool) -> Vec<(String, String, String)> {
    let none = || "<none>".to_string();
    let mut tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut digests: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in names {
        match (r.tag(), r.digest()) {
            (_, Some(d)) => digests
                .entry(r.familiar_name())
                .or_default()
                .push(d.to_string()),
            (Some(t), None) => tags
                .entry(r.familiar_name())
                .or_default()
                .push(t.to_string()),
            (None, None) => {}
        }
    }
    if tags.is_empty() && digests.is_empty() {
        return vec![(none(), none(), none())];
    }
    let mut rows = Vec::new();
    for (repo, repo_tags) in &tags {
        let repo_digests = digests.remove(repo).unwrap_or_default();
        for tag in repo_tags {
            if !show_digests || repo_digests.is_empty() {
                rows.push((repo.clone(), tag.clone(), none()));
                continue;
            }
            for d in &repo_digests {
                rows.push((repo.clone(), tag.clone(), d.clone()));
            }
        }
    }
    for (repo, repo_digests) in digests {
        if show_digests {
            for d in repo_digests {
                rows.push((repo.clone(), none(), d));
            }
        } else {
            rows.push((repo, none(), String::new()));
        }
    }
    rows
}

fn ls(store: &ImageStore, args: &LsArgs) -> anyhow::Result<i32> {
    let now = fsutil::now_secs();
    let mut rows = Vec::new();
    for image in store.list()? {
        let id = if args.no_trunc {
            image.id.clone()
        } else {
            image
                .id
                .trim_start_matches("sha256:")
                .chars()
                .take(12)
                .collect()
        };
        let created = image.created.as_deref().and_then(fsutil::parse_rfc3339);
        let (created_at, created_since) = match created {
            Some(t) => (
                fsutil::format_go_time(t),
                format!("{} ago", human_duration(now - t)),
            ),
            None => (String::new(), "N/A".to_string()),
        };
        for (repository, tag, digest) in name_rows(&image.repo_tags, args.digests) {
            rows.push(LsRow {
                containers: "N/A",
                created_at: created_at.clone(),
                created_since: created_since.clone(),
                digest,
                id: id.clone(),
                repository,
                shared_size: "N/A",
                size: human_size(image.size),
                tag,
                unique_size: "N/A",
                virtual_size: human_size(image.size),
            });
        }
    }
    let mut out = BufWriter::new(io::stdout().lock());
    if args.quiet {
        for r in &rows {
            writeln!(out, "{}", r.id)?;
        }
    } else if args.format == LsFormat::Json {
        for r in &rows {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        }
    } else if args.digests {
        let table: Vec<[&str; 6]> = rows
            .iter()
            .map(|r| {
                [
                    &*r.repository,
                    &*r.tag,
                    &*r.digest,
                    &*r.id,
                    &*r.created_since,
                    &*r.size,
                ]
            })
            .collect();
        write_table(
            &mut out,
            ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"],
            &table,
        )?;
    } else {
        let table: Vec<[&str; 5]> = rows
            .iter()
            .map(|r| [&*r.repository, &*r.tag, &*r.id, &*r.created_since, &*r.size])
            .collect();
        write_table(
            &mut out,
            ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
            &table,
        )?;
    }
    out.flush()?;
    Ok(0)
}

/// Columns laid out like Docker's tabwriter (min width 10, padding 3).
fn write_table<const N: usize>(
    out: &mut impl Write,
    header: [&str; N],
    rows: &[[&str; N]],
) -> io::Result<()> {
    let all: Vec<&[&str]> = std::iter::once(&header[..])
        .chain(rows.iter().map(|r| &r[..]))
        .collect();
    super::table::write(out, &all, 10, 3)
}

/// `image rm`; a dry run checks each image as the removal would and prints what it would
/// untag and delete (the image itself; not the layers only it uses), prefixed.
fn rm(store: &ImageStore, args: &RmArgs, dry_run: bool) -> anyhow::Result<i32> {
    let mut code = 0;
    for image in &args.images {
        let result = match dry_run {
            true => store.check_remove(image, args.force),
            false => store.remove(image, args.force),
        };
        match result {
            Ok(events) => {
                let mut out = io::stdout().lock();
                for e in events {
                    let line = match e {
                        RemoveEvent::Untagged(r) => format!("Untagged: {r}"),
                        RemoveEvent::Deleted(d) => format!("Deleted: {d}"),
                    };
                    writeln!(out, "{}", super::progress::dry_line(dry_run, &line))?;
                }
            }
            Err(e) => {
                eprintln!("Error: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

fn inspect(store: &ImageStore, args: &InspectArgs) -> anyhow::Result<i32> {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for image in &args.images {
        match store.inspect(image) {
            Ok(v) => found.push(v),
            Err(e) => errors.push(e),
        }
    }
    let mut out = io::stdout().lock();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    json!(found).serialize(&mut ser)?;
    writeln!(out)?;
    for e in &errors {
        eprintln!("Error: {e}");
    }
    Ok(if errors.is_empty() { 0 } else { 1 })
}

fn save(store: &ImageStore, args: &SaveArgs) -> anyhow::Result<i32> {
    match &args.output {
        Some(path) => {
            // Into a temporary file next to the target, renamed when complete: a failed save
            // leaves no truncated archive behind.
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let tmp = dir.join(fsutil::unique_name(".compose-save-"));
            let result = (|| -> anyhow::Result<()> {
                let file = std::fs::File::create(&tmp)
                    .with_context(|| format!("creating {}", tmp.display()))?;
                let mut w = BufWriter::with_capacity(256 * 1024, file);
                store.save(&args.images, &mut w)?;
                let file = w.into_inner().map_err(|e| e.into_error())?;
                file.sync_all()?;
                std::fs::rename(&tmp, path)
                    .with_context(|| format!("renaming to {}", path.display()))?;
                Ok(())
            })();
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result?;
        }
        None => {
            let stdout = io::stdout();
            if stdout.is_terminal() {
                anyhow::bail!(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect"
                );
            }
            let mut w = BufWriter::with_capacity(256 * 1024, stdout.lock());
            store.save(&args.images, &mut w)?;
            w.flush()?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Docker's `images` formatter (docker/cli formatter/image.go): one row per tag, repeated
    /// per digest of the same repository with `--digests`; digest-only names get a `<none>`
    /// tag; no name at all gives one `<none>` row.
    #[test]
    fn name_rows_like_docker() {
        let d1 = format!("sha256:{}", "a".repeat(64));
        let d2 = format!("sha256:{}", "b".repeat(64));
        let refs = |v: &[&str]| -> Vec<Reference> {
            v.iter().map(|s| Reference::parse(s).unwrap()).collect()
        };
        let row = |r: &str, t: &str, d: &str| (r.to_string(), t.to_string(), d.to_string());
        let names = refs(&[
            "busybox:1",
            "busybox:latest",
            &format!("busybox@{d1}"),
            &format!("ghcr.io/o/app@{d2}"),
        ]);
        assert_eq!(
            name_rows(&names, true),
            vec![
                row("busybox", "1", &d1),
                row("busybox", "latest", &d1),
                row("ghcr.io/o/app", "<none>", &d2),
            ]
        );
        assert_eq!(
            name_rows(&names, false),
            vec![
                row("busybox", "1", "<none>"),
                row("busybox", "latest", "<none>"),
                row("ghcr.io/o/app", "<none>", ""),
            ]
        );
        assert_eq!(
            name_rows(&refs(&["busybox:1"]), true),
            vec![row("busybox", "1", "<none>")]
        );
        assert_eq!(
            name_rows(&[], true),
            vec![row("<none>", "<none>", "<none>")]
        );
    }

    #[test]
    fn table_like_docker() {
        let mut out = Vec::new();
        write_table(
            &mut out,
            ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
            &[["busybox", "latest", "0123456789ab", "2 weeks ago", "4.26MB"]],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE\n\
             busybox      latest    0123456789ab   2 weeks ago   4.26MB\n"
        );
    }
}
