//! The Dockerfile parser (src/build/dockerfile): lines, heredocs, directives, instructions.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = compose::build::dockerfile::parse(text, "Dockerfile");
});
