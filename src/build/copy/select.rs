//! Which source entries a COPY's patterns name, as BuildKit selects them.
//!
//! A pattern is relative to the source root whatever it starts with (`/x`, `./x` and `../x` all
//! name `x`: `..` cannot leave the root). With `*`, `?` or `[` it is a glob matched one path
//! segment at a time, as Go's `filepath.Match` does (a `*` never crosses a `/`), against the
//! names the tree holds; no match is an error naming the pattern, as is a plain path that does
//! not exist. A source that is a symlink is followed (inside the root) and copied as what it
//! names, under its own name.

use std::ffi::OsString;
use std::path::PathBuf;

use super::error::CopyError;
use super::source::SourceTree;
use super::CopyPlan;
use crate::build::context::{clean, IgnoreRules, Pattern};
use crate::build::layers::{Metadata, NodeKind};

/// One source entry named by a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Selected {
    /// Where the entry lies in the source tree, its symlinks followed.
    pub path: PathBuf,
    pub meta: Metadata,
    /// The name it is copied under into a directory destination: the last element as matched.
    pub name: OsString,
}

/// The pattern relative to the root, cleaned (`""` for the root itself).
pub(super) fn relative(pattern: &str) -> String {
    clean(&format!("/{pattern}"))
        .trim_start_matches('/')
        .to_string()
}

fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// The compiled `--exclude` patterns of `plan`.
pub(super) fn exclusions(plan: &CopyPlan) -> Result<IgnoreRules, CopyError> {
    Ok(IgnoreRules::parse(
        &plan.exclude.join("\n"),
        std::path::Path::new("--exclude"),
    )?)
}

/// The entries `patterns` name, in pattern order, each glob's matches sorted, less those
/// `exclude` leaves out.
pub(super) fn select(
    tree: &dyn SourceTree,
    patterns: &[String],
    exclude: &IgnoreRules,
) -> Result<Vec<Selected>, CopyError> {
    let mut out = Vec::new();
    for pattern in patterns {
        let rel = relative(pattern);
        let not_found = || CopyError::NotFound {
            pattern: rel.clone(),
        };
        let matched = if is_glob(&rel) {
            glob(tree, pattern, &rel)?
        } else {
            vec![PathBuf::from(&rel)]
        };
        if matched.is_empty() {
            return Err(not_found());
        }
        for path in matched {
            if !path.as_os_str().is_empty() && exclude.excludes(&path.to_string_lossy()) {
                continue;
            }
            // An exact path may go through symlinks: its parent is resolved inside the root.
            let path = match (path.parent(), path.file_name()) {
                (Some(parent), Some(name)) => tree.resolve(parent)?.join(name),
                _ => path,
            };
            let Some(meta) = tree.metadata(&path)? else {
                return Err(not_found());
            };
            let name = path
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_default();
            let (path, meta) = if meta.kind == NodeKind::Symlink {
                let resolved = tree.resolve(&path)?;
                let meta = tree.metadata(&resolved)?.ok_or_else(not_found)?;
                (resolved, meta)
            } else {
                (path, meta)
            };
            out.push(Selected { path, meta, name });
        }
    }
    Ok(out)
}

/// The paths of the tree that `rel` matches segment by segment, through real directories only.
fn glob(tree: &dyn SourceTree, pattern: &str, rel: &str) -> Result<Vec<PathBuf>, CopyError> {
    let segments = rel
        .split('/')
        .map(|s| {
            Pattern::compile(s).map_err(|e| CopyError::BadPattern {
                pattern: pattern.to_string(),
                reason: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut found = vec![PathBuf::new()];
    for (i, segment) in segments.iter().enumerate() {
        let mut next = Vec::new();
        for dir in &found {
            if i > 0 {
                match tree.metadata(dir)? {
                    Some(meta) if meta.kind == NodeKind::Dir => {}
                    _ => continue,
                }
            }
            for name in tree.children(dir)? {
                if segment.matches(&name.to_string_lossy()) {
                    next.push(dir.join(name));
                }
            }
        }
        found = next;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_cannot_leave_the_root() {
        for (pattern, want) in [
            ("/x", "x"),
            ("./a/../x", "x"),
            ("../../x", "x"),
            (".", ""),
            ("/", ""),
            ("a//b/", "a/b"),
        ] {
            assert_eq!(relative(pattern), want, "{pattern}");
        }
        assert!(is_glob("src/*.rs") && is_glob("a?") && is_glob("[ab]"));
        assert!(!is_glob("plain/path"));
    }
}
