//! How well "need about N more" holds: each series cut at several points, and where the
//! end-of-run verdict on the cut is inconclusive with N seconds still needed (and the series goes
//! on that long), the series judged again at the cut plus N and plus 2N.
//!
//! A service owner told "need about 20 min more" expects an answer after about 20 minutes: a
//! leak then called a leak, a healthy service no longer "may be rising". The check counts, per
//! class and label, how many such verdicts were decided (leak or no leak) at +N and +2N, and
//! how many leaks were called leaks. Not for recall or false alarms (see `score`).

use leakhound_core::{SeriesVerdict, Verdict};
use leakhound_detect::DetectOptions;

use crate::families::{Class, Item};
use crate::score::{par_map, quantile};

/// Where each series is cut, as shares of its span.
pub const CUTS: [f64; 4] = [0.25, 0.4, 0.55, 0.7];

/// One inconclusive verdict with a time still needed, and what came of it.
#[derive(Debug, Clone)]
pub struct Check {
    /// Index of the series in the corpus.
    pub id: usize,
    /// Memory or resource.
    pub class: Class,
    /// Whether the series holds a leak.
    pub leak: bool,
    /// Seconds of the series seen at the cut.
    pub seen_s: f64,
    /// Seconds the verdict said it still needed.
    pub needs_s: f64,
    /// The verdict at the cut plus N; `None` when the series ends before.
    pub at_n: Option<Verdict>,
    /// The verdict at the cut plus 2N; `None` when the series ends before.
    pub at_2n: Option<Verdict>,
    /// Seconds after the cut until the verdict first read leak (looked for every
    /// [`SCAN_STEP`] of the time seen); `None` when it never did before the series ended.
    pub first_leak_s: Option<f64>,
}

/// Step of the search for the first leak verdict after a cut, as a share of the time seen.
pub const SCAN_STEP: f64 = 0.05;

/// Every check on the corpus (in-process, end of run, `threads` workers).
pub fn run(items: &[Item], opts: &DetectOptions, threads: usize) -> Vec<Check> {
    par_map(items, threads, |it| checks(it, opts))
        .into_iter()
        .flatten()
        .collect()
}

fn checks(it: &Item, opts: &DetectOptions) -> Vec<Check> {
    let s = &it.series;
    let (Some(&t0), Some(&t1)) = (s.t.first(), s.t.last()) else {
        return Vec::new();
    };
    let judge =
        |until: f64| -> SeriesVerdict { leakhound_detect::analyze(&s.prefix_until(until), opts) };
    let mut out = Vec::new();
    for share in CUTS {
        let cut = t0 + share * (t1 - t0);
        // A leak is judged only once it has begun: before its onset the series is healthy.
        if it.onset_s.is_some_and(|o| cut < o) {
            continue;
        }
        let v = judge(cut);
        let (Verdict::Inconclusive, Some(n)) = (v.verdict, v.needs_more_s) else {
            continue;
        };
        let seen = cut - t0;
        let later = |k: f64| (cut + k * n <= t1).then(|| judge(cut + k * n).verdict);
        let first_leak_s = (1..)
            .map(|k| k as f64 * SCAN_STEP * seen)
            .take_while(|&d| seen > 0.0 && cut + d <= t1)
            .find(|&d| judge(cut + d).verdict == Verdict::Leak);
        out.push(Check {
            id: it.id,
            class: it.class,
            leak: it.leak,
            seen_s: seen,
            needs_s: n,
            at_n: later(1.0),
            at_2n: later(2.0),
            first_leak_s,
        });
    }
    out
}

/// The table: per class and label, the checks made, how many were decided at +N and +2N, how
/// many were called leaks there (on healthy series: false alarms), N as a share of the time
/// already seen (median, p90), and when the first leak verdict came, in units of N (how many
/// had one, p25, median, p75).
pub fn table(checks: &[Check]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "class      label    inconcl  checked |  +N: decided  leak   |  +2N: decided  leak  | N / seen (median, p90) | first leak / N: n, p25, median, p75"
    );
    for class in [Class::Memory, Class::Resource] {
        for leak in [true, false] {
            let all: Vec<&Check> = checks
                .iter()
                .filter(|c| c.class == class && c.leak == leak)
                .collect();
            let at = |pick: fn(&Check) -> Option<Verdict>| {
                let seen: Vec<Verdict> = all.iter().filter_map(|c| pick(c)).collect();
                let decided = seen.iter().filter(|&&v| v != Verdict::Inconclusive).count();
                let leaks = seen.iter().filter(|&&v| v == Verdict::Leak).count();
                (seen.len(), decided, leaks)
            };
            let (n1, d1, l1) = at(|c| c.at_n);
            let (n2, d2, l2) = at(|c| c.at_2n);
            let pct = |a: usize, b: usize| {
                if b == 0 {
                    "    -".to_string()
                } else {
                    format!("{:>5.1}%", 100.0 * a as f64 / b as f64)
                }
            };
            let ratios: Vec<f64> = all
                .iter()
                .filter(|c| c.seen_s > 0.0)
                .map(|c| c.needs_s / c.seen_s)
                .collect();
            let med = if ratios.is_empty() {
                "-".to_string()
            } else {
                format!(
                    "{:.2}, {:.2}",
                    quantile(&ratios, 0.5),
                    quantile(&ratios, 0.9)
                )
            };
            let firsts: Vec<f64> = all
                .iter()
                .filter_map(|c| c.first_leak_s.map(|f| f / c.needs_s))
                .collect();
            let first = if firsts.is_empty() {
                "-".to_string()
            } else {
                format!(
                    "{}, {:.2}, {:.2}, {:.2}",
                    firsts.len(),
                    quantile(&firsts, 0.25),
                    quantile(&firsts, 0.5),
                    quantile(&firsts, 0.75)
                )
            };
            let _ = writeln!(
                s,
                "{:<10} {:<8} {:>7} {:>8} |      {} {}  |       {} {} | {med:<22} | {first}",
                match class {
                    Class::Memory => "memory",
                    Class::Resource => "resources",
                },
                if leak { "leak" } else { "healthy" },
                all.len(),
                n1,
                pct(d1, n1),
                pct(l1, n1),
                pct(d2, n2),
                pct(l2, n2),
            );
        }
    }
    s
}
