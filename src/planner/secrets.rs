//! A service's `secrets` and `configs`: what each is made of (a host `file`, a variable of the
//! project's `environment`, or inline `content` for configs), where it is mounted (a secret at
//! `/run/secrets/<name>`, a config at `/<name>`, or `target:`, a relative secret target under
//! /run/secrets) and with which `mode` (default 0444), `uid` and `gid` (default 0).
//!
//! Each is bound read-only. A `file` source that already has the asked mode and owner (or for
//! which none is asked) is bound as it is, as Docker Compose binds it; otherwise, and for
//! `environment` and `content` sources, its bytes are written with that mode and owner to a file
//! under the container's directory in `--root` (the user's file is never changed). The planner
//! makes no system calls: the stack stats the [`host_paths`] before planning
//! ([`crate::engine::runtime::host_files`]), and the engine writes the [`writes`]
//! ([`crate::engine::runtime::written_files`]). Docker
//! Compose ignores `mode`, `uid` and `gid` of a file source with a warning; applying them is
//! strictly better. The bytes never go into an image layer, a record or a log.
//!
//! Everything is checked before the container is created: an external secret (it would live in
//! a Docker Swarm, which there is none of), a swarm `driver` or a `template_driver`, a missing
//! file or unset variable, a bad mode, uid or gid are errors naming the service and the key.

use std::path::{Component, Path, PathBuf};

use crate::engine::runtime::host_files::HostFiles;
use crate::engine::runtime::written_files::{self, FileWrite};
use crate::engine::spec::{MountKind, MountSpec};
use crate::model::types::resources::Project;
use crate::model::types::service::FileReferenceConfig;

/// Docker's mode for a secret or config that does not give one.
pub const DEFAULT_MODE: u32 = 0o444;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Secret,
    Config,
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Kind::Secret => "secret",
            Kind::Config => "config",
        }
    }

    /// Where a name or a relative target is mounted.
    fn base(self) -> &'static str {
        match self {
            Kind::Secret => "/run/secrets",
            Kind::Config => "",
        }
    }
}

/// What a secret or config is made of: a host file, or bytes from `content` or an environment
/// variable (never shown in debug output).
pub use crate::engine::runtime::written_files::Content as Source;

/// One secret or config of a service, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceFile {
    pub kind: Kind,
    /// Its key in the top-level `secrets`/`configs`.
    pub name: String,
    /// Absolute path inside the container.
    pub target: String,
    pub source: Source,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Written under the container's directory (else the host file is bound as it is).
    pub written: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("service {service}: {kind} {name}: {message}")]
    Invalid {
        service: String,
        kind: &'static str,
        name: String,
        message: String,
    },
}

/// The host files that `service`'s secrets and configs name (their `file` sources): what the
/// stack reads into the [`HostFiles`] that [`service_files`] is given.
pub fn host_paths<'a>(project: &'a Project, service: &str) -> Vec<&'a Path> {
    let Some(svc) = project.services.get(service) else {
        return Vec::new();
    };
    let secrets = svc
        .secrets
        .iter()
        .filter_map(|r| project.secrets.get(&r.source)?.file.as_deref());
    let configs = svc
        .configs
        .iter()
        .filter_map(|r| project.configs.get(&r.source)?.file.as_deref());
    secrets.chain(configs).map(Path::new).collect()
}

/// The secrets and configs of `service`, in the order the service lists them; `host` holds the
/// host files at [`host_paths`].
pub fn service_files(
    project: &Project,
    service: &str,
    host: &HostFiles,
) -> Result<Vec<ServiceFile>, FilesError> {
    let Some(svc) = project.services.get(service) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for r in &svc.secrets {
        let err = |message: String| invalid(service, Kind::Secret, &r.source, message);
        let top = project
            .secrets
            .get(&r.source)
            .ok_or_else(|| err("is not defined in the top-level `secrets`".into()))?;
        if top.external.external {
            return Err(err(
                "is external: external secrets live in a Docker Swarm, which compose does not \
                 use; give it a `file` or `environment` source"
                    .into(),
            ));
        }
        if let Some(d) = &top.driver {
            return Err(err(format!(
                "driver {d:?} is not supported (secret drivers need a Docker Swarm); give it a \
                 `file` or `environment` source"
            )));
        }
        refuse_template(top.template_driver.as_deref()).map_err(err)?;
        let source = source_of(
            project,
            top.file.as_deref(),
            top.environment.as_deref(),
            None,
        )
        .map_err(err)?;
        out.push(resolve(Kind::Secret, r, source, host).map_err(err)?);
    }
    for r in &svc.configs {
        let err = |message: String| invalid(service, Kind::Config, &r.source, message);
        let top = project
            .configs
            .get(&r.source)
            .ok_or_else(|| err("is not defined in the top-level `configs`".into()))?;
        if top.external.external {
            return Err(err(
                "is external: external configs live in a Docker Swarm, which compose does not \
                 use; give it a `file`, `environment` or `content` source"
                    .into(),
            ));
        }
        refuse_template(top.template_driver.as_deref()).map_err(err)?;
        let source = source_of(
            project,
            top.file.as_deref(),
            top.environment.as_deref(),
            top.content.as_deref(),
        )
        .map_err(err)?;
        out.push(resolve(Kind::Config, r, source, host).map_err(err)?);
    }
    Ok(out)
}

fn invalid(service: &str, kind: Kind, name: &str, message: String) -> FilesError {
    FilesError::Invalid {
        service: service.to_string(),
        kind: kind.key(),
        name: name.to_string(),
        message,
    }
}

fn refuse_template(driver: Option<&str>) -> Result<(), String> {
    match driver {
        Some(d) => Err(format!(
            "template_driver {d:?} is not supported: the content is used as it is"
        )),
        None => Ok(()),
    }
}

fn source_of(
    project: &Project,
    file: Option<&str>,
    environment: Option<&str>,
    content: Option<&str>,
) -> Result<Source, String> {
    if let Some(f) = file {
        return Ok(Source::Host(PathBuf::from(f)));
    }
    if let Some(var) = environment {
        return project
            .source_values
            .0
            .get(var)
            .map(|v| Source::Bytes(v.clone().into_bytes()))
            .ok_or_else(|| format!("environment variable {var} is not set"));
    }
    if let Some(c) = content {
        return Ok(Source::Bytes(c.as_bytes().to_vec()));
    }
    Err("has no source: give it a `file` or an `environment` variable".into())
}

fn id_of(what: &str, v: Option<&str>) -> Result<u32, String> {
    match v {
        None => Ok(0),
        Some(s) => s
            .parse()
            .map_err(|_| format!("{what} {s:?} is not a numeric id")),
    }
}

/// The mount target: absolute as given, else under the kind's base; `..` is refused.
fn target_of(kind: Kind, r: &FileReferenceConfig) -> Result<String, String> {
    let t = r.target.as_deref().filter(|t| !t.is_empty());
    let path = match t {
        Some(t) if t.starts_with('/') => t.to_string(),
        Some(t) => format!("{}/{t}", kind.base()),
        None => format!("{}/{}", kind.base(), r.source),
    };
    let p = Path::new(&path);
    if p.components().any(|c| matches!(c, Component::ParentDir)) || p.file_name().is_none() {
        return Err(format!(
            "target {path:?} must name a file and may not contain '..'"
        ));
    }
    Ok(path)
}

fn resolve(
    kind: Kind,
    r: &FileReferenceConfig,
    source: Source,
    host: &HostFiles,
) -> Result<ServiceFile, String> {
    let mode = r.mode.map(|m| m.0).unwrap_or(DEFAULT_MODE);
    if mode > 0o777 {
        return Err(format!(
            "mode {mode:#o} is not a file permission (0 to 0777)"
        ));
    }
    let uid = id_of("uid", r.uid.as_deref())?;
    let gid = id_of("gid", r.gid.as_deref())?;
    let target = target_of(kind, r)?;
    let written = match &source {
        Source::Bytes(_) => true,
        Source::Host(path) => {
            let meta = match host.files.get(path) {
                Some(Ok(meta)) => meta,
                Some(Err(e)) => return Err(format!("file {}: {e}", path.display())),
                None => {
                    return Err(format!(
                        "file {}: not read from the host before planning",
                        path.display()
                    ))
                }
            };
            let asked = r.mode.is_some() || r.uid.is_some() || r.gid.is_some();
            let differs = meta.mode != mode || meta.uid != uid || meta.gid != gid;
            if asked && differs && meta.is_dir {
                return Err(format!(
                    "mode, uid and gid can be applied to a file only, and {} is a directory",
                    path.display()
                ));
            }
            asked && differs
        }
    };
    Ok(ServiceFile {
        kind,
        name: r.source.clone(),
        target,
        source,
        mode,
        uid,
        gid,
        written,
    })
}

/// Where file `index` of a container is written, under its directory `container_dir`.
fn written_path(container_dir: &Path, index: usize) -> PathBuf {
    written_files::path_of(container_dir, &index.to_string())
}

/// The read-only binds of `files` for the container whose directory is `container_dir`.
pub fn mounts(files: &[ServiceFile], container_dir: &Path) -> Vec<MountSpec> {
    files
        .iter()
        .enumerate()
        .map(|(i, f)| MountSpec {
            kind: MountKind::Bind {
                source: match (&f.source, f.written) {
                    (Source::Host(p), false) => p.clone(),
                    _ => written_path(container_dir, i),
                },
                propagation: None,
                recursive: true,
            },
            destination: f.target.clone(),
            read_only: true,
            create_source: false,
        })
        .collect()
}

/// The files that [`mounts`] binds from the container's directory and the engine writes there
/// ([`written_files::write`]) before the container starts, each named by its index.
pub fn writes(files: &[ServiceFile], service: &str) -> Vec<FileWrite> {
    files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.written)
        .map(|(i, f)| FileWrite {
            label: format!("service {service}: {} {}", f.kind.key(), f.name),
            name: i.to_string(),
            content: f.source.clone(),
            mode: f.mode,
            uid: f.uid,
            gid: f.gid,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::types::resources::Project;
    use std::os::unix::fs::MetadataExt;

    fn project(yaml: &str) -> Project {
        crate::model::types::fields::test_support::load(yaml).expect("project")
    }

    /// The service's files, with the host files it names read as the stack reads them.
    fn files(p: &Project) -> Result<Vec<ServiceFile>, String> {
        let host = crate::engine::runtime::host_files::gather(host_paths(p, "web"));
        service_files(p, "web", &host).map_err(|e| e.to_string())
    }

    #[test]
    fn targets_modes_and_sources_as_docker_compose() {
        let mut p = project(
            "services:\n  web:\n    image: x\n    secrets:\n      - token\n      - {source: token, target: sub/t, mode: 0o400, uid: '1000', gid: '1001'}\n      - {source: token, target: /etc/t}\n    configs:\n      - inline\n      - {source: inline, target: app.conf}\nsecrets:\n  token: {environment: TOKEN}\nconfigs:\n  inline: {content: hello}\n",
        );
        p.source_values.0.insert("TOKEN".into(), "s3cret".into());
        let got = files(&p).unwrap();
        let t: Vec<(&str, u32, u32, u32, bool)> = got
            .iter()
            .map(|f| (f.target.as_str(), f.mode, f.uid, f.gid, f.written))
            .collect();
        assert_eq!(
            t,
            vec![
                ("/run/secrets/token", 0o444, 0, 0, true),
                ("/run/secrets/sub/t", 0o400, 1000, 1001, true),
                ("/etc/t", 0o444, 0, 0, true),
                ("/inline", 0o444, 0, 0, true),
                ("/app.conf", 0o444, 0, 0, true),
            ]
        );
        assert_eq!(got[0].source, Source::Bytes(b"s3cret".to_vec()));
        assert_eq!(got[3].source, Source::Bytes(b"hello".to_vec()));
        // The bytes never show in debug output.
        assert!(!format!("{got:?}").contains("s3cret"));
    }

    #[test]
    fn a_host_file_is_bound_as_it_is_unless_its_mode_or_owner_must_change() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("s.txt");
        std::fs::write(&f, "x").unwrap();
        std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
        let meta = std::fs::metadata(&f).unwrap();
        let p = project(&format!(
            "services:\n  web:\n    image: x\n    secrets:\n      - s\n      - {{source: s, target: a, mode: 0o640, uid: '{}', gid: '{}'}}\n      - {{source: s, target: b, mode: 0o400}}\nsecrets:\n  s: {{file: {}}}\n",
            meta.uid(),
            meta.gid(),
            f.display()
        ));
        let got = files(&p).unwrap();
        assert_eq!(
            got.iter().map(|f| f.written).collect::<Vec<_>>(),
            [false, false, true]
        );
        let m = mounts(&got, Path::new("/root/containers/c"));
        let sources: Vec<PathBuf> = m
            .iter()
            .map(|m| match &m.kind {
                MountKind::Bind { source, .. } => source.clone(),
                other => panic!("not a bind: {other:?}"),
            })
            .collect();
        assert_eq!(
            sources,
            [
                f.clone(),
                f.clone(),
                PathBuf::from("/root/containers/c/files/2")
            ]
        );
        assert!(m.iter().all(|m| m.read_only));
    }

    #[test]
    fn what_cannot_be_honoured_is_an_error_naming_service_and_key() {
        let err = |yaml: &str| files(&project(yaml)).unwrap_err();
        let base = "services:\n  web:\n    image: x\n";
        assert_eq!(
            err(&format!(
                "{base}    secrets: [s]\nsecrets:\n  s: {{external: true}}\n"
            )),
            "service web: secret s: is external: external secrets live in a Docker Swarm, which \
             compose does not use; give it a `file` or `environment` source"
        );
        assert!(err(&format!(
            "{base}    configs: [c]\nconfigs:\n  c: {{external: true}}\n"
        ))
        .starts_with("service web: config c: is external"));
        assert!(err(&format!(
            "{base}    secrets: [s]\nsecrets:\n  s: {{file: /nonexistent/s.txt}}\n"
        ))
        .starts_with("service web: secret s: file /nonexistent/s.txt: "));
        assert_eq!(
            err(&format!(
                "{base}    secrets: [s]\nsecrets:\n  s: {{environment: NOPE}}\n"
            )),
            "service web: secret s: environment variable NOPE is not set"
        );
        assert!(err(&format!(
            "{base}    configs: [{{source: c, uid: root}}]\nconfigs:\n  c: {{content: x}}\n"
        ))
        .contains("uid \"root\" is not a numeric id"));
        assert!(err(&format!(
            "{base}    configs: [{{source: c, mode: 0o4755}}]\nconfigs:\n  c: {{content: x}}\n"
        ))
        .contains("is not a file permission"));
        assert!(err(&format!(
            "{base}    configs: [{{source: c, target: ../etc/x}}]\nconfigs:\n  c: {{content: x}}\n"
        ))
        .contains("may not contain '..'"));
        assert!(err(&format!(
            "{base}    configs: [c]\nconfigs:\n  c: {{content: x, template_driver: golang}}\n"
        ))
        .contains("template_driver \"golang\" is not supported"));
    }

    /// Whether a host file is bound or copied is decided from the facts the stack read: the
    /// path named here does not exist, and nothing reads it.
    #[test]
    fn the_host_facts_decide_and_an_unread_file_is_an_error() {
        use crate::engine::runtime::host_files::{HostFile, HostFiles};
        let p = project(
            "services:\n  web:\n    image: x\n    secrets:\n      - s\n      - {source: s, target: a, mode: 0o400}\n      - {source: s, target: b, uid: '7'}\n    configs: [c]\nsecrets:\n  s: {file: /facts/s}\nconfigs:\n  c: {content: hi}\n",
        );
        assert_eq!(host_paths(&p, "web"), [Path::new("/facts/s"); 3]);
        let mut host = HostFiles::default();
        let fact = HostFile {
            mode: 0o400,
            uid: 7,
            gid: 0,
            is_dir: false,
        };
        host.files.insert("/facts/s".into(), Ok(fact));
        let got = service_files(&p, "web", &host).unwrap();
        assert_eq!(
            got.iter().map(|f| f.written).collect::<Vec<_>>(),
            // Nothing asked; mode 0400 asked and uid 0 (not 7) implied; uid 7 asked and mode
            // 0444 (not 0400) implied; inline content.
            [false, true, true, true]
        );
        let e = service_files(&p, "web", &HostFiles::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "service web: secret s: file /facts/s: not read from the host before planning"
        );
        host.files.insert(
            "/facts/s".into(),
            Ok(HostFile {
                is_dir: true,
                ..fact
            }),
        );
        let e = service_files(&p, "web", &host).unwrap_err().to_string();
        assert!(e.contains("/facts/s is a directory"), "{e}");
    }

    /// The engine is handed only the files to write, named by their index (their bind source),
    /// with their bytes, mode, owner and a label for errors.
    #[test]
    fn writes_are_the_written_files_named_by_index() {
        let file = |written, source: Source| ServiceFile {
            kind: Kind::Config,
            name: "c".into(),
            target: "/c".into(),
            source,
            mode: 0o440,
            uid: 1,
            gid: 2,
            written,
        };
        let files = [
            file(false, Source::Host("/h".into())),
            file(true, Source::Bytes(b"v".to_vec())),
            file(true, Source::Host("/h".into())),
        ];
        let w = writes(&files, "web");
        assert_eq!(
            w.iter()
                .map(|w| (
                    w.label.as_str(),
                    w.name.as_str(),
                    &w.content,
                    w.mode,
                    w.uid,
                    w.gid
                ))
                .collect::<Vec<_>>(),
            [
                (
                    "service web: config c",
                    "1",
                    &Source::Bytes(b"v".to_vec()),
                    0o440,
                    1,
                    2
                ),
                (
                    "service web: config c",
                    "2",
                    &Source::Host("/h".into()),
                    0o440,
                    1,
                    2
                ),
            ]
        );
        let m = mounts(&files, Path::new("/c"));
        let sources: Vec<_> = m
            .iter()
            .map(|m| match &m.kind {
                MountKind::Bind { source, .. } => source.clone(),
                other => panic!("not a bind: {other:?}"),
            })
            .collect();
        assert_eq!(
            sources,
            [
                PathBuf::from("/h"),
                "/c/files/1".into(),
                "/c/files/2".into()
            ]
        );
    }
}
