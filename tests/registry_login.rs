//! `compose login` / `compose logout` against a real registry (htpasswd auth over TLS from a CA
//! the fixture generates, trusted through a Docker-style certs.d), writing Docker's
//! `config.json` as `docker login` does. Every test has its own DOCKER_CONFIG, registries file
//! and HOME in a temporary directory; nothing reads the host's configuration.
//! Skipped (with a reason) where docker-registry, skopeo, openssl or htpasswd are missing.

mod support {
    #[path = "registry.rs"]
    pub mod registry;
}

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use compose::engine::image::testimage::{ArchiveFormat, TestImage};
use serde_json::Value;
use support::registry::{output_text, Registry};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    /// A DOCKER_CONFIG with `config.json` holding `initial` (when given), and a registries file
    /// whose certs_d is `certs_d`.
    fn new(certs_d: &Path, initial: Option<&str>) -> Env {
        let dir = tempfile::Builder::new()
            .prefix("compose-login-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("docker")).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        if let Some(text) = initial {
            std::fs::write(dir.path().join("docker/config.json"), text).unwrap();
        }
        std::fs::write(
            dir.path().join("registries.yaml"),
            format!("certs_d: {}\n", certs_d.display()),
        )
        .unwrap();
        Env { dir }
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("docker/config.json")
    }

    fn config(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.config_path()).unwrap()).unwrap()
    }

    fn compose(&self, args: &[&str], stdin: Option<&str>, path_prefix: Option<&Path>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_compose"));
        cmd.arg("--root")
            .arg(self.dir.path().join("root"))
            .args(args)
            .env("DOCKER_CONFIG", self.dir.path().join("docker"))
            .env(
                "COMPOSE_REGISTRIES_CONFIG",
                self.dir.path().join("registries.yaml"),
            )
            .env("HOME", self.dir.path().join("home"))
            .env_remove("XDG_CONFIG_HOME")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(prefix) = path_prefix {
            let path = std::env::var("PATH").unwrap_or_default();
            cmd.env("PATH", format!("{}:{path}", prefix.display()));
        }
        let mut child = cmd.spawn().expect("run compose");
        {
            use std::io::Write;
            let mut input = child.stdin.take().unwrap();
            if let Some(text) = stdin {
                input.write_all(text.as_bytes()).unwrap();
            }
        }
        child.wait_with_output().unwrap()
    }
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Docker's `docker login -u USER --password-stdin HOST`: "Login Succeeded", the entry in
/// `auths` under HOST as base64 user:password, the file private (0600), other keys kept.
#[test]
fn login_with_good_credentials_writes_config_json_0600_like_docker_login() {
    require_registry!();
    let reg = Registry::auth_tls();
    let env = Env::new(
        &reg.certs_d(),
        Some(r#"{"psFormat": "table {{.ID}}", "auths": {"other.lan": {"auth": "eDp5"}}}"#),
    );
    let host = reg.host();
    let out = env.compose(
        &["login", "-u", reg.user(), "--password-stdin", &host],
        Some(&format!("{}\n", reg.password())),
        None,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}\n{}", reg.log());
    assert!(stdout.contains("Login Succeeded"), "{stdout}");
    assert!(!stdout.contains(reg.password()) && !stderr.contains(reg.password()));
    let mode = std::fs::metadata(env.config_path())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let doc = env.config();
    assert_eq!(doc["psFormat"], "table {{.ID}}");
    assert_eq!(doc["auths"]["other.lan"]["auth"], "eDp5");
    assert_eq!(
        doc["auths"][host.as_str()]["auth"],
        b64(&format!("{}:{}", reg.user(), reg.password()))
    );

    // Cross-check with containers/image (not our code): skopeo reads the file we wrote as a
    // Docker auth file and gets in; without it, it is refused.
    let archive = TestImage {
        name: "login-check".into(),
        ..TestImage::default()
    }
    .write(env.dir.path(), ArchiveFormat::Oci)
    .expect("write image");
    reg.push_oci_archive(&archive, "login/check:1");
    let inspect = |auth: Option<&Path>| {
        let mut c = reg.skopeo();
        c.args(["inspect", "--tls-verify=true"])
            .arg(format!("--cert-dir={}", reg.cert_dir().display()));
        match auth {
            Some(file) => c.arg(format!("--authfile={}", file.display())),
            None => c.arg("--no-creds"),
        };
        c.arg(reg.docker_ref("login/check:1"))
            .output()
            .expect("run skopeo")
    };
    let with_ours = inspect(Some(&env.config_path()));
    assert!(with_ours.status.success(), "{}", output_text(&with_ours));
    assert!(!inspect(None).status.success());

    // Docker's `docker login HOST` with nothing given re-uses what is stored.
    let out = env.compose(&["login", &host], None, None);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("Authenticating with existing credentials"),
        "{stdout}"
    );
    assert!(stdout.contains("Login Succeeded"), "{stdout}");
}

#[test]
fn login_with_a_wrong_password_fails_clearly_and_writes_nothing() {
    require_registry!();
    let reg = Registry::auth_tls();
    let env = Env::new(&reg.certs_d(), None);
    let host = reg.host();
    let out = env.compose(
        &["login", "-u", reg.user(), "--password-stdin", &host],
        Some("not-the-password"),
        None,
    );
    let (stdout, stderr) = text(&out);
    eprintln!("compose login said: {stderr}");
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(!stdout.contains("Login Succeeded"), "{stdout}");
    assert!(
        stderr.contains(&format!("login to {host} failed: unauthorized")),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("not-the-password"), "{stderr}");
    assert!(!env.config_path().exists());
}

/// The registry's CA comes from certs.d: without it the TLS registry cannot be verified and
/// nothing is stored.
#[test]
fn login_without_the_registry_ca_in_certs_d_is_refused() {
    require_registry!();
    let reg = Registry::auth_tls();
    let empty = tempfile::tempdir().unwrap();
    let env = Env::new(empty.path(), None);
    let out = env.compose(
        &["login", "-u", reg.user(), "--password-stdin", &reg.host()],
        Some(reg.password()),
        None,
    );
    let (stdout, stderr) = text(&out);
    eprintln!("compose login said: {stderr}");
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("login to {}", reg.host())) && stderr.contains("certificate"),
        "{stderr}"
    );
    assert!(!env.config_path().exists());
}

/// Docker's `docker logout HOST`: "Removing login credentials for HOST", the entry gone,
/// every other key kept; then "Not logged in to HOST". `--password` works with Docker's
/// warning.
#[test]
fn logout_removes_the_login_and_keeps_the_rest_like_docker_logout() {
    require_registry!();
    let reg = Registry::auth_tls();
    let env = Env::new(&reg.certs_d(), Some(r#"{"detachKeys": "ctrl-x"}"#));
    let host = reg.host();
    let out = env.compose(
        &[
            "login",
            "-u",
            reg.user(),
            "--password",
            reg.password(),
            &host,
        ],
        None,
        None,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("WARNING! Using --password via the CLI is insecure. Use --password-stdin."),
        "{stderr}"
    );
    assert!(env.config()["auths"].get(host.as_str()).is_some());

    let out = env.compose(&["logout", &host], None, None);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("Removing login credentials for {host}")),
        "{stdout}"
    );
    let doc = env.config();
    assert!(doc["auths"].get(host.as_str()).is_none(), "{doc}");
    assert_eq!(doc["detachKeys"], "ctrl-x");
    let mode = std::fs::metadata(env.config_path())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    let out = env.compose(&["logout", &host], None, None);
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    assert!(
        stdout.contains(&format!("Not logged in to {host}")),
        "{stdout}"
    );
}

/// With `credsStore`, Docker hands the secret to `docker-credential-<name>` found in PATH and
/// lists the server in the file without it; logout erases it there.
#[test]
fn login_through_a_docker_credential_helper_keeps_the_secret_out_of_the_file() {
    require_registry!();
    let reg = Registry::auth_tls();
    let env = Env::new(&reg.certs_d(), Some(r#"{"credsStore": "composetest"}"#));
    let bin = env.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("docker-credential-composetest");
    std::fs::write(
        &script,
        "#!/bin/sh\nd=\"$(dirname \"$0\")\"\ncase \"$1\" in\nstore) cat > \"$d/stored\" ;;\nget) if [ -f \"$d/stored\" ]; then cat \"$d/stored\"; else echo 'credentials not found in native keychain'; exit 1; fi ;;\nerase) rm \"$d/stored\" ;;\nesac\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let host = reg.host();
    let out = env.compose(
        &["login", "-u", reg.user(), "--password-stdin", &host],
        Some(reg.password()),
        Some(&bin),
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(bin.join("stored")).unwrap()).unwrap();
    assert_eq!(stored["ServerURL"], host.as_str());
    assert_eq!(stored["Username"], reg.user());
    assert_eq!(stored["Secret"], reg.password());
    let file = std::fs::read_to_string(env.config_path()).unwrap();
    assert!(!file.contains(reg.password()), "{file}");
    assert_eq!(env.config()["auths"][host.as_str()], serde_json::json!({}));
    assert!(!stderr.contains("stored unencrypted"), "{stderr}");

    let out = env.compose(&["logout", &host], None, Some(&bin));
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(!bin.join("stored").exists());
}
