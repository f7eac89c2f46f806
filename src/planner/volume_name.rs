//! The name a named volume has on the host: its `name:` when the top-level entry gives one,
//! else `<project>_<key>`, as Docker Compose names it. `up` (creating volumes), `down -v`
//! (removing them) and a container's mounts must agree, so the rule lives here once.

use crate::model::types::resources::VolumeConfig;

/// The host name of the volume `key` of `project`, declared as `declared` (if at all).
pub fn volume_name(project: &str, key: &str, declared: Option<&VolumeConfig>) -> String {
    declared
        .and_then(|v| v.name.clone())
        .unwrap_or_else(|| format!("{project}_{key}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_name_wins_else_project_and_key_as_docker_compose_names_it() {
        assert_eq!(volume_name("p", "data", None), "p_data");
        assert_eq!(
            volume_name("p", "data", Some(&VolumeConfig::default())),
            "p_data"
        );
        let named = VolumeConfig {
            name: Some("shared-data".into()),
            ..VolumeConfig::default()
        };
        assert_eq!(volume_name("p", "data", Some(&named)), "shared-data");
    }
}
