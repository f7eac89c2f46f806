//! Diagnostics through `tracing`: which events are shown (`--log-level`, `COMPOSE_LOG`) and
//! where they go — standard error for a command (standard output is for what scripts parse),
//! `monitor.log` in the container's directory for a monitor, which has no terminal.
//!
//! The engine emits debug and trace events at its real steps; nothing is shown below `warn`
//! unless asked, so the default output of every command stays as it was. The filter a command
//! runs under is remembered so the monitors it starts log at the same level (see
//! [`active_filter`]).

mod capped_file;
mod filter;

use std::path::Path;
use std::sync::{Mutex, OnceLock};

pub use capped_file::{CappedFile, MONITOR_LOG_CAP};
pub use filter::{resolve, FilterError, Level, DEFAULT_FILTER};

/// The variable that sets the filter when `--log-level` is not given: a level or
/// `tracing-subscriber` directives (`compose::engine::network=debug,warn`), as `RUST_LOG`.
pub const LOG_ENV: &str = "COMPOSE_LOG";

/// The filter this process was set up with, handed to the monitors it starts.
static ACTIVE: OnceLock<String> = OnceLock::new();

/// The filter [`init_stderr`] or [`init_file`] installed, if either ran in this process (the
/// library's own tests run without one, and their monitors then read `COMPOSE_LOG` as is).
pub fn active_filter() -> Option<&'static str> {
    ACTIVE.get().map(String::as_str)
}

/// Sends this process's events to standard error under `directives` (already checked by
/// [`resolve`]); `color` adds ANSI colors. A second call keeps the first subscriber.
pub fn init_stderr(directives: &str, color: bool) -> Result<(), FilterError> {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(color);
    // A bare level needs no EnvFilter (its per-thread span scopes cost memory and time).
    let installed = match filter::bare_level(directives) {
        Some(level) => builder.with_max_level(level).try_init(),
        None => builder
            .with_env_filter(filter::env_filter(directives)?)
            .try_init(),
    };
    if installed.is_ok() {
        remember(directives);
    }
    Ok(())
}

/// Sends this process's events to `path` (created 0600 on the first event, kept under
/// [`MONITOR_LOG_CAP`]) under `directives`; for a monitor, which has no terminal. A filter
/// that does not parse falls back to the default: a monitor has nobody to tell.
pub fn init_file(path: &Path, directives: Option<&str>) {
    let directives = directives
        .filter(|d| filter::env_filter(d).is_ok())
        .unwrap_or(DEFAULT_FILTER);
    // At the default level a monitor installs nothing: a subscriber costs each monitor about
    // 260 KiB (release, `cargo bench --bench lifecycle -- 3 5 20`: Pss 669 -> 929 KiB), the
    // per-container overhead BENCHMARKS.md holds down, for the rare warning it would file.
    // Asked for diagnostics (`--log-level`, `COMPOSE_LOG`), it writes them to `path`.
    if directives == DEFAULT_FILTER {
        return;
    }
    let writer = Mutex::new(CappedFile::new(path.to_path_buf(), MONITOR_LOG_CAP));
    let builder = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false);
    // The monitor's memory is the engine's per-container cost: a bare level (the usual case)
    // goes without EnvFilter.
    let installed = match filter::bare_level(directives) {
        Some(level) => builder.with_max_level(level).try_init(),
        None => match filter::env_filter(directives) {
            Ok(f) => builder.with_env_filter(f).try_init(),
            Err(_) => return,
        },
    };
    if installed.is_ok() {
        remember(directives);
    }
}

fn remember(directives: &str) {
    // Set once: only the subscriber that was installed records its filter.
    let _ = ACTIVE.set(directives.to_string());
}
