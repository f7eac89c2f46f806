//! Writing `kube generate`'s files into the user's directory.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::kube::output::OutputFile;

/// A file of the output that could not be written (the cause is in the text: main prints the
/// chain, a `source` would show twice).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot create {}: {error}", path.display())]
    Create {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot write {}: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// Writes `files` under `dir` (made with its parents), each replaced whole: a failure leaves the
/// previous file or none, never half a manifest. Secrets are readable by their owner only.
/// Files of an earlier run that this one does not make are left as they are.
pub fn write_files(dir: &Path, files: &[OutputFile]) -> Result<(), WriteError> {
    for f in files {
        let path = dir.join(&f.path);
        let parent = path.parent().unwrap_or(dir);
        fs::create_dir_all(parent).map_err(|error| WriteError::Create {
            path: parent.to_path_buf(),
            error,
        })?;
        let mode = if f.private { 0o600 } else { 0o644 };
        replace(&path, f.content.as_bytes(), mode)
            .map_err(|error| WriteError::Write { path, error })?;
    }
    Ok(())
}

/// Writes `bytes` to a new file beside `path` and renames it over `path` (which replaces a link
/// planted there rather than writing through it).
fn replace(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        if let Err(e) = fs::remove_file(&tmp) {
            eprintln!("WARN[0000] removing {}: {e}", tmp.display());
        }
    }
    written
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{symlink, PermissionsExt};

    use super::*;

    fn file(path: &str, content: &str, private: bool) -> OutputFile {
        OutputFile {
            path: PathBuf::from(path),
            content: content.to_string(),
            private,
        }
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_are_written_under_new_folders_with_secrets_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out/chart");
        write_files(
            &dir,
            &[
                file("Chart.yaml", "apiVersion: v2\n", false),
                file("templates/db-secret.yaml", "kind: Secret\n", true),
            ],
        )
        .unwrap();
        assert_eq!(
            fs::read_to_string(dir.join("Chart.yaml")).unwrap(),
            "apiVersion: v2\n"
        );
        let secret = dir.join("templates/db-secret.yaml");
        assert_eq!(fs::read_to_string(&secret).unwrap(), "kind: Secret\n");
        assert_eq!(mode(&secret), 0o600);
        assert_eq!(mode(&dir.join("Chart.yaml")) & 0o600, 0o600);
        let mut left: Vec<String> = fs::read_dir(dir.join("templates"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["db-secret.yaml"], "no temporary file left behind");
    }

    #[test]
    fn a_rewrite_replaces_the_file_and_never_writes_through_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        fs::create_dir(&dir).unwrap();
        let victim = tmp.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        symlink(&victim, dir.join("db-secret.yaml")).unwrap();
        fs::write(dir.join("web-service.yaml"), "old").unwrap();
        fs::set_permissions(
            dir.join("web-service.yaml"),
            fs::Permissions::from_mode(0o666),
        )
        .unwrap();
        write_files(
            &dir,
            &[
                file("db-secret.yaml", "secret", true),
                file("web-service.yaml", "new", false),
            ],
        )
        .unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        let secret = dir.join("db-secret.yaml");
        assert!(!fs::symlink_metadata(&secret).unwrap().is_symlink());
        assert_eq!(fs::read_to_string(&secret).unwrap(), "secret");
        assert_eq!(mode(&secret), 0o600);
        assert_eq!(
            fs::read_to_string(dir.join("web-service.yaml")).unwrap(),
            "new"
        );
        assert_eq!(
            mode(&dir.join("web-service.yaml")) & 0o002,
            0,
            "new file's mode"
        );
    }

    #[test]
    fn a_failed_write_leaves_what_was_there_and_no_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        // A folder where the file should go: the rename fails after the data is written.
        fs::create_dir_all(dir.join("web-service.yaml/inner")).unwrap();
        let err = write_files(&dir, &[file("web-service.yaml", "new", false)]).unwrap_err();
        assert!(
            format!("{err:#}").starts_with(&format!(
                "cannot write {}",
                dir.join("web-service.yaml").display()
            )),
            "{err:#}"
        );
        assert!(dir.join("web-service.yaml/inner").is_dir());
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["web-service.yaml"]);
    }
}
