//! The serializable outcome of an HTTP load test (`leakhound load`, `run --load`).
//!
//! The load driver (`leakhound-load`) fills a [`LoadSummary`]; renderers, `--json` and
//! `verdict.json` read it. This module only defines the shape: no I/O, no statistics. Latencies
//! are in milliseconds; in the open model they are measured from each request's *intended* send
//! time, so they include the time a request waited because the target was slow (no coordinated
//! omission).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How requests were issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadModel {
    /// Requests at scheduled times, independent of responses (wrk2, vegeta, oha `-q`).
    Open,
    /// A fixed number of connections, each sending its next request when the previous one is
    /// answered (wrk, ab).
    Closed,
}

/// Failed requests by cause.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    /// The connection could not be opened (refused, unreachable).
    pub connect: u64,
    /// No complete response within the request timeout.
    pub timeout: u64,
    /// The connection was closed or reset while a request was outstanding.
    pub reset: u64,
    /// A response arrived with status >= 400.
    pub http: u64,
    /// Anything else (malformed response, local resource exhaustion).
    pub other: u64,
}

impl ErrorCounts {
    /// All errors.
    pub fn total(&self) -> u64 {
        self.connect + self.timeout + self.reset + self.http + self.other
    }

    /// Add another set of counts.
    pub fn add(&mut self, o: &ErrorCounts) {
        self.connect += o.connect;
        self.timeout += o.timeout;
        self.reset += o.reset;
        self.http += o.http;
        self.other += o.other;
    }
}

/// Latency percentiles in milliseconds (from an HDR histogram, 3 significant digits).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Number of recorded latencies (responses and timeouts).
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

/// One second of the load test (one row of `load.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSecond {
    /// End of the second, seconds since the load started.
    pub t_s: f64,
    /// Requests scheduled in this second (open model) or started (closed model).
    pub offered: u64,
    /// Responses completed in this second (any status).
    pub achieved: u64,
    /// Errors in this second (all kinds, including HTTP >= 400).
    pub errors: u64,
    /// 99th percentile latency of the responses completed in this second, ms (0 if none).
    pub p99_ms: f64,
    /// Responses completed since the start, including this second.
    pub requests_total: u64,
    /// `load` or `idle` (scenario cycles), or `ramp`/`steps`/`constant` names of the stage.
    pub phase: String,
}

impl LoadSecond {
    /// This second as one line of `load.csv` ([`LoadSummary::CSV_HEADER`]), with its line end.
    pub fn csv_row(&self) -> String {
        format!(
            "{:.3},{},{},{},{:.3},{},{}\n",
            self.t_s,
            self.offered,
            self.achieved,
            self.errors,
            self.p99_ms,
            self.requests_total,
            self.phase
        )
    }
}

/// Retained memory per request: slope of the memory floor against cumulative requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetainedPerRequest {
    /// The memory series the floor was taken from, e.g. `rss_bytes`.
    pub series: String,
    /// Estimated bytes retained per completed request.
    pub bytes_per_request: f64,
    /// 95 % confidence interval of `bytes_per_request`.
    pub ci95: [f64; 2],
    /// Number of floor points the slope was fitted on.
    pub floors: usize,
    /// How the floors were taken: `idle_phases` (end of each idle phase), `windows` (the
    /// minimum of each of up to 10 windows) or `windows_load_adjusted` (the same, with the request
    /// rate at each minimum as a second regressor because it varied).
    pub method: String,
}

/// Everything a load test measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    /// The target URL (scheme, host, port and the first request's path).
    pub target: String,
    /// Open or closed model.
    pub model: LoadModel,
    /// `constant` or `poisson` (open model only).
    pub arrivals: Option<String>,
    /// Connections (closed model) or the connection pool's limit (open model).
    pub connections: usize,
    /// Wall-clock seconds the load ran.
    pub elapsed_s: f64,
    /// Whether the test was stopped early (Ctrl-C, target gone).
    pub interrupted: bool,
    /// Mean scheduled rate over the run, requests/s (open model); `None` for the closed model.
    pub offered_rate: Option<f64>,
    /// Completed responses per second over the run.
    pub achieved_rate: f64,
    /// Requests scheduled (open) or started (closed).
    pub scheduled: u64,
    /// Requests actually written to a connection.
    pub sent: u64,
    /// Responses received (any status).
    pub completed: u64,
    /// Requests that left later than `late_threshold_ms` after their intended send time.
    pub late: u64,
    /// A request counts as late when it left more than this long after its intended time.
    pub late_threshold_ms: f64,
    /// Requests never sent because `max_in_flight` requests were outstanding.
    pub dropped: u64,
    /// Responses by status code.
    pub status_counts: BTreeMap<u16, u64>,
    /// Errors by kind.
    pub errors: ErrorCounts,
    /// Latency over the whole run.
    pub latency: LatencySummary,
    /// Per-second series.
    pub per_second: Vec<LoadSecond>,
    /// Retained bytes per request (filled by `run --load` when memory was sampled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retained: Option<RetainedPerRequest>,
}

impl LoadSummary {
    /// Column header of `load.csv`.
    pub const CSV_HEADER: &'static str =
        "t_seconds,offered,achieved,errors,p99_ms,requests_total,phase";

    /// Render the per-second series as `load.csv` (header plus one line per second).
    pub fn to_csv(&self) -> String {
        let mut s = String::with_capacity(64 * (self.per_second.len() + 1));
        s.push_str(Self::CSV_HEADER);
        s.push('\n');
        for r in &self.per_second {
            s.push_str(&r.csv_row());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_time_first_and_cumulative_requests() {
        let summary = LoadSummary {
            target: "http://127.0.0.1:1/".into(),
            model: LoadModel::Open,
            arrivals: Some("constant".into()),
            connections: 8,
            elapsed_s: 2.0,
            interrupted: false,
            offered_rate: Some(10.0),
            achieved_rate: 10.0,
            scheduled: 20,
            sent: 20,
            completed: 20,
            late: 0,
            late_threshold_ms: 10.0,
            dropped: 0,
            status_counts: BTreeMap::from([(200, 20)]),
            errors: ErrorCounts::default(),
            latency: LatencySummary::default(),
            per_second: vec![LoadSecond {
                t_s: 1.0,
                offered: 10,
                achieved: 10,
                errors: 0,
                p99_ms: 1.5,
                requests_total: 10,
                phase: "load".into(),
            }],
            retained: None,
        };
        let csv = summary.to_csv();
        assert!(csv.starts_with("t_seconds,"));
        assert!(csv.contains("requests_total"));
        assert_eq!(csv.lines().nth(1), Some("1.000,10,10,0,1.500,10,load"));
        let json = serde_json::to_string(&summary).unwrap();
        let back: LoadSummary = serde_json::from_str(&json).unwrap();
        assert_eq!(back, summary);
    }
}
