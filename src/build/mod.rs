//! Images from Dockerfiles (issue 14).
//!
//! `build/` sits beside the planner: it may use [`crate::model`] (the Compose `build:` section)
//! and [`crate::engine`] (containers for `RUN`, the image store), and `stack/` calls it. It will
//! hold the Dockerfile front end, the build context, the step executor and the layer cache;
//! today it holds these parts, and no orchestrator yet: [`dockerfile`] turns a Dockerfile into
//! typed, validated stages and expands variables the way BuildKit does; [`context`] lists the
//! files a build may read (`.dockerignore` with Docker's rules, never following a symlink out of
//! the context) and hashes their content on request; [`layers`] reads a stage's stack of
//! layer directories as one merged tree without mounting it; [`copy`] writes one COPY/ADD into
//! a new layer directory and computes the content half of its cache key.
pub mod builder;
pub mod context;
pub mod copy;
pub mod dockerfile;
mod error;
pub mod layers;
pub mod progress;
pub mod request;
pub mod run;

pub use builder::{build, BaseImages, BuiltImage};
pub use error::BuildError;
pub use progress::{BuildProgress, StepInfo, StepOutcome};
pub use request::{BuildNetwork, BuildRequest, DockerfileSource, NamedContext, SecretSource};
