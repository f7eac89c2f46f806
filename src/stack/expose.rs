//! Ports a container exposes without publishing them (`expose`, the image's `EXPOSE`), as
//! `ps` shows them: Docker lists each one as `80/tcp` in PORTS (a publisher without a host
//! address or port in `--format json`), after the published ones.

use super::Publisher;

/// The container ports `entries` name (`80`, `80/udp`, `3000-3002/tcp`), as (port, protocol);
/// an entry that is not a port or range is skipped (the model has validated the file's).
pub fn ports(entries: &[String]) -> Vec<(u16, String)> {
    let mut out = Vec::new();
    for e in entries {
        let (range, proto) = e.split_once('/').unwrap_or((e.as_str(), "tcp"));
        let (lo, hi) = range.split_once('-').unwrap_or((range, range));
        let (Ok(lo), Ok(hi)) = (lo.trim().parse::<u16>(), hi.trim().parse::<u16>()) else {
            continue;
        };
        for p in lo..=hi {
            let item = (p, proto.to_ascii_lowercase());
            if !out.contains(&item) {
                out.push(item);
            }
        }
    }
    out
}

/// The publishers `ps` adds for the exposed ports that `published` does not already cover.
pub fn publishers(entries: &[String], published: &[Publisher]) -> Vec<Publisher> {
    ports(entries)
        .into_iter()
        .filter(|(p, proto)| {
            !published
                .iter()
                .any(|x| x.target_port == *p && x.protocol == *proto)
        })
        .map(|(p, proto)| Publisher {
            url: String::new(),
            target_port: p,
            published_port: 0,
            protocol: proto,
        })
        .collect()
}

/// One publisher as PORTS shows it: `0.0.0.0:8080->80/tcp`, or `80/tcp` when not published.
pub fn display(p: &Publisher) -> String {
    if p.published_port == 0 {
        format!("{}/{}", p.target_port, p.protocol)
    } else if p.url.contains(':') {
        // An IPv6 address, bracketed as Docker writes it: `[::]:8080->80/tcp`.
        format!(
            "[{}]:{}->{}/{}",
            p.url, p.published_port, p.target_port, p.protocol
        )
    } else {
        format!(
            "{}:{}->{}/{}",
            p.url, p.published_port, p.target_port, p.protocol
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_ipv6_address_is_bracketed_as_docker_writes_it() {
        let p = |url: &str| Publisher {
            url: url.into(),
            target_port: 80,
            published_port: 8080,
            protocol: "tcp".into(),
        };
        assert_eq!(display(&p("0.0.0.0")), "0.0.0.0:8080->80/tcp");
        assert_eq!(display(&p("::")), "[::]:8080->80/tcp");
    }

    #[test]
    fn entries_expand_to_ports_with_their_protocol() {
        assert_eq!(
            ports(&strs(&["80", "53/UDP", "3000-3001", "80/tcp", "junk"])),
            vec![
                (80, "tcp".to_string()),
                (53, "udp".to_string()),
                (3000, "tcp".to_string()),
                (3001, "tcp".to_string()),
            ]
        );
    }

    #[test]
    fn published_ports_are_not_listed_twice_and_show_like_docker() {
        let published = vec![Publisher {
            url: "0.0.0.0".into(),
            target_port: 80,
            published_port: 8080,
            protocol: "tcp".into(),
        }];
        let extra = publishers(&strs(&["80", "9000"]), &published);
        assert_eq!(extra.len(), 1);
        assert_eq!(display(&extra[0]), "9000/tcp");
        assert_eq!(display(&published[0]), "0.0.0.0:8080->80/tcp");
    }
}
