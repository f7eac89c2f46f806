//! What the container runs and how it is reached: image and pull policy, command and arguments,
//! environment, ports.

use k8s_openapi::api::core::v1::{ConfigMapEnvSource, ContainerPort, EnvFromSource, EnvVar};

use crate::kube::context::Context;
use crate::kube::error::{KubeError, Result};
use crate::kube::ext::PullPolicy;
use crate::kube::names;
use crate::kube::warning::Warnings;
use crate::model::types::pull_policy::PullPolicy as ComposePull;
use crate::model::types::service::ServiceConfig;

/// The image and its pull policy. A cluster cannot build: a service that `build`s gets the
/// image name `compose build` tags, with a warning that it must be pushed where the cluster
/// pulls from.
pub fn image(ctx: &Context<'_>, name: &str, w: &mut Warnings) -> Result<(String, PullPolicy)> {
    let svc = ctx.service(name);
    let image = crate::stack::build::image_name(ctx.name, name, svc);
    if svc.build.is_some() {
        w.service(
            name,
            "build",
            format!("a cluster does not build images: build it with `compose build`, push {image:?} to a registry the cluster pulls from (or set `image` to that registry's name)"),
        );
    } else if svc.image.as_deref().unwrap_or("").is_empty() {
        w.service(
            name,
            "image",
            format!("the service names no image: the container uses {image:?}, which must exist in a registry the cluster pulls from"),
        );
    }
    if let Some(p) = ctx.ext(name).image_pull_policy {
        return Ok((image, p));
    }
    let compose =
        ComposePull::of_service(svc.pull_policy.as_deref()).map_err(|e| KubeError::Invalid {
            path: format!("services.{name}.pull_policy"),
            message: e.to_string(),
        })?;
    let policy = match compose {
        ComposePull::Always => PullPolicy::Always,
        ComposePull::Never => PullPolicy::Never,
        ComposePull::Missing | ComposePull::Build => PullPolicy::IfNotPresent,
        ComposePull::Every(_) => {
            w.service(
                name,
                "pull_policy",
                "Kubernetes has no periodic pull: the image is pulled when missing (IfNotPresent); use `always` or a new tag to refresh it",
            );
            PullPolicy::IfNotPresent
        }
    };
    Ok((image, policy))
}

/// Kubernetes' `command` and `args`: Compose's `entrypoint` is Kubernetes' `command`, Compose's
/// `command` its `args`. An empty list clears the image's value in Compose; Kubernetes treats an
/// empty list as unset, so that is warned about where it changes what runs.
pub fn command(
    svc: &ServiceConfig,
    name: &str,
    w: &mut Warnings,
) -> (Option<Vec<String>>, Option<Vec<String>>) {
    let entrypoint = svc.entrypoint.as_ref().map(|c| &c.0);
    let command = svc.command.as_ref().map(|c| &c.0);
    if entrypoint.is_some_and(|e| e.is_empty()) {
        w.service(
            name,
            "entrypoint",
            "Kubernetes cannot clear an image's entrypoint (an empty command means the image's): name the program to run instead",
        );
    }
    // With `command` set and `args` unset Kubernetes ignores the image's CMD, as Compose does
    // when it sets an entrypoint; without an entrypoint an empty `command` cannot clear it.
    if command.is_some_and(|c| c.is_empty()) && entrypoint.is_none_or(|e| e.is_empty()) {
        w.service(
            name,
            "command",
            "Kubernetes cannot clear an image's command (empty args mean the image's): set `entrypoint` to the program to run instead",
        );
    }
    let escaped = |v: Option<&Vec<String>>| {
        v.filter(|c| !c.is_empty())
            .map(|c| c.iter().map(|s| escape(s)).collect())
    };
    (escaped(entrypoint), escaped(command))
}

/// `environment` and the env files. Variables the env files give with the same value come from
/// the service's env ConfigMap (`envFrom`); the others are listed, in Compose's order, and win
/// over the ConfigMap as `environment` wins over `env_file`.
pub fn environment(
    ctx: &Context<'_>,
    name: &str,
    w: &mut Warnings,
) -> (Option<Vec<EnvVar>>, Option<Vec<EnvFromSource>>) {
    let from_files = ctx.contents.env_files.get(name);
    let mut env = Vec::new();
    for (var, value) in &ctx.service(name).environment {
        let in_files = from_files.and_then(|f| f.get(var));
        let Some(value) = value else {
            if in_files.is_none() {
                w.service(
                    name,
                    format!("environment.{var}"),
                    "has no value (it was not set when translating): left out; give it a value",
                );
            }
            continue;
        };
        if in_files == Some(value) {
            continue;
        }
        if !is_env_name(var) {
            w.service(
                name,
                format!("environment.{var}"),
                "Kubernetes 1.30 accepts only variable names of letters, digits, `_`, `-` and `.` not starting with a digit: left out",
            );
            continue;
        }
        env.push(EnvVar {
            name: var.clone(),
            value: Some(escape(value)),
            value_from: None,
        });
    }
    let env_from = from_files.filter(|f| !f.is_empty()).map(|_| {
        vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: names::env_config_map(name),
                optional: None,
            }),
            ..EnvFromSource::default()
        }]
    });
    ((!env.is_empty()).then_some(env), env_from)
}

/// The container ports, from `ports` and `expose`. A port name Kubernetes refuses (it must be an
/// IANA service name, unique in the pod) is left out with a warning: Services reach the port by
/// number, so nothing depends on it.
pub fn ports(ctx: &Context<'_>, name: &str, w: &mut Warnings) -> Option<Vec<ContainerPort>> {
    let mut used: Vec<String> = Vec::new();
    let out: Vec<ContainerPort> = ctx
        .ports(name)
        .into_iter()
        .map(|p| {
            let port_name = p.name.filter(|n| {
                let ok = is_port_name(n) && !used.contains(n);
                if ok {
                    used.push(n.clone());
                } else {
                    w.service(
                        name,
                        "ports",
                        format!("port name {n:?} is not a Kubernetes port name (at most 15 lowercase letters, digits and single `-`, with a letter, unique in the service): left out"),
                    );
                }
                ok
            });
            ContainerPort {
                container_port: i32::from(p.target),
                protocol: Some(p.protocol.to_string()),
                name: port_name,
                ..ContainerPort::default()
            }
        })
        .collect();
    (!out.is_empty()).then_some(out)
}

/// `value` with every `$` doubled: Kubernetes expands `$(VAR)` in `command`, `args` and `env`
/// values and reduces `$$` to `$`, while Compose has already interpolated them, so what is left
/// must reach the process as written.
pub fn escape(value: &str) -> String {
    value.replace('$', "$$")
}

/// Kubernetes 1.30's environment variable names: `[-._a-zA-Z][-._a-zA-Z0-9]*`.
fn is_env_name(name: &str) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    name.chars()
        .next()
        .is_some_and(|c| ok(c) && !c.is_ascii_digit())
        && name.chars().all(ok)
}

/// An IANA service name (RFC 6335) as Kubernetes checks port names: 1 to 15 lowercase letters,
/// digits and `-`, with at least one letter, no `-` at either end nor two in a row.
fn is_port_name(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.chars().any(|c| c.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}
