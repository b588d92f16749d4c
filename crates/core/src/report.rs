//! The run report: everything a renderer needs to show the outcome of one run.
//!
//! `verdict.json` in a run directory is a serialized [`RunReport`]. The sampled data itself is
//! kept in `samples.csv`; [`RunReport::data`] carries it in memory for renderers (sparklines,
//! charts) and is never serialized.

use serde::{Deserialize, Serialize};

use crate::{HeapDiffRun, LoadSummary, NativeHeapRun, Series, SeriesVerdict, Verdict, Warning};

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
    /// The user's `--limit` (bytes), so a verdict re-computed later (`report` of a run whose
    /// leakhound was killed) still gives the time to it. Absent in runs written before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    /// Seconds of samples (after the warm-up) before an online leak alarm could be raised
    /// (`--alarm-after`, or the detector's default). Absent in runs written before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_after_s: Option<f64>,
    /// The target's cgroup `memory.max` (bytes) when no `--limit` was given, and its soft
    /// `RLIMIT_NOFILE`, as read when it started: a verdict re-computed later gives the times to
    /// them as the run did. Absent when unknown, and in runs written before them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_memory_max: Option<f64>,
    /// See [`RunInfo::cgroup_memory_max`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rlimit_nofile: Option<f64>,
}

/// How the target (or the watch) ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetOutcome {
    /// Why sampling stopped: `exited`, `duration`, `interrupted`, `vanished`, or `leak alarm`
    /// (`--stop-on-leak`: an online alarm was raised, see [`RunReport::alarms`]).
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

/// How one process of the tree changed over the run (first and last sample it was seen in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessChange {
    /// Process id.
    pub pid: u32,
    /// Parent process id when first seen.
    pub ppid: u32,
    /// Command name (`comm`).
    pub comm: String,
    /// First time the process was sampled (seconds since start).
    pub first_t: f64,
    /// Last time the process was sampled.
    pub last_t: f64,
    /// Change of each metric between its first and last sample, by column name.
    pub change: std::collections::BTreeMap<String, f64>,
}

/// An online leak alarm raised while the run was sampling (`run` and `watch` judge every series
/// at the online checkpoints as samples arrive, with the persistence rules of
/// `analyze --online`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnlineAlarm {
    /// The series' column name (`rss_bytes`, `fds`…).
    pub series: String,
    /// When it was raised, in seconds since the start of sampling.
    pub at_s: f64,
    /// The rate at the alarm, in the series' unit per second.
    pub rate_per_s: Option<f64>,
    /// The online verdict's sentence.
    pub reason: String,
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
    /// Overall verdict, the one the exit code follows: leak if any judged series leaks, or the
    /// native heap agent (`heap`) or the heap-snapshot diff (`heap_diff`) found a leak; no leak
    /// only when every part that gave a verdict says so (see [`RunReport::fold_verdict`]).
    pub verdict: Verdict,
    /// Per-series verdicts, in column order.
    pub series: Vec<SeriesVerdict>,
    /// Advisories.
    pub warnings: Vec<Warning>,
    /// Per-process changes, largest memory growth first (empty for `analyze`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<ProcessChange>,
    /// Online leak alarms raised while sampling, in the order they were raised (at most one per
    /// series). Absent when none was, and in runs written before alarms were raised.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<OnlineAlarm>,
    /// The HTTP load driven during the run (`run --load`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadSummary>,
    /// Heap snapshots taken between load phases and their diff (`run --snapshots`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_diff: Option<HeapDiffRun>,
    /// The native heap agent's analysis (`run --heap`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap: Option<NativeHeapRun>,
    /// The sampled data, for renderers only.
    #[serde(skip)]
    pub data: Vec<Series>,
}

impl RunReport {
    /// The verdict of the sampled series alone (memory and resources, no heap analysis).
    pub fn series_verdict(&self) -> Verdict {
        Verdict::combine(self.series.iter().map(|v| v.verdict))
    }

    /// Sets [`RunReport::verdict`] from the series, the native heap analysis and the heap diff:
    /// a leak in any of them is a leak; otherwise inconclusive if any part is. A heap diff that
    /// could not be made (`verdict: None`) adds nothing.
    pub fn fold_verdict(&mut self) {
        let heap = self.heap.as_ref().map(|h| h.verdict);
        let diff = self.heap_diff.as_ref().and_then(|d| d.verdict);
        self.verdict = Verdict::combine(
            std::iter::once(self.series_verdict())
                .chain(heap)
                .chain(diff),
        );
    }

    /// The series data with the given name, if present.
    pub fn data_for(&self, name: &str) -> Option<&Series> {
        self.data.iter().find(|s| s.name == name)
    }

    /// The process whose `series` grew most, when the tree had more than one process and that
    /// process grew at all.
    pub fn top_grower(&self, series: &str) -> Option<(&ProcessChange, f64)> {
        if self.processes.len() < 2 {
            return None;
        }
        self.processes
            .iter()
            .filter_map(|p| p.change.get(series).map(|&c| (p, c)))
            .filter(|&(_, c)| c > 0.0)
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }
}
