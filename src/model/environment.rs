//! The variables a project is interpolated with: the process environment over the project's
//! `.env` (or `--env-file` files), with the precedence Docker Compose uses.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::dotenv;
use super::error::Result;

/// A resolved variable set. Lookups are by exact name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Environment {
    vars: IndexMap<String, String>,
}

impl Environment {
    pub fn new(vars: IndexMap<String, String>) -> Self {
        Environment { vars }
    }

    /// The process environment (non-UTF-8 entries are skipped: Compose files are UTF-8).
    pub fn from_process() -> Self {
        Environment {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    pub fn lookup(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(name.into(), value.into());
    }

    pub fn vars(&self) -> &IndexMap<String, String> {
        &self.vars
    }

    /// Builds the project environment: each env file in order (a later file overrides an earlier
    /// one, and may use its values), then the process environment over all of them: a variable set
    /// in the shell always wins over `.env`.
    pub fn with_env_files(os: &Environment, files: &[PathBuf]) -> Result<Environment> {
        let mut from_files: IndexMap<String, String> = IndexMap::new();
        for file in files {
            let parsed = dotenv::read_file(file, &|name: &str| {
                os.lookup(name).or_else(|| from_files.get(name).cloned())
            })?;
            from_files.extend(parsed);
        }
        let mut vars = from_files;
        for (k, v) in &os.vars {
            vars.insert(k.clone(), v.clone());
        }
        Ok(Environment { vars })
    }
}

/// The env files to read when none is named: `.env` in the project directory, if it exists.
pub fn default_env_files(project_dir: &Path) -> Vec<PathBuf> {
    let p = project_dir.join(".env");
    if p.is_file() {
        vec![p]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn process_environment_wins_over_env_files() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a.env");
        let b = tmp.path().join("b.env");
        std::fs::write(&a, "A=from_a\nB=from_a\nC=from_a\n").unwrap();
        std::fs::write(&b, "B=from_b\nD=${C}-d\n").unwrap();
        let os = env(&[("C", "from_os")]);
        let e = Environment::with_env_files(&os, &[a, b]).unwrap();
        assert_eq!(e.get("A"), Some("from_a"));
        assert_eq!(e.get("B"), Some("from_b"));
        assert_eq!(e.get("C"), Some("from_os"));
        assert_eq!(e.get("D"), Some("from_os-d"));
    }

    #[test]
    fn missing_env_file_is_an_error_naming_it() {
        let err = Environment::with_env_files(&env(&[]), &[PathBuf::from("/nonexistent/x.env")])
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x.env"), "{err}");
    }
}
