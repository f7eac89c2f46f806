//! `volumes_from`: a container repeats the volumes and bind mounts of another container, as
//! Docker does for `--volumes-from` (moby's `registerMountPoints`). Entries are Docker
//! Compose's forms: `NAME` (a service of the project: its first container) or
//! `container:NAME` (any container under this `--root`), each with an optional `:ro` or `:rw`.
//!
//! A mount is read-only when the source's is, or with `:ro`; `:rw` keeps the source's mode
//! (Docker: `RW = source.RW && mode != ro`). tmpfs mounts are not repeated (Docker has no
//! mount point for them), nor the secrets and configs that the engine wrote for the source
//! (files under its own directory, removed with it). A mount of the container's own at the same
//! destination takes the place of the repeated one.

use std::path::{Path, PathBuf};

use crate::engine::state::ContainerRecord;

use crate::engine::spec::{MountKind, MountSpec};

/// Where the mounts come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A service of the project (its container with the lowest number).
    Service(String),
    /// A container by name.
    Container(String),
}

/// One parsed `volumes_from` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumesFrom {
    pub from: Origin,
    /// `:ro`.
    pub read_only: bool,
}

/// Parses `NAME[:ro|:rw]` or `container:NAME[:ro|:rw]`.
pub fn parse(entry: &str) -> Result<VolumesFrom, String> {
    let (container, rest) = match entry.strip_prefix("container:") {
        Some(rest) => (true, rest),
        None => (false, entry),
    };
    let (name, mode) = match rest.rsplit_once(':') {
        Some((n, m)) => (n, Some(m)),
        None => (rest, None),
    };
    let read_only = match mode {
        None | Some("rw") => false,
        Some("ro") => true,
        Some(m) => {
            return Err(format!(
                "volumes_from {entry:?}: invalid mode {m:?}, expected ro or rw"
            ))
        }
    };
    if name.is_empty() {
        return Err(format!(
            "volumes_from {entry:?}: no service or container named"
        ));
    }
    Ok(VolumesFrom {
        from: if container {
            Origin::Container(name.to_string())
        } else {
            Origin::Service(name.to_string())
        },
        read_only,
    })
}

/// The mounts that a container repeats from `source` (the mounts of the container whose
/// directory is `source_dir`), read-only with `read_only`.
pub fn repeated(source: &[MountSpec], source_dir: &Path, read_only: bool) -> Vec<MountSpec> {
    source
        .iter()
        .filter(|m| match &m.kind {
            MountKind::Bind { source, .. } => !source.starts_with(source_dir),
            MountKind::Volume { .. } => true,
            MountKind::Tmpfs { .. } => false,
        })
        .map(|m| {
            let mut m = m.clone();
            m.read_only |= read_only;
            // Made (or filled) when the source container was created; never again here.
            if let MountKind::Volume { copy, .. } = &mut m.kind {
                *copy = false;
            }
            m
        })
        .collect()
}

/// The mounts that a container of `project` repeats for `entries` (the service's
/// `volumes_from`), given every container under the root (`records`) and where their
/// directories are (`dir_of`). A source that has no container is an error naming it.
pub fn mounts_for(
    entries: &[String],
    project: &str,
    records: &[&ContainerRecord],
    dir_of: impl Fn(&str) -> PathBuf,
) -> Result<Vec<MountSpec>, String> {
    let mut out = Vec::new();
    for entry in entries {
        let v = parse(entry)?;
        let source = match &v.from {
            Origin::Service(s) => records
                .iter()
                .filter(|r| r.project == project && r.service == *s && !r.one_off)
                .min_by_key(|r| r.number)
                .ok_or_else(|| format!("volumes_from {entry}: service {s} has no container")),
            Origin::Container(c) => records
                .iter()
                .find(|r| r.name == *c)
                .ok_or_else(|| format!("volumes_from {entry}: no such container: {c}")),
        }?;
        out.extend(repeated(
            &source.spec.mounts,
            &dir_of(&source.id),
            v.read_only,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_compose_forms() {
        let p = |s| parse(s).unwrap();
        assert_eq!(
            p("db"),
            VolumesFrom {
                from: Origin::Service("db".into()),
                read_only: false
            }
        );
        assert!(p("db:ro").read_only);
        assert!(!p("db:rw").read_only);
        assert_eq!(
            p("container:legacy:ro").from,
            Origin::Container("legacy".into())
        );
        assert!(p("container:legacy:ro").read_only);
        assert!(parse("db:rx").unwrap_err().contains("invalid mode \"rx\""));
        assert!(parse("container:").is_err());
    }

    #[test]
    fn volumes_and_binds_are_repeated_not_tmpfs_nor_the_sources_own_files() {
        let m = |kind, dest: &str, ro| MountSpec {
            kind,
            destination: dest.into(),
            read_only: ro,
            create_source: false,
        };
        let bind = |s: &str| MountKind::Bind {
            source: PathBuf::from(s),
            propagation: None,
            recursive: true,
        };
        let vol = MountKind::Volume {
            volume: "/root/volumes/p_data".into(),
            subpath: None,
            copy: true,
        };
        let source = vec![
            m(vol, "/data", false),
            m(bind("/srv/conf"), "/conf", true),
            m(bind("/root/containers/abc/files/0"), "/run/secrets/s", true),
            m(
                MountKind::Tmpfs {
                    size: None,
                    mode: None,
                    options: Vec::new(),
                },
                "/tmp",
                false,
            ),
        ];
        let dir = Path::new("/root/containers/abc");
        let got: Vec<(String, bool)> = repeated(&source, dir, false)
            .into_iter()
            .map(|m| (m.destination, m.read_only))
            .collect();
        assert_eq!(got, [("/data".to_string(), false), ("/conf".into(), true)]);
        let ro = repeated(&source, dir, true);
        assert!(ro.iter().all(|m| m.read_only));
        assert!(matches!(ro[0].kind, MountKind::Volume { copy: false, .. }));
    }
}
