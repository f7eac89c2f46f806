//! Docker's credential store. SKELETON: the credentials helper replaces the bodies.
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CredentialError {
    #[error("{0}")]
    Invalid(String),
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

#[derive(Debug, Clone, Default)]
pub struct DockerConfig {}

impl DockerConfig {
    /// `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`; a missing file is empty.
    pub fn load() -> Result<DockerConfig, CredentialError> {
        Ok(DockerConfig {})
    }

    /// The credential for `registry` (a reference's domain: `docker.io`, `127.0.0.1:5000`).
    pub fn get(&self, _registry: &str) -> Result<Option<Credential>, CredentialError> {
        Ok(None)
    }
}
