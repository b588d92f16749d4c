//! Scoring detector outcomes against the corpus labels.
//!
//! A detection counts only at or after `onset − max(60 s, 3 intervals)` (issue 4); an alarm on
//! a leaking series before that is a premature alarm (counted separately, not as a detection).
//! Any leak verdict on a healthy series is a false positive. Not for running the detector on
//! files (see `files`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use leakhound_core::Verdict;
use leakhound_detect::{
    DetectOptions, analyze, analyze_online, analyze_online_with_load, analyze_with_load,
};

use crate::families::{Class, Item};

/// End of run or online.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// One verdict on the whole series.
    EndOfRun,
    /// Causal evaluation, first alarm.
    Online,
}

impl Mode {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::EndOfRun => "end-of-run",
            Mode::Online => "online",
        }
    }
}

/// What the detector said about one series in one mode.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The verdict.
    pub verdict: Verdict,
    /// Alarm time (online) or last timestamp (end of run) when a leak.
    pub detected_at_s: Option<f64>,
}

/// Run the detector in-process on every item, in both modes, on `threads` threads; with
/// `with_load`, each series is judged with its request counter (`Item::requests`) as the load
/// covariate (`analyze_with_load`, `analyze_online_with_load`).
pub fn evaluate_library(
    items: &[Item],
    threads: usize,
    with_load: bool,
) -> Vec<(Outcome, Outcome)> {
    let opts = DetectOptions::default();
    par_map(items, threads, |it| {
        let (e, o) = if with_load {
            (
                analyze_with_load(&it.series, &it.requests, &opts),
                analyze_online_with_load(&it.series, &it.requests, &opts),
            )
        } else {
            (
                analyze(&it.series, &opts),
                analyze_online(&it.series, &opts),
            )
        };
        (
            Outcome {
                verdict: e.verdict,
                detected_at_s: e.detected_at_s,
            },
            Outcome {
                verdict: o.verdict,
                detected_at_s: o.detected_at_s,
            },
        )
    })
}

/// `f` applied to every item on `threads` scoped threads, each taking a contiguous share, the
/// results in the items' order. A worker's panic is passed on.
pub fn par_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    let f = &f;
    std::thread::scope(|s| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Scores of one group of series (a class, or a family) in one mode.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Leaking series.
    pub leaks: usize,
    /// Healthy series.
    pub healthy: usize,
    /// Leaks detected in time.
    pub detected: usize,
    /// Leaks alarmed before their onset (minus tolerance).
    pub premature: usize,
    /// Healthy series called leaks.
    pub false_pos: usize,
    /// Inconclusive verdicts.
    pub inconclusive: usize,
    /// Seconds from onset to detection, per detected leak.
    pub ttd: Vec<f64>,
    /// Leak growth at detection in % of base, per detected leak.
    pub growth_at: Vec<f64>,
}

impl Stats {
    /// Detected / leaks.
    pub fn recall(&self) -> f64 {
        ratio(self.detected, self.leaks)
    }
    /// False positives / healthy.
    pub fn fpr(&self) -> f64 {
        ratio(self.false_pos, self.healthy)
    }
    /// Detected / all leak verdicts.
    pub fn precision(&self) -> f64 {
        ratio(
            self.detected,
            self.detected + self.false_pos + self.premature,
        )
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}

/// The `q` quantile (nearest rank) of a list; NaN when empty.
pub fn quantile(x: &[f64], q: f64) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)]
}

/// All scores: per (mode, class) and per (mode, family).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Per mode and class.
    pub by_class: BTreeMap<(Mode, Class), Stats>,
    /// Per mode and family.
    pub by_family: BTreeMap<(Mode, &'static str), Stats>,
}

fn add(st: &mut Stats, it: &Item, o: &Outcome) {
    let alarm = o.verdict == Verdict::Leak;
    if o.verdict == Verdict::Inconclusive {
        st.inconclusive += 1;
    }
    if !it.leak {
        st.healthy += 1;
        if alarm {
            st.false_pos += 1;
        }
        return;
    }
    st.leaks += 1;
    if !alarm {
        return;
    }
    let onset = it.onset_s.unwrap_or(0.0);
    let at = o.detected_at_s.unwrap_or(f64::INFINITY);
    let tol = (3.0 * it.interval_s).max(60.0);
    if at < onset - tol {
        st.premature += 1;
        return;
    }
    st.detected += 1;
    st.ttd.push((at - onset).max(0.0));
    // Corpora read from disk without a `leak_part` column have no growth to report.
    if let Some(g) = it.grown_pct_at(at) {
        st.growth_at.push(g);
    }
}

/// Fold outcomes (end of run, online) per item into a report.
pub fn summarize(items: &[Item], outcomes: &[(Outcome, Outcome)]) -> Report {
    let mut r = Report::default();
    for (it, (e, o)) in items.iter().zip(outcomes) {
        for (mode, out) in [(Mode::EndOfRun, e), (Mode::Online, o)] {
            add(r.by_class.entry((mode, it.class)).or_default(), it, out);
            add(r.by_family.entry((mode, it.family)).or_default(), it, out);
        }
    }
    r
}

fn pct(x: f64) -> String {
    if x.is_nan() {
        "-".to_string()
    } else {
        format!("{:.1}%", 100.0 * x)
    }
}

fn secs(x: f64) -> String {
    if x.is_nan() {
        "-".to_string()
    } else if x < 120.0 {
        format!("{x:.0}s")
    } else if x < 7200.0 {
        format!("{:.0}m", x / 60.0)
    } else {
        format!("{:.1}h", x / 3600.0)
    }
}

impl Report {
    /// The summary table (per mode and class) as text.
    pub fn summary_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<11} {:<9} {:>5} {:>5} {:>7} {:>6} {:>7} {:>6} {:>7} {:>7} {:>8} {:>5}",
            "mode",
            "class",
            "leaks",
            "ok",
            "recall",
            "FPR",
            "prec",
            "incl",
            "ttd50",
            "ttd90",
            "grow@det",
            "prem"
        );
        for ((mode, class), st) in &self.by_class {
            let _ = writeln!(
                s,
                "{:<11} {:<9} {:>5} {:>5} {:>7} {:>6} {:>7} {:>6} {:>7} {:>7} {:>8} {:>5}",
                mode.as_str(),
                class.as_str(),
                st.leaks,
                st.healthy,
                pct(st.recall()),
                pct(st.fpr()),
                pct(st.precision()),
                st.inconclusive,
                secs(quantile(&st.ttd, 0.5)),
                secs(quantile(&st.ttd, 0.9)),
                if st.growth_at.is_empty() {
                    "-".to_string()
                } else {
                    format!("{:.1}%", quantile(&st.growth_at, 0.5))
                },
                st.premature
            );
        }
        s
    }

    /// The per-family table as text: detection rate is recall for leak families and the
    /// false-positive rate for healthy ones.
    pub fn family_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<20} {:>4} {:>5} | {:>9} {:>6} | {:>9} {:>6} {:>7} {:>8} {:>4}",
            "family",
            "n",
            "leak",
            "end:alarm",
            "incl",
            "onl:alarm",
            "incl",
            "ttd50",
            "grow@det",
            "prem"
        );
        let fams: Vec<&'static str> = self
            .by_family
            .keys()
            .filter(|(m, _)| *m == Mode::EndOfRun)
            .map(|(_, f)| *f)
            .collect();
        for f in fams {
            let e = &self.by_family[&(Mode::EndOfRun, f)];
            let o = &self.by_family[&(Mode::Online, f)];
            let leak = e.leaks > 0;
            let rate = |st: &Stats| if leak { st.recall() } else { st.fpr() };
            let _ = writeln!(
                s,
                "{:<20} {:>4} {:>5} | {:>9} {:>6} | {:>9} {:>6} {:>7} {:>8} {:>4}",
                f,
                e.leaks + e.healthy,
                if leak { "yes" } else { "no" },
                pct(rate(e)),
                e.inconclusive,
                pct(rate(o)),
                o.inconclusive,
                secs(quantile(&o.ttd, 0.5)),
                if o.growth_at.is_empty() {
                    "-".to_string()
                } else {
                    format!("{:.1}%", quantile(&o.growth_at, 0.5))
                },
                o.premature
            );
        }
        s
    }
}
