//! `--dry-run` for the commands that act on what exists (`start`, `stop`, `kill`, `rm`,
//! `pause`, `unpause`, `restart`, `down`, `run`): each command picks and checks its targets as
//! its real run does (a bad name or state still fails the same way), then, instead of acting,
//! hands them here. What is printed is what the real run would print for each target, in order,
//! so a dry run reads as the command's own output; the CLI's reporter marks every line with
//! Docker Compose's `DRY-RUN MODE - ` prefix. `up` and `create` report their plan through
//! the executor's `dry_run`, `build` through its own check.

use super::Reporter;

/// Reports, for each of `names` in order, the progress lines `actions` (`["Stopping",
/// "Stopped"]`) that the real run prints for a `kind` (`Container`, `Network`...), and does
/// nothing else.
pub fn report<S: AsRef<str>>(
    rep: &mut dyn Reporter,
    kind: &str,
    names: impl IntoIterator<Item = S>,
    actions: &[&str],
) {
    for name in names {
        for action in actions {
            rep.event(kind, name.as_ref(), action);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records each event as one line.
    pub(crate) struct Lines(pub Vec<String>);

    impl Reporter for Lines {
        fn event(&mut self, kind: &str, name: &str, action: &str) {
            self.0.push(format!("{kind} {name} {action}"));
        }
        fn warn(&mut self, message: &str) {
            self.0.push(format!("warn {message}"));
        }
    }

    #[test]
    fn each_target_gets_the_lines_of_its_real_run_in_order() {
        let mut lines = Lines(Vec::new());
        report(
            &mut lines,
            "Container",
            ["p-web-1", "p-db-1"],
            &["Stopping", "Stopped"],
        );
        assert_eq!(
            lines.0,
            [
                "Container p-web-1 Stopping",
                "Container p-web-1 Stopped",
                "Container p-db-1 Stopping",
                "Container p-db-1 Stopped",
            ]
        );
    }
}
