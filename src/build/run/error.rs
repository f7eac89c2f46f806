//! Why a `RUN` step could not run (its command failing is no error: its exit code is the
//! result). Each names the build, so the builder's message says which one.

use std::path::{Path, PathBuf};

use crate::engine::cgroups::CgroupError;
use crate::engine::runtime::error::InitError;
use crate::engine::runtime::user::UserError;

#[derive(Debug, thiserror::Error)]
pub enum RunStepError {
    #[error("{build}: RUN: {what} {}: {source}", path.display())]
    Io {
        build: String,
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{build}: RUN: user {user:?}: {source}")]
    User {
        build: String,
        user: String,
        source: UserError,
    },
    #[error("{build}: RUN: its cgroup: {source}")]
    Cgroup { build: String, source: CgroupError },
    /// The container's set-up process failed (which step, which path, which errno).
    #[error("{build}: RUN: {error}")]
    Init { build: String, error: InitError },
    #[error("{build}: RUN: {message}")]
    Setup { build: String, message: String },
    /// The step ran, but something of it could not be removed.
    #[error("{build}: RUN: cleaning up: {}", problems.join("; "))]
    Teardown {
        build: String,
        problems: Vec<String>,
    },
}

/// Makes the errors of one build's step (so each call site says only what failed).
pub(super) struct Fail {
    build: String,
}

impl Fail {
    pub(super) fn new(build: &str) -> Fail {
        Fail {
            build: build.to_string(),
        }
    }

    pub(super) fn build(&self) -> &str {
        &self.build
    }

    pub(super) fn io(
        &self,
        what: &'static str,
        path: impl AsRef<Path>,
    ) -> impl FnOnce(std::io::Error) -> RunStepError + '_ {
        let path = path.as_ref().to_path_buf();
        move |source| RunStepError::Io {
            build: self.build.clone(),
            what,
            path,
            source,
        }
    }

    pub(super) fn user(&self, user: &str, source: UserError) -> RunStepError {
        RunStepError::User {
            build: self.build.clone(),
            user: user.to_string(),
            source,
        }
    }

    pub(super) fn cgroup(&self, source: CgroupError) -> RunStepError {
        RunStepError::Cgroup {
            build: self.build.clone(),
            source,
        }
    }

    pub(super) fn init(&self, error: InitError) -> RunStepError {
        RunStepError::Init {
            build: self.build.clone(),
            error,
        }
    }

    pub(super) fn msg(&self, message: impl ToString) -> RunStepError {
        RunStepError::Setup {
            build: self.build.clone(),
            message: message.to_string(),
        }
    }

    pub(super) fn teardown(&self, problems: Vec<String>) -> RunStepError {
        RunStepError::Teardown {
            build: self.build.clone(),
            problems,
        }
    }
}
