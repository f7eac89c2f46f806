//! What Docker Compose's live progress view shows, as text: a `[+] Running 2/4` header, then one
//! line per resource (` ✔ Container demo-web-1  Started   0.3s `) with a spinner while it works,
//! the status column aligned, and the time it took (one decimal) against the terminal's right
//! edge. Pure: the caller records events with their instants and asks for the lines at an
//! instant and a width, so the rendering is tested without a terminal or a clock; drawing them
//! in place is [`super::progress`]'s job.

use std::time::{Duration, Instant};

/// Docker's spinner frames, one every 100 ms while a resource works.
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/// The mark of a resource that is done.
const DONE_MARK: &str = "✔";
/// How long each spinner frame shows.
const FRAME: Duration = Duration::from_millis(100);

/// Docker's colors for the view (its `aec` foreground codes): green for what is done, yellow
/// for the spinner, blue for timers and the finished header.
const GREEN: &str = "32";
const YELLOW: &str = "33";
const BLUE: &str = "34";

/// The prefix every dry-run event carries; a dry-run `Created` is as done as a real one.
const DRY_RUN_PREFIX: &str = "DRY-RUN MODE - ";

/// Whether an action is a resource's final state in this command (Docker's `Done` events);
/// everything else (`Creating`, `Recreate`, `Waiting`...) is still working.
pub(crate) fn is_done(action: &str) -> bool {
    let action = action.strip_prefix(DRY_RUN_PREFIX).unwrap_or(action);
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
            | "Restarted"
            | "Pulled"
            | "Pushed"
            | "Built"
            | "Layer already exists"
            | "Skipped"
    ) || action.starts_with("Mounted from ")
        || action.starts_with("Skipped")
        || action.starts_with("Copied ")
}

/// One resource's line.
#[derive(Debug, Clone)]
struct Task {
    /// `Container demo-web-1`, `Network demo_default`, `Volume demo_data`.
    id: String,
    status: String,
    done: bool,
    started: Instant,
    /// When it was last done: its timer stops there (and runs again if it works again).
    ended: Option<Instant>,
}

/// The view's state: its title (`Running`, `Stopping`...), whether it is colored, and the
/// resources in the order they first appeared.
#[derive(Debug, Clone)]
pub(crate) struct View {
    title: String,
    color: bool,
    tasks: Vec<Task>,
}

impl View {
    pub(crate) fn new(title: &str, color: bool) -> View {
        View {
            title: title.to_string(),
            color,
            tasks: Vec::new(),
        }
    }

    /// Records that resource `id` is now at `status`; returns its line's index.
    pub(crate) fn event(&mut self, id: &str, status: &str, now: Instant) -> usize {
        let done = is_done(status);
        let i = match self.tasks.iter().position(|t| t.id == id) {
            Some(i) => i,
            None => {
                self.tasks.push(Task {
                    id: id.to_string(),
                    status: String::new(),
                    done: false,
                    started: now,
                    ended: None,
                });
                self.tasks.len() - 1
            }
        };
        let t = &mut self.tasks[i];
        if done && !t.done {
            t.ended = Some(now);
        }
        t.done = done;
        t.status = status.to_string();
        i
    }

    pub(crate) fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether every resource is done (nothing left to redraw).
    pub(crate) fn all_done(&self) -> bool {
        self.tasks.iter().all(|t| t.done)
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// `[+] Running 2/4`: done resources over all; blue once all are done.
    pub(crate) fn header(&self) -> String {
        let done = self.tasks.iter().filter(|t| t.done).count();
        let line = format!("[+] {} {done}/{}", self.title, self.tasks.len());
        if !self.tasks.is_empty() && done == self.tasks.len() {
            self.paint(BLUE, &line)
        } else {
            line
        }
    }

    /// The resources' lines at `now`, each `width` columns wide (the timer ends at the right
    /// edge), without newlines.
    pub(crate) fn lines(&self, now: Instant, width: usize) -> Vec<String> {
        // The status column starts two columns after the longest resource name.
        let status_at = self
            .tasks
            .iter()
            .map(|t| t.id.chars().count() + 1)
            .max()
            .unwrap_or(0);
        self.tasks
            .iter()
            .map(|t| self.line(t, now, width, status_at))
            .collect()
    }

    fn line(&self, t: &Task, now: Instant, width: usize, status_at: usize) -> String {
        let end = match (t.done, t.ended) {
            (true, Some(e)) => e,
            _ => now,
        };
        let elapsed = end.saturating_duration_since(t.started);
        let mark = if t.done {
            self.paint(GREEN, DONE_MARK)
        } else {
            let frame = (elapsed.as_millis() / FRAME.as_millis()) as usize % SPINNER.len();
            self.paint(YELLOW, SPINNER[frame])
        };
        let name_len = t.id.chars().count() + 1;
        let pad = " ".repeat(status_at.saturating_sub(name_len));
        // A long status (an error's text) is cut so that the line keeps to one row.
        let mut status = t.status.clone();
        let room = width as isize - name_len as isize - status_at as isize - 15;
        if room > 0 && status.chars().count() > room as usize {
            status = status.chars().take(room as usize).collect::<String>() + "...";
        }
        let status = if t.done {
            self.paint(GREEN, &status)
        } else {
            status
        };
        let left = format!(" {mark} {} {pad} {status}", t.id);
        let timer = format!("{:.1}s ", elapsed.as_secs_f64());
        let used = visible_width(&left) + timer.len();
        let fill = " ".repeat(width.saturating_sub(used));
        format!("{left}{fill}{}", self.paint(BLUE, &timer))
    }
}

/// Columns a string takes on the terminal: its characters, less ANSI color sequences.
pub(crate) fn visible_width(s: &str) -> usize {
    let mut n = 0;
    let mut in_escape = false;
    for c in s.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The events of an `up` of a network, a volume and two containers, recorded with their
    /// offsets from the start.
    fn recorded(color: bool) -> (View, Instant) {
        let t0 = Instant::now();
        let mut v = View::new("Running", color);
        for (at, id, status) in [
            (0, "Network demo_default", "Creating"),
            (100, "Network demo_default", "Created"),
            (100, "Volume demo_data", "Creating"),
            (120, "Volume demo_data", "Created"),
            (120, "Container demo-db-1", "Creating"),
            (300, "Container demo-db-1", "Created"),
            (300, "Container demo-web-1", "Creating"),
        ] {
            v.event(id, status, t0 + ms(at));
        }
        (v, t0)
    }

    #[test]
    fn lines_read_as_docker_composes_with_aligned_statuses_and_one_decimal_timers() {
        let (mut v, t0) = recorded(false);
        // Docker Compose's `[+] Running 3/4` while the last container is being created.
        assert_eq!(v.header(), "[+] Running 3/4");
        let lines = v.lines(t0 + ms(560), 80);
        assert_eq!(
            lines,
            vec![
                " ✔ Network demo_default  Created                                           0.1s ",
                " ✔ Volume demo_data      Created                                           0.0s ",
                " ✔ Container demo-db-1   Created                                           0.2s ",
                " ⠹ Container demo-web-1  Creating                                          0.3s ",
            ]
        );
        assert!(lines.iter().all(|l| l.chars().count() == 80));
        v.event("Container demo-web-1", "Started", t0 + ms(1_600));
        assert_eq!(v.header(), "[+] Running 4/4");
        // A done timer stops where it was done.
        assert!(v.lines(t0 + ms(9_000), 80)[3]
            .ends_with("Started                                           1.3s "));
        assert!(v.all_done());
    }

    #[test]
    fn colors_follow_docker_compose_and_are_absent_without_color() {
        let (mut v, t0) = recorded(true);
        let lines = v.lines(t0 + ms(560), 80);
        assert_eq!(
            lines[0],
            " \x1b[32m✔\x1b[0m Network demo_default  \x1b[32mCreated\x1b[0m                                           \x1b[34m0.1s \x1b[0m"
        );
        assert!(lines[3].starts_with(" \x1b[33m⠹\x1b[0m Container demo-web-1  Creating "));
        assert!(lines.iter().all(|l| visible_width(l) == 80));
        assert_eq!(v.header(), "[+] Running 3/4");
        v.event("Container demo-web-1", "Started", t0 + ms(600));
        assert_eq!(v.header(), "\x1b[34m[+] Running 4/4\x1b[0m");
        let (plain, t0) = recorded(false);
        for l in plain.lines(t0 + ms(560), 80) {
            assert!(!l.contains('\x1b'), "{l:?}");
        }
    }

    #[test]
    fn a_working_resource_spins_and_a_long_status_is_cut() {
        let t0 = Instant::now();
        let mut v = View::new("Stopping", false);
        v.event("Container a-1", "Stopping", t0);
        let frames: Vec<String> = (0..3)
            .map(|i| {
                v.lines(t0 + ms(i * 100), 40)[0]
                    .chars()
                    .nth(1)
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(frames, ["⠋", "⠙", "⠹"]);
        v.event("Container a-1", &"x".repeat(80), t0);
        let l = &v.lines(t0, 80)[0];
        assert!(l.contains("xxx..."), "{l}");
        assert_eq!(v.header(), "[+] Stopping 0/1");
    }

    #[test]
    fn dry_run_events_are_done_too() {
        assert!(is_done("DRY-RUN MODE - Created"));
        assert!(is_done("Skipped - No image to be pulled"));
        assert!(!is_done("DRY-RUN MODE - Creating"));
        assert!(!is_done("Recreate"));
    }
}
