//! COPY and ADD: one instruction's sources written into a fresh, empty directory that becomes
//! the step's layer, following Docker's (BuildKit's) rules.
//!
//! Sources come from the build context (only what `.dockerignore` kept), from another stage's
//! layers (`COPY --from`), or from heredocs (`COPY <<EOF /file`). The destination is read
//! through the TARGET stage's layers: a relative one is joined to the WORKDIR, its symlinks are
//! followed inside the image's root (`COPY x /var/run/` where `var/run -> /run` writes
//! `run/x`), and each directory it goes through that the image has is written into the layer
//! again with the image's mode, owner and times, since overlayfs shows a directory with the
//! attributes of its upper copy; a missing one is made 0755, owned by root or the `--chown`
//! owner. `--link` gives the same layer (every layer here is written on its own anyway).
//!
//! Everything read is hostile: sources are opened beneath their root, symlinks are copied as
//! links and never followed into the layer, and the layer is written through directory
//! descriptors only ([`out`]).
mod archive;
mod error;
mod key;
mod out;
mod owner;
mod place;
mod select;
mod source;

use std::path::{Path, PathBuf};

use rustix::fs::Timespec;
use sha2::{Digest, Sha256};

use crate::build::context::{clean, ContextDir, ContextEntry};
use crate::build::layers::{LayerView, NodeKind};
use out::{Attrs, Out};
use place::Copier;
use select::{exclusions, relative, select};
use source::{ContextTree, LayerTree};

pub use error::CopyError;
pub use owner::Owner;

/// Where a COPY reads from.
pub enum CopyFrom<'a> {
    /// The build context and the entries of it the build may read.
    Context {
        dir: &'a ContextDir,
        files: &'a [ContextEntry],
    },
    /// Another stage, or an image (`COPY --from`).
    Layers(&'a LayerView),
    /// `COPY <<EOF /file`: each heredoc becomes a file of its name.
    Heredocs(&'a [InlineFile]),
}

/// A heredoc source, its body already expanded as the instruction requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineFile {
    pub name: String,
    pub content: Vec<u8>,
}

/// One COPY or ADD, its words already expanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyPlan {
    /// Source paths or globs, as written (ignored for heredocs).
    pub sources: Vec<String>,
    /// Absolute, or relative to `workdir`; a trailing `/` makes it a directory.
    pub dest: String,
    /// The stage's WORKDIR at this step.
    pub workdir: String,
    /// `--chown=user[:group]`, resolved against the target stage.
    pub chown: Option<String>,
    /// `--chmod`, octal.
    pub chmod: Option<String>,
    /// ADD: local tar archives are extracted, remote URLs refused.
    pub add: bool,
    /// `--exclude` patterns (`.dockerignore` rules), matched against a path relative to the
    /// source root for what a pattern selects, and relative to a selected directory inside it.
    pub exclude: Vec<String>,
}

/// What a COPY wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Entries written (directories, files, links...).
    pub entries: u64,
    /// Bytes of file content written.
    pub bytes: u64,
}

/// Heredoc files are written with this time, so the same body always gives the same layer.
const HEREDOC_MTIME: Timespec = Timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

/// Whether a source names something to download (`ADD https://...`, a Git remote).
fn is_remote(source: &str) -> bool {
    ["http://", "https://", "git://", "git@", "ssh://"]
        .iter()
        .any(|p| source.starts_with(p))
}

fn refuse_remote(plan: &CopyPlan) -> Result<(), CopyError> {
    match plan.sources.iter().find(|s| is_remote(s)) {
        Some(url) if plan.add => Err(CopyError::RemoteSource { url: url.clone() }),
        _ => Ok(()),
    }
}

/// The destination, relative to the root and not yet resolved, and whether it was written as
/// a directory (`dir/`, `.`).
fn destination(plan: &CopyPlan) -> (PathBuf, bool) {
    let joined = if plan.dest.starts_with('/') {
        plan.dest.clone()
    } else {
        format!("/{}/{}", plan.workdir, plan.dest)
    };
    let dir_syntax = plan.dest.is_empty()
        || plan.dest.ends_with('/')
        || plan.dest == "."
        || plan.dest.ends_with("/.");
    (PathBuf::from(relative(&clean(&joined))), dir_syntax)
}

/// Executes one COPY/ADD into the empty directory `out`. `target` is the stage being built,
/// whose users `--chown` names and whose directories the destination goes through.
pub fn copy_into(
    plan: &CopyPlan,
    from: CopyFrom<'_>,
    target: &LayerView,
    out: &Path,
) -> Result<CopyStats, CopyError> {
    refuse_remote(plan)?;
    let owner = plan
        .chown
        .as_deref()
        .map(|spec| owner::parse_chown(spec, target))
        .transpose()?;
    let chmod = plan.chmod.as_deref().map(owner::parse_chmod).transpose()?;
    let (dest, dir_syntax) = destination(plan);
    let sources = match &from {
        CopyFrom::Heredocs(files) => files.len(),
        _ => plan.sources.len(),
    };
    if sources > 1 && !dir_syntax {
        return Err(CopyError::DestNotDirSyntax {
            dest: plan.dest.clone(),
        });
    }
    let mut layer = Out::open(out)?;
    let fresh = Attrs {
        mode: 0o755,
        uid: owner.map_or(0, |o| o.uid),
        gid: owner.map_or(0, |o| o.gid),
        mtime: None,
        xattrs: Vec::new(),
    };
    let into = Destination {
        target,
        dest: &dest,
        dir_syntax,
        fresh: &fresh,
    };
    let stats = match from {
        CopyFrom::Heredocs(files) => {
            let into_dir = into.is_dir(files.len())?;
            for file in files {
                let attrs = Attrs {
                    mode: chmod.unwrap_or(0o644),
                    mtime: Some(HEREDOC_MTIME),
                    ..fresh.clone()
                };
                let path = into.file_path(&mut layer, into_dir, file.name.as_ref())?;
                layer.file(&path, &mut file.content.as_slice(), &attrs)?;
            }
            CopyStats {
                entries: files.len() as u64,
                bytes: files.iter().map(|f| f.content.len() as u64).sum(),
            }
        }
        CopyFrom::Context { dir, files } => {
            let tree = ContextTree::new(dir, files);
            let copier = Copier::new(&tree, &mut layer, owner, false, chmod, exclusions(plan)?);
            run(plan, &into, copier, plan.add.then_some(out))?
        }
        CopyFrom::Layers(view) => {
            let tree = LayerTree(view);
            let copier = Copier::new(&tree, &mut layer, owner, true, chmod, exclusions(plan)?);
            run(plan, &into, copier, None)?
        }
    };
    layer.finish()?;
    Ok(stats)
}

/// Where in the layer a COPY writes, worked out through the target stage.
struct Destination<'a> {
    target: &'a LayerView,
    dest: &'a Path,
    dir_syntax: bool,
    fresh: &'a Attrs,
}

impl Destination<'_> {
    /// Whether `count` entries that are not directories go INTO the destination (rather than
    /// becoming it): written as a directory, several of them, or a directory of the image.
    fn is_dir(&self, count: usize) -> Result<bool, CopyError> {
        if self.dir_syntax || count > 1 {
            return Ok(true);
        }
        let resolved = self.target.resolve(self.dest, true)?;
        Ok(matches!(self.target.metadata(&resolved)?, Some(m) if m.kind == NodeKind::Dir))
    }

    /// The destination directory, resolved and present in the layer; `last` gives a missing
    /// last directory its attributes.
    fn dir(&self, layer: &mut Out, last: Option<&Attrs>) -> Result<PathBuf, CopyError> {
        let resolved = self.target.resolve(self.dest, true)?;
        self.ensure(layer, &resolved, last)?;
        Ok(resolved)
    }

    /// Where a non-directory named `name` is written.
    fn file_path(
        &self,
        layer: &mut Out,
        into_dir: bool,
        name: &std::ffi::OsStr,
    ) -> Result<PathBuf, CopyError> {
        if into_dir {
            return Ok(self.dir(layer, None)?.join(name));
        }
        let parent = self.dest.parent().unwrap_or(Path::new(""));
        let file = self.dest.file_name().unwrap_or(name);
        let resolved = self.target.resolve(parent, true)?;
        self.ensure(layer, &resolved, None)?;
        Ok(resolved.join(file))
    }

    /// Writes every directory of `rel` (resolved) into the layer: those the image has with its
    /// attributes, missing ones as `fresh` (`last` for the last one when given).
    fn ensure(&self, layer: &mut Out, rel: &Path, last: Option<&Attrs>) -> Result<(), CopyError> {
        let names: Vec<_> = rel.iter().collect();
        let mut prefix = PathBuf::new();
        for (i, name) in names.iter().enumerate() {
            prefix.push(name);
            if layer.has_dir(&prefix) {
                continue;
            }
            let attrs = match self.target.metadata(&prefix)? {
                Some(m) if m.kind == NodeKind::Dir => Attrs {
                    mode: m.mode,
                    uid: m.uid,
                    gid: m.gid,
                    mtime: Some(m.mtime),
                    xattrs: self.target.xattrs(&prefix)?,
                },
                Some(_) => return Err(CopyError::DestNotADirectory { path: prefix }),
                None => match last {
                    Some(attrs) if i + 1 == names.len() => attrs.clone(),
                    _ => self.fresh.clone(),
                },
            };
            layer.mkdir(&prefix, &attrs)?;
        }
        Ok(())
    }
}

/// Copies what `plan` selects in the copier's tree. `archives_into` is the layer directory
/// when local archives are extracted (ADD from the context).
fn run(
    plan: &CopyPlan,
    into: &Destination<'_>,
    mut copier: Copier<'_>,
    archives_into: Option<&Path>,
) -> Result<CopyStats, CopyError> {
    let tree = copier.tree;
    let selected = select(tree, &plan.sources, &copier.exclude)?;
    let into_dir = into.is_dir(selected.len())?;
    for item in selected {
        if item.meta.kind == NodeKind::Dir {
            let attrs = copier.attrs(&item.path, &item.meta)?;
            let dest = into.dir(copier.out, Some(&attrs))?;
            copier.root = item.path.clone();
            copier.contents(&item.path, &dest)?;
            continue;
        }
        if let Some(layer_dir) = archives_into {
            if item.meta.kind == NodeKind::File
                && archive::is_archive(tree.open(&item.path)?, &item.path)?
            {
                let dest = into.dir(copier.out, None)?;
                let file = tree.open(&item.path)?;
                copier.stats.bytes +=
                    archive::extract(copier.out, layer_dir, file, &item.path, &dest, copier.owner)?;
                copier.stats.entries += 1;
                continue;
            }
        }
        let dest = into.file_path(copier.out, into_dir, &item.name)?;
        copier.entry(&item.path, &item.meta, &dest)?;
    }
    Ok(copier.stats)
}

/// The content half of a COPY's cache key: sha256 over what it would read (see [`key`]).
pub fn content_key(plan: &CopyPlan, from: CopyFrom<'_>) -> Result<[u8; 32], CopyError> {
    refuse_remote(plan)?;
    let mut hasher = Sha256::new();
    match from {
        CopyFrom::Heredocs(files) => {
            for file in files {
                for part in [file.name.as_bytes(), &file.content] {
                    hasher.update((part.len() as u64).to_le_bytes());
                    hasher.update(part);
                }
            }
        }
        CopyFrom::Context { dir, files } => key::tree_key(
            &ContextTree::new(dir, files),
            plan,
            &exclusions(plan)?,
            false,
            &mut hasher,
        )?,
        CopyFrom::Layers(view) => key::tree_key(
            &LayerTree(view),
            plan,
            &exclusions(plan)?,
            true,
            &mut hasher,
        )?,
    }
    Ok(hasher.finalize().into())
}

#[cfg(test)]
mod tests;
