//! Layer unpacking (src/engine/image/layer.rs): compression detection, then an arbitrary tar
//! stream (whiteouts, links, devices, PAX records, xattrs) unpacked into a scratch directory.
//! Nothing may be written outside that directory.
#![no_main]

use compose::engine::image::layer::{decompress, unpack, UnpackOptions};
use compose_fuzz::Sandbox;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let sandbox = Sandbox::get();
    let dest = sandbox.fresh("layer");
    if let Ok(reader) = decompress(data) {
        let _ = unpack(reader, &dest, &UnpackOptions::default());
    }
    sandbox.check_and_clear();
});
