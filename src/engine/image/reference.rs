//! Image references (`busybox`, `user/app:1`, `localhost:5000/x`, `ghcr.io/a/b@sha256:…`),
//! parsed and normalized with Docker's rules (distribution/reference), so that the names users
//! type, the names stored in the tags index and the names printed back all agree with Docker's.

use std::fmt;

use thiserror::Error;

/// Registry assumed when a name has no domain part.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// Repository prefix Docker adds to single-component names on the default registry.
const OFFICIAL_REPO_PREFIX: &str = "library/";
/// Tag assumed when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
/// Longest repository name (domain included) Docker accepts.
const NAME_TOTAL_LENGTH_MAX: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReferenceError {
    #[error("invalid reference format: repository name must have at least one component")]
    Empty,
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    #[error("invalid reference format: {0:?} is not a valid reference")]
    InvalidFormat(String),
    #[error("invalid reference format: repository name must not be more than 255 characters")]
    NameTooLong,
    #[error("invalid reference format: invalid tag {0:?} (at most 128 of [A-Za-z0-9_.-], not starting with . or -)")]
    InvalidTag(String),
    #[error("invalid reference format: invalid digest {0:?} (expected sha256:<64 lowercase hex>)")]
    InvalidDigest(String),
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
}

/// A normalized reference: always has a domain and a full path (`docker.io/library/busybox`);
/// a tag, a digest, or both.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Parses a reference as the user types it and normalizes it like Docker: the default
    /// domain and `library/` are added, and `latest` when neither tag nor digest is given.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        let mut r = Self::parse_raw(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        Ok(r)
    }

    /// Like [`Reference::parse`] but never adds `latest`: `busybox` stays tag-less. Used for
    /// matching a repository name.
    pub fn parse_raw(s: &str) -> Result<Reference, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if s.len() == 64 && is_lower_hex(s) {
            return Err(ReferenceError::HexName(s.to_string()));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, digest)) => {
                validate_digest(digest)?;
                (rest, Some(digest.to_string()))
            }
            None => (s, None),
        };
        // A tag is after the last ':' that is after the last '/' (a ':' before it is a port).
        let last_slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(colon) if last_slash.is_none_or(|sl| colon > sl) => {
                (&rest[..colon], Some(rest[colon + 1..].to_string()))
            }
            _ => (rest, None),
        };
        if let Some(tag) = &tag {
            if !valid_tag(tag) {
                return Err(ReferenceError::InvalidTag(tag.clone()));
            }
        }
        if name.is_empty() {
            return Err(ReferenceError::InvalidFormat(s.to_string()));
        }
        let (domain, path) = split_domain(name);
        if path.is_empty() {
            return Err(ReferenceError::InvalidFormat(s.to_string()));
        }
        if !valid_domain(&domain) {
            return Err(ReferenceError::InvalidFormat(s.to_string()));
        }
        for component in path.split('/') {
            if !valid_path_component(component) {
                if component.chars().any(|c| c.is_ascii_uppercase())
                    && valid_path_component(&component.to_ascii_lowercase())
                {
                    return Err(ReferenceError::Uppercase(path.clone()));
                }
                return Err(ReferenceError::InvalidFormat(s.to_string()));
            }
        }
        if domain.len() + 1 + path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong);
        }
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Repository path without the domain (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// `sha256:<hex>`.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        if !valid_tag(tag) {
            return Err(ReferenceError::InvalidTag(tag.to_string()));
        }
        Ok(Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        })
    }

    /// The same repository with a digest and no tag (a `RepoDigests` entry).
    pub fn with_digest(&self, digest: &str) -> Result<Reference, ReferenceError> {
        validate_digest(digest)?;
        Ok(Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: Some(digest.to_string()),
        })
    }

    /// Full repository name: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// Repository name as Docker displays it: `busybox`, `user/app`, `ghcr.io/a/b`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The whole reference as Docker displays it: `busybox:latest`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        self.push_suffix(&mut s);
        s
    }

    fn push_suffix(&self, s: &mut String) {
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(digest);
        }
    }
}

/// The canonical form: `docker.io/library/busybox:latest`.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        self.push_suffix(&mut s);
        f.write_str(&s)
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// Docker's rule: the first component is a registry when it has a `.` or a `:`, is
/// `localhost`, or has an uppercase letter; otherwise the name is on Docker Hub.
fn split_domain(name: &str) -> (String, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        DEFAULT_DOMAIN.to_string()
    } else {
        domain
    };
    let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
        format!("{OFFICIAL_REPO_PREFIX}{path}")
    } else {
        path
    };
    (domain, path)
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `sha256:` followed by 64 lowercase hex digits (the only algorithm the store uses).
pub fn validate_digest(digest: &str) -> Result<(), ReferenceError> {
    match digest.strip_prefix("sha256:") {
        Some(hex) if hex.len() == 64 && is_lower_hex(hex) => Ok(()),
        _ => Err(ReferenceError::InvalidDigest(digest.to_string())),
    }
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(tag: &str) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let alnum = |ch: u8| ch.is_ascii_lowercase() || ch.is_ascii_digit();
    let b = c.as_bytes();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-".
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// Host name components separated by dots, an optional `:port`; or a bracketed IPv6 address.
fn valid_domain(domain: &str) -> bool {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        match rest.split_once(']') {
            Some((addr, after)) => {
                if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
                    return false;
                }
                match after {
                    "" => return true,
                    p => match p.strip_prefix(':') {
                        Some(port) => {
                            return !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
                        }
                        None => return false,
                    },
                }
            }
            None => return false,
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn normalizes_like_docker() {
        let cases: &[(&str, &str, &str)] = &[
            // input, canonical, familiar
            (
                "busybox",
                "docker.io/library/busybox:latest",
                "busybox:latest",
            ),
            (
                "busybox:1.36",
                "docker.io/library/busybox:1.36",
                "busybox:1.36",
            ),
            (
                "library/busybox",
                "docker.io/library/busybox:latest",
                "busybox:latest",
            ),
            (
                "docker.io/busybox",
                "docker.io/library/busybox:latest",
                "busybox:latest",
            ),
            (
                "index.docker.io/busybox:1",
                "docker.io/library/busybox:1",
                "busybox:1",
            ),
            ("user/app:1", "docker.io/user/app:1", "user/app:1"),
            (
                "docker.io/user/app",
                "docker.io/user/app:latest",
                "user/app:latest",
            ),
            ("localhost/x", "localhost/x:latest", "localhost/x:latest"),
            (
                "localhost:5000/x",
                "localhost:5000/x:latest",
                "localhost:5000/x:latest",
            ),
            (
                "localhost:5000/x:y",
                "localhost:5000/x:y",
                "localhost:5000/x:y",
            ),
            (
                "ghcr.io/a/b:v1.2-rc_3",
                "ghcr.io/a/b:v1.2-rc_3",
                "ghcr.io/a/b:v1.2-rc_3",
            ),
            ("a.b/c/d/e", "a.b/c/d/e:latest", "a.b/c/d/e:latest"),
            (
                "[::1]:5000/img",
                "[::1]:5000/img:latest",
                "[::1]:5000/img:latest",
            ),
            (
                "my-app__x.y",
                "docker.io/library/my-app__x.y:latest",
                "my-app__x.y:latest",
            ),
            ("a---b", "docker.io/library/a---b:latest", "a---b:latest"),
            (
                "library/a/b",
                "docker.io/library/a/b:latest",
                "library/a/b:latest",
            ),
        ];
        for (input, canonical, familiar) in cases {
            let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), *canonical, "{input}");
            assert_eq!(r.familiar(), *familiar, "{input}");
        }
    }

    #[test]
    fn digests() {
        let r = Reference::parse(&format!("ghcr.io/a/b@{D}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest(), Some(D));
        assert_eq!(r.to_string(), format!("ghcr.io/a/b@{D}"));
        let r = Reference::parse(&format!("busybox:1@{D}")).unwrap();
        assert_eq!(r.tag(), Some("1"));
        assert_eq!(r.digest(), Some(D));
        assert_eq!(r.familiar(), format!("busybox:1@{D}"));
        assert_eq!(r.to_string(), format!("docker.io/library/busybox:1@{D}"));
        let r = Reference::parse(&format!("localhost:5000/x@{D}")).unwrap();
        assert_eq!(r.domain(), "localhost:5000");
        assert_eq!(r.path(), "x");
    }

    #[test]
    fn raw_keeps_no_tag() {
        let r = Reference::parse_raw("busybox").unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.name(), "docker.io/library/busybox");
        assert_eq!(r.familiar_name(), "busybox");
        assert_eq!(r.with_tag("x").unwrap().familiar(), "busybox:x");
    }

    #[test]
    fn rejects_invalid() {
        let hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let cases: &[(&str, ReferenceError)] = &[
            ("", ReferenceError::Empty),
            (
                "Busybox",
                ReferenceError::Uppercase("library/Busybox".into()),
            ),
            ("user/App", ReferenceError::Uppercase("user/App".into())),
            ("busybox:", ReferenceError::InvalidTag("".into())),
            ("busybox:-x", ReferenceError::InvalidTag("-x".into())),
            (
                "busybox:a/b",
                ReferenceError::InvalidFormat("busybox:a/b".into()),
            ),
            (
                "busybox@sha256:abc",
                ReferenceError::InvalidDigest("sha256:abc".into()),
            ),
            (
                "busybox@md5:0123",
                ReferenceError::InvalidDigest("md5:0123".into()),
            ),
            ("-busybox", ReferenceError::InvalidFormat("-busybox".into())),
            ("a//b", ReferenceError::InvalidFormat("a//b".into())),
            ("a/", ReferenceError::InvalidFormat("a/".into())),
            ("/a", ReferenceError::InvalidFormat("/a".into())),
            ("a..b", ReferenceError::InvalidFormat("a..b".into())),
            ("a_-b", ReferenceError::InvalidFormat("a_-b".into())),
            ("a b", ReferenceError::InvalidFormat("a b".into())),
            (":latest", ReferenceError::InvalidFormat(":latest".into())),
            (
                "localhost:port/x",
                ReferenceError::InvalidFormat("localhost:port/x".into()),
            ),
            (
                "-bad.io/x",
                ReferenceError::InvalidFormat("-bad.io/x".into()),
            ),
            (hex64, ReferenceError::HexName(hex64.into())),
        ];
        for (input, want) in cases {
            assert_eq!(Reference::parse(input).as_ref(), Err(want), "{input:?}");
        }
        let long = format!("x/{}", "a".repeat(260));
        assert_eq!(Reference::parse(&long), Err(ReferenceError::NameTooLong));
        let long_tag = format!("x:{}", "a".repeat(129));
        assert!(matches!(
            Reference::parse(&long_tag),
            Err(ReferenceError::InvalidTag(_))
        ));
    }
}
