//! Robust lower envelope: the series binned in time, each bin reduced to a low quantile.
//!
//! A leak raises the floor that memory returns to after garbage collection, while GC sawtooth,
//! load bursts and allocation spikes live above it. Binning also cuts serial correlation and
//! bounds the cost of the O(m²) tests to a few thousand pairs whatever the sample count.
//! Not for change points or trend tests (see `changepoint`, `mann_kendall`, `theil_sen`).

use std::cell::RefCell;

use crate::util::{median_in_place, quantile_in_place, robust_sigma, same_bits};

/// At most this many bins: 80 bins give 3,160 pairs for Mann-Kendall and Theil-Sen (cheap enough
/// to re-run at every online checkpoint) and still resolve a mid-run onset to ~1 % of the window.
pub(crate) const MAX_BINS: usize = 80;

/// At least this many samples per bin, so a bin's low quantile is not a single noisy sample.
/// Three is the smallest count where a 10 % quantile differs from a plain minimum
/// (Hyndman & Fan 1996, type 7 interpolation).
pub(crate) const MIN_SAMPLES_PER_BIN: usize = 3;

/// At most this many samples per bin in the fine envelope. Samples per bin grow from 3 (short
/// runs keep ≥ 6 bins) to 8 once there are ≥ 20 bins' worth (20 bins rather than 12 gave
/// +2 % recall at equal false positives on the tuning corpus): the minimum of k samples of a
/// sawtooth seen at random phases is off the floor by ~amplitude/(k+1), so 8 samples cut
/// aliased-sawtooth noise to ~11 % of its amplitude.
pub(crate) const MAX_SAMPLES_PER_BIN: usize = 8;

/// A sawtooth must show at least 24 cycles (three per bin of the coarsest 8-bin envelope) for
/// bins to be widened to cover it.
const MIN_PERIODS: f64 = 24.0;

/// Quantile taken in each bin: the 10th percentile, low enough to sit on the post-GC floor yet
/// above one-sample downward glitches (Cleveland's lower-envelope smoothing uses the same idea).
pub(crate) const LOWER_QUANTILE: f64 = 0.1;

/// Bin minima are considered only with at least 5 samples per bin (series of ≥ 100 samples,
/// see [`lower_envelope`]'s `n / 20`): the minimum of k samples at random phases of a sawtooth
/// lies in its upper half with probability 2^−k, one bin in 8 with 3 samples, one in 32 with 5.
/// With 3-4 samples a few such bins at the end of a warm-up's plateau looked like a late rise
/// (`tests/it/shapes.rs::real_warmup_then_noisy_plateau_is_not_a_leak` failed with 81 samples);
/// with ≥ 5 the gain on the tuning seeds is 89.8 → 90.2 % (1.40 → 1.30 % FPR) rather than
/// 90.9 %.
const MIN_SAMPLES_FOR_MINIMUM: usize = 5;

/// A bin must span at least 1.5 sawtooth periods so that it contains at least one collection;
/// 1.5 rather than 1 because collections do not come exactly periodically.
const PERIODS_PER_BIN: f64 = 1.5;

/// A drop between consecutive samples counts as a collection (or release) when it exceeds this
/// many robust standard deviations of the sample-to-sample differences (4σ: a normal difference
/// does that once in ~16,000 samples).
const DROP_SIGMAS: f64 = 4.0;

/// Relative slack when counting how many bins of a width fit in a span (see `envelopes_with`):
/// far above rounding error (1e-16 per operation), far below any real difference in width.
const BIN_COUNT_SLACK: f64 = 1e-9;

/// Fewest bins we still bin into when widening bins for a slow sawtooth.
pub(crate) const MIN_BINS: usize = 8;

/// The lower envelope of a series.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    /// Mean sample time of each bin.
    pub(crate) t: Vec<f64>,
    /// Low quantile of each bin.
    pub(crate) y: Vec<f64>,
    /// Bin width in seconds.
    pub(crate) width: f64,
}

/// Spike ends are told from collections only when the drops are this many samples apart (the
/// median over the series): a collector scraped two to five times per cycle also climbs in
/// one or two samples and falls back, exactly like a spike, and there every drop is a
/// collection; a drop every few hundred samples that only undoes the sample before it is a
/// scrape that caught a transient allocation. 10 rather than 5 or 20 made no difference that
/// stood out from the others on our seeds 101-303, independent seeds 1-3 and mechanism seeds
/// 1-3 (see [`collections`] for the measurement).
const SPIKE_CYCLE_SAMPLES: f64 = 10.0;

/// Index of the sample right after each large drop (a GC collection or a release): a fall
/// between consecutive samples of more than [`DROP_SIGMAS`] robust σ of the sample-to-sample
/// differences below their median. Computed once per envelope (it is O(n)).
///
/// Not the end of a spike: where the drops lie [`SPIKE_CYCLE_SAMPLES`] or more apart, a drop
/// that comes right after a jump up of the same size and lands back within that size of the
/// sample before the jump is one high sample, not a collection. Counted as one, six spikes
/// in 2,368 samples of a linear leak (a 30 s scrape over 20 h) made six "cycles" of about
/// 400 samples, each reduced to its lowest sample, and the leak was judged on those six
/// points (our seed 303 #104: "rises 63.2 KiB/h, 2.9 % of its level: under the 3 % counted
/// as a leak", where a line through every sample grows 3.9 %). Measured (`tools/compare.py`)
/// on our seeds 101-1010, independent seeds 1-10 and mechanism seeds 1-3, and on every second
/// sample of our seed 101, independent and mechanism seed 1: end of run, memory one false
/// alarm fewer and two leaks more, resources one false alarm fewer and two leaks fewer;
/// online, memory six false alarms fewer and five leaks more, resources three false alarms
/// fewer and one leak more.
fn collections(v: &[f64]) -> Vec<usize> {
    if v.len() < 8 {
        return Vec::new();
    }
    let d: Vec<f64> = v.windows(2).map(|w| w[1] - w[0]).collect();
    let sigma = robust_sigma(&d);
    let mut tmp = d.clone();
    let med = median_in_place(&mut tmp);
    // With exactly regular differences (sigma 0), any fall below the typical step is a drop.
    let drops: Vec<usize> = d
        .iter()
        .enumerate()
        .filter(|&(_, &x)| x < med.min(0.0) - DROP_SIGMAS * sigma && x < 0.0)
        .map(|(i, _)| i + 1)
        .collect();
    let (Some(&first), Some(&last)) = (drops.first(), drops.last()) else {
        return drops;
    };
    let mut apart: Vec<f64> = drops.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
    apart.push((v.len() - last) as f64);
    if first == last || median_in_place(&mut apart) < SPIKE_CYCLE_SAMPLES {
        return drops;
    }
    let size = DROP_SIGMAS * sigma;
    let spike_end =
        |i: usize| i >= 2 && v[i - 1] - v[i - 2] > size && (v[i] - v[i - 2]).abs() <= size;
    drops.into_iter().filter(|&i| !spike_end(i)).collect()
}

/// The typical time between collections, if there are at least two.
fn sawtooth_period(t: &[f64], starts: &[usize]) -> Option<f64> {
    if starts.len() < 2 {
        return None;
    }
    Some((t[t.len() - 1] - t[0]) / starts.len() as f64)
}

/// Bin `(t, v)` into at most [`MAX_BINS`] time bins of equal width (wider when a sawtooth is
/// detected), the last bin absorbing the remainder so that no bin is a partial sliver.
pub(crate) fn lower_envelope(t: &[f64], v: &[f64]) -> Envelope {
    lower_envelopes(t, v, false).0
}

/// The fine time bins' 10th percentiles alone: never one point per collection cycle nor the
/// coarse bins, so every fall between bins stays in view. For telling restarts among the falls
/// when the chosen envelope ([`floor_envelope`]) went per cycle, where a fall is no longer a
/// point-to-point drop (see `policy::restarts`).
pub(crate) fn time_bin_envelope(t: &[f64], v: &[f64]) -> Envelope {
    let n = t.len();
    let per_bin = (n / 20).clamp(MIN_SAMPLES_PER_BIN, MAX_SAMPLES_PER_BIN);
    let period = sawtooth_period(t, &collections(v));
    envelopes_with(t, v, per_bin, period, false).0
}

/// The envelope judged (both modes): [`lower_envelope`] (10th percentile of each bin) or the
/// same bins reduced to their minimum, whichever has the less noisy point-to-point differences
/// (robust σ; the same noise criterion that picks the coarse and the per-cycle envelopes, here
/// at ratio 1 because both come from the same bins, so the number of points is the same). A GC
/// sawtooth scraped at random phases (a Go heap collected faster than it is scraped) puts
/// bounded, uniform-like noise above the floor: there the minimum of k samples is off the
/// floor by ~amplitude/(k+1), while the 10th percentile interpolates towards the second
/// smallest (0.2 of it with 3 samples, 0.7 with 8) and is markedly noisier. Under Gaussian
/// noise the 10th percentile is the less noisy one and stays.
///
/// Measured on the tuning seeds 1/7/11/21-25 (with [`MIN_SAMPLES_FOR_MINIMUM`]): end-of-run
/// memory recall 89.8 → 90.2 % at FPR 1.40 → 1.30 %, resources 93.0 → 92.7 %; fresh seeds
/// 101-707: memory 0/+3.9/−1.3/0/+2.6/0/0 points, FPR and resources unchanged on every seed.
/// The minimum everywhere gained more on the tuning seeds (91.5 %) but raised FPR to 2.4 % on
/// three fresh seeds (one-off steps under Gaussian noise stopped being 6σ jumps; a slow Node
/// climb). A ratio of 1.2 rather than 1 gained less. Online (v6) the same choice moved memory
/// recall by +1.3/−1.3/+1.3/+1.3/0/0/0/−1.3 points on the tuning seeds (FPR −0.8 to +0.8, mean
/// unchanged) and by 0/+2.6/0/+3.9/+1.3/0/+1.3 on the fresh seeds 101-707 (FPR
/// 0/+0.8/−0.8/−0.8/0/0/−0.7); the pair is computed in one pass ([`lower_envelopes`]), so it
/// costs ~5 % more CPU, not the 40 % of computing the two envelopes apart.
pub(crate) fn floor_envelope(t: &[f64], v: &[f64]) -> Envelope {
    if t.len() / 20 < MIN_SAMPLES_FOR_MINIMUM {
        return lower_envelope(t, v);
    }
    match lower_envelopes(t, v, true) {
        (q10, Some(min)) if min.y.len() == q10.y.len() && noise(&min) < noise(&q10) => min,
        (q10, _) => q10,
    }
}

/// The last [`floor_envelope`] computed, kept with the samples it came from, so that judging
/// one window twice in a row does not bin it twice: a series without restarts is enveloped
/// whole to look for them, then the same samples again as the segment to judge (at every
/// online checkpoint, about two in five envelopes were such repeats). A hit needs the same
/// samples bit for bit, so the memo can only return what [`floor_envelope`] would.
#[derive(Default)]
pub(crate) struct FloorMemo {
    last: RefCell<Option<Memoised>>,
}

/// The samples an envelope was computed from (times, values) and the envelope.
type Memoised = (Vec<f64>, Vec<f64>, Envelope);

impl FloorMemo {
    /// [`floor_envelope`] of `(t, v)`, from the memo when it holds these very samples.
    pub(crate) fn floor_envelope(&self, t: &[f64], v: &[f64]) -> Envelope {
        if let Some((mt, mv, e)) = self.last.borrow().as_ref()
            && same_bits(mt, t)
            && same_bits(mv, v)
        {
            return e.clone();
        }
        let e = floor_envelope(t, v);
        *self.last.borrow_mut() = Some((t.to_vec(), v.to_vec(), e.clone()));
        e
    }
}

/// The fine time bins of [`lower_envelopes`] (the same samples per bin, widened the same way
/// for a fast sawtooth) reduced to their 10th percentile and to their minimum, before any
/// coarser or per-cycle envelope is considered: the pair [`floor_envelope`] chooses from, and
/// the second floor `policy::judge_window_once` tests. `None` for series too short for minima
/// (see [`MIN_SAMPLES_FOR_MINIMUM`]).
pub(crate) fn fine_floors(t: &[f64], v: &[f64]) -> Option<(Envelope, Envelope)> {
    let n = t.len();
    if n / 20 < MIN_SAMPLES_FOR_MINIMUM {
        return None;
    }
    let per_bin = (n / 20).clamp(MIN_SAMPLES_PER_BIN, MAX_SAMPLES_PER_BIN);
    let period = sawtooth_period(t, &collections(v));
    match envelopes_with(t, v, per_bin, period, true) {
        (q10, Some(min)) => Some((q10, min)),
        _ => None,
    }
}

/// The window cut into `bins` time bins of equal width, each reduced to its lowest sample: a
/// coarser floor than the fine bins of [`fine_floors`], for a trend the fine floors leave short
/// of significance (see `policy::COARSE_FLOOR_BINS`). The lowest of k samples of a sawtooth
/// seen at random phases lies about amplitude/(k+1) above its floor, so k samples per point
/// beat finer bins for a trend test on uniform-like noise (for n samples, the test's z on
/// n/k such points grows like (k+1)/√k). `None` unless its bins hold more samples than the
/// fine bins do (up to ~36 samples it would be no coarser), and `None` when a bin is empty
/// (a gap in the data: no floor to follow across it).
pub(crate) fn coarse_minima(t: &[f64], v: &[f64], bins: usize) -> Option<Envelope> {
    coarse_bins(t, v, bins, |b| {
        b.iter().copied().fold(f64::INFINITY, f64::min)
    })
}

/// The same coarse bins as [`coarse_minima`], each reduced to the midpoint of its lowest and
/// highest sample (see `policy::judge_midranges`). For samples spread evenly between a floor
/// and a peak (a sawtooth seen at random phases), the lowest of k misses the floor by about
/// amplitude/(k+1) and the highest misses the peak by as much, nearly independently, so their
/// midpoint scatters about 1/√2 as much as the lowest alone; and a leak lifts the peak at least
/// as fast as the floor (Go's heap target is a multiple of the live heap).
/// `None` in the same cases as [`coarse_minima`].
pub(crate) fn coarse_midranges(t: &[f64], v: &[f64], bins: usize) -> Option<Envelope> {
    coarse_bins(t, v, bins, |b| {
        let (lo, hi) = b
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            });
        0.5 * (lo + hi)
    })
}

/// `bins` equal time bins over the window, each reduced by `reduce`: `None` unless they hold
/// more samples each than the fine bins, or when one is empty.
fn coarse_bins(
    t: &[f64],
    v: &[f64],
    bins: usize,
    reduce: impl Fn(&[f64]) -> f64,
) -> Option<Envelope> {
    let n = t.len();
    let fine_per_bin = (n / 20).clamp(MIN_SAMPLES_PER_BIN, MAX_SAMPLES_PER_BIN);
    if bins == 0 || n / bins <= fine_per_bin || t[n - 1] <= t[0] {
        return None;
    }
    let width = (t[n - 1] - t[0]) / bins as f64;
    let mut out_t = Vec::with_capacity(bins);
    let mut out_y = Vec::with_capacity(bins);
    for_each_bin(t, v, width, bins, |bt, buf| {
        out_t.push(bt);
        out_y.push(reduce(buf));
    });
    (out_y.len() == bins).then_some(Envelope {
        t: out_t,
        y: out_y,
        width,
    })
}

/// [`lower_envelope`] and, with `with_minimum`, the same bins reduced to their minimum, from
/// one pass over the samples: the collections, the bin partition and the cycle floors are
/// shared, and each bin is read once for both reductions (the online mode computes the pair at
/// every checkpoint).
fn lower_envelopes(t: &[f64], v: &[f64], with_minimum: bool) -> (Envelope, Option<Envelope>) {
    let n = t.len();
    let per_bin = (n / 20).clamp(MIN_SAMPLES_PER_BIN, MAX_SAMPLES_PER_BIN);
    let starts = collections(v);
    let period = sawtooth_period(t, &starts);
    let (fine_q, fine_m) = envelopes_with(t, v, per_bin, period, with_minimum);
    // A coarser alternative (4× the samples per bin) wins when its floor is much less noisy:
    // for a slope s and m = n/k bins of noise σ_k, Mann-Kendall's z grows like
    // s·k·sqrt(n/k)/σ_k, so the figure of merit is sqrt(k)/σ_k. The choice looks only at
    // noise (differences around their median), never at the trend, so it does not inflate the
    // false-alarm rate. Aliased GC sawtooth (a bin's minimum over random phases) gains most.
    let cycle = cycle_envelope(t, v, &starts).map(|c| {
        let m = merit(&c, n);
        (c, m)
    });
    let with_cycle = |fine: Envelope| match &cycle {
        Some((c, m)) if *m > CYCLE_MERIT * merit(&fine, n) => c.clone(),
        _ => fine,
    };
    let fine_q = with_cycle(fine_q);
    let fine_m = fine_m.map(with_cycle);
    let coarse_k = COARSE_FACTOR * per_bin;
    if n / coarse_k < COARSE_MIN_BINS {
        return (fine_q, fine_m);
    }
    let (coarse_q, coarse_m) = envelopes_with(t, v, coarse_k, period, with_minimum);
    let pick = |fine: Envelope, coarse: Envelope| {
        if fine.y.len() < COARSE_MIN_BINS {
            return fine;
        }
        let (nf, nc) = (noise(&fine), noise(&coarse));
        if nc > 0.0
            && (coarse_k as f64).sqrt() / nc
                > 1.2 * (per_bin as f64).sqrt() / nf.max(f64::MIN_POSITIVE)
        {
            coarse
        } else {
            fine
        }
    };
    let q = pick(fine_q, coarse_q);
    let m = match (fine_m, coarse_m) {
        (Some(f), Some(c)) => Some(pick(f, c)),
        (f, _) => f,
    };
    (q, m)
}

/// Robust σ of an envelope's point-to-point differences: its noise, for the choice between
/// envelopes.
fn noise(e: &Envelope) -> f64 {
    let d: Vec<f64> = e.y.windows(2).map(|w| w[1] - w[0]).collect();
    robust_sigma(&d)
}

/// Figure of merit of an envelope for a trend test: sqrt(samples per point) / noise of its
/// point-to-point differences (see [`lower_envelope`]); 0 when the envelope is noiseless or
/// has too few points to judge.
fn merit(e: &Envelope, n: usize) -> f64 {
    if e.y.len() < MIN_CYCLE_POINTS {
        return 0.0;
    }
    let d: Vec<f64> = e.y.windows(2).map(|w| w[1] - w[0]).collect();
    let s = robust_sigma(&d);
    if s > 0.0 {
        (n as f64 / e.y.len() as f64).sqrt() / s
    } else {
        f64::INFINITY
    }
}

/// The cycle envelope must be clearly better (20 %, as for the coarse envelope) to replace
/// the time bins: both are estimated from the same few differences.
const CYCLE_MERIT: f64 = 1.2;

/// A "cycle" longer than 3 typical (median) cycles is cut into pieces of about the typical
/// length, each reduced to its lowest sample. Collections come every period ±30 % (more often
/// under load), so three periods without one means the sawtooth stopped there (idle, an
/// outage) or the drops were the ends of spikes: one point for the whole stretch would hide
/// everything it held (a leak that started in it was judged on the stretch's first sample).
const LONG_CYCLE: f64 = 3.0;

/// A cycle envelope needs at least 6 post-collection floors: the fewest values a Mann-Kendall
/// test can reject at 1 % (see `policy::MIN_SAMPLES`).
const MIN_CYCLE_POINTS: usize = 6;

/// Post-collection floors, one per GC cycle: the series cut at every collection (a drop of
/// more than [`DROP_SIGMAS`] robust σ of the sample-to-sample differences), each cycle reduced
/// to its lowest sample. Time bins of a slow sawtooth (a few samples per cycle, fewer than
/// [`MIN_PERIODS`] cycles in view) alias: a bin that holds no collection sits high on the
/// climb, so its floor jumps by up to the sawtooth's amplitude from bin to bin. A cycle's
/// lowest sample is the first one after its collection, off the true floor by at most one
/// sample interval of allocation. The partial climb before the first collection is left out
/// (its lowest sample need not be a floor). `None` without [`MIN_CYCLE_POINTS`] cycles.
fn cycle_envelope(t: &[f64], v: &[f64], starts: &[usize]) -> Option<Envelope> {
    let n = t.len();
    if n < 2 * MIN_CYCLE_POINTS || starts.len() < MIN_CYCLE_POINTS {
        return None;
    }
    // Typical cycle duration: a cycle far longer than it is not one GC cycle (collections
    // stopped, or the drops were spikes ending rather than collections) and is split below.
    let durations: Vec<f64> = starts
        .iter()
        .enumerate()
        .map(|(k, &a)| t[starts.get(k + 1).copied().unwrap_or(n) - 1] - t[a])
        .collect();
    let typical = median_in_place(&mut durations.clone());
    let pieces_of = |len: f64| {
        if typical > 0.0 && len > LONG_CYCLE * typical {
            (len / typical).ceil() as usize
        } else {
            1
        }
    };
    // Split that finely, the floors would be more points than time bins give (the tests are
    // O(points²)): the time bins serve such a series.
    if durations.iter().map(|&d| pieces_of(d)).sum::<usize>() > MAX_BINS.max(starts.len()) {
        return None;
    }
    let mut out_t = Vec::with_capacity(starts.len());
    let mut out_y = Vec::with_capacity(starts.len());
    for (k, &a) in starts.iter().enumerate() {
        let b = starts.get(k + 1).copied().unwrap_or(n);
        let len = t[b - 1] - t[a];
        let pieces = pieces_of(len);
        let mut from = a;
        for p in 1..=pieces {
            let to = if p == pieces {
                b
            } else {
                let cut = t[a] + len * p as f64 / pieces as f64;
                from + t[from..b].partition_point(|&x| x < cut)
            };
            if to > from {
                let (i, &y) = v[from..to]
                    .iter()
                    .enumerate()
                    .min_by(|x, y| x.1.total_cmp(y.1))
                    .expect("a non-empty piece has a minimum");
                out_t.push(t[from + i]);
                out_y.push(y);
            }
            from = to;
        }
    }
    let width = (t[n - 1] - t[starts[0]]) / out_y.len() as f64;
    Some(Envelope {
        t: out_t,
        y: out_y,
        width,
    })
}

/// The coarse alternative envelope uses 4× the samples per bin.
const COARSE_FACTOR: usize = 4;

/// It must still have at least 20 bins, so the recent-half test keeps 10.
const COARSE_MIN_BINS: usize = 20;

/// Cut `(t, v)` into `bins` time bins of `width` seconds from `t[0]` (the last one absorbing
/// the remainder) and hand each non-empty bin to `f` as its mean time and its values (in time
/// order; `f` may reorder them). An empty bin (a gap in the data) is skipped rather than
/// given an invented value.
fn for_each_bin(
    t: &[f64],
    v: &[f64],
    width: f64,
    bins: usize,
    mut f: impl FnMut(f64, &mut Vec<f64>),
) {
    let n = t.len();
    let mut buf: Vec<f64> = Vec::new();
    let mut i = 0;
    for b in 0..bins {
        let end = if b + 1 == bins {
            f64::INFINITY
        } else {
            t[0] + (b + 1) as f64 * width
        };
        buf.clear();
        let mut tsum = 0.0;
        while i < n && t[i] < end {
            buf.push(v[i]);
            tsum += t[i];
            i += 1;
        }
        if !buf.is_empty() {
            f(tsum / buf.len() as f64, &mut buf);
        }
    }
}

/// Envelope with about `per_bin` samples per bin, each reduced to its
/// [`LOWER_QUANTILE`] and, with `with_minimum`, also to its minimum (see [`lower_envelope`]).
fn envelopes_with(
    t: &[f64],
    v: &[f64],
    per_bin: usize,
    period: Option<f64>,
    with_minimum: bool,
) -> (Envelope, Option<Envelope>) {
    let n = t.len();
    let span = if n >= 2 { t[n - 1] - t[0] } else { 0.0 };
    if n < 2 || span <= 0.0 {
        let e = Envelope {
            t: t.to_vec(),
            y: v.to_vec(),
            width: 0.0,
        };
        return (e.clone(), with_minimum.then_some(e));
    }
    let target = (n / per_bin).clamp(1, MAX_BINS);
    let mut width = span / target as f64;
    if let Some(p) = period {
        let wide = PERIODS_PER_BIN * p;
        // Only widen for a fast sawtooth (at least MIN_PERIODS cycles in view); slower cycles are
        // structure (restarts, old-generation collections) that later stages must see.
        if wide > width && span / p >= MIN_PERIODS {
            width = wide.min(span / MIN_BINS.min(target) as f64);
        }
    }
    // `span / (span / target)` is a hair under `target` about one time in twenty in floating
    // point: counting bins with `floor` alone then made one bin fewer, the last one twice as
    // wide, depending on rounding (a series and the same series on a clock moved by a constant
    // gave different envelopes).
    let bins = ((span / width * (1.0 + BIN_COUNT_SLACK)).floor() as usize).max(1);
    let mut out_t = Vec::with_capacity(bins);
    let mut out_y = Vec::with_capacity(bins);
    let mut out_min = Vec::with_capacity(if with_minimum { bins } else { 0 });
    for_each_bin(t, v, width, bins, |bt, buf| {
        out_t.push(bt);
        if with_minimum {
            out_min.push(buf.iter().copied().fold(f64::INFINITY, f64::min));
        }
        out_y.push(quantile_in_place(buf, LOWER_QUANTILE));
    });
    let minima = with_minimum.then(|| Envelope {
        t: out_t.clone(),
        y: out_min,
        width,
    });
    (
        Envelope {
            t: out_t,
            y: out_y,
            width,
        },
        minima,
    )
}

/// The lower convex hull of the points `(t, y)` (`t` increasing), evaluated at every `t`: the
/// highest convex curve on or under every point (Andrew's monotone chain, lower half).
pub(crate) fn lower_hull(t: &[f64], y: &[f64]) -> Vec<f64> {
    let mut h: Vec<usize> = Vec::new();
    for k in 0..t.len() {
        while h.len() >= 2 {
            let (a, b) = (h[h.len() - 2], h[h.len() - 1]);
            // Drop b when it lies on or above the chord from a to k.
            let cross = (t[b] - t[a]) * (y[k] - y[a]) - (y[b] - y[a]) * (t[k] - t[a]);
            if cross <= 0.0 {
                h.pop();
            } else {
                break;
            }
        }
        h.push(k);
    }
    let mut out = Vec::with_capacity(t.len());
    for w in h.windows(2) {
        let (a, b) = (w[0], w[1]);
        for k in a..b {
            let f = if t[b] > t[a] {
                (t[k] - t[a]) / (t[b] - t[a])
            } else {
                0.0
            };
            out.push(y[a] + f * (y[b] - y[a]));
        }
    }
    if let Some(&last) = h.last() {
        out.push(y[last]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_hull_runs_under_every_point_through_the_troughs() {
        let t: Vec<f64> = (0..9).map(f64::from).collect();
        // Humps over a floor rising from 1 to 3: the hull joins the troughs.
        let y = [1.0, 5.0, 6.0, 2.0, 7.0, 8.0, 3.0, 9.0, 5.0];
        let h = lower_hull(&t, &y);
        assert_eq!(h.len(), y.len());
        for (a, b) in h.iter().zip(&y) {
            assert!(a <= b, "hull {a} above point {b}");
        }
        assert_eq!([h[0], h[3], h[6]], [1.0, 2.0, 3.0]);
        assert_eq!(h[8], 5.0);
        // Convex: slopes never decrease.
        let s: Vec<f64> = h.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(s.windows(2).all(|w| w[1] >= w[0] - 1e-12), "{s:?}");
    }

    #[test]
    fn sawtooth_envelope_is_flat() {
        // Period 20 samples, amplitude 50, no leak: every bin must sit near the floor (100).
        let t: Vec<f64> = (0..2000).map(f64::from).collect();
        let v: Vec<f64> = t
            .iter()
            .map(|x| 100.0 + 50.0 * ((x % 20.0) / 20.0))
            .collect();
        let e = lower_envelope(&t, &v);
        assert!(e.y.len() >= MIN_BINS);
        assert!(e.y.iter().all(|&y| y < 110.0), "{:?}", e.y);
    }

    #[test]
    fn a_long_stretch_without_collections_is_not_one_cycle_floor() {
        // A sawtooth collected every 20 samples for 600 samples, then no collection while the
        // floor rises by 20 % (a leak starting as the collections stop): one point for that
        // stretch would be its first sample, and the rise would vanish.
        let t: Vec<f64> = (0..1000).map(f64::from).collect();
        let v: Vec<f64> = t
            .iter()
            .map(|&x| {
                if x < 600.0 {
                    100.0 + 2.5 * (x % 20.0)
                } else {
                    100.0 + 20.0 * (x - 600.0) / 400.0
                }
            })
            .collect();
        let starts: Vec<usize> = (1..30).map(|k| 20 * k).collect();
        let e = cycle_envelope(&t, &v, &starts).expect("29 cycles");
        assert!(e.y.len() > 40, "{}", e.y.len());
        assert!(e.y[e.y.len() - 1] > 115.0, "{:?}", &e.y[e.y.len() - 5..]);
    }

    #[test]
    fn the_end_of_a_spike_is_no_collection() {
        // A linear rise of 4.5 % in white noise (±0.5 % of the level) over 2,400 samples, and
        // six single samples 4 % high (a scrape that caught a transient allocation): none of
        // the falls back is a collection, and the floor keeps its time bins rather than six
        // "cycle floors".
        let n = 2400;
        let t: Vec<f64> = (0..n).map(|i| i as f64 * 30.0).collect();
        let u = uniform(n, 11);
        let mut v: Vec<f64> = (0..n)
            .map(|i| 36e6 * (1.0 + 0.045 * i as f64 / n as f64 + 0.01 * (u[i] - 0.5)))
            .collect();
        for k in [150, 520, 900, 1300, 1750, 2100] {
            v[k] *= 1.04;
        }
        assert_eq!(collections(&v), Vec::<usize>::new());
        let e = floor_envelope(&t, &v);
        assert!(e.y.len() >= 20, "{} points", e.y.len());
    }

    #[test]
    fn a_collector_caught_high_once_per_cycle_keeps_every_collection() {
        // Up in one sample, down at the next, every fifth sample: each looks like a spike, but
        // drops five samples apart are a collector that the scrapes catch high once per cycle.
        let u = uniform(300, 5);
        let v: Vec<f64> = (0..300)
            .map(|i| 100.0 + if i % 5 == 4 { 20.0 } else { 0.0 } + 0.5 * u[i])
            .collect();
        assert_eq!(collections(&v).len(), 59);
    }

    #[test]
    fn the_memo_returns_what_floor_envelope_computes() {
        let t: Vec<f64> = (0..400).map(|i| i as f64 * 15.0).collect();
        let saw: Vec<f64> = uniform(400, 7).iter().map(|u| 1e9 + 3e8 * u).collect();
        let rising: Vec<f64> = saw.iter().zip(&t).map(|(v, x)| v + 1e5 * x).collect();
        let memo = FloorMemo::default();
        for v in [&saw, &saw, &rising, &saw, &rising, &rising] {
            let want = floor_envelope(&t, v);
            let got = memo.floor_envelope(&t, v);
            assert_eq!((got.t, got.y, got.width), (want.t, want.y, want.width));
        }
        // A prefix of the memoised samples is a different window.
        let got = memo.floor_envelope(&t[..200], &rising[..200]);
        assert_eq!(got.y, floor_envelope(&t[..200], &rising[..200]).y);
    }

    /// Deterministic uniform numbers in [0, 1) (xorshift64), for synthetic noise.
    fn uniform(n: usize, mut x: u64) -> Vec<f64> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect()
    }

    #[test]
    fn random_phase_sawtooth_takes_bin_minima_symmetric_noise_does_not() {
        // A Go-like heap up to 3x its floor, scraped at random phases: bounded noise above the
        // floor, where the bin minima are the quieter floor.
        let t: Vec<f64> = (0..120).map(f64::from).collect();
        let u = uniform(120, 0x9e37_79b9_7f4a_7c15);
        let v: Vec<f64> = u.iter().map(|p| 100.0 * (1.0 + 2.0 * p)).collect();
        let e = floor_envelope(&t, &v);
        let q = lower_envelope(&t, &v);
        assert_eq!(e.y.len(), q.y.len());
        assert!(e.y.iter().zip(&q.y).all(|(a, b)| a <= b));
        assert!(e.y.iter().zip(&q.y).any(|(a, b)| a < b), "{:?}", e.y);
        // Symmetric, bell-shaped noise (a sum of six uniforms): the 10th percentile stays.
        let u = uniform(6 * 120, 0x2545_f491_4f6c_dd1d);
        let v: Vec<f64> = u
            .chunks(6)
            .map(|c| 100.0 + c.iter().sum::<f64>() - 3.0)
            .collect();
        let e = floor_envelope(&t, &v);
        let q = lower_envelope(&t, &v);
        assert_eq!(e.y, q.y);
    }

    #[test]
    fn coarse_minima_sit_closer_to_a_random_phase_sawtooths_floor() {
        // A heap swinging up to twice its floor, scraped at random phases, on a floor rising
        // from 100 to 110 over 240 samples: the fine bins hold 8 samples and the coarse ones 20.
        let t: Vec<f64> = (0..240).map(f64::from).collect();
        let n = t.len();
        let floor = |x: f64| 100.0 + 10.0 * x / 240.0;
        let u = uniform(n, 0x1234_5678_9abc_def1);
        let v: Vec<f64> = t
            .iter()
            .zip(&u)
            .map(|(&x, p)| floor(x) * (1.0 + p))
            .collect();
        let c = coarse_minima(&t, &v, 12).expect("20 samples a bin");
        assert_eq!(c.y.len(), 12);
        // Each point is the lowest sample of its twelfth.
        for (k, &y) in c.y.iter().enumerate() {
            let bin = &v[20 * k..20 * (k + 1)];
            assert_eq!(y, bin.iter().copied().fold(f64::INFINITY, f64::min));
        }
        // Closer to the floor on average than the fine bins' minima.
        let above = |e: &Envelope| {
            e.y.iter()
                .zip(&e.t)
                .map(|(y, x)| y - floor(*x))
                .sum::<f64>()
                / e.y.len() as f64
        };
        let (_, fine) = fine_floors(&t, &v).expect("240 samples");
        assert!(
            above(&c) < above(&fine),
            "{} vs {}",
            above(&c),
            above(&fine)
        );
    }

    #[test]
    fn coarse_midranges_scatter_less_than_coarse_minima_on_a_random_phase_sawtooth() {
        // A flat heap swinging up to twice its floor of 100, scraped at random phases, 20
        // samples a coarse bin: over 50 such series the midpoints of each bin's lowest and
        // highest sample scatter about 0.8 as much as the lowest alone (1/√2 in the limit of
        // many samples a bin).
        let t: Vec<f64> = (0..240).map(f64::from).collect();
        let sd = |y: &[f64]| {
            let m = y.iter().sum::<f64>() / y.len() as f64;
            (y.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (y.len() - 1) as f64).sqrt()
        };
        let (mut sd_min, mut sd_mid) = (0.0, 0.0);
        for seed in 0..50u64 {
            let u = uniform(t.len(), 0x9e37_79b9_7f4a_7c15 ^ seed);
            let v: Vec<f64> = u.iter().map(|p| 100.0 * (1.0 + p)).collect();
            let lo = coarse_minima(&t, &v, 12).expect("20 samples a bin");
            let mid = coarse_midranges(&t, &v, 12).expect("20 samples a bin");
            for (k, &y) in mid.y.iter().enumerate() {
                let bin = &v[20 * k..20 * (k + 1)];
                let hi = bin.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                assert_eq!(y, 0.5 * (lo.y[k] + hi));
            }
            sd_min += sd(&lo.y);
            sd_mid += sd(&mid.y);
        }
        let ratio = sd_mid / sd_min;
        assert!((0.55..0.85).contains(&ratio), "{ratio}");
    }

    #[test]
    fn coarse_minima_need_coarser_bins_and_no_empty_one() {
        // 36 samples: three a bin, no coarser than the fine bins.
        let t: Vec<f64> = (0..36).map(f64::from).collect();
        assert!(coarse_minima(&t, &vec![1.0; 36], 12).is_none());
        // A gap over a third of the window leaves bins empty: no coarse floor across it.
        let mut t: Vec<f64> = (0..100).map(f64::from).collect();
        t.extend((200..300).map(f64::from));
        assert!(coarse_minima(&t, &vec![1.0; t.len()], 12).is_none());
        let t: Vec<f64> = (0..100).map(f64::from).collect();
        assert!(coarse_minima(&t, &vec![1.0; 100], 12).is_some());
    }

    #[test]
    fn gaps_leave_no_empty_bins() {
        let mut t: Vec<f64> = (0..100).map(f64::from).collect();
        t.extend((300..400).map(f64::from));
        let v = vec![1.0; t.len()];
        let e = lower_envelope(&t, &v);
        assert!(e.y.iter().all(|&y| y == 1.0));
        assert!(e.t.windows(2).all(|w| w[1] > w[0]));
    }
}
