//! What the exits and interrupts of an attached `up` decide, apart from watching them: which
//! exit stops everything (`--abort-on-container-exit`, `--abort-on-container-failure`) and
//! the exit code `up` returns (`--exit-code-from`, the aborting container's, 130 on Ctrl-C),
//! as Docker Compose decides them. Pure, so each rule is tested without containers.

use std::collections::BTreeSet;

/// When an attached `up` stops everything because a container exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cascade {
    #[default]
    Ignore,
    /// `--abort-on-container-exit` (and `--exit-code-from`).
    Exit,
    /// `--abort-on-container-failure`: on a non-zero exit only.
    Failure,
}

/// The exit code of an attached `up` stopped by Ctrl-C or SIGTERM, as Docker Compose's
/// (128 + SIGINT).
pub const INTERRUPTED_EXIT_CODE: i32 = 130;

/// The exits and interrupts seen so far, and what they make of `up`'s exit code.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    cascade: Cascade,
    exit_code_from: Option<String>,
    /// Services whose exit 0 is what they are for: it aborts nothing.
    one_shots: BTreeSet<String>,
    /// The exit code of the container whose exit stopped everything.
    aborted_with: Option<i32>,
    /// The first exit code of `exit_code_from`'s containers.
    code_from: Option<i32>,
    /// Stopped by an interrupt (not by an abort under way): `up` exits 130.
    interrupted: bool,
}

impl Outcome {
    pub(super) fn new(
        cascade: Cascade,
        exit_code_from: Option<String>,
        one_shots: BTreeSet<String>,
    ) -> Outcome {
        Outcome {
            cascade,
            exit_code_from,
            one_shots,
            ..Outcome::default()
        }
    }

    /// The first interrupt: it decides the exit code unless an abort is already under way.
    pub(super) fn interrupt(&mut self) {
        self.interrupted = self.aborted_with.is_none();
    }

    /// A container of `service` exited with `code`; true when this exit starts the abort
    /// (the project is to be stopped now; later exits start nothing more).
    pub(super) fn exit(&mut self, service: &str, code: i32) -> bool {
        if self.exit_code_from.as_deref() == Some(service) && self.code_from.is_none() {
            self.code_from = Some(code);
        }
        let one_shot_done = code == 0 && self.one_shots.contains(service);
        let aborts = match self.cascade {
            Cascade::Ignore => false,
            Cascade::Exit => !one_shot_done,
            Cascade::Failure => code != 0,
        };
        if aborts && self.aborted_with.is_none() {
            self.aborted_with = Some(code);
            return true;
        }
        false
    }

    /// Docker Compose's exit code: 130 when interrupted, else `exit_code_from`'s exit code
    /// (0 if it never exited), else that of the container that caused an abort, else 0.
    pub(super) fn code(&self) -> i32 {
        if self.interrupted {
            return INTERRUPTED_EXIT_CODE;
        }
        match (&self.exit_code_from, self.code_from, self.aborted_with) {
            (Some(_), Some(c), _) => c,
            (Some(_), None, _) => 0,
            (None, _, Some(c)) => c,
            (None, _, None) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(cascade: Cascade, from: Option<&str>, one_shots: &[&str]) -> Outcome {
        Outcome::new(
            cascade,
            from.map(String::from),
            one_shots.iter().map(|s| s.to_string()).collect(),
        )
    }

    #[test]
    fn without_a_cascade_no_exit_aborts_and_up_exits_zero() {
        let mut o = outcome(Cascade::Ignore, None, &[]);
        assert!(!o.exit("web", 3));
        assert_eq!(o.code(), 0);
    }

    #[test]
    fn the_first_aborting_exit_starts_the_stop_and_gives_its_code() {
        let mut o = outcome(Cascade::Exit, None, &[]);
        assert!(o.exit("web", 4));
        assert!(!o.exit("db", 9), "a second exit starts nothing more");
        assert_eq!(o.code(), 4);
    }

    #[test]
    fn a_one_shot_exiting_zero_aborts_nothing_but_failing_does() {
        let mut o = outcome(Cascade::Exit, None, &["init"]);
        assert!(!o.exit("init", 0));
        assert!(o.exit("init", 2));
        assert_eq!(o.code(), 2);
    }

    #[test]
    fn abort_on_failure_ignores_exit_zero() {
        let mut o = outcome(Cascade::Failure, None, &[]);
        assert!(!o.exit("web", 0));
        assert!(o.exit("web", 1));
        assert_eq!(o.code(), 1);
    }

    #[test]
    fn exit_code_from_takes_its_services_first_exit_whatever_aborted() {
        let mut o = outcome(Cascade::Exit, Some("test"), &[]);
        assert!(o.exit("db", 7));
        assert_eq!(o.code(), 0, "test never exited");
        o.exit("test", 5);
        o.exit("test", 6);
        assert_eq!(o.code(), 5);
    }

    #[test]
    fn an_interrupt_gives_130_unless_an_abort_came_first() {
        let mut o = outcome(Cascade::Exit, None, &[]);
        o.interrupt();
        o.exit("web", 3);
        assert_eq!(o.code(), INTERRUPTED_EXIT_CODE);
        let mut a = outcome(Cascade::Exit, None, &[]);
        a.exit("web", 3);
        a.interrupt();
        assert_eq!(a.code(), 3);
    }
}
