//! Memory that follows load, estimated and taken out before the leak test.
//!
//! Under HTTP load a service holds memory for the work in flight (request buffers, garbage
//! waiting for the next collection, pooled connections): it rises with the request rate and
//! falls back when the rate does. A rise of the floor during a load ramp, the busy half of a
//! daily cycle or a burst is that memory, not a leak, and without the load it looks like one.
//! Given the load as a cumulative request counter sampled on the series' clock (the load
//! driver's total, or `http_requests_total`), this module fits
//!
//! ```text
//! value = a + b · rate + c · x        x = time, or x = requests served so far
//! ```
//!
//! by least squares on the raw samples, where `rate` is the mean request rate over the interval
//! before each sample (requests counted between two samples over the time between them, so the
//! fit at a sample uses no later load). `b` is the memory held per request per second of load,
//! `c · x` the slow part: a leak growing with time or with requests served, whichever of the
//! two fits better. The series then has `b · (rate − rate_ref)` taken out (`rate_ref` = the
//! [`REF_QUANTILE`] of the rates: the quiet level), and the usual detector judges what is left.
//! The leak term is fitted but not removed: deciding whether it is a leak stays with the
//! detector (warm-ups, restarts, saturation...).
//!
//! A load that still climbs (a ramp, the busy half of a daily cycle) is nearly proportional
//! to time, and memory held for it cannot be told from a leak: the fit says so
//! ([`LoadFit::Confounded`], or an adjustment whose load still climbed) and the caller does not
//! call a leak until the load has levelled off or fallen.
//!
//! The adjustment is made only when the load explains memory clearly: `b > 0` and its estimate
//! at least [`MIN_Z`] standard errors from zero after correcting the standard error for the
//! residuals' lag-1 autocorrelation (a garbage-collected series' residuals are far from
//! independent). With constant load the rate does not vary, `b` cannot be told from the
//! intercept, and the series is judged as it is.
//!
//! Not here: cumulative retained bytes per request at the end of a run (see `covariate`), the
//! verdict (see `policy`).

use std::cell::RefCell;

use leakhound_core::Series;

use crate::util::{quantile_in_place, same_bits};

/// Standard errors from zero the load coefficient must be before the load-following part is
/// removed. A conservative bound (rather than the 1.96 of a 5 % test) because the
/// autocorrelation correction below is a lag-1 approximation and a spurious adjustment could
/// hide a leak behind an unrelated load pattern.
pub(crate) const MIN_Z: f64 = 3.0;

/// Fewest samples with a known rate before a fit is tried: three coefficients and their
/// standard errors need a dozen points. Under the detector's 18 samples less the first and the
/// last (which have no rate around them), so every series long enough to be judged is fitted:
/// at 24, `run --load` at its default 1 s interval left a 24 s scenario's load in the series
/// (`examples/burst-quiet-ramp.toml`, a server that retains nothing: a leak, exit 1; a 20 s
/// ramp: a leak where the climbing load makes it inconclusive), and both are as documented at
/// 12 (no leak, 92 KiB per req/s taken out for 102 held; inconclusive). Measured with the
/// request counters of mechanism seeds 1-5 and our seeds 1/7/11/101-505 (`compare.py
/// --with-load`): one online false alarm fewer, nothing else changed.
pub(crate) const MIN_FIT_SAMPLES: usize = 12;

/// Quantile of the request rates taken as the quiet level the adjusted series is referred to:
/// low enough to sit under every burst, high enough not to be one sample's dip.
pub(crate) const REF_QUANTILE: f64 = 0.1;

/// Requests a rate window aims to hold (a Poisson count of 200 is ±7 %: regression dilution
/// under 1 % for a load that swings by half its mean).
const WINDOW_REQUESTS: f64 = 200.0;

/// Most intervals in a rate window on each side of a sample, so a load step stays sharp
/// against the bins of a short series (a 60-sample series has bins of three samples).
const WINDOW_SAMPLES: usize = 4;

/// Poisson standard deviations by which the rates before and after a sample must differ to be
/// read as a load edge between them (the usual 3σ: a false edge costs only a little noise).
const EDGE_Z: f64 = 3.0;

/// Lag-1 autocorrelation used at most in the standard error's correction: above it the
/// effective sample count would fall towards zero and the test would never adjust.
const MAX_RHO: f64 = 0.95;

/// `1 − r²` below which two regressors count as one (r ≈ 0.9995).
const MAX_R2_COMPLEMENT: f64 = 1e-3;

/// A cumulative request counter, cleaned: increasing times, non-decreasing count (a counter
/// reset, e.g. a restarted load driver, continues from the last total).
#[derive(Debug, Clone)]
pub(crate) struct LoadAxis {
    t: Vec<f64>,
    c: Vec<f64>,
    /// The last [`rates`] read against this counter, so the next checkpoint of the online mode
    /// (the same samples and a few more) reads only the new ones.
    memo: RefCell<Option<Rates>>,
}

/// The sample times [`rates`] was given and what it returned for them.
#[derive(Debug, Clone)]
struct Rates {
    t: Vec<f64>,
    rate: Vec<Option<f64>>,
    served: Vec<Option<f64>>,
}

impl LoadAxis {
    /// `None` when fewer than two usable samples remain.
    pub(crate) fn new(requests: &Series) -> Option<LoadAxis> {
        let n = requests.t.len().min(requests.v.len());
        let mut t = Vec::with_capacity(n);
        let mut c: Vec<f64> = Vec::with_capacity(n);
        let mut offset = 0.0;
        let mut last_raw = f64::NAN;
        for i in 0..n {
            let (ti, vi) = (requests.t[i], requests.v[i]);
            if !ti.is_finite() || !vi.is_finite() || t.last().is_some_and(|&l| ti <= l) {
                continue;
            }
            if vi < last_raw {
                // Counter reset: carry on from the total reached.
                offset += last_raw;
            }
            last_raw = vi;
            t.push(ti);
            c.push(vi + offset);
        }
        (t.len() >= 2).then_some(LoadAxis {
            t,
            c,
            memo: RefCell::new(None),
        })
    }

    /// Requests served by time `x` (linear between counter samples), `None` outside the
    /// counter's time range.
    pub(crate) fn at(&self, x: f64) -> Option<f64> {
        self.interpolate(self.t.partition_point(|&a| a < x), x)
    }

    /// The count at `x`, given `k`, the first counter sample at or after it.
    fn interpolate(&self, k: usize, x: f64) -> Option<f64> {
        if k < self.t.len() && self.t[k] == x {
            return Some(self.c[k]);
        }
        if k == 0 || k >= self.t.len() {
            return None;
        }
        let (t0, t1) = (self.t[k - 1], self.t[k]);
        Some(self.c[k - 1] + (x - t0) / (t1 - t0) * (self.c[k] - self.c[k - 1]))
    }

    /// [`LoadAxis::at`] at every time of `xs`, which must not decrease: one walk along the
    /// counter rather than a search per sample (the online mode reads the counter at every
    /// sample at every checkpoint).
    fn at_each(&self, xs: &[f64]) -> Vec<Option<f64>> {
        let mut k = xs
            .first()
            .map_or(0, |&x| self.t.partition_point(|&a| a < x));
        xs.iter()
            .map(|&x| {
                // The first counter sample at or after `x`, as `at`'s search finds it.
                while k < self.t.len() && self.t[k] < x {
                    k += 1;
                }
                self.interpolate(k, x)
            })
            .collect()
    }
}

/// What was taken out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Adjustment {
    /// Memory held per request per second of load (series unit per req/s).
    pub(crate) per_rate: f64,
    /// Its standard error (autocorrelation-corrected).
    pub(crate) se: f64,
    /// The quiet request rate the series is referred to.
    pub(crate) rate_ref: f64,
    /// The largest amount taken out of one sample.
    pub(crate) removed_max: f64,
    /// Whether the slow term fitted better against requests served than against time.
    pub(crate) slow_by_requests: bool,
    /// Correlation of the request rate with time, the smaller of the window's and its recent
    /// half's; 0 when the load does not climb at the end (see [`climb`]).
    pub(crate) corr: f64,
}

/// The load at each sample (`None` where the counter does not cover it, and at the first and
/// the last sample) and the requests served by it.
///
/// The counter is read at the samples' times only, so the rates between samples are all that
/// is known of the load around a sample, and a burst that starts or ends between two samples
/// shows as a partial rate on both sides of its edge. The load at sample `i` is taken as the
/// smaller of the rate over a short window before it and over a short window after it when the
/// two differ by more than counting noise (an edge lies between them), and as the two windows'
/// pooled rate otherwise (the minimum of two noisy rates would read low, and by a share that
/// changes with the rate, bending the fit): a sample taken just after a burst ended (memory already back, the window before still partly
/// busy) is not over-corrected into a dip that the lower envelope would read as a fall, and a
/// sample near a burst's start or end is under-corrected instead, which only lifts it above the
/// floor. Each window grows from one interval until it holds [`WINDOW_REQUESTS`] requests or
/// [`WINDOW_SAMPLES`] intervals: counted requests are noisy (a Poisson count of 30 is ±18 %),
/// and noise in the rate biases the fitted load share towards zero (regression dilution), which
/// would leave part of every load step in the series. The last sample has no window after it
/// and is not corrected, so no load after it is used; nor is the first, which has no window
/// before it: a sample taken as the load starts (`run --load` samples from the load's first
/// instant) holds none of the memory the load will bring, and reading the rate after it as its
/// load over-corrected it into a dip of the whole load-following amount (an "up step" of the
/// floor, then a leak, on a service that retained nothing).
fn rates(load: &LoadAxis, t: &[f64]) -> (Vec<Option<f64>>, Vec<Option<f64>>) {
    let mut memo = load.memo.borrow_mut();
    let sorted = t.is_sorted();
    // Samples the memo already read, when `t` continues its times (an online checkpoint).
    let known = match memo.as_ref() {
        Some(m) if sorted && m.t.len() <= t.len() && same_bits(&m.t, &t[..m.t.len()]) => m.t.len(),
        _ => 0,
    };
    let mut served = Vec::with_capacity(t.len());
    let mut rate = Vec::with_capacity(t.len());
    if let Some(m) = memo.as_ref().filter(|_| known > 0) {
        // A sample's rate window reaches at most `WINDOW_SAMPLES` intervals after it, and
        // stops short of the last sample: the rates of samples further than that from the
        // memo's end are what the longer series gives them too.
        served.extend_from_slice(&m.served);
        rate.extend_from_slice(&m.rate[..known.saturating_sub(WINDOW_SAMPLES + 2)]);
    }
    if sorted {
        served.extend(load.at_each(&t[known..]));
    } else {
        served.extend(t.iter().map(|&x| load.at(x)));
    }
    for i in rate.len()..t.len() {
        rate.push(rate_at(t, &served, i));
    }
    *memo = Some(Rates {
        t: t.to_vec(),
        rate: rate.clone(),
        served: served.clone(),
    });
    (rate, served)
}

/// The load at sample `i` of `t` (see [`rates`]), from the requests served by each sample.
fn rate_at(t: &[f64], served: &[Option<f64>], i: usize) -> Option<f64> {
    let n = t.len();
    let rate_between = |a: usize, b: usize| -> Option<f64> {
        let (ca, cb) = (served[a]?, served[b]?);
        let dt = t[b] - t[a];
        (dt > 0.0).then(|| (cb - ca) / dt)
    };
    let count = |a: usize, b: usize| match (served[a], served[b]) {
        (Some(ca), Some(cb)) => cb - ca,
        _ => 0.0,
    };
    if i == 0 || i + 1 >= n || served[i].is_none() {
        return None;
    }
    let mut j = i.saturating_sub(1);
    while j > 0 && i - j < WINDOW_SAMPLES && count(j, i) < WINDOW_REQUESTS {
        j -= 1;
    }
    let mut k = i + 1;
    while k + 1 < n && k - i < WINDOW_SAMPLES && count(i, k) < WINDOW_REQUESTS {
        k += 1;
    }
    let after = rate_between(i, k);
    let before = if j < i { rate_between(j, i) } else { None };
    match (before, after) {
        (Some(a), Some(b)) => {
            // Both windows pooled unless they differ by more than counting noise
            // (`EDGE_Z` Poisson standard deviations): then an edge lies between them.
            let (da, db) = (t[i] - t[j], t[k] - t[i]);
            let pooled = (a * da + b * db) / (da + db);
            let sd = (pooled.max(0.0) * (1.0 / da + 1.0 / db)).sqrt();
            Some(if (a - b).abs() > EDGE_Z * sd {
                a.min(b)
            } else {
                pooled
            })
        }
        (None, b) => b,
        (a, None) => a,
    }
}

/// A least-squares fit of `y` on `[1, p]` or `[1, p, q]`.
struct Fit {
    /// Coefficient of `p` (the request rate).
    bp: f64,
    /// Coefficient of `q` (the slow term; 0 without one).
    bq: f64,
    /// Standard errors of `bp` and `bq`, corrected for the residuals' lag-1 autocorrelation
    /// (the variance inflated by `(1 + ρ) / (1 − ρ)`, as for an AR(1) error).
    se_p: f64,
    se_q: f64,
    sse: f64,
}

/// Least squares of `y` on `[1, p, q]` (`q = None`: on `[1, p]`), or `None` when the design is
/// singular.
fn fit(p: &[f64], q: Option<&[f64]>, y: &[f64]) -> Option<Fit> {
    let n = y.len() as f64;
    let mean = |x: &[f64]| x.iter().sum::<f64>() / n;
    let (mp, my) = (mean(p), mean(y));
    let mq = q.map_or(0.0, mean);
    let qv = |i: usize| q.map_or(0.0, |q| q[i] - mq);
    let (mut spp, mut sqq, mut spq, mut spy, mut sqy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for i in 0..y.len() {
        let (a, b, c) = (p[i] - mp, qv(i), y[i] - my);
        spp += a * a;
        sqq += b * b;
        spq += a * b;
        spy += a * c;
        sqy += b * c;
    }
    let (bp, bq, inv_p, inv_q) = if q.is_some() {
        let det = spp * sqq - spq * spq;
        // The two regressors (nearly) proportional (correlation above 0.9995: a load ramp
        // over the whole window against time), or one constant: the load's part cannot be
        // told apart.
        if det.is_nan() || det <= MAX_R2_COMPLEMENT * spp * sqq || spp <= 0.0 || sqq <= 0.0 {
            return None;
        }
        (
            (spy * sqq - sqy * spq) / det,
            (sqy * spp - spy * spq) / det,
            sqq / det,
            spp / det,
        )
    } else {
        if spp <= 0.0 {
            return None;
        }
        (spy / spp, 0.0, 1.0 / spp, 0.0)
    };
    // The residuals' sum of squares and lag-1 products in one pass (the same sums, in the same
    // order, as summing a vector of them).
    let (mut sse, mut lag_sum, mut prev) = (0.0, 0.0, None::<f64>);
    for i in 0..y.len() {
        let r = (y[i] - my) - bp * (p[i] - mp) - bq * qv(i);
        sse += r * r;
        if let Some(pr) = prev {
            lag_sum += pr * r;
        }
        prev = Some(r);
    }
    let dof = n - if q.is_some() { 3.0 } else { 2.0 };
    let rho = lag1(y.len(), sse, lag_sum);
    let var = sse / dof * (1.0 + rho) / (1.0 - rho);
    Some(Fit {
        bp,
        bq,
        se_p: (var * inv_p).sqrt(),
        se_q: (var * inv_q).sqrt(),
        sse,
    })
}

/// Lag-1 autocorrelation of `n` residuals, from their sum of squares `den` and sum of lag-1
/// products `num`, clamped to `[0, MAX_RHO]`.
fn lag1(n: usize, den: f64, num: f64) -> f64 {
    if n < 3 || den <= 0.0 {
        return 0.0;
    }
    (num / den).clamp(0.0, MAX_RHO)
}

/// What the load says about a series.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LoadFit {
    /// The load-following part is taken out: the adjusted series and what was removed.
    Removed(Vec<f64>, Adjustment),
    /// The load alone explains the series, but it still climbs, so memory held for the load
    /// cannot be told from a slow rise (see [`CONFOUNDED_CORR`]).
    Confounded(Confounding),
    /// The load does not clearly explain the series (or too few samples): judged as it is.
    Unrelated,
}

/// A load that still climbs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Confounding {
    /// Memory per req/s of load, fitted on the load alone (series unit per req/s).
    pub(crate) per_rate: f64,
    /// Correlation of the request rate with time, the smaller of the window's and its recent
    /// half's (see [`climb`]).
    pub(crate) corr: f64,
}

/// Correlation of the request rate with time, over the whole window and over its recent half
/// ([`CLIMB_SHARE`]), from which a load that explains the series is taken to have climbed with
/// it and to be still climbing (a ramp, the busy half of a daily cycle, stairs going up): a
/// slow rise of the series is then as well read as memory held for the load as a leak, and
/// nothing tells the two apart until the load stops climbing. Below it, the load's ups and
/// downs against time separate the two terms (bursts, cycles seen whole, a ramp that has held
/// since, a burst and a quiet spell before a ramp), and a significant slow term is judged as
/// usual. A ramp over the first third of the recent half, held for the rest, correlates 0.78;
/// `run`'s burst, quiet spell and ramp back up (`examples/burst-quiet-ramp.toml`) 0.31 over
/// the window. Requiring the whole window too (at 0.5, 0.7 or 0.8) removed no false alarm
/// less on our seeds.
pub(crate) const CONFOUNDED_CORR: f64 = 0.8;

/// A load climbs when the line fitted to its rate over the recent half rises by at least this
/// share of its mean there: a steady load's counting noise, which drifted up by chance over a
/// warm-up's first minutes and correlated 0.8 with time (seed 1111 #153, whose alarm it held
/// back before this floor), is no climbing load.
const MIN_LOAD_RISE: f64 = 0.1;

/// Share of the window, at its end, over which the load must still climb: the recent half,
/// which decides whether a rise has levelled off. Measured with the load counters
/// (`score --with-load`, online false alarms fewer on seeds 101-1010 / on 1/7/11/1111-1313,
/// no leak lost in any): the recent half 27 / 9 (a rise floor of 0.02 or 0.05: 28 / 9); the
/// last third 17 / 6; the whole window 31 / 10, but a leak under a ramp that then held for
/// the last third of the window, which the steady third shows, was held back too (test
/// `memory_that_follows_a_load_ramp_is_no_leak_with_the_load`).
const CLIMB_SHARE: f64 = 0.5;

/// The load-following part of `v` (sampled at `t`) taken out, or why not (see the module doc
/// and [`LoadFit`]). Uses no load after `t`'s last sample.
pub(crate) fn remove(load: &LoadAxis, t: &[f64], v: &[f64]) -> LoadFit {
    match fit_load(load, t, v) {
        Ok((adjusted, adj)) => LoadFit::Removed(adjusted, adj),
        Err(Some(c)) => LoadFit::Confounded(c),
        Err(None) => LoadFit::Unrelated,
    }
}

/// [`remove`]'s work: `Err(Some(_))` for a confounded load, `Err(None)` for an unrelated one.
fn fit_load(
    load: &LoadAxis,
    t: &[f64],
    v: &[f64],
) -> Result<(Vec<f64>, Adjustment), Option<Confounding>> {
    let (rate, served) = rates(load, t);
    let idx: Vec<usize> = (0..t.len())
        .filter(|&i| rate[i].is_some() && served[i].is_some())
        .collect();
    if idx.len() < MIN_FIT_SAMPLES {
        return Err(None);
    }
    let r: Vec<f64> = idx.iter().map(|&i| rate[i].unwrap_or(0.0)).collect();
    let y: Vec<f64> = idx.iter().map(|&i| v[i]).collect();
    let tt: Vec<f64> = idx.iter().map(|&i| t[i]).collect();
    let ss: Vec<f64> = idx.iter().map(|&i| served[i].unwrap_or(0.0)).collect();
    // Both readings of the slow part must be possible and both must find the load's share
    // clearly: a load ramp that spans the window is as much a leak with time as memory held per
    // req/s, and then nothing is taken out.
    let significant = |b: f64, se: f64| b > 0.0 && se.is_finite() && b >= MIN_Z * se;
    let load_only = fit(&r, None, &y).ok_or(None)?;
    // When the two terms cannot be told apart, a load that explains the series on its own and
    // still climbs leaves the question open (see `CONFOUNDED_CORR`).
    let confounded = || {
        let corr = climb(&r, &tt);
        (significant(load_only.bp, load_only.se_p) && corr >= CONFOUNDED_CORR).then_some(
            Confounding {
                per_rate: load_only.bp,
                corr,
            },
        )
    };
    let (Some(by_time), Some(by_requests)) = (fit(&r, Some(&tt), &y), fit(&r, Some(&ss), &y))
    else {
        return Err(confounded());
    };
    if !(significant(by_time.bp, by_time.se_p) && significant(by_requests.bp, by_requests.se_p)) {
        return Err(confounded());
    }
    let slow_by_requests = by_requests.sse < by_time.sse;
    let slow = if slow_by_requests {
        &by_requests
    } else {
        &by_time
    };
    // A load that rose over the window (stairs going up, the busy half of a cycle) is partly
    // collinear with the slow term, which then takes a share of the memory that follows it and
    // leaves the rest as a rise. When the slow term is not clearly there, the load alone
    // explains the series and its coefficient is the one used.
    let slow_needed = slow.bq.abs() >= MIN_Z * slow.se_q;
    let (b, se) = if !slow_needed && significant(load_only.bp, load_only.se_p) {
        (load_only.bp, load_only.se_p)
    } else {
        (slow.bp, slow.se_p)
    };
    let mut sorted = r.clone();
    let rate_ref = quantile_in_place(&mut sorted, REF_QUANTILE);
    let mut out = v.to_vec();
    let mut removed_max = 0.0_f64;
    for (i, o) in out.iter_mut().enumerate() {
        if let Some(ri) = rate[i] {
            let d = b * (ri - rate_ref);
            *o -= d;
            removed_max = removed_max.max(d);
        }
    }
    Ok((
        out,
        Adjustment {
            per_rate: b,
            se,
            rate_ref,
            removed_max,
            slow_by_requests,
            corr: climb(&r, &tt),
        },
    ))
}

/// Whether the load climbed with time and still climbs: the smaller of the correlations with
/// time of the request rate `r` (times `t`) over the window and over its last
/// [`CLIMB_SHARE`], when its fitted line there rises by at least [`MIN_LOAD_RISE`] of its mean
/// there; 0 otherwise (a steady load whose counting noise drifts a little is no climbing load,
/// nor one that has levelled off).
fn climb(r: &[f64], t: &[f64]) -> f64 {
    let n = r.len().min(t.len());
    if n < 2 {
        return 0.0;
    }
    let whole = correlation(&r[..n], &t[..n]);
    let from = t[n - 1] - CLIMB_SHARE * (t[n - 1] - t[0]);
    let k = t[..n].partition_point(|&x| x < from);
    let (r, t) = (&r[k..n], &t[k..n]);
    let m = r.len();
    if m < 3 {
        return 0.0;
    }
    let mr = r.iter().sum::<f64>() / m as f64;
    let mt = t.iter().sum::<f64>() / m as f64;
    let (mut srt, mut stt) = (0.0, 0.0);
    for i in 0..m {
        srt += (r[i] - mr) * (t[i] - mt);
        stt += (t[i] - mt) * (t[i] - mt);
    }
    if stt <= 0.0 || mr <= 0.0 {
        return 0.0;
    }
    let rise = srt / stt * (t[m - 1] - t[0]) / mr;
    if rise < MIN_LOAD_RISE {
        return 0.0;
    }
    correlation(r, t).min(whole)
}

/// Pearson correlation of `a` and `b` (0 when either is constant).
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return 0.0;
    }
    let ma = a[..n].iter().sum::<f64>() / n as f64;
    let mb = b[..n].iter().sum::<f64>() / n as f64;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (x, y) = (a[i] - ma, b[i] - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    if saa <= 0.0 || sbb <= 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakhound_core::Unit;

    fn counter(t: &[f64], rate: impl Fn(f64) -> f64) -> Series {
        // Requests served by each time: the rate integrated with a fine step.
        let mut c = Vec::with_capacity(t.len());
        let mut total = 0.0;
        let mut last = 0.0;
        for &x in t {
            let steps = 20;
            let h = (x - last) / steps as f64;
            for k in 0..steps {
                total += rate(last + (k as f64 + 0.5) * h) * h;
            }
            last = x;
            c.push(total);
        }
        Series::from_parts("requests", Unit::Count, t.to_vec(), c)
    }

    #[test]
    fn counter_resets_continue_from_the_total() {
        let s = Series::from_parts(
            "r",
            Unit::Count,
            vec![0.0, 1.0, 2.0, 3.0],
            vec![0.0, 10.0, 2.0, 5.0],
        );
        let l = LoadAxis::new(&s).expect("four samples");
        assert_eq!(l.at(3.0), Some(15.0));
        assert_eq!(l.at(0.5), Some(5.0));
        assert_eq!(l.at(4.0), None);
    }

    #[test]
    fn reading_the_counter_in_one_walk_matches_reading_it_per_sample() {
        // Counter samples on a jittered clock, read at times before, between, on and after them.
        let ct: Vec<f64> = (0..50).map(|i| i as f64 * 10.0 + (i % 3) as f64).collect();
        let cv: Vec<f64> = (0..50).map(|i| (i * i) as f64).collect();
        let l = LoadAxis::new(&Series::from_parts("r", Unit::Count, ct.clone(), cv))
            .expect("a counter");
        let mut xs: Vec<f64> = (0..130).map(|i| i as f64 * 4.0 - 7.0).collect();
        xs.extend_from_slice(&ct);
        xs.push(ct[10]);
        xs.sort_by(f64::total_cmp);
        let one_by_one: Vec<Option<f64>> = xs.iter().map(|&x| l.at(x)).collect();
        assert_eq!(l.at_each(&xs), one_by_one);
        assert!(one_by_one.iter().any(Option::is_none) && one_by_one.iter().any(Option::is_some));
    }

    #[test]
    fn rates_read_from_the_memo_match_rates_read_afresh() {
        // Samples on a jittered clock with a gap, bursts of load between them; read as an
        // online run reads them (growing prefixes, the same one twice, then a shorter one and
        // the whole), each against a counter whose memo was used before and a fresh one.
        let t: Vec<f64> = (0..400)
            .map(|i| {
                i as f64 * 2.0 + ((i * 37) % 7) as f64 * 0.1 + if i > 250 { 90.0 } else { 0.0 }
            })
            .collect();
        let rate = |x: f64| if (x % 120.0) < 25.0 { 350.0 } else { 20.0 };
        let ctr = counter(&t, rate);
        let used = LoadAxis::new(&ctr).expect("counter");
        let bits = |r: &(Vec<Option<f64>>, Vec<Option<f64>>)| -> Vec<Option<u64>> {
            r.0.iter()
                .chain(&r.1)
                .map(|x| x.map(f64::to_bits))
                .collect()
        };
        for m in [30, 31, 37, 60, 60, 61, 200, 252, 253, 300, 120, 399, 400] {
            let fresh = LoadAxis::new(&ctr).expect("counter");
            let (a, b) = (rates(&used, &t[..m]), rates(&fresh, &t[..m]));
            assert_eq!(bits(&a), bits(&b), "prefix of {m} samples");
            assert!(a.0.iter().filter(|r| r.is_some()).count() >= m - 2);
        }
    }

    #[test]
    fn memory_that_tracks_a_load_ramp_is_taken_out() {
        let t: Vec<f64> = (0..600).map(|i| i as f64 * 5.0).collect();
        // Quiet for the first third, a ramp over the second, busy for the last.
        let rate = |x: f64| 100.0 + 300.0 * ((x - 1000.0) / 1000.0).clamp(0.0, 1.0);
        let load = LoadAxis::new(&counter(&t, rate)).expect("counter");
        // 1 MB per req/s, plus deterministic ripple.
        let v: Vec<f64> = t
            .iter()
            .map(|&x| 5e8 + 1e6 * rate(x) + 2e6 * ((x / 37.0).sin()))
            .collect();
        let LoadFit::Removed(adj, a) = remove(&load, &t, &v) else {
            panic!("the load explains the rise");
        };
        assert!((a.per_rate - 1e6).abs() < 0.05e6, "{a:?}");
        // (The last sample is not corrected: no load after it is known.)
        let rise = adj[adj.len() - 2] - adj[0];
        assert!(rise.abs() < 1e7, "adjusted rise {rise}");
    }

    #[test]
    fn a_ramp_over_the_whole_window_cannot_be_told_from_time() {
        let t: Vec<f64> = (0..600).map(|i| i as f64 * 5.0).collect();
        let rate = |x: f64| 100.0 + 300.0 * (x / 3000.0);
        let load = LoadAxis::new(&counter(&t, rate)).expect("counter");
        let v: Vec<f64> = t.iter().map(|&x| 5e8 + 1e6 * rate(x)).collect();
        // Either reading (leak with time, memory held per req/s) fits; nothing is removed, and
        // the load is said to have risen with the series.
        match remove(&load, &t, &v) {
            LoadFit::Confounded(c) => {
                assert!(c.corr > 0.99, "{c:?}");
                assert!((c.per_rate - 1e6).abs() < 0.01e6, "{c:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_leak_under_constant_load_is_left_alone() {
        let t: Vec<f64> = (0..600).map(|i| i as f64 * 5.0).collect();
        let load = LoadAxis::new(&counter(&t, |_| 200.0)).expect("counter");
        let v: Vec<f64> = t.iter().map(|&x| 5e8 + 1e4 * x).collect();
        assert_eq!(remove(&load, &t, &v), LoadFit::Unrelated);
    }

    #[test]
    fn a_leak_per_request_under_bursts_keeps_its_growth() {
        let t: Vec<f64> = (0..1200).map(|i| i as f64 * 3.0).collect();
        let rate = |x: f64| if (x % 600.0) < 120.0 { 400.0 } else { 100.0 };
        let ctr = counter(&t, rate);
        let load = LoadAxis::new(&ctr).expect("counter");
        // In flight: 50 kB per req/s; retained: 100 bytes per request.
        let v: Vec<f64> = t
            .iter()
            .zip(&ctr.v)
            .map(|(&x, &c)| 3e8 + 5e4 * rate(x) + 100.0 * c)
            .collect();
        let LoadFit::Removed(adj, a) = remove(&load, &t, &v) else {
            panic!("bursts explain the humps");
        };
        assert!(a.slow_by_requests);
        assert!((a.per_rate - 5e4).abs() < 0.1 * 5e4, "{a:?}");
        // The first and the last sample are not corrected (no window before / after them).
        let served = ctr.v[ctr.v.len() - 2] - ctr.v[1];
        let rise = adj[adj.len() - 2] - adj[1];
        assert!(
            (rise - 100.0 * served).abs() < 0.1 * 100.0 * served,
            "{rise}"
        );
    }

    #[test]
    fn a_sample_taken_as_the_load_starts_is_left_as_it_is() {
        // Load from t = 0 (bursts of 300 req/s, quiet at 30), memory at 100 kB per req/s; the
        // sample at t = 0 holds none of it yet. Corrected by the rate after it, it would fall
        // 300 × 100 kB below the floor.
        let t: Vec<f64> = (0..400).map(|i| i as f64 * 0.5).collect();
        let rate = |x: f64| if (x % 40.0) < 8.0 { 300.0 } else { 30.0 };
        let ctr = counter(&t, rate);
        let load = LoadAxis::new(&ctr).expect("counter");
        let v: Vec<f64> = t
            .iter()
            .map(|&x| if x == 0.0 { 2e7 } else { 2e7 + 1e5 * rate(x) })
            .collect();
        let LoadFit::Removed(adj, a) = remove(&load, &t, &v) else {
            panic!("the bursts explain the humps");
        };
        assert!((a.per_rate - 1e5).abs() < 0.15 * 1e5, "{a:?}");
        assert_eq!(adj[0], v[0]);
        let floor = adj[1..adj.len() - 1]
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        // It sits under the corrected floor by the quiet rate's share only (2e7 against the
        // floor's 2e7 + 30 × 1e5), not by the burst's.
        assert!(adj[0] > floor - 0.2 * 1e5 * 300.0, "{} vs {floor}", adj[0]);
    }

    #[test]
    fn unrelated_load_is_not_used() {
        // Load bursts, memory flat with noise: no adjustment.
        let t: Vec<f64> = (0..800).map(|i| i as f64 * 2.0).collect();
        let rate = |x: f64| if (x % 300.0) < 60.0 { 500.0 } else { 50.0 };
        let load = LoadAxis::new(&counter(&t, rate)).expect("counter");
        let v: Vec<f64> = t
            .iter()
            .enumerate()
            .map(|(i, _)| 1e9 + 1e6 * (((i * 7919) % 101) as f64 - 50.0))
            .collect();
        assert_eq!(remove(&load, &t, &v), LoadFit::Unrelated);
    }
}
