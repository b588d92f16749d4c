//! The native heap agent's analysis (`run --heap`) as carried in the run report.
//!
//! One entry per traced process that recorded allocations: the sites whose live bytes kept
//! growing while it ran (suspects, fastest first) and, kept apart, what was still allocated
//! when it exited. Byte values are estimates in sampled mode (see `live_bytes_ci95`).

use serde::{Deserialize, Serialize};

use crate::{Series, Verdict};

/// The heap side of a run with `--heap`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NativeHeapRun {
    /// Heap verdict over all processes: leak if any process has a suspect.
    pub verdict: Verdict,
    /// Traced processes, in file (pid) order.
    pub processes: Vec<NativeHeapProcess>,
    /// Advisories, e.g. "allocator not interposed".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The analysis of one traced process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NativeHeapProcess {
    /// Process id.
    pub pid: u32,
    /// `exact` or `sampled`.
    pub mode: String,
    /// Sampled mode: mean sampling interval in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_mean_bytes: Option<u64>,
    /// How stacks were grouped into sites (`line`, `function`, `stack:N`).
    pub group_by: String,
    /// Snapshots the agent wrote.
    pub snapshots: usize,
    /// Seconds covered by the snapshots.
    pub duration_s: f64,
    /// Whether the data ends with the at-exit snapshot (false: killed or still running).
    pub complete: bool,
    /// Allocations the agent could not record.
    pub dropped: u64,
    /// This process's heap verdict.
    pub verdict: Verdict,
    /// Sites whose live bytes kept growing while running, fastest first.
    pub suspects: Vec<NativeHeapSite>,
    /// Sites with bytes still allocated at exit, largest first (at most [`MAX_LIVE_AT_EXIT`]).
    pub live_at_exit: Vec<NativeHeapSite>,
    /// How many sites had bytes still allocated at exit (`live_at_exit` may be cut).
    pub live_at_exit_sites: usize,
}

/// Most "still live at exit" sites carried in the run report; the full list is in
/// `heap/heap.json`.
pub const MAX_LIVE_AT_EXIT: usize = 50;

/// One allocation site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NativeHeapSite {
    /// `function (dir/file.c:line)` (or the grouping key of `--group-by`).
    pub site: String,
    /// Detector verdict on the site's live-bytes series.
    pub verdict: Verdict,
    /// Why, in one line (from the detector).
    pub reason: String,
    /// Growth of live bytes, bytes per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_bytes_per_s: Option<f64>,
    /// 95 % interval of the growth rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_ci95: Option<[f64; 2]>,
    /// Live bytes at the last snapshot.
    pub live_bytes: u64,
    /// Live blocks at the last snapshot.
    pub live_blocks: u64,
    /// Bytes ever allocated here.
    pub total_bytes: u64,
    /// Allocations ever made here.
    pub total_allocs: u64,
    /// Sampled mode: 95 % interval of `live_bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_bytes_ci95: Option<[f64; 2]>,
    /// Sampled mode: probability that a leak of `live_bytes` would have left no sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub miss_probability: Option<f64>,
    /// Call stack from the allocating frame outwards (inlined frames included).
    pub stack: Vec<NativeHeapFrame>,
    /// One-line hint.
    pub hint: String,
    /// Live bytes over time (suspects only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Series>,
    /// `timeline` as a sparkline, as the terminal shows it (suspects only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparkline: Option<String>,
}

/// One source-level frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NativeHeapFrame {
    /// Demangled function name.
    pub function: String,
    /// Source file, when the debug info has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Source line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Whether this frame was inlined into the next one.
    #[serde(default)]
    pub inlined: bool,
    /// Executable or library.
    pub module: String,
}
