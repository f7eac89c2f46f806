//! ConfigMaps and Secrets: services' env files, the project's configs and secrets. Each config
//! or secret object holds one key, the Compose key itself, which the pod mounts by that key.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;

use super::context::Context;
use super::error::{KubeError, Result};
use super::labels;
use super::meta::object_meta;
use super::names;
use super::object::Object;
use super::warning::Warnings;

/// The ConfigMaps and Secrets of the project.
pub fn objects(ctx: &Context<'_>, warnings: &mut Warnings) -> Result<Vec<Object>> {
    let mut out = Vec::new();
    for (service, vars) in &ctx.contents.env_files {
        if !ctx.project.services.contains_key(service) {
            continue;
        }
        let mut data = BTreeMap::new();
        for (k, v) in vars {
            if is_data_key(k) {
                data.insert(k.clone(), v.clone());
            } else {
                warnings.service(
                    service,
                    "env_file",
                    format!("variable {k:?} cannot be a ConfigMap key (letters, digits, `-`, `_`, `.`): it is left out; set it in `environment` instead"),
                );
            }
        }
        out.push(Object::ConfigMap(ConfigMap {
            metadata: ObjectMeta {
                name: Some(names::env_config_map(service)),
                labels: Some(labels::standard(ctx.name, Some(service))),
                ..ObjectMeta::default()
            },
            data: Some(data),
            ..ConfigMap::default()
        }));
    }
    for (key, bytes) in &ctx.contents.configs {
        let Some(config) = ctx.project.configs.get(key) else {
            continue;
        };
        check_key("configs", key)?;
        if let Some(d) = &config.template_driver {
            warnings.top(
                format!("configs.{key}.template_driver"),
                template_message(d),
            );
        }
        let mut cm = ConfigMap {
            metadata: object_meta(
                names::config_map(key),
                labels::standard(ctx.name, None),
                &config.labels,
            ),
            ..ConfigMap::default()
        };
        match String::from_utf8(bytes.clone()) {
            Ok(text) => cm.data = Some(BTreeMap::from([(key.clone(), text)])),
            Err(e) => {
                cm.binary_data = Some(BTreeMap::from([(key.clone(), ByteString(e.into_bytes()))]))
            }
        }
        out.push(Object::ConfigMap(cm));
    }
    for (key, bytes) in &ctx.contents.secrets {
        let Some(secret) = ctx.project.secrets.get(key) else {
            continue;
        };
        check_key("secrets", key)?;
        if let Some(d) = &secret.template_driver {
            warnings.top(
                format!("secrets.{key}.template_driver"),
                template_message(d),
            );
        }
        if let Some(d) = &secret.driver {
            warnings.top(
                format!("secrets.{key}.driver"),
                format!("secret driver {d:?} cannot be carried over: the Secret holds the content read from the file or variable"),
            );
        }
        for opt in secret.driver_opts.keys() {
            warnings.top(
                format!("secrets.{key}.driver_opts.{opt}"),
                "secret driver options cannot be carried over",
            );
        }
        out.push(Object::Secret(Secret {
            metadata: object_meta(
                names::secret(key),
                labels::standard(ctx.name, None),
                &secret.labels,
            ),
            type_: Some("Opaque".to_string()),
            data: Some(BTreeMap::from([(key.clone(), ByteString(bytes.clone()))])),
            ..Secret::default()
        }));
    }
    Ok(out)
}

fn template_message(driver: &str) -> String {
    format!("template driver {driver:?} cannot be carried over: the content is written as read, untemplated")
}

/// A config's or secret's key is its data key: refuse one Kubernetes cannot hold.
fn check_key(section: &str, key: &str) -> Result<()> {
    if is_data_key(key) {
        return Ok(());
    }
    Err(KubeError::Invalid {
        path: format!("{section}.{key}"),
        message: "cannot be a ConfigMap or Secret key (at most 253 letters, digits, `-`, `_`, `.`): rename it".to_string(),
    })
}

/// A ConfigMap or Secret data key: `[-._a-zA-Z0-9]+`, at most 253 characters.
fn is_data_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 253
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests;
