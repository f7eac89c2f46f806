//! Following the logs of many containers: a [`Tail`] per container, polled in turn and merged
//! in time order, with the project's new containers picked up as they appear.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::tail::Tail;
use super::target::{Entry, Selection, Target};
use super::time::parse_log_time;
use super::AttachError;
use crate::engine::root::StateRoot;
use crate::engine::state::{self, Status};
use crate::stack::LogLine;

/// At most this much of one container's log is read per poll, so following a fast writer
/// holds a bounded amount in memory; a poll that hit it says so and the caller reads on
/// without sleeping (its blocking writes to standard output are the backpressure).
pub const READ_CHUNK: usize = 256 * 1024;

/// Whether a container is stopped for good: exited (or never started, or removed) and no
/// monitor left that would start it again.
pub fn stopped_for_good(root: &Path, id: &str) -> bool {
    let dir = StateRoot::new(root).container(id);
    if !state::record_path(&dir).exists() {
        return true;
    }
    let st = state::read_state(&dir).observed();
    matches!(st.status, Status::Exited | Status::Dead | Status::Created)
        && st.live_monitor().is_none()
}

/// Reads and follows the logs of a project's containers.
#[derive(Debug)]
pub struct LogFollower {
    root: PathBuf,
    project: String,
    selection: Selection,
    tails: BTreeMap<String, Tail>,
    since: Option<i64>,
    until: Option<i64>,
}

impl LogFollower {
    pub fn new(root: &Path, project: &str, selection: Selection) -> LogFollower {
        LogFollower {
            root: root.to_path_buf(),
            project: project.to_string(),
            selection,
            tails: BTreeMap::new(),
            since: None,
            until: None,
        }
    }

    /// Only lines at or after `since` and at or before `until` (nanoseconds since the epoch).
    pub fn with_window(mut self, since: Option<i64>, until: Option<i64>) -> LogFollower {
        self.since = since;
        self.until = until;
        self
    }

    /// Follows `target` too (its log from the beginning, as filtered by the time window).
    pub fn add(&mut self, target: Target) -> bool {
        if self.tails.contains_key(&target.id) {
            return false;
        }
        self.tails
            .insert(target.id.clone(), Tail::new(&self.root, target));
        true
    }

    /// Lists the project's containers and follows the selected ones not followed yet
    /// (recreated or scaled up since); returns those.
    pub fn discover(&mut self) -> Result<Vec<Target>, AttachError> {
        let mut new = Vec::new();
        for o in state::list(&self.root, Some(&self.project))? {
            if self.selection.matches(&o) {
                let t = Target::of(&o);
                if self.add(t.clone()) {
                    new.push(t);
                }
            }
        }
        Ok(new)
    }

    /// The followed containers, by id.
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.tails.values().map(|t| &t.target)
    }

    /// Reads every followed container's log from its beginning again (with `tail`, its last
    /// lines only; with `snapshot`, up to what it holds now): the following polls return it,
    /// in bounded chunks, before anything newer.
    pub fn rewind(&mut self, tail: Option<usize>, snapshot: bool) -> Result<(), AttachError> {
        for t in self.tails.values_mut() {
            t.rewind(tail, snapshot)?;
        }
        Ok(())
    }

    /// Reads every followed container's log from its current end: the following polls return
    /// only lines written after this call.
    pub fn skip_to_end(&mut self) -> Result<(), AttachError> {
        for t in self.tails.values_mut() {
            t.skip_to_end()?;
        }
        Ok(())
    }

    /// Lines written since the last read, at most [`READ_CHUNK`] bytes of each container's
    /// log, merged in time order; with them, the ids of the containers that have more to read
    /// at once (whose exits must wait for those lines).
    pub fn poll(&mut self) -> Result<(Vec<Entry>, BTreeSet<String>), AttachError> {
        let mut out = Vec::new();
        let mut behind = BTreeSet::new();
        for (id, t) in self.tails.iter_mut() {
            let (lines, more) = t.read_new(READ_CHUNK)?;
            if more {
                behind.insert(id.clone());
            }
            out.extend(entries(&t.target, lines));
        }
        Ok((self.window(out), behind))
    }

    fn window(&self, mut out: Vec<Entry>) -> Vec<Entry> {
        out.retain(|e| {
            self.since.is_none_or(|s| e.time >= s) && self.until.is_none_or(|u| e.time <= u)
        });
        // Stable: lines of one container with equal times keep their order.
        out.sort_by_key(|e| e.time);
        out
    }

    /// Whether every followed container is stopped for good (see [`stopped_for_good`]).
    pub fn all_stopped(&self) -> bool {
        self.tails.keys().all(|id| stopped_for_good(&self.root, id))
    }
}

fn entries<'a>(target: &'a Target, lines: Vec<LogLine>) -> impl Iterator<Item = Entry> + 'a {
    lines.into_iter().map(move |line| Entry {
        container: target.name.clone(),
        service: target.service.clone(),
        time: parse_log_time(&line.time).unwrap_or(0),
        line,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn line(text: &str, time: &str) -> String {
        serde_json::json!({"log": format!("{text}\n"), "stream": "stdout", "time": time})
            .to_string()
            + "\n"
    }

    fn target(id: &str, name: &str) -> Target {
        Target {
            id: id.into(),
            name: name.into(),
            service: name.into(),
            number: 1,
        }
    }

    /// Polls until nothing more is there to read at once.
    fn drain(f: &mut LogFollower) -> Vec<Entry> {
        let mut all = Vec::new();
        loop {
            let (lines, behind) = f.poll().expect("poll");
            all.extend(lines);
            if behind.is_empty() {
                return all;
            }
        }
    }

    #[test]
    fn follower_merges_in_time_order_tails_and_follows_rotation() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        for id in ["a", "b"] {
            std::fs::create_dir_all(StateRoot::new(root).container(id)).expect("dir");
        }
        let log_a = state::log_path(&StateRoot::new(root).container("a"));
        let log_b = state::log_path(&StateRoot::new(root).container("b"));
        std::fs::write(
            &log_a,
            line("a1", "2024-01-01T00:00:01.000000000Z")
                + &line("a3", "2024-01-01T00:00:03.000000000Z"),
        )
        .expect("write");
        std::fs::write(&log_b, line("b2", "2024-01-01T00:00:02.000000000Z")).expect("write");
        let mut f = LogFollower::new(root, "p", Selection::default());
        f.add(target("a", "a-1"));
        f.add(target("b", "b-1"));
        let texts = |v: Vec<Entry>| -> Vec<String> {
            v.into_iter()
                .map(|e| e.line.log.trim_end().to_string())
                .collect()
        };
        f.rewind(None, false).expect("rewind");
        assert_eq!(texts(f.poll().expect("backlog").0), ["a1", "b2", "a3"]);
        assert!(f.poll().expect("poll").0.is_empty());

        // A partial line waits for its end.
        let full = line("a4", "2024-01-01T00:00:04.000000000Z");
        let (head, rest) = full.split_at(10);
        let mut fa = std::fs::OpenOptions::new()
            .append(true)
            .open(&log_a)
            .expect("open");
        fa.write_all(head.as_bytes()).expect("write");
        assert!(f.poll().expect("poll").0.is_empty());
        fa.write_all(rest.as_bytes()).expect("write");
        assert_eq!(texts(f.poll().expect("poll").0), ["a4"]);

        // Rotation: the rest of the old file, then the new one.
        fa.write_all(line("a5", "2024-01-01T00:00:05.000000000Z").as_bytes())
            .expect("write");
        drop(fa);
        let rotated = log_a.with_extension("log.1");
        std::fs::rename(&log_a, &rotated).expect("rotate");
        std::fs::write(&log_a, line("a6", "2024-01-01T00:00:06.000000000Z")).expect("write");
        assert_eq!(texts(f.poll().expect("poll").0), ["a5", "a6"]);

        // A new reader sees rotated files first; --tail counts per container; --since cuts.
        let mut g = LogFollower::new(root, "p", Selection::default()).with_window(
            parse_log_time("2024-01-01T00:00:02Z"),
            parse_log_time("2024-01-01T00:00:05.5Z"),
        );
        g.add(target("a", "a-1"));
        g.add(target("b", "b-1"));
        g.rewind(None, false).expect("rewind");
        assert_eq!(texts(drain(&mut g)), ["b2", "a3", "a4", "a5"]);
        let mut h = LogFollower::new(root, "p", Selection::default());
        h.add(target("a", "a-1"));
        h.add(target("b", "b-1"));
        h.rewind(Some(2), false).expect("rewind");
        assert_eq!(texts(drain(&mut h)), ["b2", "a5", "a6"]);
    }

    #[test]
    fn skip_to_end_reads_only_what_is_written_afterwards() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::create_dir_all(StateRoot::new(root).container("a")).expect("dir");
        let log_a = state::log_path(&StateRoot::new(root).container("a"));
        std::fs::write(
            log_a.with_extension("log.1"),
            line("old", "2024-01-01T00:00:00.000000000Z"),
        )
        .expect("write");
        std::fs::write(&log_a, line("before", "2024-01-01T00:00:01.000000000Z")).expect("write");
        let mut f = LogFollower::new(root, "p", Selection::default());
        f.add(target("a", "a-1"));
        f.skip_to_end().expect("skip");
        assert!(drain(&mut f).is_empty());
        let mut fa = std::fs::OpenOptions::new()
            .append(true)
            .open(&log_a)
            .expect("open");
        fa.write_all(line("after", "2024-01-01T00:00:02.000000000Z").as_bytes())
            .expect("write");
        let got: Vec<String> = drain(&mut f)
            .into_iter()
            .map(|e| e.line.log.trim_end().to_string())
            .collect();
        assert_eq!(got, ["after"]);
        // A container that has logged nothing yet: its first line is read.
        std::fs::create_dir_all(StateRoot::new(root).container("b")).expect("dir");
        let mut g = LogFollower::new(root, "p", Selection::default());
        g.add(target("b", "b-1"));
        g.skip_to_end().expect("skip");
        std::fs::write(
            state::log_path(&StateRoot::new(root).container("b")),
            line("first", "2024-01-01T00:00:03.000000000Z"),
        )
        .expect("write");
        assert_eq!(drain(&mut g).len(), 1);
    }

    #[test]
    fn a_big_log_is_read_in_bounded_chunks_and_a_snapshot_ends_where_it_was_taken() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::create_dir_all(StateRoot::new(root).container("a")).expect("dir");
        let log_a = state::log_path(&StateRoot::new(root).container("a"));
        let one = line("y", "2024-01-01T00:00:01.000000000Z");
        let count = 3 * READ_CHUNK / one.len() + 7;
        std::fs::write(&log_a, one.repeat(count)).expect("write");
        let mut f = LogFollower::new(root, "p", Selection::default());
        f.add(target("a", "a-1"));
        f.rewind(None, true).expect("rewind");
        let mut got = 0;
        let mut polls = 0;
        loop {
            let (lines, behind) = f.poll().expect("poll");
            assert!(lines.len() <= READ_CHUNK / one.len() + 1, "{}", lines.len());
            got += lines.len();
            polls += 1;
            if behind.is_empty() {
                break;
            }
        }
        assert_eq!(got, count);
        assert!(polls >= 4, "{polls}");
        // Lines written after the snapshot are not part of it.
        let mut fa = std::fs::OpenOptions::new()
            .append(true)
            .open(&log_a)
            .expect("open");
        fa.write_all(one.as_bytes()).expect("write");
        assert!(f.poll().expect("poll").0.is_empty());
        // `--tail` counts lines without holding them.
        let mut g = LogFollower::new(root, "p", Selection::default());
        g.add(target("a", "a-1"));
        g.rewind(Some(3), false).expect("rewind");
        assert_eq!(drain(&mut g).len(), 3);
    }
}
