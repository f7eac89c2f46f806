//! What the threads of one command share: the reporter (behind a mutex), and how their
//! results come back (the first error wins, a panic goes on).

use super::{Reporter, StackError};

/// A reporter shared by the threads of one command.
pub(super) struct Shared<'a, 'r>(pub(super) &'a std::sync::Mutex<&'r mut dyn Reporter>);

impl Reporter for Shared<'_, '_> {
    fn event(&mut self, kind: &str, name: &str, action: &str) {
        lock(self.0).event(kind, name, action);
    }
    fn warn(&mut self, message: &str) {
        lock(self.0).warn(message);
    }
    fn output(&mut self, source: &str, line: &str) {
        lock(self.0).output(source, line);
    }
}

/// Locks `m`; a thread that panicked holding it left nothing half-done that matters here.
pub(super) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// The first error of joined threads (a panic is resumed).
pub(super) fn first_error(
    results: impl Iterator<Item = std::thread::Result<Result<(), StackError>>>,
) -> Result<(), StackError> {
    let mut first = Ok(());
    for r in results {
        match r {
            Ok(Err(e)) if first.is_ok() => first = Err(e),
            Ok(_) => {}
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
    first
}

/// A reporter that drops progress events but passes on warnings and hook output (a recreation
/// reports only `Recreate`/`Recreated`, yet a `pre_stop` hook's output and failure are shown).
pub(super) struct Muted<'a>(pub(super) &'a mut dyn Reporter);

impl Reporter for Muted<'_> {
    fn event(&mut self, _: &str, _: &str, _: &str) {}
    fn warn(&mut self, message: &str) {
        self.0.warn(message);
    }
    fn output(&mut self, source: &str, line: &str) {
        self.0.output(source, line);
    }
}
