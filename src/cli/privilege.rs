//! Who may run a command: root, checked once before a command touches the state root, so that a
//! user who forgot `sudo` reads one line saying so instead of the first `EACCES` or `EPERM` some
//! step happens to meet (`state root: opening /var/lib/compose: Permission denied (os error 13)`)
//! or, worse, an empty `ps` that hides root's containers.
//!
//! Containers need root today: namespaces, cgroups, overlay mounts, veths and nftables rules are
//! root's to make, and there is no rootless mode yet. The image store is the one part that works
//! for any user (layers are unpacked without their owners, see `engine::image::layer`): the
//! commands that only read or write files under the state root (images, pulls, pushes, and
//! listings of what the root holds) also run unprivileged on a state root of the user's own
//! (`--root ~/images`), which is how the registry and image tests run without root.

use std::path::Path;

use rustix::fs::{Access, AtFlags, CWD};

use super::network::NetworkCommand;
use super::Command;

/// A command run without root that needs it.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    /// Runs or touches containers: root whatever the state root.
    #[error(
        "compose needs root for this command: containers are made with namespaces, cgroups, \
         mounts and network devices, which only root may set up; run it with sudo (rootless \
         mode is not supported yet)"
    )]
    Engine,
    /// Uses only files under a state root that is not the user's.
    #[error(
        "compose needs root for this command: the state root {root} is root's; run it with sudo \
         (rootless mode is not supported yet; image commands also work on a --root of your own)"
    )]
    StateRoot { root: String },
}

/// What a command needs of the process's privileges, given it uses the state root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Makes, enters, signals or removes containers, mounts, cgroups or network devices.
    Engine,
    /// Reads or writes files under the state root only: a root of the user's own will do.
    Files,
}

/// Classifies a command that uses the state root. Anything not named as files-only needs the
/// engine, so a command added later is refused without root until someone says otherwise.
fn need(command: &Command) -> Need {
    match command {
        Command::Image(_)
        | Command::Pull(_)
        | Command::Push(_)
        | Command::Builder(_)
        | Command::Ps(_)
        | Command::Ls(_)
        | Command::Images(_)
        | Command::Inspect(_) => Need::Files,
        Command::Network(args) => match args.command {
            NetworkCommand::Ls(_) | NetworkCommand::Inspect(_) => Need::Files,
            _ => Need::Engine,
        },
        _ => Need::Engine,
    }
}

/// Refuses, with one line saying why, a command that uses the state root when the effective
/// user is not root (see the module's documentation for the one exception).
pub fn check(command: &Command, root: &Path) -> Result<(), PrivilegeError> {
    if rustix::process::geteuid().is_root() {
        return Ok(());
    }
    match need(command) {
        Need::Engine => Err(PrivilegeError::Engine),
        Need::Files if own_root(root) => Ok(()),
        Need::Files => Err(PrivilegeError::StateRoot {
            root: root.display().to_string(),
        }),
    }
}

/// Whether `root` is the effective user's: it exists and they own it, or it does not exist yet
/// and they may create it (the nearest directory above it that exists is writable to them).
fn own_root(root: &Path) -> bool {
    match std::fs::metadata(root) {
        Ok(meta) => {
            use std::os::unix::fs::MetadataExt;
            meta.uid() == rustix::process::geteuid().as_raw()
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => root
            .ancestors()
            .skip(1)
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .find(|p| p.exists())
            .is_some_and(|p| {
                rustix::fs::accessat(CWD, p, Access::WRITE_OK, AtFlags::EACCESS).is_ok()
            }),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    fn need_of(args: &[&str]) -> Need {
        let cli = Cli::try_parse_from(std::iter::once("compose").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        need(&cli.command)
    }

    #[test]
    fn commands_that_touch_containers_need_the_engine() {
        for args in [
            &["up", "-d"][..],
            &["down"],
            &["run", "web"],
            &["exec", "web", "sh"],
            &["start"],
            &["stop"],
            &["kill"],
            &["rm"],
            &["logs"],
            &["info"],
            &["network", "rm", "x"],
            &["network", "prune"],
            &["build"],
        ] {
            assert_eq!(need_of(args), Need::Engine, "{args:?}");
        }
    }

    #[test]
    fn store_and_listing_commands_need_only_the_files() {
        for args in [
            &["image", "ls"][..],
            &["image", "load", "-i", "x.tar"],
            &["pull"],
            &["push"],
            &["ps"],
            &["ls"],
            &["images"],
            &["network", "ls"],
        ] {
            assert_eq!(need_of(args), Need::Files, "{args:?}");
        }
    }

    #[test]
    fn a_root_is_ones_own_when_owned_or_creatable() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Run by whoever runs the tests, root or not: both are theirs.
        assert!(own_root(dir.path()));
        assert!(own_root(&dir.path().join("new/deeper")));
        if !rustix::process::geteuid().is_root() {
            assert!(!own_root(Path::new("/var/lib/compose")));
            assert!(!own_root(Path::new("/")));
        }
    }

    #[test]
    fn the_refusals_are_one_line_naming_root() {
        for err in [
            PrivilegeError::Engine,
            PrivilegeError::StateRoot {
                root: "/var/lib/compose".into(),
            },
        ] {
            let text = err.to_string();
            assert!(text.starts_with("compose needs root"), "{text}");
            assert!(!text.contains('\n'), "{text}");
        }
    }
}
