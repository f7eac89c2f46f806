//! Connections to registries: which scheme a host speaks, which CAs it is trusted with, which
//! credentials it gets, and the `oci_client::Client` for it; and the translation of
//! `oci-client`'s errors into one line naming image and registry.
//!
//! One [`Endpoint`] per host contacted, made on first use: its scheme is found by asking
//! `https://HOST/v2/` first and, only for hosts that may be plain (loopback or configured
//! insecure, as Docker does), `http://` when TLS cannot be spoken there.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use tokio::sync::Mutex;

use super::config::RegistryConfig;
use super::credentials::DockerConfig;
use super::error::RegistryError;
use crate::engine::image::Reference;

/// Host Docker's clients talk to for `docker.io` names.
pub const DOCKER_HUB_HOST: &str = "registry-1.docker.io";
const USER_AGENT: &str = concat!("compose/", env!("CARGO_PKG_VERSION"));

/// A host as contacted, with its client and credentials.
pub struct Endpoint {
    /// `host[:port]`.
    pub host: String,
    pub scheme: &'static str,
    pub client: oci_client::Client,
    pub auth: RegistryAuth,
}

impl Endpoint {
    /// `reference` as `oci-client` names it on this endpoint (a mirror serves the repository
    /// under the same path).
    pub fn reference(&self, reference: &Reference) -> oci_client::Reference {
        let mut r = match (reference.tag(), reference.digest()) {
            (_, Some(d)) => oci_client::Reference::with_digest(
                reference.domain().to_string(),
                reference.path().to_string(),
                d.to_string(),
            ),
            (Some(t), None) => oci_client::Reference::with_tag(
                reference.domain().to_string(),
                reference.path().to_string(),
                t.to_string(),
            ),
            (None, None) => oci_client::Reference::with_tag(
                reference.domain().to_string(),
                reference.path().to_string(),
                "latest".to_string(),
            ),
        };
        r.set_mirror_registry(self.host.clone());
        r
    }
}

/// The endpoints of one command, shared by its concurrent pulls and pushes.
pub struct Connections {
    config: RegistryConfig,
    credentials: DockerConfig,
    endpoints: Mutex<BTreeMap<String, Arc<Endpoint>>>,
}

/// The host that serves a reference's domain (Docker Hub's API lives on another name).
pub fn api_host(domain: &str) -> &str {
    match domain {
        "docker.io" | "index.docker.io" => DOCKER_HUB_HOST,
        other => other,
    }
}

/// Makes ring the process's TLS crypto provider: reqwest and oci-client are built without one.
/// aws-lc-rs, their default, spent ~60 ms starting up in every process (measured with strace
/// on `image pull` of a stored image); ring's provider lacks only the post-quantum key
/// exchange (hence rustls' deprecation note), which no registry requires.
#[allow(deprecated)]
pub fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err only when a provider is installed already, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Connections {
    pub fn new(config: RegistryConfig, credentials: DockerConfig) -> Connections {
        install_crypto();
        Connections {
            config,
            credentials,
            endpoints: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// Hosts to try for `domain`, in order: its mirrors, then itself.
    pub fn hosts_for_pull(&self, domain: &str) -> Vec<String> {
        let mut hosts = self.config.mirrors(domain);
        hosts.push(api_host(domain).to_string());
        hosts
    }

    /// The endpoint for `host`, connecting on first use. `domain` is the registry the
    /// credentials are looked up for (a mirror gets its own, if any).
    pub async fn endpoint(
        &self,
        image: &str,
        domain: &str,
        host: &str,
    ) -> Result<Arc<Endpoint>, RegistryError> {
        let mut endpoints = self.endpoints.lock().await;
        if let Some(e) = endpoints.get(host) {
            return Ok(e.clone());
        }
        let certs = self.config.ca_certs(host)?;
        let scheme = probe_scheme(image, host, &certs, self.config.allows_http(host)).await?;
        let cred_key = if host == api_host(domain) {
            domain
        } else {
            host
        };
        let auth = match self.credentials.get(cred_key)? {
            Some(c) => RegistryAuth::Basic(c.username, c.secret),
            None => RegistryAuth::Anonymous,
        };
        let client = oci_client::Client::new(ClientConfig {
            protocol: if scheme == "http" {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            extra_root_certificates: certs
                .into_iter()
                .map(|data| Certificate {
                    encoding: CertificateEncoding::Pem,
                    data,
                })
                .collect(),
            // Indexes are resolved by the puller, which knows the platform asked for.
            platform_resolver: None,
            connect_timeout: Some(Duration::from_secs(15)),
            read_timeout: Some(Duration::from_secs(60)),
            user_agent: USER_AGENT,
            ..ClientConfig::default()
        });
        let endpoint = Arc::new(Endpoint {
            host: host.to_string(),
            scheme,
            client,
            auth,
        });
        endpoints.insert(host.to_string(), endpoint.clone());
        Ok(endpoint)
    }
}

/// `https` when the host speaks TLS (with the system's roots and its own CAs); `http` when it
/// does not and may be plain. Any HTTP answer (401 included) settles it.
async fn probe_scheme(
    image: &str,
    host: &str,
    certs: &[Vec<u8>],
    allows_http: bool,
) -> Result<&'static str, RegistryError> {
    let unreachable = |detail: String| RegistryError::Unreachable {
        image: image.to_string(),
        registry: host.to_string(),
        detail,
    };
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(30));
    for pem in certs {
        let cert = reqwest::Certificate::from_pem(pem)
            .map_err(|e| unreachable(format!("its CA certificate is invalid: {e}")))?;
        builder = builder.add_root_certificate(cert);
    }
    let client = builder
        .build()
        .map_err(|e| unreachable(format!("cannot set up TLS: {e}")))?;
    let https = client.get(format!("https://{host}/v2/")).send().await;
    let https_err = match https {
        Ok(_) => return Ok("https"),
        Err(e) => e,
    };
    if allows_http {
        match client.get(format!("http://{host}/v2/")).send().await {
            // A TLS server answers plain HTTP with 400: then the HTTPS error is the one to
            // show (an unknown CA, most often), as `compose login` does.
            Ok(resp)
                if resp.status().is_success()
                    || resp.status() == reqwest::StatusCode::UNAUTHORIZED =>
            {
                return Ok("http")
            }
            Ok(resp) => {
                return Err(unreachable(format!(
                    "https: {}; http: HTTP {}",
                    error_chain(&https_err),
                    resp.status()
                )))
            }
            Err(http_err) => {
                return Err(unreachable(format!(
                    "https: {}; http: {}",
                    error_chain(&https_err),
                    error_chain(&http_err)
                )))
            }
        }
    }
    Err(unreachable(error_chain(&https_err)))
}

/// An error and its causes on one line (reqwest's own message is only the outermost).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        cur = s.source();
    }
    out
}

/// One line naming image and registry for what `oci-client` reports; `what` is the object
/// asked for (`manifest for busybox:1`, `blob sha256:…`).
pub fn map_error(
    image: &str,
    registry: &str,
    what: &str,
    e: OciDistributionError,
) -> RegistryError {
    let image_s = image.to_string();
    let registry_s = registry.to_string();
    match e {
        OciDistributionError::UnauthorizedError { .. } => RegistryError::Unauthorized {
            image: image_s,
            registry: registry_s,
            detail: "authentication required".into(),
        },
        OciDistributionError::AuthenticationFailure(reason) => RegistryError::Unauthorized {
            image: image_s,
            registry: registry_s,
            detail: format!(
                "the token service refused the credentials: {}",
                reason.trim()
            ),
        },
        OciDistributionError::RegistryError { envelope, .. } => {
            let first = envelope.errors.first();
            let message = envelope
                .errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            match first.map(|e| &e.code) {
                Some(
                    OciErrorCode::ManifestUnknown
                    | OciErrorCode::NameUnknown
                    | OciErrorCode::BlobUnknown,
                ) => RegistryError::NotFound {
                    image: image_s,
                    registry: registry_s,
                    what: what.to_string(),
                },
                Some(OciErrorCode::Unauthorized | OciErrorCode::Denied) => {
                    RegistryError::Unauthorized {
                        image: image_s,
                        registry: registry_s,
                        detail: message,
                    }
                }
                Some(OciErrorCode::Toomanyrequests) => RegistryError::RateLimited {
                    image: image_s,
                    registry: registry_s,
                    reset: format!(": {message}"),
                },
                _ => RegistryError::Protocol {
                    image: image_s,
                    registry: registry_s,
                    detail: format!("{what}: {message}"),
                },
            }
        }
        OciDistributionError::ServerError { code, message, .. } => match code {
            404 => RegistryError::NotFound {
                image: image_s,
                registry: registry_s,
                what: what.to_string(),
            },
            401 | 403 => RegistryError::Unauthorized {
                image: image_s,
                registry: registry_s,
                detail: format!("HTTP {code}"),
            },
            429 => RegistryError::RateLimited {
                image: image_s,
                registry: registry_s,
                reset: String::new(),
            },
            _ => RegistryError::Protocol {
                image: image_s,
                registry: registry_s,
                detail: format!("{what}: HTTP {code}: {}", first_line(&message)),
            },
        },
        OciDistributionError::DigestError(d) => RegistryError::Protocol {
            image: image_s,
            registry: registry_s,
            detail: format!("{what}: {d}"),
        },
        OciDistributionError::RequestError(r) if r.is_connect() || r.is_timeout() => {
            RegistryError::Unreachable {
                image: image_s,
                registry: registry_s,
                detail: error_chain(&r),
            }
        }
        other => RegistryError::Protocol {
            image: image_s,
            registry: registry_s,
            detail: format!("{what}: {}", error_chain(&other)),
        },
    }
}

fn first_line(s: &str) -> &str {
    let line = s.lines().next().unwrap_or("").trim();
    match line.char_indices().nth(200) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}
