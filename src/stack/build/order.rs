//! Which services a build command builds, and in what order: a service whose
//! `additional_contexts` name `service:OTHER` needs OTHER's image, so OTHER is built first
//! (even when it was not selected), each service once; a cycle of such contexts is an error.

use super::BuildSetupError;
use crate::model::types::build_context::ContextSource;
use crate::model::types::resources::Project;

/// The services among `selected` that have a `build:` section, with the services their
/// `service:` contexts need, each after what it needs, each once. Services without a build are
/// left out (Docker Compose builds nothing for them and says nothing).
pub fn build_order(project: &Project, selected: &[String]) -> Result<Vec<String>, BuildSetupError> {
    let mut done = Vec::new();
    let mut path = Vec::new();
    for s in selected {
        visit(project, s, &mut path, &mut done)?;
    }
    Ok(done)
}

/// Depth first: `path` is the chain being visited, to name a cycle by its services.
fn visit(
    project: &Project,
    service: &str,
    path: &mut Vec<String>,
    done: &mut Vec<String>,
) -> Result<(), BuildSetupError> {
    if done.iter().any(|d| d == service) {
        return Ok(());
    }
    if let Some(at) = path.iter().position(|p| p == service) {
        let mut cycle = path[at..].to_vec();
        cycle.push(service.to_string());
        return Err(BuildSetupError::Cycle(cycle));
    }
    let svc = project
        .services
        .get(service)
        .ok_or_else(|| BuildSetupError::NoSuchService(service.to_string()))?;
    let Some(build) = &svc.build else {
        return Ok(());
    };
    path.push(service.to_string());
    for (_, source) in build.additional_context_sources() {
        if let ContextSource::Service(other) = source {
            visit(project, other, path, done)?;
        }
    }
    path.pop();
    done.push(service.to_string());
    Ok(())
}
