//! The names of the objects made for a project. Every module that makes or refers to an object
//! gets its name here, so a reference (a volume's claim, an env ConfigMap, a wait target) always
//! matches the object made for it.
//!
//! Kubernetes names are DNS labels (RFC 1123: lowercase letters, digits and `-`, at most 63,
//! alphanumeric at both ends; a Service's must also start with a letter, RFC 1035). Compose
//! names also allow `_`, `.` and capitals: those are mapped (`my_db` -> `my-db`), and the
//! generator warns when a service's DNS name changes that way, since clients that call it by its
//! Compose name must then use the new one.

/// `name` as an RFC 1035 DNS label: lowercase, `_`/`.`/other characters as `-`, runs of `-`
/// collapsed, trimmed to start with a letter and end alphanumeric, at most 63 characters. A name
/// that keeps no letter or digit becomes `x`; one that starts with a digit gets an `x-` prefix.
pub fn dns_label(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_matches('-').to_string();
    if out.is_empty() {
        out.push('x');
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "x-");
    }
    out.truncate(63);
    out.trim_end_matches('-').to_string()
}

/// The workload, pod label and Service of a Compose service.
pub fn workload(service: &str) -> String {
    dns_label(service)
}

/// The Service that keeps a Compose service's DNS name (the same name as its workload).
pub fn service(service: &str) -> String {
    dns_label(service)
}

/// The extra Service for a network alias.
pub fn alias(alias: &str) -> String {
    dns_label(alias)
}

/// The ConfigMap holding the variables of a service's `env_file`s.
pub fn env_config_map(service: &str) -> String {
    with_suffix(&dns_label(service), "-env")
}

/// The PersistentVolumeClaim of a project's named volume (not external). In a StatefulSet it is
/// the claim template's name, so replica N's claim is `<claim>-<workload>-N`.
pub fn claim(volume: &str) -> String {
    dns_label(volume)
}

/// The claim an external volume refers to (it must already exist in the cluster): its `name:`
/// when it has a non-empty one, else its key; as is when Kubernetes can hold it (a DNS
/// subdomain), else as a DNS label.
pub fn external_claim(key: &str, name: Option<&str>) -> String {
    let wanted = external_name(key, name);
    if is_dns_subdomain(wanted) {
        wanted.to_string()
    } else {
        dns_label(wanted)
    }
}

/// The name an external volume asks for: its non-empty `name:`, else its key.
pub fn external_name<'a>(key: &'a str, name: Option<&'a str>) -> &'a str {
    name.filter(|n| !n.is_empty()).unwrap_or(key)
}

/// Whether `s` is an RFC 1123 subdomain: dot-separated DNS labels, at most 253 characters.
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|part| {
            !part.is_empty()
                && part.len() <= 63
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

/// The ConfigMap of a project's `configs` entry (not external).
pub fn config_map(config: &str) -> String {
    dns_label(config)
}

/// The Secret of a project's `secrets` entry (not external).
pub fn secret(secret: &str) -> String {
    dns_label(secret)
}

/// The ServiceAccount, Role and RoleBinding that init containers waiting for a Job run as
/// (one set per project).
pub fn waiter(project: &str) -> String {
    with_suffix(&dns_label(project), "-wait")
}

/// The pod volume for a named (or external) volume mounted in a service; a StatefulSet's claim
/// template has this name too.
pub fn pod_volume(volume: &str) -> String {
    dns_label(volume)
}

/// `base` + `suffix`, `base` cut so the whole stays a DNS label.
fn with_suffix(base: &str, suffix: &str) -> String {
    let keep = 63usize.saturating_sub(suffix.len()).min(base.len());
    format!("{}{suffix}", base[..keep].trim_end_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_names_become_dns_labels() {
        assert_eq!(dns_label("web"), "web");
        assert_eq!(dns_label("my_db"), "my-db");
        assert_eq!(dns_label("My.App__2"), "my-app-2");
        assert_eq!(dns_label("_x_"), "x");
        assert_eq!(dns_label("1web"), "x-1web");
        assert_eq!(dns_label("___"), "x");
        let long = "a".repeat(80);
        assert_eq!(dns_label(&long).len(), 63);
        assert_eq!(env_config_map(&long).len(), 63);
        assert!(env_config_map(&long).ends_with("-env"));
        assert_eq!(env_config_map("web"), "web-env");
        assert_eq!(waiter("My Project"), "my-project-wait");
        assert_eq!(external_claim("data", Some("shared.v1")), "shared.v1");
        assert_eq!(external_claim("my_vol", Some("")), "my-vol");
        assert_eq!(external_claim("my_vol", None), "my-vol");
    }
}
