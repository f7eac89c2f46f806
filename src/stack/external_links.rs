//! `external_links`: containers started outside the project, found by name (and by an alias
//! when one is given) through the embedded DNS, as Docker resolves links on user-defined
//! networks. A link can only work when the other container exists and shares one of the
//! service's networks; otherwise the service is refused before anything is created, never
//! started with a name that cannot resolve.

use std::path::Path;

use crate::engine::state;
use crate::model::types::resources::Project;
use crate::model::types::service::ServiceConfig;
use crate::planner::network::{self as netplan, NetworkChoice, ServiceNetMode};

use super::{invalid, StackError};

/// `NAME[:ALIAS]` as (container name, alias).
pub fn parse(link: &str) -> (&str, Option<&str>) {
    match link.split_once(':') {
        Some((name, alias)) => (name, Some(alias)),
        None => (link, None),
    }
}

/// Each of the service's `external_links` names an existing container on one of its networks.
pub fn check(
    root: &Path,
    project_name: &str,
    project: &Project,
    service: &str,
    svc: &ServiceConfig,
) -> Result<(), StackError> {
    if svc.external_links.is_empty() {
        return Ok(());
    }
    let fail = |link: &str, why: String| {
        invalid(format!("service {service}: external_links {link}: {why}"))
    };
    let ServiceNetMode::Networks(keys) = netplan::net_mode(service, svc)? else {
        return Err(fail(
            &svc.external_links[0],
            "links need the service on a network (not with network_mode)".into(),
        ));
    };
    let mut ours = Vec::new();
    for k in &keys {
        if let Some(cfg) = project.networks.get(k) {
            ours.push(match netplan::network_choice(project_name, k, cfg)? {
                NetworkChoice::Managed(d) => d.name,
                NetworkChoice::External(n) => n,
            });
        }
    }
    let all = state::list(root, None)?;
    for link in &svc.external_links {
        let (name, _) = parse(link);
        let Some(other) = all.iter().find(|o| o.record.name == name) else {
            return Err(fail(link, format!("no such container {name}")));
        };
        if !other
            .record
            .endpoints
            .iter()
            .any(|e| ours.contains(&e.network))
        {
            return Err(fail(
                link,
                format!(
                    "container {name} is on none of this service's networks ({}), so it could \
                     not be reached",
                    ours.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_split_into_name_and_alias() {
        assert_eq!(
            parse("other-db-1:database"),
            ("other-db-1", Some("database"))
        );
        assert_eq!(parse("other-db-1"), ("other-db-1", None));
    }
}
