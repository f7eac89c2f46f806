//! Progress output of commands that change containers, networks and volumes, in Docker
//! Compose's modes: `tty` (a live line per resource, redrawn in place), `plain` (one line per
//! event), `json` (one object per event, for tools), `quiet`; `auto` is `tty` on a terminal.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::build_progress::{JsonBuild, PlainBuild, TtyBuild};
use super::pull_progress::{JsonPull, PlainPull, TtyPull};
use super::{GlobalOptions, Progress};
use crate::build::BuildProgress;
use crate::engine::registry::PullProgress;
use crate::stack::{PlainReporter, Reporter};

/// The reporter `--progress` asks for; with `--dry-run`, one that marks every line as Docker
/// Compose's dry run does, so that a command's plan reads as its real run would, prefixed.
pub fn reporter(global: &GlobalOptions) -> Box<dyn Reporter> {
    let dry_run = global.dry_run;
    let lines = |r: Box<dyn Reporter>| -> Box<dyn Reporter> {
        match dry_run {
            true => Box::new(DryRun(r)),
            false => r,
        }
    };
    match global.progress {
        Progress::Quiet => Box::new(QuietReporter),
        Progress::Json => Box::new(JsonReporter { dry_run }),
        Progress::Plain => lines(Box::new(PlainCli)),
        Progress::Tty => lines(Box::new(TtyReporter::new())),
        Progress::Auto if std::io::stderr().is_terminal() => lines(Box::new(TtyReporter::new())),
        Progress::Auto => lines(Box::new(PlainCli)),
    }
}

/// What Docker Compose puts before each progress line of a dry run (its `DRYRUN_PREFIX`, less
/// the leading space the line itself has): ` DRY-RUN MODE -  Container p-web-1  Stopped`.
pub const DRY_RUN_PREFIX: &str = "DRY-RUN MODE - ";

/// A line of a command's own output (not a progress line): prefixed with [`DRY_RUN_PREFIX`] in
/// a dry run, so what it would print reads as its plan (`DRY-RUN MODE - Deleted: sha256:…`).
pub(crate) fn dry_line(dry_run: bool, line: &str) -> String {
    match dry_run {
        true => format!("{DRY_RUN_PREFIX}{line}"),
        false => line.to_string(),
    }
}

/// A plain or live reporter in dry-run mode: each resource's line starts with
/// [`DRY_RUN_PREFIX`] (Docker Compose puts it before the resource, in both modes).
struct DryRun(Box<dyn Reporter>);

impl Reporter for DryRun {
    fn event(&mut self, kind: &str, name: &str, action: &str) {
        self.0
            .event(&format!("{DRY_RUN_PREFIX} {kind}"), name, action);
    }
    fn warn(&mut self, message: &str) {
        self.0.warn(message);
    }
    fn output(&mut self, source: &str, line: &str) {
        self.0.output(source, line);
    }
    fn pull_progress(&mut self) -> Option<Arc<dyn PullProgress>> {
        self.0.pull_progress()
    }
    fn build_progress(&mut self) -> Option<Box<dyn BuildProgress>> {
        self.0.build_progress()
    }
}

/// Whether `--progress` draws live lines on the terminal (which leave the cursor on their last
/// line: output after them starts on a new one).
pub(crate) fn is_live(global: &GlobalOptions) -> bool {
    match global.progress {
        Progress::Tty => true,
        Progress::Auto => std::io::stderr().is_terminal(),
        _ => false,
    }
}

/// Plain lines, pulls included (one line per event, downloads rate-limited).
pub(crate) struct PlainCli;

impl Reporter for PlainCli {
    fn event(&mut self, kind: &str, name: &str, action: &str) {
        PlainReporter.event(kind, name, action);
    }
    fn warn(&mut self, message: &str) {
        PlainReporter.warn(message);
    }
    fn pull_progress(&mut self) -> Option<Arc<dyn PullProgress>> {
        Some(Arc::new(PlainPull::new(Box::new(std::io::stderr()))))
    }
    fn build_progress(&mut self) -> Option<Box<dyn BuildProgress>> {
        Some(Box::new(PlainBuild::new(Box::new(std::io::stderr()))))
    }
}

struct QuietReporter;

impl Reporter for QuietReporter {
    fn event(&mut self, _: &str, _: &str, _: &str) {}
    fn warn(&mut self, _: &str) {}
}

/// One JSON object per line on standard error, as `--progress json` does; in a dry run each
/// has `"dry-run": true`, as Docker Compose's.
struct JsonReporter {
    dry_run: bool,
}

/// One `--progress json` line.
fn json_event(kind: &str, name: &str, action: &str, dry_run: bool) -> serde_json::Value {
    let mut v = serde_json::json!({
        "id": format!("{kind} {name}"),
        "text": action,
        "status": if is_done(action) { "Done" } else { "Working" },
    });
    if dry_run {
        v["dry-run"] = serde_json::Value::Bool(true);
    }
    v
}

impl Reporter for JsonReporter {
    fn event(&mut self, kind: &str, name: &str, action: &str) {
        eprintln!("{}", json_event(kind, name, action, self.dry_run));
    }
    fn warn(&mut self, message: &str) {
        eprintln!(
            "{}",
            serde_json::json!({ "level": "warning", "text": message })
        );
    }
    fn output(&mut self, source: &str, line: &str) {
        // Still one JSON object per line: a hook's output must not break the stream's readers.
        eprintln!(
            "{}",
            serde_json::json!({ "id": source.trim_end_matches(" ->"), "text": line })
        );
    }
    fn pull_progress(&mut self) -> Option<Arc<dyn PullProgress>> {
        Some(Arc::new(JsonPull::new(Box::new(std::io::stderr()))))
    }
    fn build_progress(&mut self) -> Option<Box<dyn BuildProgress>> {
        Some(Box::new(JsonBuild::new(Box::new(std::io::stderr()))))
    }
}

/// Whether an action is a resource's final state in this command.
fn is_done(action: &str) -> bool {
    matches!(
        action,
        "Created"
            | "Started"
            | "Stopped"
            | "Removed"
            | "Running"
            | "Recreated"
            | "Healthy"
            | "Exited"
            | "Killed"
            | "Paused"
            | "Unpaused"
            | "Pushed"
            | "Built"
            | "Layer already exists"
            | "Skipped"
    ) || action.starts_with("Mounted from ")
        || action.starts_with("Copied ")
}

/// Docker Compose's live display: one line per resource with a spinner while it works, a check
/// mark and the time it took once done.
struct TtyReporter {
    multi: MultiProgress,
    lines: HashMap<String, (ProgressBar, Instant)>,
    working: ProgressStyle,
    done: ProgressStyle,
}

impl TtyReporter {
    fn new() -> TtyReporter {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        TtyReporter {
            multi,
            lines: HashMap::new(),
            working: ProgressStyle::with_template(" {spinner} {prefix:<40} {msg:<12} {elapsed:>4}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            done: ProgressStyle::with_template(" \u{2714} {prefix:<40} {msg:<12} {elapsed:>4}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        }
    }
}

impl Reporter for TtyReporter {
    fn event(&mut self, kind: &str, name: &str, action: &str) {
        let key = format!("{kind} {name}");
        let (bar, _) = self.lines.entry(key.clone()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new_spinner());
            bar.set_style(self.working.clone());
            bar.set_prefix(key);
            bar.enable_steady_tick(Duration::from_millis(100));
            (bar, Instant::now())
        });
        bar.set_message(action.to_string());
        if is_done(action) {
            bar.set_style(self.done.clone());
            bar.finish();
        } else {
            bar.set_style(self.working.clone());
            bar.enable_steady_tick(Duration::from_millis(100));
        }
    }

    fn warn(&mut self, message: &str) {
        let _ = self.multi.println(format!("WARN[0000] {message}"));
    }

    fn output(&mut self, source: &str, line: &str) {
        // Above the live lines, which a plain write would tear.
        let _ = self.multi.println(format!("{source} {line}"));
    }

    fn pull_progress(&mut self) -> Option<Arc<dyn PullProgress>> {
        Some(Arc::new(TtyPull::new(self.multi.clone())))
    }
    fn build_progress(&mut self) -> Option<Box<dyn BuildProgress>> {
        Some(Box::new(TtyBuild::new(self.multi.clone())))
    }
}

impl Drop for TtyReporter {
    fn drop(&mut self) {
        for (bar, _) in self.lines.values() {
            if !bar.is_finished() {
                bar.finish();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Docker Compose's plain writer prints `DRYRUN_PREFIX` (" DRY-RUN MODE - ") before the
    /// event's resource and text; here the real line follows it whole.
    #[test]
    fn a_dry_run_line_is_the_real_line_after_dockers_prefix() {
        let kind = format!("{DRY_RUN_PREFIX} Container");
        assert_eq!(
            crate::stack::plain_line(&kind, "p-web-1", "Stopped"),
            " DRY-RUN MODE -  Container p-web-1  Stopped"
        );
        assert_eq!(
            crate::stack::plain_line("Container", "p-web-1", "Stopped"),
            " Container p-web-1  Stopped"
        );
    }

    #[test]
    fn the_wrapper_prefixes_the_resource_and_keeps_the_action() {
        use std::sync::{Arc, Mutex};
        struct Shared(Arc<Mutex<Vec<String>>>);
        impl Reporter for Shared {
            fn event(&mut self, kind: &str, name: &str, action: &str) {
                let line = crate::stack::plain_line(kind, name, action);
                self.0.lock().expect("lock").push(line);
            }
            fn warn(&mut self, message: &str) {
                self.0.lock().expect("lock").push(format!("warn {message}"));
            }
        }
        let lines = Arc::new(Mutex::new(Vec::new()));
        let mut dry = DryRun(Box::new(Shared(lines.clone())));
        dry.event("Network", "p_default", "Removed");
        dry.warn("careful");
        assert_eq!(
            *lines.lock().expect("lock"),
            [
                " DRY-RUN MODE -  Network p_default  Removed",
                // Warnings are not progress lines: Docker prints them as they are.
                "warn careful",
            ]
        );
    }

    /// Docker Compose's JSON writer adds `"dry-run": true` to each event of a dry run, and
    /// leaves the key out otherwise.
    #[test]
    fn json_events_say_dry_run_as_docker_compose_does() {
        let v = json_event("Container", "p-web-1", "Stopped", true);
        assert_eq!(v["dry-run"], serde_json::Value::Bool(true));
        assert_eq!(v["id"], "Container p-web-1");
        assert_eq!(v["status"], "Done");
        let v = json_event("Container", "p-web-1", "Stopping", false);
        assert!(v.get("dry-run").is_none(), "{v}");
        assert_eq!(v["status"], "Working");
    }

    #[test]
    fn a_commands_own_lines_are_prefixed_only_in_a_dry_run() {
        assert_eq!(
            dry_line(true, "Deleted Networks:"),
            "DRY-RUN MODE - Deleted Networks:"
        );
        assert_eq!(dry_line(false, "Deleted Networks:"), "Deleted Networks:");
    }

    #[test]
    fn a_copy_is_done_once_copied() {
        assert!(is_done("Copied a to p-web-1:/a"));
        assert!(!is_done("Copying a to p-web-1:/a"));
    }
}
