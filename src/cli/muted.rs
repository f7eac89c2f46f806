//! `--quiet-pull` and `--quiet-build` of `up`, `create` and `run`: the command's progress as
//! `--progress` asks for it, less the pulls' or the builds' own lines.

use std::sync::Arc;

use crate::build::BuildProgress;
use crate::engine::registry::PullProgress;
use crate::stack::Reporter;

/// Forwards everything to `inner` but the progress of pulls (`quiet_pull`) or of builds
/// (`quiet_build`), which then show nothing; warnings and errors still come through.
pub(crate) struct Muted {
    pub inner: Box<dyn Reporter>,
    pub quiet_pull: bool,
    pub quiet_build: bool,
}

impl Reporter for Muted {
    fn event(&mut self, kind: &str, name: &str, action: &str) {
        self.inner.event(kind, name, action);
    }
    fn warn(&mut self, message: &str) {
        self.inner.warn(message);
    }
    fn output(&mut self, source: &str, line: &str) {
        self.inner.output(source, line);
    }
    fn pull_progress(&mut self) -> Option<Arc<dyn PullProgress>> {
        if self.quiet_pull {
            None
        } else {
            self.inner.pull_progress()
        }
    }
    fn build_progress(&mut self) -> Option<Box<dyn BuildProgress>> {
        if self.quiet_build {
            None
        } else {
            self.inner.build_progress()
        }
    }
}

/// `reporter` less the pulls' progress with `quiet_pull`, the builds' with `quiet_build`.
pub(crate) fn muted(
    reporter: Box<dyn Reporter>,
    quiet_pull: bool,
    quiet_build: bool,
) -> Box<dyn Reporter> {
    if quiet_pull || quiet_build {
        Box::new(Muted {
            inner: reporter,
            quiet_pull,
            quiet_build,
        })
    } else {
        reporter
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::PlainReporter;

    #[test]
    fn quiet_pull_and_quiet_build_drop_only_their_own_progress() {
        let mut both = Muted {
            inner: Box::new(super::super::progress::PlainCli),
            quiet_pull: true,
            quiet_build: true,
        };
        assert!(both.pull_progress().is_none());
        assert!(both.build_progress().is_none());
        let mut neither = Muted {
            inner: Box::new(super::super::progress::PlainCli),
            quiet_pull: false,
            quiet_build: false,
        };
        assert!(neither.pull_progress().is_some());
        assert!(neither.build_progress().is_some());
        let mut pull_only = Muted {
            inner: Box::new(super::super::progress::PlainCli),
            quiet_pull: true,
            quiet_build: false,
        };
        assert!(pull_only.pull_progress().is_none());
        assert!(pull_only.build_progress().is_some());
        // A reporter that shows no progress of its own stays silent either way.
        let mut plain = Muted {
            inner: Box::new(PlainReporter),
            quiet_pull: false,
            quiet_build: false,
        };
        assert!(plain.pull_progress().is_none());
    }
}
