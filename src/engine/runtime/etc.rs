//! The /etc files the engine writes for a container and binds over the image's: `hostname`,
//! `hosts` (localhost, the container's own name, `extra_hosts`) and `resolv.conf` (`dns`,
//! `dns_search`, `dns_opt`, else the host's settings without loopback resolvers, which do not
//! exist inside the container's network namespace). Pure functions: the runtime writes the text.

use crate::engine::spec::ContainerSpec;

/// Docker's fallback when the host has no usable resolver.
const FALLBACK_NAMESERVERS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

/// `/etc/hosts`: localhost, the IPv6 names Docker writes, `extra_hosts`, then the container's
/// own hostname on `self_addr` (127.0.1.1 while the container has loopback only).
pub fn hosts(spec: &ContainerSpec, self_addr: &str) -> String {
    let mut out = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for (host, ip) in &spec.extra_hosts {
        out.push_str(&format!("{ip}\t{host}\n"));
    }
    let names = match &spec.domainname {
        Some(d) if !d.is_empty() => format!("{}.{d} {}", spec.hostname, spec.hostname),
        _ => spec.hostname.clone(),
    };
    out.push_str(&format!("{self_addr}\t{names}\n"));
    out
}

/// `/etc/resolv.conf` from the service's settings over the host's (`host` is the host's file).
pub fn resolv_conf(spec: &ContainerSpec, host: &str) -> String {
    let mut host_ns = Vec::new();
    let mut host_search: Vec<String> = Vec::new();
    let mut host_opts: Vec<String> = Vec::new();
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                if let Some(ns) = words.next() {
                    let loopback = ns.starts_with("127.") || ns == "::1";
                    if !loopback {
                        host_ns.push(ns.to_string());
                    }
                }
            }
            Some("search") | Some("domain") => host_search = words.map(String::from).collect(),
            Some("options") => host_opts.extend(words.map(String::from)),
            _ => {}
        }
    }
    let nameservers: Vec<String> = if !spec.dns.is_empty() {
        spec.dns.clone()
    } else if !host_ns.is_empty() {
        host_ns
    } else {
        FALLBACK_NAMESERVERS.iter().map(|s| s.to_string()).collect()
    };
    let search = if spec.dns_search.is_empty() {
        host_search
    } else {
        spec.dns_search.clone()
    };
    let options = if spec.dns_options.is_empty() {
        host_opts
    } else {
        spec.dns_options.clone()
    };
    let mut out = String::new();
    for ns in nameservers {
        out.push_str(&format!("nameserver {ns}\n"));
    }
    // `dns_search: .` means "no search domains", as with Docker.
    let search: Vec<String> = search.into_iter().filter(|s| s != ".").collect();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// `resolv.conf` for a container whose names the embedded resolver answers at `resolver`: the
/// service's (or host's) search domains and options, plus Docker's `options ndots:0` when no
/// `ndots` is given, so a short name is first asked as it is (a service name answers at once
/// instead of after every search domain was tried upstream).
pub fn resolv_conf_with_resolver(spec: &ContainerSpec, host: &str, resolver: &str) -> String {
    let mut s = spec.clone();
    s.dns = vec![resolver.to_string()];
    with_ndots_zero(resolv_conf(&s, host))
}

fn with_ndots_zero(text: String) -> String {
    let options = |l: &str| l.split_whitespace().next() == Some("options");
    if text
        .lines()
        .filter(|l| options(l))
        .any(|l| l.split_whitespace().any(|w| w.starts_with("ndots:")))
    {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut added = false;
    for l in text.lines() {
        out.push_str(l);
        if options(l) && !added {
            out.push_str(" ndots:0");
            added = true;
        }
        out.push('\n');
    }
    if !added {
        out.push_str("options ndots:0\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ContainerSpec {
        ContainerSpec {
            hostname: "web".into(),
            ..Default::default()
        }
    }

    #[test]
    fn hosts_lists_localhost_extra_hosts_and_the_container() {
        let mut s = spec();
        s.domainname = Some("example.org".into());
        s.extra_hosts = vec![
            ("somehost".into(), "162.242.195.82".into()),
            ("v6".into(), "::1".into()),
        ];
        let h = hosts(&s, "127.0.1.1");
        assert!(h.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"));
        assert!(h.contains("162.242.195.82\tsomehost\n::1\tv6\n"), "{h}");
        assert!(h.ends_with("127.0.1.1\tweb.example.org web\n"), "{h}");
    }

    #[test]
    fn the_embedded_resolver_gets_dockers_ndots_0_unless_one_is_given() {
        let host = "nameserver 10.0.0.2\nsearch corp.example\noptions edns0\n";
        assert_eq!(
            resolv_conf_with_resolver(&spec(), host, "127.0.0.11"),
            "nameserver 127.0.0.11\nsearch corp.example\noptions edns0 ndots:0\n"
        );
        assert_eq!(
            resolv_conf_with_resolver(&spec(), "nameserver 10.0.0.2\n", "127.0.0.11"),
            "nameserver 127.0.0.11\noptions ndots:0\n"
        );
        let mut s = spec();
        s.dns_options = vec!["ndots:3".into()];
        assert_eq!(
            resolv_conf_with_resolver(&s, host, "127.0.0.11"),
            "nameserver 127.0.0.11\nsearch corp.example\noptions ndots:3\n"
        );
    }

    #[test]
    fn resolv_conf_prefers_the_service_then_the_host_without_loopback() {
        let host = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\nsearch corp.example lan\noptions edns0 trust-ad\n";
        assert_eq!(
            resolv_conf(&spec(), host),
            "nameserver 10.0.0.2\nsearch corp.example lan\noptions edns0 trust-ad\n"
        );
        let mut s = spec();
        s.dns = vec!["1.1.1.1".into(), "9.9.9.9".into()];
        s.dns_search = vec!["svc.local".into()];
        s.dns_options = vec!["ndots:2".into()];
        assert_eq!(
            resolv_conf(&s, host),
            "nameserver 1.1.1.1\nnameserver 9.9.9.9\nsearch svc.local\noptions ndots:2\n"
        );
        // Only loopback resolvers on the host (systemd-resolved): Docker's fallback.
        assert_eq!(
            resolv_conf(&spec(), "nameserver 127.0.0.53\n"),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        let mut s = spec();
        s.dns_search = vec![".".into()];
        assert_eq!(
            resolv_conf(&s, host),
            "nameserver 10.0.0.2\noptions edns0 trust-ad\n"
        );
    }
}
