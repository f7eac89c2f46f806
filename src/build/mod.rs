//! Building images from Dockerfiles: the build context, the Dockerfile language, execution.
pub mod context;
