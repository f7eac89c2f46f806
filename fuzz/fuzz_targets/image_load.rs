//! `compose image load` of arbitrary bytes (src/engine/image/archive.rs and, through it,
//! layer.rs): an OCI image layout or docker-archive tar, into a fresh store in a scratch
//! directory. Nothing may be written outside that directory.
#![no_main]

use compose::engine::image::ImageStore;
use compose_fuzz::Sandbox;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let sandbox = Sandbox::get();
    let root = sandbox.fresh("store");
    if let Ok(store) = ImageStore::open(&root) {
        let _ = store.load_archive(data);
    }
    sandbox.check_and_clear();
});
