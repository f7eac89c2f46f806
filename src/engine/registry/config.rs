//! Registry configuration: mirrors, insecure registries, CA certificates.
//!
//! Read from a YAML file under the user's config dir, then a system one, so that users behind
//! rate limits or offline can point `docker.io` at a pull-through mirror on their network (what
//! Docker's `registry-mirrors` and Podman's `registries.conf` mirrors do), and can name the
//! registries that may be spoken to over plain HTTP (Docker's `insecure-registries`).
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

/// Replaces the user's file (tests point it at a temporary file).
pub const CONFIG_ENV: &str = "COMPOSE_REGISTRIES_CONFIG";
/// The system-wide file, read after the user's.
pub const SYSTEM_CONFIG: &str = "/etc/compose/registries.yaml";
/// Docker's directory of per-registry CA certificates, used when no file names another.
pub const DEFAULT_CERTS_D: &str = "/etc/docker/certs.d";

/// A configuration or CA file larger than this is refused rather than read whole.
const MAX_FILE_BYTES: u64 = 1 << 20;

#[derive(Debug, Error)]
pub enum RegistryConfigError {
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: key {key:?}: {detail}")]
    Key {
        path: PathBuf,
        key: String,
        detail: String,
    },
    #[error("{path}: {detail}")]
    File { path: PathBuf, detail: String },
}

/// One `registries.yaml`, as written; validated by [`RegistryConfig::load_from`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    insecure_registries: Vec<String>,
    #[serde(default)]
    mirrors: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    certs_d: Option<PathBuf>,
}

/// An entry of `insecure_registries`: a host (with its port when it has one) or, as in
/// Docker's daemon.json, a CIDR range of IP addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Insecure {
    Host(String),
    Cidr(IpAddr, u8),
}

#[derive(Debug, Clone, Default)]
pub struct RegistryConfig {
    insecure: Vec<Insecure>,
    /// Registry (canonical domain) -> mirror hosts, user's first then the system's.
    mirrors: Vec<(String, Vec<String>)>,
    /// `None`: [`DEFAULT_CERTS_D`]. The user's file wins over the system one.
    certs_d: Option<PathBuf>,
}

impl RegistryConfig {
    /// Loads the user's file, then the system one.
    pub fn load() -> Result<RegistryConfig, RegistryConfigError> {
        let mut paths = Vec::new();
        if let Some(user) = user_config_path() {
            paths.push(user);
        }
        paths.push(PathBuf::from(SYSTEM_CONFIG));
        Self::load_from(&paths)
    }

    /// Loads `paths` in order (earlier entries come first, an earlier `certs_d` wins); a path
    /// that does not exist is skipped, as is an empty file.
    pub fn load_from(paths: &[PathBuf]) -> Result<RegistryConfig, RegistryConfigError> {
        let mut config = RegistryConfig::default();
        for path in paths {
            let Some(text) = read_bounded(path)? else {
                continue;
            };
            if text.trim().is_empty() {
                continue;
            }
            let de = serde_yaml_ng::Deserializer::from_str(&text);
            let file: Option<ConfigFile> = serde_path_to_error::deserialize(de).map_err(|e| {
                let key = e.path().to_string();
                let detail = e.inner().to_string();
                // serde_yaml_ng puts the path in front of its message: we name the key.
                let detail = detail
                    .strip_prefix(&format!("{key}: "))
                    .map(str::to_string)
                    .unwrap_or(detail);
                if key == "." {
                    RegistryConfigError::File {
                        path: path.clone(),
                        detail: if detail.contains("expected struct") {
                            "expected a mapping with keys insecure_registries, mirrors, certs_d"
                                .into()
                        } else {
                            detail
                        },
                    }
                } else {
                    RegistryConfigError::Key {
                        path: path.clone(),
                        key,
                        detail,
                    }
                }
            })?;
            config.merge(path, file.unwrap_or_default())?;
        }
        Ok(config)
    }

    fn merge(&mut self, path: &Path, file: ConfigFile) -> Result<(), RegistryConfigError> {
        let key_err = |key: String, detail: String| RegistryConfigError::Key {
            path: path.to_path_buf(),
            key,
            detail,
        };
        for (i, entry) in file.insecure_registries.iter().enumerate() {
            let parsed = parse_insecure(entry)
                .map_err(|d| key_err(format!("insecure_registries[{i}]"), d))?;
            if !self.insecure.contains(&parsed) {
                self.insecure.push(parsed);
            }
        }
        for (registry, list) in file.mirrors {
            let canonical = canonical_registry(&registry);
            if canonical.is_empty() || canonical.contains(['/', ' ']) {
                return Err(key_err(
                    format!("mirrors.{registry}"),
                    "expected a registry domain such as docker.io or ghcr.io".into(),
                ));
            }
            let mut hosts = Vec::new();
            for (i, mirror) in list.iter().enumerate() {
                let (host, http) = parse_mirror(mirror)
                    .map_err(|d| key_err(format!("mirrors.{registry}[{i}]"), d))?;
                if http && !self.insecure.contains(&Insecure::Host(host.clone())) {
                    self.insecure.push(Insecure::Host(host.clone()));
                }
                hosts.push(host);
            }
            match self.mirrors.iter_mut().find(|(r, _)| *r == canonical) {
                Some((_, existing)) => {
                    for h in hosts {
                        if !existing.contains(&h) {
                            existing.push(h);
                        }
                    }
                }
                None => self.mirrors.push((canonical, hosts)),
            }
        }
        if let Some(dir) = file.certs_d {
            if !dir.is_absolute() {
                return Err(key_err(
                    "certs_d".into(),
                    format!(
                        "expected an absolute directory, got {:?}",
                        dir.display().to_string()
                    ),
                ));
            }
            self.certs_d.get_or_insert(dir);
        }
        Ok(())
    }

    /// Hosts (`host[:port]`) to try, in order, before `registry` itself (a reference's domain:
    /// `docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    pub fn mirrors(&self, registry: &str) -> Vec<String> {
        let canonical = canonical_registry(registry);
        self.mirrors
            .iter()
            .find(|(r, _)| *r == canonical)
            .map(|(_, hosts)| hosts.clone())
            .unwrap_or_default()
    }

    /// Whether plain HTTP may be used for `host` (`host[:port]`): loopback, or listed insecure.
    pub fn allows_http(&self, host: &str) -> bool {
        let name = host_without_port(host);
        let ip = name.parse::<IpAddr>().ok();
        if name.eq_ignore_ascii_case("localhost") || ip.is_some_and(|ip| ip.is_loopback()) {
            return true;
        }
        self.insecure.iter().any(|entry| match entry {
            Insecure::Host(h) => h.eq_ignore_ascii_case(host),
            Insecure::Cidr(net, bits) => ip.is_some_and(|ip| in_cidr(ip, *net, *bits)),
        })
    }

    /// The directory holding `HOST[:PORT]/*.crt` (Docker's certs.d convention).
    pub fn certs_d(&self) -> &Path {
        self.certs_d
            .as_deref()
            .unwrap_or(Path::new(DEFAULT_CERTS_D))
    }

    /// PEM certificates of CAs to trust for `host` (`host[:port]`): every `*.crt` file in
    /// `<certs_d>/<host>/` (`ca.crt` included), sorted by name; none when the directory does
    /// not exist.
    pub fn ca_certs(&self, host: &str) -> Result<Vec<Vec<u8>>, RegistryConfigError> {
        if host.is_empty() || host.contains('/') || host.starts_with('.') {
            return Err(RegistryConfigError::Invalid(format!(
                "invalid registry host {host:?}: expected host[:port]"
            )));
        }
        let dir = self.certs_d().join(host);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(RegistryConfigError::Read { path: dir, source }),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| RegistryConfigError::Read {
                path: dir.clone(),
                source,
            })?;
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "crt") {
                files.push(path);
            }
        }
        files.sort();
        let mut certs = Vec::new();
        for path in files {
            let Some(text) = read_bounded(&path)? else {
                continue;
            };
            if !text.contains("-----BEGIN CERTIFICATE-----") {
                return Err(RegistryConfigError::File {
                    path,
                    detail: "expected a PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
                });
            }
            certs.push(text.into_bytes());
        }
        Ok(certs)
    }
}

/// `$COMPOSE_REGISTRIES_CONFIG`, else `$XDG_CONFIG_HOME/compose/registries.yaml`, else
/// `~/.config/compose/registries.yaml`.
fn user_config_path() -> Option<PathBuf> {
    let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(p) = non_empty(CONFIG_ENV) {
        return Some(PathBuf::from(p));
    }
    let base = non_empty("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("compose").join("registries.yaml"))
}

/// Reads a small text file; `None` when it does not exist.
fn read_bounded(path: &Path) -> Result<Option<String>, RegistryConfigError> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(RegistryConfigError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|source| RegistryConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(RegistryConfigError::File {
            path: path.to_path_buf(),
            detail: format!("larger than {MAX_FILE_BYTES} bytes"),
        });
    }
    Ok(Some(text))
}

/// Docker Hub's aliases all name `docker.io`; other domains are compared without case.
pub(crate) fn canonical_registry(registry: &str) -> String {
    let r = registry.trim().to_ascii_lowercase();
    match r.as_str() {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".into(),
        _ => r,
    }
}

/// `host` without its `:port`, brackets of an IPv6 literal removed.
fn host_without_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split_once(']').map(|(h, _)| h).unwrap_or(rest);
    }
    if host.parse::<IpAddr>().is_ok() {
        return host;
    }
    host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
}

/// Checks `host[:port]`: a non-empty name of DNS characters (or a bracketed IPv6 literal) and
/// a numeric port.
fn validate_host(host: &str) -> Result<(), String> {
    let expected = || format!("expected host[:port], got {host:?}");
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (ip, after) = rest.split_once(']').ok_or_else(expected)?;
        ip.parse::<std::net::Ipv6Addr>().map_err(|_| expected())?;
        match after {
            "" => return Ok(()),
            p => ("ok", p.strip_prefix(':').ok_or_else(expected)?),
        }
    } else {
        match host.rsplit_once(':') {
            Some((n, p)) => (n, p),
            None => (host, "1"),
        }
    };
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_');
    if !name_ok || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(expected());
    }
    Ok(())
}

fn parse_insecure(entry: &str) -> Result<Insecure, String> {
    let entry = entry.trim();
    if let Some((net, bits)) = entry.split_once('/') {
        let net: IpAddr = net
            .parse()
            .map_err(|_| format!("expected host[:port] or a CIDR range, got {entry:?}"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits: u8 = bits
            .parse()
            .ok()
            .filter(|b| *b <= max)
            .ok_or_else(|| format!("invalid prefix length in {entry:?} (0 to {max})"))?;
        return Ok(Insecure::Cidr(net, bits));
    }
    if entry.contains("://") {
        return Err(format!(
            "expected host[:port] without a scheme, got {entry:?}"
        ));
    }
    validate_host(entry)?;
    Ok(Insecure::Host(entry.to_ascii_lowercase()))
}

/// A mirror as `host[:port]`, `https://host[:port]` or `http://host[:port]` (a trailing `/`
/// allowed, no other path: the distribution API lives at the root). Returns the host and
/// whether it was given as plain HTTP.
fn parse_mirror(entry: &str) -> Result<(String, bool), String> {
    let entry = entry.trim();
    let (rest, http) = if let Some(r) = entry.strip_prefix("http://") {
        (r, true)
    } else if let Some(r) = entry.strip_prefix("https://") {
        (r, false)
    } else if entry.contains("://") {
        return Err(format!(
            "expected an http:// or https:// mirror, got {entry:?}"
        ));
    } else {
        (entry, false)
    };
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.contains('/') {
        return Err(format!(
            "a mirror is a host[:port] served at its root, without a path; got {entry:?}"
        ));
    }
    validate_host(host)?;
    Ok((host.to_ascii_lowercase(), http))
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn user_entries_come_before_system_ones_and_user_certs_d_wins() {
        let dir = tempfile::tempdir().unwrap();
        let user = write(
            dir.path(),
            "user.yaml",
            "mirrors:\n  docker.io: [\"mirror.lan:5000\", \"https://m2.example.com/\"]\ncerts_d: /u/certs\n",
        );
        let system = write(
            dir.path(),
            "system.yaml",
            "mirrors:\n  index.docker.io: [\"sys.example.com\", \"mirror.lan:5000\"]\n  ghcr.io: [\"g.lan\"]\ncerts_d: /s/certs\n",
        );
        let c = RegistryConfig::load_from(&[user, system, dir.path().join("absent.yaml")]).unwrap();
        assert_eq!(
            c.mirrors("docker.io"),
            ["mirror.lan:5000", "m2.example.com", "sys.example.com"]
        );
        // Docker Hub's aliases share the same mirrors.
        assert_eq!(c.mirrors("registry-1.docker.io"), c.mirrors("docker.io"));
        assert_eq!(c.mirrors("ghcr.io"), ["g.lan"]);
        assert!(c.mirrors("quay.io").is_empty());
        assert_eq!(c.certs_d(), Path::new("/u/certs"));
        // Listed mirrors given without http:// are not made insecure.
        assert!(!c.allows_http("mirror.lan:5000"));
    }

    #[test]
    fn http_mirror_and_listed_hosts_allow_http_loopback_always_does() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(
            dir.path(),
            "r.yaml",
            "insecure_registries: [\"reg.lan:5000\", \"10.1.0.0/16\"]\nmirrors:\n  docker.io: [\"http://cache.lan:8080\"]\n",
        );
        let c = RegistryConfig::load_from(&[f]).unwrap();
        assert_eq!(c.mirrors("docker.io"), ["cache.lan:8080"]);
        assert!(c.allows_http("cache.lan:8080"));
        assert!(c.allows_http("reg.lan:5000"));
        assert!(!c.allows_http("reg.lan:5001"));
        assert!(!c.allows_http("reg.lan"));
        assert!(c.allows_http("10.1.200.3:5000"));
        assert!(!c.allows_http("10.2.0.1:5000"));
        for lo in [
            "127.0.0.1:5000",
            "127.8.9.1",
            "localhost:80",
            "[::1]:5000",
            "::1",
        ] {
            assert!(c.allows_http(lo), "{lo}");
        }
        assert!(!c.allows_http("example.com:5000"));
        assert!(!RegistryConfig::default().allows_http("docker.io"));
        assert_eq!(
            RegistryConfig::default().certs_d(),
            Path::new(DEFAULT_CERTS_D)
        );
    }

    #[test]
    fn bad_files_name_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("insecure-registries: [a]\n", "unknown field"),
            (
                "insecure_registries: [\"http://a:5000\"]\n",
                "insecure_registries[0]",
            ),
            ("insecure_registries: [\"a:x\"]\n", "insecure_registries[0]"),
            (
                "insecure_registries: [\"10.0.0.0/40\"]\n",
                "insecure_registries[0]",
            ),
            (
                "mirrors:\n  docker.io: [\"https://m.lan/v2/\"]\n",
                "mirrors.docker.io[0]",
            ),
            (
                "mirrors:\n  docker.io: [\"ftp://m.lan\"]\n",
                "mirrors.docker.io[0]",
            ),
            ("mirrors:\n  docker.io: \"m.lan\"\n", "mirrors.docker.io"),
            ("mirrors:\n  \"a/b\": [\"m.lan\"]\n", "mirrors.a/b"),
            ("certs_d: relative/dir\n", "certs_d"),
            ("- a\n- b\n", "expected a mapping with keys"),
        ];
        for (i, (text, want)) in cases.iter().enumerate() {
            let f = write(dir.path(), &format!("{i}.yaml"), text);
            let err = RegistryConfig::load_from(std::slice::from_ref(&f))
                .unwrap_err()
                .to_string();
            assert!(err.contains(&f.display().to_string()), "{text:?}: {err}");
            assert!(err.contains(want), "{text:?}: {err}");
        }
        // The key is named once, by us.
        let f = write(dir.path(), "m.yaml", "mirrors: 3\n");
        let err = RegistryConfig::load_from(std::slice::from_ref(&f))
            .unwrap_err()
            .to_string();
        assert_eq!(err.matches("mirrors").count(), 1, "{err}");
        // Empty and comment-only files are an empty configuration.
        let f = write(dir.path(), "empty.yaml", "# nothing\n");
        assert!(RegistryConfig::load_from(&[f])
            .unwrap()
            .mirrors("docker.io")
            .is_empty());
    }

    #[test]
    fn ca_certs_reads_every_crt_of_the_host_dir_following_docker_certs_d() {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs.d");
        let host = certs.join("127.0.0.1:5443");
        std::fs::create_dir_all(&host).unwrap();
        let pem =
            |n: &str| format!("-----BEGIN CERTIFICATE-----\n{n}\n-----END CERTIFICATE-----\n");
        std::fs::write(host.join("ca.crt"), pem("A")).unwrap();
        std::fs::write(host.join("extra.crt"), pem("B")).unwrap();
        std::fs::write(host.join("client.cert"), "not a CA").unwrap();
        std::fs::write(host.join("client.key"), "secret").unwrap();
        let f = write(
            dir.path(),
            "r.yaml",
            &format!("certs_d: {}\n", certs.display()),
        );
        let c = RegistryConfig::load_from(&[f]).unwrap();
        let got = c.ca_certs("127.0.0.1:5443").unwrap();
        assert_eq!(got, [pem("A").into_bytes(), pem("B").into_bytes()]);
        assert!(c.ca_certs("other:5000").unwrap().is_empty());
        assert!(c.ca_certs("../etc").is_err());
        std::fs::write(host.join("bad.crt"), "garbage").unwrap();
        let err = c.ca_certs("127.0.0.1:5443").unwrap_err().to_string();
        assert!(err.contains("bad.crt"), "{err}");
    }
}
