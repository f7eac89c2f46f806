//! The image store: references, content-addressed blobs, unpacked layers shared between
//! images, image configs and tags; loading and saving image archives; packing a directory into
//! a layer and storing what a build made (`pack`, `commit`); test images.
//!
//! The runtime gets an [`Image`] from [`ImageStore::resolve`]: its config and its unpacked
//! layers, topmost first, ready to be overlayfs lower dirs.
mod archive;
mod blobs;
mod commit;
mod digests;
mod ingest;
mod inspect;
pub(crate) use ingest::Ingest;
pub mod layer;
mod list;
mod lookup;
pub mod pack;
mod pins;
mod prune;
mod pulls;
pub mod reference;
mod remove;
mod snapshot;
mod store;
mod tag;
pub mod testimage;
mod unpacked;

pub use archive::host_arch;
pub use pack::{PackError, PackOptions, PackedLayer};
pub use prune::PruneReport;
pub use reference::{Reference, ReferenceError};
pub use store::{
    BlobRef, Image, ImageError, ImageHealthcheck, ImageRecord, ImageStore, ImageSummary, LayerRef,
    LoadedImage, RemoveEvent,
};

#[cfg(test)]
mod tests;
