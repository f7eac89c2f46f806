//! What a build tells while it runs: the CLI renders these events as BuildKit does (`[web 3/7]
//! RUN make`, the step's output, `CACHED`, times), plainly, as JSON, or on a terminal.

use std::time::Duration;

/// One step of a build, as announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepInfo {
    /// The build's name (the service).
    pub build: String,
    /// The stage's name when it has one (`builder`).
    pub stage: Option<String>,
    /// 1-based position among the steps of its stage, FROM included.
    pub index: usize,
    /// Number of steps of its stage, FROM included.
    pub total: usize,
    /// The instruction as written after expansion (`RUN make`).
    pub text: String,
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// Taken from the cache: nothing ran.
    Cached,
    /// Done, in this long.
    Done(Duration),
    /// Failed, after `elapsed`, for the reason `message` (BuildKit's line: `process "/bin/sh -c
    /// make" did not complete successfully: exit code: 2`).
    Failed { elapsed: Duration, message: String },
}

/// Receives a build's events. Steps of independent stages may interleave; `step` numbers them
/// in the order they were announced (0-based), and the other calls name a step by that number.
pub trait BuildProgress {
    fn step(&mut self, step: usize, info: &StepInfo);
    /// Output of a RUN, as it comes (not split into lines).
    fn output(&mut self, step: usize, data: &[u8]);
    fn done(&mut self, step: usize, outcome: &StepOutcome);
    fn warn(&mut self, message: &str);
}

/// Drops every event (tests, `--quiet`).
pub struct Silent;

impl BuildProgress for Silent {
    fn step(&mut self, _: usize, _: &StepInfo) {}
    fn output(&mut self, _: usize, _: &[u8]) {}
    fn done(&mut self, _: usize, _: &StepOutcome) {}
    fn warn(&mut self, _: &str) {}
}
