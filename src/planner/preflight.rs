//! What `up` checks of each service before it changes anything, so that a service that cannot
//! be created stops the whole `up` before any container exists (Docker Compose's creation of
//! one service would fail after others were created): its secrets and configs (sources,
//! modes, owners), its `volumes_from` entries, and bind sources that must exist
//! (`bind.create_host_path: false`).

use std::path::{Path, PathBuf};

use crate::engine::runtime::host_files::HostFiles;
use crate::model::types::mounts::VolumeType;
use crate::model::types::resources::Project;

/// The host paths [`check`] needs read: the secrets' and configs' files and the bind sources.
pub fn host_paths(project: &Project, service: &str) -> Vec<PathBuf> {
    let binds = project
        .services
        .get(service)
        .map(|svc| super::container::bind_sources(svc, None))
        .unwrap_or_default();
    super::secrets::host_paths(project, service)
        .into_iter()
        .map(Path::to_path_buf)
        .chain(binds)
        .collect()
}

/// Checks `service` of `project`, whose host files at [`host_paths`] are in `host`; the error
/// names the service and the key.
pub fn check(project: &Project, service: &str, host: &HostFiles) -> Result<(), String> {
    let Some(svc) = project.services.get(service) else {
        return Ok(());
    };
    super::secrets::service_files(project, service, host).map_err(|e| e.to_string())?;
    for entry in &svc.volumes_from {
        super::volumes_from::parse(entry).map_err(|m| format!("service {service}: {m}"))?;
    }
    for v in svc.volumes.iter().filter(|v| v.kind == VolumeType::Bind) {
        let create = v.bind.as_ref().and_then(|b| b.create_host_path) == Some(true);
        let Some(source) = v.source.as_deref().filter(|s| s.starts_with('/')) else {
            continue;
        };
        if !create && !host.exists(Path::new(source)) {
            return Err(format!(
                "service {service}: bind mount source path {source} does not exist (mount at {}): \
                 create it, or set bind.create_host_path: true",
                v.target
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(yaml: &str) -> Project {
        crate::model::types::fields::test_support::load(yaml).expect("project")
    }

    fn check(p: &Project, service: &str) -> Result<(), String> {
        let host = crate::engine::runtime::host_files::gather(
            host_paths(p, service).iter().map(PathBuf::as_path),
        );
        super::check(p, service, &host)
    }

    #[test]
    fn a_missing_bind_source_is_refused_unless_it_may_be_created() {
        let p = project(
            "services:\n  a:\n    image: x\n    volumes:\n      - {type: bind, source: /nonexistent/x, target: /x, bind: {create_host_path: false}}\n  b:\n    image: x\n    volumes: ['/nonexistent/y:/y']\n  c:\n    image: x\n    volumes_from: ['db:rx']\n",
        );
        assert_eq!(
            check(&p, "a").unwrap_err(),
            "service a: bind mount source path /nonexistent/x does not exist (mount at /x): \
             create it, or set bind.create_host_path: true"
        );
        check(&p, "b").unwrap();
        assert!(check(&p, "c").unwrap_err().contains("invalid mode \"rx\""));
    }
}
