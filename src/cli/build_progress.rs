//! How image builds are shown, in the progress modes of [`super::progress`], the way BuildKit
//! shows them: plain (`#3 [web 2/5] RUN make`, the step's output lines prefixed `#3 `, then
//! `#3 CACHED`, `#3 DONE 0.4s` or `#3 ERROR: …`), one JSON object per event, or on a terminal
//! a line per step with a spinner and the step's last output line, collapsed to its outcome
//! once done. `--quiet` shows nothing (no renderer at all).

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::build::{BuildProgress, StepInfo, StepOutcome};

/// `[web 2/5] RUN make`, or `[web builder 2/5] RUN make` in a named stage.
fn header(info: &StepInfo) -> String {
    let stage = info
        .stage
        .as_deref()
        .map(|s| format!(" {s}"))
        .unwrap_or_default();
    format!(
        "[{}{stage} {}/{}] {}",
        info.build, info.index, info.total, info.text
    )
}

/// BuildKit's step times: seconds with one decimal.
fn seconds(d: &Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// `#N`: steps are numbered from 1, as BuildKit numbers them.
fn id(step: usize) -> String {
    format!("#{}", step + 1)
}

/// Plain lines (`--progress plain`, or no terminal).
pub struct PlainBuild {
    out: Box<dyn Write + Send>,
    /// Output of a step not yet ended by a newline.
    partial: HashMap<usize, Vec<u8>>,
}

impl PlainBuild {
    pub fn new(out: Box<dyn Write + Send>) -> PlainBuild {
        PlainBuild {
            out,
            partial: HashMap::new(),
        }
    }

    fn line(&mut self, text: &str) {
        // A progress line that cannot be written (a closed pipe) must not stop the build.
        if let Err(e) = writeln!(self.out, "{text}") {
            eprintln!("WARN[0000] build progress: {e}");
        }
    }

    /// The complete lines of `step`'s pending output, and with `all` the rest too.
    fn flush_lines(&mut self, step: usize, all: bool) {
        let Some(buf) = self.partial.get_mut(&step) else {
            return;
        };
        let mut lines = Vec::new();
        while let Some(at) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=at).collect();
            lines.push(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
        }
        if all && !buf.is_empty() {
            lines.push(String::from_utf8_lossy(buf).into_owned());
            buf.clear();
        }
        for l in lines {
            self.line(&format!("{} {}", id(step), l.trim_end_matches('\r')));
        }
    }
}

impl BuildProgress for PlainBuild {
    fn step(&mut self, step: usize, info: &StepInfo) {
        self.line(&format!("{} {}", id(step), header(info)));
    }

    fn output(&mut self, step: usize, data: &[u8]) {
        self.partial
            .entry(step)
            .or_default()
            .extend_from_slice(data);
        self.flush_lines(step, false);
    }

    fn done(&mut self, step: usize, outcome: &StepOutcome) {
        self.flush_lines(step, true);
        self.partial.remove(&step);
        let text = match outcome {
            StepOutcome::Cached => "CACHED".to_string(),
            StepOutcome::Done(d) => format!("DONE {}", seconds(d)),
            StepOutcome::Failed { message, .. } => format!("ERROR: {message}"),
        };
        self.line(&format!("{} {text}", id(step)));
        self.line("");
    }

    fn warn(&mut self, message: &str) {
        self.line(&format!("WARN[0000] {message}"));
    }
}

/// One JSON object per event (`--progress json`).
pub struct JsonBuild {
    out: Box<dyn Write + Send>,
}

impl JsonBuild {
    pub fn new(out: Box<dyn Write + Send>) -> JsonBuild {
        JsonBuild { out }
    }

    fn emit(&mut self, v: serde_json::Value) {
        if let Err(e) = writeln!(self.out, "{v}") {
            eprintln!("WARN[0000] build progress: {e}");
        }
    }
}

impl BuildProgress for JsonBuild {
    fn step(&mut self, step: usize, info: &StepInfo) {
        self.emit(serde_json::json!({
            "id": id(step),
            "build": info.build,
            "stage": info.stage,
            "index": info.index,
            "total": info.total,
            "text": info.text,
            "status": "Working",
        }));
    }

    fn output(&mut self, step: usize, data: &[u8]) {
        self.emit(serde_json::json!({
            "id": id(step),
            "output": String::from_utf8_lossy(data),
        }));
    }

    fn done(&mut self, step: usize, outcome: &StepOutcome) {
        let v = match outcome {
            StepOutcome::Cached => serde_json::json!({ "id": id(step), "status": "CACHED" }),
            StepOutcome::Done(d) => {
                serde_json::json!({ "id": id(step), "status": "DONE", "seconds": d.as_secs_f64() })
            }
            StepOutcome::Failed { elapsed, message } => serde_json::json!({
                "id": id(step),
                "status": "ERROR",
                "seconds": elapsed.as_secs_f64(),
                "error": message,
            }),
        };
        self.emit(v);
    }

    fn warn(&mut self, message: &str) {
        self.emit(serde_json::json!({ "level": "warning", "text": message }));
    }
}

/// On a terminal: a spinner line per running step showing its last output line; once done
/// the line collapses to the step and its outcome.
pub struct TtyBuild {
    multi: MultiProgress,
    steps: HashMap<usize, (ProgressBar, Vec<u8>)>,
}

impl TtyBuild {
    pub fn new(multi: MultiProgress) -> TtyBuild {
        TtyBuild {
            multi,
            steps: HashMap::new(),
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl BuildProgress for TtyBuild {
    fn step(&mut self, step: usize, info: &StepInfo) {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(style(" {spinner} {prefix} {wide_msg} {elapsed:>4}"));
        bar.set_prefix(format!("{} {}", id(step), header(info)));
        bar.enable_steady_tick(Duration::from_millis(100));
        self.steps.insert(step, (bar, Vec::new()));
    }

    fn output(&mut self, step: usize, data: &[u8]) {
        if let Some((bar, pending)) = self.steps.get_mut(&step) {
            pending.extend_from_slice(data);
            // Keep the last complete line (and what follows it) only.
            if let Some(at) = pending.iter().rposition(|b| *b == b'\n') {
                let line = pending[..at]
                    .rsplit(|b| *b == b'\n')
                    .next()
                    .map(|l| String::from_utf8_lossy(l).into_owned())
                    .unwrap_or_default();
                pending.drain(..=at);
                bar.set_message(line.trim_end_matches('\r').to_string());
            }
        }
    }

    fn done(&mut self, step: usize, outcome: &StepOutcome) {
        let Some((bar, _)) = self.steps.remove(&step) else {
            return;
        };
        let (template, message) = match outcome {
            StepOutcome::Cached => (" \u{2714} {prefix} {msg}", "CACHED".to_string()),
            StepOutcome::Done(d) => (" \u{2714} {prefix} {msg}", seconds(d)),
            StepOutcome::Failed { elapsed, .. } => (
                " \u{2718} {prefix} {msg}",
                format!("ERROR {}", seconds(elapsed)),
            ),
        };
        bar.set_style(style(template));
        bar.finish_with_message(message);
    }

    fn warn(&mut self, message: &str) {
        if let Err(e) = self.multi.println(format!("WARN[0000] {message}")) {
            eprintln!("WARN[0000] {message} ({e})");
        }
    }
}

impl Drop for TtyBuild {
    fn drop(&mut self) {
        for (bar, _) in self.steps.values() {
            bar.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer whose bytes the test reads afterwards.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().expect("lock").clone()).expect("utf-8")
        }
    }

    fn info(stage: Option<&str>, index: usize, text: &str) -> StepInfo {
        StepInfo {
            build: "web".into(),
            stage: stage.map(str::to_string),
            index,
            total: 3,
            text: text.into(),
        }
    }

    /// A cached FROM, a RUN whose output arrives split mid-line, a failing RUN whose last
    /// line has no newline, and a warning.
    fn script(p: &mut dyn BuildProgress) {
        p.step(0, &info(None, 1, "FROM scratch"));
        p.done(0, &StepOutcome::Cached);
        p.step(1, &info(Some("builder"), 2, "RUN make"));
        p.output(1, b"compiling a");
        p.output(1, b"\ncompiling b\n");
        p.done(1, &StepOutcome::Done(Duration::from_millis(420)));
        p.step(2, &info(None, 3, "RUN false"));
        p.output(2, b"boom");
        p.done(
            2,
            &StepOutcome::Failed {
                elapsed: Duration::from_millis(50),
                message: "process \"/bin/sh -c false\" did not complete successfully: exit code: 1"
                    .into(),
            },
        );
        p.warn("careful");
    }

    #[test]
    fn plain_output_is_buildkits() {
        let out = Captured::default();
        script(&mut PlainBuild::new(Box::new(out.clone())));
        assert_eq!(
            out.text(),
            "#1 [web 1/3] FROM scratch\n#1 CACHED\n\n\
             #2 [web builder 2/3] RUN make\n#2 compiling a\n#2 compiling b\n#2 DONE 0.4s\n\n\
             #3 [web 3/3] RUN false\n#3 boom\n\
             #3 ERROR: process \"/bin/sh -c false\" did not complete successfully: exit code: 1\n\n\
             WARN[0000] careful\n"
        );
    }

    #[test]
    fn json_output_is_one_object_per_event() {
        let out = Captured::default();
        script(&mut JsonBuild::new(Box::new(out.clone())));
        let want = [
            r##"{"id":"#1","build":"web","stage":null,"index":1,"total":3,"text":"FROM scratch","status":"Working"}"##,
            r##"{"id":"#1","status":"CACHED"}"##,
            r##"{"id":"#2","build":"web","stage":"builder","index":2,"total":3,"text":"RUN make","status":"Working"}"##,
            r##"{"id":"#2","output":"compiling a"}"##,
            r##"{"id":"#2","output":"\ncompiling b\n"}"##,
            r##"{"id":"#2","status":"DONE","seconds":0.42}"##,
            r##"{"id":"#3","build":"web","stage":null,"index":3,"total":3,"text":"RUN false","status":"Working"}"##,
            r##"{"id":"#3","output":"boom"}"##,
            r##"{"id":"#3","status":"ERROR","seconds":0.05,"error":"process \"/bin/sh -c false\" did not complete successfully: exit code: 1"}"##,
            r#"{"level":"warning","text":"careful"}"#,
        ];
        assert_eq!(out.text(), want.map(|l| format!("{l}\n")).concat());
    }
}
