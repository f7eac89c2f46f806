//! The `.env` parser (src/model/dotenv.rs), with interpolation from a small environment.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let lookup = |name: &str| (name == "HOME").then(|| "/root".to_string());
    let _ = compose::model::dotenv::parse(text, &lookup);
});
