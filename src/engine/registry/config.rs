//! Registry configuration: mirrors, insecure registries, CA certificates.
//! SKELETON: the signatures are the contract; the config-file helper replaces the bodies.
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RegistryConfigError {
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Default)]
pub struct RegistryConfig {}

impl RegistryConfig {
    /// Loads the user's file, then the system one.
    pub fn load() -> Result<RegistryConfig, RegistryConfigError> {
        Ok(RegistryConfig {})
    }

    /// Hosts (`host[:port]`) to try, in order, before `registry` itself (a reference's domain:
    /// `docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    pub fn mirrors(&self, _registry: &str) -> Vec<String> {
        Vec::new()
    }

    /// Whether plain HTTP may be used for `host` (`host[:port]`): loopback, or listed insecure.
    pub fn allows_http(&self, host: &str) -> bool {
        let h = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
        h == "localhost" || h.starts_with("127.") || h == "[::1]"
    }

    /// PEM certificates of CAs to trust for `host` (`host[:port]`).
    pub fn ca_certs(&self, _host: &str) -> Result<Vec<Vec<u8>>, RegistryConfigError> {
        Ok(Vec::new())
    }
}
