//! `.dockerignore`: which paths of a build context the build never sees.
//!
//! The rules are Docker's: one pattern a line, relative to the context root; a line starting
//! with `#` is a comment (only at the very start: ` #x` is a pattern) and blank lines are
//! skipped; surrounding spaces are trimmed; `!` makes an exception; each pattern is cleaned as
//! Go's `filepath.Clean` does and a leading `/` dropped. A path is excluded when the last
//! pattern that matches it, or one of its parent directories, is not an exception, so excluding
//! a directory excludes everything in it unless a later exception re-includes something below.
//! `<Dockerfile>.dockerignore` beside the Dockerfile replaces the context's `.dockerignore`.

use std::path::{Path, PathBuf};

use super::error::ContextError;
use super::pattern::Pattern;

/// One line of the file, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    pattern: Pattern,
    /// `!pattern`: re-includes what earlier rules excluded.
    exception: bool,
}

/// The compiled rules of one ignore file, in file order. Empty means nothing is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
}

impl IgnoreRules {
    /// Parses ignore-file text; `file` only names the source in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Self, ContextError> {
        let mut rules = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            if raw.starts_with('#') {
                continue;
            }
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            let bad = |reason: String| ContextError::BadPattern {
                file: file.to_path_buf(),
                line: index + 1,
                pattern: line.to_string(),
                reason,
            };
            let (exception, body) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            if body.is_empty() {
                return Err(bad("an exception `!` needs a pattern".into()));
            }
            let cleaned = clean(body);
            let cleaned = match cleaned.strip_prefix('/') {
                Some(rest) if !rest.is_empty() => rest.to_string(),
                _ => cleaned,
            };
            let pattern = Pattern::compile(&cleaned).map_err(|e| bad(e.to_string()))?;
            rules.push(Rule { pattern, exception });
        }
        Ok(IgnoreRules { rules })
    }

    /// Reads the ignore file that applies to a build: `<dockerfile>.dockerignore` when it exists
    /// (`dockerfile` relative to `context` or absolute), else `<context>/.dockerignore`, else no
    /// rules. Returns the file used, so the caller can keep it in the context as Docker does.
    pub fn load(
        context: &Path,
        dockerfile: &Path,
    ) -> Result<(Self, Option<PathBuf>), ContextError> {
        let mut beside = context.join(dockerfile).into_os_string();
        beside.push(".dockerignore");
        for candidate in [PathBuf::from(beside), context.join(".dockerignore")] {
            match std::fs::read_to_string(&candidate) {
                Ok(text) => return Ok((Self::parse(&text, &candidate)?, Some(candidate))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(ContextError::ReadIgnoreFile {
                        path: candidate,
                        source,
                    })
                }
            }
        }
        Ok((Self::default(), None))
    }

    /// Whether `path` (relative to the context root, `/`-separated, clean) is left out, judged
    /// on the path and on each of its parent directories, last matching rule winning.
    pub fn excludes(&self, path: &str) -> bool {
        let parents: Vec<&str> = path.match_indices('/').map(|(at, _)| &path[..at]).collect();
        let mut excluded = false;
        for rule in &self.rules {
            // Only a rule that could change the answer is evaluated, as Docker does.
            if rule.exception != excluded {
                continue;
            }
            let hit = rule.pattern.matches(path) || parents.iter().any(|p| rule.pattern.matches(p));
            if hit {
                excluded = !rule.exception;
            }
        }
        excluded
    }

    /// Whether an exception could re-include something strictly below the excluded directory
    /// `dir`; when none can, the walk skips the directory without reading it.
    pub fn may_reinclude_below(&self, dir: &str) -> bool {
        self.rules
            .iter()
            .any(|r| r.exception && r.pattern.may_match_below(dir))
    }
}

/// Go's `filepath.Clean` on a `/`-separated path: repeated separators collapsed, `.` elements
/// dropped, `..` resolved lexically (kept at the start of a relative path, dropped at the root).
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> IgnoreRules {
        IgnoreRules::parse(text, Path::new(".dockerignore")).unwrap_or_else(|e| panic!("{e}"))
    }

    // Each expectation is what `docker build` sends (or leaves out) for the same file.

    #[test]
    fn clean_matches_go_filepath_clean() {
        for (input, want) in [
            ("./a", "a"),
            ("a//b/", "a/b"),
            ("a/./b/../c", "a/c"),
            ("../a", "../a"),
            ("/../a", "/a"),
            ("./", "."),
            ("/", "/"),
            ("a/..", "."),
        ] {
            assert_eq!(clean(input), want, "{input}");
        }
    }

    #[test]
    fn patterns_are_relative_to_the_root_and_cleaned() {
        let r = rules("/secret.txt\n./build/\nlogs//*.log\n");
        assert!(r.excludes("secret.txt"));
        assert!(!r.excludes("sub/secret.txt"), "not matched at any depth");
        assert!(r.excludes("build"));
        assert!(r.excludes("logs/a.log"));
    }

    #[test]
    fn comments_blank_lines_and_spaces() {
        let r = rules("# comment\n\n   \n  node_modules  \n #hash\n");
        assert!(!r.excludes("# comment"));
        assert!(r.excludes("node_modules"));
        assert!(
            r.excludes("#hash"),
            "a `#` after leading space is a pattern"
        );
    }

    #[test]
    fn an_excluded_directory_takes_its_contents() {
        let r = rules("node_modules\n");
        assert!(r.excludes("node_modules/a/b.js"));
        assert!(
            !r.excludes("src/node_modules/x"),
            "patterns are anchored at the root"
        );
    }

    #[test]
    fn exceptions_in_order_last_match_wins() {
        let r = rules("*.md\n!README.md\n");
        assert!(r.excludes("CHANGES.md"));
        assert!(!r.excludes("README.md"));
        let r = rules("!README.md\n*.md\n");
        assert!(
            r.excludes("README.md"),
            "a later exclusion wins over an earlier exception"
        );
        let r = rules("docs\n!docs/keep\ndocs/keep/tmp\n");
        assert!(r.excludes("docs/a"));
        assert!(!r.excludes("docs/keep/b"));
        assert!(r.excludes("docs/keep/tmp/c"));
    }

    #[test]
    fn walk_descends_only_where_an_exception_may_apply() {
        let r = rules("vendor\n!vendor/keep/*.go\n");
        assert!(r.excludes("vendor"));
        assert!(r.may_reinclude_below("vendor"));
        assert!(!r.may_reinclude_below("vendor/other"));
        assert!(!r.excludes("vendor/keep/a.go"));
        assert!(r.excludes("vendor/keep/a.c"));
        let r = rules("build\n");
        assert!(!r.may_reinclude_below("build"));
    }

    #[test]
    fn double_star_anywhere() {
        let r = rules("**/*.pyc\n**/__pycache__\n");
        assert!(r.excludes("a.pyc"));
        assert!(r.excludes("pkg/sub/a.pyc"));
        assert!(r.excludes("pkg/__pycache__/x"));
    }

    #[test]
    fn errors_name_file_line_and_pattern() {
        let err = IgnoreRules::parse("ok\n!\n", Path::new("/ctx/.dockerignore"))
            .expect_err("lone !")
            .to_string();
        assert_eq!(
            err,
            "/ctx/.dockerignore:2: bad pattern `!`: an exception `!` needs a pattern"
        );
        let err = IgnoreRules::parse("[ab\n", Path::new("x.dockerignore"))
            .expect_err("unclosed")
            .to_string();
        assert_eq!(
            err,
            "x.dockerignore:1: bad pattern `[ab`: unclosed character class `[`"
        );
    }

    #[test]
    fn dockerfile_specific_file_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("docker")).expect("mkdir");
        std::fs::write(dir.path().join(".dockerignore"), "from-context\n").expect("write");
        let (r, used) =
            IgnoreRules::load(dir.path(), Path::new("docker/web.Dockerfile")).expect("load");
        assert_eq!(used, Some(dir.path().join(".dockerignore")));
        assert!(r.excludes("from-context"));
        let beside = dir.path().join("docker/web.Dockerfile.dockerignore");
        std::fs::write(&beside, "from-dockerfile\n").expect("write");
        let (r, used) =
            IgnoreRules::load(dir.path(), Path::new("docker/web.Dockerfile")).expect("load");
        assert_eq!(used, Some(beside));
        assert!(r.excludes("from-dockerfile"));
        assert!(!r.excludes("from-context"));
        let (r, used) =
            IgnoreRules::load(&dir.path().join("docker"), Path::new("none")).expect("load");
        assert_eq!((r, used), (IgnoreRules::default(), None));
    }
}
