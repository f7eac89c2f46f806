//! `kube generate`'s body: loads the project as `up` would see it (profiles, the named services
//! and what they depend on), reads the files the translation needs (env files kept apart from
//! `environment`, secret and config contents), and translates.

pub mod write;

use std::path::{Path, PathBuf};

use crate::kube::{self, Contents, GenerateOptions, Generated, Input, KubeError};
use crate::model::load::{load, LoadOptions};
use crate::model::normalize;
use crate::model::profiles;
use crate::model::types::resources::Project;
use crate::model::LoadError;

#[derive(Debug, thiserror::Error)]
pub enum KubeGenerateError {
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The cause is in the text, not a `source` (main prints the chain: it would show twice).
    #[error("{key}: cannot read {}: {error}", path.display())]
    Read {
        key: String,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{key}: the variable {var} it is made of is not set")]
    Unset { key: String, var: String },
    #[error(transparent)]
    Kube(#[from] KubeError),
}

/// Loads with `opts` (its `services` select what is translated, with their dependencies) and
/// translates.
pub fn generate(
    opts: &LoadOptions,
    generate: GenerateOptions,
) -> Result<(Generated, Vec<String>), KubeGenerateError> {
    let mut opts = opts.clone();
    // Env files are read here, apart from `environment`, so they can become a ConfigMap.
    opts.resolve_env_files = false;
    let loaded = load(&opts)?;
    let mut project = loaded.project;
    if !opts.services.is_empty() {
        let keep = profiles::with_dependencies(&project, &opts.services);
        project.services.retain(|name, _| keep.contains(name));
    }
    let env = &loaded.model.environment;
    let mut contents = Contents::default();
    for (name, svc) in &project.services {
        let vars = normalize::read_env_files(name, svc, env)?;
        if !vars.is_empty() {
            contents.env_files.insert(name.clone(), vars);
        }
    }
    normalize::resolve_environment(&mut project, env, None)?;
    read_sources(&project, &loaded.model.project_dir, &mut contents)?;
    let name = loaded.model.name.clone();
    let input = Input {
        name: &name,
        project: &project,
        contents: &contents,
    };
    let generated = kube::generate(input, generate)?;
    Ok((generated, loaded.model.warnings))
}

/// The contents of the secrets and configs the selected services use (not external).
fn read_sources(
    project: &Project,
    project_dir: &Path,
    contents: &mut Contents,
) -> Result<(), KubeGenerateError> {
    let used = |f: &dyn Fn(&crate::model::types::service::ServiceConfig) -> Vec<String>| {
        project.services.values().flat_map(f).collect::<Vec<_>>()
    };
    let used_secrets = used(&|s| s.secrets.iter().map(|r| r.source.clone()).collect());
    let used_configs = used(&|s| s.configs.iter().map(|r| r.source.clone()).collect());
    for (key, s) in &project.secrets {
        if s.external.external || !used_secrets.contains(key) {
            continue;
        }
        let what = format!("secrets.{key}");
        let data = source(
            project,
            project_dir,
            &what,
            s.file.as_deref(),
            s.environment.as_deref(),
            None,
        )?;
        contents.secrets.insert(key.clone(), data);
    }
    for (key, c) in &project.configs {
        if c.external.external || !used_configs.contains(key) {
            continue;
        }
        let what = format!("configs.{key}");
        let data = source(
            project,
            project_dir,
            &what,
            c.file.as_deref(),
            c.environment.as_deref(),
            c.content.as_deref(),
        )?;
        contents.configs.insert(key.clone(), data);
    }
    Ok(())
}

/// One secret's or config's bytes: its file, variable or inline content.
fn source(
    project: &Project,
    project_dir: &Path,
    key: &str,
    file: Option<&str>,
    var: Option<&str>,
    content: Option<&str>,
) -> Result<Vec<u8>, KubeGenerateError> {
    if let Some(c) = content {
        return Ok(c.as_bytes().to_vec());
    }
    if let Some(v) = var {
        return match project.source_values.0.get(v) {
            Some(value) => Ok(value.as_bytes().to_vec()),
            None => Err(KubeGenerateError::Unset {
                key: format!("{key}.environment"),
                var: v.to_string(),
            }),
        };
    }
    let Some(f) = file else {
        return Ok(Vec::new());
    };
    let path = project_dir.join(f);
    std::fs::read(&path).map_err(|error| KubeGenerateError::Read {
        key: format!("{key}.file"),
        path,
        error,
    })
}
