//! Daemonless supervision: one small monitor process per container (Podman's conmon is the
//! model), and how a command starts one ([`launch()`]); stopping a container is
//! [`crate::engine::container::stop`], the same for every command.
//!
//! The monitor is this binary executed as `compose-monitor <container name>` (its root and
//! container id in the environment, see [`invoked_as_monitor`]): a fresh,
//! single-threaded process (no tokio, no clap) that detaches (fork + setsid, so the CLI that
//! started it can exit and its terminal can close) and then, for the container's whole life:
//! - starts it from its record (`container.json`): cgroup, the runtime's handshake, and while the
//!   set-up process waits, the veth of every network it is attached to;
//! - serves the container's embedded DNS resolver (see [`crate::engine::network::dns`]) from a
//!   socket inside the container's network namespace, and publishes the container's names while
//!   it runs, so other containers find it from their next query on;
//! - owns its stdout/stderr (with `tty`, the master of its terminal; with `stdin_open`, the
//!   write end of its stdin: see [`crate::engine::runtime::stdio`]) and writes the output to
//!   `container.log` (Docker's json-file lines), rotating it as `logging.options` (`max-size`,
//!   `max-file`) ask;
//! - runs the healthcheck (see [`crate::engine::state::HealthSpec`]) inside the container's namespaces on a timer and
//!   records the verdict with Docker's rules (`starting`, then `healthy` after one success,
//!   `unhealthy` after `retries` failures in a row outside the start period);
//! - records the state (`state.json`: pid with its start time, boot id, exit code, restarts);
//! - applies the restart policy with a doubling back-off, unless a command is stopping it on
//!   purpose (the `stopping` marker);
//! - cleans up after every exit: names withdrawn, veths and cgroup removed.
//!
//! A separate process per container rather than one daemon keeps containers independent of each
//! other and of any command; everything a later command needs is on disk (see
//! [`crate::engine::state`]), so a killed monitor or a reboot is detected, not fatal.
//!
//! Because there is one monitor per container, its resident memory is the engine's per-container
//! overhead: it is one `poll` loop without threads (the probe is a child process whose pidfd and
//! output pipe join the loop), keeps no buffer bigger than a read, and hands its start-up heap
//! back to the kernel once the container runs (see BENCHMARKS.md, "Monitor memory").
//!
//! Its parts: `launch` (the command's side: start a monitor and wait for its word),
//! `monitor` (the monitor process: its start and restart loop), `serve` (the poll loop
//! while the container runs), `health` (the healthcheck), `logfile` (`container.log`) and
//! `memory` (what an idle monitor gives back).

mod error;
mod handshake;
mod health;
mod launch;
mod logfile;
mod memory;
mod monitor;
mod serve;

pub use error::SuperviseError;
pub use handshake::{invoked_as_monitor, MONITOR_ARG0, MONITOR_ID_ENV, MONITOR_ROOT_ENV};
pub use launch::launch;
pub use monitor::main;
