//! Per-site live-bytes series, detector verdicts and ranked suspects.
//!
//! Suspects are sites whose live bytes keep growing while the process runs (detector verdict
//! `leak`), ranked by growth rate. A cache that fills up and levels off gets a `no_leak` verdict
//! and is not listed. What is still allocated when the process exits is reported separately
//! ("still live at exit"), because an exit-time leftover is not the same thing as growth.
//!
//! Sampled mode: values are Horvitz-Thompson estimates. The 95 % interval of a site's live bytes
//! comes from the Poisson interval of its live sample count (Wilson-Hilferty approximation,
//! Breslow & Day 1987) scaled by the mean weight per sample. The chance that a leak of the
//! reported size would have left no sample at all is `exp(-bytes / mean_interval)`: Poisson
//! sample points fall on allocated bytes at rate `1 / mean_interval`.

use crate::load::Profile;
use crate::sites::{self, GroupBy};
use crate::symbolize::{self, Frame};
use leakhound_core::{Series, SeriesVerdict, Unit, Verdict, format_bytes, format_rate};
use leakhound_detect::DetectOptions;
use rustc_hash::FxHashMap;

/// Options of [`analyze_profile`].
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    /// Site grouping.
    pub group_by: GroupBy,
    /// Detector options.
    pub detect: DetectOptions,
}

/// One allocation site.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SiteReport {
    /// Site name (grouping key).
    pub site: String,
    /// Detector verdict on the site's live-bytes series.
    pub verdict: SeriesVerdict,
    /// Live bytes at the last snapshot (estimate in sampled mode).
    pub live_bytes: u64,
    /// Live blocks at the last snapshot (estimate in sampled mode).
    pub live_blocks: u64,
    /// Bytes ever allocated here.
    pub total_bytes: u64,
    /// Allocations ever made here.
    pub total_allocs: u64,
    /// Sampled mode: live samples behind the estimate.
    pub live_samples: u64,
    /// Sampled mode: 95 % interval of `live_bytes`.
    pub live_bytes_ci95: Option<[f64; 2]>,
    /// Sampled mode: probability that a leak of `live_bytes` would have left no sample.
    pub miss_probability: Option<f64>,
    /// Distinct stacks merged into this site.
    pub stacks: usize,
    /// Call stack of the site's largest stack, from the allocating frame outwards.
    pub call_stack: Vec<Frame>,
    /// Live bytes over time.
    pub series: Series,
    /// One-line hint.
    pub hint: String,
    /// Sampled mode: the site grew, but on too few samples for its timeline to say whether it
    /// keeps growing (see [`MIN_SAMPLED_SITE_SAMPLES`]); its verdict is inconclusive.
    pub too_few_samples: bool,
}

/// Sampled mode: fewest live samples behind a site that grew for its timeline to be judged. A
/// site's estimate moves in steps of about one mean sampling interval; with a handful of steps
/// a leak and a one-off allocation look alike (a 2 MB leak at a 512 KiB mean is 4 steps). 20
/// steps are as many as the detector needs points (18) and more.
const MIN_SAMPLED_SITE_SAMPLES: u64 = 20;

/// Analysis of one process.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HeapReport {
    /// Process id.
    pub pid: u32,
    /// `exact` or `sampled`.
    pub mode: &'static str,
    /// Sampled mode: mean sampling interval in bytes.
    pub sample_mean_bytes: Option<u64>,
    /// Grouping used.
    pub group_by: String,
    /// Snapshots read.
    pub snapshots: usize,
    /// Seconds covered.
    pub duration_s: f64,
    /// Whether the file ends with the at-exit snapshot (false: killed or still running).
    pub complete: bool,
    /// Allocations the agent could not record.
    pub dropped: u64,
    /// Growing sites, fastest first.
    pub suspects: Vec<SiteReport>,
    /// Sites with bytes still allocated at exit, largest first (only when `complete`).
    pub live_at_exit: Vec<SiteReport>,
    /// Every site, largest live bytes first.
    pub sites: Vec<SiteReport>,
}

impl HeapReport {
    /// Overall verdict: leak if any suspect, inconclusive if no site could be judged.
    pub fn verdict(&self) -> Verdict {
        if !self.suspects.is_empty() {
            Verdict::Leak
        } else if self.sites.iter().any(|s| s.too_few_samples) {
            // A site grew on too few samples to be judged (sampled mode): not "no leak".
            Verdict::Inconclusive
        } else if self
            .sites
            .iter()
            .any(|s| s.verdict.verdict == Verdict::NoLeak)
        {
            Verdict::NoLeak
        } else {
            Verdict::Inconclusive
        }
    }

    /// Why growth cannot be judged, when [`HeapReport::verdict`] is inconclusive: a site that
    /// grew on too few samples (sampled mode), named; else the detector's reason for the site
    /// with the most live bytes (every site is inconclusive, and usually for the same reason,
    /// such as too few snapshots).
    pub fn inconclusive_reason(&self) -> Option<String> {
        if self.verdict() != Verdict::Inconclusive {
            return None;
        }
        if let Some(s) = self.sites.iter().find(|s| s.too_few_samples) {
            return Some(format!("{}: {}", s.site, s.verdict.reason));
        }
        let why = self
            .sites
            .iter()
            .map(|s| s.verdict.reason.as_str())
            .find(|r| !r.is_empty())
            .unwrap_or("no allocation site could be judged");
        Some(why.to_owned())
    }
}

#[derive(Default)]
struct Acc {
    stacks: Vec<u32>,
    frames: Vec<Frame>,
    best_live: u64,
}

/// Smallest growth of a site's live bytes for it to be listed as a suspect: 64 KiB, both as
/// net change over the run and as the detector's trend times the time covered. Below that a
/// trend is real but not actionable — e.g. a bounded cache that filled at the start (large net
/// change) and whose keys then lengthen by a digit as request ids grow (small trend); such
/// sites keep their `leak` verdict in the sites list.
pub const MIN_SUSPECT_GROWTH: f64 = 64.0 * 1024.0;

fn net_growth(s: &Series) -> f64 {
    match (s.v.first(), s.v.last()) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    }
}

/// The growth the detector's trend implies over the whole series.
fn trend_growth(s: &Series, rate_per_s: Option<f64>) -> f64 {
    match (s.t.first(), s.t.last(), rate_per_s) {
        (Some(a), Some(b), Some(r)) => r * (b - a),
        _ => 0.0,
    }
}

/// 95 % Poisson interval for a count `k` (Wilson-Hilferty; exact enough for k >= 1).
fn poisson_ci95(k: u64) -> [f64; 2] {
    const Z: f64 = 1.959_963_985;
    let k = k as f64;
    let lo = if k == 0.0 {
        0.0
    } else {
        k * (1.0 - 1.0 / (9.0 * k) - Z / (3.0 * k.sqrt())).powi(3)
    };
    let k1 = k + 1.0;
    let hi = k1 * (1.0 - 1.0 / (9.0 * k1) + Z / (3.0 * k1.sqrt())).powi(3);
    [lo.max(0.0), hi]
}

fn hint(s: &SiteReport, sampled: bool) -> String {
    let est = if sampled { "~" } else { "" };
    if s.verdict.verdict == Verdict::Leak {
        let rate = s
            .verdict
            .rate_per_s
            .map(|r| format_rate(Unit::Bytes, r))
            .unwrap_or_default();
        if s.total_allocs > 0 && s.live_blocks * 100 >= s.total_allocs * 95 {
            format!(
                "{est}{} allocated here {} never freed; live bytes grow {rate} without levelling off",
                crate::render::count(s.live_blocks, "block"),
                if s.live_blocks == 1 { "is" } else { "are" }
            )
        } else {
            let pct = 100.0 * s.live_blocks as f64 / s.total_allocs.max(1) as f64;
            format!(
                "{pct:.1} % of the blocks allocated here stay live and keep accumulating ({rate}); look for a missing free on one path"
            )
        }
    } else if s.live_bytes > 0 {
        // "Not growing" only when the timeline says so; too short a timeline says nothing.
        let while_running = match s.verdict.verdict {
            Verdict::NoLeak => "not growing while running",
            _ => "whether it grows while running is inconclusive",
        };
        format!(
            "{est}{} still live in {est}{}; {while_running}",
            format_bytes(s.live_bytes as f64),
            crate::render::count(s.live_blocks, "block")
        )
    } else {
        "everything allocated here was freed".into()
    }
}

/// Builds per-site series, runs the detector and ranks suspects.
pub fn analyze_profile(p: &Profile, opts: &AnalyzeOptions) -> HeapReport {
    let syms = symbolize::symbolize(p);
    let last = p.last().cloned().unwrap_or_default();
    let mut sites: FxHashMap<String, Acc> = FxHashMap::default();
    let mut ids: Vec<u32> = p.stacks.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        let frames = sites::expand(&p.stacks[&id], &syms);
        let key = sites::site_key(&frames, opts.group_by);
        let acc = sites.entry(key).or_default();
        acc.stacks.push(id);
        let live = last.get(&id).map_or(0, |c| c.live_bytes);
        if acc.frames.is_empty() || live > acc.best_live {
            acc.best_live = live;
            let i = sites::site_index(&frames);
            acc.frames = frames[i..].to_vec();
        }
    }
    let sampled = p.sampled();
    let mean = p.config.sample_mean_bytes.max(1) as f64;
    let mut reports: Vec<SiteReport> = sites
        .into_iter()
        .map(|(site, acc)| {
            let mut series = Series::new(format!("heap:{site}"), Unit::Bytes);
            // The at-exit snapshot follows the program's teardown (pools freed, a pause while
            // it exits); it belongs to the "still live at exit" list, not to the growth test.
            let running = if p.at_exit && p.snapshots.len() > 1 {
                p.snapshots.len() - 1
            } else {
                p.snapshots.len()
            };
            for (t, snap) in p.times.iter().zip(&p.snapshots[..running]) {
                let v: u64 = acc
                    .stacks
                    .iter()
                    .filter_map(|id| snap.get(id))
                    .map(|c| c.live_bytes)
                    .sum();
                series.push(*t, v as f64);
            }
            let sum = |f: fn(&crate::load::Counters) -> u64| -> u64 {
                acc.stacks.iter().filter_map(|id| last.get(id)).map(f).sum()
            };
            let live_bytes = sum(|c| c.live_bytes);
            let live_samples = sum(|c| c.live_samples);
            let mut verdict = leakhound_detect::analyze(&series, &opts.detect);
            let grew =
                series.v.last().copied().unwrap_or(0.0) > series.v.first().copied().unwrap_or(0.0);
            let too_few_samples = sampled
                && verdict.verdict == Verdict::NoLeak
                && grew
                && live_samples < MIN_SAMPLED_SITE_SAMPLES;
            if too_few_samples {
                verdict.verdict = Verdict::Inconclusive;
                verdict.reason = format!(
                    "grew on only {live_samples} samples (one per {} allocated, on average): too \
                     coarse to tell a leak from a one-off; sample finer (--heap sampled=64KiB) \
                     or run longer",
                    format_bytes(mean)
                );
            }
            let (ci, miss) = if sampled {
                let w = if live_samples > 0 {
                    live_bytes as f64 / live_samples as f64
                } else {
                    mean
                };
                let [lo, hi] = poisson_ci95(live_samples);
                (
                    Some([lo * w, hi * w]),
                    Some((-(live_bytes as f64) / mean).exp()),
                )
            } else {
                (None, None)
            };
            let mut r = SiteReport {
                site,
                verdict,
                live_bytes,
                live_blocks: sum(|c| c.live_blocks),
                total_bytes: sum(|c| c.total_bytes),
                total_allocs: sum(|c| c.total_allocs),
                live_samples,
                live_bytes_ci95: ci,
                miss_probability: miss,
                stacks: acc.stacks.len(),
                call_stack: acc.frames,
                series,
                hint: String::new(),
                too_few_samples,
            };
            r.hint = hint(&r, sampled);
            r
        })
        .collect();
    reports.sort_by(|a, b| b.live_bytes.cmp(&a.live_bytes).then(a.site.cmp(&b.site)));
    let mut suspects: Vec<SiteReport> = reports
        .iter()
        .filter(|r| {
            r.verdict.verdict == Verdict::Leak
                && net_growth(&r.series) >= MIN_SUSPECT_GROWTH
                && trend_growth(&r.series, r.verdict.rate_per_s) >= MIN_SUSPECT_GROWTH
        })
        .cloned()
        .collect();
    suspects.sort_by(|a, b| {
        let ra = a.verdict.rate_per_s.unwrap_or(0.0);
        let rb = b.verdict.rate_per_s.unwrap_or(0.0);
        rb.total_cmp(&ra)
    });
    let live_at_exit = if p.at_exit {
        reports
            .iter()
            .filter(|r| r.live_bytes > 0)
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    HeapReport {
        pid: p.pid,
        mode: if sampled { "sampled" } else { "exact" },
        sample_mean_bytes: sampled.then_some(p.config.sample_mean_bytes),
        group_by: opts.group_by.to_string(),
        snapshots: p.snapshots.len(),
        duration_s: p.times.last().copied().unwrap_or(0.0),
        complete: p.at_exit,
        dropped: p.dropped,
        suspects,
        live_at_exit,
        sites: reports,
    }
}

#[cfg(test)]
mod tests {
    use super::poisson_ci95;

    #[test]
    fn poisson_interval_matches_tables() {
        // Exact 95 % limits: k=10 -> [4.795, 18.39]; k=0 -> upper 3.689.
        let [lo, hi] = poisson_ci95(10);
        assert!(
            (lo - 4.795).abs() < 0.05 && (hi - 18.39).abs() < 0.1,
            "{lo} {hi}"
        );
        let [lo, hi] = poisson_ci95(0);
        assert!(lo == 0.0 && (hi - 3.689).abs() < 0.05, "{hi}");
    }
}
