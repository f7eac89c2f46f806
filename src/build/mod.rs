//! Images from Dockerfiles (issue 14).
//!
//! `build/` sits beside the planner: it may use [`crate::model`] (the Compose `build:` section)
//! and [`crate::engine`] (containers for `RUN`, the image store), and `stack/` calls it. It will
//! hold the Dockerfile front end, the build context (`.dockerignore`), the step executor and the
//! layer cache; today it holds the front end only: [`dockerfile`] turns a Dockerfile into typed,
//! validated stages and expands variables the way BuildKit does, without executing anything.
pub mod dockerfile;
