//! Compose model -> Kubernetes objects (`compose kube generate`).
//!
//! Like the planner, this is pure: it reads the loaded [`Project`](crate::model::types::resources::Project)
//! and the file contents the stack layer read for it ([`Contents`]), and returns typed objects
//! (k8s-openapi's, so field names and shapes are the API's own) and the [`Warning`]s for what
//! cannot be carried over. Output is deterministic: objects sorted by kind and name, maps sorted.
//!
//! One module a part of the translation: [`context`] (decisions shared by the parts: workload
//! kinds, ports), [`pod`] (a service's pod template: containers, probes, security, volumes,
//! init containers for `depends_on`), [`workload`] (Deployment / StatefulSet / Job /
//! DaemonSet around it), [`service`] (Services for ports and aliases; network warnings),
//! [`storage`] (claims for named volumes), [`data`] (ConfigMaps and Secrets), [`rbac`] (the
//! account init containers wait for Jobs as), [`output`] (manifests, Helm chart, kustomize).

pub mod context;
pub mod data;
pub mod error;
pub mod ext;
pub mod labels;
pub mod meta;
pub mod names;
pub mod object;
pub mod output;
pub mod pod;
pub mod rbac;
pub mod service;
pub mod storage;
#[cfg(test)]
mod test_support;
pub mod warning;
pub mod workload;
pub mod yaml;

pub use context::{Contents, Context, Input, WorkloadKind};
pub use error::{KubeError, Result};
pub use object::Object;
pub use warning::{Warning, Warnings};

/// How to translate.
#[derive(Debug, Clone, Copy, Default)]
pub struct GenerateOptions {
    /// Refuse to translate when anything cannot be carried over ([`KubeError::Strict`]).
    pub strict: bool,
}

/// The result of a translation.
#[derive(Debug, Clone)]
pub struct Generated {
    pub project: String,
    /// In output order (see [`Object`]).
    pub objects: Vec<Object>,
    /// Sorted, deduplicated.
    pub warnings: Vec<Warning>,
}

/// Translates the project. Fails on `x-kubernetes` sections it cannot read, values Kubernetes
/// cannot hold, two objects of one kind with one name, and (with `strict`) any warning.
pub fn generate(input: Input<'_>, opts: GenerateOptions) -> Result<Generated> {
    let ctx = Context::new(input)?;
    let mut warnings = Warnings::default();
    let mut objects: Vec<(Object, String)> = Vec::new();
    let mut add = |made: Vec<Object>, origin: &str| {
        objects.extend(made.into_iter().map(|o| (o, origin.to_string())));
    };
    for name in ctx.project.services.keys() {
        let dns = names::service(name);
        if dns != *name && ctx.has_service(name) {
            warnings.service(
                name,
                "name",
                format!("not a DNS label: its pods and Service are named {dns:?}, and other services reach it as {dns:?}"),
            );
        }
        let origin = format!("service {name:?}");
        let pod = pod::template(&ctx, name, &mut warnings)?;
        add(
            vec![workload::wrap(&ctx, name, pod, &mut warnings)?],
            &origin,
        );
        add(service::objects(&ctx, name, &mut warnings)?, &origin);
    }
    service::network_warnings(&ctx, &mut warnings);
    add(storage::claims(&ctx, &mut warnings)?, "volumes");
    add(
        data::objects(&ctx, &mut warnings)?,
        "configs, secrets and env files",
    );
    add(rbac::objects(&ctx), "init containers waiting for Jobs");
    object::sort_and_check(&mut objects)?;
    let warnings = warnings.finish();
    if opts.strict && !warnings.is_empty() {
        return Err(KubeError::Strict(warnings));
    }
    Ok(Generated {
        project: ctx.name.to_string(),
        objects: objects.into_iter().map(|(o, _)| o).collect(),
        warnings,
    })
}
