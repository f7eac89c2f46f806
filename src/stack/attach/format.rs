//! Rendering log lines and status lines as Docker Compose prints them.

use std::io::Write;

use super::target::Entry;

/// How lines are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatOptions {
    /// ANSI colors per container (a terminal, `--ansi always`, and no `--no-color`).
    pub color: bool,
    /// `name  | ` before each line (off with `--no-log-prefix`).
    pub prefix: bool,
    /// The line's time before its text (`-t`).
    pub timestamps: bool,
}

impl Default for FormatOptions {
    fn default() -> Self {
        FormatOptions {
            color: false,
            prefix: true,
            timestamps: false,
        }
    }
}

/// Docker Compose's palette, in the order it hands colors to containers: cyan, yellow, green,
/// magenta, blue, then the same bold.
const RAINBOW: [&str; 10] = [
    "36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1",
];

/// Prefixes and colors lines as Docker Compose does: `name  | text`, the name padded to the
/// longest registered one plus one, each container in its own color.
#[derive(Debug, Default)]
pub struct Formatter {
    opts: FormatOptions,
    names: Vec<(String, &'static str)>,
    width: usize,
}

impl Formatter {
    pub fn new(opts: FormatOptions) -> Formatter {
        Formatter {
            opts,
            names: Vec::new(),
            width: 0,
        }
    }

    /// Gives `name` the next color and widens the prefix for it (names seen first in a line
    /// are registered then).
    pub fn register(&mut self, name: &str) {
        if self.names.iter().any(|(n, _)| n == name) {
            return;
        }
        let color = RAINBOW[self.names.len() % RAINBOW.len()];
        self.names.push((name.to_string(), color));
        self.width = self.width.max(name.len() + 1);
    }

    fn paint(&self, name: &str, s: &str) -> String {
        if !self.opts.color {
            return s.to_string();
        }
        let code = self
            .names
            .iter()
            .find(|(n, _)| n == name)
            .map_or("0", |(_, c)| *c);
        format!("\x1b[{code}m{s}\x1b[0m")
    }

    /// One log line, newline included.
    pub fn line(&mut self, e: &Entry) -> String {
        self.register(&e.container);
        // A `\r` stays (as Docker keeps it): progress bars and CRLF output are the writer's.
        let text = e.line.log.strip_suffix('\n').unwrap_or(&e.line.log);
        let mut s = String::new();
        if self.opts.prefix {
            let width = self.width;
            s.push_str(&self.paint(&e.container, &format!("{:<width$} | ", e.container)));
        }
        if self.opts.timestamps {
            s.push_str(&e.line.time);
            s.push(' ');
        }
        s.push_str(text);
        s.push('\n');
        s
    }

    /// A status line about a container (`web-1 exited with code 0`), newline included.
    pub fn status(&mut self, name: &str, msg: &str) -> String {
        self.register(name);
        let reset_line = if self.opts.color { "\r\x1b[K" } else { "" };
        self.paint(name, &format!("{reset_line}{name} {msg}\n"))
    }
}

/// Writes an entry to standard output, whichever stream it came from (as Docker Compose does:
/// `logs | grep` and `logs > file` keep every line); false when the reader is gone (a closed
/// pipe), which ends `logs`.
pub(super) fn emit(f: &mut Formatter, e: &Entry, out: &mut dyn Write) -> bool {
    out.write_all(f.line(e).as_bytes()).is_ok()
}

/// Writes entries, then flushes; false when the reader is gone.
pub(super) fn emit_all(f: &mut Formatter, entries: &[Entry], out: &mut dyn Write) -> bool {
    entries.iter().all(|e| emit(f, e, out)) && out.flush().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::LogLine;

    fn entry(name: &str, text: &str) -> Entry {
        Entry {
            container: name.into(),
            service: name.into(),
            time: 0,
            line: LogLine {
                log: format!("{text}\n"),
                stream: "stdout".into(),
                time: "2024-01-01T00:00:00.000000000Z".into(),
            },
        }
    }

    #[test]
    fn prefixes_are_padded_to_the_longest_name_and_colored_in_palette_order() {
        let mut f = Formatter::new(FormatOptions::default());
        f.register("web-1");
        f.register("db-1");
        assert_eq!(f.line(&entry("db-1", "hi")), "db-1   | hi\n");
        assert_eq!(f.line(&entry("web-1", "yo")), "web-1  | yo\n");
        assert_eq!(
            f.status("web-1", "exited with code 3"),
            "web-1 exited with code 3\n"
        );
        let mut c = Formatter::new(FormatOptions {
            color: true,
            prefix: true,
            timestamps: true,
        });
        c.register("a-1");
        c.register("b-1");
        assert_eq!(
            c.line(&entry("b-1", "x")),
            "\x1b[33mb-1  | \x1b[0m2024-01-01T00:00:00.000000000Z x\n"
        );
        let mut n = Formatter::new(FormatOptions {
            color: false,
            prefix: false,
            timestamps: false,
        });
        assert_eq!(n.line(&entry("a-1", "plain")), "plain\n");
    }

    #[test]
    fn carriage_returns_are_kept() {
        let mut f = Formatter::new(FormatOptions::default());
        assert_eq!(f.line(&entry("a-1", "50%\r100%\r")), "a-1  | 50%\r100%\r\n");
    }
}
