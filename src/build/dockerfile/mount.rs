//! `RUN --mount=type=cache|bind|secret|tmpfs,...` options, typed.
//!
//! BuildKit reads the value as one CSV record of `key=value` fields (`type` defaults to `bind`);
//! `target` (also `dst`, `destination`) is required except for secrets, whose target defaults
//! to `/run/secrets/<id>` and whose id defaults to the target's file name.

/// Why a `--mount` value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountError {
    #[error("--mount: unsupported mount type {0:?} (expected bind, cache, secret or tmpfs)")]
    Type(String),
    #[error("--mount: unexpected key {key:?} for a {kind} mount")]
    Key { key: String, kind: &'static str },
    #[error("--mount: invalid value {value:?} for {key}")]
    Value { key: String, value: String },
    #[error("--mount: a {0} mount needs a target")]
    NoTarget(&'static str),
    #[error("--mount: a secret mount needs an id or a target")]
    NoSecretId,
    #[error("--mount: unterminated quote in {0:?}")]
    Quote(String),
}

/// One `--mount` of a RUN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// Files of the context, a stage or an image, read-only unless `rw`.
    Bind {
        target: String,
        source: Option<String>,
        from: Option<String>,
        read_write: bool,
    },
    /// A directory that persists between builds, shared by `id` (default: the target).
    Cache(CacheMount),
    /// A build secret, present during this RUN only.
    Secret {
        id: String,
        target: String,
        required: bool,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    /// An empty tmpfs.
    Tmpfs { target: String, size: Option<u64> },
}

/// `--mount=type=cache`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheMount {
    pub id: Option<String>,
    pub target: String,
    pub sharing: Sharing,
    pub from: Option<String>,
    pub source: Option<String>,
    pub read_only: bool,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// How concurrent builds share one cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sharing {
    #[default]
    Shared,
    Private,
    Locked,
}

impl Mount {
    /// Parses the value of one `--mount` flag.
    pub fn parse(value: &str) -> Result<Mount, MountError> {
        let fields = csv_fields(value)?;
        let mut pairs = Vec::new();
        let mut kind = "bind".to_string();
        for field in fields {
            let (key, val) = match field.split_once('=') {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.to_string())),
                None => (field.trim().to_ascii_lowercase(), None),
            };
            if key == "type" {
                kind = val.unwrap_or_default();
            } else {
                pairs.push((key, val));
            }
        }
        match kind.as_str() {
            "bind" => bind(pairs),
            "cache" => cache(pairs).map(Mount::Cache),
            "secret" => secret(pairs),
            "tmpfs" => tmpfs(pairs),
            _ => Err(MountError::Type(kind)),
        }
    }
}

/// One CSV record: commas separate fields, double quotes group (`""` is a quote).
fn csv_fields(value: &str) -> Result<Vec<String>, MountError> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(MountError::Quote(value.to_string()));
    }
    fields.push(field);
    Ok(fields.into_iter().filter(|f| !f.is_empty()).collect())
}

type Pairs = Vec<(String, Option<String>)>;

fn is_target(key: &str) -> bool {
    matches!(key, "target" | "dst" | "destination")
}

fn is_source(key: &str) -> bool {
    matches!(key, "source" | "src")
}

fn value(key: &str, val: Option<String>) -> Result<String, MountError> {
    val.ok_or_else(|| MountError::Value {
        key: key.to_string(),
        value: String::new(),
    })
}

/// `ro`/`rw` with an optional boolean value.
fn flag(key: &str, val: Option<String>) -> Result<bool, MountError> {
    match val.as_deref() {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(MountError::Value {
            key: key.to_string(),
            value: other.to_string(),
        }),
    }
}

fn number(key: &str, val: Option<String>, radix: u32) -> Result<u32, MountError> {
    let text = value(key, val)?;
    u32::from_str_radix(&text, radix).map_err(|_| MountError::Value {
        key: key.to_string(),
        value: text,
    })
}

fn bind(pairs: Pairs) -> Result<Mount, MountError> {
    let (mut target, mut source, mut from, mut read_write) = (None, None, None, false);
    for (key, val) in pairs {
        match key.as_str() {
            k if is_target(k) => target = Some(value(k, val)?),
            k if is_source(k) => source = Some(value(k, val)?),
            "from" => from = Some(value("from", val)?),
            "rw" | "readwrite" => read_write = flag(&key, val)?,
            "ro" | "readonly" => read_write = !flag(&key, val)?,
            _ => return Err(MountError::Key { key, kind: "bind" }),
        }
    }
    let target = target.ok_or(MountError::NoTarget("bind"))?;
    Ok(Mount::Bind {
        target,
        source,
        from,
        read_write,
    })
}

fn cache(pairs: Pairs) -> Result<CacheMount, MountError> {
    let mut m = CacheMount {
        id: None,
        target: String::new(),
        sharing: Sharing::Shared,
        from: None,
        source: None,
        read_only: false,
        mode: 0o755,
        uid: 0,
        gid: 0,
    };
    for (key, val) in pairs {
        match key.as_str() {
            k if is_target(k) => m.target = value(k, val)?,
            k if is_source(k) => m.source = Some(value(k, val)?),
            "id" => m.id = Some(value("id", val)?),
            "from" => m.from = Some(value("from", val)?),
            "ro" | "readonly" => m.read_only = flag(&key, val)?,
            "rw" | "readwrite" => m.read_only = !flag(&key, val)?,
            "mode" => m.mode = number("mode", val, 8)?,
            "uid" => m.uid = number("uid", val, 10)?,
            "gid" => m.gid = number("gid", val, 10)?,
            "sharing" => {
                m.sharing = match value("sharing", val)?.as_str() {
                    "shared" => Sharing::Shared,
                    "private" => Sharing::Private,
                    "locked" => Sharing::Locked,
                    other => {
                        return Err(MountError::Value {
                            key,
                            value: other.to_string(),
                        });
                    }
                }
            }
            _ => return Err(MountError::Key { key, kind: "cache" }),
        }
    }
    if m.target.is_empty() {
        return Err(MountError::NoTarget("cache"));
    }
    Ok(m)
}

fn secret(pairs: Pairs) -> Result<Mount, MountError> {
    let (mut id, mut target, mut required) = (None, None, false);
    let (mut mode, mut uid, mut gid) = (0o400, 0, 0);
    for (key, val) in pairs {
        match key.as_str() {
            k if is_target(k) => target = Some(value(k, val)?),
            "id" => id = Some(value("id", val)?),
            "required" => required = flag("required", val)?,
            "mode" => mode = number("mode", val, 8)?,
            "uid" => uid = number("uid", val, 10)?,
            "gid" => gid = number("gid", val, 10)?,
            _ => {
                return Err(MountError::Key {
                    key,
                    kind: "secret",
                })
            }
        }
    }
    let id = match (id, &target) {
        (Some(id), _) => id,
        (None, Some(t)) => t.rsplit('/').next().unwrap_or_default().to_string(),
        (None, None) => return Err(MountError::NoSecretId),
    };
    if id.is_empty() {
        return Err(MountError::NoSecretId);
    }
    let target = target.unwrap_or_else(|| format!("/run/secrets/{id}"));
    Ok(Mount::Secret {
        id,
        target,
        required,
        mode,
        uid,
        gid,
    })
}

fn tmpfs(pairs: Pairs) -> Result<Mount, MountError> {
    let (mut target, mut size) = (None, None);
    for (key, val) in pairs {
        match key.as_str() {
            k if is_target(k) => target = Some(value(k, val)?),
            "size" => {
                let text = value("size", val)?;
                size = Some(
                    text.parse()
                        .map_err(|_| MountError::Value { key, value: text })?,
                );
            }
            _ => return Err(MountError::Key { key, kind: "tmpfs" }),
        }
    }
    let target = target.ok_or(MountError::NoTarget("tmpfs"))?;
    Ok(Mount::Tmpfs { target, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Defaults as BuildKit's instructions/commands_runmount.go documents them.
    #[test]
    fn cache_mount_with_options() {
        let m =
            Mount::parse("type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0700,uid=1000")
                .unwrap();
        let Mount::Cache(c) = m else {
            panic!("not a cache mount: {m:?}")
        };
        assert_eq!(
            (c.target.as_str(), c.id.as_deref()),
            ("/root/.cache", Some("pip"))
        );
        assert_eq!(
            (c.sharing, c.mode, c.uid, c.gid),
            (Sharing::Locked, 0o700, 1000, 0)
        );
    }

    #[test]
    fn bind_is_the_default_type_and_read_only() {
        assert_eq!(
            Mount::parse("target=/src,from=build,source=/out").unwrap(),
            Mount::Bind {
                target: "/src".into(),
                source: Some("/out".into()),
                from: Some("build".into()),
                read_write: false
            }
        );
        assert!(matches!(
            Mount::parse("type=bind,dst=/x,rw").unwrap(),
            Mount::Bind {
                read_write: true,
                ..
            }
        ));
    }

    #[test]
    fn secret_defaults_target_and_id() {
        assert_eq!(
            Mount::parse("type=secret,id=npmrc").unwrap(),
            Mount::Secret {
                id: "npmrc".into(),
                target: "/run/secrets/npmrc".into(),
                required: false,
                mode: 0o400,
                uid: 0,
                gid: 0
            }
        );
        assert!(
            matches!(Mount::parse("type=secret,target=/etc/token,required").unwrap(),
            Mount::Secret { id, required: true, .. } if id == "token")
        );
        assert_eq!(Mount::parse("type=secret"), Err(MountError::NoSecretId));
    }

    #[test]
    fn tmpfs_and_quoted_fields() {
        assert_eq!(
            Mount::parse("type=tmpfs,\"target=/a,b\",size=1024").unwrap(),
            Mount::Tmpfs {
                target: "/a,b".into(),
                size: Some(1024)
            }
        );
    }

    #[test]
    fn rejects_bad_mounts() {
        assert_eq!(
            Mount::parse("type=ssh"),
            Err(MountError::Type("ssh".into()))
        );
        assert_eq!(
            Mount::parse("type=cache"),
            Err(MountError::NoTarget("cache"))
        );
        assert!(matches!(
            Mount::parse("type=cache,target=/x,sharing=odd"),
            Err(MountError::Value { .. })
        ));
        assert!(matches!(
            Mount::parse("type=tmpfs,target=/x,bogus=1"),
            Err(MountError::Key { .. })
        ));
        assert!(matches!(
            Mount::parse("type=cache,target=/x,mode=9"),
            Err(MountError::Value { .. })
        ));
        assert!(matches!(
            Mount::parse("target=\"/x"),
            Err(MountError::Quote(_))
        ));
    }
}
