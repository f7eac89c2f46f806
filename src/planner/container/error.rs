//! The spec builder's error: every refusal names the service it is about.

use crate::engine::runtime::caps as capabilities;
use crate::engine::runtime::seccomp;
use crate::engine::runtime::user;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("service {service}: {message}")]
    Invalid { service: String, message: String },
    #[error(transparent)]
    User(#[from] user::UserError),
    #[error(transparent)]
    Caps(#[from] capabilities::CapsError),
    #[error(transparent)]
    Seccomp(#[from] seccomp::SeccompError),
    #[error("device {path}: {source}")]
    Device {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub(super) struct Ctx<'a> {
    pub(super) service: &'a str,
}

impl Ctx<'_> {
    pub(super) fn err(&self, message: impl Into<String>) -> SpecError {
        SpecError::Invalid {
            service: self.service.to_string(),
            message: message.into(),
        }
    }
}
