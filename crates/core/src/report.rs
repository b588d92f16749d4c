//! The run report: everything a renderer needs to show the outcome of one run.
//!
//! `verdict.json` in a run directory is a serialized [`RunReport`]. The sampled data itself is
//! kept in `samples.csv`; [`RunReport::data`] carries it in memory for renderers (sparklines,
//! charts) and is never serialized.

use serde::{Deserialize, Serialize};

use crate::{LoadSummary, Series, SeriesVerdict, Verdict, Warning};

/// Version of every JSON document leakhound writes. Bumped only on incompatible changes;
/// adding a field is compatible.
pub const SCHEMA_VERSION: u32 = 1;

/// What was run, when, where and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// `run`, `watch`, `demo`…
    pub mode: String,
    /// The command line of the target (for `watch`, read from `/proc/PID/cmdline`).
    pub command: Vec<String>,
    /// PID of the root of the watched tree.
    pub pid: Option<u32>,
    /// Start time, RFC 3339.
    pub started_at: String,
    /// Host name.
    pub host: String,
    /// leakhound's version.
    pub leakhound_version: String,
    /// Sampling interval in seconds.
    pub interval_s: f64,
    /// Warm-up excluded from the verdict, in seconds.
    pub warmup_s: f64,
    /// Requested duration in seconds (`None`: until the target exits or Ctrl-C).
    pub duration_s: Option<f64>,
    /// The run directory, if one was written.
    pub run_dir: Option<String>,
}

/// How the target (or the watch) ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetOutcome {
    /// Why sampling stopped: `exited`, `duration`, `interrupted`, `vanished`.
    pub ended_by: String,
    /// Exit code, when the target exited normally and we are its parent.
    pub exit_code: Option<i32>,
    /// Signal that killed the target, if any (SIGTERM/SIGKILL sent by us at the end of
    /// `--duration` do not count as a failure).
    pub signal: Option<i32>,
    /// Whether the target failed (non-zero exit or crash before the run was over).
    pub failed: bool,
    /// Seconds from start to the end of sampling.
    pub elapsed_s: f64,
    /// Samples taken.
    pub samples: usize,
}

/// The full outcome of a run, as written to `verdict.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The run's metadata.
    pub run: RunInfo,
    /// How it ended.
    pub target: TargetOutcome,
    /// Overall verdict: leak if any judged series leaks.
    pub verdict: Verdict,
    /// Per-series verdicts, in column order.
    pub series: Vec<SeriesVerdict>,
    /// Advisories.
    pub warnings: Vec<Warning>,
    /// The HTTP load driven during the run (`run --load`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadSummary>,
    /// The sampled data, for renderers only.
    #[serde(skip)]
    pub data: Vec<Series>,
}

impl RunReport {
    /// The series data with the given name, if present.
    pub fn data_for(&self, name: &str) -> Option<&Series> {
        self.data.iter().find(|s| s.name == name)
    }
}
