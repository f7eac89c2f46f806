//! Named fault points for the crash-consistency tests (`tests/faults.rs`).
//!
//! A point sits on a step boundary of a command (`up`, `down`, `run`, `restart`, `image load`)
//! or of network set-up, in the CLI or in a container's monitor. When the environment variable
//! [`FAULT_ENV`] names the point, reaching it kills the process with SIGKILL, exactly as
//! `kill -9` would: no destructor, no unwinding, no flush. The tests then check that the next
//! `up` converges and that `down` leaves nothing behind, which is what a user whose machine
//! lost the command half-way needs.
//!
//! Points exist in test and debug builds only (`debug_assertions`): in a release build
//! [`point`] is an empty inline function, so users' binaries carry no trace of them.

/// The variable naming the point to die at.
pub const FAULT_ENV: &str = "COMPOSE_FAULT";

/// When set, the path of a file that a dying point appends its name to (one line) first, so a
/// test knows the point was reached even in a process it cannot wait for (a monitor).
pub const FAULT_LOG_ENV: &str = "COMPOSE_FAULT_LOG";

/// Every fault point, by name (`command.step`). A unit test checks that this is exactly the set
/// of points called in the source, so a new point cannot go without a scenario in the tests.
pub const POINTS: &[&str] = &[
    // Network set-up (`up`, `run`): record, bridge, rules; the container's veth and addresses
    // (in its monitor, or the CLI for a foreground `run`).
    "network.create.after-record",
    "network.create.after-bridge",
    "network.create.after-rules",
    "network.connect.after-veth",
    "network.connect.after-addresses",
    // `up`: volumes, then each container's creation and start.
    "up.volume.after-create",
    "up.create.after-allocate",
    "up.create.after-rootfs",
    "up.create.after-record",
    "up.create.after-publish",
    "up.start.before-launch",
    "up.start.after-launch",
    // A container's monitor: its cgroup, its process, its names, the handshake.
    "monitor.start.after-cgroup",
    "monitor.start.after-spawn",
    "monitor.start.after-dns",
    "monitor.handshake.after-ready",
    // `down` (and every removal of a container or network).
    "down.container.after-stop",
    "container.remove.after-unpublish",
    "container.remove.after-record",
    "container.remove.after-release",
    "down.container.after-remove",
    "network.remove.after-teardown",
    "network.remove.after-record",
    "down.volume.after-remove",
    // `run` in the foreground.
    "run.after-create",
    "run.foreground.after-cgroup",
    "run.foreground.after-start",
    "run.foreground.after-exit",
    // `restart`.
    "restart.after-stop",
    "restart.after-launch",
    // `image load`.
    "image.load.after-blobs",
    "image.load.after-import",
    "image.load.after-commit",
    "image.load.after-tags",
];

/// Dies here, as `kill -9` would, when [`FAULT_ENV`] names `name`.
#[cfg(debug_assertions)]
pub fn point(name: &'static str) {
    if std::env::var_os(FAULT_ENV).is_some_and(|v| v == name) {
        die(name);
    }
}

/// Release builds carry no fault points.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn point(_name: &'static str) {}

/// Says which point was reached (when asked to) and takes SIGKILL.
#[cfg(debug_assertions)]
fn die(name: &'static str) -> ! {
    use std::io::Write;
    if let Some(log) = std::env::var_os(FAULT_LOG_ENV) {
        // Best effort by design: the kill below is the fault, whether or not the line landed;
        // a test missing the line fails on its own.
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(f, "{name}");
        }
    }
    // SAFETY: kill and getpid have no preconditions; SIGKILL cannot be caught, so nothing of
    // this process runs after it is delivered (to the whole process, every thread).
    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    // Delivery to ourselves is synchronous for SIGKILL; this is never reached.
    loop {
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::POINTS;
    use std::collections::BTreeSet;
    use std::path::Path;

    /// The names of every fault point called under `dir` (the literal each call passes).
    fn called(dir: &Path, out: &mut Vec<String>) {
        let needle = concat!("fault::point", "(\"");
        for e in std::fs::read_dir(dir).expect("read src").flatten() {
            let p = e.path();
            if p.is_dir() {
                called(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).expect("read source");
                for (i, _) in text.match_indices(needle) {
                    let rest = &text[i + needle.len()..];
                    let end = rest.find('"').expect("a closed literal");
                    out.push(rest[..end].to_string());
                }
            }
        }
    }

    #[test]
    fn points_list_exactly_the_points_called_in_the_source() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        called(&src, &mut found);
        let in_source: BTreeSet<&str> = found.iter().map(String::as_str).collect();
        assert_eq!(
            in_source.len(),
            found.len(),
            "a point called twice: {found:?}"
        );
        let listed: BTreeSet<&str> = POINTS.iter().copied().collect();
        assert_eq!(listed.len(), POINTS.len(), "a point listed twice");
        assert_eq!(in_source, listed, "fault::point calls vs POINTS");
    }

    #[test]
    fn names_are_dotted_command_and_step() {
        for p in POINTS {
            let parts: Vec<&str> = p.split('.').collect();
            assert!(
                parts.len() >= 2 && parts.iter().all(|s| !s.is_empty()),
                "{p}"
            );
        }
    }
}
