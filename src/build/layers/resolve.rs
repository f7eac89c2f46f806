//! Following symlinks the way the kernel does, but inside a root that is not mounted anywhere.
//!
//! Image content is hostile: a link may point at `/etc`, at `../../..`, or at itself. The walk
//! keeps the path resolved so far (every element an existing directory of the root) and reads
//! each name with no kernel symlink resolution at all: an absolute target starts again from the
//! root, `..` pops one element and never climbs above the root (as `..` of `/` is `/`), and more
//! than [`MAX_SYMLINKS`] links fail as `ELOOP` would. Names past a missing element are appended
//! as written (`..` still lexical), so a destination to be created resolves too.
//!
//! The walk is written once for every tree a build reads ([`super::LayerView`], the build
//! context); each says what one name is through [`Walk`].

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Symlinks followed while resolving one path, like the kernel's MAXSYMLINKS.
pub const MAX_SYMLINKS: usize = 40;

/// What one name is, in a directory whose path holds no symlink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Missing,
    Dir,
    Symlink(PathBuf),
    /// A file, device, FIFO or socket: a path cannot go on through it.
    Other,
}

/// A tree whose names can be looked at one at a time.
pub(crate) trait Walk {
    type Error;
    /// What `path` (relative to the root, parents all directories) is, without following it.
    fn step(&self, path: &Path) -> Result<Step, Self::Error>;
    fn too_many_links(&self, path: &Path) -> Self::Error;
    fn not_a_directory(&self, path: &Path) -> Self::Error;
}

/// The names of `path`, without empty and `.` elements.
fn names(path: &OsStr) -> impl DoubleEndedIterator<Item = OsString> + '_ {
    path.as_bytes()
        .split(|&b| b == b'/')
        .filter(|n| !n.is_empty() && *n != b".")
        .map(|n| OsStr::from_bytes(n).to_os_string())
}

/// Resolves `path` (absolute or relative, both from the root) to a path relative to the root
/// with no symlink in it, except the last element when `follow_last` is off. A trailing `/`
/// follows the last element, as it does for the kernel.
pub(crate) fn resolve<W: Walk + ?Sized>(
    walk: &W,
    path: &Path,
    follow_last: bool,
) -> Result<PathBuf, W::Error> {
    let follow_last = follow_last || path.as_os_str().as_bytes().ends_with(b"/");
    let mut queue: VecDeque<OsString> = names(path.as_os_str()).collect();
    let mut done = PathBuf::new();
    let mut missing = false;
    let mut links = 0;
    while let Some(name) = queue.pop_front() {
        if name == ".." {
            done.pop();
            continue;
        }
        let candidate = done.join(&name);
        if missing {
            done = candidate;
            continue;
        }
        let last = queue.is_empty();
        match walk.step(&candidate)? {
            Step::Missing => {
                missing = true;
                done = candidate;
            }
            Step::Dir => done = candidate,
            Step::Symlink(target) if !last || follow_last => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(walk.too_many_links(path));
                }
                if target.as_os_str().as_bytes().starts_with(b"/") {
                    done = PathBuf::new();
                }
                for n in names(target.as_os_str()).rev() {
                    queue.push_front(n);
                }
            }
            Step::Symlink(_) | Step::Other if last => done = candidate,
            Step::Symlink(_) | Step::Other => return Err(walk.not_a_directory(&candidate)),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A tree held in memory; records every name it was asked about.
    struct FakeTree {
        nodes: BTreeMap<PathBuf, Step>,
        asked: std::cell::RefCell<Vec<PathBuf>>,
    }

    impl FakeTree {
        fn new(nodes: &[(&str, Step)]) -> Self {
            FakeTree {
                nodes: nodes
                    .iter()
                    .map(|(p, s)| (PathBuf::from(p), s.clone()))
                    .collect(),
                asked: Default::default(),
            }
        }
    }

    impl Walk for FakeTree {
        type Error = String;
        fn step(&self, path: &Path) -> Result<Step, String> {
            self.asked.borrow_mut().push(path.to_path_buf());
            Ok(self.nodes.get(path).cloned().unwrap_or(Step::Missing))
        }
        fn too_many_links(&self, path: &Path) -> String {
            format!("loop {}", path.display())
        }
        fn not_a_directory(&self, path: &Path) -> String {
            format!("notdir {}", path.display())
        }
    }

    fn link(target: &str) -> Step {
        Step::Symlink(PathBuf::from(target))
    }

    #[test]
    fn links_stay_inside_the_root() {
        let tree = FakeTree::new(&[
            ("var", Step::Dir),
            ("var/run", link("/run")),
            ("run", Step::Dir),
            ("up", link("../../../../etc")),
            ("etc", Step::Dir),
            ("etc/passwd", Step::Other),
            ("rel", link("var/../etc/./")),
            ("last", link("etc/passwd")),
        ]);
        for (path, follow, want) in [
            ("/var/run/x", true, "run/x"),
            ("var/run", false, "var/run"),
            ("var/run", true, "run"),
            ("var/run/", false, "run"),
            ("up/passwd", true, "etc/passwd"),
            ("/../../etc", true, "etc"),
            ("rel/passwd", false, "etc/passwd"),
            ("last", false, "last"),
            ("last", true, "etc/passwd"),
            ("new/dir/../file", true, "new/file"),
            ("/", true, ""),
        ] {
            assert_eq!(
                resolve(&tree, Path::new(path), follow),
                Ok(PathBuf::from(want)),
                "{path} follow={follow}"
            );
        }
        let asked = tree.asked.borrow();
        assert!(
            asked
                .iter()
                .all(|p| !p.starts_with("..") && p.is_relative()),
            "never asked about a name outside the root: {asked:?}"
        );
    }

    #[test]
    fn loops_and_files_as_parents_fail() {
        let tree = FakeTree::new(&[("a", link("b")), ("b", link("/a")), ("f", Step::Other)]);
        assert_eq!(
            resolve(&tree, Path::new("a/x"), true),
            Err("loop a/x".to_string())
        );
        assert_eq!(
            tree.asked.borrow().len(),
            MAX_SYMLINKS + 1,
            "stops after the limit"
        );
        assert_eq!(
            resolve(&tree, Path::new("f/x"), true),
            Err("notdir f".to_string())
        );
    }
}
