use std::os::unix::fs::PermissionsExt;

use super::*;

fn cred(user: &str, secret: &str) -> Credential {
    Credential {
        username: user.into(),
        secret: secret.into(),
        identity_token: false,
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn config_with(dir: &Path, json: &str) -> DockerConfig {
    let path = dir.join("config.json");
    std::fs::write(&path, json).unwrap();
    DockerConfig::load_from(&path).unwrap()
}

/// A `docker-credential-test` that keeps what it is given in files next to itself, and
/// answers as Docker's helpers do (`credentials not found in native keychain`, exit 1).
fn helper_dir(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("docker-credential-test");
    std::fs::write(
        &script,
        r#"#!/bin/sh
d="$(dirname "$0")/store"
mkdir -p "$d"
key() { printf '%s' "$1" | tr '/:' '__'; }
case "$1" in
get) read -r url || true
     if [ -f "$d/$(key "$url")" ]; then cat "$d/$(key "$url")"
     else echo "credentials not found in native keychain"; exit 1; fi ;;
store) cat > "$d/in"
     url=$(sed -n 's/.*"ServerURL":"\([^"]*\)".*/\1/p' "$d/in")
     mv "$d/in" "$d/$(key "$url")" ;;
erase) read -r url || true
     if [ -f "$d/$(key "$url")" ]; then rm "$d/$(key "$url")"
     else echo "credentials not found in native keychain"; exit 1; fi ;;
*) echo "unknown action" >&2; exit 2 ;;
esac
"#,
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn auths_entries_match_keys_with_scheme_or_path_like_docker_cli() {
    let dir = tempfile::tempdir().unwrap();
    let c = config_with(
        dir.path(),
        &format!(
            r#"{{"auths": {{
                    "https://index.docker.io/v1/": {{"auth": "{}"}},
                    "https://reg.lan:5000/v2/": {{"auth": "{}"}},
                    "tok.lan": {{"auth": "{}", "identitytoken": "refresh-123"}},
                    "old.lan": {{"username": "u3", "password": "p3"}},
                    "empty.lan": {{}}
                }}}}"#,
            b64("hubuser:hubpass"),
            b64("u2:pa:ss"),
            b64("u4:")
        ),
    );
    // Docker Hub's key serves docker.io and its aliases (Docker's index server URL).
    for hub in ["docker.io", "index.docker.io", "registry-1.docker.io"] {
        assert_eq!(
            c.get(hub).unwrap(),
            Some(cred("hubuser", "hubpass")),
            "{hub}"
        );
    }
    // A key written as a URL with a path matches its host:port; the password keeps colons.
    assert_eq!(c.get("reg.lan:5000").unwrap(), Some(cred("u2", "pa:ss")));
    assert_eq!(c.get("reg.lan").unwrap(), None);
    let tok = c.get("tok.lan").unwrap().unwrap();
    assert!(tok.identity_token);
    assert_eq!(
        (tok.username.as_str(), tok.secret.as_str()),
        ("u4", "refresh-123")
    );
    assert_eq!(c.get("old.lan").unwrap(), Some(cred("u3", "p3")));
    assert_eq!(c.get("empty.lan").unwrap(), None);
    assert_eq!(c.get("ghcr.io").unwrap(), None);
    // Debug never shows a secret.
    let shown = format!("{c:?} {:?}", c.get("docker.io").unwrap());
    assert!(
        !shown.contains("hubpass") && !shown.contains(&b64("hubuser:hubpass")),
        "{shown}"
    );
}

#[test]
fn missing_file_is_empty_and_bad_files_name_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let c = DockerConfig::load_from(&dir.path().join("nope.json")).unwrap();
    assert_eq!(c.get("docker.io").unwrap(), None);
    for (json, want) in [
        ("[1]", "expected a JSON object"),
        ("{", "invalid JSON"),
        (r#"{"auths": []}"#, "auths"),
        (r#"{"auths": {"x": 1}}"#, "auths.\"x\""),
        (r#"{"credHelpers": {"x": "../evil"}}"#, "credHelpers.\"x\""),
        (r#"{"credsStore": 3}"#, "credsStore"),
    ] {
        let path = dir.path().join("bad.json");
        std::fs::write(&path, json).unwrap();
        let err = DockerConfig::load_from(&path).unwrap_err().to_string();
        assert!(
            err.contains(&path.display().to_string()) && err.contains(want),
            "{json}: {err}"
        );
    }
    let c = config_with(dir.path(), r#"{"auths": {"a.lan": {"auth": "%%%"}}}"#);
    let err = c.get("a.lan").unwrap_err().to_string();
    assert!(
        err.contains("config.json") && err.contains("auths.\"a.lan\".auth"),
        "{err}"
    );
}

#[test]
fn store_and_erase_keep_other_keys_in_order_and_write_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(
        &path,
        r#"{"zeta": {"keep": [1, 2]}, "auths": {"other.lan": {"auth": "b3RoZXI6cA=="}, "https://reg.lan:5000": {"auth": "b2xkOm9sZA=="}}, "alpha": "x", "proxies": {"default": {"httpProxy": "p"}}}"#,
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut c = DockerConfig::load_from(&path).unwrap();
    c.store("reg.lan:5000", &cred("new", "s3cret")).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["zeta", "auths", "alpha", "proxies"]);
    assert_eq!(doc["zeta"], serde_json::json!({"keep": [1, 2]}));
    assert_eq!(doc["proxies"]["default"]["httpProxy"], "p");
    // The old spelling of the same host is replaced, not left to shadow the new entry.
    let auths = doc["auths"].as_object().unwrap();
    assert_eq!(
        auths.keys().collect::<Vec<_>>(),
        ["other.lan", "reg.lan:5000"]
    );
    assert_eq!(auths["reg.lan:5000"]["auth"], b64("new:s3cret"));
    let again = DockerConfig::load_from(&path).unwrap();
    assert_eq!(
        again.get("reg.lan:5000").unwrap(),
        Some(cred("new", "s3cret"))
    );

    let mut c = again;
    assert!(c.erase("reg.lan:5000").unwrap());
    assert!(!c.erase("reg.lan:5000").unwrap());
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        doc["auths"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["other.lan"]
    );
    assert_eq!(doc["alpha"], "x");
    // No temporary file is left next to it.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [std::ffi::OsString::from("config.json")]);

    // A new file (and its directory) is created private.
    let fresh = dir.path().join("new/sub/config.json");
    let mut c = DockerConfig::load_from(&fresh).unwrap();
    c.store("docker.io", &cred("hub", "pw")).unwrap();
    assert_eq!(
        std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&fresh).unwrap()).unwrap();
    assert_eq!(doc["auths"][DOCKER_HUB_KEY]["auth"], b64("hub:pw"));
}

#[test]
fn cred_helpers_and_creds_store_run_docker_credential_helpers() {
    let dir = tempfile::tempdir().unwrap();
    let bin = helper_dir(dir.path());
    let store = bin.join("store");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(
        store.join("reg.lan_5000"),
        r#"{"ServerURL":"reg.lan:5000","Username":"helped","Secret":"hs"}"#,
    )
    .unwrap();
    std::fs::write(
        store.join("tok.lan"),
        r#"{"ServerURL":"tok.lan","Username":"<token>","Secret":"idtok"}"#,
    )
    .unwrap();
    let mut c = config_with(
        dir.path(),
        &format!(
            r#"{{"auths": {{"reg.lan:5000": {{"auth": "{}"}}, "plain.lan": {{"auth": "{}"}}}},
                    "credHelpers": {{"reg.lan:5000": "test", "tok.lan": "test", "gone.lan": "absent"}}}}"#,
            b64("filed:fs"),
            b64("p:q")
        ),
    )
    .with_helper_dir(&bin);
    // credHelpers wins over the file's entry for the same registry.
    assert_eq!(c.get("reg.lan:5000").unwrap(), Some(cred("helped", "hs")));
    let tok = c.get("tok.lan").unwrap().unwrap();
    assert!(tok.identity_token && tok.secret == "idtok");
    assert_eq!(c.get("plain.lan").unwrap(), Some(cred("p", "q")));
    let err = c.get("gone.lan").unwrap_err().to_string();
    assert!(
        err.contains("docker-credential-absent") && err.contains("not found in"),
        "{err}"
    );

    // store through the helper: the file lists the server without a secret.
    c.store("tok.lan", &cred("alice", "pw1")).unwrap();
    assert_eq!(c.get("tok.lan").unwrap(), Some(cred("alice", "pw1")));
    let text = std::fs::read_to_string(c.path().unwrap()).unwrap();
    assert!(
        !text.contains("pw1") && !text.contains(&b64("alice:pw1")),
        "{text}"
    );
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["auths"]["tok.lan"], serde_json::json!({}));
    assert!(c.erase("tok.lan").unwrap());
    assert_eq!(c.get("tok.lan").unwrap(), None);
    assert!(!c.erase("tok.lan").unwrap());

    // credsStore is the default for every other registry, Docker Hub under its URL key.
    let mut c = config_with(dir.path(), r#"{"credsStore": "test"}"#).with_helper_dir(&bin);
    assert_eq!(c.get("docker.io").unwrap(), None);
    c.store("docker.io", &cred("hub", "hubpw")).unwrap();
    assert!(store.join("https___index.docker.io_v1_").is_file());
    assert_eq!(
        c.get("index.docker.io").unwrap(),
        Some(cred("hub", "hubpw"))
    );
    let tokcred = Credential {
        username: "x".into(),
        secret: "t0k".into(),
        identity_token: true,
    };
    c.store("reg2.lan", &tokcred).unwrap();
    let back = c.get("reg2.lan").unwrap().unwrap();
    assert!(back.identity_token && back.secret == "t0k");
}

#[test]
fn a_failing_helper_is_named_and_its_output_not_echoed_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("docker-credential-broken");
    std::fs::write(&script, "#!/bin/sh\necho 'keychain locked' >&2\nexit 3\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let leaky = bin.join("docker-credential-leaky");
    std::fs::write(&leaky, "#!/bin/sh\necho 'Secret: hunter2 not json'\n").unwrap();
    std::fs::set_permissions(&leaky, std::fs::Permissions::from_mode(0o755)).unwrap();
    let c = config_with(
        dir.path(),
        r#"{"credsStore": "broken", "credHelpers": {"l.lan": "leaky"}}"#,
    )
    .with_helper_dir(&bin);
    let err = c.get("r.lan").unwrap_err().to_string();
    assert!(
        err.contains("docker-credential-broken")
            && err.contains("keychain locked")
            && err.contains("r.lan"),
        "{err}"
    );
    let err = c.get("l.lan").unwrap_err().to_string();
    assert!(
        err.contains("docker-credential-leaky") && !err.contains("hunter2"),
        "{err}"
    );
}

#[test]
fn server_key_maps_hub_aliases_and_strips_scheme_and_path() {
    assert_eq!(server_key("docker.io"), DOCKER_HUB_KEY);
    assert_eq!(server_key("https://index.docker.io/v1/"), DOCKER_HUB_KEY);
    assert_eq!(server_key("registry-1.docker.io"), DOCKER_HUB_KEY);
    assert_eq!(server_key("https://reg.lan:5000/v2/"), "reg.lan:5000");
    assert_eq!(server_key("ghcr.io"), "ghcr.io");
}
