//! What the fuzz targets share: a scratch directory per process, and a check that nothing was
//! written beside it (the targets that unpack archives must stay inside the directory given).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// `<tmp>/work` is handed to the code under test; `<tmp>/outside` is its sibling and must stay
/// empty: an entry like `../outside/x`, or a link followed out of `work`, would land there.
pub struct Sandbox {
    _dir: tempfile::TempDir,
    work: PathBuf,
    outside: PathBuf,
}

impl Sandbox {
    /// The process's sandbox, made on first use.
    pub fn get() -> &'static Sandbox {
        static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
        SANDBOX.get_or_init(|| {
            let dir = tempfile::tempdir().expect("creating the fuzz sandbox");
            let work = dir.path().join("work");
            let outside = dir.path().join("outside");
            fs::create_dir(&work).expect("creating the sandbox's work dir");
            fs::create_dir(&outside).expect("creating the sandbox's outside dir");
            Sandbox {
                _dir: dir,
                work,
                outside,
            }
        })
    }

    /// An empty directory `name` under the work dir (emptied if a previous run left it).
    pub fn fresh(&self, name: &str) -> PathBuf {
        let dir = self.work.join(name);
        remove(&dir);
        fs::create_dir(&dir).expect("creating a fresh sandbox dir");
        dir
    }

    /// Panics (a finding) if anything appeared beside the work dir; empties the work dir.
    pub fn check_and_clear(&self) {
        let escaped: Vec<_> = fs::read_dir(&self.outside)
            .expect("reading the sandbox's outside dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(
            escaped.is_empty(),
            "written outside the target dir: {escaped:?}"
        );
        for e in fs::read_dir(&self.work)
            .expect("reading the sandbox")
            .flatten()
        {
            remove(&e.path());
        }
    }
}

/// Removes `path` whatever it is, making read-only directories writable first (an archive may
/// hold a directory without write permission).
fn remove(path: &Path) {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_dir() {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o700));
        if let Ok(entries) = fs::read_dir(path) {
            for e in entries.flatten() {
                remove(&e.path());
            }
        }
        fs::remove_dir(path).expect("removing a sandbox dir");
    } else {
        fs::remove_file(path).expect("removing a sandbox file");
    }
}
