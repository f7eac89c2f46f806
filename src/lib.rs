//! `compose`: a daemonless, Compose-compatible multi-container tool.
//!
//! The crate is split along the path a stack takes: [`model`] turns Compose files into a typed,
//! validated project; [`planner`] turns a project and the observed state into ordered actions;
//! [`engine`] carries those actions out; [`build`] turns Dockerfiles into images (its front end,
//! the Dockerfile parser and the build context, so far); [`cli`] only parses flags and renders output.
pub mod build;
pub mod cli;
pub mod engine;
pub mod kube;
pub mod model;
pub mod planner;
pub mod stack;
