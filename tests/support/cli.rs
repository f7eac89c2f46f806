//! Shared helpers for the end-to-end tests: run the real `compose` binary in a temporary
//! directory with a controlled environment, and write project files.

#![allow(dead_code)] // each test crate uses a different subset

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one run of the binary produced.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Asserts the run succeeded without printing anything on stderr; returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert_eq!(self.stderr, "", "unexpected stderr");
        &self.stdout
    }

    /// Asserts the run succeeded (stderr may hold warnings); returns stdout.
    #[track_caller]
    pub fn ok_with_warnings(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        &self.stdout
    }

    /// Asserts the run failed with `code` and printed nothing on stdout; returns stderr.
    #[track_caller]
    pub fn fails(&self, code: i32) -> &str {
        assert_eq!(
            self.code, code,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert_eq!(
            self.stdout, "",
            "nothing must be printed on stdout on failure"
        );
        &self.stderr
    }

    /// Asserts a load error (exit code 15, nothing on stdout) and returns stderr's one line.
    #[track_caller]
    pub fn load_error(&self) -> &str {
        let err = self.fails(15);
        assert!(err.ends_with('\n'), "stderr not a line: {err:?}");
        err.trim_end_matches('\n')
    }
}

/// A command line for the `compose` binary, run in `dir` with an empty environment except
/// `HOME` (a directory that does not hold the project), `PATH` and what the test sets.
pub struct Compose {
    cmd: Command,
    stdin: Option<String>,
}

impl Compose {
    pub fn new(dir: &Path) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_compose"));
        cmd.current_dir(dir).env_clear();
        cmd.env("HOME", "/nonexistent-home");
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        Compose { cmd, stdin: None }
    }

    pub fn args(mut self, args: &[&str]) -> Self {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn stdin(mut self, text: &str) -> Self {
        self.stdin = Some(text.to_string());
        self
    }

    pub fn run(mut self) -> Output {
        self.cmd
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("spawn compose");
        if let Some(text) = self.stdin.take() {
            let mut input = child.stdin.take().expect("stdin");
            input.write_all(text.as_bytes()).expect("write stdin");
        }
        let out = child.wait_with_output().expect("wait for compose");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        }
    }
}

/// Runs `compose ARGS` in `dir` with only `HOME` and `PATH` set.
pub fn compose(dir: &Path, args: &[&str]) -> Output {
    Compose::new(dir).args(args).run()
}

/// A temporary directory holding a project folder with a known name (the project name derives
/// from it), on its canonical path so printed paths can be compared exactly.
pub struct Project {
    _tmp: tempfile::TempDir,
    /// The parent of `dir`, also temporary.
    pub root: PathBuf,
    pub dir: PathBuf,
}

impl Project {
    /// An empty project directory named `name` (may contain `/` for nesting).
    pub fn new(name: &str) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().canonicalize().expect("canonical tempdir");
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).expect("create project dir");
        Project {
            _tmp: tmp,
            root,
            dir,
        }
    }

    /// A project directory `app` holding `compose.yaml` with `text`.
    pub fn with_compose(text: &str) -> Self {
        let p = Project::new("app");
        p.write("compose.yaml", text);
        p
    }

    /// Writes `text` to `rel` (relative to the project directory), creating folders.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dirs");
        }
        std::fs::write(&path, text).expect("write file");
        path
    }

    /// The absolute path of `rel` in the project directory, as a string.
    pub fn path(&self, rel: &str) -> String {
        self.dir.join(rel).display().to_string()
    }

    /// `compose ARGS` run in the project directory.
    pub fn compose(&self, args: &[&str]) -> Output {
        compose(&self.dir, args)
    }

    /// A command in the project directory, to add environment variables or stdin.
    pub fn cmd(&self, args: &[&str]) -> Compose {
        Compose::new(&self.dir).args(args)
    }
}

/// The crate's corpus folder (`../shared/corpus`), or `None` when this checkout has none.
pub fn corpus_dir() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    p.canonicalize().ok().filter(|p| p.is_dir())
}
