//! Verdicts: what the detector concludes about one series.
//!
//! [`SeriesVerdict`] is the stable JSON shape of `analyze` and of `verdict.json` (fields are
//! only ever added). [`Verdict`] is the three-way outcome; [`Verdict::combine`] folds several
//! into the verdict of a run.

use serde::{Deserialize, Serialize};

use crate::{ExitCodes, Unit};

/// The three-way outcome of a leak test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Growth that does not stabilise.
    Leak,
    /// Stable, bounded or explained growth.
    NoLeak,
    /// Not enough data to tell.
    Inconclusive,
}

impl Verdict {
    /// The lowercase word used in JSON and terminal output.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Leak => "leak",
            Verdict::NoLeak => "no_leak",
            Verdict::Inconclusive => "inconclusive",
        }
    }

    /// The words a person reads: `leak`, `no leak`, `inconclusive` (JSON keeps [`Self::as_str`]).
    pub fn words(self) -> &'static str {
        match self {
            Verdict::Leak => "leak",
            Verdict::NoLeak => "no leak",
            Verdict::Inconclusive => "inconclusive",
        }
    }

    /// The exit code for a run whose overall verdict is `self`.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Leak => ExitCodes::LEAK,
            Verdict::NoLeak => ExitCodes::OK,
            Verdict::Inconclusive => ExitCodes::INCONCLUSIVE,
        }
    }

    /// Fold verdicts: any leak makes a leak; otherwise any inconclusive makes inconclusive;
    /// an empty list is inconclusive (nothing was judged).
    pub fn combine<I: IntoIterator<Item = Verdict>>(verdicts: I) -> Verdict {
        let mut any = false;
        let mut inconclusive = false;
        for v in verdicts {
            any = true;
            match v {
                Verdict::Leak => return Verdict::Leak,
                Verdict::Inconclusive => inconclusive = true,
                Verdict::NoLeak => {}
            }
        }
        if !any || inconclusive {
            Verdict::Inconclusive
        } else {
            Verdict::NoLeak
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The detector's conclusion about one series, with the evidence behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesVerdict {
    /// Series (column) name.
    pub series: String,
    /// Unit of the values, rates and growth.
    pub unit: Unit,
    /// The outcome.
    pub verdict: Verdict,
    /// `verdict == leak`, for consumers that want a boolean.
    pub leak_detected: bool,
    /// Online mode: time of the first alarm on the series' own clock. End of run: the last
    /// timestamp when the verdict is a leak. `None` otherwise.
    pub detected_at_s: Option<f64>,
    /// Estimated growth rate of the memory floor (unit per second).
    pub rate_per_s: Option<f64>,
    /// 95 % confidence interval of `rate_per_s`.
    pub rate_ci95: Option<[f64; 2]>,
    /// Growth over the judged window in percent of its starting level.
    pub growth_pct: Option<f64>,
    /// Growth over the judged window in the series' unit.
    pub growth_abs: Option<f64>,
    /// Seconds until the series reaches the given limit at the current rate (`None` without a
    /// limit, or when it does not grow).
    pub time_to_limit_s: Option<f64>,
    /// The limit `time_to_limit_s` refers to, in the series' unit (`--limit`, the target's
    /// cgroup `memory.max`, or its open-files limit).
    #[serde(default)]
    pub limit: Option<f64>,
    /// Where the limit comes from (`--limit`, `cgroup memory.max`, `RLIMIT_NOFILE`).
    #[serde(default)]
    pub limit_source: Option<String>,
    /// For inconclusive verdicts: roughly how many more seconds of data would be needed.
    pub needs_more_s: Option<f64>,
    /// Number of samples judged.
    pub samples: usize,
    /// Time spanned by the judged samples, in seconds.
    pub window_s: f64,
    /// One plain sentence explaining the verdict.
    pub reason: String,
}

impl SeriesVerdict {
    /// A verdict with only the identifying fields set; the detector fills in the rest.
    pub fn empty(
        series: impl Into<String>,
        unit: Unit,
        verdict: Verdict,
        reason: impl Into<String>,
    ) -> Self {
        SeriesVerdict {
            series: series.into(),
            unit,
            verdict,
            leak_detected: verdict == Verdict::Leak,
            detected_at_s: None,
            rate_per_s: None,
            rate_ci95: None,
            growth_pct: None,
            growth_abs: None,
            time_to_limit_s: None,
            limit: None,
            limit_source: None,
            needs_more_s: None,
            samples: 0,
            window_s: 0.0,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_prefers_leak_then_inconclusive() {
        use Verdict::*;
        assert_eq!(Verdict::combine([NoLeak, Leak, Inconclusive]), Leak);
        assert_eq!(Verdict::combine([NoLeak, Inconclusive]), Inconclusive);
        assert_eq!(Verdict::combine([NoLeak, NoLeak]), NoLeak);
        assert_eq!(Verdict::combine([]), Inconclusive);
    }

    #[test]
    fn verdict_serializes_snake_case() {
        assert_eq!(
            serde_json::to_string(&Verdict::NoLeak).unwrap(),
            "\"no_leak\""
        );
    }
}
