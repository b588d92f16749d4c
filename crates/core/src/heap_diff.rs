//! Heap snapshots taken during a run (`run --snapshots node|java|go`) and what their diff found.
//!
//! The diff documents themselves are the JSON of `leakhound diff --json` (schema version 1),
//! kept as JSON values here because the heap crate, not this one, defines them. This module
//! only records which snapshots were taken when, what failed, and the overall heap verdict.

use serde::{Deserialize, Serialize};

use crate::Verdict;

/// One snapshot attempt of `run --snapshots`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotTaken {
    /// `before load`, `after phase 1`, …
    pub label: String,
    /// Seconds since the load started when the snapshot was begun (snapshot 0: 0, taken just
    /// before the load starts).
    pub t_s: f64,
    /// How long taking it took, in seconds.
    pub took_s: f64,
    /// Files written (Go: heap and goroutine profile), empty when it failed.
    pub files: Vec<String>,
    /// Why it failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The heap side of a run with `--snapshots`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeapDiffRun {
    /// `node`, `java` or `go`.
    pub runtime: String,
    /// The PID or endpoint snapshots were taken from.
    pub target: String,
    /// Heap verdict over all diffs; `None` when no diff could be made (see `errors`).
    pub verdict: Option<Verdict>,
    /// Every snapshot attempt, in order.
    pub snapshots: Vec<SnapshotTaken>,
    /// Snapshots the schedule had (before the load and after each phase); attempts stop early
    /// when snapshot 0 fails or the run ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned: Option<usize>,
    /// A snapshot failed because the target had exited: the run's exit code is then the
    /// target's (inconclusive, or 4 when it failed), not the snapshots' failure (2).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub target_exited: bool,
    /// `leakhound diff --json` documents: one per profile kind (Go: heap, then goroutines).
    pub diffs: Vec<serde_json::Value>,
    /// How the load was cut into phases, and other remarks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Failures (snapshots that could not be taken, a diff that could not be made).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}
