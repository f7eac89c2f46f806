//! A service's Compose `build:` section, and the `build` command's flags, turned into the
//! builder's [`BuildRequest`]: paths absolute, args resolved, secrets read from where they live,
//! networks named as the engine names them. What this tool cannot build (a Git or HTTP context,
//! another platform, SSH agents, cache exports, entitlements) is refused here, naming service
//! and key, before anything is pulled or built: silently dropping such a key would build an
//! image other than the one its author asked for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{image_name, BuildFlags, BuildSetupError};
use crate::build::{BuildNetwork, BuildRequest, DockerfileSource, NamedContext, SecretSource};
use crate::engine::image::Reference;
use crate::engine::registry::platform::Platform;
use crate::model::types::build::BuildConfig;
use crate::model::types::build_context::ContextSource;
use crate::model::types::resources::Project;
use crate::planner::network::{network_choice, NetworkChoice};

/// Labels Docker Compose puts on every image it builds, so that the image says which project
/// and service it is for.
const PROJECT_LABEL: &str = "com.docker.compose.project";
const SERVICE_LABEL: &str = "com.docker.compose.service";
const VERSION_LABEL: &str = "com.docker.compose.version";

/// The request for `service`'s build. `built` holds the image ids of the services built before
/// it in this command, for its `service:NAME` additional contexts.
pub fn build_request(
    project: &Project,
    project_name: &str,
    service: &str,
    flags: &BuildFlags,
    built: &BTreeMap<String, String>,
) -> Result<BuildRequest, BuildSetupError> {
    let svc = project
        .services
        .get(service)
        .ok_or_else(|| BuildSetupError::NoSuchService(service.to_string()))?;
    let b = svc
        .build
        .as_ref()
        .ok_or_else(|| BuildSetupError::NoBuild(service.to_string()))?;
    let invalid = |key: &str, message: String| BuildSetupError::Invalid {
        service: service.to_string(),
        key: format!("build.{key}"),
        message,
    };
    refuse_unsupported(service, b, svc.platform.as_deref())?;

    let context = match b.context_source() {
        Some(ContextSource::Dir(dir)) => absolute(dir),
        Some(other) => return Err(refused(service, "context", remote(&other))),
        None => return Err(invalid("context", "no build context".into())),
    };
    let dockerfile = match (&b.dockerfile_inline, &b.dockerfile) {
        (Some(text), _) => DockerfileSource::Inline(text.clone()),
        (None, Some(file)) => DockerfileSource::Path(context.join(file)),
        (None, None) => DockerfileSource::Path(context.join("Dockerfile")),
    };

    let mut names = vec![image_name(project_name, service, svc)];
    names.extend(b.tags.iter().cloned());
    let tags = names
        .iter()
        .map(|t| Reference::parse(t).map_err(|e| invalid("tags", format!("{t}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;

    let mut labels: BTreeMap<String, String> = b.labels.clone().into_iter().collect();
    labels.insert(PROJECT_LABEL.into(), project_name.to_string());
    labels.insert(SERVICE_LABEL.into(), service.to_string());
    labels.insert(VERSION_LABEL.into(), env!("CARGO_PKG_VERSION").to_string());

    let extra_hosts = b
        .extra_hosts
        .iter()
        .flat_map(|(host, ips)| ips.iter().map(move |ip| (host.clone(), ip.clone())))
        .collect();
    let shm_size = b
        .shm_size
        .map(|s| u64::try_from(s.0).map_err(|_| invalid("shm_size", format!("{} < 0", s.0))))
        .transpose()?;
    let ulimits =
        crate::planner::container::rlimits(&b.ulimits).map_err(|m| invalid("ulimits", m))?;
    let source_date_epoch = match env_value(project, "SOURCE_DATE_EPOCH") {
        Some(v) => Some(
            v.trim()
                .parse::<i64>()
                .map_err(|_| BuildSetupError::Invalid {
                    service: service.to_string(),
                    key: "SOURCE_DATE_EPOCH".into(),
                    message: format!("{v:?} is not a number of seconds"),
                })?,
        ),
        None => None,
    };

    Ok(BuildRequest {
        name: service.to_string(),
        context,
        dockerfile,
        args: build_args(project, b, flags),
        target: b.target.clone().filter(|t| !t.is_empty()),
        labels,
        tags,
        no_cache: b.no_cache || flags.no_cache,
        pull: b.pull || flags.pull,
        network: build_network(project, project_name, service, b)?,
        extra_hosts,
        shm_size,
        secrets: secrets(project, service, b)?,
        additional_contexts: additional_contexts(project, project_name, service, b, built)?,
        privileged: b.privileged,
        ulimits,
        source_date_epoch,
        // The engine's, which the builder of the stack fills in.
        cgroup_parent: String::new(),
    })
}

/// A value of the project's environment (the process's, then `.env` and `--env-file`s), as
/// interpolation sees it.
fn env_value(project: &Project, key: &str) -> Option<String> {
    project
        .source_values
        .0
        .get(key)
        .cloned()
        .or_else(|| std::env::var(key).ok())
}

/// `build.args`, each value already resolved when the project was loaded, then `--build-arg`
/// (`K=V`, or `K` whose value comes from the environment, left out when it is unset there, as
/// with Docker Compose).
fn build_args(project: &Project, b: &BuildConfig, flags: &BuildFlags) -> BTreeMap<String, String> {
    let mut args: BTreeMap<String, String> = b
        .args
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
        .collect();
    for arg in &flags.build_args {
        match arg.split_once('=') {
            Some((k, v)) => {
                args.insert(k.to_string(), v.to_string());
            }
            None => {
                if let Some(v) = env_value(project, arg) {
                    args.insert(arg.clone(), v.to_string());
                }
            }
        }
    }
    args
}

/// `build.network`: `none`, `host`, a project network (by its engine name), or nothing.
fn build_network(
    project: &Project,
    project_name: &str,
    service: &str,
    b: &BuildConfig,
) -> Result<BuildNetwork, BuildSetupError> {
    match b.network.as_deref() {
        None | Some("") => Ok(BuildNetwork::Default),
        Some("none") => Ok(BuildNetwork::None),
        Some("host") => Ok(BuildNetwork::Host),
        Some(key) => match network_def(project, project_name, key) {
            Some(Ok(choice)) => Ok(BuildNetwork::Network(match choice {
                NetworkChoice::Managed(def) => def.name,
                NetworkChoice::External(name) => name,
            })),
            Some(Err(e)) => Err(BuildSetupError::Invalid {
                service: service.to_string(),
                key: "build.network".into(),
                message: e.to_string(),
            }),
            None => Err(BuildSetupError::Invalid {
                service: service.to_string(),
                key: "build.network".into(),
                message: format!("{key:?} is neither `none`, `host` nor a network of the project"),
            }),
        },
    }
}

/// The engine's definition of project network `key`, if the project has one by that key.
pub(super) fn network_def(
    project: &Project,
    project_name: &str,
    key: &str,
) -> Option<Result<NetworkChoice, crate::planner::network::NetPlanError>> {
    project
        .networks
        .get(key)
        .map(|cfg| network_choice(project_name, key, cfg))
}

/// `build.secrets`: each refers to a top-level secret with a `file` or an `environment`
/// source; its id in the Dockerfile is `target` when given, else the secret's name.
fn secrets(
    project: &Project,
    service: &str,
    b: &BuildConfig,
) -> Result<BTreeMap<String, SecretSource>, BuildSetupError> {
    let mut out = BTreeMap::new();
    for s in &b.secrets {
        let invalid = |message: String| BuildSetupError::Invalid {
            service: service.to_string(),
            key: format!("build.secrets.{}", s.source),
            message,
        };
        let top = project
            .secrets
            .get(&s.source)
            .ok_or_else(|| invalid("no such top-level secret".into()))?;
        let source = match (&top.file, &top.environment) {
            (Some(file), _) => SecretSource::File(absolute(Path::new(file))),
            (None, Some(var)) => SecretSource::Value(
                env_value(project, var)
                    .ok_or_else(|| invalid(format!("environment variable {var} is not set")))?
                    .as_bytes()
                    .to_vec(),
            ),
            (None, None) => {
                return Err(invalid(
                    "a build secret needs a `file` or an `environment` source".into(),
                ))
            }
        };
        let id = s.target.clone().unwrap_or_else(|| s.source.clone());
        out.insert(id, source);
    }
    Ok(out)
}

/// `build.additional_contexts`: directories, `docker-image://` references, and `service:NAME`
/// (the image that service built earlier in this command, or its `image:` when it builds none).
fn additional_contexts(
    project: &Project,
    project_name: &str,
    service: &str,
    b: &BuildConfig,
    built: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, NamedContext>, BuildSetupError> {
    let mut out = BTreeMap::new();
    for (name, source) in b.additional_context_sources() {
        let context = match source {
            ContextSource::Dir(dir) => NamedContext::Dir(absolute(dir)),
            ContextSource::Image(reference) => NamedContext::Image(reference.to_string()),
            ContextSource::Service(other) => match built.get(other) {
                Some(id) => NamedContext::Image(id.clone()),
                None => {
                    let svc = project
                        .services
                        .get(other)
                        .ok_or_else(|| BuildSetupError::NoSuchService(other.to_string()))?;
                    if svc.build.is_some() {
                        return Err(BuildSetupError::NotBuiltFirst {
                            service: service.to_string(),
                            context: name.to_string(),
                            other: other.to_string(),
                        });
                    }
                    NamedContext::Image(image_name(project_name, other, svc))
                }
            },
            ContextSource::OciLayout(_) => {
                return Err(refused(
                    service,
                    &format!("additional_contexts.{name}"),
                    "oci-layout:// contexts are not supported".into(),
                ))
            }
            remote @ (ContextSource::Git(_) | ContextSource::Http(_)) => {
                return Err(refused(
                    service,
                    &format!("additional_contexts.{name}"),
                    self::remote(&remote),
                ))
            }
        };
        out.insert(name.to_string(), context);
    }
    Ok(out)
}

fn remote(source: &ContextSource<'_>) -> String {
    match source {
        ContextSource::Git(url) => {
            format!(
                "Git repository {url} cannot be fetched offline: clone it and use the directory"
            )
        }
        ContextSource::Http(url) => {
            format!("{url} cannot be fetched offline: download it and use the directory")
        }
        _ => "only a directory can be a build context".into(),
    }
}

fn refused(service: &str, key: &str, message: String) -> BuildSetupError {
    BuildSetupError::Refused {
        service: service.to_string(),
        key: format!("build.{key}"),
        message,
    }
}

/// The keys this builder does not honour, each refused by name.
fn refuse_unsupported(
    service: &str,
    b: &BuildConfig,
    platform: Option<&str>,
) -> Result<(), BuildSetupError> {
    let host = Platform::host();
    let other_platform = |p: &str| Platform::parse(p).map_or(true, |p| p != host);
    if let Some(p) = b.platforms.iter().find(|p| other_platform(p)) {
        return Err(refused(
            service,
            "platforms",
            format!("cannot build for {p}: only this machine's platform {host} can be built"),
        ));
    }
    if let Some(p) = platform.filter(|p| !p.is_empty() && other_platform(p)) {
        return Err(BuildSetupError::Refused {
            service: service.to_string(),
            key: "platform".into(),
            message: format!(
                "cannot build for {p}: only this machine's platform {host} can be built"
            ),
        });
    }
    let listed: [(&str, bool, &str); 5] = [
        (
            "ssh",
            !b.ssh.is_empty(),
            "SSH agent forwarding is not supported",
        ),
        (
            "entitlements",
            !b.entitlements.is_empty(),
            "entitlements are not supported",
        ),
        (
            "cache_from",
            !b.cache_from.is_empty(),
            "external cache sources are not supported (the local layer cache is always used)",
        ),
        (
            "cache_to",
            !b.cache_to.is_empty(),
            "cache exports are not supported (the local layer cache is always used)",
        ),
        (
            "no_cache_filter",
            !b.no_cache_filter.is_empty(),
            "per-stage cache filters are not supported: use `no_cache`",
        ),
    ];
    if let Some((key, _, why)) = listed.iter().find(|(_, set, _)| *set) {
        return Err(refused(service, key, why.to_string()));
    }
    if let Some(i) = b
        .isolation
        .as_deref()
        .filter(|i| !matches!(*i, "" | "default"))
    {
        return Err(refused(
            service,
            "isolation",
            format!("isolation {i:?} is not supported (only `default`)"),
        ));
    }
    for (key, value) in [("provenance", &b.provenance), ("sbom", &b.sbom)] {
        if let Some(v) = value.as_deref().filter(|v| !matches!(*v, "" | "false")) {
            return Err(refused(
                service,
                key,
                format!("attestations are not supported ({key}: {v}); set it to false"),
            ));
        }
    }
    Ok(())
}

/// A path made absolute against the working directory (the loader already resolves contexts
/// against the project directory; this covers a model built some other way).
fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}
