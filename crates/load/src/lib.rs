//! Open-model HTTP/1.1 load for leak hunting, with latency free of coordinated omission.
//!
//! A synchronous API over an internal tokio runtime ("async stays at the edges"): build a
//! [`LoadPlan`] (from command-line values or a scenario file), then [`run_load`] blocks until the
//! plan is done or `stop` is set, calling `on_tick` once a second, and returns a
//! [`LoadSummary`]. Open model: requests leave at intended times (constant spacing or Poisson
//! arrivals over constant, ramp, steps and cycles stages) and latency counts from the intended
//! time, like wrk2. Closed model (`concurrency`): back-to-back requests per connection, like wrk.
//!
//! Connection refused, resets and a target that dies mid-run are counted as errors, never
//! returned as `Err`: `Err` means the plan could not start at all.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod conn;
mod driver;
mod plan;
mod ready;
mod scenario;
mod schedule;
mod target;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub use driver::{DRAIN, LATE_THRESHOLD, TIMEOUT_SLACK, TickStats};
pub use leakhound_core::load::{
    ErrorCounts, LatencySummary, LoadModel, LoadSecond, LoadSummary, RetainedPerRequest,
};
pub use plan::{
    DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT, LoadError, LoadPlan, MAX_RATE, Model, Stage,
};
pub use ready::{PROBE_INTERVAL, PROBE_TIMEOUT, ReadyError, wait_ready};
pub use schedule::Arrivals;
pub use target::{RANDOM, RequestTemplate, SEQ, Target, expand};

/// Run `plan` to completion (or until `stop` becomes true) and summarise it.
///
/// Blocks the calling thread; `on_tick` runs on it once a second with the second just finished.
/// The test ends by the plan's duration plus [`DRAIN`]. Setting `stop` ends it within about half
/// a second and still returns the summary of what was done (`interrupted: true`), counting only
/// the requests intended before the stop.
pub fn run_load(
    plan: &LoadPlan,
    stop: Arc<AtomicBool>,
    on_tick: &mut dyn FnMut(&TickStats),
) -> Result<LoadSummary, LoadError> {
    driver::run(plan, stop, on_tick)
}

/// Check everything about `plan` that can fail before a request is sent: its values, its
/// target's host name (resolved) and each request's method, headers and body. [`run_load`]
/// does the same first; call this before starting what the load is for (`leakhound run` checks
/// before it starts the target, so a bad `-X` does not end a whole run without a verdict).
pub fn check(plan: &LoadPlan) -> Result<(), LoadError> {
    driver::check(plan).map(|_| ())
}

/// Parse a duration as scenario files write it: `30s`, `5m`, `1h30m`, `250ms`, or seconds.
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    scenario::parse_duration(s)
}
