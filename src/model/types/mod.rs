//! The typed Compose model: every top-level section and service key of the Compose
//! specification, with short and long syntaxes normalized to one form. Deserialized from the
//! loader's merged tree; serialized in the shape `docker compose config` prints.
pub mod build;
pub mod build_context;
pub mod bytes;
pub mod deploy;
pub mod devices;
pub mod duration;
pub(crate) mod fields;
pub mod file_reference;
pub mod mounts;
pub mod ports;
pub mod pull_policy;
pub mod resources;
pub mod service;
pub(crate) mod syntax;
pub mod ulimits;
