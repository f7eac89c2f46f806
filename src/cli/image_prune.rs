//! `compose image prune [-a] [-f]`: Docker's command, its prompt and its report.

use std::collections::BTreeSet;
use std::io::{self, BufRead, Write};

use clap::Args;

use crate::engine::fsutil::human_size;
use crate::engine::image::{ImageStore, RemoveEvent};
use crate::engine::state;

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Also remove the build cache (as `compose builder prune`)
    #[arg(long)]
    pub build_cache: bool,
}

const DANGLING_WARNING: &str = "WARNING! This will remove all dangling images.\n\
Are you sure you want to continue?";
const ALL_WARNING: &str =
    "WARNING! This will remove all images without at least one container associated to them.\n\
Are you sure you want to continue?";

/// Asks on standard input, like docker: anything but `y`/`yes` (or end of input) is no.
pub(super) fn confirm(prompt: &str) -> anyhow::Result<bool> {
    let mut out = io::stdout().lock();
    write!(out, "{prompt} [y/N] ")?;
    out.flush()?;
    let mut line = String::new();
    if io::stdin().lock().read_line(&mut line)? == 0 {
        writeln!(out)?; // end of input: finish the prompt's line
    }
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

pub fn run(
    global: &super::GlobalOptions,
    store: &ImageStore,
    args: &PruneArgs,
) -> anyhow::Result<i32> {
    let warning = if args.all {
        ALL_WARNING
    } else {
        DANGLING_WARNING
    };
    if !args.force && !confirm(warning)? {
        // As `network prune` here: a "no" is not an error.
        return Ok(0);
    }
    // Every container record under the state root, of every project and state, keeps its
    // image: a stopped container is restarted from it.
    let in_use: BTreeSet<String> = state::list(&global.root, None)?
        .into_iter()
        .flat_map(|o| {
            let by_name = store.resolve(&o.record.image).ok().map(|i| i.id);
            [Some(o.record.image_id), by_name]
        })
        .flatten()
        .filter(|id| !id.is_empty())
        .collect();
    if global.dry_run {
        return dry_run(global, store, args, &in_use);
    }
    let report = store.prune(args.all, &in_use)?;
    let mut out = io::stdout().lock();
    if !report.events.is_empty() {
        writeln!(out, "Deleted Images:")?;
        for e in &report.events {
            match e {
                RemoveEvent::Untagged(r) => writeln!(out, "untagged: {r}")?,
                RemoveEvent::Deleted(d) => writeln!(out, "deleted: {d}")?,
            }
        }
        writeln!(out)?;
    }
    let mut reclaimed = report.reclaimed;
    if args.build_cache {
        let pruned = crate::build::builder::prune_cache(&global.root, args.all)?;
        writeln!(out, "Deleted build cache objects: {}", pruned.removed)?;
        reclaimed += pruned.reclaimed;
    }
    writeln!(out, "Total reclaimed space: {}", human_size(reclaimed))?;
    Ok(0)
}

/// `image prune --dry-run`: the images (and with `--build-cache` the cache objects) it would
/// delete, as the real run lists them, prefixed; the layers that would go with them and the
/// space reclaimed are known only once they are gone, so they are not told.
fn dry_run(
    global: &super::GlobalOptions,
    store: &ImageStore,
    args: &PruneArgs,
    in_use: &BTreeSet<String>,
) -> anyhow::Result<i32> {
    use super::progress::dry_line;
    let doomed = store.prunable(args.all, in_use)?;
    let mut out = io::stdout().lock();
    if !doomed.is_empty() {
        writeln!(out, "{}", dry_line(true, "Deleted Images:"))?;
        for (id, names) in &doomed {
            for name in names {
                writeln!(out, "{}", dry_line(true, &format!("untagged: {name}")))?;
            }
            writeln!(out, "{}", dry_line(true, &format!("deleted: {id}")))?;
        }
    }
    if args.build_cache {
        let n = crate::build::builder::prunable_cache(&global.root, args.all)?;
        let line = format!("Deleted build cache objects: {n}");
        writeln!(out, "{}", dry_line(true, &line))?;
    }
    Ok(0)
}
