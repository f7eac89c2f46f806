//! What one build reads from its context, decided as Docker decides it: the applicable ignore
//! file, applied to the walk, with the Dockerfile and that ignore file always kept when they lie
//! inside the context (Docker sends both whatever the patterns say).

use std::path::{Component, Path, PathBuf};

use super::dockerignore::IgnoreRules;
use super::error::ContextError;
use super::source::ContextDir;
use super::walk::ContextEntry;

/// Opens `context` and lists what a build of `dockerfile` (relative to the context, or
/// absolute) may read from it.
pub fn build_files(
    context: &Path,
    dockerfile: &Path,
) -> Result<(ContextDir, Vec<ContextEntry>), ContextError> {
    let (rules, ignore_file) = IgnoreRules::load(context, dockerfile)?;
    let keep: Vec<PathBuf> = [Some(context.join(dockerfile)), ignore_file]
        .into_iter()
        .flatten()
        .filter_map(|p| inside(context, &p))
        .collect();
    let dir = ContextDir::open(context)?;
    let entries = dir.list(&rules, &keep)?;
    Ok((dir, entries))
}

/// `path` relative to `context` when it lies inside it (lexically: `.` dropped, any `..` or
/// a path elsewhere gives `None`, as the file is then not part of the context).
fn inside(context: &Path, path: &Path) -> Option<PathBuf> {
    let rel = path.strip_prefix(context).ok()?;
    let mut out = PathBuf::new();
    for c in rel.components() {
        match c {
            Component::Normal(name) => out.push(name),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(entries: &[ContextEntry]) -> Vec<&str> {
        entries
            .iter()
            .map(|e| e.path.to_str().expect("utf-8"))
            .collect()
    }

    #[test]
    fn dockerfile_and_its_ignore_file_are_kept_whatever_the_patterns() {
        let ctx = tempfile::tempdir().expect("tempdir");
        let p = ctx.path();
        std::fs::create_dir(p.join("docker")).expect("mkdir");
        for f in [
            "docker/web.Dockerfile",
            "docker/notes",
            "app.py",
            "app.pyc",
            ".dockerignore",
        ] {
            std::fs::write(p.join(f), f).expect("write");
        }
        // The context's own file is replaced by the Dockerfile's, which excludes itself too.
        std::fs::write(p.join(".dockerignore"), "app.py\n").expect("write");
        std::fs::write(
            p.join("docker/web.Dockerfile.dockerignore"),
            "docker\n*.pyc\n",
        )
        .expect("write");
        let (_, entries) = build_files(p, Path::new("./docker/web.Dockerfile")).expect("files");
        assert_eq!(
            names(&entries),
            [
                ".dockerignore",
                "app.py",
                "docker",
                "docker/web.Dockerfile",
                "docker/web.Dockerfile.dockerignore",
            ]
        );
    }

    #[test]
    fn a_dockerfile_outside_the_context_is_not_listed() {
        let ctx = tempfile::tempdir().expect("tempdir");
        std::fs::write(ctx.path().join("a"), "a").expect("write");
        let (_, entries) =
            build_files(ctx.path(), Path::new("../elsewhere/Dockerfile")).expect("files");
        assert_eq!(names(&entries), ["a"]);
        assert_eq!(
            inside(Path::new("/c"), Path::new("/c/./d/f")),
            Some("d/f".into())
        );
        assert_eq!(inside(Path::new("/c"), Path::new("/c/../c/f")), None);
        assert_eq!(inside(Path::new("/c"), Path::new("/other/f")), None);
    }
}
