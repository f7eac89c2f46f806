//! Compose files -> typed, validated, normalized project. No I/O beyond reading files.
//!
//! The loading pipeline, one module a step: [`yaml`] (parse into [`node`]s with positions) -> [`interpolate`]
//! (`${VAR}` from [`environment`], fed by [`dotenv`]) -> [`include`] -> [`extends`] -> [`merge`]
//! (several `-f` files) -> [`profiles`] -> [`normalize`] -> [`types`] (typed model) ->
//! [`validate`]; [`load`] runs the pipeline, [`discovery`] finds the files and the project name.
pub mod de;
pub mod discovery;
pub mod dotenv;
pub mod environment;
pub mod error;
pub mod extends;
pub mod hash;
pub mod include;
pub mod interpolate;
pub mod load;
pub mod merge;
pub mod node;
pub mod normalize;
pub mod output;
pub mod paths;
pub mod profiles;
pub mod types;
pub mod validate;
pub mod yaml;

pub use error::{ErrorKind, LoadError, Span};
