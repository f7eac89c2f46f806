//! Finding the Compose files and naming the project, the way Docker Compose does, so that a
//! project folder that works with `docker compose` works unchanged here.

use std::path::{Path, PathBuf};

use super::error::{ErrorKind, LoadError, Result};

/// File names looked for, in order of preference, in the working directory and then its parents.
pub const DEFAULT_FILES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// Override files applied automatically on top of a discovered file.
pub const OVERRIDE_FILES: [&str; 4] = [
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
];

/// What discovery found: the main file, its automatic override, and a warning to print when the
/// directory held several candidate names.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovered {
    pub files: Vec<PathBuf>,
    pub warning: Option<String>,
}

/// Looks for a Compose file in `start` and then in each parent directory.
pub fn find_compose_files(start: &Path) -> Result<Discovered> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let found: Vec<PathBuf> = DEFAULT_FILES
            .iter()
            .map(|n| d.join(n))
            .filter(|p| p.is_file())
            .collect();
        if let Some(main) = found.first() {
            let warning = (found.len() > 1).then(|| {
                format!(
                    "Found multiple config files with supported names: {}\nUsing {}",
                    found
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    main.display()
                )
            });
            let mut files = vec![main.clone()];
            if let Some(over) = OVERRIDE_FILES
                .iter()
                .map(|n| d.join(n))
                .find(|p| p.is_file())
            {
                files.push(over);
            }
            return Ok(Discovered { files, warning });
        }
        dir = d.parent();
    }
    Err(LoadError::bare(ErrorKind::NoConfigFile {
        dir: start.to_path_buf(),
        looked_for: DEFAULT_FILES.join(", "),
    }))
}

/// Normalizes a name into a valid project name: lowercase, only `[a-z0-9_-]`, starting with a
/// letter or digit (what Docker Compose does to a directory name).
pub fn normalize_project_name(name: &str) -> String {
    let lowered: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    lowered.trim_start_matches(['_', '-']).to_string()
}

/// Checks a name given explicitly (`-p`, `COMPOSE_PROJECT_NAME`, `name:`): those are not
/// silently rewritten, a bad one is an error.
pub fn validate_project_name(name: &str) -> std::result::Result<(), String> {
    let mut chars = name.chars();
    let ok_first = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok_rest =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok_first && ok_rest {
        Ok(())
    } else {
        Err(format!(
            "invalid project name {name:?}: must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number"
        ))
    }
}

/// Splits `COMPOSE_FILE` on the platform's path separator (or `COMPOSE_PATH_SEPARATOR`).
pub fn split_compose_file_var(value: &str, separator: Option<&str>) -> Vec<PathBuf> {
    let sep = separator.filter(|s| !s.is_empty()).unwrap_or(":");
    value
        .split(sep)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_directory_names() {
        for (input, want) in [
            ("MyApp", "myapp"),
            ("my app.v2", "myappv2"),
            ("_hidden", "hidden"),
            ("--x_y-z", "x_y-z"),
            ("UNNORMALIZED PATH", "unnormalizedpath"),
            ("héllo", "hllo"),
        ] {
            assert_eq!(normalize_project_name(input), want, "{input}");
        }
    }

    #[test]
    fn validates_explicit_names() {
        assert!(validate_project_name("my-app_1").is_ok());
        assert!(validate_project_name("1app").is_ok());
        for bad in ["MyApp", "_app", "-app", "a.b", ""] {
            let err = validate_project_name(bad).unwrap_err();
            assert!(
                err.starts_with(&format!("invalid project name {bad:?}")),
                "{err}"
            );
        }
    }

    #[test]
    fn splits_compose_file() {
        assert_eq!(
            split_compose_file_var("a.yaml:b/c.yaml", None),
            vec![PathBuf::from("a.yaml"), PathBuf::from("b/c.yaml")]
        );
        assert_eq!(
            split_compose_file_var("a.yaml;b.yaml", Some(";")),
            vec![PathBuf::from("a.yaml"), PathBuf::from("b.yaml")]
        );
    }

    #[test]
    fn discovers_in_parents_with_override() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::write(root.join("compose.yaml"), "services: {}\n").unwrap();
        std::fs::write(root.join("compose.override.yml"), "services: {}\n").unwrap();
        let sub = root.join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        let d = find_compose_files(&sub).unwrap();
        assert_eq!(
            d.files,
            vec![root.join("compose.yaml"), root.join("compose.override.yml")]
        );
        assert!(d.warning.is_none());
        std::fs::write(root.join("docker-compose.yml"), "services: {}\n").unwrap();
        let d = find_compose_files(root).unwrap();
        assert_eq!(d.files[0], root.join("compose.yaml"));
        assert!(d.warning.unwrap().contains("Found multiple config files"));
    }

    #[test]
    fn no_file_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let err = find_compose_files(tmp.path()).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("no configuration file provided: not found"));
    }
}
