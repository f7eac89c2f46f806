//! The Compose loader (src/model): YAML, interpolation, `.env`, merging of several files,
//! `extends`/`include` between them, normalization, typing, and `compose config`'s output.
//!
//! The input is split at NUL bytes into `.env`, `compose.yaml`, `compose.override.yaml` and
//! `other.yaml` (the last one only reachable through `extends`/`include`/`env_file`), written to
//! a scratch project directory and loaded as `compose -f compose.yaml -f compose.override.yaml
//! config` would.
#![no_main]

use std::fs;

use compose::model::environment::Environment;
use compose::model::interpolate;
use compose::model::load::{load, load_model, LoadOptions};
use compose::model::output;
use compose_fuzz::Sandbox;
use libfuzzer_sys::fuzz_target;

const FILES: [&str; 4] = [
    ".env",
    "compose.yaml",
    "compose.override.yaml",
    "other.yaml",
];

fuzz_target!(|text: &str| {
    let sandbox = Sandbox::get();
    let dir = sandbox.fresh("project");
    let parts: Vec<&str> = text.splitn(FILES.len(), '\0').collect();
    for (name, part) in FILES.iter().zip(&parts) {
        fs::write(dir.join(name), part).expect("writing a fuzz input file");
    }
    let mut env = Environment::default();
    env.set("HOME", "/nonexistent");
    env.set("USER", "fuzz");
    let mut opts = LoadOptions::new(&dir, env);
    opts.project_name = Some("fuzz".into());
    opts.files = FILES[1..parts.len().clamp(2, 3)]
        .iter()
        .map(Into::into)
        .collect();
    // The untyped path (`config --no-interpolate`, `--variables`) ...
    opts.interpolate = false;
    if let Ok(model) = load_model(&opts) {
        let _ = interpolate::variables(&model.tree);
        let _ = output::render(&output::tree_value(&model.tree), false);
    }
    // ... and the full one (`config`, `config --hash '*'`, `--images`).
    opts.interpolate = true;
    if let Ok(loaded) = load(&opts) {
        if let Ok(value) = output::project_value(&loaded.project) {
            let _ = output::render(&value, false);
            let _ = output::render(&value, true);
        }
        let _ = output::hashes(&loaded.project, "*");
        let _ = output::images(&loaded.project);
    }
    sandbox.check_and_clear();
});
