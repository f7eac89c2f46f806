//! The labels every object carries, the selector a workload and its Services share, and which
//! Compose labels Kubernetes can hold as labels (the others become annotations).

use std::collections::BTreeMap;

pub const NAME: &str = "app.kubernetes.io/name";
pub const PART_OF: &str = "app.kubernetes.io/part-of";
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Our `managed-by` value.
pub const MANAGER: &str = "compose";

/// The labels of every object made for `service` of `project` (`service` `None` for objects
/// of the whole project: volumes' claims, configs, secrets, the waiter's account).
pub fn standard(project: &str, service: Option<&str>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if let Some(s) = service {
        m.insert(NAME.to_string(), label_value(&super::names::workload(s)));
    }
    m.insert(PART_OF.to_string(), label_value(project));
    m.insert(MANAGED_BY.to_string(), MANAGER.to_string());
    m
}

/// What a service's workload selects its pods by, and its Services route to.
pub fn selector(project: &str, service: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert(
        NAME.to_string(),
        label_value(&super::names::workload(service)),
    );
    m.insert(PART_OF.to_string(), label_value(project));
    m
}

/// `value` as a label value: at most 63 characters of `[A-Za-z0-9_.-]`, alphanumeric at both
/// ends (others mapped to `-`, then trimmed).
pub fn label_value(value: &str) -> String {
    let mapped: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut v: &str = &mapped;
    v = v.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let mut v = v.to_string();
    v.truncate(63);
    v.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// Whether `key: value` is a valid Kubernetes label: an optional DNS-subdomain prefix and `/`,
/// a name of at most 63 `[A-Za-z0-9_.-]` alphanumeric at both ends, and a value of the same
/// form (or empty). Compose labels that fail this go to annotations instead.
pub fn is_valid_label(key: &str, value: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if prefix.is_some_and(|p| !super::names::is_dns_subdomain(p)) {
        return false;
    }
    is_label_name(name) && (value.is_empty() || is_label_name(value))
}

fn is_label_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_validity_follows_kubernetes() {
        assert!(is_valid_label("tier", "front"));
        assert!(is_valid_label("example.com/tier", "front_end.1"));
        assert!(is_valid_label("tier", ""));
        assert!(!is_valid_label(
            "com.example.description",
            "Accounting web app"
        ));
        assert!(!is_valid_label("Example.com/tier", "x"));
        assert!(!is_valid_label("/tier", "x"));
        assert!(!is_valid_label("tier", "-x"));
        assert!(!is_valid_label(&"a".repeat(64), "x"));
    }

    #[test]
    fn values_are_mapped_into_label_form() {
        assert_eq!(label_value("my project"), "my-project");
        assert_eq!(label_value("-x-"), "x");
        assert_eq!(label_value(&"b".repeat(70)).len(), 63);
    }
}
