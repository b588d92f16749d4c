//! Turning evidence into a verdict: thresholds, the order of the checks, the sentence shown to a
//! service owner, and the causal online mode (checkpoints plus persistence).
//!
//! Not for statistics themselves (those live in the sibling modules).

use leakhound_core::{
    Series, SeriesVerdict, Unit, Verdict, format_quantity, format_rate, format_rate_like,
};

use crate::DetectOptions;
use crate::changepoint::{HUMP_RETURN, blocks, find_jumps, level_steps, plan_cuts, up_runs};
use crate::envelope::{
    Envelope, coarse_midranges, coarse_minima, fine_floors, floor_envelope, lower_hull,
};
use crate::load_following::{self, LoadAxis, LoadFit};
use crate::mann_kendall::{MkResult, Serial, Z_975, best_hinge, mann_kendall, mann_kendall_blocks};
use crate::prep::{Clean, clean};
use crate::saturation::{Saturation, compare, curvature, line_under_warm_up, nested_warm_up};
use crate::theil_sen::{SenFit, theil_sen, theil_sen_blocks};
use crate::util::{median_in_place, quantile_in_place};

/// End-of-run one-sided significance level: 2 %, the false-positive budget of issue 4. The
/// trend test is not the only gate (the floor must also have grown by `min_growth`, its recent
/// half must not have levelled off, no plateau may fit better), so the detector's false-alarm
/// rate stays under the test's own level. On the tuning and check seeds 1/7/11/2/3, 2 % rather
/// than 1 % gained 1.3-3.9 points of memory and 0-4.9 points of resource recall at unchanged
/// false positives (short leaks that were "may be rising, not yet significant"); 5 % gained 1-2
/// points more for +0.8-1.8 points of false positives.
pub const DEFAULT_ALPHA: f64 = 0.02;

/// Online significance per checkpoint: 1 %, half the end-of-run level. The test is repeated at up
/// to a few hundred checkpoints, but an alarm also needs persistence ([`DEFAULT_PERSISTENCE`]
/// checkpoints, 30 samples and a fraction of the rise's age), which keeps
/// flat, noisy and GC-sawtooth corpus families at 0-5 % online false alarms; 0.1 % cost 3-6
/// points of online recall on the tuning corpus for < 1 point of false positives.
pub const DEFAULT_ALPHA_ONLINE: f64 = 0.01;

/// Minimum growth of the floor over the judged window, relative to its level: 3 %. Issue 4's
/// leaks grow at least 4 % over their window; healthy processes drift by a few percent at most
/// once warm (allocator fragmentation, glibc arenas, lazily touched pages, growth that flattens
/// like a logarithm), so 3 % sits between the two, nearer the leaks.
pub const DEFAULT_MIN_GROWTH: f64 = 0.03;

/// Online alarms need this many consecutive agreeing checkpoints (persistence, as in CUSUM
/// practice): one noisy checkpoint cannot raise an alarm.
pub const DEFAULT_PERSISTENCE: usize = 3;

/// Fewest samples (after warm-up) the detector judges: six envelope bins of three samples; six
/// bins is the smallest Mann-Kendall sample whose exact one-sided p-value can go below 1 %
/// (p = 1/720 for a strictly monotone series).
pub const MIN_SAMPLES: usize = 18;

/// A sawtooth still visible in the envelope is judged on its per-cycle floors when it shows at
/// least 6 cycles (the fewest values a Mann-Kendall test can reject at 1 %, see [`MIN_SAMPLES`]).
const MIN_CYCLES: usize = 6;

/// A series whose repeated falls are collections rather than restarts (see
/// [`restart_evidence`]) is judged on its cycle floors from 5 cycles on: five strictly rising
/// floors give a one-sided Mann-Kendall p of 1/120 = 0.8 %, under the end-of-run 2 %. On the
/// independent corpus (crates/corpus/independent, seeds 1-7) 5 rather than 6 gained 0.9 points
/// of end-of-run memory recall (leaks under a JVM old generation collected 5-6 times) at
/// unchanged false positives; the detector's own corpus did not change.
const MIN_SAWTOOTH_CYCLES: usize = 5;

/// Fewest envelope bins in a judged segment (see [`MIN_SAMPLES`]).
const MIN_BINS: usize = 6;

/// The recent-trend check uses the latest half of the judged window.
const LATE_FRACTION: f64 = 0.5;

/// Significance of the recent-half trend: it is a confirmation, so 5 % suffices.
const ALPHA_LATE: f64 = 0.05;

/// The recent-half rate, extrapolated over the whole window, must reach this fraction of
/// `min_growth`: growth that has slowed to under half its threshold is levelling off.
const LATE_GROWTH_FACTOR: f64 = 0.5;

/// Online: a decelerating rise whose current (last-quarter) rate is under 70 % of its recent-half
/// rate is not alarmed yet; an exponential approach to a plateau seen over one time constant
/// ends at e^(−0.5) ≈ 0.61 of its mean slope over the recent half.
const DECEL_RATIO: f64 = 0.7;

/// A window is re-judged from a mid-run bend only when it trends up as a whole at 10 %
/// (a gate against judging every random bend; the sub-window then must pass the full test).
const ONSET_GATE: f64 = 0.1;

/// …and the rise since the bend covers at least 15 % of the window.
const ONSET_MIN_FRACTION: f64 = 0.15;

/// A rise has slowed down (online) when its last third is, in the median, at least this
/// fraction of the growth the first two-thirds' line predicts for it below that line …
/// 15 %: a capped cache or a warm-up whose last third has just begun to bend falls 15-25 % short
/// of the early line; on the tuning seeds 1/7/11, 0.15 rather than 0.25 removed 0-4 points of
/// online memory false positives, and a linear leak's last third keeps to its line (the
/// shortfall must also be significant, see [`THIRDS_Z`]), so recall moved by ≤ 1.3 points
/// (check seeds 2-5: −0.8 points of false positives, −0-2.6 points of recall).
const THIRDS_SHORTFALL: f64 = 0.15;

/// At the end of a run the rise must have stopped: the last third gained under 30 % of what
/// the early line predicts (a shortfall of 70 %), and it does not rise significantly on its own.
/// With 25 % as online, end-of-run recall fell 1-5 points on the reporting seeds (slow leaks
/// under a warm-up or a Go sawtooth whose early line is steep).
const THIRDS_STOPPED: f64 = 0.7;

/// … and the last third shows no rise of its own: Mann-Kendall p ≥ 0.25 (a slow leak under a
/// warm-up falls far short of the warm-up's line but its last third still trends up; with the
/// 5 % of [`ALPHA_LATE`] those were lost at the end of a run).
const THIRDS_LATE_P: f64 = 0.25;

/// … and further below it than 3 standard errors of a median of the late bins (σ from the
/// first two-thirds' residuals, 1.4826·MAD; the median's standard error is 1.2533·σ/√n).
const THIRDS_Z: f64 = 3.0;

/// The thirds comparison of one window.
#[derive(Debug, Clone, Copy)]
struct Deficit {
    /// The last third fell short of the early line.
    short: bool,
    /// … by most of the predicted growth: the rise has stopped.
    stopped: bool,
    /// Mann-Kendall p-value (increasing) of the last third on its own.
    late_p: f64,
}

/// Whether the envelope's bins from `k` on fall short of the Theil-Sen line of the bins before
/// `k` (see [`THIRDS_SHORTFALL`], [`THIRDS_Z`]); `None` when the early line does not rise.
/// `min_sigma` floors the noise scale (one unit for integer counts, whose envelope is often
/// exactly on a line between steps, so a MAD of 0 would make any shortfall significant).
fn third_deficit(
    t: &[f64],
    y: &[f64],
    k: usize,
    min_sigma: f64,
    serial: Serial,
) -> Option<Deficit> {
    let early = theil_sen(&t[..k], &y[..k], mann_kendall(&y[..k], serial).var_s)?;
    let b = early.slope;
    if b <= 0.0 {
        return None;
    }
    let mut r: Vec<f64> = t[..k].iter().zip(&y[..k]).map(|(t, y)| y - b * t).collect();
    let a = median_in_place(&mut r);
    let mut dev: Vec<f64> = t[..k]
        .iter()
        .zip(&y[..k])
        .map(|(t, y)| (y - a - b * t).abs())
        .collect();
    let sigma = (1.4826 * median_in_place(&mut dev)).max(min_sigma);
    let mut late: Vec<f64> = t[k..]
        .iter()
        .zip(&y[k..])
        .map(|(t, y)| y - a - b * t)
        .collect();
    let n_late = late.len() as f64;
    let med = median_in_place(&mut late);
    // Growth the early line predicts from the split to the middle of the last third.
    let predicted = b * (0.5 * (t[k] + t[t.len() - 1]) - t[k - 1]);
    let significant = med < -THIRDS_Z * 1.2533 * sigma / n_late.sqrt();
    Some(Deficit {
        short: significant && med < -THIRDS_SHORTFALL * predicted,
        stopped: significant && med < -THIRDS_STOPPED * predicted,
        late_p: mann_kendall(&y[k..], serial).p_increasing,
    })
}

/// A leak's rate is read from a line on top of a warm-up (see
/// [`crate::saturation::line_under_warm_up`]) when the warm-up's time constant is at most a third
/// of the window (it has run its course, so the line is told from its curve), the model fits
/// clearly better than a line (residuals under [`PLATEAU_SSE_RATIO`] of the line's), its slope is
/// positive with 95 % confidence and below the window's slope, which the warm-up's climb
/// inflates. Only the reported rate and its interval change, not the verdict. On synthetic leaks
/// of 5-30 % under warm-ups of τ = 60-300 s over 22-100 min (288 leak verdicts), the window's
/// slope was off the leak's own rate by more than 35 % in 84 of them (up to 7.8×).
const WARM_LINE_MAX_TAU: f64 = 1.0 / 3.0;

/// … and when the warm-up rose by at least half of what the line adds over the window: a
/// smaller one inflates the window's slope by less than that, and on a nearly noiseless linear
/// leak the model otherwise took a slight bend of the envelope for a warm-up and gave a rate
/// 5-17 % low (independent corpus: five plain linear leaks).
const WARM_LINE_MIN_AMPLITUDE: f64 = 0.5;

/// A window whose longest stretch without samples is at least half of it is not judged (see
/// `judge_window_once`). The corpora's outages are a few per cent of a window each.
const GAP_SHARE: f64 = 0.5;

/// Each part of the thirds comparison needs at least 3 envelope bins.
const MIN_THIRD_BINS: usize = 3;

/// The recent half has levelled off when its rate's upper 95 % bound is under half the
/// overall rate.
const LEVELLED_RATIO: f64 = 0.5;

/// Integer counts change in steps of one: a change of up to 2.5 fds, sockets or threads between
/// envelope bins is the grain of the data (a slow count leak is nothing but such changes), never
/// a one-off level step or a restart. Memory has no such grain (pages are far below any
/// threshold). This is the one place where a verdict on counts depends on absolute values
/// (besides [`WHOLE_COUNT_MAX_MEDIAN`], which tells a column of unknown unit's counts from
/// memory).
const COUNT_QUANTUM: f64 = 2.5;

fn quantum(grain: Grain) -> f64 {
    match grain {
        Grain::Fine => 0.0,
        Grain::Whole => COUNT_QUANTUM,
    }
}

/// How a series' values move, which decides the rules that depend on it: the grain of the data
/// ([`COUNT_QUANTUM`]), the serial correction ([`serial`]), the persistence before an online
/// alarm, the smallest growth counted and the idle-floor rules for pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grain {
    /// Memory: steps far below any threshold, collections that fall and climb back.
    Fine,
    /// Resource counts (fds, sockets, threads, processes, requests): whole units that matter at
    /// their level, pools that follow load.
    Whole,
}

/// A column whose name gives no unit ([`Unit::Count`], e.g. `value`) is a count of resources
/// when every sample is a whole number and its median is under a million; otherwise memory.
/// A service's memory in bytes is never under a million (a megabyte), while fd, socket and
/// thread counts stay far below it. Judging a generic column as memory when it holds counts
/// cost end-of-run resource recall on our independent seeds 1-3 (92.5 / 92.5 / 85.0 % →
/// 77.5 / 85.0 / 80.0 %); judging memory as counts added false alarms (end-of-run memory FPR
/// 0.9 / 1.7 / 3.4 % → 5.2 / 6.0 / 8.6 %), hence a rule that memory in bytes cannot meet.
const WHOLE_COUNT_MAX_MEDIAN: f64 = 1e6;

pub(crate) fn judged_as_memory(series: &Series) -> bool {
    Grain::of(series) == Grain::Fine
}

impl Grain {
    fn of(series: &Series) -> Grain {
        match series.unit {
            Unit::Bytes => Grain::Fine,
            Unit::Count => {
                let mut v: Vec<f64> = series.v.iter().copied().filter(|x| x.is_finite()).collect();
                let whole = !v.is_empty() && v.iter().all(|x| x.fract() == 0.0);
                if whole && median_in_place(&mut v).abs() < WHOLE_COUNT_MAX_MEDIAN {
                    Grain::Whole
                } else {
                    Grain::Fine
                }
            }
            Unit::Fds | Unit::Sockets | Unit::Threads | Unit::Processes | Unit::Requests => {
                Grain::Whole
            }
        }
    }
}

/// The serial-correlation correction of the trend tests (see [`Serial`]): memory at least the
/// lag-one effective sample size, resource counts Hamed-Rao. Measured (v16, with the recent
/// half kept on Hamed-Rao, see `trend_with`): on our seeds 101-1010 end-of-run memory 89.3 % at
/// 0.7 % → 88.2 % at 0.5 % (leaks mostly turned inconclusive, three false alarms fewer),
/// independent seeds 1-7 92.0 % at 2.3 % → 91.0 % at 1.5 %, held-out independent seeds 8-10
/// FPR 3.4/2.6/6.0 % → 3.4/1.7/4.3 % for one leak fewer each. For counts it cost 2.5-5 points
/// of recall (held-out seeds) for no false alarm fewer.
fn serial(grain: Grain) -> Serial {
    match grain {
        Grain::Fine => Serial::LagOne,
        Grain::Whole => Serial::HamedRao,
    }
}

/// Share of sample-to-sample steps that must rise for a window that never falls to be judged as
/// noise-free ([`noise_free`]): a fifth. A count that sits still most of the time and steps up
/// now and then (a thread or two, an fd pool filling) keeps the usual tests, which its ties
/// already suit; a heap timeline rounded to 4 KiB pages still rises at over a fifth of its
/// snapshots late in a warm-up. Half (the first choice) left 14 more of such timelines to the
/// usual tests, which called them leaks (`crates/corpus/independent/noise_free.py`:
/// `warm_exact` 16.8 % false alarms at the end of a run with a fifth, 21.8 % with half). No verdict changed at either share on any corpus with noise (our seeds
/// 1/7/11/101-1010, held-out 1111-1313, independent seeds 1-10): none of their series is
/// noise-free.
const NOISE_FREE_MIN_RISES: f64 = 0.2;

/// Resource counts are integers: growth of fewer than 3 (fds, sockets, threads) over the window
/// is a lazily opened file or a second worker, not a leak.
const MIN_ABS_GROWTH_COUNT: f64 = 3.0;

/// A plateau model is preferred when its residual sum of squares is below 60 % of the line's:
/// with ≥ 6 bins that is an F-ratio of at least 1.67 for one extra parameter, about the 80th
/// percentile of F(1, 4) under no difference; combined with its end slope it vetoes a leak.
const PLATEAU_SSE_RATIO: f64 = 0.6;

/// One-off steps tolerated before a staircase counts as growth: issue 4 lists one to three
/// one-off steps (fragmentation, one-time allocations) as healthy.
const MAX_ONE_OFF_STEPS: usize = 3;

/// A climb-then-restart cycle is judged from at least 9 samples (three bins of three).
const MIN_SAMPLES_PER_CYCLE: usize = 9;

/// A cycle's envelope needs 4 bins for its own Mann-Kendall test at 5 % (p = 1/24 for a
/// strictly rising one); shorter cycles are tested on their raw samples.
const MIN_CYCLE_BINS: usize = 4;

/// A climb, not a jump: no single bin-to-bin rise of a cycle makes more than 1.5 times the
/// share of the climb that an even climb gives each bin (and at least half of it): 0.5 with
/// three or more rises, 0.75 with two (an even two-bin climb puts half of itself in each rise,
/// so "half" could not tell it from a step). A load burst that arrives as one step and ends
/// puts nearly all of its rise in one bin.
const CLIMB_STEP_SHARE: f64 = 1.5;

/// OOM-kill cycles: at least this many complete climb-then-restart cycles.
const MIN_RISING_CYCLES: usize = 2;

/// Online, cycles must be seen twice more than at the end of a run (4 rising cycles): early in
/// a run a slow GC sawtooth (Go's heap doubling before each collection) shows the same
/// climb-and-reset shape for its first cycles. On the tuning corpus 3 cycles alarmed on 4 of 24
/// Go sawtooth series, 4 cycles on 2, and no OOM-cycle leak was lost.
const ONLINE_EXTRA_CYCLES: usize = 2;

/// Online checkpoints: re-evaluate when elapsed time has grown by 2 % since the last one (or at
/// the next sample if that is later): about 50 checkpoints per e-fold of elapsed time, so cost
/// grows like n·log(n) while an onset is seen within ~2 % of the elapsed time.
const CHECK_FRACTION: f64 = 0.02;

/// The recent half is decelerating when its parabola's quadratic term has t < −3 (a 0.3 %
/// one-sided tail under no curvature); its current rate is then the parabola's end slope
/// rather than the half's average slope, which a warm-up's tail would inflate.
const CONCAVE_T: f64 = 3.0;

/// Online, the whole window (not only its recent half) is concave when its parabola's
/// quadratic term has t < −4: an exponential warm-up or a pool filling towards its size, seen
/// within its first time constant or two, bends over the whole window before its recent half
/// alone shows it. Stricter than [`CONCAVE_T`] because the whole window's envelope carries
/// more serial correlation (GC sawtooth, AR noise) that inflates t; on the tuning seeds
/// 1/7/11, −4 removed 1.8 points of resource false positives on two seeds at no recall cost,
/// −3 cost 1.3 points of memory recall (check seeds 2-5: resource false positives −0-1.8
/// points, memory recall −0-1.3 points).
const CONCAVE_T_FULL: f64 = 4.0;

/// Online persistence: the alarm condition must have held over at least this fraction of the
/// time since the rise began (not just for a few checkpoints), so a warm-up or a load ramp that
/// stops within that time never alarms. 0.15 keeps the growth at detection within ~1.2× the
/// growth at first significance for a leak; on the tuning corpus 0.25-0.6 lost far more recall
/// (streaks of a real leak break on noise) than they saved false alarms (rises that stop are
/// mostly still rising when the alarm fires). Agreement is
/// judged over every checkpoint of that span (see [`PERSIST_AGREE`]).
const PERSIST_FRACTION: f64 = 0.15;

/// …and for at least 30 sample intervals (30 s at 1 s sampling, 7.5 min at a 15 s scrape), so
/// the first climb of a GC sawtooth, before any collection was seen, cannot alarm on its own
/// (a 37 s sawtooth sampled at 1 s alarmed at its first collection with 20). On the tuning
/// corpus 30 rather than 20 cost 2-6 points of online recall, mostly 60-sample series.
const MIN_PERSIST_SAMPLES: f64 = 30.0;

/// Memory that follows load gives itself back: a floor that fell gradually (Mann-Kendall
/// significantly decreasing) by at least this multiple of `min_growth` of the level before
/// its lowest point is load coming and going (a daily cycle's night, a ramp down), and a rise
/// after it is the load returning. A leak never lowers its own floor by as much as the
/// smallest leak growth. 1× rather than 2× removed 0.8 points of end-of-run false positives
/// on each tuning seed 1/7/11 (daily cycles seen for 12-17 h whose night fell 5 %) and 1 of
/// 77 leaks on seed 7.
const GIVE_BACK_FRACTION: f64 = 1.0;

/// …and by at least this multiple of the envelope's bin-to-bin noise (the median absolute
/// difference between neighbouring bins, [`bin_noise`]): stationary noise around a line
/// draws down by about four times that at most over a window, so twelve leaves a wide margin,
/// while the night of a daily cycle falls 16-28 times it on our corpus. Without it, the
/// noisy envelope of a leak under Go's or Node's collector, or of a small count, "fell" 1.5-10
/// times its noise over its first 5-9 bins and was taken for load given back: on our seeds
/// 1/7/11/101-1010 and independent seeds 1-7, seven end-of-run leaks more, no false alarm
/// more (the five daily cycles the rule exists for stay). At the end of a run only: online,
/// where a noisy fall also holds back rises that stop later, it gained 2 alarms for 3 false
/// ones.
const GIVE_BACK_NOISE: f64 = 12.0;

/// Resource counts (fds, sockets, threads) have no garbage-collection sawtooth whose first
/// climb [`MIN_PERSIST_SAMPLES`] guards against, so half of it suffices (15 intervals, still
/// three persistence checkpoints' worth on a 60-sample series). On the tuning seeds 1/7/11, 15
/// rather than 30 gained 10-17 points of online resource recall (short count series, ~60
/// samples, were significant but could not persist for 30 more samples) for 0-1.8 points of
/// false positives.
const MIN_PERSIST_SAMPLES_COUNT: f64 = 15.0;

/// Online, a resource count (fds, sockets, threads) raises no alarm on less than two minutes
/// of data: a process opens its pools, listeners and worker threads as it starts, and a pool
/// warming up within its first minute rises as steadily as a leak (at 1 s sampling, a socket
/// pool filling from 250 to 430 alarmed after 43 s). Measured (v26), online, resources: 11
/// false alarms fewer on our seeds 1/7/11/101-1010/1111-1313 and independent seeds 1-10 (pools
/// warming to their cap, a batch, a finalizer's sawtooth) and one on the mechanism corpus
/// seeds 1-3, no alarm lost; on the fresh seeds 101-1010 the median growth at detection
/// moved only on seed 707 (8.0 → 8.3 %, an alarm now after 2 min); 180 s: 9 more false alarms
/// fewer but 2 leaks lost (a count growing with bursty load, an error-burst leak) and a later
/// alarm on seed 202; 300 s: 37 fewer, 10 lost. For memory, 120 s cost 9 alarms for 13 false
/// ones (the leaks lost were mostly alarms raised on a warm-up's own rise before the leak
/// under it showed), so memory keeps [`MIN_PERSIST_SAMPLES`] alone.
const MIN_ALARM_ELAPSED_COUNT: f64 = 120.0;

/// Share of the checkpoints in the persistence span that must call a leak: a few noisy
/// evaluations of a real leak do not reset it, a rise that stops does (it stops agreeing).
/// 60 %: a real leak near the edge of significance flips between leak and inconclusive from
/// one checkpoint to the next; with 75 % those streaks broke. On the tuning seeds 1/7/11,
/// 0.6 rather than 0.75 gained 1.3-3.9 points of online memory recall and 0-4.9 points of
/// resource recall for 0-0.8 points of false positives (0.5 added 1.6 points of FPR on seed
/// 7); on the check seeds 2-5 it is a trade along the same curve (memory recall +0-3.9,
/// false positives +0-1.6 points).
const PERSIST_AGREE: f64 = 0.6;

/// What the judge concluded, before it becomes a [`SeriesVerdict`].
#[derive(Debug, Clone)]
struct Judgement {
    verdict: Verdict,
    rate: Option<f64>,
    ci: Option<[f64; 2]>,
    growth_abs: Option<f64>,
    growth_pct: Option<f64>,
    level_end: Option<f64>,
    /// The whole window trends up (MK p < [`ONSET_GATE`]) and a hinge fits better than a line:
    /// worth judging again from the bend on.
    onset_candidate: bool,
    /// Where the judged rise starts (segment start, or a mid-run onset): online persistence is
    /// measured against the time since then.
    rise_start: f64,
    needs_more_s: Option<f64>,
    samples: usize,
    window_s: f64,
    reason: String,
    /// Not a leak only because the trend test did not reach significance ("may be rising",
    /// "flat"): no levelling off, step, sawtooth or load explained the window.
    unproven: bool,
    /// Of those, the trend came close ("may be rising": Mann-Kendall p < 0.1 and `min_growth`
    /// over the window, no levelling off).
    rising: bool,
    /// Not a leak because the floor levelled off or a plateau fits better ("grew … early but
    /// has levelled off").
    levelled: bool,
    /// The recent half rises on its own: Mann-Kendall at [`ALPHA_LATE`] and Sen's lower bound
    /// above zero.
    late_rises: bool,
    /// The recent half bends down: its parabola's quadratic term has t < −[`CONCAVE_T`].
    late_concave: bool,
}

fn what(unit: Unit) -> &'static str {
    match unit {
        Unit::Bytes => "memory",
        Unit::Fds => "open fd count",
        Unit::Sockets => "socket count",
        Unit::Threads => "thread count",
        Unit::Processes => "process count",
        Unit::Requests => "request count",
        Unit::Count => "value",
    }
}

fn floor_word(unit: Unit) -> &'static str {
    match unit {
        Unit::Bytes => "memory floor",
        _ => what(unit),
    }
}

/// Human duration: `45 s`, `12 min`, `5.0 h`.
/// "sample" or "samples".
fn samples_word(n: usize) -> &'static str {
    if n == 1 { "sample" } else { "samples" }
}

fn dur(s: f64) -> String {
    if s < 9.95 {
        // Tenths under 10 s (a short program's heap timeline, a warm-up's time constant): a
        // sub-second window is not "0 s", nor a 1.7 s time constant "2 s".
        let tenths = (s * 10.0).round() / 10.0;
        if tenths.fract() == 0.0 {
            format!("{tenths:.0} s")
        } else {
            format!("{tenths:.1} s")
        }
    } else if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 2.0 * 3600.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// Seconds still needed, as `needs_more_s` reports them (at least 1, whole): the sentence says
/// the same figure (a 2-second heap timeline was told "need about 0 s more").
fn whole_s(needs: f64) -> f64 {
    needs.max(1.0).ceil()
}

fn inconclusive(samples: usize, window_s: f64, needs: f64, reason: String) -> Judgement {
    Judgement {
        verdict: Verdict::Inconclusive,
        rate: None,
        ci: None,
        growth_abs: None,
        growth_pct: None,
        level_end: None,
        onset_candidate: false,
        rise_start: f64::NEG_INFINITY,
        needs_more_s: Some(whole_s(needs)),
        samples,
        window_s,
        reason,
        unproven: false,
        rising: false,
        levelled: false,
        late_rises: false,
        late_concave: false,
    }
}

#[derive(Clone, Copy)]
struct Ctx<'a> {
    /// For the words only; the rules follow `grain`.
    unit: Unit,
    grain: Grain,
    opts: &'a DetectOptions,
    alpha: f64,
    /// Online checkpoints also wait out a decelerating rise (see [`DECEL_RATIO`]).
    online: bool,
    /// Requests served, when load is known: memory that follows it is taken out before judging
    /// (see `load_following`).
    load: Option<&'a LoadAxis>,
    /// The falls of the judged stretch are collections, not restarts (see [`restart_evidence`]):
    /// judge its per-cycle floors.
    sawtooth: bool,
    /// The judged window never falls (see [`noise_free`]): its trend tests take no
    /// serial-correlation correction.
    noise_free: bool,
}

impl Ctx<'_> {
    /// The serial-correlation correction of this window's trend tests.
    fn serial(&self) -> Serial {
        if self.noise_free {
            Serial::None
        } else {
            serial(self.grain)
        }
    }

    /// The envelope judged, in both modes: the 10th-percentile envelope or the bin minima,
    /// whichever is the quieter floor (see `envelope::floor_envelope`).
    fn envelope(&self, t: &[f64], v: &[f64]) -> Envelope {
        floor_envelope(t, v)
    }
}

/// Trend evidence on one segment's envelope.
struct Trend {
    mk: MkResult,
    fit: SenFit,
    late_mk: MkResult,
    late_fit: Option<SenFit>,
    /// Judged on one floor per collection cycle rather than on the envelope's bins.
    cycle_floors: bool,
    sat: Option<Saturation>,
    /// The envelope bins `sat` was fitted on (the whole window, or its last block after cuts).
    model_range: Option<std::ops::Range<usize>>,
    level: f64,
    start_level: f64,
    window: f64,
    ups: usize,
    /// Total rise of those steps.
    step_rise: f64,
    /// Theil-Sen over the last quarter.
    tail_fit: Option<SenFit>,
    /// Rate from the medians of the first and last fifth (for heavily tied data).
    tie_slope: f64,
    /// The same over the recent half.
    late_tie_slope: f64,
    /// The same within the blocks of the last quarter: the current rate of a concave rise when
    /// ties hold Sen's slope of that quarter at 0. Without it, a count that kept rising one fd
    /// at a time read "has levelled off (recent half: 0 fds/h)" whenever its last quarter held
    /// a single step (independent seeds 3 and 4: two leaks of 8-45 sockets more, in
    /// incidents; no other verdict on our seeds 1/7/11/101-1010 or independent seeds 1-7
    /// changed).
    tail_tie_slope: f64,
    /// (t-statistic of the quadratic term, end slope) of the recent half.
    late_curvature: Option<(f64, f64)>,
    rise_start: f64,
    /// (t-statistic of the quadratic term, end slope) of the whole window (no cuts only).
    full_curvature: Option<(f64, f64)>,
    /// The last third fell short of the first two-thirds' line (see [`third_deficit`]).
    thirds_deficit: Option<Deficit>,
    /// Cut one-off steps in the recent half, and their total rise.
    late_steps: usize,
    late_step_rise: f64,
    /// Judged with its steps left in after they kept coming (see [`stepping_on`]): how many
    /// were cut in the recent half, and their rise.
    stepped_on: Option<(usize, f64)>,
}

fn trend(env: &Envelope, grain: Grain, serial: Serial, sawtooth: bool) -> Option<Trend> {
    trend_joined(env, grain, serial, sawtooth, None, MAX_ONE_OFF_STEPS)
}

/// [`trend`] of an envelope whose humps were masked out (`joins`: the indices `i` where bins
/// `i` and `i + 1` were not neighbours before; `None` for an envelope as binned). A rise
/// across a join is what the burst left behind, never a step to cut.
fn trend_joined(
    env: &Envelope,
    grain: Grain,
    serial: Serial,
    sawtooth: bool,
    joins: Option<&[usize]>,
    max_one_off: usize,
) -> Option<Trend> {
    let mut tmp = env.y.clone();
    let level = median_in_place(&mut tmp);
    let level = if level.abs() > 0.0 {
        level.abs()
    } else {
        env.y.iter().fold(0.0_f64, |a, b| a.max(b.abs()))
    };
    let mut jumps = find_jumps(&env.y, level, quantum(grain));
    // Level steps the outlier test cannot see in a noisy envelope (see [`level_steps`]) are
    // steps too, unless a restart splits the envelope (then its segments are judged apart).
    if jumps.restarts.is_empty() {
        for u in level_steps(&env.y, level, quantum(grain), max_one_off) {
            if jumps.all.iter().all(|&a| a.abs_diff(u) > 1) {
                jumps.ups.push(u);
                jumps.all.push(u);
            }
        }
        jumps.ups.sort_unstable();
        jumps.all.sort_unstable();
    }
    if let Some(j) = joins {
        jumps.ups.retain(|u| !j.contains(u));
        jumps
            .all
            .retain(|u| !(j.contains(u) && env.y[u + 1] > env.y[*u]));
    }
    let plan = plan_cuts(&env.y, &jumps, max_one_off);
    // A slow sawtooth still visible in the envelope (collections rarer than bins: Node's
    // mark-sweep, a JVM's old generation): judge the post-collection floors, one per cycle.
    let falls: Vec<usize> = jumps
        .all
        .iter()
        .copied()
        .filter(|&i| env.y[i + 1] < env.y[i])
        .collect();
    // A collection that straddles a bin boundary falls over two consecutive bins: one cycle
    // boundary, not two (else the bin between them becomes a one-bin "cycle" whose floor is
    // half-way down the fall).
    let falls: Vec<usize> = falls
        .iter()
        .enumerate()
        .filter(|&(k, &i)| k + 1 >= falls.len() || falls[k + 1] != i + 1)
        .map(|(_, &i)| i)
        .collect();
    // One-off steps (every up-jump cut as a step: no staircase, ramp or hump) may sit between
    // the cycles: each ends a stretch too, and the floors on either side of it go into
    // separate blocks, as steps do on the envelope. Judged on the envelope's bins instead, a
    // sawtooth with a step read its climbs as growth (independent corpus, seeds 1-7: −0.5
    // points of end-of-run memory FPR, `mem_oneoff_steps` and `mem_cache_warmup` under a
    // JVM's old generation).
    let only_steps = plan.humps.is_empty() && plan.cuts.len() == jumps.ups.len();
    // With a step in it, a series whose falls are not restarts cannot be judged on its
    // envelope as it is, so five cycles are enough, as in the sawtooth context (−0.5 points
    // more there, no leak lost; entering the sawtooth context's own path from five cycles
    // rather than six lost 2 leaks there).
    let stepped = !jumps.ups.is_empty();
    let mut min_cycles = if sawtooth || stepped {
        MIN_SAWTOOTH_CYCLES
    } else {
        MIN_CYCLES
    };
    let enough = if stepped {
        MIN_SAWTOOTH_CYCLES
    } else {
        MIN_CYCLES
    };
    if (!stepped || only_steps)
        && (jumps.restarts.is_empty() || sawtooth)
        && falls.len() + 1 >= enough
    {
        // Only a step that rose more than a typical collection gives back is one: a quicker
        // stretch of a climb can jump too.
        let mut drops: Vec<f64> = falls.iter().map(|&f| env.y[f] - env.y[f + 1]).collect();
        let typical_drop = if drops.is_empty() {
            0.0
        } else {
            median_in_place(&mut drops)
        };
        let step_ends = plan
            .cuts
            .iter()
            .filter(|&&c| env.y[c + 1] - env.y[c] > typical_drop)
            .map(|&c| (c + 1, true));
        // Stretch boundaries: (first bin after it, whether a step rather than a fall ends it).
        let mut ends: Vec<(usize, bool)> = falls
            .iter()
            .map(|&f| (f + 1, false))
            .chain(step_ends)
            .chain(std::iter::once((env.y.len(), false)))
            .collect();
        ends.sort_unstable();
        ends.dedup_by(|b, a| {
            // The same boundary as a fall and a step: a step (it is cut).
            let same = a.0 == b.0;
            a.1 |= same && b.1;
            same
        });
        // One floor per stretch that begins with a collection: the stretch before the first
        // fall and one that begins at a step start somewhere in a climb, so their lowest
        // point is not a floor (the first is kept when too few cycles remain without it).
        let mut ct = Vec::with_capacity(ends.len());
        let mut cy = Vec::with_capacity(ends.len());
        // Whether a step lies between a floor and the one before it.
        let mut step_before = Vec::with_capacity(ends.len());
        let mut start = 0;
        let mut begins_at_step = false;
        let mut pending_step = false;
        let mut first_kept = None;
        for (end, step) in ends {
            if end > start && !begins_at_step {
                let (k, &y) = env.y[start..end]
                    .iter()
                    .enumerate()
                    .min_by(|a, b| a.1.total_cmp(b.1))
                    .expect("a non-empty range has a minimum");
                if start == 0 {
                    first_kept = Some(step);
                }
                ct.push(env.t[start + k]);
                cy.push(y);
                step_before.push(pending_step);
                pending_step = false;
            }
            pending_step |= step;
            begins_at_step = step;
            start = end;
        }
        // The first stretch is dropped only when it ends in a fall (one that ends at a step
        // holds the only floor before it).
        // With just enough stretches, the first one is kept only when it is long enough to
        // hold a floor (see [`FIRST_STRETCH_SHARE`]); without it, the five floors left are
        // judged, as in the sawtooth context (five strictly rising floors: p = 1/120).
        if cy.len() == min_cycles
            && first_kept == Some(false)
            && falls.len() >= 3
            && first_stretch_partial(&falls)
        {
            ct.remove(0);
            cy.remove(0);
            step_before.remove(0);
            min_cycles = MIN_SAWTOOTH_CYCLES;
        }
        if cy.len() > min_cycles && first_kept == Some(false) {
            ct.remove(0);
            cy.remove(0);
            step_before.remove(0);
        }
        if cy.len() >= min_cycles {
            // A cut at `i` ends a block after floor `i`.
            let cuts: Vec<usize> = (1..step_before.len())
                .filter(|&i| step_before[i])
                .map(|i| i - 1)
                .collect();
            let steps = cuts.len().min(plan.steps);
            let floors = Envelope {
                t: ct,
                y: cy,
                width: env.width,
            };
            let rise = if steps > 0 { plan.step_rise } else { 0.0 };
            return trend_with(&floors, cuts, steps, rise, level, grain, serial).map(|mut tr| {
                tr.cycle_floors = true;
                tr
            });
        }
    }
    // Mask the raised bins of humps (none: every bin is kept).
    let masked = |i: usize| plan.humps.iter().any(|&(a, b)| i >= a && i <= b);
    let kept: Vec<usize> = (0..env.y.len()).filter(|&i| !masked(i)).collect();
    if plan.humps.is_empty() || kept.len() < MIN_BINS {
        return trend_with(
            env,
            plan.cuts,
            plan.steps,
            plan.step_rise,
            level,
            grain,
            serial,
        );
    }
    let sub = Envelope {
        t: kept.iter().map(|&i| env.t[i]).collect(),
        y: kept.iter().map(|&i| env.y[i]).collect(),
        width: env.width,
    };
    // The envelope without its humps is judged again as a whole, once: the bursts hid what
    // lies between them (a slow sawtooth whose cycle floors carry the leak, steps, a ramp),
    // and the jumps and cuts found with the bursts in view no longer fit it (a burst's rise
    // and fall inflated the noise the jumps are measured against). Its joins are never steps
    // (see [`trend_joined`]): cut there, a leak that grows with load lost exactly its growth.
    // Measured on our seeds 1/7/11/101-1010 and independent seeds 1-7: end-of-run memory
    // recall +0.3 (no seed lower) and +0.5 points, independent FPR −0.4 points; resources
    // +0.4 and +1.8 points (one of our seeds −1 leak); online memory recall +0.2/+0.6 points
    // at independent FPR +0.4 points: leaks proportional to bursty load, mostly.
    if joins.is_none() {
        let joined: Vec<usize> = (1..kept.len())
            .filter(|&p| kept[p] != kept[p - 1] + 1)
            .map(|p| p - 1)
            .collect();
        return trend_joined(&sub, grain, serial, sawtooth, Some(&joined), max_one_off);
    }
    // Judged again already: mask and cut as planned.
    let cuts: Vec<usize> = plan
        .cuts
        .iter()
        .filter(|&&c| !masked(c))
        .filter_map(|&c| kept.iter().rposition(|&k| k <= c))
        .collect();
    trend_with(&sub, cuts, plan.steps, plan.step_rise, level, grain, serial)
}

/// The stretch before a sawtooth's first fall holds a floor of its own only when it is more
/// than this share of a typical cycle (the median spacing of the falls after it). A series that
/// begins late in a climb has no post-collection floor before its first fall: that stretch's
/// lowest point is the climb's top, above the next floors when each cycle adds less than the
/// climb. With exactly [`MIN_CYCLES`] stretches it was kept, and one such "floor" put first
/// turned five rising floors into no trend; such a series is now judged on the five floors
/// after it ([`MIN_SAWTOOTH_CYCLES`]). Measured: end-of-run memory +2 leaks on our seeds
/// 101-1010 (707 and 909: leaks under a JVM's old generation and Node's mark-sweep), online +1
/// on independent seed 2; no other verdict changed on our seeds 1/7/11/101-1010, independent
/// seeds 1-10 or the held-out seeds 1111-1313. 0.5 left seed 909 out when binned in-process
/// (its first stretch is 0.52 of a cycle); 0.7 changed nothing more; 0.8 or 1.0, or dropping
/// the first stretch whenever its lowest point lies above the next floor, added false alarms
/// on independent seeds 1 and 6 (a full first cycle whose floor sat a little high by chance,
/// among cycles of uneven length).
const FIRST_STRETCH_SHARE: f64 = 0.6;

/// Whether the stretch before the first of `falls` (envelope indices, at least 3) is at most
/// [`FIRST_STRETCH_SHARE`] of the median spacing of the falls.
fn first_stretch_partial(falls: &[usize]) -> bool {
    let mut gaps: Vec<f64> = falls.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
    ((falls[0] + 1) as f64) <= FIRST_STRETCH_SHARE * median_in_place(&mut gaps)
}

/// The trend evidence on an envelope already cut (`cuts`) and cleaned of humps.
fn trend_with(
    env: &Envelope,
    cuts: Vec<usize>,
    steps: usize,
    step_rise: f64,
    level: f64,
    grain: Grain,
    serial: Serial,
) -> Option<Trend> {
    let m = env.y.len();
    let bl = blocks(m, &cuts);
    let ys: Vec<&[f64]> = bl.iter().map(|r| &env.y[r.clone()]).collect();
    let mk = mann_kendall_blocks(&ys, serial);
    let pairs: Vec<(&[f64], &[f64])> = bl
        .iter()
        .map(|r| (&env.t[r.clone()], &env.y[r.clone()]))
        .collect();
    let fit = theil_sen_blocks(&pairs, mk.var_s)?;
    let t0 = env.t[0];
    let t1 = env.t[m - 1];
    let window = t1 - t0;
    // Late half: the same blocks, clipped to the last LATE_FRACTION of the window.
    let late_start = t1 - LATE_FRACTION * window;
    let late_idx = env.t.partition_point(|&t| t < late_start);
    // The blocks clipped to start at bin `from` (those ending before it dropped).
    let clipped = |from: usize| -> Vec<std::ops::Range<usize>> {
        bl.iter()
            .filter_map(|r| {
                let s = r.start.max(from);
                (s < r.end).then_some(s..r.end)
            })
            .collect()
    };
    let late_bl = clipped(late_idx);
    let late_ys: Vec<&[f64]> = late_bl.iter().map(|r| &env.y[r.clone()]).collect();
    // The recent half is tested with Hamed-Rao's correction whatever the unit: levelling off
    // needs an interval narrow enough to show it, and with memory's wider one an exponential
    // warm-up watched for 4.4 time constants was a leak again (its slowing half no longer
    // provably slower); the whole window's test is what makes a leak significant.
    let late_mk = mann_kendall_blocks(&late_ys, Serial::HamedRao);
    let late_pairs: Vec<(&[f64], &[f64])> = late_bl
        .iter()
        .map(|r| (&env.t[r.clone()], &env.y[r.clone()]))
        .collect();
    let late_fit = theil_sen_blocks(&late_pairs, late_mk.var_s);
    // With steps cut, the plateau model is fitted to the last block when it holds at least half
    // of the window: what came after the latest step is what may still be rising or may have
    // levelled off. Left out whenever there was a cut, a warm-up whose first, steepest bin was
    // cut as a step was judged without any plateau model and called a leak on its slow tail.
    // On our seeds 1/7/11/101-1010 and independent seeds 1-7: five end-of-run and three online
    // false alarms fewer (warm-ups, pools warming to their size and growth that flattens, some
    // after a restart, of 60-2,000 samples), one slow leak under a warm-up lost at the end of
    // the run (independent seed 6).
    let model_range = if cuts.is_empty() {
        Some(0..env.y.len())
    } else {
        bl.last().filter(|r| 2 * r.len() >= m).cloned()
    };
    let sat = model_range
        .clone()
        .and_then(|r| compare(&env.t[r.clone()], &env.y[r]));
    // Level at the start of the window: Theil-Sen intercept of the first block.
    let first = &bl[0];
    let mut resid: Vec<f64> = env.y[first.clone()]
        .iter()
        .zip(&env.t[first.clone()])
        .map(|(y, t)| y - fit.slope * (t - t0))
        .collect();
    let start_level = median_in_place(&mut resid);
    // Last quarter, for the current rate of a decelerating rise.
    let tail_idx = env.t.partition_point(|&t| t < t1 - 0.25 * window);
    let tail_bl = clipped(tail_idx);
    let tail_pairs: Vec<(&[f64], &[f64])> = tail_bl
        .iter()
        .map(|r| (&env.t[r.clone()], &env.y[r.clone()]))
        .collect();
    let tail_fit = theil_sen_blocks(&tail_pairs, late_mk.var_s);
    let tail_tie_slope = end_difference_slope_blocks(&env.t, &env.y, &tail_bl);
    // With a step cut in the recent half, its curvature is that of its last block when that
    // holds at least half of it (as for the plateau model above): a step that ramped up over a
    // few bins and then stayed flat is concave there, not still rising (independent seed 4: one
    // end-of-run false alarm fewer; nothing else changed on any corpus, nor without the
    // half-of-it condition).
    let late_curvature = if late_bl.len() == 1 {
        curvature(&env.t[late_idx..], &env.y[late_idx..])
    } else {
        late_bl
            .last()
            .filter(|r| 2 * r.len() >= m - late_idx)
            .and_then(|r| curvature(&env.t[r.clone()], &env.y[r.clone()]))
    };
    let line_sse = {
        let b = fit.slope;
        let mut r: Vec<f64> = env.t.iter().zip(&env.y).map(|(t, y)| y - b * t).collect();
        let a = median_in_place(&mut r);
        env.t
            .iter()
            .zip(&env.y)
            .map(|(t, y)| (y - a - b * t).powi(2))
            .sum::<f64>()
    };
    // Thirds of the window's last block (after the latest step cut, if any): does its last
    // third keep to the line of its first two-thirds?
    let thirds_deficit = {
        let r = bl.last().cloned().unwrap_or(0..m);
        let (bt, by) = (&env.t[r.clone()], &env.y[r]);
        let k = bt.partition_point(|&t| t < t1 - (t1 - bt[0]) / 3.0);
        if k > MIN_THIRD_BINS && by.len() - k >= MIN_THIRD_BINS {
            third_deficit(bt, by, k, quantum(grain) / COUNT_QUANTUM, serial)
        } else {
            None
        }
    };
    let late_cuts: Vec<usize> = cuts
        .iter()
        .copied()
        .filter(|&c| c + 1 < m && env.t[c + 1] >= late_start)
        .collect();
    let late_steps = late_cuts.len();
    let late_step_rise = late_cuts
        .iter()
        .map(|&c| (env.y[c + 1] - env.y[c]).max(0.0))
        .sum::<f64>();
    let rise_start = match best_hinge(&env.y) {
        Some((k, sse, _)) if cuts.is_empty() && sse < line_sse => env.t[k],
        _ => t0,
    };
    Some(Trend {
        thirds_deficit,
        tail_fit,
        tie_slope: end_difference_slope_blocks(&env.t, &env.y, &bl),
        tail_tie_slope,
        late_tie_slope: end_difference_slope(&env.t[late_idx..], &env.y[late_idx..]),
        late_curvature,
        full_curvature: if cuts.is_empty() {
            curvature(&env.t, &env.y)
        } else {
            None
        },
        rise_start,
        mk,
        fit,
        late_mk,
        late_fit,
        cycle_floors: false,
        sat,
        model_range,
        level,
        start_level,
        window,
        ups: steps,
        step_rise,
        late_steps,
        late_step_rise,
        stepped_on: None,
    })
}

/// Steps in the recent half are growth there too. A floor that rose significantly within its
/// blocks by `min_growth` and then stepped up at least [`LATE_STEPS`] times in its recent
/// half, by `min_growth` in all, kept growing: a staircase whose early steps were too small to
/// stand out as jumps, so that only its later ones were cut, as one-off shifts, and the recent
/// half between them looked levelled off. Such a window is judged again with every step left
/// in, as a staircase is. (A floor that was flat apart from one to three steps never gets here:
/// its blocks do not rise.) Within the blocks the rise need only be significant at
/// [`ALPHA_LATE`], the recent half's level, not at the verdict's: the steps cut from it are
/// most of what a staircase grows, and the window judged again must still pass the verdict's
/// own test. Measured (the verdict's level before): end-of-run memory +1 leak on our seed 303
/// (a staircase whose two late steps were cut, within-block p = 0.029) and resources +1 on
/// seed 11, online +1 on independent seed 9; no false alarm on our seeds 1/7/11/101-1010,
/// independent seeds 1-10 or the held-out seeds 1111-1313.
fn stepping_on(ctx: &Ctx<'_>, env: &Envelope, tr: Trend) -> Trend {
    let rises = tr.mk.p_increasing < ALPHA_LATE
        && tr.fit.slope * tr.window >= ctx.opts.min_growth * tr.level;
    if !rises
        || tr.late_steps < LATE_STEPS
        || tr.late_step_rise < ctx.opts.min_growth * tr.level
        || tr.cycle_floors
    {
        return tr;
    }
    match trend_joined(env, ctx.grain, ctx.serial(), ctx.sawtooth, None, 0) {
        Some(mut uncut) => {
            uncut.stepped_on = Some((tr.late_steps, tr.late_step_rise));
            uncut
        }
        None => tr,
    }
}

/// Steps in the recent half that make [`stepping_on`] read a window as a staircase: 2. On our
/// seeds 1/7/11/101-1010 and independent seeds 1-7, 2 found two more leaks at the end of a run
/// (independent seed 5: a memory staircase of four steps, two of them under the jump
/// threshold, and an fd count growing with bursty load) and three more online (our seeds 1,
/// 303 and 505: counts growing with bursty load), with no false alarm in either mode; 1 found
/// four more and added two false alarms (independent seed 2: a warm-up followed by one late
/// step of fragmentation is a healthy process too).
const LATE_STEPS: usize = 2;

/// A staircase's steps add up to at most this multiple of the window's growth (see the
/// staircase wording in [`judge_floor`]).
const STAIRCASE_KEPT: f64 = 2.0;

/// Judge one segment (no restarts inside).
fn judge_segment(ctx: &Ctx<'_>, t: &[f64], v: &[f64]) -> Judgement {
    judge_window(ctx, t, v, true)
}

/// Judge `(t, v)`; with `allow_onset`, a window that is not a leak as a whole but whose floor
/// bends from flat into a rise (the hinge fits better than a line) is judged again from the
/// bend on: a leak that starts mid-run, as issue 4 asks ("judge the latest segment").
fn judge_window(ctx: &Ctx<'_>, t: &[f64], v: &[f64], allow_onset: bool) -> Judgement {
    let j = judge_window_once(ctx, t, v);
    if !allow_onset || j.verdict == Verdict::Leak || !j.onset_candidate {
        return j;
    }
    let k = t.partition_point(|&x| x < j.rise_start);
    if k == 0
        || t.len() - k < MIN_SAMPLES
        || (t[t.len() - 1] - j.rise_start) < ONSET_MIN_FRACTION * (t[t.len() - 1] - t[0])
    {
        return j;
    }
    let sub = judge_window_once(ctx, &t[k..], &v[k..]);
    if sub.verdict != Verdict::Leak {
        return j;
    }
    Judgement {
        reason: format!(
            "{} (flat before, since about {:.0} s)",
            sub.reason, j.rise_start
        ),
        rise_start: j.rise_start,
        ..sub
    }
}

/// The fine bins' other floor (their minima when the 10th percentile or a coarser or per-cycle
/// envelope was chosen, their 10th percentile when the minima were) is judged at a quarter of
/// the verdict's level when the chosen floor shows no significant trend or levelled off. The
/// two floors see the noise differently (a collector's sawtooth at random phases favours the
/// minimum, Gaussian noise the percentile), and [`floor_envelope`]'s choice between them is
/// made on their noise alone, which picks the wrong one on some series; a quarter keeps the
/// pair of tests within 1.25 × the level. Only a verdict that failed for significance, or
/// that read levelling off, is judged again: a floor that stepped or followed load keeps its
/// reason, and a levelling off stands unless the second floor's recent half rises
/// significantly on its own (the minima, noisier under Gaussian noise, show levelling off less
/// clearly; judging them whatever the first verdict, with no such condition, added false
/// alarms on warm-ups and saturating growth).
///
/// Measured at the end of a run, the minima as the second floor: memory +2 leaks on our seeds
/// 101-1010 (101, 808), +3 on independent seeds 1-7 (1, 4, 5), +1 each on the held-out seeds
/// 1111, 1212 and independent 10; resource counts +1 each on seeds 1010, 1313 and independent
/// 2; no false alarm more on any corpus (our seeds 1/7/11 unchanged). Levelled-off verdicts
/// judged again: +1 leak on seed 202 and +1 on independent seed 4 (leaks growing with bursty
/// load and under Node's collector). The percentile as the second floor: counts +1 each on
/// independent seeds 3 and 5 and held-out seed 1212. No false alarm more in any of these,
/// nor on the two-stage warm-ups. Half the level added false alarms on independent seeds 1, 5
/// and 6; every candidate floor (coarse bins, cycle floors) rather than the other fine one
/// added one on seed 707. Online (every checkpoint) it found 1-3 more leaks per group of
/// corpora for two false alarms more on the held-out ones, and cost 30 % more time: not used
/// there.
const SECOND_FLOOR_ALPHA_SHARE: f64 = 0.25;

/// A floor that "may be rising" (its trend close to significance, no levelling off) on the
/// chosen floor and, at the end of a run, on the second floor is judged once more on 12
/// coarse bins, each reduced to its lowest sample ([`coarse_minima`]), at
/// [`SECOND_FLOOR_ALPHA_SHARE`] of the level: at the end of a run the three tests together
/// stay within 1.5 × α, online (where the second floor is not judged) the two within 1.25 × α.
///
/// The fine bins hold 3-8 samples; a collector's sawtooth scraped at random phases (Go's heap
/// swings by half to twice its live size), or a leak that grows only with bursts of load,
/// leaves their floors too noisy for 20-80 points to show a rise of a few percent, while the
/// lowest of n/12 samples sits much closer to the true floor. Twelve is the fewest bins whose
/// recent half keeps the six points the trend tests need (`MIN_BINS`), so the levelling-off
/// rules still run on it.
///
/// At the end of a run a levelling off is judged again too, and stands unless the coarse
/// floor's recent half rises significantly on its own (Mann-Kendall at [`ALPHA_LATE`], Sen's
/// lower bound above zero), as on the second floor. A flat floor or a step keep their
/// reason, and so does a chosen floor whose recent half bends down (a parabola's quadratic
/// term at t < −[`CONCAVE_T`]): that is a shape the fine bins resolve, a rise slowing towards
/// a crest or a plateau, not noise the coarse bins would cut. The leaks the coarse floor finds
/// keep to a line there (|t| < 2); the daily cycle it took for one (seed 101 #143, a slight
/// fall then a 9 % rise) bent at t = −33.
///
/// Measured (v19), end of run, "may be rising": our seeds 101-1010 +4 leaks from the files,
/// +3 in-process (Go, load-proportional, slow hidden), independent seeds 1-7 +5, held out +1
/// (seed 1313), no false alarm more. Levelled-off verdicts judged again: +1 leak each on seed
/// 202 (#110, under a warm-up), independent 7 and held-out 1111, no false alarm more. Online
/// at every checkpoint (persistence unchanged): +20 alarms on leaks over our seeds
/// 1/7/11/101-1010, independent 1-7 and the held-out seeds (fresh memory recall 77.5 → 78.0 %,
/// counts 90.5 → 91.0 %), +7 false alarms (one-off steps, pools, a JVM's old generation;
/// fresh FPR 16.8 → 16.9 % and 14.1 → 14.3 %), no premature alarm more, 5 % more time.
/// Tried and dropped: the same for "flat" verdicts too (+1 false alarm on held-out seed 1111
/// and on independent seeds 6 and 7: short Go and bursty sawtooths); 8, 10 or 16 bins (the
/// same leaks or fewer for 1-2 more false alarms); the bins' 10th percentile rather than their
/// minimum (half the leaks); half the level rather than a quarter (+5 fresh leaks, +2 false
/// alarms).
const COARSE_FLOOR_BINS: usize = 12;

/// [`judge_floor`], and at the end of a run, when the chosen floor shows no significant trend
/// or levelled off, the fine bins' other floor judged too, at [`SECOND_FLOOR_ALPHA_SHARE`] of
/// the level (see there); a floor that still "may be rising" after both (online: on the chosen
/// floor) is judged on [`COARSE_FLOOR_BINS`] coarse bins (see there), first on their minima,
/// then on their midranges (see [`judge_midranges`]).
fn judge_window_once(ctx: &Ctx<'_>, t: &[f64], v: &[f64]) -> Judgement {
    let chosen = ctx.envelope(t, v);
    if noise_free(v) {
        // No noise to see past: the other floors would judge the same values again.
        let exact = Ctx {
            noise_free: true,
            ..*ctx
        };
        let j = judge_floor(&exact, t, &chosen);
        if j.verdict == Verdict::Leak || j.unproven {
            return noise_free_warm_up(&exact, t, v, &j).unwrap_or(j);
        }
        return j;
    }
    let j = judge_floor(ctx, t, &chosen);
    if !(j.unproven || j.levelled) {
        return j;
    }
    let alt = Ctx {
        alpha: ctx.alpha * SECOND_FLOOR_ALPHA_SHARE,
        ..*ctx
    };
    // The second floor is an end-of-run look (see [`SECOND_FLOOR_ALPHA_SHARE`]).
    let fine = if ctx.online { None } else { fine_floors(t, v) };
    let second = fine.and_then(|(percentile, minima)| {
        let (floor, env) = if minima.y == chosen.y {
            ("floor: the 10th percentile of each time bin", percentile)
        } else {
            ("floor: the lowest sample of each time bin", minima)
        };
        let k = judge_floor(&alt, t, &env);
        // Levelling off read on the chosen floor stands unless the second floor's recent half
        // rises on its own: a noisier floor shows a warm-up's plateau less clearly, and "no
        // sign of levelling off" on it is no evidence of a leak.
        (k.verdict == Verdict::Leak && (!j.levelled || k.late_rises)).then_some((floor, k))
    });
    let coarse = || {
        if !(j.rising || (j.levelled && !ctx.online)) || j.late_concave {
            return None;
        }
        let env = coarse_minima(t, v, COARSE_FLOOR_BINS)?;
        let k = judge_floor(&alt, t, &env);
        // As for the second floor, a levelling off stands unless the coarse floor's recent
        // half rises on its own.
        (k.verdict == Verdict::Leak && (!j.levelled || k.late_rises))
            .then_some(("floor: the lowest sample of each twelfth of the window", k))
    };
    let midranges = || judge_midranges(&alt, &j, t, v);
    match second.or_else(coarse).or_else(midranges) {
        Some((floor, k)) => Judgement {
            reason: format!("{} ({floor})", k.reason),
            ..k
        },
        None => j,
    }
}

/// A window whose samples never fall and rise at least [`NOISE_FREE_MIN_RISES`] of the time,
/// over at least [`MIN_SAMPLES`]: an exact account (a heap site's live bytes in the agent's
/// exact mode, a count of objects created and never destroyed) rather than a level sampled with
/// noise around it. Memory read from the kernel moves both ways by a page or more between
/// scrapes; 18 samples in a row that never do carry no noise to see past.
///
/// Such a window is judged on its chosen floor only, without a serial-correlation correction
/// ([`Serial::None`] through [`Ctx::noise_free`]): the correction models the residual around
/// the trend as noise, and a noise-free rise has none; its residual is the bend of the rise
/// itself (the program paused, or busy elsewhere), whose lag-one rank autocorrelation is close
/// to 1. With the correction, the 15 bins of a 47-snapshot C++ heap timeline that slowed for a
/// while had less than one effective sample ("may be rising, not yet significant", a CI flake
/// of the native tests). Then a rise that bends like a warm-up is judged by the line under it
/// ([`noise_free_warm_up`]). Measured on `crates/corpus/independent/noise_free.py`: steady
/// rises with pauses (`pauses`, 400 leaks) found at the end of a run 95.8 → 99.2 %.
fn noise_free(v: &[f64]) -> bool {
    if v.len() < MIN_SAMPLES {
        return false;
    }
    let mut rises = 0;
    for w in v.windows(2) {
        if w[1] < w[0] {
            return false;
        }
        rises += usize::from(w[1] > w[0]);
    }
    rises as f64 >= NOISE_FREE_MIN_RISES * (v.len() - 1) as f64
}

/// A noise-free rise is taken for a warm-up only when the plateau model fits it at least
/// 1/0.1 = 10 times better than a line (residual sums of squares, the same points): a
/// plateau reached within the window or clearly bending towards one. A steady rise with pauses
/// fits neither much better than the other. See [`noise_free_warm_up`].
const NOISE_FREE_WARM_FIT: f64 = 0.1;

/// The line under a noise-free warm-up is real when it lowers the residual sum of squares by
/// this F statistic or more (one extra parameter: F(1, n − 4), whose 99.9th percentile is
/// 10.8 for many points). The residual is rounding and snapshot timing, not independent noise,
/// so the figure is a yardstick rather than a test level. Measured on the corpora of
/// `crates/corpus/independent/noise_free.py` at the end of a run, against 10: 4 found one
/// leak under a warm-up more for 8 more false alarms (of 1,160 healthy timelines); 30 lost
/// two of the 300 leaks under a warm-up for 20 false alarms fewer (hyperbolic, log and sqrt
/// growth, the ambiguous shapes); 100 lost 11 for 41 fewer.
const NOISE_FREE_LINE_F: f64 = 10.0;

/// The verdict on a noise-free rise (a would-be leak, or "may be rising") that bends like a
/// warm-up, fitted on the raw samples ([`nested_warm_up`]): an exponential approach to a plateau
/// fits it at least 1/[`NOISE_FREE_WARM_FIT`] times better than a line, and the line that the
/// same warm-up with a line under it adds either rises less than `min_growth` over the window
/// or improves the fit by an F statistic under [`NOISE_FREE_LINE_F`]. Then there is no leak
/// under the warm-up, and what is still to come of it decides: under `min_growth` of the level,
/// it has levelled off; more, and it is too early to tell ("need about N more", the time for
/// the rest to fall under `min_growth`). `None` otherwise: the verdict stands (a line under the
/// warm-up that is real and rises by `min_growth` or more is a leak).
///
/// Why: with noise, the recent half of a warm-up watched for a few time constants rises by
/// less than the noise can show, and the usual tests call it levelled off. Without noise,
/// every rise is significant, and exponential warm-ups watched for three time constants were
/// leaks "with no sign of levelling off" (38 of 40; 9 of 40 at five, with under 1 % of their
/// growth still to come). Measured on `crates/corpus/independent/noise_free.py` at the end of
/// a run (before → after this and [`noise_free`]): warm-ups watched for 1-8 time constants
/// called leaks 51.8 → 16.8 % (`warm_exact`; 40 of its 47 remaining are watched for one time
/// constant, where a line fits as well), 53.9 → 21.8 % with jittered snapshot times; all the
/// healthy shapes 63.5 → 56.3 % (hyperbolic, log and sqrt growth still rising at the end stay
/// leaks); leaks under a warm-up found 97.3 % both ways. Online: 0 to 1 alarm more per corpus.
fn noise_free_warm_up(ctx: &Ctx<'_>, t: &[f64], v: &[f64], j: &Judgement) -> Option<Judgement> {
    let m = nested_warm_up(t, v)?;
    let w = t[t.len() - 1] - t[0];
    let mut tmp = v.to_vec();
    let level = median_in_place(&mut tmp).abs();
    let min = ctx.opts.min_growth * level;
    // The line under the warm-up is no leak when it adds under `min_growth` over the window,
    // or when it explains too little of the fit to be told from the warm-up's shape.
    let no_line = m.with_line.rate * w < min || m.line_f() < NOISE_FREE_LINE_F;
    if !(m.amplitude > 0.0
        && m.sse_plateau < NOISE_FREE_WARM_FIT * m.with_line.sse_linear
        && no_line)
    {
        return None;
    }
    let unit = ctx.unit;
    let left = m.amplitude * (-w / m.tau).exp();
    let grew = format_quantity(unit, j.growth_abs.unwrap_or(0.0).max(0.0));
    if left < min {
        return Some(Judgement {
            verdict: Verdict::NoLeak,
            levelled: true,
            unproven: false,
            // The warm-up's later part is no onset of anything.
            onset_candidate: false,
            reason: format!(
                "{} grew {grew} in a warm-up that has levelled off (time constant {}; {} at most still to come, and no steady rise under it)",
                what(unit),
                dur(m.tau),
                format_quantity(unit, left)
            ),
            ..j.clone()
        });
    }
    let more = whole_s(m.tau * (left / min).ln());
    Some(Judgement {
        verdict: Verdict::Inconclusive,
        needs_more_s: Some(more),
        unproven: false,
        onset_candidate: false,
        reason: format!(
            "{} grew {grew} and is slowing like a warm-up (time constant {}; about {} still to come, and no steady rise under it); need about {} more to tell it from a leak",
            what(unit),
            dur(m.tau),
            format_quantity(unit, left),
            dur(more)
        ),
        ..j.clone()
    })
}

/// A floor that still "may be rising" after the coarse minima of [`COARSE_FLOOR_BINS`] is
/// judged once more on the same 12 bins, each reduced to the midpoint of its lowest and highest
/// sample ([`coarse_midranges`]), again at [`SECOND_FLOOR_ALPHA_SHARE`] of the level: at the
/// end of a run the four tests stay within 1.75 × α, online the three within 1.5 × α.
///
/// Under a collector's sawtooth scraped at random phases the lowest sample of a bin is as far
/// above the floor as the highest is below the peak; averaging the two ends halves the
/// scatter's variance, and a leak lifts the peaks too (Go's faster than its floor). Only a floor
/// that is itself close to a significant rise (the "may be rising" of the chosen floor, not a
/// flat one, a levelling off, a step or a rise bending down) is judged this way: peaks that
/// rise over a flat floor are load, not retention. The rate reported is then the middle's,
/// which under Go's collector runs 1.25-2 × the live heap's (GOGC 50-200).
///
/// Measured (v20): end of run, our seeds 101-1010 in-process +10 leaks (Go 5, JVM 2, a slow
/// leak under a sawtooth, heavy noise, a mid-run onset; memory recall 89.5 → 90.8 %), tuning
/// seeds 1/7/11 +3, independent seeds 1-7 +4 and held-out independent 10 +1, no false alarm
/// more on any of them. Online at every checkpoint: +12 alarms on leaks over the same corpora
/// for +3 false alarms (independent seeds), no premature alarm more. Tried and dropped: also for
/// flat verdicts (+3 leaks, +2 false alarms), half the level rather than a quarter (+1 leak, +3
/// false alarms), the bins' 90th percentile for their highest (two thirds of the leaks).
fn judge_midranges(
    alt: &Ctx<'_>,
    j: &Judgement,
    t: &[f64],
    v: &[f64],
) -> Option<(&'static str, Judgement)> {
    if !j.rising || j.late_concave {
        return None;
    }
    let env = coarse_midranges(t, v, COARSE_FLOOR_BINS)?;
    let k = judge_floor(alt, t, &env);
    (k.verdict == Verdict::Leak).then_some((
        "level: midway between the lowest and highest sample of each twelfth of the window",
        k,
    ))
}

/// Judge the samples at times `t` on their floor `env`.
fn judge_floor(ctx: &Ctx<'_>, t: &[f64], env: &Envelope) -> Judgement {
    let n = t.len();
    let span = if n > 1 { t[n - 1] - t[0] } else { 0.0 };
    let dt = if n > 1 { span / (n - 1) as f64 } else { 1.0 };
    if n < MIN_SAMPLES {
        return inconclusive(
            n,
            span,
            (MIN_SAMPLES - n) as f64 * dt,
            format!(
                "only {n} {} over {}; need at least {MIN_SAMPLES}",
                samples_word(n),
                dur(span)
            ),
        );
    }
    // Samples that leave most of the window empty (two runs in one file, a scrape target gone
    // for days) put the envelope's bins on either side of the gap: there is no floor to follow
    // across it, and waiting longer does not fill it.
    let gap = t.windows(2).map(|w| w[1] - w[0]).fold(0.0_f64, f64::max);
    if env.y.len() < MIN_BINS && gap >= GAP_SHARE * span {
        return Judgement {
            needs_more_s: None,
            ..inconclusive(
                n,
                span,
                0.0,
                format!(
                    "{n} samples over {}, but none in {} of it: the floor cannot be followed across the gap; judge the parts on either side apart",
                    dur(span),
                    dur(gap)
                ),
            )
        };
    }
    if env.y.len() < MIN_BINS {
        let more = whole_s(span * (MIN_BINS as f64 / env.y.len().max(1) as f64 - 1.0));
        return inconclusive(
            n,
            span,
            more,
            format!(
                "{} samples over {} are too few to see past the sawtooth; need about {} more",
                n,
                dur(span),
                dur(more)
            ),
        );
    }
    let Some(tr) = trend(env, ctx.grain, ctx.serial(), ctx.sawtooth) else {
        return inconclusive(n, span, span, "no usable pairs of samples".to_string());
    };
    let tr = stepping_on(ctx, env, tr);
    let unit = ctx.unit;
    let opts = ctx.opts;
    // Integer counts that change rarely tie most pairs, and Theil-Sen's median slope is then 0
    // however significant the trend; the rate then comes from the medians of the first and
    // last fifth of the envelope (a robust two-group slope, Wald 1940).
    let tied = tr.fit.slope == 0.0 && tr.mk.p_increasing < ctx.alpha && tr.tie_slope > 0.0;
    let rate = if tied { tr.tie_slope } else { tr.fit.slope };
    let ci = if tied {
        [tr.fit.ci95[0], tr.fit.ci95[1].max(rate)]
    } else {
        tr.fit.ci95
    };
    let growth_abs = rate * tr.window;
    let g_full = growth_abs / tr.level;
    let late_rate = match tr.late_fit.map_or(0.0, |f| f.slope) {
        0.0 if tr.late_mk.p_increasing < ALPHA_LATE => tr.late_tie_slope.max(0.0),
        r => r,
    };
    let g_late = late_rate * tr.window / tr.level;
    let min_abs = match ctx.grain {
        Grain::Fine => 0.0,
        Grain::Whole => MIN_ABS_GROWTH_COUNT,
    };
    let growth_pct = if tr.start_level.abs() > 0.0 {
        Some(100.0 * growth_abs / tr.start_level.abs())
    } else {
        None
    };
    let level_end = tr.start_level + growth_abs;
    // A plateau that fits clearly better vetoes a leak unless the recent half still rises
    // significantly on its own (a slow leak under a warm-up: the plateau model cannot follow
    // its tail).
    let plateau_better = tr
        .sat
        .is_some_and(|s| s.amplitude > 0.0 && s.sse_plateau < PLATEAU_SSE_RATIO * s.sse_linear);
    let saturating = tr.late_mk.p_increasing >= ctx.alpha
        && plateau_better
        && tr.sat.is_some_and(|s| {
            s.end_slope * tr.window / tr.level < LATE_GROWTH_FACTOR * opts.min_growth
        });
    let current_rate = match tr.late_curvature {
        Some((tc, _)) if tc < -CONCAVE_T => tr.tail_fit.map_or(late_rate, |f| {
            let tail = if f.slope == 0.0 {
                tr.tail_tie_slope.max(0.0)
            } else {
                f.slope
            };
            tail.min(late_rate)
        }),
        _ => late_rate,
    };
    let decelerating = current_rate < late_rate;
    // Sen's lower bound sits exactly on 0 when many pairs are tied (integer counts); a positive
    // rate with a significant Mann-Kendall test is then enough.
    let significant =
        tr.mk.p_increasing < ctx.alpha && (ci[0] > 0.0 || tied || (ci[0] == 0.0 && rate > 0.0));
    let big_enough = g_full >= opts.min_growth && growth_abs >= min_abs;
    let g_now = current_rate * tr.window / tr.level;
    // Levelling off needs evidence: the recent half's rate is, with 95 % confidence, under half
    // the overall rate, or the rise is decelerating and its current rate no longer amounts to
    // much. A noisy recent half on its own is not evidence of a plateau (that would miss the
    // hard leaks under a GC sawtooth).
    let late_hi = match tr.late_fit {
        Some(f) if f.slope != 0.0 || tr.late_mk.p_increasing >= ALPHA_LATE => f.ci95[1],
        _ => late_rate,
    };
    // A rise that decelerates within its own age: the last third of the window lies clearly
    // under the line of the first two-thirds (a linear leak keeps to its line; a warm-up, a
    // cache reaching its cap, a sqrt/log rise falls short of it).
    // At the end of a run the last third must also have stopped rising on its own (a slow
    // leak under a warm-up falls short of the warm-up's line but keeps rising).
    let thirds_slowed = tr.thirds_deficit.is_some_and(|d| {
        if ctx.online {
            d.short
        } else {
            d.stopped && d.late_p >= THIRDS_LATE_P
        }
    });
    // At the end of a run, a recent half that rises significantly on its own (at the
    // end-of-run level) at a rate that makes `min_growth` over the whole window has not
    // levelled off, however much steeper the start was: a leak under a warm-up or a cache
    // filling, whose early rise makes any later rate look small next to the overall one. The
    // leak's own rate is what counts, over the window as for any leak: asking for
    // `min_growth` within the half alone asked for twice that rate (+6 end-of-run leaks
    // under warm-ups on our seeds 101-1010 and independent seeds 1-7, no false alarm once
    // a restart's warm-up back to its old level was told apart, see `back_to_old_level`).
    // Its current rate must still count (as in the deceleration rule): the rising half of a
    // daily cycle that has just turned over at its peak rises significantly over the recent
    // half too. And it must keep to the recent half's rate (its last quarter at least
    // `DECEL_RATIO` of it, as online): an exponential warm-up watched for five time constants
    // still adds 4-8 % over the window in its recent half, but its last quarter runs at under
    // half that rate, while a leak under a warm-up keeps its own. Measured (v15): no verdict
    // changed on any corpus (our seeds, independent 1-10, held-out fresh 1111-1313); it fixes
    // the synthetic warm-ups of `a_warm_up_watched_for_five_time_constants_is_no_leak…`.
    let still_rising = !ctx.online
        && tr.late_mk.p_increasing < ctx.alpha
        && tr.late_fit.is_some_and(|f| f.ci95[0] > 0.0)
        && late_rate * tr.window >= opts.min_growth * tr.level
        && current_rate * tr.window / tr.level >= LATE_GROWTH_FACTOR * opts.min_growth
        && current_rate >= DECEL_RATIO * late_rate;
    // Two cycle floors in the recent half (no Theil-Sen fit there) cannot show a plateau, nor
    // a rise: the whole window's floors decide. Six strictly rising floors of a leak under a
    // JVM's old generation, the last two in the recent half, were "levelled off" (independent
    // corpus seeds 5 and 7: +2 leaks; our seed 707: +1).
    let late_known = tr.late_fit.is_some() || !tr.cycle_floors;
    // At the end of a run, a recent half that still rises, but at a rate that would not make
    // `min_growth` over the whole window, has levelled off when a plateau fits the window
    // clearly better than a line: the mirror of `still_rising`, decided by the saturating
    // model. A warm-up or a cache nearing its cap creeps on for a while (independent seeds 3,
    // 8 and 10: 2 % over the window in the recent half, significant), a leak under a warm-up
    // keeps its own rate over the window. Measured (v15): on our seeds 1/7/11/101-1010,
    // independent seeds 1-7 and the held-out seeds 8-10/1111-1313, six false alarms fewer (a
    // pool, warm-ups, saturating growth, a restart's warm-up) and two leaks under a warm-up
    // lost (seeds 404 and 909, whose leak adds 2.5-3 % of the level over the window). Online
    // it also lost two leaks for one false alarm, so it is not used there.
    let slowed = thirds_slowed
        || (late_known && !ctx.online && plateau_better && g_late < opts.min_growth)
        || (late_known && late_hi < LEVELLED_RATIO * rate)
        || (late_known && decelerating && g_now < LATE_GROWTH_FACTOR * opts.min_growth)
        || (late_known
            && tr.late_mk.p_increasing >= ALPHA_LATE
            && g_late < LATE_GROWTH_FACTOR * opts.min_growth
            && late_hi * tr.window / tr.level < opts.min_growth);
    let levelled = !still_rising && slowed;
    // A leak only because its recent half keeps rising after a steeper start (a leak under a
    // warm-up or a cache filling): its own rate is the recent half's, not the window's, which
    // the start inflates (and with it the time to a limit).
    let own_rate = tr
        .late_fit
        .filter(|_| still_rising && slowed)
        .map(|f| (late_rate, [f.ci95[0], f.ci95[1].max(late_rate)]));
    // Online, a rise whose last quarter is clearly slower than its recent half is still
    // bending towards a plateau (a warm-up, a cache filling): wait rather than alarm.
    let bending = ctx.online && decelerating && current_rate < DECEL_RATIO * late_rate;
    // Online, a rise that is concave over the whole window and whose parabola's slope at the
    // end has fallen under DECEL_RATIO of its average rate is bending too (a warm-up or a pool
    // filling seen within its first time constant or two).
    let bending_full = ctx.online
        && tr
            .full_curvature
            .is_some_and(|(tc, end)| tc < -CONCAVE_T_FULL && end < DECEL_RATIO * rate);
    let late_ok = !levelled && !bending && !bending_full;
    // Memory that follows load gives itself back: a sustained, gradual fall of the floor
    // earlier in the window (a daily cycle's night, a ramp-down) means the rise that follows
    // is the load coming back, not a leak. A leak never lowers its own floor.
    let k_min = env
        .y
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(k, _)| k);
    let gives_back = k_min + 1 >= MIN_BINS && {
        let before = &env.y[..=k_min];
        let peak = before.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        mann_kendall(before, serial(ctx.grain)).p_increasing > 1.0 - ctx.alpha
            && peak - env.y[k_min] >= GIVE_BACK_FRACTION * opts.min_growth * tr.level
            && (ctx.online || peak - env.y[k_min] >= GIVE_BACK_NOISE * bin_noise(&env.y))
    };
    let base = Judgement {
        verdict: Verdict::NoLeak,
        rate: Some(rate),
        ci: Some(ci),
        growth_abs: Some(growth_abs),
        growth_pct,
        level_end: Some(level_end),
        onset_candidate: tr.mk.p_increasing < ONSET_GATE && tr.rise_start > env.t[0] && !gives_back,
        rise_start: tr.rise_start,
        needs_more_s: None,
        samples: n,
        window_s: span,
        reason: String::new(),
        unproven: false,
        rising: false,
        levelled: false,
        late_rises: tr.late_mk.p_increasing < ALPHA_LATE
            && tr.late_fit.is_some_and(|f| f.ci95[0] > 0.0),
        late_concave: tr.late_curvature.is_some_and(|(tc, _)| tc < -CONCAVE_T),
    };
    let fw = floor_word(unit);
    if significant && big_enough && late_ok && !saturating && gives_back {
        let before = &env.y[..=k_min];
        let peak = before.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        return Judgement {
            reason: format!(
                "{} follows load: the floor fell {} before rising again, so the memory is given back",
                what(unit),
                format_quantity(unit, peak - env.y[k_min])
            ),
            ..base
        };
    }
    if significant && big_enough && late_ok && !saturating {
        // Worded as a staircase only when the steps make most of the growth and were kept:
        // steps that add up to more than twice the growth were given back between them (a
        // sawtooth that jumps up and drains slowly, finer than the envelope's bins), and "never
        // given back" would be untrue (independent seed 3 #295: 35 up-jumps of 7 % each, 5.5 %
        // net).
        let staircase = tr.stepped_on.is_some()
            || (tr.ups > MAX_ONE_OFF_STEPS
                && tr.step_rise >= 0.5 * growth_abs
                && tr.step_rise <= STAIRCASE_KEPT * growth_abs);
        let own_rate = own_rate.filter(|_| !staircase);
        // A leak on top of a warm-up: the line under the warm-up gives its own rate (see
        // [`WARM_LINE_MAX_TAU`]).
        let warm_line = tr
            .model_range
            .clone()
            .filter(|_| !staircase && tr.stepped_on.is_none())
            .and_then(|r| line_under_warm_up(&env.t[r.clone()], &env.y[r]))
            .filter(|m| {
                m.amplitude >= WARM_LINE_MIN_AMPLITUDE * m.rate * span
                    && m.tau <= WARM_LINE_MAX_TAU * span
                    && m.sse < PLATEAU_SSE_RATIO * m.sse_linear
                    && m.rate - Z_975 * m.rate_se > 0.0
                    && m.rate < rate
            })
            .map(|m| (m, [m.rate - Z_975 * m.rate_se, m.rate + Z_975 * m.rate_se]));
        let shape = if let Some((k, rise)) = tr.stepped_on {
            format!(
                "{fw} rises {} over {}: it kept stepping up ({k} steps in its recent half, {} together) and never gave any back",
                format_rate(unit, rate),
                dur(span),
                format_quantity(unit, rise)
            )
        } else if staircase {
            format!(
                "{fw} rose in {} steps that were never given back, {} over {}",
                tr.ups,
                format_quantity(unit, growth_abs),
                dur(span)
            )
        } else if let Some((m, _)) = warm_line {
            format!(
                "{fw} rises {} for {} with no sign of levelling off, on top of a warm-up that levelled off (time constant {}; {} over the whole window)",
                format_rate(unit, m.rate),
                dur(span),
                dur(m.tau),
                format_rate(unit, rate)
            )
        } else if let Some((r, _)) = own_rate {
            format!(
                "{fw} rises {} in the recent half of {} with no sign of levelling off, after a steeper start ({} over the whole window)",
                format_rate(unit, r),
                dur(span),
                format_rate(unit, rate)
            )
        } else {
            format!(
                "{fw} rises {} for {} with no sign of levelling off",
                format_rate(unit, rate),
                dur(span)
            )
        };
        let tail = match tr.sat {
            Some(s) if s.sse_plateau >= PLATEAU_SSE_RATIO * s.sse_linear => {
                "; a saturating model fits worse"
            }
            _ => "",
        };
        let own_rate = warm_line.map(|(m, ci)| (m.rate, ci)).or(own_rate);
        let (rate, ci) = own_rate.map_or((base.rate, base.ci), |(r, ci)| (Some(r), Some(ci)));
        return Judgement {
            verdict: Verdict::Leak,
            reason: format!("{shape}{tail}"),
            rate,
            ci,
            ..base
        };
    }
    // Not a leak: say why, or ask for more data when the trend is there but not yet proven.
    // A rise of `min_growth` whose trend is close to significant may be a leak that needs more
    // data, unless its recent half already shows it levelling off: then it is a warm-up whose
    // early climb alone carries the trend (with the lag-one correction of memory's trend test,
    // a warm-up followed by a noisy plateau was "may be rising, need 10 s more").
    let rose = tr.mk.p_increasing < 0.1 && g_full >= opts.min_growth;
    let nearly = rose && !saturating && late_ok;
    if nearly && !(significant && big_enough) {
        // Mann-Kendall's z grows like n^1.5 for a fixed linear trend in white noise, so the
        // window needed scales like (z_needed / z)^(2/3).
        let z_need = statrs_z(ctx.alpha);
        let factor = if tr.mk.z > 0.0 {
            (z_need / tr.mk.z).powf(2.0 / 3.0)
        } else {
            2.0
        };
        let more = whole_s((span * (factor - 1.0)).max(span * 0.25));
        return Judgement {
            verdict: Verdict::Inconclusive,
            needs_more_s: Some(more),
            reason: format!(
                "{fw} may be rising ({}, not yet significant); need about {} more",
                format_rate(unit, rate),
                dur(more)
            ),
            unproven: true,
            rising: true,
            ..base
        };
    }
    if let Some(j) = steps_keep_coming(ctx, env, &tr, &base) {
        return j;
    }
    // A plateau after a step is worded as the step when the window did not grow beyond it.
    let stepped_flat = tr.ups > 0 && tr.ups <= MAX_ONE_OFF_STEPS && !(significant && big_enough);
    let is_levelled =
        (saturating && !stepped_flat) || ((significant && big_enough || rose) && !late_ok);
    // A plateau reached early leaves most pairs of the window flat, and Sen's slope (so the
    // window's growth) near 0: "grew 0 fds early" for a pool that grew by 180. When a plateau
    // fits clearly better than a line, its own rise (capped at the range of the bins it was
    // fitted on) is the window's growth.
    let grew = match (
        is_levelled && plateau_better,
        tr.sat,
        tr.model_range.clone(),
    ) {
        (true, Some(s), Some(r)) => {
            let w = env.t[r.end - 1] - env.t[r.start];
            let (lo, hi) = env.y[r]
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &y| {
                    (lo.min(y), hi.max(y))
                });
            growth_abs.max((s.amplitude * (1.0 - (-w / s.tau).exp())).min(hi - lo))
        }
        _ => growth_abs,
    };
    let base = Judgement {
        levelled: is_levelled,
        growth_abs: Some(grew),
        growth_pct: (tr.start_level.abs() > 0.0).then(|| 100.0 * grew / tr.start_level.abs()),
        level_end: Some(tr.start_level + grew),
        ..base
    };
    let reason = if is_levelled {
        format!(
            "{} grew {} early but has levelled off (recent half: {})",
            what(unit),
            format_quantity(unit, grew.max(0.0)),
            format_rate(
                unit,
                if decelerating {
                    current_rate
                } else {
                    late_rate
                }
            )
        )
    } else if tr.ups > 0 && tr.ups <= MAX_ONE_OFF_STEPS && significant_raw(env, ctx.grain) {
        format!(
            "{fw} stepped up {} but is flat between the steps over {}",
            if tr.ups == 1 {
                "once".to_string()
            } else {
                format!("{} times", tr.ups)
            },
            dur(span)
        )
    } else if significant && !big_enough && rate > 0.0 {
        // A real but small rise: say so rather than "flat", with the threshold it missed.
        if g_full < opts.min_growth {
            format!(
                "{fw} rises {} over {} (95 % CI {} to {}), {:.1} % of its level: under the {:.0} % counted as a leak",
                format_rate(unit, rate),
                dur(span),
                format_rate_like(unit, ci[0], rate),
                format_rate_like(unit, ci[1], rate),
                100.0 * g_full,
                100.0 * opts.min_growth
            )
        } else {
            format!(
                "{fw} rises by only {} over {}: under the {} counted as a leak",
                format_quantity(unit, growth_abs),
                dur(span),
                format_quantity(unit, min_abs)
            )
        }
    } else if rate < 0.0 && tr.mk.p_increasing > 0.99 {
        format!(
            "{fw} is falling ({}) over {}",
            format_rate(unit, rate),
            dur(span)
        )
    } else {
        // The interval is two-sided 95 %, the trend test one-sided at `alpha` (2 % at the end
        // of a run, 1 % online): an interval just clear of 0 with a test short of its level
        // is a slight rise not yet proven, not "flat".
        let reason = if tr.fit.ci95[0] > 0.0 && rate > 0.0 {
            format!(
                "{fw} rises {} over {} (95 % CI {} to {}), but not significantly enough for a leak (trend test p = {:.3}, needs under {})",
                format_rate(unit, rate),
                dur(span),
                format_rate_like(unit, tr.fit.ci95[0], rate),
                format_rate_like(unit, tr.fit.ci95[1], rate),
                tr.mk.p_increasing,
                ctx.alpha
            )
        } else {
            format!(
                "{fw} is flat over {} ({}, 95 % CI {} to {})",
                dur(span),
                format_rate(unit, rate),
                format_rate_like(unit, tr.fit.ci95[0], rate),
                format_rate_like(unit, tr.fit.ci95[1], rate)
            )
        };
        return Judgement {
            reason,
            unproven: true,
            ..base
        };
    };
    Judgement { reason, ..base }
}

/// At the end of a run, a count whose latest step came within this share of the usual gap
/// between its steps before the end has not been shown to have stopped stepping (see
/// [`steps_keep_coming`]). Measured on independent seeds 1-10: four leaks of threads and
/// sockets stranded in incidents (two or three steps over 55 min - 19 h) took their latest
/// step 0.08-0.15 of the gap before the end, and are found with 0.25, with no false alarm on
/// any corpus. 0.5 found the same four but also called a count with two one-off steps, the
/// second 0.46 of the gap before the end, a leak (`a_count_with_two_one_off_steps_…` in
/// `tests/it/shapes.rs`); 1.0 added a false alarm on independent seed 5 (0.8 of the gap).
const STEPS_RECENT_GAP: f64 = 0.25;

/// A count that stepped up two or three times, gave none of it back and took its latest step
/// recently (within [`STEPS_RECENT_GAP`] of the mean gap between its steps before the end) is
/// a leak in incidents: an error path that strands a handful of handles each time it runs.
/// Such steps are cut as one-off level shifts, and the flat stretches between them show no
/// trend. One-off shifts in a count (a pool opened on first use, a worker started once) come
/// and are done; steps that keep coming up to the end have not been shown to be done. The
/// rule is for counts at the end of a run only: memory steps up for fragmentation and
/// one-time allocations at any time (on our seeds it called 14 `steps_one_off` series with a
/// late second step a leak, for 7 staircases on the independent seeds, measured at half the
/// gap), and online every checkpoint just after a step sees a recent step (+24 false alarms on
/// counts at half the gap).
fn steps_keep_coming(
    ctx: &Ctx<'_>,
    env: &Envelope,
    tr: &Trend,
    base: &Judgement,
) -> Option<Judgement> {
    if ctx.online || ctx.grain != Grain::Whole || tr.cycle_floors {
        return None;
    }
    let jumps = find_jumps(&env.y, tr.level, quantum(ctx.grain));
    // Up-steps only: any fall (a restart, a batch ending) gives something back.
    if jumps.ups.is_empty() || jumps.all.len() != jumps.ups.len() {
        return None;
    }
    // A ramp (three or more up-jumps in a row) is judged by the trend tests.
    let steps = up_runs(&jumps.ups);
    if !(LATE_STEPS..=MAX_ONE_OFF_STEPS).contains(&steps.len()) || steps.iter().any(|s| s.len() > 2)
    {
        return None;
    }
    let bins = env.y.len();
    // The up-jumps are in order: the first opens the first step, the last closes the last.
    let (first, last) = (jumps.ups[0], jumps.ups[jumps.ups.len() - 1]);
    let since_last = (bins - 1 - last) as f64;
    let gap = (last - first) as f64 / (steps.len() - 1) as f64;
    if since_last > STEPS_RECENT_GAP * gap {
        return None;
    }
    // Never given back: every bin after the last step lies above every bin before the first
    // by a leak's worth.
    let before = env.y[..=first]
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let after = env.y[last + 1..]
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let rise = after - before;
    if rise < ctx.opts.min_growth * tr.level || rise < MIN_ABS_GROWTH_COUNT {
        return None;
    }
    let span = base.window_s;
    let rate = rise / span;
    // The steps may stop (a lower bound of 0), or keep their pace since the first one.
    let pace = rise / (env.t[bins - 1] + 0.5 * env.width - env.t[first + 1]).max(env.width);
    Some(Judgement {
        verdict: Verdict::Leak,
        rate: Some(rate),
        ci: Some([0.0, pace.max(rate)]),
        growth_abs: Some(rise),
        growth_pct: (tr.start_level.abs() > 0.0).then(|| 100.0 * rise / tr.start_level.abs()),
        reason: format!(
            "{} stepped up {} times over {} and never gave any back ({} in all), the latest step about {} before the end: steps that keep coming, as when an error path strands a few handles each time it runs",
            what(ctx.unit),
            steps.len(),
            dur(span),
            format_quantity(ctx.unit, rise),
            dur((since_last + 0.5) * env.width)
        ),
        ..base.clone()
    })
}

/// The median absolute difference between neighbouring values of `y` (0 when fewer than two).
fn bin_noise(y: &[f64]) -> f64 {
    let mut d: Vec<f64> = y.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    if d.is_empty() {
        0.0
    } else {
        median_in_place(&mut d)
    }
}

/// [`end_difference_slope`] within each block of `(t, y)`, pooled with the blocks' durations as
/// weights (blocks too short for it count for nothing): the cut steps are level shifts, not
/// growth, as in the block-wise Theil-Sen fit. Across the cuts, a count that stepped up twice
/// and was flat otherwise (independent corpus, `res_oneoff_steps`) took its steps for its rate
/// whenever the flat blocks tied Sen's slope at 0. Measured on our seeds 1/7/11/101-1010 and
/// independent seeds 1-7: one online false alarm fewer (independent seed 1), one online alarm
/// lost (our seed 404: a leak of 5 fds on a level of 4 whose growth came as a cut "step").
/// The recent half's tie slope stays whole-span: blocked too, it also lost an end-of-run leak
/// of the same kind and gained nothing.
fn end_difference_slope_blocks(t: &[f64], y: &[f64], bl: &[std::ops::Range<usize>]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for r in bl {
        let (bt, by) = (&t[r.clone()], &y[r.clone()]);
        if bt.len() < 5 {
            continue;
        }
        let w = bt[bt.len() - 1] - bt[0];
        num += w * end_difference_slope(bt, by);
        den += w;
    }
    if den > 0.0 { num / den } else { 0.0 }
}

/// Slope between the medians of the first and the last fifth of `(t, y)` (0 when too short).
fn end_difference_slope(t: &[f64], y: &[f64]) -> f64 {
    let n = t.len();
    let k = n / 5;
    if k == 0 {
        return 0.0;
    }
    let med = |a: &[f64]| median_in_place(&mut a.to_vec());
    let dt = med(&t[n - k..]) - med(&t[..k]);
    if dt > 0.0 {
        (med(&y[n - k..]) - med(&y[..k])) / dt
    } else {
        0.0
    }
}

/// Whether the plain (unblocked) envelope trend is significant at 5 %: used only to word the
/// explanation of step series.
fn significant_raw(env: &Envelope, grain: Grain) -> bool {
    mann_kendall(&env.y, serial(grain)).p_increasing < 0.05
}

/// Standard normal quantile for an upper-tail probability `alpha`.
fn statrs_z(alpha: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::standard().inverse_cdf(1.0 - alpha)
}

/// Judge a cleaned series: cut at restarts, judge the latest segment, and recognise repeated
/// climb-then-restart cycles.
fn judge(ctx: &Ctx<'_>, c: &Clean) -> Judgement {
    let Some(load) = ctx.load else {
        let j = judge_series(ctx, c);
        if ctx.online {
            return j;
        }
        if j.verdict == Verdict::Leak {
            return back_at_start(ctx, c, &j).unwrap_or(j);
        }
        return match idle_floor(ctx, c) {
            Some(rise) => rise.judgement(ctx, j),
            None => j,
        };
    };
    let (v, adj) = match load_following::remove(load, &c.t, &c.v) {
        LoadFit::Removed(v, adj) => (v, adj),
        LoadFit::Unrelated => return judge_series(ctx, c),
        LoadFit::Confounded(cf) => {
            return load_rose_with(ctx, judge_series(ctx, c), cf.per_rate, cf.corr);
        }
    };
    let adjusted = Clean { t: c.t.clone(), v };
    let mut j = judge_series(ctx, &adjusted);
    j.reason = format!(
        "{} (after taking out {} per req/s that follows load, up to {} at the busiest)",
        j.reason,
        format_quantity(ctx.unit, adj.per_rate),
        format_quantity(ctx.unit, adj.removed_max)
    );
    if adj.corr >= load_following::CONFOUNDED_CORR {
        return load_rose_with(ctx, j, adj.per_rate, adj.corr);
    }
    j
}

/// A leak found while the load climbed with it and still climbs (its rate correlated `corr`
/// with time, over the window and its recent half, at least
/// [`load_following::CONFOUNDED_CORR`]) becomes inconclusive: memory
/// held for the load (`per_rate` per req/s) and a leak both rise with time then, and how much
/// of the rise is which rests on a model of the load's share that nothing in the window can
/// check (with the load's linear share taken out, the busy half of a daily cycle or a load
/// ramp still left a rise that alarmed). The load levelling off or falling tells them apart.
/// Measured with the load counters (`score --with-load`): on our seeds 101-1010, online
/// false alarms on memory 173 → 147 of 1260 healthy series (13.7 → 11.7 %: daily cycles, load
/// ramps and stairs), on resources 68 → 67 of 560, at the end of a run 4 → 3; on seeds
/// 1/7/11/1111-1313, online memory 83 → 75 of 756 (11.0 → 9.9 %); no leak lost on either. Our corpora have no leak under a climbing load: the test
/// `a_rise_while_the_load_climbs_waits_for_the_load_to_stop` has one.
fn load_rose_with(ctx: &Ctx<'_>, j: Judgement, per_rate: f64, corr: f64) -> Judgement {
    if j.verdict != Verdict::Leak {
        return j;
    }
    Judgement {
        verdict: Verdict::Inconclusive,
        needs_more_s: None,
        reason: format!(
            "{}, but the load is still climbing with it (its rate correlates {corr:.2} with time, over the window and its recent half): memory held for the load ({} per req/s) cannot be told from a leak until the load levels off or falls",
            j.reason,
            format_quantity(ctx.unit, per_rate)
        ),
        ..j
    }
}

/// [`judge`] without the load adjustment.
fn judge_series(ctx: &Ctx<'_>, c: &Clean) -> Judgement {
    let n = c.len();
    // Constant, but only with as many samples as any other verdict needs: ten equal samples
    // over a second say nothing about a leak.
    if n >= MIN_SAMPLES && c.v.iter().all(|&x| x == c.v[0]) {
        return Judgement {
            verdict: Verdict::NoLeak,
            rate: Some(0.0),
            ci: Some([0.0, 0.0]),
            growth_abs: Some(0.0),
            growth_pct: Some(0.0),
            level_end: Some(c.v[0]),
            onset_candidate: false,
            rise_start: c.t[0],
            needs_more_s: None,
            samples: n,
            window_s: c.span(),
            reason: format!(
                "{} is constant at {} over {}",
                what(ctx.unit),
                format_quantity(ctx.unit, c.v[0]),
                dur(c.span())
            ),
            unproven: false,
            rising: false,
            levelled: false,
            late_rises: false,
            late_concave: false,
        };
    }
    if n < MIN_SAMPLES {
        let dt = if c.median_dt() > 0.0 {
            c.median_dt()
        } else {
            1.0
        };
        let more = whole_s((MIN_SAMPLES - n) as f64 * dt);
        return inconclusive(
            n,
            c.span(),
            more,
            format!(
                "only {n} {} over {}; need at least {MIN_SAMPLES} (about {} more)",
                samples_word(n),
                dur(c.span()),
                dur(more)
            ),
        );
    }
    let env = ctx.envelope(&c.t, &c.v);
    let mut tmp = env.y.clone();
    let level = median_in_place(&mut tmp).abs();
    let mut jumps = find_jumps(&env.y, level, quantum(ctx.grain));
    let span_end = |r: usize| env.t[(r + 2).min(env.t.len() - 1)];
    // A big fall that ends a burst rather than a climb (see [`burst_end`]) is no restart
    // unless the process was seen down; the trend tests mask the burst as a hump.
    let all = jumps.all.clone();
    jumps.restarts.retain(|&r| {
        if !burst_end(&env.y, &all, r) {
            return true;
        }
        let cut = refine_cut(c, env.t[r], span_end(r)).unwrap_or(env.t[r + 1]);
        restart_evidence(c, c.t.partition_point(|&t| t < cut))
    });
    let Some(&last_restart) = jumps.restarts.last() else {
        return judge_segment(ctx, &c.t, &c.v);
    };
    // Repeated falls most of which do not look like a restart are a collector's sawtooth (a
    // JVM's old generation, Node's mark-sweep) as much as OOM-kill cycles (see below). One
    // fall with a restart's sign among them is as likely an outage or a single restart inside
    // the sawtooth: "none" (the first version) let one scrape outage turn a slow sawtooth
    // into OOM-kill cycles (independent corpus seeds 1-7: 6 end-of-run memory false alarms
    // fewer, −0.7 points of FPR, one leak more; own seeds 1-1010: two leaks more, one fewer).
    // The first raw sample after each fall.
    let fall_ends: Vec<usize> = jumps
        .restarts
        .iter()
        .map(|&r| {
            let cut = refine_cut(c, env.t[r], span_end(r)).unwrap_or(env.t[r + 1]);
            c.t.partition_point(|&t| t < cut)
        })
        .collect();
    // A fall counts for a restart here only with a missed scrape across it. How much it gives
    // back tells nothing among repeated falls: a JVM's major collection drops heap used from
    // its initiating occupancy (45-85 % of the old generation) to the live set, often by more
    // than half. Counting falls of 45 % for restarts (the previous version) made OOM-kill
    // cycles of a JVM's old-generation sawtooth: on the mechanism corpus (seeds 1-3) 14 end-of-
    // run memory false alarms fewer, 6 leaks fewer (now inconclusive) and 2 more; on our seeds
    // 1/7/11/101-1010/1111-1313 and independent seeds 1-10 one false alarm fewer and three
    // OOM-kill leaks of the independent corpus, restarted without a missed scrape, inconclusive;
    // online, over all of them, 14 false alarms gone and one new (a Go sawtooth, our seed
    // 808), 6 alarms on leaks gone.
    let dt = c.median_dt();
    let restart_like = fall_ends
        .iter()
        .filter(|&&end| gap_intervals(c, end, dt) >= MISSED_SCRAPE_INTERVALS)
        .count();
    let sawtooth_like = !ctx.sawtooth
        && fall_ends.len() - restart_like >= SAWTOOTH_MIN_FALLS
        && 2 * restart_like < fall_ends.len();
    // Cut at the restart: the first raw sample after the last pre-restart bin.
    let cut_t = 0.5 * (env.t[last_restart] + env.t[last_restart + 1]);
    // The drop may lie up to the next bin's centre (a restart straddling a bin boundary).
    let cut_t = refine_cut(c, env.t[last_restart], span_end(last_restart)).unwrap_or(cut_t);
    let k = c.t.partition_point(|&t| t < cut_t);
    let mut seg = judge_segment(ctx, &c.t[k..], &c.v[k..]);
    // Complete cycles: each stretch of raw samples ending in a restart, judged on its own
    // finer envelope (a cycle is often only a few bins of the whole-series envelope).
    let mut rising = 0;
    let mut total = 0;
    let mut start = 0;
    let mut cycle_growth = Vec::new();
    let mut cycle_len = Vec::new();
    for &end in &fall_ends {
        let (ct, cv) = (&c.t[start..end], &c.v[start..end]);
        start = end;
        if ct.len() < MIN_SAMPLES_PER_CYCLE {
            continue;
        }
        total += 1;
        let ce = ctx.envelope(ct, cv);
        // Three bins cannot show a trend at 5 % (the smallest one-sided p is 1/6): a short
        // cycle is tested on its raw samples instead.
        let mk = if ce.y.len() >= MIN_CYCLE_BINS {
            mann_kendall(&ce.y, serial(ctx.grain))
        } else {
            mann_kendall(cv, serial(ctx.grain))
        };
        // The climb is measured after the cycle's first bin, which holds the warm-up of the
        // restart that began it (see `changepoint::WARM_UP_BIN`).
        let from = if ce.y.len() > 3 { 1 } else { 0 };
        let grow = ce.y[ce.y.len() - 1] - ce.y[from];
        // A climb, not a jump: no single bin-to-bin rise makes half of it (a load burst that
        // ends looks like a restart, but it arrived as a step).
        let biggest = ce.y[from..]
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(0.0_f64, f64::max);
        let diffs = (ce.y.len() - from).saturating_sub(1).max(1) as f64;
        if mk.p_increasing < ALPHA_LATE
            && grow >= 2.0 * ctx.opts.min_growth * level
            && biggest < (CLIMB_STEP_SHARE / diffs).max(0.5) * grow
        {
            rising += 1;
            cycle_growth.push(grow);
            cycle_len.push(ct[ct.len() - 1] - ct[0]);
        }
    }
    // Online, more cycles are needed (see [`ONLINE_EXTRA_CYCLES`]).
    let need = if ctx.online {
        MIN_RISING_CYCLES + ONLINE_EXTRA_CYCLES
    } else {
        MIN_RISING_CYCLES
    };
    let cycles_leak = rising >= need && 2 * rising >= total;
    // The segment since the last restart vetoes the cycles only when it has stayed flat for
    // longer than a typical cycle took to climb.
    let typical_cycle = median_in_place(&mut cycle_len.clone());
    let vetoed = seg.verdict == Verdict::NoLeak && seg.window_s > typical_cycle;
    // The typical climb of a cycle, for the sentences below.
    let med = median_in_place(&mut cycle_growth);
    if sawtooth_like {
        // Judge the whole series on its cycle floors rather than its latest climb alone (a
        // collector's sawtooth climbs in every cycle). If the climbs alone would make OOM-kill
        // cycles, the series cannot tell the two apart: say so rather than guess.
        let saw = Ctx {
            sawtooth: true,
            ..*ctx
        };
        let mut whole = judge_segment(&saw, &c.t, &c.v);
        if whole.verdict == Verdict::Leak || !cycles_leak || vetoed {
            return whole;
        }
        whole.verdict = Verdict::Inconclusive;
        whole.needs_more_s = None;
        whole.reason = format!(
            "{} climbs by about {} and falls back, {} times: a garbage collector's sawtooth, or restarts (OOM kills) resetting a leak? Most falls do not look like a restart (no scrape missed across them); across the cycles, {}",
            what(ctx.unit),
            format_quantity(ctx.unit, med),
            rising,
            whole.reason
        );
        return whole;
    }
    if cycles_leak && !vetoed {
        seg.verdict = Verdict::Leak;
        seg.needs_more_s = None;
        seg.reason = format!(
            "{} climbs by about {} and then drops (restart or OOM kill) — {} such cycles; the leak is only reset by the restarts",
            what(ctx.unit),
            format_quantity(ctx.unit, med),
            rising
        );
        if seg.rate.is_none_or(|r| r <= 0.0) {
            seg.rate = Some(med / (env.width * 3.0).max(1.0));
        }
        return seg;
    }
    // Too few samples since a restart at the very end (a load that stopped and took its
    // connections with it, a process restarted a moment ago): the part before it is the
    // evidence there is, judged as a series of its own. At the end of a run only: our seeds
    // 1/7/11/101-1010, held-out 1111-1313 and independent 1-10 gained three right verdicts
    // and lost none (an OOM-kill cycle and a Go leak called leaks, a pool no leak, each
    // inconclusive before); online it raised 22 alarms on leaks and 35 on healthy series.
    if seg.verdict == Verdict::Inconclusive
        && seg.samples < MIN_SAMPLES
        && k >= MIN_SAMPLES
        && !ctx.online
    {
        let mut before = judge_series(ctx, &c.prefix(k));
        if before.verdict != Verdict::Inconclusive {
            // An earlier restart as close to the prefix's end is said once, from now.
            const SAID: &str = " (judged before the restart";
            let reason = before.reason.split(SAID).next().unwrap_or_default();
            before.reason = format!(
                "{reason}{SAID} {} ago: {} {} since, too few to judge)",
                dur(c.t[n - 1] - cut_t),
                seg.samples,
                samples_word(seg.samples)
            );
            return before;
        }
    }
    // The reason says "since the restart" already.
    let mut said = false;
    if seg.verdict == Verdict::Leak {
        // Falls that are not restarts (a collector's sawtooth, two or more in the series, one
        // or more since the restart): the climbs since the restart are collections' climbs
        // as much as growth. They are judged on the floors of the cycles since the restart
        // when there are enough of them; with fewer, the envelope's leak stands only when
        // those floors rise too (independent corpus seeds 1-7: −0.4 points of end-of-run
        // memory FPR and −0.3 of resources, a restart inside a JVM's old-generation
        // sawtooth; no end-of-run leak lost, one online). A collection ends a climb: the
        // envelope rose since the previous jump by at least half of what the fall gives back
        // (a burst's end, or the later steps of its descent, follow no such climb).
        let is_fall = |i: usize| {
            let prev = jumps
                .all
                .iter()
                .rev()
                .find(|&&j| j < i)
                .map_or(0, |&j| j + 1);
            env.y[i + 1] < env.y[i]
                && !jumps.restarts.contains(&i)
                && env.y[i] - env.y[prev] >= 0.5 * (env.y[i] - env.y[i + 1])
        };
        let saw_falls = jumps.all.iter().filter(|&&i| is_fall(i)).count();
        let since: Vec<usize> = jumps
            .all
            .iter()
            .copied()
            .filter(|&i| i > last_restart + 1 && is_fall(i))
            .collect();
        if saw_falls >= SAWTOOTH_MIN_FALLS && !since.is_empty() {
            if since.len() + 1 >= MIN_SAWTOOTH_CYCLES {
                let saw = Ctx {
                    sawtooth: true,
                    ..*ctx
                };
                seg = judge_segment(&saw, &c.t[k..], &c.v[k..]);
            } else if !floors_rise(&env.y, &since, ctx.opts.min_growth * level) {
                // A typical cycle: the median spacing of the series' collections.
                let saw: Vec<f64> = jumps
                    .all
                    .iter()
                    .filter(|&&i| is_fall(i))
                    .map(|&i| env.t[i])
                    .collect();
                let mut gaps: Vec<f64> = saw.windows(2).map(|w| w[1] - w[0]).collect();
                let cycle = median_in_place(&mut gaps);
                let more = whole_s(cycle * (MIN_SAWTOOTH_CYCLES - since.len() - 1) as f64);
                let mut j = inconclusive(
                    seg.samples,
                    seg.window_s,
                    more,
                    format!(
                        "{} climbs and falls back like a garbage collector's sawtooth, and its floor has not risen since the restart {} ago ({} {} since: too few to judge it; need about {} more)",
                        what(ctx.unit),
                        dur(c.t[n - 1] - cut_t),
                        since.len(),
                        if since.len() == 1 {
                            "collection"
                        } else {
                            "collections"
                        },
                        dur(more)
                    ),
                );
                j.rate = seg.rate;
                j.ci = seg.ci;
                seg = j;
                said = true;
            }
        }
    }
    // Online, a climb after a fall that looks like a collection (see [`climbing_back`]) is
    // not yet a leak while it stays below where the climb before the fall ended.
    if ctx.online
        && ctx.grain == Grain::Fine
        && seg.verdict == Verdict::Leak
        && let Some(&end_last) = fall_ends.last()
        && !restart_evidence(c, end_last)
        && gap_intervals(c, end_last, dt) < MISSED_SCRAPE_INTERVALS
        && let Some((old, now)) = climbing_back(
            c,
            &env.y,
            &jumps.restarts,
            end_last,
            ctx.opts.min_growth * level,
        )
    {
        let past = old + ctx.opts.min_growth * level;
        let more = seg
            .rate
            .filter(|&r| r > 0.0)
            .map_or(0.0, |r| ((past - now) / r).ceil());
        let mut j = inconclusive(
            seg.samples,
            seg.window_s,
            more,
            format!(
                "{} fell {} ago like a garbage collection and climbs again ({}), but not yet past where the climb before the fall ended ({}): a leak shows when it climbs past that by {}{}",
                what(ctx.unit),
                dur(c.t[n - 1] - cut_t),
                seg.rate
                    .map_or_else(String::new, |r| format_rate(ctx.unit, r)),
                format_quantity(ctx.unit, old),
                format_quantity(ctx.unit, past - old),
                if more > 0.0 {
                    format!(" (about {} at this rate)", dur(more))
                } else {
                    String::new()
                }
            ),
        );
        j.rate = seg.rate;
        j.ci = seg.ci;
        if more <= 0.0 {
            j.needs_more_s = None;
        }
        seg = j;
        said = true;
    }
    // Also when the warm-up was already judged levelled off: the old level says why.
    if seg.verdict != Verdict::Inconclusive
        && let Some(back) =
            back_to_old_level(ctx, &env, &jumps.restarts, level, &c.t[k..], &c.v[k..])
    {
        seg.verdict = Verdict::NoLeak;
        seg.needs_more_s = None;
        seg.reason = format!(
            "{} fell at the restart {} ago and has climbed back to its level before it ({}, flat for {}), not past it: a restarted process warming up",
            what(ctx.unit),
            dur(c.t[n - 1] - cut_t),
            format_quantity(ctx.unit, back.level),
            dur(back.flat_for)
        );
        said = true;
    }
    if !said {
        seg.reason = format!(
            "{} (judged since the restart {} ago)",
            seg.reason,
            dur(c.t[n - 1] - cut_t)
        );
    }
    seg
}

/// Where the climb before the last fall ended (the median of the three raw samples before
/// it, `fall_end` being the first after it) and where memory is now, when that climb rose (the envelope's bin before
/// the fall above its first bin after the fall before, past that fall's warm-up bin) and
/// memory now (the median of the last three samples) has not yet gone past it by
/// `tolerance`. Online, a climb after a fall that gives back under [`RESTART_FALL`] with no
/// scrape missed is the next cycle of a collector (a young generation's, Node's
/// scavenges) as much as growth: a JVM's or Node's heap collects when it reaches about the
/// same size each time, and the next climb goes back there. A leak climbs past it (by
/// `min_growth` of the level, the smallest growth called a leak); until then the climb is
/// not evidence of one. Independent corpus seeds 1-7: online memory false positives
/// −3.5 points (31.5 → 28.0 %, one fall in a JVM's or Node's sawtooth early in a run) for
/// −1.0 point of recall (alarms on leaks under a sawtooth come later; a few are lost); own
/// seeds 101-1010: −0.8 points of false positives, −0.5 of recall (tuning seeds 1/7/11:
/// −0.3, ±0). Comparing the envelope's bins instead of raw samples lost less recall (−0.5)
/// but let a slower climb's floor pass a faster one's before reaching its top. Memory only:
/// a count that falls (a pool shrinking with load) and climbs again is load coming back, and
/// on counts the same rule lost three load-proportional leaks on own seeds 101-1010 for one
/// false alarm fewer. At the end of a run it cost 0.5-0.7 points of memory recall for −0.4
/// of false positives.
fn climbing_back(
    c: &Clean,
    y: &[f64],
    restarts: &[usize],
    fall_end: usize,
    tolerance: f64,
) -> Option<(f64, f64)> {
    let &last = restarts.last()?;
    let from = restarts.iter().rev().nth(1).map_or(0, |&r| r + 2).min(last);
    let n = c.len();
    if y[last] <= y[from] || fall_end < 3 || n < 3 {
        return None;
    }
    let old = median_in_place(&mut c.v[fall_end - 3..fall_end].to_vec());
    let now = median_in_place(&mut c.v[n - 3..].to_vec());
    (now < old + tolerance).then_some((old, now))
}

/// A climb since a restart ends back at the level the process held before it when the last
/// three envelope bins' median lies within twice `min_growth` of the level of the stretch
/// before the restart: a restarted process settles near, not exactly at, its old level (its
/// caches refill with other keys, its heap is laid out anew).
const BACK_TOLERANCE: f64 = 2.0;

/// The stretch before the restart a climb returned to.
struct OldLevel {
    /// Median envelope level of the stretch before the restart.
    level: f64,
    /// How long that stretch lasted.
    flat_for: f64,
}

/// Whether the envelope since the last restart has climbed back to the level of the stretch
/// before it (from the restart before, or the start) without going past it, that stretch
/// being long enough to judge ([`MIN_BINS`]) and not rising (Mann-Kendall at [`ALPHA_LATE`]).
/// The process then lived at that level before the restart and is back there: the climb since
/// is a fresh process warming up, not a leak. A leak that was reset by the restart rose
/// before it (OOM-kill cycles are judged before this), and one that goes on climbs past the
/// old level. Independent corpus seeds 1-7: three false alarms of the 32 at the end of a run
/// removed (a restart mid-run with the warm-up back to the old level judged on its own), no
/// leak lost on either corpus.
fn back_to_old_level(
    ctx: &Ctx<'_>,
    env: &Envelope,
    restarts: &[usize],
    level: f64,
    seg_t: &[f64],
    seg_v: &[f64],
) -> Option<OldLevel> {
    let &last = restarts.last()?;
    // Skip the bin after the restart before, which holds that restart's warm-up.
    let from = restarts.iter().rev().nth(1).map_or(0, |&r| r + 2).min(last);
    let pre = &env.y[from..=last];
    if pre.len() < MIN_BINS || mann_kendall(pre, serial(ctx.grain)).p_increasing < ALPHA_LATE {
        return None;
    }
    let old = median_in_place(&mut pre.to_vec());
    let tol = (BACK_TOLERANCE * ctx.opts.min_growth * level).max(quantum(ctx.grain));
    let back = |y: &[f64]| {
        !y.is_empty()
            && (median_in_place(&mut y[y.len().saturating_sub(3)..].to_vec()) - old).abs() <= tol
    };
    // The level reached is read on the whole series' envelope (the same bins as the level
    // before) and on the segment's own, finer one: the former's last bin may still straddle
    // the warm-up (its low quantile is from the bin's start), the latter's bins sit higher in
    // a noisy sawtooth (fewer samples each). Either back within the tolerance will do.
    let found = back(&env.y[last + 1..]) || back(&ctx.envelope(seg_t, seg_v).y);
    found.then(|| OldLevel {
        level: old,
        flat_for: env.t[last] - env.t[from],
    })
}

/// Whether the floors of the cycles after `falls` (the lowest envelope point after each fall,
/// up to the next) rise: each above the one before, by `min_rise` from first to last.
fn floors_rise(y: &[f64], falls: &[usize], min_rise: f64) -> bool {
    let floors: Vec<f64> = falls
        .iter()
        .enumerate()
        .map(|(k, &f)| {
            let end = falls.get(k + 1).map_or(y.len(), |&g| g + 1);
            y[f + 1..end].iter().copied().fold(f64::INFINITY, f64::min)
        })
        .collect();
    floors.len() >= 2
        && floors.windows(2).all(|w| w[1] > w[0])
        && floors[floors.len() - 1] - floors[0] >= min_rise
}

/// Whether the fall after bin `r` ends a burst: the jump before it rose (over one bin or two,
/// not from the first two bins: that is the process starting, which a restart repeats), the
/// envelope has not climbed since (by half the fall), and the fall brings it back to within
/// [`HUMP_RETURN`] of the rise of where it was before the burst (a restart falls further, to
/// the bare process). Own corpus seeds 1-1010: +1 memory and +1 resource leak at the end of a
/// run (load bursts of +100-400 % whose end was read as a restart, the leak then judged only
/// on what came after); independent corpus: +1 resource leak; false positives unchanged.
fn burst_end(y: &[f64], all: &[usize], r: usize) -> bool {
    let Some(&p) = all.iter().rev().find(|&&j| j < r) else {
        return false;
    };
    if y[p + 1] <= y[p] {
        return false;
    }
    let p0 = if p >= 1 && all.contains(&(p - 1)) && y[p] > y[p - 1] {
        p - 1
    } else {
        p
    };
    let fall = y[r] - y[r + 1];
    let rise = y[r] - y[p0];
    p0 >= 2 && y[r] - y[p + 1] < 0.5 * fall && (y[r + 1] - y[p0]).abs() <= HUMP_RETURN * rise
}

/// Falls that make a collector's sawtooth rather than restarts, when fewer than half of them
/// have a scrape missed across them: two (three cycles). A single unexplained fall stays a
/// restart (a process restarted once, a cache flushed).
const SAWTOOTH_MIN_FALLS: usize = 2;

/// A restart gives back at least this share of the memory: the three samples after the fall
/// have a median under 55 % of the three before it. A fresh process starts from its bare
/// working set, and a process killed at its limit had the leak on top of it.
const RESTART_FALL: f64 = 0.45;

/// … or the samples stop across the fall for at least 2.5 typical intervals (the process was
/// down: missed scrapes while it restarted).
const RESTART_GAP_INTERVALS: f64 = 2.5;

/// Whether the fall just before raw sample `end` looks like a restart rather than a
/// collection (see [`RESTART_FALL`], [`RESTART_GAP_INTERVALS`]).
fn restart_evidence(c: &Clean, end: usize) -> bool {
    let n = c.len();
    if end < 3 || end + 3 > n {
        // Too near an end of the series to tell: keep calling it a restart.
        return true;
    }
    let mut before = c.v[end - 3..end].to_vec();
    let mut after = c.v[end..end + 3].to_vec();
    let (b, a) = (median_in_place(&mut before), median_in_place(&mut after));
    let fell = b > 0.0 && 1.0 - a / b >= RESTART_FALL;
    fell || gap_intervals(c, end, c.median_dt()) >= RESTART_GAP_INTERVALS
}

/// How many typical intervals (`dt`, the series' median) the samples stopped for just before
/// `end` (0 at the series' start or past its end; infinite when `dt` is 0).
fn gap_intervals(c: &Clean, end: usize, dt: f64) -> f64 {
    if end == 0 || end >= c.len() {
        return 0.0;
    }
    if dt <= 0.0 {
        return f64::INFINITY;
    }
    (c.t[end] - c.t[end - 1]) / dt
}

/// Among repeated falls, a fall with one scrape missed across it counts for a restart (weaker
/// than [`restart_evidence`]'s gap, so it only tips the balance between a collector's
/// sawtooth and restarts). One scrape missed: twice the typical interval, less the sampling
/// jitter (own corpus intervals jitter by up to ±10 %, real scrapers by less). A restart that
/// takes longer than one interval (a container's restart back-off, a JVM's start) loses at
/// least one scrape.
const MISSED_SCRAPE_INTERVALS: f64 = 1.8;

/// The time of the largest sample-to-sample drop between two bin centres.
fn refine_cut(c: &Clean, from: f64, to: f64) -> Option<f64> {
    let a = c.t.partition_point(|&t| t < from);
    let b = c.t.partition_point(|&t| t <= to).min(c.len());
    (a + 1..b)
        .min_by(|&i, &j| (c.v[i] - c.v[i - 1]).total_cmp(&(c.v[j] - c.v[j - 1])))
        .map(|i| c.t[i])
}

fn to_verdict(
    series: &Series,
    c: &Clean,
    j: Judgement,
    opts: &DetectOptions,
    at: Option<f64>,
) -> SeriesVerdict {
    let mut sv = SeriesVerdict::empty(series.name.clone(), series.unit, j.verdict, j.reason);
    sv.detected_at_s = if j.verdict == Verdict::Leak { at } else { None };
    sv.rate_per_s = j.rate;
    sv.rate_ci95 = j.ci;
    sv.growth_abs = j.growth_abs;
    sv.growth_pct = j.growth_pct;
    sv.needs_more_s = j.needs_more_s;
    sv.samples = j.samples;
    sv.window_s = j.window_s;
    sv.time_to_limit_s = match (opts.limit, j.rate, j.level_end) {
        (Some(limit), Some(rate), Some(level))
            if rate > 0.0 && j.ci.is_some_and(|ci| ci[0] > 0.0) =>
        {
            let until = at.or(c.t.last().copied()).unwrap_or(0.0);
            let top = level + peak_above_floor(c, level, rate, until - j.window_s, until);
            Some(((limit - top) / rate).max(0.0))
        }
        _ => None,
    };
    sv
}

/// Share of the judged samples allowed above the level a limit is measured from.
const PEAK_QUANTILE: f64 = 0.95;

/// How far the series rises above its floor (the line through `level` at `until` with slope
/// `rate`) over `[from, until]`: the 95th percentile of the samples' heights above it. A limit
/// is reached by the tops, not by the floor: a collector's sawtooth at the end of its climbs,
/// a pool in its busy hours, noise on a plain leak; the percentile leaves rare spikes out.
fn peak_above_floor(c: &Clean, level: f64, rate: f64, from: f64, until: f64) -> f64 {
    let a = c.t.partition_point(|&t| t < from);
    let b = c.t.partition_point(|&t| t <= until);
    let mut above: Vec<f64> = (a..b)
        .map(|i| c.v[i] - (level - rate * (until - c.t[i])))
        .collect();
    quantile_in_place(&mut above, PEAK_QUANTILE).max(0.0)
}

pub(crate) fn analyze(series: &Series, opts: &DetectOptions) -> SeriesVerdict {
    analyze_loaded(series, opts, None)
}

/// [`analyze`] with memory that follows load taken out first (`load`: requests served).
pub(crate) fn analyze_loaded(
    series: &Series,
    opts: &DetectOptions,
    load: Option<&LoadAxis>,
) -> SeriesVerdict {
    let c = clean(series, opts.warmup_s);
    let ctx = Ctx {
        unit: series.unit,
        grain: Grain::of(series),
        opts,
        alpha: opts.alpha,
        online: false,
        load,
        sawtooth: false,
        noise_free: false,
    };
    let j = judge(&ctx, &c);
    let at = c.t.last().copied();
    to_verdict(series, &c, j, opts, at)
}

pub(crate) fn analyze_online(series: &Series, opts: &DetectOptions) -> SeriesVerdict {
    analyze_online_loaded(series, opts, None)
}

/// [`analyze_online`] with memory that follows load taken out at every checkpoint, fitted on
/// the samples and requests seen so far (`load`: requests served).
pub(crate) fn analyze_online_loaded(
    series: &Series,
    opts: &DetectOptions,
    load: Option<&LoadAxis>,
) -> SeriesVerdict {
    let c = clean(series, opts.warmup_s);
    let ctx = Ctx {
        unit: series.unit,
        grain: Grain::of(series),
        opts,
        alpha: opts.alpha_online,
        online: true,
        load,
        sawtooth: false,
        noise_free: false,
    };
    let n = c.len();
    // Every checkpoint so far: (time, leak?). Persistence looks back over them.
    let mut history: Vec<(f64, bool)> = Vec::new();
    let mut next_check = f64::NEG_INFINITY;
    let persistence = opts.persistence.max(1);
    // The online judgement of the whole series when it is no leak (it explains why a leak the
    // end-of-run rules see raised no alarm).
    let mut last_no_leak: Option<Judgement> = None;
    for i in MIN_SAMPLES.min(n)..=n {
        if i == 0 {
            continue;
        }
        let t = c.t[i - 1];
        if t < next_check && i < n {
            continue;
        }
        next_check = t + CHECK_FRACTION * (t - c.t[0]);
        let j = judge(&ctx, &c.prefix(i));
        let leak = j.verdict == Verdict::Leak;
        history.push((t, leak));
        if !leak {
            last_no_leak = (i == n).then_some(j);
            continue;
        }
        let age = t - j.rise_start.max(c.t[0]);
        // Mean spacing of the samples seen so far (causal: no later sample counts).
        let dt = (t - c.t[0]) / (i - 1).max(1) as f64;
        let min_samples = match ctx.grain {
            Grain::Fine => MIN_PERSIST_SAMPLES,
            Grain::Whole => MIN_PERSIST_SAMPLES_COUNT,
        };
        let need = (PERSIST_FRACTION * age).max(min_samples * dt);
        // Counts: no alarm on the first two minutes of data (see [`MIN_ALARM_ELAPSED_COUNT`]).
        let min_elapsed = match ctx.grain {
            Grain::Fine => 0.0,
            Grain::Whole => MIN_ALARM_ELAPSED_COUNT,
        };
        if t - c.t[0] >= min_elapsed && persistent(&history, t, need, persistence) {
            return to_verdict(series, &c, j, opts, Some(t));
        }
    }
    // No alarm: the end-of-run verdict of the whole series, never a leak.
    let mut sv = analyze_loaded(series, opts, load);
    if sv.verdict == Verdict::Leak
        && let Some(j) = last_no_leak.filter(|j| j.verdict == Verdict::Inconclusive)
    {
        return to_verdict(series, &c, j, opts, None);
    }
    if sv.verdict == Verdict::Leak {
        sv.verdict = Verdict::Inconclusive;
        sv.leak_detected = false;
        sv.detected_at_s = None;
        sv.reason = format!(
            "{}; not yet persistent enough for an online alarm",
            sv.reason
        );
    }
    sv
}

/// Whether the checkpoints of the last `need` seconds (up to `t`) agree on a leak: the first
/// leak verdict of the span lies within its first tenth (the condition held from the start of
/// the span), at least [`PERSIST_AGREE`] of its checkpoints are leaks and at least `persistence`
/// of them.
fn persistent(history: &[(f64, bool)], t: f64, need: f64, persistence: usize) -> bool {
    let from = t - need;
    // The span must reach back to a checkpoint at or before its start.
    let Some(k) = history.iter().rposition(|&(ht, _)| ht <= from) else {
        return false;
    };
    let span = &history[k..];
    let leaks = span.iter().filter(|&&(_, l)| l).count();
    let first_leak = span.iter().find(|&&(_, l)| l).map_or(t, |&(ht, _)| ht);
    leaks >= persistence
        && leaks as f64 >= PERSIST_AGREE * span.len() as f64
        && first_leak <= from + 0.1 * need
}

/// A multi-line dump of the evidence behind the end-of-run verdict (envelope, jumps, tests),
/// for tuning and bug reports; the format is not stable.
pub(crate) fn explain(series: &Series, opts: &DetectOptions) -> String {
    use std::fmt::Write as _;
    let c = clean(series, opts.warmup_s);
    let mut s = String::new();
    let env = floor_envelope(&c.t, &c.v);
    let mut tmp = env.y.clone();
    let level = median_in_place(&mut tmp).abs();
    let jumps = find_jumps(&env.y, level, quantum(Grain::of(series)));
    let _ = writeln!(
        s,
        "level steps {:?}",
        level_steps(&env.y, level, quantum(Grain::of(series)), MAX_ONE_OFF_STEPS)
    );
    let _ = writeln!(
        s,
        "samples {} span {:.0}s bins {} width {:.1}s level {:.4e}",
        c.len(),
        c.span(),
        env.y.len(),
        env.width,
        level
    );
    let _ = writeln!(
        s,
        "envelope/level: {}",
        env.y
            .iter()
            .map(|y| format!("{:.3}", y / level))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = writeln!(
        s,
        "restarts {:?} ups {:?} all {:?}",
        jumps.restarts, jumps.ups, jumps.all
    );
    if let Some(tr) = trend(&env, Grain::of(series), serial(Grain::of(series)), false) {
        let _ = writeln!(
            s,
            "mk z {:.2} p {:.2e} | slope {:.3e} ci {:.3e}..{:.3e} | g_full {:.4} | late p {:.3} late slope {:.3e} g_late {:.4} | curv {:?} | sat {:?} | rise_start {:.0}",
            tr.mk.z,
            tr.mk.p_increasing,
            tr.fit.slope,
            tr.fit.ci95[0],
            tr.fit.ci95[1],
            tr.fit.slope * tr.window / tr.level,
            tr.late_mk.p_increasing,
            tr.late_fit.map_or(0.0, |f| f.slope),
            tr.late_fit.map_or(0.0, |f| f.slope) * tr.window / tr.level,
            tr.late_curvature,
            tr.sat.map(|x| (
                x.sse_plateau / x.sse_linear,
                x.end_slope * tr.window / tr.level
            )),
            tr.rise_start
        );
    }
    s
}

/// End-of-run verdict with load as the covariate: the memory floor judged against cumulative
/// requests served instead of time (see `lib.rs` `analyze_per_request`).
pub(crate) fn analyze_per_request(
    series: &Series,
    requests: &Series,
    opts: &DetectOptions,
) -> SeriesVerdict {
    let c = clean(series, opts.warmup_s);
    let r = clean(requests, 0.0);
    // Cumulative requests at each memory sample (linear interpolation; samples outside the load
    // series' time range are left out).
    let mut x = Vec::with_capacity(c.len());
    let mut v = Vec::with_capacity(c.len());
    for (&t, &val) in c.t.iter().zip(&c.v) {
        let k = r.t.partition_point(|&rt| rt < t);
        let at = if k < r.len() && r.t[k] == t {
            Some(r.v[k])
        } else if k == 0 || k >= r.len() {
            None
        } else {
            let (t0, t1) = (r.t[k - 1], r.t[k]);
            let f = (t - t0) / (t1 - t0);
            Some(r.v[k - 1] + f * (r.v[k] - r.v[k - 1]))
        };
        if let Some(a) = at {
            x.push(a);
            v.push(val);
        }
    }
    let by_load = Series::from_parts(series.name.clone(), series.unit, x, v);
    // The axis is requests now: warm-up was already applied on the time axis.
    let inner = DetectOptions {
        warmup_s: 0.0,
        limit: None,
        ..opts.clone()
    };
    let c2 = clean(&by_load, 0.0);
    let ctx = Ctx {
        unit: series.unit,
        grain: Grain::of(series),
        opts: &inner,
        alpha: opts.alpha,
        online: false,
        load: None,
        sawtooth: false,
        noise_free: false,
    };
    let j = judge(&ctx, &c2);
    let served = c2.span();
    let unit = series.unit;
    let per = |x: f64| format!("{} per request", format_quantity(unit, x));
    let reason = match (j.verdict, j.rate, j.ci) {
        (Verdict::Leak, Some(rate), _) => format!(
            "{} floor grows {} over {:.0} requests with no sign of levelling off: memory is retained for every request served",
            what(unit),
            per(rate),
            served
        ),
        (Verdict::NoLeak, Some(rate), Some(ci)) => format!(
            "{} floor does not grow with requests served ({}, 95 % CI {} to {}) over {:.0} requests",
            what(unit),
            per(rate),
            format_quantity(unit, ci[0]),
            format_quantity(unit, ci[1]),
            served
        ),
        _ => format!(
            "not enough evidence against load yet over {:.0} requests ({} samples)",
            served, j.samples
        ),
    };
    let mut sv = to_verdict(
        series,
        &c,
        Judgement { reason, ..j },
        opts,
        c.t.last().copied(),
    );
    // The window is requests, not seconds; report the time the judged samples span instead.
    sv.window_s = c.span();
    sv.time_to_limit_s = None;
    sv.needs_more_s = None;
    sv
}

/// The floor between busy stretches: bins within a quarter of the envelope's range above the
/// floor (see [`IdleBase`]) are "idle" (load quiet, pool shrunk back).
const IDLE_SHARE: f64 = 0.25;

/// What idle bins are measured from.
#[derive(Debug, Clone, Copy)]
enum IdleBase {
    /// The envelope's lowest bin: one level for the whole run.
    Lowest,
    /// The envelope's lower convex hull: a floor that may itself rise. A leak lifts the quiet
    /// floor, so late quiet bins can sit above the lowest quarter of the range measured from
    /// the run's lowest bin (a 24 h series whose night at the end is 10-15 % above the one at
    /// its start, under a daily pool swing of 40 %), and [`IdleBase::Lowest`] never sees them.
    Hull,
}

/// On the hull, the busy stretches must rise above the floor by at least 1.5 times what the
/// floor itself gained between its first and last idle bins: the pool swings by more than the
/// leak adds. A pool warming to its cap, or one-off steps, has a hull that rises with the
/// warm-up and a plateau whose noise sits above it by at most about the warm-up's own height
/// (ratios 0.74-1.14 on our corpora); most leaks under a pool that follows load swing 1.5-3.4
/// times their rise (those under 1.5 are left to the other rules). Measured (v15), end of run,
/// resources: independent seeds 1-7 recall 82.8 → 86.4 %, held-out independent seeds 8-10
/// +2.5-5 points, our fresh seeds 101-1010 96.8 → 97.8 %, tuning seeds 1/7/11 95.1 → 96.8 %,
/// no new false alarm on any of them. Without the ratio the hull added 5-12 points of false
/// positives (warm-ups, steps); 1.25 found one leak more per corpus and left a warm-up at 1.14
/// close to the line; 1.0 added false alarms.
const IDLE_HUMP_OVER_RISE: f64 = 1.5;

/// The envelope must swing by at least four times `min_growth` of its level for busy and idle
/// stretches to be told apart at all.
const IDLE_MIN_SWING: f64 = 4.0;

/// At least one busy stretch of three envelope bins between two idle bins: a hump the load made,
/// not noise around a floor.
const IDLE_MIN_BUSY_BINS: usize = 3;

/// Idle bins must reach into the first and into the last quarter of the run: a floor seen at
/// both ends, not just a quiet start.
const IDLE_EDGE_SHARE: f64 = 0.25;

/// A last idle stretch of at least four bins that still falls significantly is a pool draining
/// after the last busy stretch: its floor is not known yet, unless the stretch then held for
/// [`IDLE_HELD_BINS`].
const IDLE_TAIL_BINS: usize = 4;

/// A draining last idle stretch whose last bins, at least this many (the bins a trend test
/// needs), no longer fall has reached its floor: the bins it drained through are left out of
/// the idle ones and the held bins kept (a pool back to its quiet size only slowly after a
/// ramp down). Before, the whole run was left unjudged. Measured (v24), end of run, resources:
/// +1 leak on independent seed 7 (#286: 64 sockets leaked over 24 h, 14 % of the quiet floor,
/// under a daily pool whose busy hours drained for about seven hours into the night, which
/// then held for its last five), no verdict changed on any other corpus (our seeds 1/7/11,
/// 101-1010, 1111-1313, independent 1-10). 4, 5, 8 or 10 bins found the same leak.
const IDLE_HELD_BINS: usize = MIN_BINS;

/// Sen's lower bound on the idle floor's slope sits exactly on 0 when most pairs of quiet bins
/// are tied (a count that moves by one or two): as for the whole floor, a significant
/// Mann-Kendall test and a positive slope then carry the verdict, but here only with the
/// growth at least twice `min_growth` (the quiet bins are few, 10-40, and what they tie on is
/// the pool's own size). Measured (v24), end of run, resources: independent seeds 1-10 +3
/// leaks under pools that follow load (seeds 3, 5, 6: 5-9.5 units, 3.8-11 × `min_growth`),
/// no false alarm more; no verdict changed on our seeds 1/7/11, 101-1010 and 1111-1313. With
/// 1.0 × (as the whole floor): +4 leaks and 2 false alarms (a 6 h finalizer sawtooth whose
/// quiet floor gained 3.4 threads, 1.3 ×; a 24 h pool 16 threads, 1.8 ×); with 1.5 × +4 and 1.
const IDLE_TIED_GROWTH: f64 = 2.0;

/// A rise of the idle floor found at the end of a run.
struct IdleFloor {
    fit: SenFit,
    start_level: f64,
    span: f64,
    bins: usize,
    busy_bins: usize,
}

impl IdleFloor {
    fn judgement(self, ctx: &Ctx<'_>, base: Judgement) -> Judgement {
        let growth = self.fit.slope * self.span;
        let reason = format!(
            "{} rises {} (95 % CI {} to {}) where load is quiet: its floor in the {} quiet \
             bins of the envelope grows {} over {}, while busy stretches of up to {} bins give \
             back what they take",
            what(ctx.unit),
            format_rate(ctx.unit, self.fit.slope),
            format_rate_like(ctx.unit, self.fit.ci95[0], self.fit.slope),
            format_rate_like(ctx.unit, self.fit.ci95[1], self.fit.slope),
            self.bins,
            format_quantity(ctx.unit, growth),
            dur(self.span),
            self.busy_bins
        );
        Judgement {
            verdict: Verdict::Leak,
            rate: Some(self.fit.slope),
            ci: Some(self.fit.ci95),
            growth_abs: Some(growth),
            growth_pct: (self.start_level.abs() > 0.0)
                .then(|| 100.0 * growth / self.start_level.abs()),
            level_end: Some(self.start_level + growth),
            onset_candidate: false,
            needs_more_s: None,
            reason,
            ..base
        }
    }
}

/// End of run, resource counts only (fds, sockets, threads, processes): a leak under a pool or a cache that follows load. The
/// busy stretches (a ramp, stairs, bursts, a daily peak) rise and give back far more than the
/// leak adds, so a trend on every envelope bin sees a hump, not a rise, and the latest segment
/// ends on its way down. The bins where the count is near its lowest are where load is quiet;
/// a leak lifts exactly those, a pool that shrinks back does not. Judged with the same
/// Mann-Kendall and Theil-Sen test as every other trend, on the idle bins alone.
///
/// Idle bins are first measured from the envelope's lowest bin, then, if that finds no rise,
/// from its lower convex hull ([`IdleBase`]), whose floor a leak may have lifted.
///
/// Memory is left out: a runtime's floor after a quiet stretch depends on when it last
/// collected, and on our corpora the memory version added false alarms (load-following memory
/// ending mid-descent, short Go series) for under one point of recall.
///
/// Measured at the end of runs on resource series (v13): independent corpus seeds 1-7 recall
/// 77.9 → 81.4 % with no new false alarm (its leaks under load-following pools: 25-50 % found
/// before); our fresh seeds 101-1010 +0.7 points, tuning seeds 1/7/11/21-25 +0.8, no new false
/// alarm on either. A share of 0.3 or 0.35 found 0.4-1.1 points more and added false alarms
/// (a thread pool following a daily cycle).
fn idle_floor(ctx: &Ctx<'_>, c: &Clean) -> Option<IdleFloor> {
    if ctx.grain == Grain::Fine || c.len() < MIN_SAMPLES {
        return None;
    }
    let env = ctx.envelope(&c.t, &c.v);
    if env.y.len() < 2 * MIN_BINS {
        return None;
    }
    let level = median_in_place(&mut env.y.clone()).abs();
    let lo = env.y.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = env.y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min_growth = ctx.opts.min_growth * level;
    if hi - lo < IDLE_MIN_SWING * min_growth || hi - lo <= 0.0 {
        return None;
    }
    let on = |base| idle_floor_on(ctx, &env, base, (lo, hi), min_growth);
    on(IdleBase::Lowest).or_else(|| on(IdleBase::Hull))
}

/// [`idle_floor`] with idle bins measured from `base`; `(lo, hi)` is the envelope's range.
fn idle_floor_on(
    ctx: &Ctx<'_>,
    env: &Envelope,
    base: IdleBase,
    (lo, hi): (f64, f64),
    min_growth: f64,
) -> Option<IdleFloor> {
    let n = env.y.len();
    let floor = match base {
        IdleBase::Lowest => vec![lo; n],
        IdleBase::Hull => lower_hull(&env.t, &env.y),
    };
    let mut idle: Vec<bool> = env
        .y
        .iter()
        .zip(&floor)
        .map(|(&y, &f)| y <= f + IDLE_SHARE * (hi - lo))
        .collect();
    let first = idle.iter().position(|&b| b)?;
    let last = idle.iter().rposition(|&b| b)?;
    let hump = env
        .y
        .iter()
        .zip(&floor)
        .map(|(y, f)| y - f)
        .fold(0.0, f64::max);
    let rise = floor[last] - floor[first];
    if hump < IDLE_MIN_SWING * min_growth || hump < IDLE_HUMP_OVER_RISE * rise {
        return None;
    }
    let busy_bins = idle[first..=last]
        .split(|&b| b)
        .map(<[bool]>::len)
        .max()
        .unwrap_or(0);
    if busy_bins < IDLE_MIN_BUSY_BINS {
        return None;
    }
    let tail_start = idle[..=last].iter().rposition(|&b| !b).map_or(0, |k| k + 1);
    let tail = &env.y[tail_start..=last];
    let falls = |x: &[f64]| mann_kendall(x, serial(ctx.grain)).p_increasing > 1.0 - ctx.alpha;
    if tail.len() >= IDLE_TAIL_BINS && falls(tail) {
        // Still draining, unless it then held: the bins it drained through are not idle.
        let drained = (1..tail.len())
            .take_while(|&k| tail.len() - k >= IDLE_HELD_BINS)
            .find(|&k| !falls(&tail[k..]))?;
        for b in &mut idle[tail_start..tail_start + drained] {
            *b = false;
        }
    }
    let (it, iy): (Vec<f64>, Vec<f64>) = env
        .t
        .iter()
        .zip(&env.y)
        .zip(&idle)
        .filter(|(_, is_idle)| **is_idle)
        .map(|((t, y), _)| (*t, *y))
        .unzip();
    if iy.len() < MIN_BINS {
        return None;
    }
    let (t0, t1) = (env.t[0], env.t[n - 1]);
    let span = t1 - t0;
    if it[0] > t0 + IDLE_EDGE_SHARE * span || it[it.len() - 1] < t1 - IDLE_EDGE_SHARE * span {
        return None;
    }
    let mk = mann_kendall(&iy, serial(ctx.grain));
    let fit = theil_sen(&it, &iy, mk.var_s)?;
    let growth = fit.slope * span;
    let rises = mk.p_increasing < ctx.alpha
        && (fit.ci95[0] > 0.0
            || (fit.ci95[0] == 0.0 && fit.slope > 0.0 && growth >= IDLE_TIED_GROWTH * min_growth))
        && growth >= min_growth
        && growth >= MIN_ABS_GROWTH_COUNT;
    if !rises {
        return None;
    }
    let mut offsets: Vec<f64> = it
        .iter()
        .zip(&iy)
        .map(|(t, y)| y - fit.slope * (t - t0))
        .collect();
    Some(IdleFloor {
        fit,
        start_level: median_in_place(&mut offsets),
        span,
        bins: iy.len(),
        busy_bins,
    })
}

/// A count back within half of `min_growth` of its starting floor has given back what it took.
const BACK_AT_START_SHARE: f64 = 0.5;

/// End of run, resource counts only: a count whose floor over the judged window ends where it
/// started has leaked nothing, however it rose in between. A leaked fd, socket or thread is
/// never handed back, so a leak's floor cannot return to its start; a pool whose busy hours
/// overlap (the floor held up for hours, then released) can, and the trend on the whole floor
/// read its long busy stretch as a rise. Restarts are cut before this (the window is the
/// latest segment). Memory is left out: a collector can return to an old floor while a leak
/// grows underneath its sawtooth, and on our corpora the memory version lost 0.7-0.8 points of
/// end-of-run recall. Measured (v13): no verdict changed on any corpus (own seeds 1-1010,
/// independent seeds 1-7); 1.0 × `min_growth` rather than half lost one count leak.
fn back_at_start(ctx: &Ctx<'_>, c: &Clean, j: &Judgement) -> Option<Judgement> {
    if ctx.grain == Grain::Fine {
        return None;
    }
    let until = *c.t.last()?;
    let a = c.t.partition_point(|&t| t < until - j.window_s);
    let env = ctx.envelope(&c.t[a..], &c.v[a..]);
    let m = env.y.len();
    if m < 2 * MIN_BINS {
        return None;
    }
    let first = median_in_place(&mut env.y[..3].to_vec());
    let last = median_in_place(&mut env.y[m - 3..].to_vec());
    let level = median_in_place(&mut env.y.clone()).abs();
    let hi = env.y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min_growth = ctx.opts.min_growth * level;
    if last > first + BACK_AT_START_SHARE * min_growth || hi - first < 2.0 * min_growth {
        return None;
    }
    let span = env.t[m - 1] - env.t[0];
    let growth = last - first;
    Some(Judgement {
        verdict: Verdict::NoLeak,
        rate: Some(if span > 0.0 { growth / span } else { 0.0 }),
        ci: None,
        growth_abs: Some(growth),
        growth_pct: (first.abs() > 0.0).then(|| 100.0 * growth / first.abs()),
        level_end: Some(last),
        onset_candidate: false,
        needs_more_s: None,
        reason: format!(
            "{} rose to {} but is back where it started at the end ({} then, {} now, over {}): \
             what it took was given back, a leak never is",
            what(ctx.unit),
            format_quantity(ctx.unit, hi),
            format_quantity(ctx.unit, first),
            format_quantity(ctx.unit, last),
            dur(span)
        ),
        ..*j
    })
}
