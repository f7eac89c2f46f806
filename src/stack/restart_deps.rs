//! Which services `restart` restarts: those named, and — as Docker Compose does — every service
//! that depends on one of them with `depends_on.<svc>.restart: true` (links and `service:`
//! namespaces imply it), transitively, in dependency order so a dependency is back before the
//! services that need it.

use crate::model::types::resources::Project;

use super::{start_order, StackError};

/// The services to restart, dependencies first; every service when `named` is empty.
pub fn restart_set(project: &Project, named: &[String]) -> Result<Vec<String>, StackError> {
    let order = start_order(project, &[])?;
    if named.is_empty() {
        return Ok(order);
    }
    let mut out: Vec<String> = Vec::new();
    for s in order {
        let follows = project.services.get(&s).is_some_and(|svc| {
            svc.depends_on
                .iter()
                .any(|(d, dep)| dep.restart && out.contains(d))
        });
        if named.contains(&s) || follows {
            out.push(s);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(text: &str) -> Project {
        let tree = crate::model::yaml::parse_file_text(text, Some(std::path::Path::new("c.yaml")))
            .expect("valid YAML");
        crate::model::de::from_node(&tree).expect("valid project")
    }

    #[test]
    fn dependents_with_restart_follow_transitively_and_others_do_not() {
        let p = project(
            "services:
  api:
    image: x
    depends_on: {db: {condition: service_started, restart: true}}
  worker:
    image: x
    depends_on: {api: {condition: service_started, restart: true}}
  report:
    image: x
    depends_on: [db]
  db:
    image: x
",
        );
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            restart_set(&p, &s(&["db"])).unwrap(),
            s(&["db", "api", "worker"])
        );
        assert_eq!(
            restart_set(&p, &s(&["api"])).unwrap(),
            s(&["api", "worker"])
        );
        assert_eq!(restart_set(&p, &s(&["report"])).unwrap(), s(&["report"]));
        assert_eq!(restart_set(&p, &[]).unwrap().len(), 4);
    }
}
