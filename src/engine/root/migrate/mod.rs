//! The state root's schema version and the steps that bring an older root up to it.
//!
//! Why: state written by one release must be read by the next, and a root is shared by every
//! command and every monitor, with no daemon to convert it on the fly. So the root carries one
//! version (`layout-version`, a decimal number and a newline; absent or empty in roots made
//! before it existed, which are version 0), and this release knows the ordered [`STEPS`] from
//! each older version to [`CURRENT`]:
//! - The first command of a newer binary runs the missing steps, under the root's migration
//!   lock (`migrate.lock`) so that two commands never run one at once; a command that waited
//!   reads the version again and finds nothing left to do. Other commands of this release
//!   read the version (one small file) and go on.
//! - Each step is idempotent and writes durably (see [`crate::engine::fsutil::Durability`]);
//!   the version is written durably after each step. A crash in a step leaves the version
//!   before it, and the next command runs the step again.
//! - A step that could not do everything returns warnings instead of failing the command: the
//!   version stays where it was and the next command tries again (a file the administrator
//!   locked, say). So does a version that cannot be written: the step runs again, harmlessly.
//! - A root whose version is newer than [`CURRENT`] was written by a newer compose, whose
//!   records this one may misread (and, reading them as torn, remove): it is refused before
//!   anything in it is read.
//!
//! An older release run on a migrated root does not know the version and writes its own (a
//! step of this table ran before it, so what it reads is what it knows); this release then
//! runs the steps from there again, which are idempotent.

use std::io;
use std::path::Path;

use super::layout::StateRoot;
use super::RootError;
use crate::engine::fsutil::{self, StoreLock};

mod volume_mounts;

/// One step: brings a root of version `index` (its place in [`STEPS`]) to `index + 1`.
pub(super) struct Step {
    /// What it does, for messages.
    pub what: &'static str,
    /// Does it; returns what it could not do (then the version is not advanced).
    pub run: fn(&Path) -> Result<Vec<String>, RootError>,
}

/// Every step from version 0 on, in order: `STEPS[n]` takes a root from version `n` to `n + 1`.
pub(super) const STEPS: &[Step] = &[
    Step {
        what: "closing records, logs and image metadata to other users",
        run: super::tighten_root,
    },
    Step {
        what: "turning container records' binds of volume data into volume mounts",
        run: volume_mounts::upgrade_records,
    },
];

/// The version of a root this release writes.
pub const CURRENT: u32 = STEPS.len() as u32;

/// The version `root` says it has: 0 when it says nothing.
pub(super) fn read_version(root: &Path) -> Result<u32, RootError> {
    let path = StateRoot::new(root).version();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => {
            return Err(RootError::Io {
                action: "reading",
                path,
                source: e,
            })
        }
    };
    match text.trim() {
        "" => Ok(0),
        t => t.parse().map_err(|_| RootError::BadVersion {
            path: path.clone(),
            found: t.chars().take(40).collect(),
        }),
    }
}

/// Writes `version` as the root's, durably.
pub(super) fn write_version(root: &Path, version: u32) -> Result<(), RootError> {
    let path = StateRoot::new(root).version();
    fsutil::write_atomic(&path, format!("{version}\n").as_bytes()).map_err(|source| RootError::Io {
        action: "writing",
        path,
        source,
    })
}

/// Brings `root` (which exists) to [`CURRENT`] with [`STEPS`]; see the module docs.
pub(super) fn migrate(root: &Path) -> Result<Vec<String>, RootError> {
    migrate_with(root, STEPS)
}

fn migrate_with(root: &Path, steps: &[Step]) -> Result<Vec<String>, RootError> {
    let current = steps.len() as u32;
    let newer = |found| RootError::Newer {
        root: root.to_path_buf(),
        found,
        supported: current,
    };
    let version = read_version(root)?;
    if version == current {
        return Ok(Vec::new());
    }
    if version > current {
        return Err(newer(version));
    }
    let lock_path = StateRoot::new(root).migrate_lock();
    let _lock = StoreLock::exclusive(&lock_path).map_err(|source| RootError::Io {
        action: "locking",
        path: lock_path.clone(),
        source,
    })?;
    // Another command may have migrated it while this one waited.
    let mut version = read_version(root)?;
    if version > current {
        return Err(newer(version));
    }
    while let Some(step) = steps.get(version as usize) {
        let warnings = (step.run)(root)?;
        if !warnings.is_empty() {
            return Ok(warnings
                .into_iter()
                .map(|w| {
                    format!(
                        "upgrading from version {version} ({}): {w}; tried again by the next command",
                        step.what
                    )
                })
                .collect());
        }
        if let Err(e) = write_version(root, version + 1) {
            return Ok(vec![format!(
                "upgrading from version {version}: {e}; tried again by the next command"
            )]);
        }
        version += 1;
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A step that records its run in `<root>/ran` (the fake's log) and succeeds.
    fn log(root: &Path, name: &str) -> Result<Vec<String>, RootError> {
        let path = root.join("ran");
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(name);
        text.push('\n');
        std::fs::write(&path, text).expect("log");
        Ok(Vec::new())
    }

    fn ran(root: &Path) -> String {
        std::fs::read_to_string(root.join("ran")).unwrap_or_default()
    }

    const FAKE: &[Step] = &[
        Step {
            what: "zero",
            run: |r| log(r, "0->1"),
        },
        Step {
            what: "one",
            run: |r| log(r, "1->2"),
        },
        Step {
            what: "two",
            run: |r| log(r, "2->3"),
        },
    ];

    #[test]
    fn an_older_root_runs_the_missing_steps_in_order_once() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        write_version(root, 1).expect("version");
        assert!(migrate_with(root, FAKE).expect("migrate").is_empty());
        assert_eq!(ran(root), "1->2\n2->3\n");
        assert_eq!(read_version(root).expect("read"), 3);
        assert_eq!(
            std::fs::read_to_string(StateRoot::new(root).version()).expect("file"),
            "3\n"
        );
        assert!(migrate_with(root, FAKE).expect("again").is_empty());
        assert_eq!(ran(root), "1->2\n2->3\n", "each step runs once");
    }

    #[test]
    fn a_root_without_a_version_starts_from_zero() {
        let tmp = tempfile::tempdir().expect("tempdir");
        assert_eq!(read_version(tmp.path()).expect("absent"), 0);
        std::fs::write(StateRoot::new(tmp.path()).version(), "").expect("empty");
        assert_eq!(read_version(tmp.path()).expect("empty"), 0);
        assert!(migrate_with(tmp.path(), FAKE).expect("migrate").is_empty());
        assert_eq!(ran(tmp.path()), "0->1\n1->2\n2->3\n");
    }

    #[test]
    fn a_step_that_could_not_finish_keeps_the_version_and_runs_again() {
        const HALF: &[Step] = &[
            Step {
                what: "zero",
                run: |r| log(r, "0->1"),
            },
            Step {
                what: "locked file",
                run: |r| {
                    log(r, "1->2")?;
                    Ok(vec!["chmod x: permission denied".into()])
                },
            },
        ];
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        let warnings = migrate_with(root, HALF).expect("migrate");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("locked file"), "{warnings:?}");
        assert!(
            warnings[0].contains("chmod x: permission denied"),
            "{warnings:?}"
        );
        assert_eq!(read_version(root).expect("read"), 1);
        assert_eq!(migrate_with(root, HALF).expect("again").len(), 1);
        assert_eq!(ran(root), "0->1\n1->2\n1->2\n");
    }

    #[test]
    fn a_root_of_a_newer_compose_is_refused_untouched() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        write_version(root, 7).expect("version");
        let e = migrate_with(root, FAKE).expect_err("newer");
        let msg = e.to_string();
        assert!(
            matches!(
                e,
                RootError::Newer {
                    found: 7,
                    supported: 3,
                    ..
                }
            ),
            "{msg}"
        );
        assert!(msg.contains("newer compose"), "{msg}");
        assert!(
            msg.ends_with("upgrade compose or use another --root"),
            "{msg}"
        );
        assert_eq!(ran(root), "");
        assert_eq!(read_version(root).expect("read"), 7);
        assert!(!StateRoot::new(root).migrate_lock().exists());
    }

    #[test]
    fn a_version_that_is_no_number_is_an_error_naming_the_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(StateRoot::new(tmp.path()).version(), "two\n").expect("write");
        let e = migrate_with(tmp.path(), FAKE).expect_err("garbage");
        assert!(e.to_string().contains("layout-version"), "{e}");
        assert_eq!(ran(tmp.path()), "");
    }

    /// The table is what [`CURRENT`] counts: a release that adds a step raises the version.
    #[test]
    fn this_release_writes_the_version_its_steps_reach() {
        assert_eq!(CURRENT as usize, STEPS.len());
        assert_eq!(CURRENT, 2);
    }
}
