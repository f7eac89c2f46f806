//! Checking a credential against a registry before it is stored (`compose login`).
//!
//! The check is the one Docker's CLI makes: `GET /v2/`, then answer the registry's
//! `WWW-Authenticate` challenge with the credential: basic auth straight away, or a bearer
//! token asked from the challenge's realm. A registry that asks for nothing accepts anyone.
use std::time::Duration;

use reqwest::{header, Client, StatusCode, Url};

use super::client::{api_host, error_chain};
use super::config::RegistryConfig;
use super::credentials::Credential;
use super::error::RegistryError;

/// Bound on the bodies read here (error documents and tokens are small).
const MAX_BODY: usize = 64 << 10;

/// Checks that `cred` logs in to `host` (`host[:port]`, a reference's domain).
pub fn verify_login(
    host: &str,
    cred: &Credential,
    config: &RegistryConfig,
) -> Result<(), RegistryError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| login_err(host, format!("starting the HTTP runtime: {e}")))?;
    rt.block_on(verify(host, cred, config))
}

async fn verify(
    registry: &str,
    cred: &Credential,
    config: &RegistryConfig,
) -> Result<(), RegistryError> {
    let host = api_host(registry);
    let client = client_for(registry, host, config)?;
    let (base, resp) = ping(&client, registry, host, config).await?;
    if resp.status().is_success() {
        return Ok(());
    }
    if resp.status() != StatusCode::UNAUTHORIZED {
        return Err(login_err(
            registry,
            format!("unexpected HTTP {} from {base}/v2/", resp.status()),
        ));
    }
    let challenges: Vec<Challenge> = resp
        .headers()
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(parse_challenge)
        .collect();
    let chosen = challenges
        .iter()
        .find(|c| c.scheme == "bearer")
        .or_else(|| challenges.iter().find(|c| c.scheme == "basic"));
    match chosen {
        Some(c) if c.scheme == "bearer" => bearer(&client, registry, c, cred, config).await,
        Some(_) => {
            if cred.identity_token {
                return Err(login_err(
                    registry,
                    "the registry asks for basic auth; an identity token cannot answer it".into(),
                ));
            }
            let resp = send(
                registry,
                client
                    .get(format!("{base}/v2/"))
                    .basic_auth(&cred.username, Some(&cred.secret)),
            )
            .await?;
            answer(registry, resp).await
        }
        None => Err(login_err(
            registry,
            "HTTP 401 without a Basic or Bearer WWW-Authenticate challenge".into(),
        )),
    }
}

/// A client trusting the system's roots plus the registry's own CAs (certs.d).
fn client_for(
    registry: &str,
    host: &str,
    config: &RegistryConfig,
) -> Result<Client, RegistryError> {
    super::client::install_crypto();
    let mut certs = Vec::new();
    for pem in config.ca_certs(host)? {
        let parsed = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            login_err(
                registry,
                format!(
                    "CA certificate under {}/{host}: {e}",
                    config.certs_d().display()
                ),
            )
        })?;
        certs.extend(parsed);
    }
    Client::builder()
        .tls_certs_merge(certs)
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!("compose/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            login_err(
                registry,
                format!("building the HTTP client: {}", error_chain(&e)),
            )
        })
}

/// `GET /v2/` over HTTPS, or over plain HTTP when HTTPS cannot connect and `host` may be
/// spoken to in the clear. Returns the base URL that answered and its response.
async fn ping(
    client: &Client,
    registry: &str,
    host: &str,
    config: &RegistryConfig,
) -> Result<(String, reqwest::Response), RegistryError> {
    let https = format!("https://{host}");
    match client.get(format!("{https}/v2/")).send().await {
        Ok(resp) => Ok((https, resp)),
        Err(e) if e.is_connect() && config.allows_http(host) => {
            let http = format!("http://{host}");
            match client.get(format!("{http}/v2/")).send().await {
                // A TLS server answers plain HTTP with 400: the HTTPS error is the one to show
                // (an unknown CA, most often).
                Ok(resp)
                    if !resp.status().is_success() && resp.status() != StatusCode::UNAUTHORIZED =>
                {
                    Err(unreachable(
                        registry,
                        format!("https: {}; http: HTTP {}", error_chain(&e), resp.status()),
                    ))
                }
                Ok(resp) => Ok((http, resp)),
                Err(e2) => Err(unreachable(
                    registry,
                    format!("https: {}; http: {}", error_chain(&e), error_chain(&e2)),
                )),
            }
        }
        Err(e) => Err(unreachable(registry, error_chain(&e))),
    }
}

async fn bearer(
    client: &Client,
    registry: &str,
    challenge: &Challenge,
    cred: &Credential,
    config: &RegistryConfig,
) -> Result<(), RegistryError> {
    let realm = challenge
        .param("realm")
        .ok_or_else(|| login_err(registry, "Bearer challenge without a realm".into()))?;
    let mut url = Url::parse(realm)
        .map_err(|e| login_err(registry, format!("Bearer realm {realm:?}: {e}")))?;
    // The password goes to the realm: never in the clear unless that host may be.
    let realm_host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => String::new(),
    };
    let allowed = match url.scheme() {
        "https" => !realm_host.is_empty(),
        "http" => !realm_host.is_empty() && config.allows_http(&realm_host),
        _ => false,
    };
    if !allowed {
        return Err(login_err(
            registry,
            format!("refusing to send credentials to the Bearer realm {realm:?} (https, or http on a loopback or insecure registry, expected)"),
        ));
    }
    let service = challenge.param("service").unwrap_or_default();
    let request = if cred.identity_token {
        // Docker's OAuth2 flow for identity (refresh) tokens.
        let mut form = Url::parse("http://form.invalid/").expect("constant URL");
        form.query_pairs_mut()
            .append_pair("grant_type", "refresh_token")
            .append_pair("service", service)
            .append_pair("client_id", "compose")
            .append_pair("refresh_token", &cred.secret);
        let body = form.query().unwrap_or_default().to_string();
        client
            .post(url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
    } else {
        {
            let mut q = url.query_pairs_mut();
            if !service.is_empty() {
                q.append_pair("service", service);
            }
            q.append_pair("account", &cred.username);
        }
        client
            .get(url)
            .basic_auth(&cred.username, Some(&cred.secret))
    };
    let resp = send(registry, request).await?;
    if !resp.status().is_success() {
        return answer(registry, resp).await;
    }
    let body = read_bounded(resp).await;
    let token = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            ["token", "access_token"]
                .iter()
                .find_map(|k| v.get(k).and_then(|t| t.as_str()).map(|t| !t.is_empty()))
        })
        .unwrap_or(false);
    if !token {
        return Err(login_err(
            registry,
            "the token service answered without a token".into(),
        ));
    }
    Ok(())
}

/// 2xx: logged in; 401/403: the credential is refused; anything else: a protocol error.
async fn answer(registry: &str, resp: reqwest::Response) -> Result<(), RegistryError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body = read_bounded(resp).await;
    let message = error_message(&body);
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(RegistryError::LoginRejected {
            registry: registry.into(),
            // The registry's own code is usually "unauthorized" too: say it once.
            detail: message
                .map(|m| {
                    m.strip_prefix("unauthorized: ")
                        .map(str::to_string)
                        .unwrap_or(m)
                })
                .unwrap_or_else(|| "incorrect username or password".into()),
        });
    }
    Err(login_err(
        registry,
        match message {
            Some(m) => format!("HTTP {status}: {m}"),
            None => format!("HTTP {status}"),
        },
    ))
}

async fn send(
    registry: &str,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, RegistryError> {
    request
        .send()
        .await
        .map_err(|e| unreachable(registry, error_chain(&e)))
}

/// Reads at most [`MAX_BODY`] bytes of a body; a body that fails half way is what arrived.
async fn read_bounded(mut resp: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = MAX_BODY - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_BODY {
            break;
        }
    }
    body
}

/// The distribution API's `{"errors": [{"code", "message"}]}`, or a token service's
/// `{"details"}`, as one printable line.
fn error_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = if let Some(first) = v.get("errors").and_then(|e| e.get(0)) {
        let code = first.get("code").and_then(|c| c.as_str()).unwrap_or("");
        let msg = first.get("message").and_then(|c| c.as_str()).unwrap_or("");
        match (code.is_empty(), msg.is_empty()) {
            (false, false) => format!("{}: {msg}", code.to_ascii_lowercase()),
            (true, false) => msg.to_string(),
            (false, true) => code.to_ascii_lowercase(),
            (true, true) => return None,
        }
    } else {
        v.get("details")
            .or_else(|| v.get("error"))
            .and_then(|d| d.as_str())?
            .to_string()
    };
    let clean: String = text.chars().filter(|c| !c.is_control()).take(300).collect();
    (!clean.is_empty()).then_some(clean)
}

/// A `WWW-Authenticate` challenge: its scheme (lower case) and parameters.
#[derive(Debug, PartialEq, Eq)]
struct Challenge {
    scheme: String,
    params: Vec<(String, String)>,
}

impl Challenge {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `Scheme key="value", key=token, ...` (RFC 7235; quoted values may hold commas and
/// backslash escapes). `None` for an empty header.
fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, mut rest) = match header.split_once(char::is_whitespace) {
        Some((s, r)) => (s, r),
        None => (header, ""),
    };
    if scheme.is_empty() {
        return None;
    }
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end.min(quoted.len())..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        params.push((key, value));
        rest = remaining;
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

fn login_err(registry: &str, detail: String) -> RegistryError {
    RegistryError::Login {
        registry: registry.into(),
        detail,
    }
}

fn unreachable(registry: &str, detail: String) -> RegistryError {
    login_err(registry, format!("registry is unreachable: {detail}"))
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use super::*;

    fn cred(user: &str, secret: &str) -> Credential {
        Credential {
            username: user.into(),
            secret: secret.into(),
            identity_token: false,
        }
    }

    /// A plain-HTTP registry on 127.0.0.1 answering each request with `respond(request line,
    /// authorization header)`; records the requests. Stops when the test's listener drops.
    struct FakeRegistry {
        addr: String,
        seen: Arc<Mutex<Vec<(String, String)>>>,
    }

    impl FakeRegistry {
        fn start(respond: Respond) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let seen2 = seen.clone();
            let me = addr.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { return };
                    let (seen, me) = (seen2.clone(), me.clone());
                    std::thread::spawn(move || serve(stream, &me, &seen, respond));
                }
            });
            FakeRegistry { addr, seen }
        }
    }

    type Respond = fn(&str, &str, &str) -> (u16, Vec<(String, String)>, String);

    /// One connection: a TLS ClientHello (first byte 0x16) is hung up on, so that the client's
    /// HTTPS attempt fails its handshake at once and falls back to HTTP.
    fn serve(
        mut stream: std::net::TcpStream,
        me: &str,
        seen: &Mutex<Vec<(String, String)>>,
        respond: Respond,
    ) {
        let mut first = [0u8; 1];
        if stream.peek(&mut first).is_err() || first[0] == 0x16 {
            return;
        }
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let mut auth = String::new();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("authorization") {
                    auth = v.trim().to_string();
                } else if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        // A request body (a POSTed form) follows the request line after a newline.
        let mut line = line.trim().to_string();
        if length > 0 {
            let mut body = vec![0u8; length.min(4096)];
            if std::io::Read::read_exact(&mut reader, &mut body).is_ok() {
                line.push('\n');
                line.push_str(&String::from_utf8_lossy(&body));
            }
        }
        seen.lock().unwrap().push((line.clone(), auth.clone()));
        let (status, headers, body) = respond(me, &line, &auth);
        let mut out = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(&body);
        let _ = stream.write_all(out.as_bytes());
    }

    fn basic(user: &str, pass: &str) -> String {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    }

    fn basic_registry(_me: &str, line: &str, auth: &str) -> (u16, Vec<(String, String)>, String) {
        if line.starts_with("GET /v2/ ") && auth == basic("alice", "good") {
            return (200, vec![], "{}".into());
        }
        (
            401,
            vec![(
                "WWW-Authenticate".into(),
                "Basic realm=\"Registry Realm\"".into(),
            )],
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.into(),
        )
    }

    fn bearer_registry(me: &str, line: &str, auth: &str) -> (u16, Vec<(String, String)>, String) {
        if line.starts_with("GET /v2/ ") {
            let challenge = format!("Bearer realm=\"http://{me}/token\",service=\"reg, test\"");
            return (
                401,
                vec![("Www-Authenticate".into(), challenge)],
                String::new(),
            );
        }
        if line.starts_with("GET /token?service=reg%2C+test&account=alice ")
            && auth == basic("alice", "good")
        {
            return (200, vec![], r#"{"token":"t","expires_in":60}"#.into());
        }
        // Docker's OAuth2 refresh-token grant, for identity tokens.
        if line.starts_with("POST /token ")
            && line.ends_with(
                "\ngrant_type=refresh_token&service=reg%2C+test&client_id=compose&refresh_token=rt-1",
            )
        {
            return (200, vec![], r#"{"access_token":"t"}"#.into());
        }
        (
            401,
            vec![],
            r#"{"details":"incorrect username or password"}"#.into(),
        )
    }

    #[test]
    fn basic_challenge_accepts_good_and_rejects_wrong_credentials() {
        let reg = FakeRegistry::start(basic_registry);
        let config = RegistryConfig::default();
        verify_login(&reg.addr, &cred("alice", "good"), &config).unwrap();
        let err = verify_login(&reg.addr, &cred("alice", "bad"), &config).unwrap_err();
        assert!(matches!(err, RegistryError::LoginRejected { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains(&reg.addr) && text.contains("unauthorized"),
            "{text}"
        );
        assert!(!text.contains("bad"), "{text}");
    }

    /// Docker Hub's flow: a Bearer challenge, a token asked from the realm with basic auth,
    /// `service` and `account` in the query.
    #[test]
    fn bearer_challenge_asks_the_realm_for_a_token_like_docker() {
        let reg = FakeRegistry::start(bearer_registry);
        let config = RegistryConfig::default();
        verify_login(&reg.addr, &cred("alice", "good"), &config).unwrap();
        let err = verify_login(&reg.addr, &cred("alice", "wrong"), &config).unwrap_err();
        assert!(matches!(err, RegistryError::LoginRejected { .. }), "{err}");
        assert!(
            err.to_string().contains("incorrect username or password"),
            "{err}"
        );
        let token = |t: &str| Credential {
            username: String::new(),
            secret: t.into(),
            identity_token: true,
        };
        verify_login(&reg.addr, &token("rt-1"), &config).unwrap();
        let err = verify_login(&reg.addr, &token("rt-2"), &config).unwrap_err();
        assert!(matches!(err, RegistryError::LoginRejected { .. }), "{err}");
        let seen = reg.seen.lock().unwrap();
        assert!(
            seen.iter().any(|(l, _)| l.starts_with("GET /token?")),
            "{seen:?}"
        );
        // An identity token never goes out as basic auth.
        assert!(seen
            .iter()
            .filter(|(l, _)| l.starts_with("POST"))
            .all(|(_, a)| a.is_empty()));
    }

    fn http_realm_elsewhere(
        me: &str,
        line: &str,
        _auth: &str,
    ) -> (u16, Vec<(String, String)>, String) {
        let _ = (me, line);
        let challenge = "Bearer realm=\"http://10.255.255.1/token\",service=\"s\"".to_string();
        (
            401,
            vec![("WWW-Authenticate".into(), challenge)],
            String::new(),
        )
    }

    /// A registry may not have the password sent in the clear to a realm that is neither on
    /// loopback nor listed insecure: refused before any request leaves.
    #[test]
    fn credentials_are_not_sent_to_a_plain_http_realm_off_loopback() {
        let reg = FakeRegistry::start(http_realm_elsewhere);
        let err = verify_login(&reg.addr, &cred("a", "b"), &RegistryConfig::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("refusing to send credentials") && err.contains("10.255.255.1"),
            "{err}"
        );
        assert_eq!(reg.seen.lock().unwrap().len(), 1);
    }

    #[test]
    fn challenges_parse_quoted_commas_and_escapes() {
        let c = parse_challenge(r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io", scope="repository:a/b:pull,push", x=tok"#).unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c.param("service"), Some("registry.docker.io"));
        assert_eq!(c.param("scope"), Some("repository:a/b:pull,push"));
        assert_eq!(c.param("x"), Some("tok"));
        let c = parse_challenge(r#"Basic realm="a \"q\" b""#).unwrap();
        assert_eq!(
            (c.scheme.as_str(), c.param("realm")),
            ("basic", Some("a \"q\" b"))
        );
        assert_eq!(parse_challenge(""), None);
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
    }
}
