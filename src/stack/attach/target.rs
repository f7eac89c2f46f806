//! Which containers' logs are read and what one line of them is, named as Docker Compose
//! shows them.

use crate::engine::state::Observed;
use crate::stack::LogLine;

/// A container whose log is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: String,
    /// As Docker Compose shows it: `web-1` for `<project>-web-1`, else the full name.
    pub name: String,
    pub service: String,
    pub number: u32,
}

impl Target {
    pub fn of(o: &Observed) -> Target {
        Target {
            id: o.record.id.clone(),
            name: display_name(&o.record.project, &o.record.service, &o.record.name),
            service: o.record.service.clone(),
            number: o.record.number,
        }
    }
}

/// The name Docker Compose prefixes lines with: the container name without `<project>-` when
/// it is the generated `<project>-<service>-N`; a `container_name` stays whole.
pub fn display_name(project: &str, service: &str, name: &str) -> String {
    let generated = format!("{project}-{service}-");
    if name.starts_with(&generated) {
        name[project.len() + 1..].to_string()
    } else {
        name.to_string()
    }
}

/// Which containers of a project are read: not one-off ones (as Docker Compose's `logs`).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only these services; empty: all.
    pub services: Vec<String>,
    /// Only the container with this number (`--index`).
    pub index: Option<u32>,
}

impl Selection {
    pub(super) fn matches(&self, o: &Observed) -> bool {
        !o.record.one_off
            && (self.services.is_empty() || self.services.contains(&o.record.service))
            && self.index.is_none_or(|i| i == o.record.number)
    }
}

/// One line of a container's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The container's display name.
    pub container: String,
    pub service: String,
    /// Nanoseconds since the epoch (0 when the line's time does not parse).
    pub time: i64,
    pub line: LogLine,
}

impl Entry {
    pub fn is_stderr(&self) -> bool {
        self.line.stream == "stderr"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_drop_the_project_only_for_generated_names() {
        assert_eq!(display_name("p", "web", "p-web-1"), "web-1");
        assert_eq!(display_name("p", "web", "my-web"), "my-web");
    }
}
