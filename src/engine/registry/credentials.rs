//! Docker's credential store: `config.json`'s `auths`, and the `docker-credential-<name>`
//! helpers named by `credHelpers` (per registry) and `credsStore` (default).
//!
//! We read and write the same file as the docker CLI so that a `docker login` serves `compose`
//! and the other way round; writes keep every key we do not own exactly as it was.
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{Map, Value};
use thiserror::Error;

/// The key Docker files Docker Hub's credentials under.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";
/// What a helper prints (and how it fails) when it has nothing for a server.
const NOT_FOUND: &str = "credentials not found";
/// The user name a helper returns for an identity token.
const TOKEN_USER: &str = "<token>";
/// Bound on what we read from config.json or a helper: neither has a reason to be large.
const MAX_BYTES: u64 = 4 << 20;

#[derive(Debug, Error)]
pub enum CredentialError {
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {detail}")]
    File { path: PathBuf, detail: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("credential helper docker-credential-{helper} ({action} {server}): {detail}")]
    Helper {
        helper: String,
        action: &'static str,
        server: String,
        detail: String,
    },
}

/// A user name and its secret (a password, or an identity token when `identity_token`).
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub username: String,
    pub secret: String,
    pub identity_token: bool,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Docker's `config.json`, kept whole (as read, keys in order) so that a write changes only
/// the entry it means to.
#[derive(Clone, Default)]
pub struct DockerConfig {
    /// `None`: no file (nothing stored, nothing can be written).
    path: Option<PathBuf>,
    doc: Map<String, Value>,
    /// Where `docker-credential-*` helpers are looked up; `None` searches `PATH`.
    helper_dir: Option<PathBuf>,
}

/// Never shows the document: it holds secrets.
impl std::fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerConfig")
            .field("path", &self.path)
            .field("helper_dir", &self.helper_dir)
            .finish_non_exhaustive()
    }
}

/// Where a registry's credential lives.
enum Store<'a> {
    File,
    Helper(&'a str),
}

impl DockerConfig {
    /// `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`; a missing file is empty.
    pub fn load() -> Result<DockerConfig, CredentialError> {
        match default_path() {
            Some(path) => Self::load_from(&path),
            // No home to look in: anonymous pulls still work; storing says why it cannot.
            None => Ok(DockerConfig::default()),
        }
    }

    /// Reads `path`; a missing file is an empty configuration that [`store`](Self::store)
    /// creates.
    pub fn load_from(path: &Path) -> Result<DockerConfig, CredentialError> {
        let io = |source| CredentialError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut text = String::new();
        match std::fs::File::open(path) {
            Ok(f) => {
                f.take(MAX_BYTES + 1)
                    .read_to_string(&mut text)
                    .map_err(io)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        if text.len() as u64 > MAX_BYTES {
            return Err(file_err(path, format!("larger than {MAX_BYTES} bytes")));
        }
        let doc = if text.trim().is_empty() {
            Map::new()
        } else {
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(map)) => map,
                Ok(_) => return Err(file_err(path, "expected a JSON object".into())),
                Err(e) => return Err(file_err(path, format!("invalid JSON: {e}"))),
            }
        };
        let config = DockerConfig {
            path: Some(path.to_path_buf()),
            doc,
            helper_dir: None,
        };
        config.check_shape()?;
        Ok(config)
    }

    /// Looks helpers up in `dir` instead of `PATH` (tests use their own helper scripts).
    pub fn with_helper_dir(mut self, dir: impl Into<PathBuf>) -> DockerConfig {
        self.helper_dir = Some(dir.into());
        self
    }

    /// The file this configuration was read from and is written to.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The credential for `registry` (a reference's domain: `docker.io`, `127.0.0.1:5000`).
    pub fn get(&self, registry: &str) -> Result<Option<Credential>, CredentialError> {
        let key = server_key(registry);
        match self.store_for(&key) {
            Store::Helper(helper) => self.helper_get(helper, &key),
            Store::File => {
                let Some((name, entry)) = self.find_auth(&key) else {
                    return Ok(None);
                };
                self.decode_entry(&name, entry)
            }
        }
    }

    /// Saves `cred` for `registry`: through its helper when one is configured (the file then
    /// lists the server with no secret, as Docker does), else in `auths` of the file.
    pub fn store(&mut self, registry: &str, cred: &Credential) -> Result<(), CredentialError> {
        let key = server_key(registry);
        let entry = match self.store_for(&key) {
            Store::Helper(helper) => {
                let helper = helper.to_string();
                self.helper_store(&helper, &key, cred)?;
                Map::new()
            }
            Store::File => {
                let b64 =
                    |s: String| Value::String(base64::engine::general_purpose::STANDARD.encode(s));
                let mut entry = Map::new();
                if cred.identity_token {
                    if !cred.username.is_empty() {
                        entry.insert("auth".into(), b64(format!("{}:", cred.username)));
                    }
                    entry.insert("identitytoken".into(), Value::String(cred.secret.clone()));
                } else {
                    entry.insert(
                        "auth".into(),
                        b64(format!("{}:{}", cred.username, cred.secret)),
                    );
                }
                entry
            }
        };
        // Entries naming the same host in another spelling would shadow or outlive this one.
        self.remove_auths_for(&key);
        let auths = self
            .doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(auths) = auths {
            auths.insert(key, Value::Object(entry));
        }
        self.write()
    }

    /// Removes the credential for `registry` (from its helper and from the file, every spelling
    /// of the host, as `docker logout` does). Returns whether there was one.
    pub fn erase(&mut self, registry: &str) -> Result<bool, CredentialError> {
        let key = server_key(registry);
        let mut found = false;
        if let Store::Helper(helper) = self.store_for(&key) {
            let helper = helper.to_string();
            found |= self.helper_erase(&helper, &key)?;
        }
        if self.remove_auths_for(&key) {
            found = true;
            self.write()?;
        }
        Ok(found)
    }

    /// Whether `registry`'s credential goes through a `docker-credential-*` helper rather than
    /// the file (then nothing secret is written to the file).
    pub fn uses_helper(&self, registry: &str) -> bool {
        matches!(self.store_for(&server_key(registry)), Store::Helper(_))
    }

    /// Whether the file's `auths` lists `registry` (under any spelling of its host).
    pub fn lists(&self, registry: &str) -> bool {
        self.find_auth(&server_key(registry)).is_some()
    }

    fn store_for(&self, key: &str) -> Store<'_> {
        let host = hostname(key);
        if let Some(Value::Object(helpers)) = self.doc.get("credHelpers") {
            let by_key = helpers.get(key).or_else(|| {
                helpers
                    .iter()
                    .find(|(k, _)| hostname(k) == host)
                    .map(|(_, v)| v)
            });
            if let Some(Value::String(h)) = by_key {
                if !h.is_empty() {
                    return Store::Helper(h);
                }
            }
        }
        match self.doc.get("credsStore") {
            Some(Value::String(h)) if !h.is_empty() => Store::Helper(h),
            _ => Store::File,
        }
    }

    /// The `auths` entry for `key`: the exact key first, then any key whose host is the same
    /// (Docker's CLI accepts keys written with a scheme or a path).
    fn find_auth(&self, key: &str) -> Option<(String, &Map<String, Value>)> {
        let Some(Value::Object(auths)) = self.doc.get("auths") else {
            return None;
        };
        let host = hostname(key);
        let entry = auths
            .get_key_value(key)
            .or_else(|| auths.iter().find(|(k, _)| hostname(k) == host))?;
        match entry {
            (k, Value::Object(e)) => Some((k.clone(), e)),
            _ => None,
        }
    }

    fn remove_auths_for(&mut self, key: &str) -> bool {
        let host = hostname(key);
        let Some(Value::Object(auths)) = self.doc.get_mut("auths") else {
            return false;
        };
        let before = auths.len();
        auths.retain(|k, _| hostname(k) != host);
        auths.len() != before
    }

    fn decode_entry(
        &self,
        name: &str,
        entry: &Map<String, Value>,
    ) -> Result<Option<Credential>, CredentialError> {
        let field = |k: &str| match entry.get(k) {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        let (mut username, mut password) = (field("username"), field("password"));
        let auth = field("auth");
        if !auth.is_empty() {
            let bad = || {
                self.err(format!(
                    "auths.{name:?}.auth: expected base64 of user:password"
                ))
            };
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| bad())?;
            let text = String::from_utf8(bytes).map_err(|_| bad())?;
            let (u, p) = text.split_once(':').ok_or_else(bad)?;
            username = u.to_string();
            password = p.to_string();
        }
        let token = field("identitytoken");
        if !token.is_empty() {
            return Ok(Some(Credential {
                username,
                secret: token,
                identity_token: true,
            }));
        }
        if username.is_empty() && password.is_empty() {
            return Ok(None);
        }
        Ok(Some(Credential {
            username,
            secret: password,
            identity_token: false,
        }))
    }

    /// Rejects a file whose keys we use have the wrong type, naming the key.
    fn check_shape(&self) -> Result<(), CredentialError> {
        for key in ["auths", "credHelpers"] {
            match self.doc.get(key) {
                None | Some(Value::Object(_)) => {}
                Some(_) => return Err(self.err(format!("{key}: expected an object"))),
            }
        }
        if let Some(Value::Object(auths)) = self.doc.get("auths") {
            for (k, v) in auths {
                if !v.is_object() {
                    return Err(self.err(format!("auths.{k:?}: expected an object")));
                }
            }
        }
        if let Some(Value::Object(helpers)) = self.doc.get("credHelpers") {
            for (k, v) in helpers {
                match v.as_str() {
                    Some(h) if valid_helper_name(h) => {}
                    _ => {
                        return Err(self.err(format!(
                            "credHelpers.{k:?}: expected a helper name (docker-credential-<name>)"
                        )))
                    }
                }
            }
        }
        match self.doc.get("credsStore") {
            None => {}
            Some(Value::String(h)) if h.is_empty() || valid_helper_name(h) => {}
            Some(_) => {
                return Err(self
                    .err("credsStore: expected a helper name (docker-credential-<name>)".into()))
            }
        }
        Ok(())
    }

    fn err(&self, detail: String) -> CredentialError {
        file_err(
            self.path.as_deref().unwrap_or(Path::new("config.json")),
            detail,
        )
    }

    /// Writes the document atomically (a new file renamed over the old one), mode 0600.
    fn write(&self) -> Result<(), CredentialError> {
        let Some(path) = self.path.as_deref() else {
            return Err(CredentialError::Invalid(
                "no Docker config file to write credentials to (set DOCKER_CONFIG or HOME)".into(),
            ));
        };
        // A config.json that is a link (dotfile managers do this) is updated where it points.
        let target = match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                std::fs::canonicalize(path).map_err(|source| CredentialError::Io {
                    path: path.to_path_buf(),
                    source,
                })?
            }
            _ => path.to_path_buf(),
        };
        let io = |source| CredentialError::Io {
            path: target.clone(),
            source,
        };
        let dir = target.parent().unwrap_or(Path::new("."));
        if !dir.as_os_str().is_empty() && !dir.exists() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io)?;
        }
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(
            &mut out,
            serde_json::ser::PrettyFormatter::with_indent(b"\t"),
        );
        serde::Serialize::serialize(&self.doc, &mut ser)
            .map_err(|e| self.err(format!("serializing: {e}")))?;
        out.push(b'\n');
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "config.json".into());
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let result = (|| {
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&out)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &target)
        })();
        if let Err(e) = result {
            if let Err(rm) = std::fs::remove_file(&tmp) {
                if rm.kind() != std::io::ErrorKind::NotFound {
                    eprintln!("WARN[0000] removing {}: {rm}", tmp.display());
                }
            }
            return Err(io(e));
        }
        Ok(())
    }

    fn helper_path(&self, helper: &str) -> Result<PathBuf, CredentialError> {
        let name = format!("docker-credential-{helper}");
        let found = match &self.helper_dir {
            Some(dir) => Some(dir.join(&name)).filter(|p| p.is_file()),
            None => std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(&name))
                    .find(|p| p.is_file())
            }),
        };
        found.ok_or_else(|| CredentialError::Helper {
            helper: helper.into(),
            action: "find",
            server: String::new(),
            detail: match &self.helper_dir {
                Some(dir) => format!("{name} not found in {}", dir.display()),
                None => format!("{name} not found in PATH"),
            },
        })
    }

    /// Runs a helper with `input` on stdin; returns (success, stdout). Output is bounded.
    fn run_helper(
        &self,
        helper: &str,
        action: &'static str,
        server: &str,
        input: &[u8],
    ) -> Result<(bool, String), CredentialError> {
        let err = |detail: String| CredentialError::Helper {
            helper: helper.into(),
            action,
            server: server.into(),
            detail,
        };
        let path = self.helper_path(helper)?;
        let spawn = || {
            Command::new(&path)
                .arg(action)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
        };
        // ETXTBSY: a helper script written a moment ago can still be open for writing in a
        // child another thread forked; it goes away once that child execs.
        let mut tries = 0;
        let mut child = loop {
            match spawn() {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 20 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => {
                    break other.map_err(|e| err(format!("running {}: {e}", path.display())))?
                }
            }
        };
        // stdin is written from a thread so that a helper which answers before reading all of
        // it cannot deadlock us on a full pipe.
        let mut stdin = child.stdin.take();
        let input = input.to_vec();
        let writer = std::thread::spawn(move || {
            if let Some(s) = stdin.as_mut() {
                let _ = s.write_all(&input);
            }
        });
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let out_pipe = child.stdout.take();
        let err_pipe = child.stderr.take();
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(p) = err_pipe {
                let _ = p.take(64 << 10).read_to_end(&mut buf);
            }
            buf
        });
        if let Some(p) = out_pipe {
            p.take(MAX_BYTES)
                .read_to_end(&mut stdout)
                .map_err(|e| err(format!("reading its output: {e}")))?;
        }
        if let Ok(buf) = err_reader.join() {
            stderr = buf;
        }
        if writer.join().is_err() {
            return Err(err("writing its input failed".into()));
        }
        let status = child
            .wait()
            .map_err(|e| err(format!("waiting for it: {e}")))?;
        let mut text = String::from_utf8_lossy(&stdout).into_owned();
        if !status.success() && text.trim().is_empty() {
            text = String::from_utf8_lossy(&stderr).into_owned();
        }
        Ok((status.success(), text))
    }

    fn helper_get(&self, helper: &str, key: &str) -> Result<Option<Credential>, CredentialError> {
        let (ok, out) = self.run_helper(helper, "get", key, key.as_bytes())?;
        if out.contains(NOT_FOUND) {
            return Ok(None);
        }
        let err = |detail: String| CredentialError::Helper {
            helper: helper.into(),
            action: "get",
            server: key.into(),
            detail,
        };
        if !ok {
            return Err(err(failure_detail(&out)));
        }
        #[derive(serde::Deserialize)]
        struct Reply {
            #[serde(rename = "Username", default)]
            username: String,
            #[serde(rename = "Secret", default)]
            secret: String,
        }
        // The reply holds the secret: never quote it in an error.
        let reply: Reply = serde_json::from_str(&out).map_err(|_| {
            err("expected JSON {\"ServerURL\", \"Username\", \"Secret\"} on its output".into())
        })?;
        if reply.username.is_empty() && reply.secret.is_empty() {
            return Ok(None);
        }
        Ok(Some(if reply.username == TOKEN_USER {
            Credential {
                username: String::new(),
                secret: reply.secret,
                identity_token: true,
            }
        } else {
            Credential {
                username: reply.username,
                secret: reply.secret,
                identity_token: false,
            }
        }))
    }

    fn helper_store(
        &self,
        helper: &str,
        key: &str,
        cred: &Credential,
    ) -> Result<(), CredentialError> {
        let username = if cred.identity_token {
            TOKEN_USER
        } else {
            &cred.username
        };
        let input = serde_json::json!({
            "ServerURL": key,
            "Username": username,
            "Secret": cred.secret,
        })
        .to_string();
        let (ok, out) = self.run_helper(helper, "store", key, input.as_bytes())?;
        if !ok {
            return Err(CredentialError::Helper {
                helper: helper.into(),
                action: "store",
                server: key.into(),
                detail: failure_detail(&out),
            });
        }
        Ok(())
    }

    fn helper_erase(&self, helper: &str, key: &str) -> Result<bool, CredentialError> {
        let (ok, out) = self.run_helper(helper, "erase", key, key.as_bytes())?;
        if out.contains(NOT_FOUND) {
            return Ok(false);
        }
        if !ok {
            return Err(CredentialError::Helper {
                helper: helper.into(),
                action: "erase",
                server: key.into(),
                detail: failure_detail(&out),
            });
        }
        Ok(true)
    }
}

/// The key a registry's credential is filed under: Docker Hub's historical URL for any of its
/// names, else `host[:port]` (a scheme or path the user typed removed).
pub fn server_key(registry: &str) -> String {
    let host = hostname(registry);
    match host.to_ascii_lowercase().as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" | "" => DOCKER_HUB_KEY.into(),
        _ => host.to_string(),
    }
}

/// `host[:port]` of a key written as a URL or a bare host (Docker's `ConvertToHostname`); the
/// Hub's names are one host.
fn hostname(key: &str) -> &str {
    let rest = key
        .strip_prefix("http://")
        .or_else(|| key.strip_prefix("https://"))
        .unwrap_or(key);
    let host = rest.split('/').next().unwrap_or(rest);
    match host {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "docker.io",
        h => h,
    }
}

fn valid_helper_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
}

/// One line of a helper's failure message, bounded and without control characters.
fn failure_detail(out: &str) -> String {
    let line: String = out
        .trim()
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if line.is_empty() {
        "it failed without a message".into()
    } else {
        line
    }
}

fn file_err(path: &Path, detail: String) -> CredentialError {
    CredentialError::File {
        path: path.to_path_buf(),
        detail,
    }
}

/// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
fn default_path() -> Option<PathBuf> {
    let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    non_empty("HOME").map(|home| PathBuf::from(home).join(".docker").join("config.json"))
}

#[cfg(test)]
#[path = "credentials_tests.rs"]
mod tests;
