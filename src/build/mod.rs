//! Images from Dockerfiles (issue 14).
//!
//! `build/` sits beside the stack: it may use [`crate::engine`] (containers for `RUN`, the image
//! store) and the planner's container defaults (masked paths, devices: a RUN container is an
//! ordinary container) and of the model only its value types (durations) — the stack turns a
//! service's `build:` section into a [`BuildRequest`] — and `stack/` calls it. The parts: [`dockerfile`] turns a Dockerfile
//! into typed, validated stages and expands variables the way BuildKit does; [`context`] lists
//! the files a build may read (`.dockerignore` with Docker's rules, never following a symlink
//! out of the context) and hashes their content on request; [`layers`] reads a stage's stack of
//! layer directories as one merged tree without mounting it; [`copy`] writes one COPY/ADD into
//! a new layer directory and computes the content half of its cache key; [`run`] runs one RUN
//! in a container of the engine; [`builder`] decides the stages, scopes, cache keys and image
//! config and drives the others.
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
