//! Image references (src/engine/image/reference.rs): parsing and everything derived from a
//! parsed one.
#![no_main]

use compose::engine::image::Reference;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = Reference::parse_raw(text);
    if let Ok(r) = Reference::parse(text) {
        let _ = (r.domain(), r.path(), r.tag(), r.digest(), r.name());
        let _ = (r.familiar_name(), r.familiar(), r.to_string());
        let _ = r.with_tag("latest");
        let _ = r.with_digest(text);
    }
});
