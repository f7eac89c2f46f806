//! A real registry for the tests: Debian's `docker-registry` (the CNCF distribution registry,
//! the one Docker Hub's own registry grew from) on 127.0.0.1 on a free port, with its config,
//! storage, certificates and logs in a temporary directory of its own, so no test depends on a
//! registry of the host (Debian's package installs one as a service on :5000) or on the network.
//!
//! Variants: plain HTTP; TLS from a CA this fixture generates with `openssl` (the CA file and a
//! Docker-style `certs.d` folder are exposed for the client under test); htpasswd (bcrypt) auth
//! over either; and a pull-through mirror (`proxy.remoteurl`) of another registry.
//!
//! Images are put in and looked at with `skopeo` (containers/image), never with our own code: a
//! cross-check, so a bug shared by our push and our pull cannot hide. skopeo runs with its own
//! policy, registries.conf and auth file under the registry's directory; it never reads the
//! host's configuration or credentials.
//!
//! Dropping the fixture kills and reaps the registry and removes its directory, also when the
//! test panicked. The registry also gets SIGKILL when the thread that started it ends (parent
//! death signal), so not even a killed test run leaves one behind: keep the fixture on the thread
//! that made it (every `#[test]` does).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The user of the auth variants' htpasswd file.
pub const USER: &str = "compose-test";

/// Why registry tests cannot run here, if they cannot: the programs they drive are missing.
pub fn skip_reason() -> Option<String> {
    let missing: Vec<&str> = [
        ("docker-registry", "docker-registry"),
        ("skopeo", "skopeo"),
        ("openssl", "openssl"),
        ("htpasswd", "apache2-utils"),
    ]
    .into_iter()
    .filter(|(prog, _)| !on_path(prog))
    .map(|(_, package)| package)
    .collect();
    if missing.is_empty() {
        None
    } else {
        Some(format!(
            "registry tests need Debian's {} (apt-get install {})",
            missing.join(", "),
            missing.join(" ")
        ))
    }
}

fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
        .unwrap_or(false)
}

/// Skips the calling test (returns from it) with a printed reason when no registry can run.
#[macro_export]
macro_rules! require_registry {
    () => {
        if let Some(reason) = support::registry::skip_reason() {
            eprintln!("skipped: {reason}");
            return;
        }
    };
}

/// The registry another one mirrors (`proxy.remoteurl`), with what the mirror needs to reach it.
/// Anonymous only: distribution 2.8's proxy files upstream credentials under the token realm of
/// the upstream's challenge, so it never presents them to a basic-auth (htpasswd) upstream.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub url: String,
    /// The CA the mirror trusts for an HTTPS upstream (given to it as `SSL_CERT_FILE`).
    pub ca_cert: Option<PathBuf>,
}

/// What to start. [`Registry::plain`], [`Registry::tls`], [`Registry::auth_plain`],
/// [`Registry::auth_tls`] and [`Registry::mirror_of`] cover what the tests need.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Serve HTTPS with a server certificate (SAN IP:127.0.0.1) from a generated CA.
    pub tls: bool,
    /// Require basic auth (htpasswd, bcrypt) as [`USER`] with a random password.
    pub auth: bool,
    /// Be a read-only pull-through cache of this registry.
    pub proxy: Option<Upstream>,
}

pub struct Registry {
    dir: Option<tempfile::TempDir>,
    child: Option<Child>,
    port: u16,
    options: Options,
    password: String,
}

/// How often to try another port when the one found free was taken before the registry bound it.
const PORT_TRIES: usize = 5;
/// How long a starting registry may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(20);

impl Registry {
    /// Plain HTTP, no auth.
    pub fn plain() -> Registry {
        Registry::start(Options::default())
    }

    /// TLS from a CA of its own, anonymous.
    pub fn tls() -> Registry {
        Registry::start(Options {
            tls: true,
            ..Options::default()
        })
    }

    /// htpasswd auth over plain HTTP (as a registry on loopback may be).
    pub fn auth_plain() -> Registry {
        Registry::start(Options {
            auth: true,
            ..Options::default()
        })
    }

    /// htpasswd auth over TLS from a CA of its own.
    pub fn auth_tls() -> Registry {
        Registry::start(Options {
            tls: true,
            auth: true,
            proxy: None,
        })
    }

    /// A plain-HTTP pull-through mirror of `upstream` (trusting its CA). Panics for an upstream
    /// with auth: see [`Upstream`].
    pub fn mirror_of(upstream: &Registry) -> Registry {
        assert!(
            !upstream.has_auth(),
            "docker-registry 2.8 cannot mirror a basic-auth registry"
        );
        Registry::start(Options {
            proxy: Some(upstream.as_upstream()),
            ..Options::default()
        })
    }

    /// Starts a registry; panics (after cleaning up) with the registry's log when it cannot.
    pub fn start(options: Options) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("compose-registry-")
            .tempdir()
            .expect("registry temp dir");
        let mut r = Registry {
            dir: Some(dir),
            child: None,
            port: 0,
            options,
            password: random_hex(12),
        };
        r.prepare();
        for attempt in 1..=PORT_TRIES {
            r.port = free_port();
            r.write_config();
            r.spawn();
            match r.wait_ready() {
                Ok(()) => {
                    r.install_ca();
                    return r;
                }
                Err(log) if log.contains("address already in use") && attempt < PORT_TRIES => {
                    // Another process took the port between our probe and the registry's bind.
                    for p in r.reap() {
                        eprintln!("warning: registry fixture retry: {p}");
                    }
                }
                Err(log) => panic!("docker-registry did not start on {}:\n{log}", r.host()),
            }
        }
        unreachable!("the last try returns or panics")
    }

    /// `127.0.0.1:PORT`: what goes in front of a repository in an image reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://HOST` or `https://HOST`.
    pub fn url(&self) -> String {
        let scheme = if self.options.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    pub fn is_tls(&self) -> bool {
        self.options.tls
    }

    pub fn has_auth(&self) -> bool {
        self.options.auth
    }

    /// The fixture's directory (config, storage, certificates, log).
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("registry dir").path()
    }

    /// The registry process, to check it is gone after drop.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// The CA that signed the server certificate (the file exists for the TLS variants only).
    pub fn ca_cert_path(&self) -> PathBuf {
        self.dir().join("tls/ca.crt")
    }

    /// A folder laid out as Docker's `/etc/docker/certs.d`: `<certs_d>/HOST/ca.crt`.
    pub fn certs_d(&self) -> PathBuf {
        self.dir().join("certs.d")
    }

    /// `<certs_d>/HOST`: the per-registry folder (what skopeo's `--cert-dir` wants).
    pub fn cert_dir(&self) -> PathBuf {
        self.certs_d().join(self.host())
    }

    pub fn user(&self) -> &str {
        USER
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// The registry's log (stdout and stderr), for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("registry.log")).unwrap_or_default()
    }

    /// Where the registry keeps a blob's bytes (`sha256:HEX`): a test corrupts it to see what a
    /// client makes of a registry serving bad content.
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        assert!(
            hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            "not a sha256 digest: {digest:?}"
        );
        self.dir()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// A Docker `config.json` holding this registry's credentials as `docker login` writes
    /// them (`auths` → HOST → base64 of `user:password`), for `$DOCKER_CONFIG` in a test.
    pub fn docker_config_json(&self) -> serde_json::Value {
        let auth = base64(format!("{USER}:{}", self.password).as_bytes());
        serde_json::json!({ "auths": { self.host(): { "auth": auth } } })
    }

    /// This registry as another one's upstream.
    pub fn as_upstream(&self) -> Upstream {
        Upstream {
            url: self.url(),
            ca_cert: self.options.tls.then(|| self.ca_cert_path()),
        }
    }

    /// `docker://HOST/REFERENCE` for skopeo (`reference` is `repo:tag` or `repo@sha256:…`).
    pub fn docker_ref(&self, reference: &str) -> String {
        format!("docker://{}/{reference}", self.host())
    }

    /// `skopeo` with the fixture's own policy, registries.conf, auth file and temp dir: nothing
    /// of the host's containers or Docker configuration is read.
    pub fn skopeo(&self) -> Command {
        let base = self.dir().join("skopeo");
        let mut c = Command::new("skopeo");
        c.env("CONTAINERS_REGISTRIES_CONF", base.join("registries.conf"))
            .env("REGISTRY_AUTH_FILE", base.join("auth.json"))
            .env("DOCKER_CONFIG", base.join("docker"))
            .env("TMPDIR", base.join("tmp"))
            .stdin(Stdio::null())
            .arg("--policy")
            .arg(base.join("policy.json"));
        c
    }

    /// skopeo's flags for this registry on one side of a copy (`prefix` "src-" or "dest-", ""
    /// for inspect): TLS verified against the fixture's CA, or plain HTTP; and `creds` (`None`:
    /// anonymous).
    pub fn skopeo_flags(&self, prefix: &str, creds: Option<(&str, &str)>) -> Vec<String> {
        let mut f = Vec::new();
        if self.options.tls {
            f.push(format!("--{prefix}tls-verify=true"));
            f.push(format!("--{prefix}cert-dir={}", self.cert_dir().display()));
        } else {
            f.push(format!("--{prefix}tls-verify=false"));
        }
        if let Some((u, p)) = creds {
            f.push(format!("--{prefix}creds={u}:{p}"));
        } else {
            f.push(format!("--{prefix}no-creds"));
        }
        f
    }

    /// The fixture's own credentials where the registry wants them.
    fn own_creds(&self) -> Option<(&str, &str)> {
        self.options.auth.then_some((USER, self.password.as_str()))
    }

    /// `skopeo copy --all oci-archive:ARCHIVE docker://HOST/REFERENCE` as `creds`; its output.
    /// Layers the archive holds uncompressed are gzip-compressed on the way (a registry
    /// destination wants compressed layers), so their digests, and the manifest's, change.
    pub fn try_push_oci_archive_as(
        &self,
        archive: &Path,
        reference: &str,
        creds: Option<(&str, &str)>,
    ) -> Output {
        let mut c = self.skopeo();
        c.args(["copy", "--all", "--quiet"])
            .args(self.skopeo_flags("dest-", creds))
            .arg(format!("oci-archive:{}", archive.display()))
            .arg(self.docker_ref(reference));
        c.output().expect("run skopeo copy")
    }

    /// Pushes an OCI archive (every platform of an index) as `reference`, with the fixture's
    /// credentials; panics with skopeo's output when that fails.
    pub fn push_oci_archive(&self, archive: &Path, reference: &str) {
        let o = self.try_push_oci_archive_as(archive, reference, self.own_creds());
        assert!(
            o.status.success(),
            "skopeo push of {} to {}: {}\nregistry log:\n{}",
            archive.display(),
            self.docker_ref(reference),
            output_text(&o),
            self.log()
        );
    }

    /// `skopeo copy docker://HOST/REFERENCE oci:DIR` with the fixture's credentials; its output.
    pub fn try_copy_to_oci_dir(&self, reference: &str, dir: &Path) -> Output {
        let mut c = self.skopeo();
        c.args(["copy", "--quiet"])
            .args(self.skopeo_flags("src-", self.own_creds()))
            .arg(self.docker_ref(reference))
            .arg(format!("oci:{}", dir.display()));
        c.output().expect("run skopeo copy")
    }

    /// `skopeo inspect [--raw] docker://HOST/REFERENCE` as `creds`; its output.
    pub fn try_inspect_as(
        &self,
        reference: &str,
        raw: bool,
        creds: Option<(&str, &str)>,
    ) -> Output {
        let mut c = self.skopeo();
        c.arg("inspect");
        if raw {
            c.arg("--raw");
        }
        c.args(self.skopeo_flags("", creds))
            .arg(self.docker_ref(reference));
        c.output().expect("run skopeo inspect")
    }

    fn inspect_output(&self, reference: &str, raw: bool) -> Vec<u8> {
        let o = self.try_inspect_as(reference, raw, self.own_creds());
        assert!(
            o.status.success(),
            "skopeo inspect {}: {}",
            self.docker_ref(reference),
            output_text(&o)
        );
        o.stdout
    }

    /// `skopeo inspect`: the image for the host's platform (`Digest`, `Labels`, `Layers`, …).
    pub fn inspect(&self, reference: &str) -> serde_json::Value {
        let out = self.inspect_output(reference, false);
        serde_json::from_slice(&out).expect("skopeo inspect prints JSON")
    }

    /// `skopeo inspect --raw`: the manifest (or index) exactly as the registry serves it.
    pub fn inspect_raw(&self, reference: &str) -> Vec<u8> {
        self.inspect_output(reference, true)
    }

    /// The digest of what the registry serves for `reference` (for an index, the index's).
    pub fn manifest_digest(&self, reference: &str) -> String {
        compose::engine::fsutil::sha256_digest(&self.inspect_raw(reference))
    }

    fn prepare(&mut self) {
        let dir = self.dir().to_path_buf();
        for sub in ["storage", "skopeo/tmp", "skopeo/docker"] {
            std::fs::create_dir_all(dir.join(sub)).expect("registry dirs");
        }
        std::fs::write(
            dir.join("skopeo/policy.json"),
            r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
        )
        .expect("skopeo policy");
        std::fs::write(dir.join("skopeo/registries.conf"), "").expect("registries.conf");
        if self.options.tls {
            std::fs::create_dir_all(dir.join("tls")).expect("tls dir");
            self.make_certs();
        }
        if self.options.auth {
            let o = Command::new("htpasswd")
                .args(["-Bbn", USER, &self.password])
                .output()
                .expect("run htpasswd");
            assert!(o.status.success(), "htpasswd: {}", output_text(&o));
            std::fs::write(dir.join("htpasswd"), &o.stdout).expect("htpasswd file");
        }
    }

    /// A CA, and a server certificate for IP 127.0.0.1 it signs (P-256 keys: quick to make).
    fn make_certs(&self) {
        let tls = self.dir().join("tls");
        let path = |name: &str| tls.join(name).to_string_lossy().into_owned();
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=compose test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            &path("ca.key"),
            "-out",
            &path("ca.crt"),
        ]);
        openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            &path("server.key"),
            "-out",
            &path("server.csr"),
        ]);
        std::fs::write(
            tls.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .expect("server.ext");
        openssl(&[
            "x509",
            "-req",
            "-in",
            &path("server.csr"),
            "-CA",
            &path("ca.crt"),
            "-CAkey",
            &path("ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &path("server.ext"),
            "-out",
            &path("server.crt"),
        ]);
    }

    /// `certs.d/HOST/ca.crt`, once HOST (its port) is known.
    fn install_ca(&self) {
        if self.options.tls {
            std::fs::create_dir_all(self.cert_dir()).expect("certs.d dir");
            std::fs::copy(self.ca_cert_path(), self.cert_dir().join("ca.crt"))
                .expect("certs.d/HOST/ca.crt");
        }
    }

    fn write_config(&self) {
        let dir = self.dir();
        let mut cfg = format!(
            "version: 0.1\n\
             log:\n  level: info\n  formatter: text\n\
             storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: {secret}\n",
            storage = dir.join("storage").display(),
            port = self.port,
            secret = random_hex(16),
        );
        if self.options.tls {
            cfg += &format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.join("tls/server.crt").display(),
                dir.join("tls/server.key").display()
            );
        }
        if self.options.auth {
            cfg += &format!(
                "auth:\n  htpasswd:\n    realm: compose-test\n    path: {}\n",
                dir.join("htpasswd").display()
            );
        }
        if let Some(up) = &self.options.proxy {
            cfg += &format!("proxy:\n  remoteurl: {}\n", up.url);
        }
        std::fs::write(dir.join("config.yml"), cfg).expect("registry config");
    }

    fn spawn(&mut self) {
        let dir = self.dir().to_path_buf();
        let log = std::fs::File::create(dir.join("registry.log")).expect("registry log");
        let log2 = log.try_clone().expect("registry log");
        let mut c = Command::new("docker-registry");
        c.arg("serve")
            .arg(dir.join("config.yml"))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        if let Some(ca) = self.options.proxy.as_ref().and_then(|u| u.ca_cert.as_ref()) {
            // Go reads its trusted roots from here: the mirror trusts the upstream's CA only.
            c.env("SSL_CERT_FILE", ca);
        }
        // SAFETY: only an async-signal-safe prctl between fork and exec.
        unsafe {
            c.pre_exec(|| {
                rustix::process::set_parent_process_death_signal(Some(
                    rustix::process::Signal::KILL,
                ))
                .map_err(std::io::Error::from)
            });
        }
        self.child = Some(c.spawn().expect("start docker-registry"));
    }

    /// Waits until the registry answers; `Err(log)` when it exited or did not answer in time.
    fn wait_ready(&mut self) -> Result<(), String> {
        let end = Instant::now() + START_TIMEOUT;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(format!("exited with {status}\n{}", self.log()));
            }
            // The registry logs this once its listener is bound: what answers is then ours, not
            // a process that took the port first.
            let bound = self
                .log()
                .contains(&format!("listening on 127.0.0.1:{}", self.port));
            let ready = bound
                && if self.options.tls {
                    // A TLS handshake needs a TLS client; the listener is up only once the
                    // certificate loaded, so a connection is enough.
                    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
                } else {
                    v2_status(addr).is_some()
                };
            if ready {
                return Ok(());
            }
            if Instant::now() > end {
                return Err(format!("no answer in {START_TIMEOUT:?}\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills and reaps the registry; what went wrong, if anything.
    fn reap(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(mut child) = self.child.take() {
            if let Err(e) = child.kill() {
                problems.push(format!("killing docker-registry {}: {e}", child.id()));
            }
            if let Err(e) = child.wait() {
                problems.push(format!("reaping docker-registry {}: {e}", child.id()));
            }
        }
        problems
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let mut problems = self.reap();
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            if let Err(e) = dir.close() {
                problems.push(format!("removing {}: {e}", path.display()));
            }
        }
        for p in problems {
            eprintln!("warning: registry fixture teardown: {p}");
        }
    }
}

/// The status code of `GET /v2/` over plain HTTP (200 open, 401 auth), `None` if no answer.
pub fn v2_status(addr: SocketAddr) -> Option<u16> {
    let (status, _) = http_get_raw(addr, "/v2/")?;
    Some(status)
}

/// A plain-HTTP `GET PATH` to `addr`: (status, body). Bodies are read whole: for test blobs.
pub fn http_get_raw(addr: SocketAddr, path: &str) -> Option<(u16, Vec<u8>)> {
    let timeout = Duration::from_secs(5);
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let head_end = out.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&out[..head_end]);
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, out[head_end + 4..].to_vec()))
}

/// A port nothing listens on right now (the registry may still lose it to a race: retried).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port on 127.0.0.1")
}

/// Standard base64 with padding (what Docker's `auths` entries hold).
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("random bytes");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn openssl(args: &[&str]) {
    let o = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(o.status.success(), "openssl {args:?}: {}", output_text(&o));
}

/// A command's exit status and output, for assertion messages.
pub fn output_text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Files under `dir`, recursively: what a test shows was (or was not) left behind.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}
