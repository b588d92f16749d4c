//! A daily cycle judged day over day: at the end of a run of a day or more, the series is
//! fitted as a line plus a 24 h cycle, and the line (the same hour a day apart, higher or not)
//! is what the run kept.
//!
//! Memory or a pool that follows a day of traffic swings by far more than a leak adds in that
//! day (a pool of 40 % of its quiet size, a leak of 5-10 %). A trend on the whole day then reads
//! the cycle's phase (a run that starts in the busy hours and ends in the night falls), and the
//! quiet floor (see `idle`) is seen once, in the single night of the run. What does not depend
//! on the phase is the comparison of the same hour on consecutive days: with a line and four
//! harmonics of a day fitted together by least squares, the line's slope is the day-over-day
//! change, read from every sample rather than from the two ends alone.
//!
//! Not for online checkpoints (a day is seen once, at the end) nor for runs shorter than a day
//! (a cycle and a trend cannot be told apart over part of one period).

use leakhound_core::{Verdict, format_quantity};

use crate::prep::Clean;
use crate::saturation::lag1;
use crate::util::median_in_place;

use super::*;

/// Seconds in a day: the period of the traffic cycles this rule is for.
pub(super) const DAY_S: f64 = 86_400.0;

/// The run must cover at least this share of a day. A line plus a periodic curve separates a
/// trend from the cycle only when the ends are at the same phase: cut to 95-97 % of a day,
/// healthy pools and load-following memory (independent seeds 1-10, 50 runs of a day) read as
/// growing up to 37 % day over day at up to 9.7 standard errors (the fit puts the cycle's climb
/// in the missing hour into the line); cut to 99 %, none grew 3 % at more than 2.9.
pub(super) const DAY_COVER: f64 = 0.99;

/// The fit is made on the medians of 15-minute bins: 96 points a day, robust to spikes and a
/// collector's sawtooth (whose cycles are seconds to minutes), and cheap on a day of 1 s samples.
const DAY_BIN_S: f64 = 900.0;

/// Harmonics of a day in the fitted cycle: traffic with a sharp peak (a load that is
/// `cos`-shaped raised to the power 1-3, a lunch and an evening peak) needs more than the
/// fundamental. With two, healthy pools still read as growing 4-5 % (their peaks misfit); four
/// left them within ±1 % on independent seeds 1-3; more have too few bins per harmonic.
const DAY_HARMONICS: usize = 4;

/// The cycle must explain most of what a line leaves: the line's residual variance at least
/// three times that of the line plus the cycle. A series with no daily cycle (a warm-up, a
/// step, a leak) is left to the other rules; over a single day four harmonics can bend to any
/// smooth shape, and a saturating growth of a day fitted so read as a 49 % leak.
const DAY_CYCLE_SHARE: f64 = 3.0;

/// The hourly medians must give back at least a tenth of the level somewhere in the day (the
/// night after the busy hours): a cycle that comes and goes, not a curve the harmonics made of
/// a one-way rise (the one-off steps and the saturating growth that pass [`DAY_CYCLE_SHARE`]
/// fall by under 1 %; the daily pools and load-following memory of our corpora by 10-150 %).
const DAY_MIN_FALL: f64 = 0.1;

/// The hourly medians must also give back at least 60 % of the fitted cycle's swing: the cycle
/// is in the data, not only in the fit. A run of one to three days whose load grew (a second
/// day busier than the first), or a pool growing to its maximum, bends the harmonics into a
/// swing that the samples never fall through. Measured on multi-day mechanism corpora
/// (`mechanisms.py --days 1 3`, seeds 1-3): without this gate 8 false alarms and 17 leaks
/// found, with it (and the restart gate of [`day_over_day`]) 5 and 16. The fall is counted as
/// [`cycle_fall`] does: in one stretch, or in two when the run starts and ends on the way down
/// (measured in one stretch only, 4 and 15, and a day that starts halfway down its fall was
/// never judged: the property test below found it).
const DAY_FALL_OF_SWING: f64 = 0.6;

/// The day-over-day slope must be four standard errors from zero (with the lag-1
/// autocorrelation of the residuals taken into account), not the 2.05 of the 2 % significance
/// used elsewhere: the residuals of a fitted cycle are not noise alone, where the cycle's shape
/// misfits (a lagging pool, a peak sharper than four harmonics) they repeat the misfit. The
/// healthy days of independent seeds 1-10 that grew `min_growth` or more day over day stayed
/// under 3 standard errors (healthy days of 1-2 % reached 8: `min_growth` turns those away);
/// the leaks under daily pools there are at 4.5-117.
const DAY_MIN_Z: f64 = 4.0;

/// Bins the fit needs: half a day of 15-minute bins that hold samples.
const DAY_MIN_BINS: usize = 48;

/// A line plus a daily cycle fitted to a day or more of a series.
#[derive(Debug, Clone)]
pub(super) struct DailyFit {
    /// The line's slope (units per second): the change between the same hour of consecutive days.
    pub(super) rate: f64,
    /// Its standard error, widened for the residuals' lag-1 autocorrelation.
    pub(super) se: f64,
    /// How far the fitted cycle swings over a day (its highest minus its lowest point).
    pub(super) swing: f64,
    /// How far the hourly medians fall (see [`cycle_fall`]).
    pub(super) fall: f64,
    /// Median of the 15-minute bins.
    pub(super) level: f64,
    /// Residual variance of a line alone over that of the line plus the cycle.
    pub(super) cycle_share: f64,
    /// Cosine and sine coefficients of the harmonics, in order.
    coef: [f64; 2 * DAY_HARMONICS],
}

impl DailyFit {
    /// The fitted cycle's value at time `t` (its mean over a day is zero).
    pub(super) fn cycle_at(&self, t: f64) -> f64 {
        (0..DAY_HARMONICS)
            .map(|k| {
                let w = std::f64::consts::TAU * (k + 1) as f64 * t / DAY_S;
                self.coef[2 * k] * w.cos() + self.coef[2 * k + 1] * w.sin()
            })
            .sum()
    }
}

/// Medians of the samples in consecutive bins of `width` seconds from the first sample: the
/// bins' mean times and their medians (empty bins are skipped).
fn bin_medians(t: &[f64], v: &[f64], width: f64) -> (Vec<f64>, Vec<f64>) {
    let (mut bt, mut bv) = (Vec::new(), Vec::new());
    let Some(&t0) = t.first() else {
        return (bt, bv);
    };
    let mut i = 0;
    while i < t.len() {
        let k = ((t[i] - t0) / width).floor();
        let mut j = i;
        while j < t.len() && ((t[j] - t0) / width).floor() == k {
            j += 1;
        }
        bt.push(t[i..j].iter().sum::<f64>() / (j - i) as f64);
        bv.push(median_in_place(&mut v[i..j].to_vec()));
        i = j;
    }
    (bt, bv)
}

/// The largest fall of `v` within the run, or the fall a cycle seen over a day shows in two
/// parts when the run starts and ends on its way down: the fall from the first point before `v`
/// first rises past it, plus the fall into the last point since `v` was last as low. A one-way
/// rise shows neither.
fn cycle_fall(v: &[f64]) -> f64 {
    let (Some(&first), Some(&last)) = (v.first(), v.last()) else {
        return 0.0;
    };
    let mut top = f64::NEG_INFINITY;
    let mut largest: f64 = 0.0;
    for &x in v {
        top = top.max(x);
        largest = largest.max(top - x);
    }
    let head = v
        .iter()
        .take_while(|&&x| x <= first)
        .fold(first, |m, &x| m.min(x));
    let tail = v
        .iter()
        .rev()
        .take_while(|&&x| x >= last)
        .fold(last, |m, &x| m.max(x));
    largest.max((first - head) + (tail - last))
}

/// Least squares of `y` on the columns `rows[i]`: the coefficients, the residuals and the
/// diagonal of the inverse of the normal matrix (`None` when it is singular). Solved by
/// Cholesky on the normal equations: at most ten columns, well scaled (an intercept, a line
/// on [-½, ½] and sines and cosines).
#[allow(clippy::type_complexity)]
fn least_squares<const P: usize>(
    rows: &[[f64; P]],
    y: &[f64],
) -> Option<([f64; P], Vec<f64>, [f64; P])> {
    let mut a = [[0.0; P]; P];
    let mut b = [0.0; P];
    for (r, &yi) in rows.iter().zip(y) {
        for i in 0..P {
            b[i] += r[i] * yi;
            for j in 0..=i {
                a[i][j] += r[i] * r[j];
            }
        }
    }
    // Cholesky: a = L·Lᵀ, L in the lower triangle.
    let mut l = [[0.0; P]; P];
    for i in 0..P {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = a[i][i] - s;
                if d <= 1e-12 * a[i][i].abs().max(f64::MIN_POSITIVE) {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (a[i][j] - s) / l[j][j];
            }
        }
    }
    let solve = |rhs: [f64; P]| {
        let mut z = [0.0; P];
        for i in 0..P {
            z[i] = (rhs[i] - (0..i).map(|k| l[i][k] * z[k]).sum::<f64>()) / l[i][i];
        }
        let mut x = [0.0; P];
        for i in (0..P).rev() {
            x[i] = (z[i] - (i + 1..P).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
        }
        x
    };
    let beta = solve(b);
    let mut inv_diag = [0.0; P];
    for (i, d) in inv_diag.iter_mut().enumerate() {
        let mut e = [0.0; P];
        e[i] = 1.0;
        *d = solve(e)[i];
    }
    let res = rows
        .iter()
        .zip(y)
        .map(|(r, &yi)| yi - r.iter().zip(&beta).map(|(a, b)| a * b).sum::<f64>())
        .collect();
    Some((beta, res, inv_diag))
}

/// Columns of the fit with the cycle: an intercept, the line and the harmonics.
const DAY_COLS: usize = 2 + 2 * DAY_HARMONICS;

/// A line plus a daily cycle fitted to `c` (at least [`DAY_COVER`] of a day, see the module
/// doc); `None` when the run is shorter or has too few bins.
pub(super) fn daily_fit(c: &Clean) -> Option<DailyFit> {
    let span = c.span();
    if span < DAY_COVER * DAY_S {
        return None;
    }
    let (bt, bv) = bin_medians(&c.t, &c.v, DAY_BIN_S);
    if bt.len() < DAY_MIN_BINS {
        return None;
    }
    let level = median_in_place(&mut bv.clone());
    let y: Vec<f64> = bv.iter().map(|x| x - level).collect();
    let t0 = c.t[0];
    let u = |t: f64| (t - t0) / span - 0.5;
    let full: Vec<[f64; DAY_COLS]> = bt
        .iter()
        .map(|&t| {
            let mut r = [0.0; DAY_COLS];
            r[0] = 1.0;
            r[1] = u(t);
            for k in 0..DAY_HARMONICS {
                let w = std::f64::consts::TAU * (k + 1) as f64 * t / DAY_S;
                r[2 + 2 * k] = w.cos();
                r[3 + 2 * k] = w.sin();
            }
            r
        })
        .collect();
    let line: Vec<[f64; 2]> = bt.iter().map(|&t| [1.0, u(t)]).collect();
    let (beta, res, inv) = least_squares(&full, &y)?;
    let (_, res_line, _) = least_squares(&line, &y)?;
    let sse: f64 = res.iter().map(|e| e * e).sum();
    let sse_line: f64 = res_line.iter().map(|e| e * e).sum();
    let n = y.len();
    let s2 = sse / (n - DAY_COLS) as f64;
    let r1 = lag1(&res).clamp(0.0, 0.99);
    let se = (s2 * inv[1] * (1.0 + r1) / (1.0 - r1)).sqrt() / span;
    let mut coef = [0.0; 2 * DAY_HARMONICS];
    coef.copy_from_slice(&beta[2..]);
    let mut fit = DailyFit {
        rate: beta[1] / span,
        se,
        swing: 0.0,
        fall: 0.0,
        level,
        cycle_share: if sse > 0.0 {
            sse_line / sse
        } else {
            f64::INFINITY
        },
        coef,
    };
    let cycle: Vec<f64> = (0..288)
        .map(|i| fit.cycle_at(i as f64 * DAY_S / 288.0))
        .collect();
    let hi = cycle.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lo = cycle.iter().copied().fold(f64::INFINITY, f64::min);
    fit.swing = hi - lo;
    fit.fall = cycle_fall(&bin_medians(&c.t, &c.v, 3_600.0).1);
    Some(fit)
}

/// End of run: a series of a day or more whose judgement `j` is no leak, judged again with its
/// daily cycle taken out. A leak needs a cycle that dominates the day ([`DAY_CYCLE_SHARE`],
/// [`DAY_MIN_FALL`]), a day-over-day slope of at least `min_growth` over the run at
/// [`DAY_MIN_Z`] standard errors, and the series with the fitted cycle subtracted judged a leak
/// by the usual rules (a warm-up or a step under a daily cycle still levels off or steps there).
/// A run whose envelope has a restart is left alone.
pub(super) fn day_over_day(ctx: &Ctx<'_>, c: &Clean, j: Judgement) -> Judgement {
    if ctx.online || j.verdict == Verdict::Leak || c.span() < DAY_COVER * DAY_S {
        return j;
    }
    // A restart resets what the process holds: the same hour a day apart is then a fresh
    // process against an old one, and its fall passes for the cycle's night.
    let env = ctx.envelope(&c.t, &c.v);
    let level = median_in_place(&mut env.y.clone()).abs();
    if !find_jumps(&env.y, level, quantum(ctx.grain))
        .restarts
        .is_empty()
    {
        return j;
    }
    let Some(fit) = daily_fit(c) else {
        return j;
    };
    let growth = fit.rate * c.span();
    let level = fit.level.abs();
    // Written so that a NaN (no variance left, a level of zero) fails.
    let day_over_day = fit.cycle_share >= DAY_CYCLE_SHARE
        && fit.fall >= DAY_MIN_FALL * level
        && fit.fall >= DAY_FALL_OF_SWING * fit.swing
        && growth > 0.0
        && growth >= ctx.opts.min_growth * level
        && fit.rate > DAY_MIN_Z * fit.se;
    if !day_over_day {
        return j;
    }
    // The bins' medians, not every sample: a pool's noise grows with its size, so the floor of
    // the samples (their low percentile) would still swing with the busy hours.
    let (bt, bv) = bin_medians(&c.t, &c.v, DAY_BIN_S);
    let adjusted = Clean {
        v: bt
            .iter()
            .zip(&bv)
            .map(|(&t, &v)| v - fit.cycle_at(t))
            .collect(),
        t: bt,
    };
    let d = judge_series(ctx, &adjusted);
    if d.verdict != Verdict::Leak {
        return j;
    }
    let reason = format!(
        "the same hour a day apart is {} higher, under a daily cycle that swings {} ({:.0} standard errors; a line and a 24 h cycle fitted together); with the cycle taken out, {}. A busier second day looks the same: a request counter tells them apart",
        format_quantity(ctx.unit, fit.rate * DAY_S),
        format_quantity(ctx.unit, fit.swing),
        fit.rate / fit.se,
        d.reason
    );
    // The rate and growth are the binned series'; the samples and the window are the run's.
    Judgement {
        reason,
        samples: c.len(),
        window_s: c.span(),
        ..d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day_of(f: impl Fn(f64) -> f64) -> Clean {
        let t: Vec<f64> = (0..2880).map(|i| f64::from(i) * 30.0).collect();
        let v = t.iter().map(|&x| f(x)).collect();
        Clean { t, v }
    }

    #[test]
    fn a_line_under_a_daily_cycle_is_found_whatever_the_phase() {
        for phase in [0.0, 0.25, 0.5, 0.75] {
            let c = day_of(|x| {
                let w = std::f64::consts::TAU * (x / DAY_S + phase);
                1000.0 + 300.0 * (0.5 - 0.5 * w.cos()).powi(2) + 50.0 * x / DAY_S
            });
            let fit = daily_fit(&c).unwrap();
            let per_day = fit.rate * DAY_S;
            assert!((45.0..55.0).contains(&per_day), "phase {phase}: {per_day}");
            assert!(fit.cycle_share >= DAY_CYCLE_SHARE);
            assert!(fit.fall >= DAY_FALL_OF_SWING * fit.swing);
        }
    }

    #[test]
    fn harmonics_bent_to_a_one_way_rise_are_told_by_the_fall() {
        // A day of saturating growth: the harmonics explain most of what a line leaves, but the
        // samples never fall through the swing they make.
        let c = day_of(|x| 400.0 + 200.0 * (1.0 - (-x / (0.15 * DAY_S)).exp()));
        let fit = daily_fit(&c).unwrap();
        assert!(fit.cycle_share >= DAY_CYCLE_SHARE, "{}", fit.cycle_share);
        assert!(fit.fall < DAY_FALL_OF_SWING * fit.swing);
        assert!(fit.fall < DAY_MIN_FALL * fit.level);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever the phase, the swing (a tenth to twice the level, at least twice the day's
        /// growth), the peak's sharpness and the number of days, the day-over-day line under a
        /// daily cycle is found within 10 % (plus 0.5 % of the level), and the cycle passes the
        /// gates that tell it from a one-way rise.
        #[test]
        fn the_line_under_any_daily_cycle_is_found(
            phase in 0.0..1.0f64,
            swing in 0.1..2.0f64,
            sharp in 1.0..3.0f64,
            per_day in 0.0..0.3f64,
            days in 1.0..3.0f64,
        ) {
            // The cycle swings at least twice what the day adds: the case the rule is for (a
            // larger daily growth is a plain rise to the other rules).
            proptest::prop_assume!(swing >= 2.0 * per_day);
            let level = 1000.0;
            let n = (days * 2880.0) as u32;
            let t: Vec<f64> = (0..n).map(|i| f64::from(i) * 30.0).collect();
            let v = t
                .iter()
                .map(|&x| {
                    let w = std::f64::consts::TAU * (x / DAY_S + phase);
                    level * (1.0 + swing * (0.5 - 0.5 * w.cos()).powf(sharp) + per_day * x / DAY_S)
                })
                .collect();
            let fit = daily_fit(&Clean { t, v }).unwrap();
            let found = fit.rate * DAY_S / level;
            proptest::prop_assert!((found - per_day).abs() <= 0.1 * per_day + 0.005, "{found} vs {per_day}");
            proptest::prop_assert!(fit.cycle_share >= DAY_CYCLE_SHARE);
            proptest::prop_assert!(fit.fall >= DAY_FALL_OF_SWING * fit.swing);
        }
    }

    #[test]
    fn less_than_a_day_is_not_fitted() {
        let mut c = day_of(|x| 100.0 + x / 1000.0);
        c.t.truncate(2800);
        c.v.truncate(2800);
        assert!(daily_fit(&c).is_none());
    }
}
