//! Progress output of commands that change containers, networks and volumes, in Docker
//! Compose's modes: `tty` (a live line per resource, redrawn in place), `plain` (one line per
//! event), `json` (one object per event, for tools), `quiet`; `auto` is `tty` on a terminal.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::build_progress::{JsonBuild, PlainBuild, TtyBuild};
use super::progress_view::{is_done, View};
use super::pull_progress::{JsonPull, PlainPull, TtyPull};
use super::{Ansi, GlobalOptions, Progress};
use crate::build::BuildProgress;
use crate::engine::registry::PullProgress;
use crate::stack::{PlainReporter, Reporter};

/// The reporter `--progress` asks for, its live view titled `Running` (Docker Compose's title
/// for `up`, `down`, `start`, `unpause`...).
pub fn reporter(global: &GlobalOptions) -> Box<dyn Reporter> {
    reporter_titled(global, "Running")
}

/// The reporter `--progress` asks for, its live view titled `title` as Docker Compose titles
/// the command's (`[+] Stopping 2/2` for `stop`, `Removing` for `rm`...).
/// With `--dry-run`, every line is marked as Docker Compose's dry run marks it, so that a
/// command's plan reads as its real run would, prefixed.
pub fn reporter_titled(global: &GlobalOptions, title: &str) -> Box<dyn Reporter> {
    let dry_run = global.dry_run;
    let lines = |r: Box<dyn Reporter>| -> Box<dyn Reporter> {
        match dry_run {
            true => Box::new(DryRun(r)),
            false => r,
        }
    };
    match mode(global) {
        Mode::Quiet => Box::new(QuietReporter),
        Mode::Json => Box::new(JsonReporter { dry_run }),
        Mode::Plain => lines(Box::new(PlainCli)),
        Mode::Tty => lines(Box::new(TtyReporter::new(title, view_color(global), false))),
    }
}

/// The reporter of an attached `up`'s start: as [`reporter`], except that the live view leaves
/// out containers' `Starting`/`Started` (they stay `Created`, `Recreated` or `Running`), as
/// Docker Compose does so that the view ends before the containers' output begins.
pub fn attached_reporter(global: &GlobalOptions) -> Box<dyn Reporter> {
    match mode(global) {
        Mode::Tty => Box::new(TtyReporter::new("Running", view_color(global), true)),
        _ => reporter(global),
    }
}

/// How progress is shown, `auto` resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Quiet,
    Json,
    Plain,
    Tty,
}

/// Resolves `--progress`: `auto` is the live view when standard error (where it is drawn) is a
/// terminal and ANSI sequences are allowed, else plain lines, as Docker Compose decides.
fn mode(global: &GlobalOptions) -> Mode {
    match global.progress {
        Progress::Quiet => Mode::Quiet,
        Progress::Json => Mode::Json,
        Progress::Plain => Mode::Plain,
        Progress::Tty => Mode::Tty,
        Progress::Auto if global.ansi == Ansi::Never => Mode::Plain,
        Progress::Auto if std::io::stderr().is_terminal() => Mode::Tty,
        Progress::Auto => Mode::Plain,
    }
}

/// Whether the live view is colored: not with `--ansi never`, nor with `NO_COLOR` set to
/// anything (https://no-color.org), as Docker Compose. (`--progress tty` with `--ansi never` is
/// refused before any command runs: see [`check_flags`].)
fn view_color(global: &GlobalOptions) -> bool {
    global.ansi != Ansi::Never && !super::no_color_env()
}

/// Refuses the combinations Docker Compose refuses: a live view needs ANSI sequences, and
/// forced ANSI has nothing to color in plain lines.
pub(crate) fn check_flags(global: &GlobalOptions) -> Result<(), String> {
    match (global.progress, global.ansi) {
        (Progress::Tty, Ansi::Never) => {
            Err("can't use --progress tty while ANSI support is disabled".into())
        }
        (Progress::Plain, Ansi::Always) => {
            Err("can't use --progress plain while ANSI support is forced".into())
        }
        _ => Ok(()),
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
    mode(global) == Mode::Tty
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

/// Docker Compose's live view ([`View`]) drawn in place on standard error: the header and
/// one line per resource, redrawn every 100 ms by a ticker thread while something works (the
/// spinners turn and the timers run), pulls' and builds' lines below them.
struct TtyReporter {
    multi: MultiProgress,
    live: Arc<Mutex<Live>>,
    /// Set to end the ticker.
    stop: Arc<AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
    /// An attached `up`'s: containers' `Starting`/`Started` are left out.
    hide_starts: bool,
    finished: bool,
}

/// The view and the lines that show it.
struct Live {
    view: View,
    header: Option<ProgressBar>,
    bars: Vec<ProgressBar>,
}

impl Live {
    /// Sets every line's text as the view reads at `now`.
    fn refresh(&self, now: Instant) {
        if let Some(h) = &self.header {
            h.set_message(self.view.header());
        }
        for (bar, line) in self.bars.iter().zip(self.view.lines(now, terminal_width())) {
            bar.set_message(line);
        }
    }
}

/// The width of the terminal the view is drawn on (Docker's 80 when it cannot be read).
fn terminal_width() -> usize {
    match rustix::termios::tcgetwinsize(std::io::stderr()) {
        Ok(ws) if ws.ws_col > 0 => usize::from(ws.ws_col),
        _ => 80,
    }
}

/// A line of the view: its text is all set by [`Live::refresh`].
fn text_line() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar
}

impl TtyReporter {
    fn new(title: &str, color: bool, hide_starts: bool) -> TtyReporter {
        TtyReporter {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            live: Arc::new(Mutex::new(Live {
                view: View::new(title, color),
                header: None,
                bars: Vec::new(),
            })),
            stop: Arc::new(AtomicBool::new(false)),
            ticker: None,
            hide_starts,
            finished: false,
        }
    }

    /// Starts the thread that redraws the view every 100 ms, as Docker Compose's ticker does.
    fn start_ticker(&mut self) {
        if self.ticker.is_some() {
            return;
        }
        let (live, stop) = (Arc::clone(&self.live), Arc::clone(&self.stop));
        self.ticker = Some(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
                let live = live.lock().unwrap_or_else(|p| p.into_inner());
                if !live.view.all_done() {
                    live.refresh(Instant::now());
                }
            }
        }));
    }
}

impl Reporter for TtyReporter {
    fn event(&mut self, kind: &str, name: &str, action: &str) {
        if self.finished
            || (self.hide_starts && kind == "Container" && matches!(action, "Starting" | "Started"))
        {
            return;
        }
        let now = Instant::now();
        {
            let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
            if live.header.is_none() {
                live.header = Some(self.multi.insert(0, text_line()));
            }
            let i = live.view.event(&format!("{kind} {name}"), action, now);
            while live.bars.len() < live.view.len() {
                let after = live.bars.last().or(live.header.as_ref()).cloned();
                let bar = match after {
                    Some(a) => self.multi.insert_after(&a, text_line()),
                    None => self.multi.add(text_line()),
                };
                live.bars.push(bar);
            }
            debug_assert!(i < live.bars.len());
            live.refresh(now);
        }
        self.start_ticker();
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

    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if live.header.is_none() {
            return;
        }
        live.refresh(Instant::now());
        for bar in live.header.iter().chain(&live.bars) {
            bar.finish();
        }
        // Docker's view ends each line with a newline: what follows (an attached `up`'s
        // `Attaching to`, on standard output) starts below it, not after its last timer.
        eprintln!();
    }
}

impl Drop for TtyReporter {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn global(args: &[&str]) -> GlobalOptions {
        let mut argv = vec!["compose"];
        argv.extend_from_slice(args);
        argv.push("ps");
        Cli::try_parse_from(argv).expect("parse").global
    }

    #[test]
    fn ansi_never_makes_auto_plain_and_refuses_a_forced_live_view_as_docker_compose() {
        // Docker Compose: `--ansi never` turns `auto` into plain lines...
        assert_eq!(mode(&global(&["--ansi", "never"])), Mode::Plain);
        assert!(!view_color(&global(&["--ansi", "never"])));
        // ...and refuses `--progress tty` with it, and `--progress plain` with `--ansi always`.
        assert_eq!(
            check_flags(&global(&["--progress", "tty", "--ansi", "never"])),
            Err("can't use --progress tty while ANSI support is disabled".to_string())
        );
        assert_eq!(
            check_flags(&global(&["--progress", "plain", "--ansi", "always"])),
            Err("can't use --progress plain while ANSI support is forced".to_string())
        );
        assert_eq!(check_flags(&global(&["--progress", "tty"])), Ok(()));
        assert_eq!(mode(&global(&["--progress", "tty"])), Mode::Tty);
        assert_eq!(mode(&global(&["--progress", "quiet"])), Mode::Quiet);
    }

    #[test]
    fn up_takes_no_color_as_docker_compose() {
        let cli = Cli::try_parse_from(["compose", "up", "--no-color"]).expect("parse");
        let Command::Up(args) = cli.command else {
            panic!("not up")
        };
        assert!(args.no_color);
    }

    #[test]
    fn a_live_view_records_events_and_an_attached_one_leaves_out_starts() {
        let mut t = TtyReporter::new("Running", false, true);
        t.multi.set_draw_target(ProgressDrawTarget::hidden());
        t.event("Network", "demo_default", "Created");
        t.event("Container", "demo-web-1", "Created");
        t.event("Container", "demo-web-1", "Starting");
        t.event("Container", "demo-web-1", "Started");
        {
            let live = t.live.lock().expect("lock");
            assert_eq!(live.view.header(), "[+] Running 2/2");
            let lines = live.view.lines(Instant::now(), 80);
            assert!(
                lines[1].contains("Container demo-web-1  Created"),
                "{lines:?}"
            );
            assert_eq!(live.bars.len(), 2);
        }
        t.finish();
        // Nothing after the end.
        t.event("Container", "demo-db-1", "Created");
        assert_eq!(t.live.lock().expect("lock").view.len(), 2);
    }
}

#[cfg(test)]
mod dry_run_tests {
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
